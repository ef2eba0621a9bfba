#include "ledger/touchpoint_fb.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "ledger/errors.h"
#include "ledger/json.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/timestamp.h"

namespace rapport::ledger {
namespace {

namespace fb = ::rapport::schemas;
using F = DataField;
using FbString = flatbuffers::String;

// The union lists the event types in the order of EventType, after NONE; the decoder and the
// encoder convert by number. The test checks every name; these catch a reordering at build time.
static_assert(static_cast<int>(fb::EventData::Visit) == static_cast<int>(EventType::kVisit) + 1);
static_assert(static_cast<int>(fb::EventData::TagRemoved) ==
              static_cast<int>(EventType::kTagRemoved) + 1);
static_assert(static_cast<int>(fb::EventData::MAX) == kNumEventTypes);

// An `invalid_json` error (the code for input whose encoding cannot be read, see the header) whose
// message talks about FlatBuffers rather than JSON.
absl::Status Unreadable(std::string_view field, std::string_view message) {
  absl::Status coded = InvalidJson(field, message);
  absl::Status s(absl::StatusCode::kInvalidArgument,
                 AbslView(field.empty() ? StrCat("invalid FlatBuffers Touchpoint: ", message)
                                        : StrCat(field, ": ", message)));
  coded.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { s.SetPayload(url, payload); });
  return s;
}

// RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF (what the JSON reader accepts).
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    size_t n;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) < n) return false;
    for (size_t i = 1; i < n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
    }
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xF0 && p[1] < 0x90)) return false;  // overlong
    if (c == 0xED && p[1] > 0x9F) return false;                                  // surrogate
    if (c == 0xF4 && p[1] > 0x8F) return false;                                  // > U+10FFFF
    p += n;
  }
  return true;
}

absl::Status CopyString(std::string_view field, const FbString& s, std::string* out) {
  std::string_view v(s.c_str(), s.size());
  if (!IsValidUtf8(v)) return Unreadable(field, "invalid UTF-8");
  out->assign(v);
  return absl::OkStatus();
}

// Rejects a table that holds a field after `last_known` (its last field in our schema): it was
// written with a schema we do not know, and dropping the field would change what was accepted.
template <typename T>
absl::Status CheckKnownFields(const T* table, flatbuffers::voffset_t last_known,
                              std::string_view path) {
  // Generated tables derive privately from flatbuffers::Table and add no data: the pointer is the
  // table's position in the buffer either way.
  const uint8_t* vtable = reinterpret_cast<const flatbuffers::Table*>(table)->GetVTable();
  auto vsize = flatbuffers::ReadScalar<flatbuffers::voffset_t>(vtable);
  for (size_t slot = last_known + sizeof(flatbuffers::voffset_t);
       slot + sizeof(flatbuffers::voffset_t) <= vsize; slot += sizeof(flatbuffers::voffset_t)) {
    if (flatbuffers::ReadScalar<flatbuffers::voffset_t>(vtable + slot) != 0) {
      return InvalidField(path, StrCat("unknown field (FlatBuffers field ", (slot - 4) / 2,
                                       ") not in schemas/touchpoint.fbs"));
    }
  }
  return absl::OkStatus();
}

std::string DataPath(DataField f) { return StrCat("data.", DataFieldName(f)); }

// Reads the fields of `data` into an EventData, leaving to ValidateEvent every rule that JSON
// input is checked against after parsing, so both encodings share one set of rules.
class DataDecoder {
 public:
  explicit DataDecoder(EventData* d) : d_(d) {}

  absl::Status Decode(EventType type, const void* table);

 private:
  absl::Status Str(F f, const FbString* s, std::string* out) {
    if (s == nullptr) return absl::OkStatus();
    d_->Set(f);
    return CopyString(DataPath(f), *s, out);
  }
  absl::Status Time(F f, const FbString* s, Timestamp* out) {
    if (s == nullptr) return absl::OkStatus();
    d_->Set(f);
    std::string text, why;
    RETURN_IF_ERROR(CopyString(DataPath(f), *s, &text));
    auto t = ParseRfc3339(text, &why);
    if (!t) return InvalidField(DataPath(f), why);
    *out = *t;
    return absl::OkStatus();
  }
  void Int(F f, flatbuffers::Optional<int64_t> v, int64_t* out) {
    if (!v) return;
    d_->Set(f);
    *out = *v;
  }
  // A value outside the enum keeps its number as text, which no rule accepts, so ValidateEvent
  // rejects it with the message an unknown name gets in JSON.
  template <typename E>
  void Enum(F f, flatbuffers::Optional<E> v, const char* (*name_of)(E), std::string* out) {
    if (!v) return;
    d_->Set(f);
    std::string_view name = name_of(*v);
    *out = name.empty() ? StrCat(static_cast<int>(*v)) : std::string(name);
  }
  absl::Status Asks(const flatbuffers::Vector<flatbuffers::Offset<FbString>>* asks);
  absl::Status Answers(const flatbuffers::Vector<flatbuffers::Offset<fb::Answer>>* answers);
  absl::Status Items(const flatbuffers::Vector<flatbuffers::Offset<fb::Item>>* items);

  EventData* d_;
};

absl::Status DecodeIdentity(std::string_view path, const fb::Identity& id, Identity* out) {
  RETURN_IF_ERROR(CheckKnownFields(&id, fb::Identity::VT_VALUE, path));
  auto kind = IdentityKindFromName(fb::EnumNameIdentityKind(id.kind()));
  if (!kind) {
    return InvalidField(StrCat(path, ".kind"),
                        StrCat("unknown identity kind ", static_cast<int>(id.kind())));
  }
  out->kind = *kind;
  if (id.value() == nullptr) return InvalidField(StrCat(path, ".value"), "required");
  return CopyString(StrCat(path, ".value"), *id.value(), &out->value);
}

absl::Status DataDecoder::Asks(const flatbuffers::Vector<flatbuffers::Offset<FbString>>* asks) {
  if (asks == nullptr) return absl::OkStatus();
  d_->Set(F::kAsks);
  for (flatbuffers::uoffset_t i = 0; i < asks->size(); ++i) {
    RETURN_IF_ERROR(
        CopyString(StrCat("data.asks[", i, "]"), *asks->Get(i), &d_->asks.emplace_back()));
  }
  return absl::OkStatus();
}

absl::Status DataDecoder::Answers(
    const flatbuffers::Vector<flatbuffers::Offset<fb::Answer>>* answers) {
  if (answers == nullptr) return absl::OkStatus();
  d_->Set(F::kAnswers);
  for (const fb::Answer* a : *answers) {
    // The verifier has checked that the key, a FlatBuffers `(key)` field, is there.
    std::string key;
    RETURN_IF_ERROR(CopyString("data.answers", *a->key(), &key));
    std::string path = StrCat("data.answers.", key);
    RETURN_IF_ERROR(CheckKnownFields(a, fb::Answer::VT_TEXT, path));
    if (a->text() == nullptr) return InvalidField(path, "required");
    std::string text;
    RETURN_IF_ERROR(CopyString(path, *a->text(), &text));
    d_->answers.emplace_back(std::move(key), std::move(text));
  }
  // Producers need not sort by the FlatBuffers key; the Event keeps the JCS order, as for JSON.
  std::stable_sort(d_->answers.begin(), d_->answers.end(),
                   [](const auto& a, const auto& b) { return json::Utf16Less(a.first, b.first); });
  for (size_t i = 1; i < d_->answers.size(); ++i) {
    if (d_->answers[i].first == d_->answers[i - 1].first) {
      return InvalidField(StrCat("data.answers.", d_->answers[i].first), "duplicate key");
    }
  }
  return absl::OkStatus();
}

absl::Status DataDecoder::Items(const flatbuffers::Vector<flatbuffers::Offset<fb::Item>>* items) {
  if (items == nullptr) return absl::OkStatus();
  d_->Set(F::kItems);
  for (flatbuffers::uoffset_t i = 0; i < items->size(); ++i) {
    const fb::Item* in = items->Get(i);
    std::string path = StrCat("data.items[", i, "]");
    RETURN_IF_ERROR(CheckKnownFields(in, fb::Item::VT_UNIT_PRICE_MINOR, path));
    Item& item = d_->items.emplace_back();
    if (in->sku() == nullptr) return InvalidField(StrCat(path, ".sku"), "required");
    RETURN_IF_ERROR(CopyString(StrCat(path, ".sku"), *in->sku(), &item.sku));
    if (in->category() != nullptr) {
      RETURN_IF_ERROR(
          CopyString(StrCat(path, ".category"), *in->category(), &item.category.emplace()));
    }
    if (in->quantity()) item.quantity = *in->quantity();
    if (in->unit_price_minor()) item.unit_price_minor = *in->unit_price_minor();
  }
  return absl::OkStatus();
}

// `table` is the union's table, of the type `type` (the verifier has checked it as such).
absl::Status DataDecoder::Decode(EventType type, const void* table) {
  EventData* d = d_;
  switch (type) {
    case EventType::kVisit: {
      auto* t = static_cast<const fb::Visit*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::Visit::VT_SUMMARY, "data"));
      RETURN_IF_ERROR(Str(F::kLocation, t->location(), &d->location));
      return Str(F::kSummary, t->summary(), &d->summary);
    }
    case EventType::kInquiry: {
      auto* t = static_cast<const fb::Inquiry*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::Inquiry::VT_SUMMARY, "data"));
      RETURN_IF_ERROR(Str(F::kTopic, t->topic(), &d->topic));
      return Str(F::kSummary, t->summary(), &d->summary);
    }
    case EventType::kConversationOpened: {
      auto* t = static_cast<const fb::ConversationOpened*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::ConversationOpened::VT_SUMMARY, "data"));
      RETURN_IF_ERROR(Str(F::kTopic, t->topic(), &d->topic));
      return Str(F::kSummary, t->summary(), &d->summary);
    }
    case EventType::kMessage: {
      auto* t = static_cast<const fb::Message*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::Message::VT_ANSWERS, "data"));
      Enum(F::kDirection, t->direction(), fb::EnumNameDirection, &d->direction);
      RETURN_IF_ERROR(Str(F::kSummary, t->summary(), &d->summary));
      RETURN_IF_ERROR(Asks(t->asks()));
      return Answers(t->answers());
    }
    case EventType::kConversationClosed: {
      auto* t = static_cast<const fb::ConversationClosed*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::ConversationClosed::VT_SUMMARY, "data"));
      Enum(F::kOutcome, t->outcome(), fb::EnumNameOutcome, &d->outcome);
      return Str(F::kSummary, t->summary(), &d->summary);
    }
    case EventType::kCommitmentMade: {
      auto* t = static_cast<const fb::CommitmentMade*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::CommitmentMade::VT_DUE_AT, "data"));
      RETURN_IF_ERROR(Str(F::kCommitmentId, t->commitment_id(), &d->commitment_id));
      RETURN_IF_ERROR(Str(F::kAction, t->action(), &d->action));
      return Time(F::kDueAt, t->due_at(), &d->due_at);
    }
    case EventType::kCommitmentFulfilled: {
      auto* t = static_cast<const fb::CommitmentFulfilled*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::CommitmentFulfilled::VT_COMMITMENT_ID, "data"));
      return Str(F::kCommitmentId, t->commitment_id(), &d->commitment_id);
    }
    case EventType::kFactRecorded: {
      auto* t = static_cast<const fb::FactRecorded*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::FactRecorded::VT_VALUE, "data"));
      RETURN_IF_ERROR(Str(F::kKey, t->key(), &d->key));
      return Str(F::kValue, t->value(), &d->value);
    }
    case EventType::kPreferenceStated: {
      auto* t = static_cast<const fb::PreferenceStated*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::PreferenceStated::VT_VALUE, "data"));
      RETURN_IF_ERROR(Str(F::kKey, t->key(), &d->key));
      return Str(F::kValue, t->value(), &d->value);
    }
    case EventType::kPreferenceObserved: {
      auto* t = static_cast<const fb::PreferenceObserved*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::PreferenceObserved::VT_WEIGHT, "data"));
      RETURN_IF_ERROR(Str(F::kKey, t->key(), &d->key));
      RETURN_IF_ERROR(Str(F::kValue, t->value(), &d->value));
      if (t->weight()) {
        d->Set(F::kWeight);
        d->weight = *t->weight();
      }
      return absl::OkStatus();
    }
    case EventType::kPreferenceRetracted: {
      auto* t = static_cast<const fb::PreferenceRetracted*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::PreferenceRetracted::VT_KEY, "data"));
      return Str(F::kKey, t->key(), &d->key);
    }
    case EventType::kPurchase: {
      auto* t = static_cast<const fb::Purchase*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::Purchase::VT_ITEMS, "data"));
      RETURN_IF_ERROR(Str(F::kOrderId, t->order_id(), &d->order_id));
      Int(F::kAmountMinor, t->amount_minor(), &d->amount_minor);
      RETURN_IF_ERROR(Str(F::kCurrency, t->currency(), &d->currency));
      return Items(t->items());
    }
    case EventType::kRefund: {
      auto* t = static_cast<const fb::Refund*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::Refund::VT_CURRENCY, "data"));
      RETURN_IF_ERROR(Str(F::kOrderId, t->order_id(), &d->order_id));
      Int(F::kAmountMinor, t->amount_minor(), &d->amount_minor);
      return Str(F::kCurrency, t->currency(), &d->currency);
    }
    case EventType::kOrderStatus: {
      auto* t = static_cast<const fb::OrderStatus*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::OrderStatus::VT_STATUS, "data"));
      RETURN_IF_ERROR(Str(F::kOrderId, t->order_id(), &d->order_id));
      Enum(F::kOrderStatus, t->status(), fb::EnumNameOrderStatusKind, &d->status);
      return absl::OkStatus();
    }
    case EventType::kComplaintOpened: {
      auto* t = static_cast<const fb::ComplaintOpened*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::ComplaintOpened::VT_SUMMARY, "data"));
      RETURN_IF_ERROR(Str(F::kCaseId, t->case_id(), &d->case_id));
      RETURN_IF_ERROR(Str(F::kCategory, t->category(), &d->category));
      Enum(F::kSeverity, t->severity(), fb::EnumNameSeverity, &d->severity);
      return Str(F::kSummary, t->summary(), &d->summary);
    }
    case EventType::kComplaintResolved: {
      auto* t = static_cast<const fb::ComplaintResolved*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::ComplaintResolved::VT_SATISFIED, "data"));
      RETURN_IF_ERROR(Str(F::kCaseId, t->case_id(), &d->case_id));
      RETURN_IF_ERROR(Str(F::kResolution, t->resolution(), &d->resolution));
      if (t->satisfied()) {
        d->Set(F::kSatisfied);
        d->satisfied = *t->satisfied();
      }
      return absl::OkStatus();
    }
    case EventType::kSuggestion: {
      auto* t = static_cast<const fb::Suggestion*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::Suggestion::VT_SUMMARY, "data"));
      RETURN_IF_ERROR(Str(F::kTopic, t->topic(), &d->topic));
      return Str(F::kSummary, t->summary(), &d->summary);
    }
    case EventType::kSurveyResponse: {
      auto* t = static_cast<const fb::SurveyResponse*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::SurveyResponse::VT_COMMENT, "data"));
      RETURN_IF_ERROR(Str(F::kSurvey, t->survey(), &d->survey));
      Int(F::kCsat, t->csat(), &d->csat);
      Int(F::kNps, t->nps(), &d->nps);
      return Str(F::kComment, t->comment(), &d->comment);
    }
    case EventType::kPointsAdjusted: {
      auto* t = static_cast<const fb::PointsAdjusted*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::PointsAdjusted::VT_REASON, "data"));
      Int(F::kPointsDelta, t->points(), &d->points);
      return Str(F::kReason, t->reason(), &d->reason);
    }
    case EventType::kPointsRedeemed: {
      auto* t = static_cast<const fb::PointsRedeemed*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::PointsRedeemed::VT_REWARD, "data"));
      Int(F::kPointsRedeemed, t->points(), &d->points);
      return Str(F::kReward, t->reward(), &d->reward);
    }
    case EventType::kTierOverride: {
      auto* t = static_cast<const fb::TierOverride*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::TierOverride::VT_UNTIL, "data"));
      RETURN_IF_ERROR(Str(F::kTier, t->tier(), &d->tier));
      return Time(F::kUntil, t->until(), &d->until);
    }
    case EventType::kConsentChanged: {
      auto* t = static_cast<const fb::ConsentChanged*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::ConsentChanged::VT_CHANNEL, "data"));
      RETURN_IF_ERROR(Str(F::kPurpose, t->purpose(), &d->purpose));
      Enum(F::kConsentStatus, t->status(), fb::EnumNameConsentStatus, &d->status);
      Enum(F::kConsentChannel, t->channel(), fb::EnumNameChannel, &d->channel);
      return absl::OkStatus();
    }
    case EventType::kIdentityLinked: {
      auto* t = static_cast<const fb::IdentityLinked*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::IdentityLinked::VT_IDENTITY, "data"));
      if (t->identity() == nullptr) return absl::OkStatus();
      d->Set(F::kIdentity);
      return DecodeIdentity("data.identity", *t->identity(), &d->identity);
    }
    case EventType::kTagAssigned: {
      auto* t = static_cast<const fb::TagAssigned*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::TagAssigned::VT_TAG, "data"));
      return Str(F::kTag, t->tag(), &d->tag);
    }
    case EventType::kTagRemoved: {
      auto* t = static_cast<const fb::TagRemoved*>(table);
      RETURN_IF_ERROR(CheckKnownFields(t, fb::TagRemoved::VT_TAG, "data"));
      return Str(F::kTag, t->tag(), &d->tag);
    }
  }
  return absl::InternalError("unhandled event type");
}

// The envelope, in the order of the JSON form's members and of its "required" checks, so that an
// event with one fault reports the field JSON reports.
absl::Status DecodeEnvelope(const fb::Touchpoint& tp, Event* ev) {
  RETURN_IF_ERROR(CheckKnownFields(&tp, fb::Touchpoint::VT_DATA, ""));
  if (tp.event_id() == nullptr) return InvalidField("event_id", "required");
  RETURN_IF_ERROR(CopyString("event_id", *tp.event_id(), &ev->event_id));

  auto data_type = static_cast<int>(tp.data_type());
  if (tp.data_type() == fb::EventData::NONE) return InvalidField("type", "required");
  if (data_type > kNumEventTypes) {
    return InvalidField("type", StrCat("unknown event type (union type ", data_type, ")"));
  }
  ev->type = static_cast<EventType>(data_type - 1);

  if (tp.customer_id() != nullptr) {
    RETURN_IF_ERROR(CopyString("customer_id", *tp.customer_id(), &ev->customer_id));
    // Event keeps "no customer id" as empty, so an empty one must be caught here, as JSON does.
    if (ev->customer_id.empty()) {
      return InvalidField("customer_id", "must be 1-128 printable ASCII characters (0x21-0x7E)");
    }
  }
  if (tp.identity() != nullptr) {
    RETURN_IF_ERROR(DecodeIdentity("identity", *tp.identity(), &ev->identity.emplace()));
  }
  if (tp.customer_id() == nullptr && tp.identity() == nullptr) {
    return InvalidField("customer_id", "customer_id or identity is required");
  }

  if (tp.occurred_at() == nullptr) return InvalidField("occurred_at", "required");
  std::string text, why;
  RETURN_IF_ERROR(CopyString("occurred_at", *tp.occurred_at(), &text));
  auto t = ParseRfc3339(text, &why);
  if (!t) return InvalidField("occurred_at", why);
  ev->occurred_at = *t;

  if (!tp.channel()) return InvalidField("channel", "required");
  auto channel = ChannelFromName(fb::EnumNameChannel(*tp.channel()));
  if (!channel) {
    return InvalidField("channel", StrCat("unknown channel ", static_cast<int>(*tp.channel())));
  }
  ev->channel = *channel;

  if (tp.source() == nullptr) return InvalidField("source", "required");
  RETURN_IF_ERROR(CopyString("source", *tp.source(), &ev->source));
  if (tp.actor() != nullptr) {
    RETURN_IF_ERROR(CopyString("actor", *tp.actor(), &ev->actor.emplace()));
  }
  if (tp.conversation_id() != nullptr) {
    RETURN_IF_ERROR(
        CopyString("conversation_id", *tp.conversation_id(), &ev->conversation_id.emplace()));
  }
  if (tp.expected_version()) ev->expected_version = *tp.expected_version();

  // A union type without its table is an event whose `data` was left out.
  if (tp.data() == nullptr) return absl::OkStatus();
  return DataDecoder(&ev->data).Decode(ev->type, tp.data());
}

// ---------------------------------------------------------------------------------------------
// Encoding

// The schema enum value named `name`; nullopt when `has` is false or no value has that name
// (an invalid event, which callers must not pass).
template <typename E, size_t N>
flatbuffers::Optional<E> EnumOf(bool has, std::string_view name, const E (&values)[N],
                                const char* (*name_of)(E)) {
  if (has) {
    for (E v : values) {
      if (name == name_of(v)) return v;
    }
  }
  return flatbuffers::nullopt;
}

fb::Channel ToFb(Channel c) {
  return *EnumOf(true, ChannelName(c), fb::EnumValuesChannel(), fb::EnumNameChannel);
}

fb::IdentityKind ToFb(IdentityKind k) {
  return *EnumOf(true, IdentityKindName(k), fb::EnumValuesIdentityKind(), fb::EnumNameIdentityKind);
}

flatbuffers::Offset<fb::Identity> BuildIdentity(flatbuffers::FlatBufferBuilder& fbb,
                                                const Identity& id) {
  auto value = fbb.CreateString(id.value);
  return fb::CreateIdentity(fbb, ToFb(id.kind), value);
}

// Builds the union's table. Offsets are created in argument order, which C++ leaves unspecified:
// the bytes may differ between compilers but always decode to the same event (the canonical form
// of an event is its JSON, never these bytes).
flatbuffers::Offset<void> BuildData(flatbuffers::FlatBufferBuilder& fbb, const Event& ev) {
  const EventData& d = ev.data;
  auto str = [&](F f, const std::string& s) {
    return d.Has(f) ? fbb.CreateString(s) : flatbuffers::Offset<FbString>();
  };
  auto time = [&](F f, Timestamp t) {
    return d.Has(f) ? fbb.CreateString(FormatTimestamp(t)) : flatbuffers::Offset<FbString>();
  };
  auto i64 = [&](F f, int64_t v) {
    return d.Has(f) ? flatbuffers::Optional<int64_t>(v) : flatbuffers::nullopt;
  };
  switch (ev.type) {
    case EventType::kVisit:
      return fb::CreateVisit(fbb, str(F::kLocation, d.location), str(F::kSummary, d.summary))
          .Union();
    case EventType::kInquiry:
      return fb::CreateInquiry(fbb, str(F::kTopic, d.topic), str(F::kSummary, d.summary)).Union();
    case EventType::kConversationOpened:
      return fb::CreateConversationOpened(fbb, str(F::kTopic, d.topic), str(F::kSummary, d.summary))
          .Union();
    case EventType::kMessage: {
      flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<FbString>>> asks;
      if (d.Has(F::kAsks)) asks = fbb.CreateVectorOfStrings(d.asks);
      flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Answer>>> answers;
      if (d.Has(F::kAnswers)) {
        std::vector<flatbuffers::Offset<fb::Answer>> list;
        list.reserve(d.answers.size());
        for (const auto& [key, text] : d.answers) {
          auto k = fbb.CreateString(key);
          auto t = fbb.CreateString(text);
          list.push_back(fb::CreateAnswer(fbb, k, t));
        }
        // Sorted by the FlatBuffers key (bytewise), so readers may use LookupByKey.
        answers = fbb.CreateVectorOfSortedTables(&list);
      }
      auto summary = str(F::kSummary, d.summary);
      auto direction = EnumOf(d.Has(F::kDirection), d.direction, fb::EnumValuesDirection(),
                              fb::EnumNameDirection);
      return fb::CreateMessage(fbb, direction, summary, asks, answers).Union();
    }
    case EventType::kConversationClosed:
      return fb::CreateConversationClosed(fbb,
                                          EnumOf(d.Has(F::kOutcome), d.outcome,
                                                 fb::EnumValuesOutcome(), fb::EnumNameOutcome),
                                          str(F::kSummary, d.summary))
          .Union();
    case EventType::kCommitmentMade:
      return fb::CreateCommitmentMade(fbb, str(F::kCommitmentId, d.commitment_id),
                                      str(F::kAction, d.action), time(F::kDueAt, d.due_at))
          .Union();
    case EventType::kCommitmentFulfilled:
      return fb::CreateCommitmentFulfilled(fbb, str(F::kCommitmentId, d.commitment_id)).Union();
    case EventType::kFactRecorded:
      return fb::CreateFactRecorded(fbb, str(F::kKey, d.key), str(F::kValue, d.value)).Union();
    case EventType::kPreferenceStated:
      return fb::CreatePreferenceStated(fbb, str(F::kKey, d.key), str(F::kValue, d.value)).Union();
    case EventType::kPreferenceObserved:
      return fb::CreatePreferenceObserved(
                 fbb, str(F::kKey, d.key), str(F::kValue, d.value),
                 d.Has(F::kWeight) ? flatbuffers::Optional<double>(d.weight) : flatbuffers::nullopt)
          .Union();
    case EventType::kPreferenceRetracted:
      return fb::CreatePreferenceRetracted(fbb, str(F::kKey, d.key)).Union();
    case EventType::kPurchase: {
      flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Item>>> items;
      if (d.Has(F::kItems)) {
        std::vector<flatbuffers::Offset<fb::Item>> list;
        list.reserve(d.items.size());
        for (const Item& item : d.items) {
          auto sku = fbb.CreateString(item.sku);
          auto category =
              item.category ? fbb.CreateString(*item.category) : flatbuffers::Offset<FbString>();
          auto quantity =
              item.quantity ? flatbuffers::Optional<int64_t>(*item.quantity) : flatbuffers::nullopt;
          auto unit_price = item.unit_price_minor
                                ? flatbuffers::Optional<int64_t>(*item.unit_price_minor)
                                : flatbuffers::nullopt;
          list.push_back(fb::CreateItem(fbb, sku, category, quantity, unit_price));
        }
        items = fbb.CreateVector(list);
      }
      auto order_id = str(F::kOrderId, d.order_id);
      auto currency = str(F::kCurrency, d.currency);
      return fb::CreatePurchase(fbb, order_id, i64(F::kAmountMinor, d.amount_minor), currency,
                                items)
          .Union();
    }
    case EventType::kRefund:
      return fb::CreateRefund(fbb, str(F::kOrderId, d.order_id),
                              i64(F::kAmountMinor, d.amount_minor), str(F::kCurrency, d.currency))
          .Union();
    case EventType::kOrderStatus:
      return fb::CreateOrderStatus(
                 fbb, str(F::kOrderId, d.order_id),
                 EnumOf(d.Has(F::kOrderStatus), d.status, fb::EnumValuesOrderStatusKind(),
                        fb::EnumNameOrderStatusKind))
          .Union();
    case EventType::kComplaintOpened:
      return fb::CreateComplaintOpened(fbb, str(F::kCaseId, d.case_id),
                                       str(F::kCategory, d.category),
                                       EnumOf(d.Has(F::kSeverity), d.severity,
                                              fb::EnumValuesSeverity(), fb::EnumNameSeverity),
                                       str(F::kSummary, d.summary))
          .Union();
    case EventType::kComplaintResolved:
      return fb::CreateComplaintResolved(
                 fbb, str(F::kCaseId, d.case_id), str(F::kResolution, d.resolution),
                 d.Has(F::kSatisfied) ? flatbuffers::Optional<bool>(d.satisfied)
                                      : flatbuffers::nullopt)
          .Union();
    case EventType::kSuggestion:
      return fb::CreateSuggestion(fbb, str(F::kTopic, d.topic), str(F::kSummary, d.summary))
          .Union();
    case EventType::kSurveyResponse:
      return fb::CreateSurveyResponse(fbb, str(F::kSurvey, d.survey), i64(F::kCsat, d.csat),
                                      i64(F::kNps, d.nps), str(F::kComment, d.comment))
          .Union();
    case EventType::kPointsAdjusted:
      return fb::CreatePointsAdjusted(fbb, i64(F::kPointsDelta, d.points),
                                      str(F::kReason, d.reason))
          .Union();
    case EventType::kPointsRedeemed:
      return fb::CreatePointsRedeemed(fbb, i64(F::kPointsRedeemed, d.points),
                                      str(F::kReward, d.reward))
          .Union();
    case EventType::kTierOverride:
      return fb::CreateTierOverride(fbb, str(F::kTier, d.tier), time(F::kUntil, d.until)).Union();
    case EventType::kConsentChanged:
      return fb::CreateConsentChanged(
                 fbb, str(F::kPurpose, d.purpose),
                 EnumOf(d.Has(F::kConsentStatus), d.status, fb::EnumValuesConsentStatus(),
                        fb::EnumNameConsentStatus),
                 EnumOf(d.Has(F::kConsentChannel), d.channel, fb::EnumValuesChannel(),
                        fb::EnumNameChannel))
          .Union();
    case EventType::kIdentityLinked:
      return fb::CreateIdentityLinked(fbb, d.Has(F::kIdentity)
                                               ? BuildIdentity(fbb, d.identity)
                                               : flatbuffers::Offset<fb::Identity>())
          .Union();
    case EventType::kTagAssigned:
      return fb::CreateTagAssigned(fbb, str(F::kTag, d.tag)).Union();
    case EventType::kTagRemoved:
      return fb::CreateTagRemoved(fbb, str(F::kTag, d.tag)).Union();
  }
  return flatbuffers::Offset<void>();
}

}  // namespace

absl::StatusOr<Event> DecodeTouchpoint(std::string_view bytes, const CodecOptions& options) {
  if (bytes.size() > options.max_event_bytes || bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return TooLarge(StrCat("the event is ", bytes.size(), " bytes, over limits.max_event_bytes (",
                           options.max_event_bytes, ")"));
  }
  if (bytes.empty()) return Unreadable("", "empty message");
  // The root offset and the identifier: 8 bytes before any table.
  if (bytes.size() < 2 * sizeof(flatbuffers::uoffset_t)) {
    return Unreadable("", StrCat("only ", bytes.size(), " bytes, too short for a FlatBuffer"));
  }
  if (!fb::TouchpointBufferHasIdentifier(bytes.data())) {
    std::string id;
    for (char c : bytes.substr(4, 4)) {
      if (c >= 0x20 && c < 0x7F) {
        id.push_back(c);
      } else {
        StrAppend(&id, "\\x", json::Hex(std::string_view(&c, 1)));
      }
    }
    return Unreadable(
        "", StrCat("file identifier is \"", id, "\", not \"", fb::TouchpointIdentifier(), "\""));
  }
  // FlatBuffers reads scalars in place; a message from a socket or librdkafka may start at any
  // address, and an unaligned 8-byte read is undefined behaviour, so copy it (64 KiB at most).
  std::unique_ptr<uint64_t[]> aligned;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (reinterpret_cast<uintptr_t>(data) % alignof(uint64_t) != 0) {
    aligned.reset(new uint64_t[(bytes.size() + 7) / 8]);
    std::memcpy(aligned.get(), bytes.data(), bytes.size());
    data = reinterpret_cast<const uint8_t*>(aligned.get());
  }
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifyTouchpointBuffer(verifier)) {
    return Unreadable("", "the buffer fails FlatBuffers verification (truncated or corrupt)");
  }
  Event ev;
  RETURN_IF_ERROR(DecodeEnvelope(*fb::GetTouchpoint(data), &ev));
  RETURN_IF_ERROR(ValidateEvent(ev, options));
  return ev;
}

flatbuffers::Offset<fb::Touchpoint> BuildTouchpoint(flatbuffers::FlatBufferBuilder& fbb,
                                                    const Event& ev) {
  auto event_id = fbb.CreateString(ev.event_id);
  auto customer_id =
      ev.customer_id.empty() ? flatbuffers::Offset<FbString>() : fbb.CreateString(ev.customer_id);
  auto identity =
      ev.identity ? BuildIdentity(fbb, *ev.identity) : flatbuffers::Offset<fb::Identity>();
  auto occurred_at = fbb.CreateString(FormatTimestamp(ev.occurred_at));
  auto source = fbb.CreateString(ev.source);
  auto actor = ev.actor ? fbb.CreateString(*ev.actor) : flatbuffers::Offset<FbString>();
  auto conversation_id =
      ev.conversation_id ? fbb.CreateString(*ev.conversation_id) : flatbuffers::Offset<FbString>();
  auto data = BuildData(fbb, ev);
  auto expected_version = ev.expected_version ? flatbuffers::Optional<int64_t>(*ev.expected_version)
                                              : flatbuffers::nullopt;
  return fb::CreateTouchpoint(fbb, event_id, customer_id, identity, occurred_at, ToFb(ev.channel),
                              source, actor, conversation_id, expected_version,
                              static_cast<fb::EventData>(static_cast<int>(ev.type) + 1), data);
}

std::string EncodeTouchpoint(const Event& event) {
  flatbuffers::FlatBufferBuilder fbb(512);
  fb::FinishTouchpointBuffer(fbb, BuildTouchpoint(fbb, event));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace rapport::ledger
