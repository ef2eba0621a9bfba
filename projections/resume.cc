#include "projections/resume.h"

#include <algorithm>

#include "ledger/json.h"
#include "projections/state_codec.h"

namespace rapport::projections {
namespace {

using ledger::Channel;
using ledger::DataField;
using ledger::EventType;
using ledger::Timestamp;

// Bumped whenever the encoding changes, so that an old state is rejected (and rebuilt) instead of
// misread.
constexpr uint64_t kStateVersion = 2;  // 2: variable-length integers

// Open conversations, commitments, orders and cases are few per customer, so linear searches over
// small vectors beat node-based maps (no allocation per entry, cache-friendly).
template <typename T, typename Id>
T* FindById(std::vector<T>& v, std::string_view id, Id T::*member) {
  for (auto& e : v) {
    if (e.*member == id) return &e;
  }
  return nullptr;
}

template <typename T, typename Id>
void EraseById(std::vector<T>& v, std::string_view id, Id T::*member) {
  auto it = std::find_if(v.begin(), v.end(), [&](const T& e) { return e.*member == id; });
  if (it != v.end()) v.erase(it);
}

// Moves `*e` to the back of `v`, keeping the order of the others.
template <typename T>
T* MoveToBack(std::vector<T>& v, T* e) {
  std::rotate(e, e + 1, v.data() + v.size());
  return &v.back();
}

bool SortedContains(const std::vector<std::string>& v, std::string_view s) {
  auto it = std::lower_bound(v.begin(), v.end(), s);
  return it != v.end() && *it == s;
}

void SortedInsert(std::vector<std::string>& v, std::string_view s) {
  auto it = std::lower_bound(v.begin(), v.end(), s);
  if (it == v.end() || *it != s) v.emplace(it, s);
}

void SortedErase(std::vector<std::string>& v, std::string_view s) {
  auto it = std::lower_bound(v.begin(), v.end(), s);
  if (it != v.end() && *it == s) v.erase(it);
}

void SetFact(std::vector<std::pair<std::string, std::string>>& facts, std::string_view key,
             std::string_view value) {
  auto it = std::lower_bound(facts.begin(), facts.end(), key,
                             [](const auto& f, std::string_view k) { return f.first < k; });
  if (it != facts.end() && it->first == key) {
    it->second.assign(value.data(), value.size());
  } else {
    facts.emplace(it, std::string(key), std::string(value));
  }
}

void SetRef(ResumeEventRef* ref, const ledger::Event& ev) {
  ref->at = ev.occurred_at;
  ref->channel = ev.channel;
  ref->type = ev.type;
  if (ev.data.Has(DataField::kSummary)) {
    ref->summary.Set(ev.data.summary);
  } else {
    ref->summary.Clear();
  }
}

// The conversation an event names, opened (fresh) when it is not open, and moved to the back as
// the most recently touched.
ResumeConversation* TouchConversation(ResumeState* s, const ledger::Event& ev) {
  const std::string& id = *ev.conversation_id;
  ResumeConversation* c = FindById(s->conversations, id, &ResumeConversation::conversation_id);
  if (c == nullptr) {
    c = &s->conversations.emplace_back();
    c->conversation_id = id;
    c->opened_at = ev.occurred_at;
  } else {
    c = MoveToBack(s->conversations, c);
  }
  c->last_at = ev.occurred_at;
  auto used = c->channels.begin() + c->num_channels;
  if (std::find(c->channels.begin(), used, ev.channel) == used) {
    c->channels[c->num_channels++] = ev.channel;
  }
  if (ev.data.Has(DataField::kTopic)) c->topic.Set(ev.data.topic);
  return c;
}

void ApplyMessageToConversation(ResumeConversation* c, const ledger::Event& ev) {
  const ledger::EventData& d = ev.data;
  bool inbound = d.direction == "inbound";
  c->has_message = true;
  c->message_inbound = inbound;
  if (d.Has(DataField::kSummary)) {
    c->message_summary.Set(d.summary);
  } else {
    c->message_summary.Clear();
  }
  c->message_at = ev.occurred_at;
  c->message_channel = ev.channel;
  if (inbound) {
    for (const auto& key : d.asks) {
      // Asked again while pending: keeps its first place.
      if (std::find(c->pending_asks.begin(), c->pending_asks.end(), key) == c->pending_asks.end()) {
        c->pending_asks.push_back(key);
      }
    }
  } else {
    for (const auto& [key, text] : d.answers) {
      auto it = std::find(c->pending_asks.begin(), c->pending_asks.end(), key);
      if (it != c->pending_asks.end()) c->pending_asks.erase(it);
    }
  }
}

bool IsTerminalOrderStatus(std::string_view status) {
  return status == "delivered" || status == "cancelled" || status == "returned";
}

// The open order `order_id`, started by `ev` when it has not started; nullptr when it is closed.
ResumeOrder* StartOrFindOrder(ResumeState* s, const ledger::Event& ev) {
  const std::string& id = ev.data.order_id;
  if (ResumeOrder* o = FindById(s->open_orders, id, &ResumeOrder::order_id)) return o;
  // Closed stays closed: "open until delivered, cancelled or returned", and an order starts once.
  if (SortedContains(s->closed_order_ids, id)) return nullptr;
  ResumeOrder& o = s->open_orders.emplace_back();
  o.order_id = id;
  o.status = "placed";
  o.placed_at = ev.occurred_at;
  o.channel = ev.channel;
  return &o;
}

// --- Rendering ---

void AppendText(std::string* out, const MaybeText& t) {
  if (t.present) {
    ledger::json::AppendString(out, t.text);
  } else {
    out->append("null");
  }
}

void AppendTime(std::string* out, Timestamp t) {
  out->push_back('"');
  ledger::AppendTimestamp(out, t);
  out->push_back('"');
}

void AppendName(std::string* out, std::string_view name) { ledger::json::AppendString(out, name); }

void AppendStringArray(std::string* out, const std::vector<std::string>& v) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out->push_back(',');
    ledger::json::AppendString(out, v[i]);
  }
  out->push_back(']');
}

void AppendConversation(std::string* out, const ResumeConversation& c) {
  out->append("{\"conversation_id\":");
  ledger::json::AppendString(out, c.conversation_id);
  out->append(",\"topic\":");
  AppendText(out, c.topic);
  out->append(",\"opened_at\":");
  AppendTime(out, c.opened_at);
  out->append(",\"last_at\":");
  AppendTime(out, c.last_at);
  out->append(",\"channels\":[");
  for (int i = 0; i < c.num_channels; ++i) {
    if (i > 0) out->push_back(',');
    AppendName(out, ledger::ChannelName(c.channels[i]));
  }
  out->append("],\"last_message\":");
  if (c.has_message) {
    out->append("{\"direction\":");
    out->append(c.message_inbound ? "\"inbound\"" : "\"outbound\"");
    out->append(",\"summary\":");
    AppendText(out, c.message_summary);
    out->append(",\"at\":");
    AppendTime(out, c.message_at);
    out->append(",\"channel\":");
    AppendName(out, ledger::ChannelName(c.message_channel));
    out->push_back('}');
  } else {
    out->append("null");
  }
  out->append(",\"pending_asks\":");
  AppendStringArray(out, c.pending_asks);
  out->push_back('}');
}

// The keys the latest purchase adds to known_facts, in bytewise order.
constexpr std::string_view kLastOrderAt = "last_order_at";
constexpr std::string_view kLastOrderId = "last_order_id";
constexpr std::string_view kLastOrderItems = "last_order_items";
constexpr std::array<std::string_view, 3> kLastOrderKeys = {kLastOrderAt, kLastOrderId,
                                                            kLastOrderItems};
static_assert(kLastOrderAt < kLastOrderId && kLastOrderId < kLastOrderItems);

bool IsLastOrderKey(std::string_view key) {
  return key == kLastOrderAt || key == kLastOrderId || key == kLastOrderItems;
}

void AppendLastOrderValue(std::string* out, const ResumeState& s, std::string_view key) {
  if (key == kLastOrderAt) {
    AppendTime(out, s.last_order_at);
  } else if (key == kLastOrderId) {
    ledger::json::AppendString(out, s.last_order_id);
  } else {
    AppendStringArray(out, s.last_order_items);
  }
}

void AppendKnownFacts(std::string* out, const ResumeState& s) {
  out->push_back('{');
  bool first = true;
  auto sep = [&] {
    if (!first) out->push_back(',');
    first = false;
  };
  size_t next_order_key = s.has_last_order ? 0 : kLastOrderKeys.size();
  auto flush_order_keys_before = [&](const std::string_view* key) {
    while (next_order_key < kLastOrderKeys.size() &&
           (key == nullptr || kLastOrderKeys[next_order_key] < *key)) {
      sep();
      ledger::json::AppendString(out, kLastOrderKeys[next_order_key]);
      out->push_back(':');
      AppendLastOrderValue(out, s, kLastOrderKeys[next_order_key]);
      ++next_order_key;
    }
  };
  for (const auto& [key, value] : s.facts) {
    std::string_view k = key;
    flush_order_keys_before(&k);
    // The latest purchase's values win over facts of the same name.
    if (s.has_last_order && IsLastOrderKey(k)) continue;
    sep();
    ledger::json::AppendString(out, k);
    out->push_back(':');
    ledger::json::AppendString(out, value);
  }
  flush_order_keys_before(nullptr);
  out->push_back('}');
}

void AppendDoNotAsk(std::string* out, const ResumeState& s) {
  std::vector<std::string_view> keys;
  keys.reserve(s.facts.size() + s.stated_preference_keys.size() + kLastOrderKeys.size());
  for (const auto& f : s.facts) keys.push_back(f.first);
  if (s.has_last_order) keys.insert(keys.end(), kLastOrderKeys.begin(), kLastOrderKeys.end());
  keys.insert(keys.end(), s.stated_preference_keys.begin(), s.stated_preference_keys.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  out->push_back('[');
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out->push_back(',');
    ledger::json::AppendString(out, keys[i]);
  }
  out->push_back(']');
}

void AppendRef(std::string* out, const ResumeEventRef& r) {
  out->append("{\"at\":");
  AppendTime(out, r.at);
  out->append(",\"channel\":");
  AppendName(out, ledger::ChannelName(r.channel));
  out->append(",\"type\":");
  AppendName(out, ledger::EventTypeName(r.type));
  out->append(",\"summary\":");
  AppendText(out, r.summary);
  out->push_back('}');
}

// --- Encoding ---

void PutText(StateWriter& w, const MaybeText& t) {
  w.Bool(t.present);
  if (t.present) w.Str(t.text);
}
bool GetText(StateReader& r, MaybeText* t) {
  if (!r.Bool(&t->present)) return false;
  if (!t->present) {
    t->text.clear();
    return true;
  }
  return r.Str(&t->text);
}

void PutTime(StateWriter& w, Timestamp t) { w.I64(t.micros); }
bool GetTime(StateReader& r, Timestamp* t) { return r.I64(&t->micros); }

bool GetEnum(StateReader& r, uint64_t limit, uint64_t* v) { return r.U64(v) && *v < limit; }
bool GetChannel(StateReader& r, Channel* c) {
  uint64_t v;
  if (!GetEnum(r, ledger::kNumChannels, &v)) return false;
  *c = static_cast<Channel>(v);
  return true;
}
bool GetType(StateReader& r, EventType* t) {
  uint64_t v;
  if (!GetEnum(r, ledger::kNumEventTypes, &v)) return false;
  *t = static_cast<EventType>(v);
  return true;
}

// Every element takes at least one byte, so a count above the bytes left is corrupt; checking it
// keeps a bad count from reserving gigabytes.
bool GetCount(StateReader& r, size_t bytes_total, size_t* n) {
  uint64_t v;
  if (!r.U64(&v) || v > bytes_total) return false;
  *n = static_cast<size_t>(v);
  return true;
}

void PutRef(StateWriter& w, const ResumeEventRef& e) {
  PutTime(w, e.at);
  w.U64(static_cast<uint64_t>(e.channel));
  w.U64(static_cast<uint64_t>(e.type));
  PutText(w, e.summary);
}
bool GetRef(StateReader& r, ResumeEventRef* e) {
  return GetTime(r, &e->at) && GetChannel(r, &e->channel) && GetType(r, &e->type) &&
         GetText(r, &e->summary);
}

void PutStrings(StateWriter& w, const std::vector<std::string>& v) {
  w.U64(v.size());
  for (const auto& s : v) w.Str(s);
}
bool GetStrings(StateReader& r, size_t total, std::vector<std::string>* v) {
  size_t n;
  if (!GetCount(r, total, &n)) return false;
  v->resize(n);
  for (auto& s : *v) {
    if (!r.Str(&s)) return false;
  }
  return true;
}

}  // namespace

void ApplyResume(ResumeState* s, const Touch& touch, const Rules& rules) {
  const ledger::Event& ev = touch.event;
  const ledger::EventData& d = ev.data;
  if (s->customer_id.empty()) s->customer_id = ev.customer_id;
  s->max_seq = std::max(s->max_seq, touch.seq);

  // Every event type is a contact: the contract says "the latest visible event".
  s->has_last_contact = true;
  SetRef(&s->last_contact, ev);
  if (ev.actor) {
    s->last_contact_actor.Set(*ev.actor);
  } else {
    s->last_contact_actor.Clear();
  }
  SetRef(&s->recent[s->recent_next], ev);
  s->recent_next = static_cast<uint8_t>((s->recent_next + 1) % ResumeState::kRecentSize);
  if (s->recent_count < ResumeState::kRecentSize) ++s->recent_count;

  if (ev.conversation_id) {
    if (ev.type == EventType::kConversationClosed) {
      // Closing a conversation that is not open would open it and close it at once: nothing
      // stays. A closed conversation is forgotten, as a reopen is fresh.
      EraseById(s->conversations, *ev.conversation_id, &ResumeConversation::conversation_id);
    } else {
      ResumeConversation* c = TouchConversation(s, ev);
      if (ev.type == EventType::kMessage) ApplyMessageToConversation(c, ev);
    }
  }

  switch (ev.type) {
    case EventType::kMessage:
      // Answers are known whichever side gave them, inside a conversation or not.
      for (const auto& [key, text] : d.answers) SetFact(s->facts, key, text);
      break;
    case EventType::kFactRecorded:
      SetFact(s->facts, d.key, d.value);
      break;
    case EventType::kCommitmentMade: {
      // A repeat replaces the open commitment and counts as made now (moves to the back of the
      // made order).
      ResumeCommitment* c =
          FindById(s->commitments, d.commitment_id, &ResumeCommitment::commitment_id);
      if (c == nullptr) {
        c = &s->commitments.emplace_back();
        c->commitment_id = d.commitment_id;
      } else {
        c = MoveToBack(s->commitments, c);
      }
      c->action = d.action;
      c->has_due_at = d.Has(DataField::kDueAt);
      c->due_at = c->has_due_at ? d.due_at : Timestamp{};
      break;
    }
    case EventType::kCommitmentFulfilled:
      EraseById(s->commitments, d.commitment_id, &ResumeCommitment::commitment_id);
      break;
    case EventType::kPreferenceStated:
      SortedInsert(s->stated_preference_keys, d.key);
      break;
    case EventType::kPreferenceRetracted:
      SortedErase(s->stated_preference_keys, d.key);
      break;
    case EventType::kPurchase: {
      s->has_last_order = true;
      s->last_order_id = d.order_id;
      s->last_order_at = ev.occurred_at;
      s->last_order_items.resize(d.items.size());
      for (size_t i = 0; i < d.items.size(); ++i) s->last_order_items[i] = d.items[i].sku;
      StartOrFindOrder(s, ev);
      break;
    }
    case EventType::kOrderStatus: {
      ResumeOrder* o = StartOrFindOrder(s, ev);
      if (o == nullptr) break;
      if (IsTerminalOrderStatus(d.status)) {
        SortedInsert(s->closed_order_ids, d.order_id);
        EraseById(s->open_orders, d.order_id, &ResumeOrder::order_id);
      } else {
        o->status = d.status;
      }
      break;
    }
    case EventType::kComplaintOpened: {
      ResumeCase* c = FindById(s->open_cases, d.case_id, &ResumeCase::case_id);
      if (c == nullptr) {
        c = &s->open_cases.emplace_back();
        c->case_id = d.case_id;
        c->opened_at = ev.occurred_at;
      }
      c->category = d.category;
      c->severity = d.severity;
      break;
    }
    case EventType::kComplaintResolved:
      // Resolved cases are forgotten: a later complaint_opened for the id opens it fresh.
      EraseById(s->open_cases, d.case_id, &ResumeCase::case_id);
      break;
    default:
      break;
  }
}

std::string RenderResume(const ResumeState& s, Timestamp as_of, const Rules& rules) {
  std::string out;
  out.reserve(1024);
  out.append("{\"customer_id\":");
  if (s.has_last_contact) {
    ledger::json::AppendString(&out, s.customer_id);
  } else {
    out.append("null");
  }
  out.append(",\"as_of\":");
  AppendTime(&out, as_of);
  out.append(",\"seq\":");
  if (s.has_last_contact) {
    ledger::json::AppendUint(&out, s.max_seq);
  } else {
    out.append("null");
  }

  out.append(",\"last_contact\":");
  if (s.has_last_contact) {
    const ResumeEventRef& c = s.last_contact;
    out.append("{\"at\":");
    AppendTime(&out, c.at);
    out.append(",\"channel\":");
    AppendName(&out, ledger::ChannelName(c.channel));
    out.append(",\"type\":");
    AppendName(&out, ledger::EventTypeName(c.type));
    out.append(",\"actor\":");
    AppendText(&out, s.last_contact_actor);
    out.append(",\"summary\":");
    AppendText(&out, c.summary);
    out.push_back('}');
  } else {
    out.append("null");
  }

  // Kept least recently touched first, i.e. ascending (last_at, seq): reversed is latest first.
  out.append(",\"open_conversations\":[");
  for (auto it = s.conversations.rbegin(); it != s.conversations.rend(); ++it) {
    if (it != s.conversations.rbegin()) out.push_back(',');
    AppendConversation(&out, *it);
  }

  out.append("],\"commitments\":[");
  {
    std::vector<const ResumeCommitment*> order;
    order.reserve(s.commitments.size());
    for (const auto& c : s.commitments) order.push_back(&c);
    // Stable over the made order: equal due_at (or none) keep the earliest made first.
    std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
      if (a->has_due_at != b->has_due_at) return a->has_due_at;
      return a->has_due_at && a->due_at < b->due_at;
    });
    for (size_t i = 0; i < order.size(); ++i) {
      const ResumeCommitment& c = *order[i];
      if (i > 0) out.push_back(',');
      out.append("{\"commitment_id\":");
      ledger::json::AppendString(&out, c.commitment_id);
      out.append(",\"action\":");
      ledger::json::AppendString(&out, c.action);
      out.append(",\"due_at\":");
      if (c.has_due_at) {
        AppendTime(&out, c.due_at);
      } else {
        out.append("null");
      }
      // Without a due date nothing is late.
      out.append(",\"overdue\":");
      out.append(c.has_due_at && c.due_at < as_of ? "true" : "false");
      out.push_back('}');
    }
  }

  out.append("],\"known_facts\":");
  AppendKnownFacts(&out, s);

  out.append(",\"open_orders\":[");
  for (auto it = s.open_orders.rbegin(); it != s.open_orders.rend(); ++it) {
    if (it != s.open_orders.rbegin()) out.push_back(',');
    out.append("{\"order_id\":");
    ledger::json::AppendString(&out, it->order_id);
    out.append(",\"status\":");
    ledger::json::AppendString(&out, it->status);
    out.append(",\"placed_at\":");
    AppendTime(&out, it->placed_at);
    out.append(",\"channel\":");
    AppendName(&out, ledger::ChannelName(it->channel));
    out.push_back('}');
  }

  out.append("],\"open_cases\":[");
  for (auto it = s.open_cases.rbegin(); it != s.open_cases.rend(); ++it) {
    if (it != s.open_cases.rbegin()) out.push_back(',');
    out.append("{\"case_id\":");
    ledger::json::AppendString(&out, it->case_id);
    out.append(",\"category\":");
    ledger::json::AppendString(&out, it->category);
    out.append(",\"severity\":");
    ledger::json::AppendString(&out, it->severity);
    out.append(",\"opened_at\":");
    AppendTime(&out, it->opened_at);
    out.push_back('}');
  }

  out.append("],\"do_not_ask\":");
  AppendDoNotAsk(&out, s);

  out.append(",\"recent\":[");
  for (size_t i = 0; i < s.recent_count; ++i) {
    size_t idx = (s.recent_next + ResumeState::kRecentSize - 1 - i) % ResumeState::kRecentSize;
    if (i > 0) out.push_back(',');
    AppendRef(&out, s.recent[idx]);
  }
  out.append("]}");
  return out;
}

std::string EncodeResumeState(const ResumeState& s) {
  std::string out;
  StateWriter w(&out);
  w.U64(kStateVersion);
  w.Str(s.customer_id);
  w.U64(s.max_seq);
  w.Bool(s.has_last_contact);
  PutRef(w, s.last_contact);
  PutText(w, s.last_contact_actor);

  w.U64(s.conversations.size());
  for (const auto& c : s.conversations) {
    w.Str(c.conversation_id);
    PutText(w, c.topic);
    PutTime(w, c.opened_at);
    PutTime(w, c.last_at);
    w.U64(c.num_channels);
    for (int i = 0; i < c.num_channels; ++i) w.U64(static_cast<uint64_t>(c.channels[i]));
    w.Bool(c.has_message);
    if (c.has_message) {
      w.Bool(c.message_inbound);
      PutText(w, c.message_summary);
      PutTime(w, c.message_at);
      w.U64(static_cast<uint64_t>(c.message_channel));
    }
    PutStrings(w, c.pending_asks);
  }

  w.U64(s.commitments.size());
  for (const auto& c : s.commitments) {
    w.Str(c.commitment_id);
    w.Str(c.action);
    w.Bool(c.has_due_at);
    if (c.has_due_at) PutTime(w, c.due_at);
  }

  w.U64(s.facts.size());
  for (const auto& [k, v] : s.facts) {
    w.Str(k);
    w.Str(v);
  }

  w.Bool(s.has_last_order);
  if (s.has_last_order) {
    w.Str(s.last_order_id);
    PutTime(w, s.last_order_at);
    PutStrings(w, s.last_order_items);
  }

  w.U64(s.open_orders.size());
  for (const auto& o : s.open_orders) {
    w.Str(o.order_id);
    w.Str(o.status);
    PutTime(w, o.placed_at);
    w.U64(static_cast<uint64_t>(o.channel));
  }
  PutStrings(w, s.closed_order_ids);

  w.U64(s.open_cases.size());
  for (const auto& c : s.open_cases) {
    w.Str(c.case_id);
    w.Str(c.category);
    w.Str(c.severity);
    PutTime(w, c.opened_at);
  }
  PutStrings(w, s.stated_preference_keys);

  // Oldest first, so that decoding rebuilds the ring from index 0.
  w.U64(s.recent_count);
  for (size_t i = 0; i < s.recent_count; ++i) {
    size_t idx =
        (s.recent_next + ResumeState::kRecentSize - s.recent_count + i) % ResumeState::kRecentSize;
    PutRef(w, s.recent[idx]);
  }
  return out;
}

bool DecodeResumeState(std::string_view bytes, ResumeState* state) {
  *state = ResumeState();
  ResumeState& s = *state;
  const size_t total = bytes.size();
  StateReader r(bytes);
  uint64_t version;
  if (!r.U64(&version) || version != kStateVersion) return false;
  if (!r.Str(&s.customer_id) || !r.U64(&s.max_seq) || !r.Bool(&s.has_last_contact) ||
      !GetRef(r, &s.last_contact) || !GetText(r, &s.last_contact_actor)) {
    return false;
  }

  size_t n;
  if (!GetCount(r, total, &n)) return false;
  s.conversations.resize(n);
  for (auto& c : s.conversations) {
    uint64_t channels;
    if (!r.Str(&c.conversation_id) || !GetText(r, &c.topic) || !GetTime(r, &c.opened_at) ||
        !GetTime(r, &c.last_at) || !GetEnum(r, ledger::kNumChannels + 1, &channels)) {
      return false;
    }
    c.num_channels = static_cast<uint8_t>(channels);
    for (int i = 0; i < c.num_channels; ++i) {
      if (!GetChannel(r, &c.channels[i])) return false;
    }
    if (!r.Bool(&c.has_message)) return false;
    if (c.has_message && (!r.Bool(&c.message_inbound) || !GetText(r, &c.message_summary) ||
                          !GetTime(r, &c.message_at) || !GetChannel(r, &c.message_channel))) {
      return false;
    }
    if (!GetStrings(r, total, &c.pending_asks)) return false;
  }

  if (!GetCount(r, total, &n)) return false;
  s.commitments.resize(n);
  for (auto& c : s.commitments) {
    if (!r.Str(&c.commitment_id) || !r.Str(&c.action) || !r.Bool(&c.has_due_at)) return false;
    if (c.has_due_at && !GetTime(r, &c.due_at)) return false;
  }

  if (!GetCount(r, total, &n)) return false;
  s.facts.resize(n);
  for (auto& [k, v] : s.facts) {
    if (!r.Str(&k) || !r.Str(&v)) return false;
  }

  if (!r.Bool(&s.has_last_order)) return false;
  if (s.has_last_order && (!r.Str(&s.last_order_id) || !GetTime(r, &s.last_order_at) ||
                           !GetStrings(r, total, &s.last_order_items))) {
    return false;
  }

  if (!GetCount(r, total, &n)) return false;
  s.open_orders.resize(n);
  for (auto& o : s.open_orders) {
    if (!r.Str(&o.order_id) || !r.Str(&o.status) || !GetTime(r, &o.placed_at) ||
        !GetChannel(r, &o.channel)) {
      return false;
    }
  }
  if (!GetStrings(r, total, &s.closed_order_ids)) return false;

  if (!GetCount(r, total, &n)) return false;
  s.open_cases.resize(n);
  for (auto& c : s.open_cases) {
    if (!r.Str(&c.case_id) || !r.Str(&c.category) || !r.Str(&c.severity) ||
        !GetTime(r, &c.opened_at)) {
      return false;
    }
  }
  if (!GetStrings(r, total, &s.stated_preference_keys)) return false;

  uint64_t recent;
  if (!GetEnum(r, ResumeState::kRecentSize + 1, &recent)) return false;
  s.recent_count = static_cast<uint8_t>(recent);
  for (size_t i = 0; i < s.recent_count; ++i) {
    if (!GetRef(r, &s.recent[i])) return false;
  }
  s.recent_next = static_cast<uint8_t>(s.recent_count % ResumeState::kRecentSize);
  // The sorted vectors are searched by binary search: unsorted input would corrupt later applies.
  auto fact_less = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(s.facts.begin(), s.facts.end(), fact_less) ||
      !std::is_sorted(s.closed_order_ids.begin(), s.closed_order_ids.end()) ||
      !std::is_sorted(s.stated_preference_keys.begin(), s.stated_preference_keys.end())) {
    return false;
  }
  return r.AtEnd();
}

}  // namespace rapport::projections
