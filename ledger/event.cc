#include "ledger/event.h"

#include <algorithm>

namespace rapport::ledger {
namespace {

constexpr std::array<std::string_view, kNumEventTypes> kEventTypeNames = {
    "visit",
    "inquiry",
    "conversation_opened",
    "message",
    "conversation_closed",
    "commitment_made",
    "commitment_fulfilled",
    "fact_recorded",
    "preference_stated",
    "preference_observed",
    "preference_retracted",
    "purchase",
    "refund",
    "order_status",
    "complaint_opened",
    "complaint_resolved",
    "suggestion",
    "survey_response",
    "points_adjusted",
    "points_redeemed",
    "tier_override",
    "consent_changed",
    "identity_linked",
    "tag_assigned",
    "tag_removed",
};

constexpr std::array<std::string_view, kNumChannels> kChannelNames = {
    "phone", "email", "web", "store", "chat", "app", "social", "mail", "other"};

constexpr std::array<std::string_view, kNumIdentityKinds> kIdentityKindNames = {
    "email", "phone", "loyalty_card", "web_cookie", "account", "external"};

// Indexed by DataField. `status` and `points` appear twice (order vs consent status, signed vs
// positive points): lookups by name go through one type's field list (DataFieldsOf), and no type
// has both members of a pair.
constexpr std::array<std::string_view, kNumDataFields> kDataFieldNames = {
    "action",    "amount_minor",  "answers", "asks",     "case_id",  "category",   "channel",
    "comment",   "commitment_id", "status",  "csat",     "currency", "direction",  "due_at",
    "identity",  "items",         "key",     "location", "nps",      "order_id",   "status",
    "outcome",   "points",        "points",  "purpose",  "reason",   "resolution", "reward",
    "satisfied", "severity",      "summary", "survey",   "tag",      "tier",       "topic",
    "until",     "value",         "weight",
};

template <typename E, size_t N>
std::optional<E> FromName(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

using F = DataField;
struct TypeFields {
  std::vector<DataFieldSpec> fields;
};

std::array<TypeFields, kNumEventTypes> BuildTypeFields() {
  std::array<TypeFields, kNumEventTypes> t;
  auto set = [&](EventType type, std::vector<DataFieldSpec> fields) {
    std::sort(fields.begin(), fields.end(), [](const DataFieldSpec& a, const DataFieldSpec& b) {
      return DataFieldName(a.field) < DataFieldName(b.field);
    });
    t[static_cast<int>(type)].fields = std::move(fields);
  };
  using E = EventType;
  set(E::kVisit, {{F::kLocation, false}, {F::kSummary, false}});
  set(E::kInquiry, {{F::kTopic, true}, {F::kSummary, false}});
  set(E::kConversationOpened, {{F::kTopic, true}, {F::kSummary, false}});
  set(E::kMessage,
      {{F::kDirection, true}, {F::kSummary, true}, {F::kAsks, false}, {F::kAnswers, false}});
  set(E::kConversationClosed, {{F::kOutcome, true}, {F::kSummary, false}});
  set(E::kCommitmentMade, {{F::kCommitmentId, true}, {F::kAction, true}, {F::kDueAt, false}});
  set(E::kCommitmentFulfilled, {{F::kCommitmentId, true}});
  set(E::kFactRecorded, {{F::kKey, true}, {F::kValue, true}});
  set(E::kPreferenceStated, {{F::kKey, true}, {F::kValue, true}});
  set(E::kPreferenceObserved, {{F::kKey, true}, {F::kValue, true}, {F::kWeight, false}});
  set(E::kPreferenceRetracted, {{F::kKey, true}});
  set(E::kPurchase,
      {{F::kOrderId, true}, {F::kAmountMinor, true}, {F::kCurrency, true}, {F::kItems, false}});
  set(E::kRefund, {{F::kOrderId, true}, {F::kAmountMinor, true}, {F::kCurrency, true}});
  set(E::kOrderStatus, {{F::kOrderId, true}, {F::kOrderStatus, true}});
  set(E::kComplaintOpened,
      {{F::kCaseId, true}, {F::kCategory, true}, {F::kSeverity, true}, {F::kSummary, false}});
  set(E::kComplaintResolved, {{F::kCaseId, true}, {F::kResolution, false}, {F::kSatisfied, false}});
  set(E::kSuggestion, {{F::kTopic, true}, {F::kSummary, false}});
  set(E::kSurveyResponse,
      {{F::kSurvey, true}, {F::kCsat, false}, {F::kNps, false}, {F::kComment, false}});
  set(E::kPointsAdjusted, {{F::kPointsDelta, true}, {F::kReason, true}});
  set(E::kPointsRedeemed, {{F::kPointsRedeemed, true}, {F::kReward, true}});
  set(E::kTierOverride, {{F::kTier, true}, {F::kUntil, false}});
  set(E::kConsentChanged,
      {{F::kPurpose, true}, {F::kConsentStatus, true}, {F::kConsentChannel, false}});
  set(E::kIdentityLinked, {{F::kIdentity, true}});
  set(E::kTagAssigned, {{F::kTag, true}});
  set(E::kTagRemoved, {{F::kTag, true}});
  return t;
}

const std::array<TypeFields, kNumEventTypes>& TypeFieldsTable() {
  static const auto* table = new std::array<TypeFields, kNumEventTypes>(BuildTypeFields());
  return *table;
}

}  // namespace

std::string_view EventTypeName(EventType t) { return kEventTypeNames[static_cast<int>(t)]; }
std::optional<EventType> EventTypeFromName(std::string_view name) {
  return FromName<EventType>(kEventTypeNames, name);
}
std::string_view ChannelName(Channel c) { return kChannelNames[static_cast<int>(c)]; }
std::optional<Channel> ChannelFromName(std::string_view name) {
  return FromName<Channel>(kChannelNames, name);
}
std::string_view IdentityKindName(IdentityKind k) {
  return kIdentityKindNames[static_cast<int>(k)];
}
std::optional<IdentityKind> IdentityKindFromName(std::string_view name) {
  return FromName<IdentityKind>(kIdentityKindNames, name);
}
std::string_view DataFieldName(DataField f) { return kDataFieldNames[static_cast<int>(f)]; }

std::span<const DataFieldSpec> DataFieldsOf(EventType t) {
  return TypeFieldsTable()[static_cast<int>(t)].fields;
}

bool RequiresConversationId(EventType t) {
  return t == EventType::kConversationOpened || t == EventType::kConversationClosed;
}

std::string* StringMember(EventData* d, DataField f) {
  switch (f) {
    case F::kAction:
      return &d->action;
    case F::kCaseId:
      return &d->case_id;
    case F::kCategory:
      return &d->category;
    case F::kConsentChannel:
      return &d->channel;
    case F::kComment:
      return &d->comment;
    case F::kCommitmentId:
      return &d->commitment_id;
    case F::kConsentStatus:
    case F::kOrderStatus:
      return &d->status;
    case F::kCurrency:
      return &d->currency;
    case F::kDirection:
      return &d->direction;
    case F::kKey:
      return &d->key;
    case F::kLocation:
      return &d->location;
    case F::kOrderId:
      return &d->order_id;
    case F::kOutcome:
      return &d->outcome;
    case F::kPurpose:
      return &d->purpose;
    case F::kReason:
      return &d->reason;
    case F::kResolution:
      return &d->resolution;
    case F::kReward:
      return &d->reward;
    case F::kSeverity:
      return &d->severity;
    case F::kSummary:
      return &d->summary;
    case F::kSurvey:
      return &d->survey;
    case F::kTag:
      return &d->tag;
    case F::kTier:
      return &d->tier;
    case F::kTopic:
      return &d->topic;
    case F::kValue:
      return &d->value;
    default:
      return nullptr;
  }
}
const std::string* StringMember(const EventData& d, DataField f) {
  return StringMember(const_cast<EventData*>(&d), f);
}

}  // namespace rapport::ledger
