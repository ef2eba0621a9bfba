#include "projections/profile.h"

#include <algorithm>
#include <cmath>

#include "ledger/json.h"
#include "projections/state_codec.h"

namespace rapport::projections {
namespace {

using ledger::Channel;
using ledger::DataField;
using ledger::EventType;
using ledger::Timestamp;
namespace json = ledger::json;

// Bumped whenever the encoding changes; a stored state of another version fails to decode (the
// runner then reports it as corrupt, and a rebuild recreates it).
constexpr uint64_t kStateVersion = 2;  // 2: variable-length integers

// 0.5^(age_days / half_life_days), age_days = seconds ÷ 86400 (CONTRACT §4). `age_micros` ≥ 0.
double Decay(int64_t age_micros, double half_life_days) {
  double age_days = static_cast<double>(age_micros) / static_cast<double>(ledger::kMicrosPerDay);
  return std::exp2(-age_days / half_life_days);
}

// Adds `amount` at time `at` to sums re-based to `*ref`, re-basing them to `at` when it is later.
// Events arrive in occurred_at order, so `at` < `*ref` only for a caller that breaks that order;
// then the amount itself is decayed to `*ref`, which is just as exact. `get` maps an element of
// `items` to its sum.
template <typename Items, typename Get>
double Rebase(Items& items, Timestamp* ref, Timestamp at, double amount, double half_life_days,
              Get get) {
  if (items.empty()) {
    *ref = at;
    return amount;
  }
  if (at > *ref) {
    double f = Decay(at.micros - ref->micros, half_life_days);
    for (auto& item : items) get(item) *= f;
    *ref = at;
    return amount;
  }
  if (at < *ref) return amount * Decay(ref->micros - at.micros, half_life_days);
  return amount;
}

// Records the event behind a value: first/last seen, channels in order of first use, evidence.
void NoteEvent(ProfileValue* v, const Touch& touch) {
  const Timestamp at = touch.event.occurred_at;
  if (v->num_evidence == 0) v->first_seen = at;
  v->last_seen = at;
  v->last_seq = touch.seq;
  const Channel ch = touch.event.channel;
  if (std::find(v->channels.begin(), v->channels.begin() + v->num_channels, ch) ==
      v->channels.begin() + v->num_channels) {
    v->channels[v->num_channels++] = ch;
  }
  if (v->num_evidence == kProfileEvidence) {
    std::copy(v->evidence.begin() + 1, v->evidence.end(), v->evidence.begin());
    v->evidence[kProfileEvidence - 1] = touch.position;
  } else {
    v->evidence[v->num_evidence++] = touch.position;
  }
}

ProfileValue* FindOrAddValue(ProfilePreference* pref, std::string_view value) {
  for (auto& v : pref->values) {
    if (v.value == value) return &v;
  }
  pref->values.emplace_back();
  pref->values.back().value.assign(value);
  return &pref->values.back();
}

std::vector<ProfilePreference>::iterator FindPreference(std::vector<ProfilePreference>& prefs,
                                                        std::string_view key) {
  return std::lower_bound(
      prefs.begin(), prefs.end(), key,
      [](const ProfilePreference& p, std::string_view k) { return std::string_view(p.key) < k; });
}

ProfilePreference* FindOrAddPreference(ProfileState* s, std::string_view key) {
  auto it = FindPreference(s->preferences, key);
  if (it == s->preferences.end() || it->key != key) {
    it = s->preferences.emplace(it);
    it->key.assign(key);
  }
  return &*it;
}

// A sorted vector of (key, value) pairs: the entry for `key`, inserted with `init` when absent.
template <typename V>
V* FindOrAddSorted(std::vector<std::pair<std::string, V>>* entries, std::string_view key, V init) {
  auto it = std::lower_bound(entries->begin(), entries->end(), key,
                             [](const std::pair<std::string, V>& e, std::string_view k) {
                               return std::string_view(e.first) < k;
                             });
  if (it == entries->end() || it->first != key) it = entries->emplace(it, std::string(key), init);
  return &it->second;
}

void ApplyStated(ProfileState* s, const Touch& touch) {
  const auto& data = touch.event.data;
  ProfilePreference* pref = FindOrAddPreference(s, data.key);
  if (!pref->stated) {
    // A stated value wins with confidence 1 until a retraction, and a retraction discards all
    // earlier evidence: nothing observed can matter again, so it is dropped now.
    pref->stated = true;
    pref->values.clear();
  }
  ProfileValue* v = FindOrAddValue(pref, data.value);
  NoteEvent(v, touch);
  pref->current = static_cast<int>(v - pref->values.data());
}

void ApplyObserved(ProfileState* s, const Touch& touch, double half_life_days) {
  const auto& data = touch.event.data;
  ProfilePreference* pref = FindOrAddPreference(s, data.key);
  if (pref->stated) return;  // see ApplyStated
  double weight = data.Has(DataField::kWeight) ? data.weight : 1.0;
  double added = Rebase(pref->values, &pref->ref, touch.event.occurred_at, weight, half_life_days,
                        [](ProfileValue& v) -> double& { return v.weight; });
  ProfileValue* v = FindOrAddValue(pref, data.value);
  v->weight += added;
  NoteEvent(v, touch);
}

void ApplyPurchase(ProfileState* s, const Touch& touch, double half_life_days) {
  // Only purchases build affinity: the contract counts "each purchase item's quantity" and says
  // nothing of refunds, which name no items, so a refund leaves affinity as it is.
  const auto& items = touch.event.data.items;
  bool rebased = false;
  for (const auto& item : items) {
    if (!item.category) continue;  // items without a category are ignored
    double quantity = static_cast<double>(item.quantity.value_or(1));
    if (!rebased) {
      // Re-base once per purchase; the first item's amount is already at the new reference.
      quantity =
          Rebase(s->affinity, &s->affinity_ref, touch.event.occurred_at, quantity, half_life_days,
                 [](std::pair<std::string, double>& e) -> double& { return e.second; });
      rebased = true;
    } else if (touch.event.occurred_at < s->affinity_ref) {
      quantity *= Decay(s->affinity_ref.micros - touch.event.occurred_at.micros, half_life_days);
    }
    *FindOrAddSorted(&s->affinity, *item.category, 0.0) += quantity;
  }
}

bool IsInbound(const ledger::Event& ev) {
  switch (ev.type) {
    case EventType::kMessage:
      return ev.data.direction == "inbound";
    case EventType::kVisit:
    case EventType::kInquiry:
    case EventType::kPurchase:
    case EventType::kComplaintOpened:
    case EventType::kSuggestion:
    case EventType::kSurveyResponse:
    case EventType::kPreferenceStated:
      return true;
    default:
      return false;
  }
}

// Drops inbound touchpoints at or before last_at − window: the window of any as_of ≥ last_at is
// (as_of − window, as_of], which can no longer hold them.
void PruneInbound(ProfileState* s, const Rules& rules) {
  const int64_t cutoff = s->last_at.micros - rules.activity_window_days * ledger::kMicrosPerDay;
  while (s->inbound_head < s->inbound.size() && s->inbound[s->inbound_head].at_micros <= cutoff) {
    ++s->inbound_head;
  }
  // Erase the dead prefix in bulk once it is at least half the vector: amortised O(1) per event.
  if (s->inbound_head >= 16 && s->inbound_head * 2 >= s->inbound.size()) {
    s->inbound.erase(s->inbound.begin(),
                     s->inbound.begin() + static_cast<std::ptrdiff_t>(s->inbound_head));
    s->inbound_head = 0;
  }
}

// Channels in bytewise order of their names, the order of channel_mix's keys.
const std::array<Channel, ledger::kNumChannels>& ChannelsByName() {
  static const std::array<Channel, ledger::kNumChannels> order = [] {
    std::array<Channel, ledger::kNumChannels> o;
    for (int i = 0; i < ledger::kNumChannels; ++i) o[i] = static_cast<Channel>(i);
    std::sort(o.begin(), o.end(),
              [](Channel a, Channel b) { return ledger::ChannelName(a) < ledger::ChannelName(b); });
    return o;
  }();
  return order;
}

void AppendQuoted(std::string* out, std::string_view s) { json::AppendString(out, s); }

void AppendTimestampString(std::string* out, Timestamp t) {
  out->push_back('"');
  ledger::AppendTimestamp(out, t);
  out->push_back('"');
}

// The value that wins an observed-only key: the greatest decayed weight; tie: the most recent
// (latest occurred_at, then seq — the apply order). Weights share one reference time, so they
// compare as decayed to any as_of.
const ProfileValue& ObservedWinner(const ProfilePreference& pref, double* total) {
  const ProfileValue* best = &pref.values[0];
  double sum = 0;
  for (const auto& v : pref.values) {
    sum += v.weight;
    if (v.weight > best->weight ||
        (v.weight == best->weight &&
         std::pair(v.last_seen, v.last_seq) > std::pair(best->last_seen, best->last_seq))) {
      best = &v;
    }
  }
  *total = sum;
  return *best;
}

void AppendPreference(std::string* out, const ProfilePreference& pref) {
  const ProfileValue* v;
  double confidence;
  if (pref.stated) {
    v = &pref.values[static_cast<size_t>(pref.current)];
    confidence = 1;
  } else {
    double total;
    v = &ObservedWinner(pref, &total);
    // total ≥ the latest observation's weight > 0 (sums are re-based to it), so no 0 ÷ 0.
    confidence = total > 0 ? v->weight / total : 0;
  }
  out->append("{\"value\":");
  AppendQuoted(out, v->value);
  out->append(pref.stated ? ",\"source\":\"stated\",\"confidence\":"
                          : ",\"source\":\"observed\",\"confidence\":");
  json::AppendRounded4(out, confidence);
  out->append(",\"first_seen\":");
  AppendTimestampString(out, v->first_seen);
  out->append(",\"last_seen\":");
  AppendTimestampString(out, v->last_seen);
  out->append(",\"channels\":[");
  for (int i = 0; i < v->num_channels; ++i) {
    if (i) out->push_back(',');
    AppendQuoted(out, ledger::ChannelName(v->channels[i]));
  }
  out->append("],\"evidence\":[");
  std::array<uint64_t, kProfileEvidence> evidence = v->evidence;
  const size_t n = std::min<size_t>(v->num_evidence, evidence.size());
  // Insertion sort: at most kProfileEvidence entries (and std::sort over a runtime-bounded prefix
  // of a std::array trips GCC 12's -Warray-bounds).
  for (size_t i = 1; i < n; ++i) {
    for (size_t j = i; j > 0 && evidence[j - 1] > evidence[j]; --j) {
      std::swap(evidence[j - 1], evidence[j]);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (i) out->push_back(',');
    json::AppendUint(out, evidence[i]);
  }
  out->append("]}");
}

void AppendCommunication(std::string* out, const ProfileState& s, Timestamp as_of,
                         const Rules& rules) {
  // "The 365 days up to as_of" is read as (as_of − 365 days, as_of], the loyalty spend window's
  // form: an inbound touchpoint exactly 365 days before as_of is out.
  const int64_t lo = as_of.micros - rules.activity_window_days * ledger::kMicrosPerDay;
  std::array<uint64_t, ledger::kNumChannels> count{};
  std::array<size_t, ledger::kNumChannels> latest{};  // 1 + index of the channel's latest entry
  for (size_t i = s.inbound_head; i < s.inbound.size(); ++i) {
    const auto& e = s.inbound[i];
    if (e.at_micros <= lo || e.at_micros > as_of.micros) continue;
    int c = static_cast<int>(e.channel);
    ++count[c];
    latest[c] = i + 1;  // entries are in apply order, so a later index is more recent
  }
  int preferred = -1;
  for (int c = 0; c < ledger::kNumChannels; ++c) {
    if (count[c] == 0) continue;
    if (preferred < 0 || count[c] > count[preferred] ||
        (count[c] == count[preferred] && latest[c] > latest[preferred])) {
      preferred = c;
    }
  }
  out->append("{\"preferred_channel\":");
  if (preferred < 0) {
    out->append("null");
  } else {
    AppendQuoted(out, ledger::ChannelName(static_cast<Channel>(preferred)));
  }
  out->append(",\"channel_mix\":{");
  bool first = true;
  for (Channel ch : ChannelsByName()) {
    uint64_t n = count[static_cast<int>(ch)];
    if (n == 0) continue;
    if (!first) out->push_back(',');
    first = false;
    AppendQuoted(out, ledger::ChannelName(ch));
    out->push_back(':');
    json::AppendUint(out, n);
  }
  out->append("},\"consents\":{");
  first = true;
  for (const auto& [key, granted] : s.consents) {
    if (!first) out->push_back(',');
    first = false;
    AppendQuoted(out, key);
    out->append(granted ? ":\"granted\"" : ":\"revoked\"");
  }
  out->append("}}");
}

}  // namespace

void ApplyProfile(ProfileState* s, const Touch& touch, const Rules& rules) {
  const ledger::Event& ev = touch.event;
  if (s->customer_id != ev.customer_id) s->customer_id = ev.customer_id;
  // The greatest seq, not the last applied one: a late event (earlier occurred_at, greater seq)
  // is applied before events with smaller seqs.
  s->seq = std::max(s->seq, touch.seq);
  s->last_at = s->has_events ? std::max(s->last_at, ev.occurred_at) : ev.occurred_at;
  s->has_events = true;
  const double half_life = rules.preference_half_life_days;

  switch (ev.type) {
    case EventType::kPreferenceStated:
      ApplyStated(s, touch);
      break;
    case EventType::kPreferenceObserved:
      ApplyObserved(s, touch, half_life);
      break;
    case EventType::kPreferenceRetracted: {
      auto it = FindPreference(s->preferences, ev.data.key);
      if (it != s->preferences.end() && it->key == ev.data.key) s->preferences.erase(it);
      break;
    }
    case EventType::kPurchase:
      ApplyPurchase(s, touch, half_life);
      break;
    case EventType::kConsentChanged: {
      const bool granted = ev.data.status == "granted";
      if (ev.data.Has(DataField::kConsentChannel)) {
        std::string key;
        key.reserve(ev.data.purpose.size() + 1 + ev.data.channel.size());
        key.append(ev.data.purpose).push_back(':');
        key.append(ev.data.channel);
        *FindOrAddSorted(&s->consents, key, granted) = granted;
      } else {
        *FindOrAddSorted(&s->consents, ev.data.purpose, granted) = granted;
      }
      break;
    }
    case EventType::kTagAssigned: {
      auto it = std::lower_bound(s->tags.begin(), s->tags.end(), ev.data.tag);
      if (it == s->tags.end() || *it != ev.data.tag) s->tags.insert(it, ev.data.tag);
      break;
    }
    case EventType::kTagRemoved: {
      auto it = std::lower_bound(s->tags.begin(), s->tags.end(), ev.data.tag);
      if (it != s->tags.end() && *it == ev.data.tag) s->tags.erase(it);
      break;
    }
    default:
      break;
  }
  if (IsInbound(ev)) s->inbound.push_back({ev.occurred_at.micros, ev.channel});
  PruneInbound(s, rules);
}

std::string RenderProfile(const ProfileState& s, Timestamp as_of, const Rules& rules) {
  std::string out;
  out.reserve(512);
  out.append("{\"customer_id\":");
  AppendQuoted(&out, s.customer_id);
  out.append(",\"as_of\":");
  AppendTimestampString(&out, as_of);
  out.append(",\"seq\":");
  json::AppendUint(&out, s.seq);

  out.append(",\"preferences\":{");
  for (size_t i = 0; i < s.preferences.size(); ++i) {
    if (i) out.push_back(',');
    AppendQuoted(&out, s.preferences[i].key);
    out.push_back(':');
    AppendPreference(&out, s.preferences[i]);
  }

  // Shares are ratios of sums re-based to one time, equal to the ratios of the sums decayed to
  // as_of. total ≥ the latest purchase's categorised quantity ≥ 1.
  out.append("},\"category_affinity\":{");
  double total = 0;
  for (const auto& [category, weight] : s.affinity) total += weight;
  for (size_t i = 0; i < s.affinity.size(); ++i) {
    if (i) out.push_back(',');
    AppendQuoted(&out, s.affinity[i].first);
    out.push_back(':');
    json::AppendRounded4(&out, total > 0 ? s.affinity[i].second / total : 0);
  }

  out.append("},\"communication\":");
  AppendCommunication(&out, s, as_of, rules);

  out.append(",\"tags\":[");
  for (size_t i = 0; i < s.tags.size(); ++i) {
    if (i) out.push_back(',');
    AppendQuoted(&out, s.tags[i]);
  }
  out.append("]}");
  return out;
}

std::string EncodeProfileState(const ProfileState& s) {
  std::string out;
  out.reserve(256);
  StateWriter w(&out);
  w.U64(kStateVersion);
  w.Str(s.customer_id);
  w.U64(s.seq);
  w.Bool(s.has_events);
  w.I64(s.last_at.micros);

  w.U64(s.preferences.size());
  for (const auto& p : s.preferences) {
    w.Str(p.key);
    w.Bool(p.stated);
    w.I64(p.current);
    w.I64(p.ref.micros);
    w.U64(p.values.size());
    for (const auto& v : p.values) {
      w.Str(v.value);
      w.F64(v.weight);
      w.I64(v.first_seen.micros);
      w.I64(v.last_seen.micros);
      w.U64(v.last_seq);
      w.Str(std::string_view(reinterpret_cast<const char*>(v.channels.data()), v.num_channels));
      w.U64(v.num_evidence);
      for (int i = 0; i < v.num_evidence; ++i) w.U64(v.evidence[i]);
    }
  }

  w.I64(s.affinity_ref.micros);
  w.U64(s.affinity.size());
  for (const auto& [category, weight] : s.affinity) {
    w.Str(category);
    w.F64(weight);
  }

  // Only the live inbound entries; their channels as one byte string.
  const size_t live = s.inbound.size() - s.inbound_head;
  w.U64(live);
  std::string channels;
  channels.reserve(live);
  for (size_t i = s.inbound_head; i < s.inbound.size(); ++i) {
    w.I64(s.inbound[i].at_micros);
    channels.push_back(static_cast<char>(s.inbound[i].channel));
  }
  w.Str(channels);

  w.U64(s.consents.size());
  for (const auto& [key, granted] : s.consents) {
    w.Str(key);
    w.Bool(granted);
  }
  w.U64(s.tags.size());
  for (const auto& t : s.tags) w.Str(t);
  return out;
}

namespace {

bool ValidChannel(unsigned char c) { return c < ledger::kNumChannels; }

// Decodes a count of at most `max`. Callers bound counts of encoded elements by the input size
// ÷ 8 (every element holds at least one 8-byte field), so that a corrupt count cannot make the
// decoder allocate much more than the input before it fails.
bool Count(StateReader* r, uint64_t* n, uint64_t max) { return r->U64(n) && *n <= max; }

}  // namespace

bool DecodeProfileState(std::string_view bytes, ProfileState* s) {
  StateReader r(bytes);
  const uint64_t max_elements = bytes.size();  // every element takes at least one byte
  uint64_t version, n;
  if (!r.U64(&version) || version != kStateVersion) return false;
  if (!r.Str(&s->customer_id) || !r.U64(&s->seq) || !r.Bool(&s->has_events) ||
      !r.I64(&s->last_at.micros)) {
    return false;
  }

  if (!Count(&r, &n, max_elements)) return false;
  s->preferences.clear();
  s->preferences.resize(n);
  for (auto& p : s->preferences) {
    int64_t current;
    uint64_t num_values;
    if (!r.Str(&p.key) || !r.Bool(&p.stated) || !r.I64(&current) || !r.I64(&p.ref.micros) ||
        !Count(&r, &num_values, max_elements) || num_values == 0) {
      return false;
    }
    if (p.stated ? (current < 0 || static_cast<uint64_t>(current) >= num_values) : current != -1) {
      return false;
    }
    p.current = static_cast<int>(current);
    p.values.resize(num_values);
    for (auto& v : p.values) {
      std::string channels;
      uint64_t num_evidence;
      if (!r.Str(&v.value) || !r.F64(&v.weight) || !std::isfinite(v.weight) || v.weight < 0 ||
          !r.I64(&v.first_seen.micros) || !r.I64(&v.last_seen.micros) || !r.U64(&v.last_seq) ||
          !r.Str(&channels) || channels.empty() || channels.size() > ledger::kNumChannels ||
          !Count(&r, &num_evidence, kProfileEvidence) || num_evidence == 0) {
        return false;
      }
      v.num_channels = static_cast<uint8_t>(channels.size());
      for (size_t i = 0; i < channels.size(); ++i) {
        if (!ValidChannel(static_cast<unsigned char>(channels[i]))) return false;
        v.channels[i] = static_cast<Channel>(channels[i]);
      }
      v.num_evidence = static_cast<uint8_t>(num_evidence);
      for (uint64_t i = 0; i < num_evidence; ++i) {
        if (!r.U64(&v.evidence[i])) return false;
      }
    }
  }
  for (size_t i = 1; i < s->preferences.size(); ++i) {
    if (!(s->preferences[i - 1].key < s->preferences[i].key)) return false;
  }

  if (!r.I64(&s->affinity_ref.micros) || !Count(&r, &n, max_elements)) return false;
  s->affinity.clear();
  s->affinity.resize(n);
  for (auto& [category, weight] : s->affinity) {
    if (!r.Str(&category) || !r.F64(&weight) || !std::isfinite(weight) || weight < 0) return false;
  }
  for (size_t i = 1; i < s->affinity.size(); ++i) {
    if (!(s->affinity[i - 1].first < s->affinity[i].first)) return false;
  }

  if (!Count(&r, &n, max_elements)) return false;
  s->inbound.clear();
  s->inbound.resize(n);
  s->inbound_head = 0;
  for (auto& e : s->inbound) {
    if (!r.I64(&e.at_micros)) return false;
  }
  std::string channels;
  if (!r.Str(&channels) || channels.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (!ValidChannel(static_cast<unsigned char>(channels[i]))) return false;
    s->inbound[i].channel = static_cast<Channel>(channels[i]);
  }

  if (!Count(&r, &n, max_elements)) return false;
  s->consents.clear();
  s->consents.resize(n);
  for (auto& [key, granted] : s->consents) {
    if (!r.Str(&key) || !r.Bool(&granted)) return false;
  }
  for (size_t i = 1; i < s->consents.size(); ++i) {
    if (!(s->consents[i - 1].first < s->consents[i].first)) return false;
  }

  if (!Count(&r, &n, max_elements)) return false;
  s->tags.clear();
  s->tags.resize(n);
  for (auto& t : s->tags) {
    if (!r.Str(&t)) return false;
  }
  for (size_t i = 1; i < s->tags.size(); ++i) {
    if (!(s->tags[i - 1] < s->tags[i])) return false;
  }
  return r.AtEnd();
}

}  // namespace rapport::projections
