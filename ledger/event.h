// The touchpoint event of CONTRACT §1–2 as a C++ value, and the per-type table of `data` fields
// that drives validation, canonical rendering and the FlatBuffers conversion.
#ifndef RAPPORT_LEDGER_EVENT_H_
#define RAPPORT_LEDGER_EVENT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/timestamp.h"

namespace rapport::ledger {

enum class EventType : uint8_t {
  kVisit,
  kInquiry,
  kConversationOpened,
  kMessage,
  kConversationClosed,
  kCommitmentMade,
  kCommitmentFulfilled,
  kFactRecorded,
  kPreferenceStated,
  kPreferenceObserved,
  kPreferenceRetracted,
  kPurchase,
  kRefund,
  kOrderStatus,
  kComplaintOpened,
  kComplaintResolved,
  kSuggestion,
  kSurveyResponse,
  kPointsAdjusted,
  kPointsRedeemed,
  kTierOverride,
  kConsentChanged,
  kIdentityLinked,
  kTagAssigned,
  kTagRemoved,
};
inline constexpr int kNumEventTypes = 25;

enum class Channel : uint8_t { kPhone, kEmail, kWeb, kStore, kChat, kApp, kSocial, kMail, kOther };
inline constexpr int kNumChannels = 9;

enum class IdentityKind : uint8_t { kEmail, kPhone, kLoyaltyCard, kWebCookie, kAccount, kExternal };
inline constexpr int kNumIdentityKinds = 6;

std::string_view EventTypeName(EventType t);
std::optional<EventType> EventTypeFromName(std::string_view name);
std::string_view ChannelName(Channel c);
std::optional<Channel> ChannelFromName(std::string_view name);
std::string_view IdentityKindName(IdentityKind k);
std::optional<IdentityKind> IdentityKindFromName(std::string_view name);

struct Identity {
  IdentityKind kind = IdentityKind::kEmail;
  std::string value;  // as given
  bool operator==(const Identity&) const = default;
};

struct Item {
  std::string sku;
  std::optional<std::string> category;
  std::optional<int64_t> quantity;  // absent means 1
  std::optional<int64_t> unit_price_minor;
  bool operator==(const Item&) const = default;
};

// Every field any `data` object can hold. Two fields share the JSON name `status` and two share
// `points`; they differ in their rules (order vs consent status; signed vs positive points).
enum class DataField : uint8_t {
  kAction,
  kAmountMinor,
  kAnswers,
  kAsks,
  kCaseId,
  kCategory,
  kConsentChannel,
  kComment,
  kCommitmentId,
  kConsentStatus,
  kCsat,
  kCurrency,
  kDirection,
  kDueAt,
  kIdentity,
  kItems,
  kKey,
  kLocation,
  kNps,
  kOrderId,
  kOrderStatus,
  kOutcome,
  kPointsDelta,
  kPointsRedeemed,
  kPurpose,
  kReason,
  kResolution,
  kReward,
  kSatisfied,
  kSeverity,
  kSummary,
  kSurvey,
  kTag,
  kTier,
  kTopic,
  kUntil,
  kValue,
  kWeight,
};
inline constexpr int kNumDataFields = 38;

std::string_view DataFieldName(DataField f);

struct DataFieldSpec {
  DataField field;
  bool required;
};

// The fields of a type's `data`, sorted by JSON name (the JCS order).
std::span<const DataFieldSpec> DataFieldsOf(EventType t);
// Whether the event must carry `conversation_id`.
bool RequiresConversationId(EventType t);

// The `data` of an event. Only the fields marked present are meaningful; which member holds a
// field is fixed (both `status` fields use `status`, both `points` fields use `points`).
struct EventData {
  uint64_t present = 0;  // bit per DataField
  bool Has(DataField f) const { return (present >> static_cast<int>(f)) & 1; }
  void Set(DataField f) { present |= uint64_t{1} << static_cast<int>(f); }

  std::string action, case_id, category, comment, commitment_id, currency, direction, key, location,
      order_id, outcome, purpose, reason, resolution, reward, severity, status, summary, survey,
      tag, tier, topic, value, channel;
  int64_t amount_minor = 0, csat = 0, nps = 0, points = 0;
  double weight = 0;
  bool satisfied = false;
  Timestamp due_at, until;
  std::vector<std::string> asks;
  std::vector<std::pair<std::string, std::string>> answers;  // JCS key order
  std::vector<Item> items;
  Identity identity;
};

// The string member of `d` that holds data field `f`, or null when `f` is not a string field.
std::string* StringMember(EventData* d, DataField f);
const std::string* StringMember(const EventData& d, DataField f);

// A validated event (CONTRACT §1). Strings are valid UTF-8 within their limits.
struct Event {
  std::string event_id;
  EventType type = EventType::kVisit;
  std::string customer_id;  // empty when the producer gave only an identity
  std::optional<Identity> identity;
  Timestamp occurred_at;
  Channel channel = Channel::kOther;
  std::string source;
  std::optional<std::string> actor;
  std::optional<std::string> conversation_id;
  std::optional<int64_t> expected_version;
  EventData data;
};

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_EVENT_H_
