#include "projections/loyalty.h"

#include <algorithm>

#include "ledger/event.h"
#include "ledger/json.h"
#include "projections/state_codec.h"

namespace rapport::projections {
namespace {

using ledger::DataField;
using ledger::EventType;
namespace json = ledger::json;

// complaints_365d is named for its window, so it does not follow a configurable one.
constexpr int64_t kComplaintWindowMicros = 365 * ledger::kMicrosPerDay;

// Exact products of int64s (amount × multiplier, points × refunded). __extension__ keeps
// -Wpedantic quiet about the GCC/Clang type.
__extension__ using Int128 = __int128;

// Amounts and points are producer-supplied int64s: sums saturate instead of overflowing (UB).
int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kLoyaltyNever : -kLoyaltyNever - 1;
  return r;
}

int64_t Days(int64_t days) {
  int64_t r;
  if (days < 0) return 0;
  if (__builtin_mul_overflow(days, ledger::kMicrosPerDay, &r)) return kLoyaltyNever;
  return r;
}

// The highest tier whose threshold the spend reaches; tiers ascend by threshold.
int32_t SupportedTier(int64_t spend, const Rules& rules) {
  int32_t best = 0;
  for (size_t i = 1; i < rules.tiers.size(); ++i) {
    if (spend >= rules.tiers[i].threshold_minor) best = static_cast<int32_t>(i);
  }
  return best;
}

int64_t MultiplierCenti(const LoyaltyState& s, const Rules& rules) {
  if (s.tier < 0 || static_cast<size_t>(s.tier) >= rules.tiers.size()) return 100;
  return rules.tiers[s.tier].multiplier_centi;
}

// Re-evaluates the tier at `now` after spend, grace or override may have changed.
//
// The tier in force is max(earned, override). Grace protects the earned tier: it starts when the
// spend-supported tier falls below the earned tier and is not restarted by a further fall; spend
// back at or above the earned tier (recovery, or an upgrade) ends it; at its end the earned tier
// drops straight to what the spend supports then. Because the override is only a floor on top,
// its end ("then ends at once") takes the tier at once to the earned tier — the grace-protected
// one when a grace period runs, else the spend-supported one — and never starts a grace period
// of its own: the customer did not earn the overridden tier.
void Evaluate(LoyaltyState* s, int64_t now, const Rules& rules, bool has_position,
              uint64_t position) {
  const int32_t supported = SupportedTier(s->qualifying_spend_minor, rules);
  if (supported >= s->earned_tier) {
    s->earned_tier = supported;
    s->grace_until = kLoyaltyNever;
  } else {
    if (s->grace_until == kLoyaltyNever) s->grace_until = SatAdd(now, Days(rules.tier_grace_days));
    if (s->grace_until <= now) {
      s->earned_tier = supported;
      s->grace_until = kLoyaltyNever;
    }
  }
  if (s->override_tier >= 0 && now >= s->override_until) {
    s->override_tier = -1;
    s->override_until = kLoyaltyNever;
  }
  const int32_t tier = std::max(s->earned_tier, s->override_tier);
  if (tier != s->tier) {
    s->tier = tier;
    s->tier_history.push_back({tier, now, has_position, position});
  }
}

// Moves the clock to `t`, applying in time order every change time causes: purchases leaving the
// spend window, grace periods and overrides ending (each re-evaluation at its exact instant, with
// no position), lots expiring and complaints leaving their window.
void AdvanceTo(LoyaltyState* s, int64_t t, const Rules& rules) {
  if (!s->started || t <= s->clock) return;
  const int64_t window = Days(rules.spend_window_days);
  for (;;) {
    // A purchase at p is in the window (as_of − W, as_of] until as_of reaches p + W.
    int64_t next = kLoyaltyNever;
    if (!s->window.empty()) next = std::min(next, SatAdd(s->window.front().at, window));
    next = std::min(next, s->grace_until);
    if (s->override_tier >= 0) next = std::min(next, s->override_until);
    if (next > t || next == kLoyaltyNever) break;
    // Everything due at the same instant is applied before one re-evaluation, so that one
    // instant gives at most one history entry.
    const int64_t step = std::max(next, s->clock);
    size_t gone = 0;
    while (gone < s->window.size() && SatAdd(s->window[gone].at, window) <= step) {
      s->qualifying_spend_minor -= s->window[gone].net_minor;
      ++gone;
    }
    s->window.erase(s->window.begin(), s->window.begin() + gone);
    s->clock = step;
    Evaluate(s, step, rules, /*has_position=*/false, 0);
  }
  s->clock = t;
  // Expired once the clock is >= expiry; what was left in the lot is simply gone.
  auto live = std::find_if(s->lots.begin(), s->lots.end(),
                           [t](const LoyaltyLot& l) { return l.expires_at > t; });
  s->lots.erase(s->lots.begin(), live);
  auto recent = std::find_if(s->complaint_times.begin(), s->complaint_times.end(),
                             [t](int64_t c) { return SatAdd(c, kComplaintWindowMicros) > t; });
  s->complaint_times.erase(s->complaint_times.begin(), recent);
}

void AddLot(LoyaltyState* s, int64_t expires_at, int64_t points, uint32_t order) {
  // Lots are made in time order, so this is an append unless the rules changed mid-stream.
  auto at = std::upper_bound(s->lots.begin(), s->lots.end(), expires_at,
                             [](int64_t e, const LoyaltyLot& l) { return e < l.expires_at; });
  s->lots.insert(at, LoyaltyLot{expires_at, points, order});
}

// Takes up to `n` points: first from the lots of `own` (an order; kLoyaltyNoOrder for none), then
// from the live lots that expire first. What cannot be taken is forgiven: the balance is never
// negative.
void TakePoints(LoyaltyState* s, int64_t n, uint32_t own) {
  if (n <= 0) return;
  auto take = [&n](LoyaltyLot& lot) {
    const int64_t k = std::min(n, lot.points);
    lot.points -= k;
    n -= k;
  };
  if (own != kLoyaltyNoOrder) {
    for (auto& lot : s->lots) {
      if (n == 0) break;
      if (lot.order == own) take(lot);
    }
  }
  for (auto& lot : s->lots) {
    if (n == 0) break;
    take(lot);
  }
  std::erase_if(s->lots, [](const LoyaltyLot& l) { return l.points <= 0; });
}

// The index in s->orders of `order_id`, or kLoyaltyNoOrder. `*slot` is where it would go in
// order_index.
uint32_t FindOrder(const LoyaltyState& s, std::string_view order_id,
                   std::vector<uint32_t>::const_iterator* slot = nullptr) {
  auto it =
      std::lower_bound(s.order_index.begin(), s.order_index.end(), order_id,
                       [&s](uint32_t i, std::string_view id) { return s.orders[i].order_id < id; });
  if (slot != nullptr) *slot = it;
  if (it != s.order_index.end() && s.orders[*it].order_id == order_id) return *it;
  return kLoyaltyNoOrder;
}

void ApplyPurchase(LoyaltyState* s, const ledger::Event& ev, int64_t at, const Rules& rules) {
  const auto& d = ev.data;
  std::vector<uint32_t>::const_iterator slot;
  uint32_t idx = FindOrder(*s, d.order_id, &slot);
  if (idx == kLoyaltyNoOrder) {
    idx = static_cast<uint32_t>(s->orders.size());
    s->order_index.insert(slot, idx);
    s->orders.push_back(LoyaltyOrder{d.order_id, at});
  }
  LoyaltyOrder& o = s->orders[idx];
  o.last_purchase_at = std::max(o.last_purchase_at, at);
  if (!s->has_purchase) {
    s->has_purchase = true;
    s->first_purchase_at = at;
  }
  s->last_purchase_at = at;
  if (d.currency != rules.currency) return;

  // The multiplier of the tier in force just before the purchase: the tier is only re-evaluated
  // after the event, so a purchase that upgrades earns at the old rate.
  const Int128 product = static_cast<Int128>(d.amount_minor) * MultiplierCenti(*s, rules);
  const int64_t points =
      product <= 0 ? 0 : static_cast<int64_t>(std::min<Int128>(product / 10000, kLoyaltyNever));
  s->window.push_back(LoyaltySpend{at, d.amount_minor, o.amount_minor, d.amount_minor, idx});
  o.amount_minor = SatAdd(o.amount_minor, d.amount_minor);
  o.points = SatAdd(o.points, points);
  s->qualifying_spend_minor = SatAdd(s->qualifying_spend_minor, d.amount_minor);
  s->lifetime_value_minor = SatAdd(s->lifetime_value_minor, d.amount_minor);
  if (points > 0) AddLot(s, SatAdd(at, Days(rules.points_expiry_days)), points, idx);
}

void ApplyRefund(LoyaltyState* s, const ledger::Event& ev, const Rules& rules) {
  const auto& d = ev.data;
  if (d.currency != rules.currency) return;
  const uint32_t idx = FindOrder(*s, d.order_id);
  if (idx == kLoyaltyNoOrder) return;  // unknown order
  LoyaltyOrder& o = s->orders[idx];
  // Capped in total at the order's (counted) amount; an order bought only in another currency
  // has nothing to refund.
  const int64_t accepted = std::min(d.amount_minor, o.amount_minor - o.refunded_minor);
  if (accepted <= 0) return;
  o.refunded_minor += accepted;
  s->lifetime_value_minor -= accepted;
  // A refund counts at its order's purchase time: allocated to the order's purchases in purchase
  // order, it lowers the spend of those still in the window.
  for (auto& p : s->window) {
    if (p.order != idx) continue;
    const int64_t refunded_here =
        std::clamp<int64_t>(o.refunded_minor - p.offset_minor, 0, p.amount_minor);
    const int64_t net = p.amount_minor - refunded_here;
    s->qualifying_spend_minor += net - p.net_minor;
    p.net_minor = net;
  }
  const int64_t target =
      static_cast<int64_t>(static_cast<Int128>(o.points) * o.refunded_minor / o.amount_minor);
  // The shortfall that could not be taken is forgiven and still counts as removed; a later
  // purchase on the same order can lower the target, but points are never given back.
  if (target > o.points_removed) {
    const int64_t delta = target - o.points_removed;
    o.points_removed = target;
    TakePoints(s, delta, idx);
  }
}

void ApplyEvent(LoyaltyState* s, const ledger::Event& ev, int64_t at, const Rules& rules) {
  const auto& d = ev.data;
  switch (ev.type) {
    case EventType::kPurchase:
      ApplyPurchase(s, ev, at, rules);
      break;
    case EventType::kRefund:
      ApplyRefund(s, ev, rules);
      break;
    case EventType::kPointsAdjusted:
      if (d.points > 0) {
        AddLot(s, SatAdd(at, Days(rules.points_expiry_days)), d.points, kLoyaltyNoOrder);
      } else {
        TakePoints(s, d.points == INT64_MIN ? kLoyaltyNever : -d.points, kLoyaltyNoOrder);
      }
      break;
    case EventType::kPointsRedeemed:
      TakePoints(s, d.points, kLoyaltyNoOrder);
      break;
    case EventType::kTierOverride: {
      const int idx = rules.TierIndex(d.tier);
      if (idx < 0) break;  // a tier of other rules: nothing to apply
      s->override_tier = idx;
      s->override_until = d.Has(DataField::kUntil) ? d.until.micros : kLoyaltyNever;
      break;
    }
    case EventType::kSurveyResponse:
      if (d.Has(DataField::kCsat)) {
        s->csat[s->csat_next] = static_cast<int8_t>(d.csat);
        s->csat_next = static_cast<uint8_t>((s->csat_next + 1) % s->csat.size());
        if (s->csat_count < s->csat.size()) ++s->csat_count;
      }
      if (d.Has(DataField::kNps)) {
        s->has_nps = true;
        s->nps_last = d.nps;
      }
      break;
    case EventType::kComplaintOpened: {
      auto it = std::lower_bound(s->open_cases.begin(), s->open_cases.end(), d.case_id);
      // Opening a case that is already open is the same complaint again, not a new one.
      if (it != s->open_cases.end() && *it == d.case_id) break;
      s->open_cases.insert(it, d.case_id);
      s->complaint_times.push_back(at);
      break;
    }
    case EventType::kComplaintResolved: {
      auto it = std::lower_bound(s->open_cases.begin(), s->open_cases.end(), d.case_id);
      if (it != s->open_cases.end() && *it == d.case_id) s->open_cases.erase(it);
      break;
    }
    default:
      break;
  }
}

void AppendTierName(std::string* out, int32_t tier, const Rules& rules) {
  if (tier < 0 || static_cast<size_t>(tier) >= rules.tiers.size()) {
    out->append("null");
  } else {
    json::AppendString(out, rules.tiers[tier].name);
  }
}

// A JSON string: AppendTimestamp writes the bare RFC 3339 text.
void AppendTime(std::string* out, int64_t micros) {
  out->push_back('"');
  ledger::AppendTimestamp(out, ledger::Timestamp{micros});
  out->push_back('"');
}

std::string_view Relationship(const LoyaltyState& s, int64_t as_of, const Rules& rules) {
  if (!s.has_purchase) return "prospect";
  // In the window (as_of − A, as_of], like the spend window.
  const int64_t window = Days(rules.activity_window_days);
  auto in_window = [&](int64_t at) { return SatAdd(at, window) > as_of; };
  if (!in_window(s.last_purchase_at)) return "lapsed";
  if (s.orders.size() == 1) return "one_time";
  size_t recent = 0;
  for (const auto& o : s.orders) recent += in_window(o.last_purchase_at) ? 1 : 0;
  return recent >= 3 ? "loyal" : "repeat";
}

constexpr uint64_t kStateVersion = 2;  // 2: variable-length integers

}  // namespace

void ApplyLoyalty(LoyaltyState* state, const Touch& touch, const Rules& rules) {
  const ledger::Event& ev = touch.event;
  const int64_t at = ev.occurred_at.micros;
  if (!state->started) {
    state->started = true;
    state->customer_id = ev.customer_id;
    state->clock = at;
    state->tier = state->earned_tier = 0;
    state->tier_history.push_back({0, at, true, touch.position});
  } else {
    AdvanceTo(state, at, rules);
  }
  state->max_seq = std::max(state->max_seq, touch.seq);
  ApplyEvent(state, ev, at, rules);
  Evaluate(state, state->clock, rules, /*has_position=*/true, touch.position);
}

std::string RenderLoyalty(const LoyaltyState& state, ledger::Timestamp as_of, const Rules& rules) {
  LoyaltyState copy = state;
  LoyaltyState* s = &copy;
  AdvanceTo(s, as_of.micros, rules);
  const int64_t now = as_of.micros;

  std::string out;
  out.reserve(512 + 64 * (s->tier_history.size() + s->lots.size()));
  out.append("{\"customer_id\":");
  json::AppendString(&out, s->customer_id);
  out.append(",\"as_of\":");
  AppendTime(&out, now);
  out.append(",\"seq\":");
  json::AppendUint(&out, s->max_seq);

  out.append(",\"tier\":");
  AppendTierName(&out, s->tier, rules);
  out.append(",\"tier_since\":");
  if (s->tier_history.empty()) {
    out.append("null");
  } else {
    AppendTime(&out, s->tier_history.back().at);
  }
  out.append(",\"tier_history\":[");
  for (size_t i = 0; i < s->tier_history.size(); ++i) {
    const auto& h = s->tier_history[i];
    if (i > 0) out.push_back(',');
    out.append("{\"tier\":");
    AppendTierName(&out, h.tier, rules);
    out.append(",\"at\":");
    AppendTime(&out, h.at);
    out.append(",\"position\":");
    if (h.has_position) {
      json::AppendUint(&out, h.position);
    } else {
      out.append("null");
    }
    out.push_back('}');
  }

  int64_t balance = 0;
  for (const auto& lot : s->lots) balance = SatAdd(balance, lot.points);
  out.append("],\"points_balance\":");
  json::AppendInt(&out, balance);
  out.append(",\"points_expiring\":[");
  for (size_t i = 0; i < s->lots.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"points\":");
    json::AppendInt(&out, s->lots[i].points);
    out.append(",\"on\":");
    AppendTime(&out, s->lots[i].expires_at);
    out.push_back('}');
  }
  out.append("],\"qualifying_spend_minor\":");
  json::AppendInt(&out, s->qualifying_spend_minor);
  out.append(",\"lifetime_value_minor\":");
  json::AppendInt(&out, s->lifetime_value_minor);
  out.append(",\"orders\":");
  json::AppendUint(&out, s->orders.size());
  out.append(",\"first_purchase_at\":");
  if (s->has_purchase) {
    AppendTime(&out, s->first_purchase_at);
  } else {
    out.append("null");
  }
  out.append(",\"last_purchase_at\":");
  if (s->has_purchase) {
    AppendTime(&out, s->last_purchase_at);
  } else {
    out.append("null");
  }

  out.append(",\"next_tier\":");
  const size_t next = static_cast<size_t>(s->tier) + 1;
  if (s->tier >= 0 && next < rules.tiers.size()) {
    out.append("{\"tier\":");
    json::AppendString(&out, rules.tiers[next].name);
    out.append(",\"spend_needed_minor\":");
    json::AppendInt(
        &out, std::max<int64_t>(0, rules.tiers[next].threshold_minor - s->qualifying_spend_minor));
    out.push_back('}');
  } else {
    out.append("null");
  }

  out.append(",\"satisfaction\":{\"csat_avg\":");
  if (s->csat_count == 0) {
    out.append("null");
  } else {
    int sum = 0;
    for (int i = 0; i < s->csat_count; ++i) sum += s->csat[i];
    json::AppendRounded4(&out, static_cast<double>(sum) / s->csat_count);
  }
  out.append(",\"nps_last\":");
  if (s->has_nps) {
    json::AppendInt(&out, s->nps_last);
  } else {
    out.append("null");
  }
  out.append(",\"open_complaints\":");
  json::AppendUint(&out, s->open_cases.size());
  out.append(",\"complaints_365d\":");
  json::AppendUint(&out, s->complaint_times.size());
  out.append("},\"relationship\":");
  json::AppendString(&out, Relationship(*s, now, rules));
  out.push_back('}');
  return out;
}

std::string EncodeLoyaltyState(const LoyaltyState& s) {
  std::string out;
  out.reserve(128 + 40 * s.lots.size() + 40 * s.window.size() + 64 * s.orders.size());
  StateWriter w(&out);
  w.U64(kStateVersion);
  w.Str(s.customer_id);
  w.Bool(s.started);
  w.U64(s.max_seq);
  w.I64(s.clock);
  w.I64(s.tier);
  w.I64(s.earned_tier);
  w.I64(s.grace_until);
  w.I64(s.override_tier);
  w.I64(s.override_until);
  w.U64(s.tier_history.size());
  for (const auto& h : s.tier_history) {
    w.I64(h.tier);
    w.I64(h.at);
    w.Bool(h.has_position);
    w.U64(h.position);
  }
  w.U64(s.lots.size());
  for (const auto& l : s.lots) {
    w.I64(l.expires_at);
    w.I64(l.points);
    w.U64(l.order);
  }
  w.U64(s.window.size());
  for (const auto& p : s.window) {
    w.I64(p.at);
    w.I64(p.amount_minor);
    w.I64(p.offset_minor);
    w.I64(p.net_minor);
    w.U64(p.order);
  }
  w.I64(s.qualifying_spend_minor);
  w.I64(s.lifetime_value_minor);
  w.U64(s.orders.size());
  for (const auto& o : s.orders) {
    w.Str(o.order_id);
    w.I64(o.last_purchase_at);
    w.I64(o.amount_minor);
    w.I64(o.refunded_minor);
    w.I64(o.points);
    w.I64(o.points_removed);
  }
  for (uint32_t i : s.order_index) w.U64(i);
  w.Bool(s.has_purchase);
  w.I64(s.first_purchase_at);
  w.I64(s.last_purchase_at);
  // Oldest first, so that the ring layout is not part of the format.
  w.U64(s.csat_count);
  for (int i = 0; i < s.csat_count; ++i) {
    w.I64(s.csat[(s.csat_next + s.csat.size() - s.csat_count + i) % s.csat.size()]);
  }
  w.Bool(s.has_nps);
  w.I64(s.nps_last);
  w.U64(s.open_cases.size());
  for (const auto& c : s.open_cases) w.Str(c);
  w.U64(s.complaint_times.size());
  for (int64_t t : s.complaint_times) w.I64(t);
  return out;
}

bool DecodeLoyaltyState(std::string_view bytes, LoyaltyState* s) {
  StateReader r(bytes);
  *s = LoyaltyState();
  // Every element takes at least one byte, so a count above the input size is corrupt (and would
  // otherwise make us allocate whatever it says).
  auto count = [&](uint64_t* n) { return r.U64(n) && *n <= bytes.size(); };
  auto tier = [&](int32_t* out, int64_t min) {
    int64_t v;
    if (!r.I64(&v) || v < min || v > 0xFFFF) return false;
    *out = static_cast<int32_t>(v);
    return true;
  };
  uint64_t version, n;
  if (!r.U64(&version) || version != kStateVersion) return false;
  if (!r.Str(&s->customer_id) || !r.Bool(&s->started) || !r.U64(&s->max_seq) || !r.I64(&s->clock) ||
      !tier(&s->tier, 0) || !tier(&s->earned_tier, 0) || !r.I64(&s->grace_until) ||
      !tier(&s->override_tier, -1) || !r.I64(&s->override_until)) {
    return false;
  }
  if (!count(&n)) return false;
  s->tier_history.resize(n);
  for (auto& h : s->tier_history) {
    if (!tier(&h.tier, 0) || !r.I64(&h.at) || !r.Bool(&h.has_position) || !r.U64(&h.position)) {
      return false;
    }
  }
  uint64_t order;
  if (!count(&n)) return false;
  s->lots.resize(n);
  std::vector<uint64_t> lot_orders(n);
  for (size_t i = 0; i < n; ++i) {
    if (!r.I64(&s->lots[i].expires_at) || !r.I64(&s->lots[i].points) || !r.U64(&lot_orders[i])) {
      return false;
    }
  }
  if (!count(&n)) return false;
  s->window.resize(n);
  std::vector<uint64_t> window_orders(n);
  for (size_t i = 0; i < n; ++i) {
    auto& p = s->window[i];
    if (!r.I64(&p.at) || !r.I64(&p.amount_minor) || !r.I64(&p.offset_minor) ||
        !r.I64(&p.net_minor) || !r.U64(&window_orders[i])) {
      return false;
    }
  }
  if (!r.I64(&s->qualifying_spend_minor) || !r.I64(&s->lifetime_value_minor)) return false;
  if (!count(&n) || n >= kLoyaltyNoOrder) return false;
  s->orders.resize(n);
  for (auto& o : s->orders) {
    if (!r.Str(&o.order_id) || !r.I64(&o.last_purchase_at) || !r.I64(&o.amount_minor) ||
        !r.I64(&o.refunded_minor) || !r.I64(&o.points) || !r.I64(&o.points_removed)) {
      return false;
    }
  }
  // Order references must point at orders, and the index must be the orders sorted by id (strictly
  // ascending ids over valid indices is then a permutation).
  for (size_t i = 0; i < s->lots.size(); ++i) {
    order = lot_orders[i];
    if (order != kLoyaltyNoOrder && order >= s->orders.size()) return false;
    s->lots[i].order = static_cast<uint32_t>(order);
  }
  for (size_t i = 0; i < s->window.size(); ++i) {
    if (window_orders[i] >= s->orders.size()) return false;
    s->window[i].order = static_cast<uint32_t>(window_orders[i]);
  }
  s->order_index.resize(s->orders.size());
  for (size_t i = 0; i < s->order_index.size(); ++i) {
    if (!r.U64(&order) || order >= s->orders.size()) return false;
    s->order_index[i] = static_cast<uint32_t>(order);
    if (i > 0 && !(s->orders[s->order_index[i - 1]].order_id < s->orders[order].order_id)) {
      return false;
    }
  }
  if (!r.Bool(&s->has_purchase) || !r.I64(&s->first_purchase_at) || !r.I64(&s->last_purchase_at) ||
      !r.U64(&n) || n > s->csat.size()) {
    return false;
  }
  s->csat_count = static_cast<uint8_t>(n);
  s->csat_next = static_cast<uint8_t>(n % s->csat.size());
  for (size_t i = 0; i < n; ++i) {
    int64_t v;
    if (!r.I64(&v) || v < 1 || v > 5) return false;
    s->csat[i] = static_cast<int8_t>(v);
  }
  if (!r.Bool(&s->has_nps) || !r.I64(&s->nps_last) || !count(&n)) return false;
  s->open_cases.resize(n);
  for (auto& c : s->open_cases) {
    if (!r.Str(&c)) return false;
  }
  if (!count(&n)) return false;
  s->complaint_times.resize(n);
  for (auto& t : s->complaint_times) {
    if (!r.I64(&t)) return false;
  }
  return r.AtEnd();
}

}  // namespace rapport::projections
