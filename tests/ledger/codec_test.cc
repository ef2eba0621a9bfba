#include "ledger/codec.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/errors.h"
#include "ledger/event.h"
#include "ledger/identity.h"
#include "ledger/strings.h"
#include "tests/testing/status_matchers.h"

namespace rapport::ledger {
namespace {

using ::rapport::testing::HasErrorCode;
using ::rapport::testing::HasErrorField;
using ::rapport::testing::IsOk;
using ::rapport::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

// ---------------------------------------------------------------------------------------------
// Building inputs: an event is a list of members whose values are JSON text, so that a case can
// replace, drop or add exactly one member of an otherwise valid event.

using Members = std::vector<std::pair<std::string, std::string>>;

// A member value meaning "leave this member out".
constexpr char kOmit[] = "<omit>";

// `s` between quotes, as is: callers write JSON escapes themselves.
std::string Q(std::string_view s) { return StrCat("\"", s, "\""); }

// `s` repeated `n` times.
std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

std::string Object(const Members& members) {
  std::string out = "{";
  for (const auto& [key, value] : members) {
    if (value == kOmit) continue;
    if (out.size() > 1) out.push_back(',');
    StrAppend(&out, Q(key), ":", value);
  }
  out.push_back('}');
  return out;
}

// `base` with each of `changes` replacing the member of the same key (kOmit drops it), or
// appended when `base` has no such member.
Members With(Members base, const Members& changes) {
  for (const auto& [key, value] : changes) {
    bool found = false;
    for (auto& member : base) {
      if (member.first == key) {
        member.second = value;
        found = true;
      }
    }
    if (!found) base.emplace_back(key, value);
  }
  return base;
}

const Members& Envelope() {
  static const auto* envelope = new Members{
      {"event_id", Q("ev-1")},      {"type", Q("visit")},
      {"customer_id", Q("C-1001")}, {"occurred_at", Q("2026-11-20T10:15:00Z")},
      {"channel", Q("store")},      {"source", Q("pos")},
  };
  return *envelope;
}

// A valid `visit` event with `changes` to its top-level members.
std::string Ev(const Members& changes = {}) { return Object(With(Envelope(), changes)); }

// An event of `type` with `data` (JSON text) and `changes` to its top-level members.
std::string Typed(std::string_view type, std::string_view data, const Members& changes = {}) {
  Members m = With(Envelope(), {{"type", Q(type)}, {"data", std::string(data)}});
  return Object(With(std::move(m), changes));
}

// A valid purchase whose `items` is `items` (JSON text).
std::string PurchaseWithItems(std::string_view items) {
  return Typed("purchase", StrCat(R"({"order_id":"O-1","amount_minor":1,"currency":"CNY","items":)",
                                  items, "}"));
}

// ---------------------------------------------------------------------------------------------
// One valid event of every type (CONTRACT §2): the `data` members as given, in a deliberately
// non-canonical order, and the canonical `data` object expected from RenderCanonicalEvent.

struct TypeExample {
  std::string type;
  Members data;
  std::string canonical_data;
  std::vector<std::string> required;  // the required `data` fields, from CONTRACT §2
  bool needs_conversation = false;
};

const std::vector<TypeExample>& Examples() {
  static const auto* examples = new std::vector<TypeExample>{
      {"visit",
       {{"summary", Q("Browsed laptops")}, {"location", Q("Store 12")}},
       R"({"location":"Store 12","summary":"Browsed laptops"})",
       {}},
      {"inquiry",
       {{"topic", Q("warranty")}, {"summary", Q("Asked about the extended warranty")}},
       R"({"summary":"Asked about the extended warranty","topic":"warranty"})",
       {"topic"}},
      {"conversation_opened",
       {{"topic", Q("delivery")}, {"summary", Q("Where is my parcel?")}},
       R"({"summary":"Where is my parcel?","topic":"delivery"})",
       {"topic"},
       true},
      {"message",
       {{"summary", Q("Which size and colour?")},
        {"direction", Q("outbound")},
        {"asks", R"(["size", "colour"])"},
        {"answers", R"({"shoe_size": "42", "colour": "red"})"}},
       R"({"answers":{"colour":"red","shoe_size":"42"},"asks":["size","colour"],)"
       R"("direction":"outbound","summary":"Which size and colour?"})",
       {"direction", "summary"}},
      {"conversation_closed",
       {{"summary", Q("Refund issued")}, {"outcome", Q("resolved")}},
       R"({"outcome":"resolved","summary":"Refund issued"})",
       {"outcome"},
       true},
      {"commitment_made",
       {{"due_at", Q("2026-11-21T09:00:00+08:00")},
        {"commitment_id", Q("cm-1")},
        {"action", Q("Call back with stock information")}},
       R"({"action":"Call back with stock information","commitment_id":"cm-1",)"
       R"("due_at":"2026-11-21T01:00:00Z"})",
       {"commitment_id", "action"}},
      {"commitment_fulfilled",
       {{"commitment_id", Q("cm-1")}},
       R"({"commitment_id":"cm-1"})",
       {"commitment_id"}},
      {"fact_recorded",
       {{"value", Q("vegetarian")}, {"key", Q("diet")}},
       R"({"key":"diet","value":"vegetarian"})",
       {"key", "value"}},
      {"preference_stated",
       {{"value", Q("one ice cube")}, {"key", Q("wine")}},
       R"({"key":"wine","value":"one ice cube"})",
       {"key", "value"}},
      {"preference_observed",
       {{"weight", "2.50"}, {"value", Q("high floor")}, {"key", Q("room")}},
       R"({"key":"room","value":"high floor","weight":2.5})",
       {"key", "value"}},
      {"preference_retracted", {{"key", Q("room")}}, R"({"key":"room"})", {"key"}},
      {"purchase",
       {{"order_id", Q("O-1")},
        {"amount_minor", "129900"},
        {"currency", Q("CNY")},
        {"items",
         R"([{"sku": "PC-X1", "category": "computers", "quantity": 1},
             {"unit_price_minor": 0, "sku": "CASE-2"}])"}},
       R"({"amount_minor":129900,"currency":"CNY","items":[{"category":"computers",)"
       R"("quantity":1,"sku":"PC-X1"},{"sku":"CASE-2","unit_price_minor":0}],"order_id":"O-1"})",
       {"order_id", "amount_minor", "currency"}},
      {"refund",
       {{"currency", Q("EUR")}, {"amount_minor", "5000"}, {"order_id", Q("O-1")}},
       R"({"amount_minor":5000,"currency":"EUR","order_id":"O-1"})",
       {"order_id", "amount_minor", "currency"}},
      {"order_status",
       {{"status", Q("shipped")}, {"order_id", Q("O-1")}},
       R"({"order_id":"O-1","status":"shipped"})",
       {"order_id", "status"}},
      {"complaint_opened",
       {{"summary", Q("Arrived late")},
        {"severity", Q("high")},
        {"category", Q("delivery")},
        {"case_id", Q("K-7")}},
       R"({"case_id":"K-7","category":"delivery","severity":"high","summary":"Arrived late"})",
       {"case_id", "category", "severity"}},
      {"complaint_resolved",
       {{"satisfied", "false"}, {"resolution", Q("Voucher sent")}, {"case_id", Q("K-7")}},
       R"({"case_id":"K-7","resolution":"Voucher sent","satisfied":false})",
       {"case_id"}},
      {"suggestion",
       {{"topic", Q("app")}, {"summary", Q("Dark mode, please")}},
       R"({"summary":"Dark mode, please","topic":"app"})",
       {"topic"}},
      {"survey_response",
       {{"survey", Q("post-visit")}, {"nps", "10"}, {"csat", "5"}, {"comment", Q("Great")}},
       R"({"comment":"Great","csat":5,"nps":10,"survey":"post-visit"})",
       {"survey"}},
      {"points_adjusted",
       {{"reason", Q("Goodwill correction")}, {"points", "-250"}},
       R"({"points":-250,"reason":"Goodwill correction"})",
       {"points", "reason"}},
      {"points_redeemed",
       {{"reward", Q("Coffee voucher")}, {"points", "1000"}},
       R"({"points":1000,"reward":"Coffee voucher"})",
       {"points", "reward"}},
      {"tier_override",
       {{"until", Q("2027-01-01T08:00:00+08:00")}, {"tier", Q("gold")}},
       R"({"tier":"gold","until":"2027-01-01T00:00:00Z"})",
       {"tier"}},
      {"consent_changed",
       {{"status", Q("revoked")}, {"purpose", Q("marketing")}, {"channel", Q("email")}},
       R"({"channel":"email","purpose":"marketing","status":"revoked"})",
       {"purpose", "status"}},
      {"identity_linked",
       {{"identity", R"({"value": "+86 138-0013-8000", "kind": "phone"})"}},
       R"({"identity":{"kind":"phone","value":"+86 138-0013-8000"}})",
       {"identity"}},
      {"tag_assigned", {{"tag", Q("vip")}}, R"({"tag":"vip"})", {"tag"}},
      {"tag_removed", {{"tag", Q("vip")}}, R"({"tag":"vip"})", {"tag"}},
  };
  return *examples;
}

// The example's input event.
std::string ExampleJson(const TypeExample& ex, const Members& data_changes = {},
                        const Members& changes = {}) {
  Members top = {{"type", Q(ex.type)}, {"data", Object(With(ex.data, data_changes))}};
  if (ex.needs_conversation) top.emplace_back("conversation_id", Q("conv-42"));
  return Object(With(With(Envelope(), top), changes));
}

// The example's expected canonical event.
std::string ExampleCanonical(const TypeExample& ex) {
  return StrCat(R"({"channel":"store",)",
                ex.needs_conversation ? R"("conversation_id":"conv-42",)" : "",
                R"("customer_id":"C-1001","data":)", ex.canonical_data,
                R"(,"event_id":"ev-1","occurred_at":"2026-11-20T10:15:00Z","source":"pos",)",
                R"("type":")", ex.type, R"("})");
}

// ---------------------------------------------------------------------------------------------
// Bad inputs (CONTRACT §1–2): every rule, each with the exact field path and error code.

constexpr std::string_view kInvalidField = kCodeInvalidField;
constexpr std::string_view kInvalidJson = kCodeInvalidJson;
constexpr std::string_view kTooLarge = kCodeTooLarge;

struct BadCase {
  std::string name;
  std::string json;
  std::string field;  // "" when the error names no field
  std::string_view code;
  size_t max_event_bytes = CodecOptions().max_event_bytes;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

std::vector<BadCase> BadCases() {
  std::vector<BadCase> cases;
  auto add = [&](std::string name, std::string json, std::string field, std::string_view code) {
    cases.push_back({std::move(name), std::move(json), std::move(field), code});
  };
  const std::string valid = Ev();

  // --- Not an event object at all.
  add("EmptyInput", "", "", kInvalidJson);
  add("OnlyWhitespace", " \n\t ", "", kInvalidJson);
  add("NotAnObjectArray", R"(["ev-1"])", "", kInvalidJson);
  add("NotAnObjectString", R"("ev-1")", "", kInvalidJson);
  add("NotAnObjectNumber", "42", "", kInvalidJson);
  add("NotAnObjectNull", "null", "", kInvalidJson);
  add("NotAnObjectBool", "true", "", kInvalidJson);
  add("NotJson", "event_id=ev-1", "", kInvalidJson);
  add("TrailingGarbage", valid + " x", "", kInvalidJson);
  add("TrailingSecondObject", valid + "\n{}", "", kInvalidJson);
  add("TrailingComma", valid + ",", "", kInvalidJson);
  add("Truncated", valid.substr(0, valid.size() - 1), "", kInvalidJson);
  add("TrailingCommaInObject", valid.substr(0, valid.size() - 1) + ",}", "", kInvalidJson);
  add("TrailingCommaInData", Typed("inquiry", R"({"topic":"warranty",})"), "data", kInvalidJson);
  add("TrailingCommaInIdentity", Ev({{"identity", R"({"kind":"email","value":"a@b.c",})"}}),
      "identity", kInvalidJson);
  add("TrailingCommaInItems", PurchaseWithItems(R"([{"sku":"A"},])"), "data.items", kInvalidJson);
  add("TrailingCommaInItem", PurchaseWithItems(R"([{"sku":"A",}])"), "data.items[0]", kInvalidJson);
  add("TrailingCommaInAsks",
      Typed("message", R"({"direction":"inbound","summary":"s","asks":["a",]})"), "data.asks",
      kInvalidJson);
  add("TrailingCommaInAnswers",
      Typed("message", R"({"direction":"inbound","summary":"s","answers":{"a":"b",}})"),
      "data.answers", kInvalidJson);
  add("MissingColon", R"({"event_id" "ev-1"})", "", kInvalidJson);
  add("SingleQuotes", R"({'event_id':'ev-1'})", "", kInvalidJson);
  add("UnquotedKey", R"({event_id:"ev-1"})", "", kInvalidJson);
  add("Comment", "/* event */" + valid, "", kInvalidJson);
  add("ByteOrderMark", "\xef\xbb\xbf" + valid, "", kInvalidJson);
  add("BareWordValue", Ev({{"source", "pos"}}), "source", kInvalidJson);

  // --- Unknown fields.
  add("UnknownTopLevelField", Ev({{"colour", Q("red")}}), "colour", kInvalidField);
  add("UnknownTopLevelFieldCaseDiffers", Ev({{"Event_ID", Q("x")}}), "Event_ID", kInvalidField);
  add("UnknownTopLevelNullField", Ev({{"extra", "null"}}), "extra", kInvalidField);
  add("UnknownDataField", Typed("inquiry", R"({"topic":"t","mood":"happy"})"), "data.mood",
      kInvalidField);
  add("DataFieldOfAnotherType", Typed("visit", R"({"topic":"t"})"), "data.topic", kInvalidField);
  add("ConsentChannelOnOrderStatus",
      Typed("order_status", R"({"order_id":"O-1","status":"placed","channel":"web"})"),
      "data.channel", kInvalidField);
  add("UnknownIdentityField",
      Ev({{"identity", R"({"kind":"email","value":"a@b.c","verified":true})"}}),
      "identity.verified", kInvalidField);
  add("UnknownItemField", PurchaseWithItems(R"([{"sku":"A","price":1}])"), "data.items[0].price",
      kInvalidField);
  add("UnknownDataIdentityField",
      Typed("identity_linked", R"({"identity":{"kind":"email","value":"a@b.c","x":1}})"),
      "data.identity.x", kInvalidField);

  // --- Missing required fields.
  add("MissingEventId", Ev({{"event_id", kOmit}}), "event_id", kInvalidField);
  add("MissingType", Ev({{"type", kOmit}}), "type", kInvalidField);
  add("MissingOccurredAt", Ev({{"occurred_at", kOmit}}), "occurred_at", kInvalidField);
  add("MissingChannel", Ev({{"channel", kOmit}}), "channel", kInvalidField);
  add("MissingSource", Ev({{"source", kOmit}}), "source", kInvalidField);
  add("NeitherCustomerIdNorIdentity", Ev({{"customer_id", kOmit}}), "customer_id", kInvalidField);
  add("EmptyObject", "{}", "event_id", kInvalidField);
  add("IdentityWithoutKind", Ev({{"identity", R"({"value":"a@b.c"})"}}), "identity.kind",
      kInvalidField);
  add("IdentityWithoutValue", Ev({{"identity", R"({"kind":"email"})"}}), "identity.value",
      kInvalidField);
  add("DataIdentityWithoutValue", Typed("identity_linked", R"({"identity":{"kind":"email"}})"),
      "data.identity.value", kInvalidField);
  add("RequiredDataOmitted", Ev({{"type", Q("inquiry")}}), "data.topic", kInvalidField);
  add("ItemWithoutSku", PurchaseWithItems(R"([{"quantity":1}])"), "data.items[0].sku",
      kInvalidField);
  add("SurveyResponseWithoutScore", Typed("survey_response", R"({"survey":"s","comment":"c"})"),
      "data.csat", kInvalidField);
  add("ConversationOpenedWithoutConversationId", Typed("conversation_opened", R"({"topic":"t"})"),
      "conversation_id", kInvalidField);
  add("ConversationClosedWithoutConversationId",
      Typed("conversation_closed", R"({"outcome":"resolved"})"), "conversation_id", kInvalidField);

  // --- null is never a value.
  for (std::string_view key :
       {"event_id", "type", "customer_id", "identity", "occurred_at", "channel", "source", "actor",
        "conversation_id", "expected_version", "data"}) {
    add(StrCat("NullTopLevel_", key), Ev({{std::string(key), "null"}}), std::string(key),
        kInvalidField);
  }
  add("NullIdentityKind", Ev({{"identity", R"({"kind":null,"value":"a@b.c"})"}}), "identity.kind",
      kInvalidField);
  add("NullIdentityValue", Ev({{"identity", R"({"kind":"email","value":null})"}}), "identity.value",
      kInvalidField);
  add("NullItem", PurchaseWithItems(R"([null])"), "data.items[0]", kInvalidField);
  add("NullItemQuantity", PurchaseWithItems(R"([{"sku":"A","quantity":null}])"),
      "data.items[0].quantity", kInvalidField);
  add("NullAsk", Typed("message", R"({"direction":"inbound","summary":"s","asks":["a",null]})"),
      "data.asks[1]", kInvalidField);
  add("NullAnswer",
      Typed("message", R"({"direction":"inbound","summary":"s","answers":{"size":null}})"),
      "data.answers.size", kInvalidField);

  // --- Duplicate keys.
  add("DuplicateTopLevelKey", R"({"event_id":"ev-1","event_id":"ev-2"})", "event_id",
      kInvalidField);
  add("DuplicateTopLevelKeySameValue", Object(With(Envelope(), {})).insert(1, R"("source":"pos",)"),
      "source", kInvalidField);
  add("DuplicateData", Typed("visit", "{}").insert(1, R"("data":{},)"), "data", kInvalidField);
  add("DuplicateDataKey", Typed("inquiry", R"({"topic":"a","topic":"b"})"), "data.topic",
      kInvalidField);
  add("DuplicateIdentityKey",
      Ev({{"identity", R"({"kind":"email","value":"a@b.c","kind":"phone"})"}}), "identity.kind",
      kInvalidField);
  add("DuplicateIdentityValue",
      Ev({{"identity", R"({"kind":"email","value":"a@b.c","value":"d@e.f"})"}}), "identity.value",
      kInvalidField);
  add("DuplicateAnswersKey",
      Typed("message",
            R"({"direction":"inbound","summary":"s","answers":{"size":"M","c":"d","size":"L"}})"),
      "data.answers.size", kInvalidField);
  add("DuplicateItemKey", PurchaseWithItems(R"([{"sku":"A","sku":"B"}])"), "data.items[0].sku",
      kInvalidField);
  add("DuplicateDataIdentityKey",
      Typed("identity_linked", R"({"identity":{"kind":"email","kind":"phone","value":"1"}})"),
      "data.identity.kind", kInvalidField);

  add("DuplicateTopLevelKeyViaEscape", Ev({{"event\\u005fid", Q("ev-2")}}), "event_id",
      kInvalidField);
  add("DuplicateAnswersKeyViaEscape",
      Typed("message", R"({"direction":"inbound","summary":"s","answers":{"a":"1","\u0061":"2"}})"),
      "data.answers.a", kInvalidField);

  // --- Wrong JSON types.
  add("EventIdNumber", Ev({{"event_id", "1"}}), "event_id", kInvalidField);
  add("TypeNumber", Ev({{"type", "1"}}), "type", kInvalidField);
  add("CustomerIdNumber", Ev({{"customer_id", "1001"}}), "customer_id", kInvalidField);
  add("IdentityString", Ev({{"identity", Q("a@b.c")}}), "identity", kInvalidField);
  add("IdentityArray", Ev({{"identity", R"(["email","a@b.c"])"}}), "identity", kInvalidField);
  add("IdentityKindNumber", Ev({{"identity", R"({"kind":1,"value":"a@b.c"})"}}), "identity.kind",
      kInvalidField);
  add("IdentityValueNumber", Ev({{"identity", R"({"kind":"phone","value":8613800138000})"}}),
      "identity.value", kInvalidField);
  add("OccurredAtNumber", Ev({{"occurred_at", "1795140900"}}), "occurred_at", kInvalidField);
  add("ChannelArray", Ev({{"channel", R"(["store"])"}}), "channel", kInvalidField);
  add("SourceObject", Ev({{"source", "{}"}}), "source", kInvalidField);
  add("ActorBool", Ev({{"actor", "true"}}), "actor", kInvalidField);
  add("ConversationIdNumber", Ev({{"conversation_id", "42"}}), "conversation_id", kInvalidField);
  add("ExpectedVersionString", Ev({{"expected_version", Q("12")}}), "expected_version",
      kInvalidField);
  add("ExpectedVersionBool", Ev({{"expected_version", "false"}}), "expected_version",
      kInvalidField);
  add("DataArray", Ev({{"data", "[]"}}), "data", kInvalidField);
  add("DataString", Ev({{"data", Q("x")}}), "data", kInvalidField);
  add("AmountMinorString",
      Typed("purchase", R"({"order_id":"O-1","amount_minor":"129900","currency":"CNY"})"),
      "data.amount_minor", kInvalidField);
  add("CurrencyNumber", Typed("purchase", R"({"order_id":"O-1","amount_minor":1,"currency":156})"),
      "data.currency", kInvalidField);
  add("OrderIdNumber", Typed("refund", R"({"order_id":1,"amount_minor":1,"currency":"CNY"})"),
      "data.order_id", kInvalidField);
  add("ItemsObject", PurchaseWithItems(R"({})"), "data.items", kInvalidField);
  add("ItemNotObject", PurchaseWithItems(R"(["A"])"), "data.items[0]", kInvalidField);
  add("ItemQuantityString", PurchaseWithItems(R"([{"sku":"A","quantity":"2"}])"),
      "data.items[0].quantity", kInvalidField);
  add("ItemSkuNumber", PurchaseWithItems(R"([{"sku":1}])"), "data.items[0].sku", kInvalidField);
  add("ItemCategoryArray", PurchaseWithItems(R"([{"sku":"A","category":[]}])"),
      "data.items[0].category", kInvalidField);
  add("ItemUnitPriceString", PurchaseWithItems(R"([{"sku":"A","unit_price_minor":"1"}])"),
      "data.items[0].unit_price_minor", kInvalidField);
  add("AsksString", Typed("message", R"({"direction":"inbound","summary":"s","asks":"size"})"),
      "data.asks", kInvalidField);
  add("AskNumber", Typed("message", R"({"direction":"inbound","summary":"s","asks":["a",1]})"),
      "data.asks[1]", kInvalidField);
  add("AnswersArray", Typed("message", R"({"direction":"inbound","summary":"s","answers":[]})"),
      "data.answers", kInvalidField);
  add("AnswerNumber",
      Typed("message", R"({"direction":"inbound","summary":"s","answers":{"size":42}})"),
      "data.answers.size", kInvalidField);
  add("SatisfiedString", Typed("complaint_resolved", R"({"case_id":"K","satisfied":"yes"})"),
      "data.satisfied", kInvalidField);
  add("SatisfiedNumber", Typed("complaint_resolved", R"({"case_id":"K","satisfied":1})"),
      "data.satisfied", kInvalidField);
  add("WeightString", Typed("preference_observed", R"({"key":"k","value":"v","weight":"2"})"),
      "data.weight", kInvalidField);
  add("CsatString", Typed("survey_response", R"({"survey":"s","csat":"5"})"), "data.csat",
      kInvalidField);
  add("NpsBool", Typed("survey_response", R"({"survey":"s","nps":true})"), "data.nps",
      kInvalidField);
  add("PointsString", Typed("points_redeemed", R"({"points":"10","reward":"r"})"), "data.points",
      kInvalidField);
  add("DueAtNumber",
      Typed("commitment_made", R"({"commitment_id":"c","action":"a","due_at":1795140900})"),
      "data.due_at", kInvalidField);
  add("UntilBool", Typed("tier_override", R"({"tier":"gold","until":false})"), "data.until",
      kInvalidField);
  add("TierNumber", Typed("tier_override", R"({"tier":2})"), "data.tier", kInvalidField);
  add("DataIdentityString", Typed("identity_linked", R"({"identity":"a@b.c"})"), "data.identity",
      kInvalidField);
  add("SummaryNumber", Typed("visit", R"({"summary":1})"), "data.summary", kInvalidField);
  add("KeyObject", Typed("fact_recorded", R"({"key":{},"value":"v"})"), "data.key", kInvalidField);

  // --- Malformed JSON literals are reported as invalid JSON at their field.
  add("LeadingZero", Ev({{"expected_version", "012"}}), "expected_version", kInvalidJson);
  add("BareMinus", Typed("purchase", R"({"order_id":"O-1","amount_minor":-,"currency":"CNY"})"),
      "data.amount_minor", kInvalidJson);
  add("DotWithoutDigits", Typed("preference_observed", R"({"key":"k","value":"v","weight":1.})"),
      "data.weight", kInvalidJson);
  add("MisspelledTrue", Typed("complaint_resolved", R"({"case_id":"K","satisfied":tru})"),
      "data.satisfied", kInvalidJson);
  add("MisspelledNull", Ev({{"actor", "nul"}}), "actor", kInvalidJson);
  add("CapitalisedTrue", Typed("complaint_resolved", R"({"case_id":"K","satisfied":True})"),
      "data.satisfied", kInvalidJson);

  // --- Invalid UTF-8 and lone surrogates.
  add("InvalidUtf8Byte", Typed("visit", "{\"summary\":\"caf\xff\"}"), "data.summary", kInvalidJson);
  add("InvalidUtf8Continuation", Ev({{"source", "\"p\x80os\""}}), "source", kInvalidJson);
  add("InvalidUtf8Overlong", Ev({{"actor", "\"\xc0\xaf\""}}), "actor", kInvalidJson);
  add("InvalidUtf8Surrogate", Typed("visit", "{\"summary\":\"\xed\xa0\x80\"}"), "data.summary",
      kInvalidJson);
  add("InvalidUtf8AboveMaxCodePoint", Typed("visit", "{\"location\":\"\xf4\x90\x80\x80\"}"),
      "data.location", kInvalidJson);
  add("InvalidUtf8Truncated", Ev({{"identity", "{\"kind\":\"email\",\"value\":\"\xe6\x9d\"}"}}),
      "identity.value", kInvalidJson);
  add("InvalidUtf8InTopLevelKey", Ev({{"sour\xffse", Q("pos")}}), "", kInvalidJson);
  add("InvalidUtf8InDataKey", Typed("visit", "{\"summ\xffry\":\"s\"}"), "data", kInvalidJson);
  add("InvalidUtf8InAnswersKey",
      Typed("message",
            "{\"direction\":\"inbound\",\"summary\":\"s\",\"answers\":{\"\xff\":\"v\"}}"),
      "data.answers", kInvalidJson);
  add("InvalidUtf8InAnswer",
      Typed("message",
            "{\"direction\":\"inbound\",\"summary\":\"s\",\"answers\":{\"k\":\"\xff\"}}"),
      "data.answers.k", kInvalidJson);
  add("InvalidUtf8InAsk",
      Typed("message", "{\"direction\":\"inbound\",\"summary\":\"s\",\"asks\":[\"\xff\"]}"),
      "data.asks[0]", kInvalidJson);
  add("InvalidUtf8InItemSku", PurchaseWithItems("[{\"sku\":\"\xff\"}]"), "data.items[0].sku",
      kInvalidJson);
  add("LoneHighSurrogate", Typed("visit", R"({"summary":"\ud83d"})"), "data.summary", kInvalidJson);
  add("LoneLowSurrogate", Ev({{"source", R"("\ude00")"}}), "source", kInvalidJson);
  add("HighSurrogateThenLetter", Ev({{"actor", R"("\ud83dA")"}}), "actor", kInvalidJson);
  add("HighSurrogateThenNonSurrogateEscape", Ev({{"actor", R"("\ud83d\u0041")"}}), "actor",
      kInvalidJson);
  add("SurrogatesReversed", Typed("visit", R"({"summary":"\ude00\ud83d"})"), "data.summary",
      kInvalidJson);
  add("InvalidEscape", Typed("visit", R"({"summary":"\x41"})"), "data.summary", kInvalidJson);
  add("ShortUnicodeEscape", Typed("visit", R"({"summary":"\u41"})"), "data.summary", kInvalidJson);
  add("RawControlCharacterInString", Typed("visit", "{\"summary\":\"a\tb\"}"), "data.summary",
      kInvalidJson);
  add("RawNewlineInString", Ev({{"source", "\"p\nos\""}}), "source", kInvalidJson);

  // --- Integers: no fraction, no exponent, within int64.
  add("ExpectedVersionFraction", Ev({{"expected_version", "1.0"}}), "expected_version",
      kInvalidField);
  add("ExpectedVersionExponent", Ev({{"expected_version", "1e2"}}), "expected_version",
      kInvalidField);
  add("ExpectedVersionCapitalExponent", Ev({{"expected_version", "1E2"}}), "expected_version",
      kInvalidField);
  add("ExpectedVersionBeyondInt64", Ev({{"expected_version", "9223372036854775808"}}),
      "expected_version", kInvalidField);
  add("ExpectedVersionHuge", Ev({{"expected_version", "100000000000000000000000"}}),
      "expected_version", kInvalidField);
  add("AmountMinorFraction",
      Typed("purchase", R"({"order_id":"O-1","amount_minor":129900.0,"currency":"CNY"})"),
      "data.amount_minor", kInvalidField);
  add("AmountMinorExponent",
      Typed("purchase", R"({"order_id":"O-1","amount_minor":1.299e5,"currency":"CNY"})"),
      "data.amount_minor", kInvalidField);
  add("AmountMinorBeyondInt64",
      Typed("refund", R"({"order_id":"O-1","amount_minor":9223372036854775808,"currency":"CNY"})"),
      "data.amount_minor", kInvalidField);
  add("PointsBelowInt64",
      Typed("points_adjusted", R"({"points":-9223372036854775809,"reason":"r"})"), "data.points",
      kInvalidField);
  add("PointsExponent", Typed("points_redeemed", R"({"points":1E3,"reward":"r"})"), "data.points",
      kInvalidField);
  add("CsatFraction", Typed("survey_response", R"({"survey":"s","csat":4.5})"), "data.csat",
      kInvalidField);
  add("NpsExponent", Typed("survey_response", R"({"survey":"s","nps":1e1})"), "data.nps",
      kInvalidField);
  add("ItemQuantityFraction", PurchaseWithItems(R"([{"sku":"A","quantity":2.0}])"),
      "data.items[0].quantity", kInvalidField);
  add("ItemUnitPriceExponent", PurchaseWithItems(R"([{"sku":"A","unit_price_minor":1e2}])"),
      "data.items[0].unit_price_minor", kInvalidField);
  add("WeightOverflowsDouble",
      Typed("preference_observed", R"({"key":"k","value":"v","weight":1e400})"), "data.weight",
      kInvalidField);

  // --- Enums.
  add("UnknownType", Ev({{"type", Q("phone_call")}}), "type", kInvalidField);
  add("TypeWrongCase", Ev({{"type", Q("Visit")}}), "type", kInvalidField);
  add("TypeEmpty", Ev({{"type", Q("")}}), "type", kInvalidField);
  add("UnknownChannel", Ev({{"channel", Q("sms")}}), "channel", kInvalidField);
  add("ChannelWrongCase", Ev({{"channel", Q("Store")}}), "channel", kInvalidField);
  add("UnknownIdentityKind", Ev({{"identity", R"({"kind":"fax","value":"123"})"}}), "identity.kind",
      kInvalidField);
  add("IdentityKindWrongCase", Ev({{"identity", R"({"kind":"Email","value":"a@b.c"})"}}),
      "identity.kind", kInvalidField);
  add("UnknownDataIdentityKind",
      Typed("identity_linked", R"({"identity":{"kind":"loyalty","value":"L-1"}})"),
      "data.identity.kind", kInvalidField);
  add("UnknownDirection", Typed("message", R"({"direction":"incoming","summary":"s"})"),
      "data.direction", kInvalidField);
  add("UnknownOutcome",
      Typed("conversation_closed", R"({"outcome":"done"})", {{"conversation_id", Q("c")}}),
      "data.outcome", kInvalidField);
  add("UnknownOrderStatus", Typed("order_status", R"({"order_id":"O-1","status":"lost"})"),
      "data.status", kInvalidField);
  add("ConsentStatusAsOrderStatus",
      Typed("order_status", R"({"order_id":"O-1","status":"granted"})"), "data.status",
      kInvalidField);
  add("UnknownSeverity",
      Typed("complaint_opened", R"({"case_id":"K","category":"c","severity":"critical"})"),
      "data.severity", kInvalidField);
  add("UnknownConsentStatus",
      Typed("consent_changed", R"({"purpose":"marketing","status":"maybe"})"), "data.status",
      kInvalidField);
  add("OrderStatusAsConsentStatus",
      Typed("consent_changed", R"({"purpose":"marketing","status":"placed"})"), "data.status",
      kInvalidField);
  add("UnknownConsentChannel",
      Typed("consent_changed", R"({"purpose":"marketing","status":"granted","channel":"sms"})"),
      "data.channel", kInvalidField);
  add("UnknownTier", Typed("tier_override", R"({"tier":"diamond"})"), "data.tier", kInvalidField);
  add("TierWrongCase", Typed("tier_override", R"({"tier":"Gold"})"), "data.tier", kInvalidField);

  // --- Timestamps.
  const std::pair<std::string, std::string> kBadTimes[] = {
      {"NoZone", "2026-11-20T10:15:00"},
      {"NoSeconds", "2026-11-20T10:15Z"},
      {"DateOnly", "2026-11-20"},
      {"February30", "2026-02-30T10:15:00Z"},
      {"February29InCommonYear", "2026-02-29T10:15:00Z"},
      {"April31", "2026-04-31T10:15:00Z"},
      {"Month13", "2026-13-01T10:15:00Z"},
      {"Day0", "2026-11-00T10:15:00Z"},
      {"Hour24", "2026-11-20T24:00:00Z"},
      {"Minute60", "2026-11-20T10:60:00Z"},
      {"LeapSecond", "2026-12-31T23:59:60Z"},
      {"OffsetHour24", "2026-11-20T10:15:00+24:00"},
      {"OffsetMinute60", "2026-11-20T10:15:00+08:60"},
      {"OffsetWithoutColon", "2026-11-20T10:15:00+0800"},
      {"OffsetHoursOnly", "2026-11-20T10:15:00+08"},
      {"Garbage", "yesterday"},
      {"Empty", ""},
      {"SpaceSeparator", "2026-11-20 10:15:00Z"},
      {"FractionWithoutDigits", "2026-11-20T10:15:00.Z"},
      {"TrailingText", "2026-11-20T10:15:00Z[UTC]"},
      {"Year0", "0000-06-01T00:00:00Z"},
      {"BeforeYear1AfterOffset", "0001-01-01T00:30:00+01:00"},
      {"AfterYear9999AfterOffset", "9999-12-31T23:30:00-01:00"},
  };
  for (const auto& [name, time] : kBadTimes) {
    add("OccurredAt" + name, Ev({{"occurred_at", Q(time)}}), "occurred_at", kInvalidField);
  }
  add("DueAtNoZone",
      Typed("commitment_made",
            R"({"commitment_id":"c","action":"a","due_at":"2026-11-21T09:00:00"})"),
      "data.due_at", kInvalidField);
  add("UntilFebruary30",
      Typed("tier_override", R"({"tier":"gold","until":"2027-02-30T00:00:00Z"})"), "data.until",
      kInvalidField);

  // --- Lengths. ASCII ids count bytes; everything else counts Unicode characters.
  const std::string e_acute = "\xc3\xa9";           // U+00E9, 2 bytes
  const std::string grinning = "\xf0\x9f\x98\x80";  // U+1F600, 4 bytes
  add("EventIdEmpty", Ev({{"event_id", Q("")}}), "event_id", kInvalidField);
  add("EventId129", Ev({{"event_id", Q(Repeat("a", 129))}}), "event_id", kInvalidField);
  add("EventIdSpace", Ev({{"event_id", Q("ev 1")}}), "event_id", kInvalidField);
  add("EventIdTab", Ev({{"event_id", Q(R"(ev\t1)")}}), "event_id", kInvalidField);
  add("EventIdControl", Ev({{"event_id", Q(R"(ev\u0007)")}}), "event_id", kInvalidField);
  add("EventIdNul", Ev({{"event_id", Q(R"(ev\u0000)")}}), "event_id", kInvalidField);
  add("EventIdDelete", Ev({{"event_id", Q(R"(ev\u007f)")}}), "event_id", kInvalidField);
  add("EventIdNonAscii", Ev({{"event_id", Q("ev-" + e_acute)}}), "event_id", kInvalidField);
  add("EventIdNonAsciiEscaped", Ev({{"event_id", Q(R"(ev-\u00e9)")}}), "event_id", kInvalidField);
  add("CustomerIdEmpty", Ev({{"customer_id", Q("")}}), "customer_id", kInvalidField);
  add("CustomerId129", Ev({{"customer_id", Q(Repeat("C", 129))}}), "customer_id", kInvalidField);
  add("CustomerIdSpace", Ev({{"customer_id", Q("C 1001")}}), "customer_id", kInvalidField);
  add("CustomerIdNonAscii", Ev({{"customer_id", Q("C-" + grinning)}}), "customer_id",
      kInvalidField);
  add("IdentityValueEmpty", Ev({{"identity", R"({"kind":"account","value":""})"}}),
      "identity.value", kInvalidField);
  add("IdentityValue257Ascii",
      Ev({{"identity", StrCat(R"({"kind":"external","value":)", Q(Repeat("x", 257)), "}")}}),
      "identity.value", kInvalidField);
  add("IdentityValue257TwoByteChars",
      Ev({{"identity", StrCat(R"({"kind":"external","value":)", Q(Repeat(e_acute, 257)), "}")}}),
      "identity.value", kInvalidField);
  add("IdentityValue257FourByteChars",
      Ev({{"identity", StrCat(R"({"kind":"account","value":)", Q(Repeat(grinning, 257)), "}")}}),
      "identity.value", kInvalidField);
  add("DataIdentityValue257",
      Typed("identity_linked",
            StrCat(R"({"identity":{"kind":"web_cookie","value":)", Q(Repeat("x", 257)), "}}")),
      "data.identity.value", kInvalidField);
  add("SourceEmpty", Ev({{"source", Q("")}}), "source", kInvalidField);
  add("Source65", Ev({{"source", Q(Repeat("s", 65))}}), "source", kInvalidField);
  add("Source65TwoByteChars", Ev({{"source", Q(Repeat(e_acute, 65))}}), "source", kInvalidField);
  add("ActorEmpty", Ev({{"actor", Q("")}}), "actor", kInvalidField);
  add("Actor129", Ev({{"actor", Q(Repeat("a", 129))}}), "actor", kInvalidField);
  add("ConversationIdEmpty", Ev({{"conversation_id", Q("")}}), "conversation_id", kInvalidField);
  add("ConversationId129", Ev({{"conversation_id", Q(Repeat("c", 129))}}), "conversation_id",
      kInvalidField);
  add("Summary4097", Typed("visit", StrCat(R"({"summary":)", Q(Repeat("s", 4097)), "}")),
      "data.summary", kInvalidField);
  add("Summary4097FourByteChars",
      Typed("visit", StrCat(R"({"summary":)", Q(Repeat(grinning, 4097)), "}")), "data.summary",
      kInvalidField);
  add("SummaryEmpty", Typed("visit", R"({"summary":""})"), "data.summary", kInvalidField);
  add("Key257",
      Typed("fact_recorded", StrCat(R"({"key":)", Q(Repeat("k", 257)), R"(,"value":"v"})")),
      "data.key", kInvalidField);
  add("KeyEmpty", Typed("preference_retracted", R"({"key":""})"), "data.key", kInvalidField);
  add("Value257",
      Typed("preference_stated", StrCat(R"({"key":"k","value":)", Q(Repeat("v", 257)), "}")),
      "data.value", kInvalidField);
  add("Topic257", Typed("inquiry", StrCat(R"({"topic":)", Q(Repeat("t", 257)), "}")), "data.topic",
      kInvalidField);
  add("Tag257", Typed("tag_assigned", StrCat(R"({"tag":)", Q(Repeat("t", 257)), "}")), "data.tag",
      kInvalidField);
  add("TagEmpty", Typed("tag_removed", R"({"tag":""})"), "data.tag", kInvalidField);
  add("Location257", Typed("visit", StrCat(R"({"location":)", Q(Repeat("l", 257)), "}")),
      "data.location", kInvalidField);
  add("OrderId257",
      Typed("order_status",
            StrCat(R"({"order_id":)", Q(Repeat("o", 257)), R"(,"status":"placed"})")),
      "data.order_id", kInvalidField);
  add("CaseId257", Typed("complaint_resolved", StrCat(R"({"case_id":)", Q(Repeat("k", 257)), "}")),
      "data.case_id", kInvalidField);
  add("CommitmentIdEmpty", Typed("commitment_fulfilled", R"({"commitment_id":""})"),
      "data.commitment_id", kInvalidField);
  add("Action4097",
      Typed("commitment_made",
            StrCat(R"({"commitment_id":"c","action":)", Q(Repeat("a", 4097)), "}")),
      "data.action", kInvalidField);
  add("Reason4097",
      Typed("points_adjusted", StrCat(R"({"points":5,"reason":)", Q(Repeat("r", 4097)), "}")),
      "data.reason", kInvalidField);
  add("Reward257",
      Typed("points_redeemed", StrCat(R"({"points":5,"reward":)", Q(Repeat("r", 257)), "}")),
      "data.reward", kInvalidField);
  add("Resolution4097",
      Typed("complaint_resolved",
            StrCat(R"({"case_id":"K","resolution":)", Q(Repeat("r", 4097)), "}")),
      "data.resolution", kInvalidField);
  add("Comment4097",
      Typed("survey_response",
            StrCat(R"({"survey":"s","csat":3,"comment":)", Q(Repeat("c", 4097)), "}")),
      "data.comment", kInvalidField);
  add("Survey257",
      Typed("survey_response", StrCat(R"({"survey":)", Q(Repeat("s", 257)), R"(,"csat":3})")),
      "data.survey", kInvalidField);
  add("Purpose257",
      Typed("consent_changed",
            StrCat(R"({"purpose":)", Q(Repeat("p", 257)), R"(,"status":"granted"})")),
      "data.purpose", kInvalidField);
  add("ComplaintCategory257",
      Typed("complaint_opened",
            StrCat(R"({"case_id":"K","category":)", Q(Repeat("c", 257)), R"(,"severity":"low"})")),
      "data.category", kInvalidField);
  add("ItemSku257", PurchaseWithItems(StrCat(R"([{"sku":)", Q(Repeat("s", 257)), "}]")),
      "data.items[0].sku", kInvalidField);
  add("ItemCategoryEmpty", PurchaseWithItems(R"([{"sku":"A","category":""}])"),
      "data.items[0].category", kInvalidField);
  add("Ask257",
      Typed("message", StrCat(R"({"direction":"inbound","summary":"s","asks":["a",)",
                              Q(Repeat("k", 257)), "]}")),
      "data.asks[1]", kInvalidField);
  add("AnswersKey257",
      Typed("message", StrCat(R"({"direction":"inbound","summary":"s","answers":{)",
                              Q(Repeat("k", 257)), R"(:"v"}})")),
      "data.answers." + Repeat("k", 257), kInvalidField);
  add("AnswersKeyEmpty",
      Typed("message", R"({"direction":"inbound","summary":"s","answers":{"":"v"}})"),
      "data.answers.", kInvalidField);
  add("Answer4097",
      Typed("message", StrCat(R"({"direction":"inbound","summary":"s","answers":{"note":)",
                              Q(Repeat("n", 4097)), "}}")),
      "data.answers.note", kInvalidField);
  add("AnswerEmpty",
      Typed("message", R"({"direction":"inbound","summary":"s","answers":{"note":""}})"),
      "data.answers.note", kInvalidField);

  // --- Ranges.
  add("AmountMinorZero",
      Typed("purchase", R"({"order_id":"O-1","amount_minor":0,"currency":"CNY"})"),
      "data.amount_minor", kInvalidField);
  add("AmountMinorNegative",
      Typed("purchase", R"({"order_id":"O-1","amount_minor":-1,"currency":"CNY"})"),
      "data.amount_minor", kInvalidField);
  add("RefundAmountMinorZero",
      Typed("refund", R"({"order_id":"O-1","amount_minor":0,"currency":"CNY"})"),
      "data.amount_minor", kInvalidField);
  add("ItemQuantityZero", PurchaseWithItems(R"([{"sku":"A","quantity":0}])"),
      "data.items[0].quantity", kInvalidField);
  add("SecondItemQuantityNegative", PurchaseWithItems(R"([{"sku":"A"},{"sku":"B","quantity":-1}])"),
      "data.items[1].quantity", kInvalidField);
  add("ItemUnitPriceNegative", PurchaseWithItems(R"([{"sku":"A","unit_price_minor":-1}])"),
      "data.items[0].unit_price_minor", kInvalidField);
  add("Csat0", Typed("survey_response", R"({"survey":"s","csat":0})"), "data.csat", kInvalidField);
  add("Csat6", Typed("survey_response", R"({"survey":"s","csat":6})"), "data.csat", kInvalidField);
  add("NpsMinus1", Typed("survey_response", R"({"survey":"s","nps":-1})"), "data.nps",
      kInvalidField);
  add("Nps11", Typed("survey_response", R"({"survey":"s","nps":11})"), "data.nps", kInvalidField);
  add("Csat0WithValidNps", Typed("survey_response", R"({"survey":"s","nps":7,"csat":0})"),
      "data.csat", kInvalidField);
  add("PointsAdjustedZero", Typed("points_adjusted", R"({"points":0,"reason":"r"})"), "data.points",
      kInvalidField);
  add("PointsRedeemedZero", Typed("points_redeemed", R"({"points":0,"reward":"r"})"), "data.points",
      kInvalidField);
  add("PointsRedeemedNegative", Typed("points_redeemed", R"({"points":-5,"reward":"r"})"),
      "data.points", kInvalidField);
  add("WeightZero", Typed("preference_observed", R"({"key":"k","value":"v","weight":0})"),
      "data.weight", kInvalidField);
  add("WeightNegativeZero",
      Typed("preference_observed", R"({"key":"k","value":"v","weight":-0.0})"), "data.weight",
      kInvalidField);
  add("WeightNegative", Typed("preference_observed", R"({"key":"k","value":"v","weight":-0.5})"),
      "data.weight", kInvalidField);
  add("ExpectedVersionNegative", Ev({{"expected_version", "-1"}}), "expected_version",
      kInvalidField);

  // --- Currencies: ISO 4217 codes, uppercase.
  for (std::string_view code : {"cny", "Cny", "ABC", "CN", "CNYY", "", "C1Y", "XYZ"}) {
    add(StrCat("Currency_", code.empty() ? "Empty" : code),
        Typed("refund", StrCat(R"({"order_id":"O-1","amount_minor":1,"currency":)", Q(code), "}")),
        "data.currency", kInvalidField);
  }

  // --- Identities that normalise to nothing.
  add("PhoneWithoutDigits", Ev({{"identity", R"({"kind":"phone","value":"+-() ext"})"}}),
      "identity.value", kInvalidField);
  add("PhoneWithFullwidthDigitsOnly",
      Ev({{"identity", "{\"kind\":\"phone\",\"value\":\"\xef\xbc\x91\xef\xbc\x92\"}"}}),
      "identity.value", kInvalidField);
  add("BlankEmail", Ev({{"identity", R"({"kind":"email","value":"  \t "})"}}), "identity.value",
      kInvalidField);
  add("DataPhoneWithoutDigits",
      Typed("identity_linked", R"({"identity":{"kind":"phone","value":"n/a"}})"),
      "data.identity.value", kInvalidField);
  add("DataBlankEmail", Typed("identity_linked", R"({"identity":{"kind":"email","value":" "}})"),
      "data.identity.value", kInvalidField);

  // --- `data` before `type` is validated the same way.
  add("DataBeforeTypeBadValue",
      Object(With({{"data", R"({"topic":1})"}}, With(Envelope(), {{"type", Q("inquiry")}}))),
      "data.topic", kInvalidField);
  add("DataBeforeTypeUnknownField", Object(With({{"data", R"({"mood":"ok"})"}}, Envelope())),
      "data.mood", kInvalidField);
  add("DataBeforeTypeMissingField",
      Object(With({{"data", R"({"summary":"s"})"}}, With(Envelope(), {{"type", Q("inquiry")}}))),
      "data.topic", kInvalidField);

  // --- Size.
  {
    std::string big = Ev();
    big.append(64 * 1024 + 1 - big.size(), ' ');  // valid JSON, one byte over 64 KiB
    add("LargerThan64KiB", big, "", kTooLarge);
    std::string huge_summary =
        Typed("visit", StrCat(R"({"summary":)", Q(Repeat(grinning, 4096 * 5)), "}"));
    add("LargerThan64KiBAndInvalid", huge_summary, "", kTooLarge);
    BadCase small{"LargerThanConfiguredLimit", Ev(), "", kTooLarge, Ev().size() - 1};
    cases.push_back(small);
  }

  // --- Generated: for every type, each required `data` field left out, each present field
  // null or of the wrong JSON type, and an unknown field.
  for (const auto& ex : Examples()) {
    for (const auto& field : ex.required) {
      add(StrCat("Missing_", ex.type, "_", field), ExampleJson(ex, {{field, kOmit}}),
          "data." + field, kInvalidField);
    }
    for (const auto& [field, value] : ex.data) {
      add(StrCat("Null_", ex.type, "_", field), ExampleJson(ex, {{field, "null"}}), "data." + field,
          kInvalidField);
      std::string wrong = value[0] == '{' ? "[]" : "{}";
      add(StrCat("WrongType_", ex.type, "_", field), ExampleJson(ex, {{field, wrong}}),
          "data." + field, kInvalidField);
    }
    add(StrCat("UnknownField_", ex.type), ExampleJson(ex, {{"bogus", "1"}}), "data.bogus",
        kInvalidField);
  }
  return cases;
}

class BadEventTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadEventTest, IsRejectedNamingTheField) {
  const BadCase& c = GetParam();
  SCOPED_TRACE(c.json.size() <= 600 ? c.json : c.json.substr(0, 600) + "...");
  CodecOptions options;
  options.max_event_bytes = c.max_event_bytes;
  absl::Status status = ParseEventJson(c.json, options).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status, HasErrorCode(std::string(c.code)));
  EXPECT_THAT(status, HasErrorField(c.field));
  EXPECT_FALSE(status.message().empty());
}

INSTANTIATE_TEST_SUITE_P(AllRules, BadEventTest, ::testing::ValuesIn(BadCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           std::string name;
                           for (char ch : info.param.name) {
                             name.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch
                                                                                         : '_');
                           }
                           return name;
                         });

TEST(BadEventTableTest, CaseNamesAreUnique) {
  std::vector<std::string> names;
  for (const auto& c : BadCases()) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

TEST(ErrorMessageTest, NamesTheRule) {
  EXPECT_THAT(ParseEventJson(Ev({{"colour", Q("red")}}), {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown field")));
  EXPECT_THAT(ParseEventJson(Ev({{"expected_version", "1.5"}}), {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("integer")));
  EXPECT_THAT(ParseEventJson(Typed("tier_override", R"({"tier":"diamond"})"), {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gold")));
  EXPECT_THAT(ParseEventJson(std::string(70000, ' '), {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("65536")));
}

// ---------------------------------------------------------------------------------------------
// Good inputs.

TEST(ParseEventJsonTest, ParsesTheContractExample) {
  const std::string json = R"({
    "event_id": "pos-7781-0001",
    "type": "purchase",
    "customer_id": "C-1001",
    "identity": {"kind": "email", "value": "li.wei@example.com"},
    "occurred_at": "2026-11-20T10:15:00Z",
    "channel": "store",
    "source": "pos",
    "actor": "assoc-17",
    "conversation_id": "conv-42",
    "expected_version": 12,
    "data": {"order_id": "O-1", "amount_minor": 129900, "currency": "CNY",
             "items": [{"sku": "PC-X1", "category": "computers", "quantity": 1}]}
  })";
  ASSERT_OK_AND_ASSIGN(Event ev, ParseEventJson(json, CodecOptions()));
  EXPECT_EQ(ev.event_id, "pos-7781-0001");
  EXPECT_EQ(ev.type, EventType::kPurchase);
  EXPECT_EQ(ev.customer_id, "C-1001");
  EXPECT_THAT(ev.identity, Optional(Identity{IdentityKind::kEmail, "li.wei@example.com"}));
  EXPECT_EQ(FormatTimestamp(ev.occurred_at), "2026-11-20T10:15:00Z");
  EXPECT_EQ(ev.channel, Channel::kStore);
  EXPECT_EQ(ev.source, "pos");
  EXPECT_THAT(ev.actor, Optional(std::string("assoc-17")));
  EXPECT_THAT(ev.conversation_id, Optional(std::string("conv-42")));
  EXPECT_THAT(ev.expected_version, Optional(12));
  EXPECT_EQ(ev.data.order_id, "O-1");
  EXPECT_EQ(ev.data.amount_minor, 129900);
  EXPECT_EQ(ev.data.currency, "CNY");
  ASSERT_EQ(ev.data.items.size(), 1u);
  EXPECT_EQ(ev.data.items[0], (Item{"PC-X1", "computers", 1, std::nullopt}));
  EXPECT_TRUE(ev.data.Has(DataField::kItems));
  EXPECT_FALSE(ev.data.Has(DataField::kSummary));

  EXPECT_EQ(RenderCanonicalEvent(ev, ev.customer_id),
            R"({"actor":"assoc-17","channel":"store","conversation_id":"conv-42",)"
            R"("customer_id":"C-1001","data":{"amount_minor":129900,"currency":"CNY",)"
            R"("items":[{"category":"computers","quantity":1,"sku":"PC-X1"}],"order_id":"O-1"},)"
            R"("event_id":"pos-7781-0001","expected_version":12,)"
            R"("identity":{"kind":"email","value":"li.wei@example.com"},)"
            R"("occurred_at":"2026-11-20T10:15:00Z","source":"pos","type":"purchase"})");
}

TEST(ParseEventJsonTest, EveryTypeParsesAndRendersCanonically) {
  ASSERT_EQ(Examples().size(), static_cast<size_t>(kNumEventTypes));
  for (const auto& ex : Examples()) {
    SCOPED_TRACE(ex.type);
    ASSERT_OK_AND_ASSIGN(Event ev, ParseEventJson(ExampleJson(ex), CodecOptions()));
    EXPECT_EQ(EventTypeName(ev.type), ex.type);
    std::string canonical = RenderCanonicalEvent(ev, ev.customer_id);
    EXPECT_EQ(canonical, ExampleCanonical(ex));
    // The canonical form is itself a valid event that renders to the same bytes.
    ASSERT_OK_AND_ASSIGN(Event again, ParseEventJson(canonical, CodecOptions()));
    EXPECT_EQ(RenderCanonicalEvent(again, again.customer_id), canonical);
    EXPECT_OK(ValidateEvent(ev, CodecOptions()));
  }
}

TEST(ParseEventJsonTest, EveryTypeParsesWithOnlyItsRequiredFields) {
  for (const auto& ex : Examples()) {
    SCOPED_TRACE(ex.type);
    Members data_changes;
    for (const auto& [field, value] : ex.data) {
      bool required = std::find(ex.required.begin(), ex.required.end(), field) != ex.required.end();
      if (!required && !(ex.type == "survey_response" && field == "csat")) {
        data_changes.emplace_back(field, kOmit);
      }
    }
    EXPECT_THAT(ParseEventJson(ExampleJson(ex, data_changes), CodecOptions()), IsOk());
  }
}

TEST(ParseEventJsonTest, DataMayBeOmittedOrEmptyWhenNothingIsRequired) {
  ASSERT_OK_AND_ASSIGN(Event omitted, ParseEventJson(Ev(), CodecOptions()));
  ASSERT_OK_AND_ASSIGN(Event empty, ParseEventJson(Typed("visit", "{}"), CodecOptions()));
  const std::string expected =
      R"({"channel":"store","customer_id":"C-1001","data":{},"event_id":"ev-1",)"
      R"("occurred_at":"2026-11-20T10:15:00Z","source":"pos","type":"visit"})";
  EXPECT_EQ(RenderCanonicalEvent(omitted, omitted.customer_id), expected);
  EXPECT_EQ(RenderCanonicalEvent(empty, empty.customer_id), expected);
}

TEST(ParseEventJsonTest, DataBeforeTypeParsesTheSame) {
  const std::string data_first =
      R"({"data":{"topic":"warranty"},"type":"inquiry","event_id":"ev-1","customer_id":"C-1",)"
      R"("occurred_at":"2026-11-20T10:15:00Z","channel":"web","source":"crm"})";
  ASSERT_OK_AND_ASSIGN(Event ev, ParseEventJson(data_first, CodecOptions()));
  EXPECT_EQ(ev.type, EventType::kInquiry);
  EXPECT_EQ(ev.data.topic, "warranty");
  EXPECT_EQ(RenderCanonicalEvent(ev, ev.customer_id),
            R"({"channel":"web","customer_id":"C-1","data":{"topic":"warranty"},)"
            R"("event_id":"ev-1","occurred_at":"2026-11-20T10:15:00Z","source":"crm",)"
            R"("type":"inquiry"})");
}

TEST(ParseEventJsonTest, AcceptsValuesAtTheirLimits) {
  const std::string e_acute = "\xc3\xa9";
  const std::string grinning = "\xf0\x9f\x98\x80";
  const std::string pictograph_key = Repeat(grinning, 256);
  const std::vector<std::string> good = {
      Ev({{"event_id", Q(Repeat("a", 128))}}),
      Ev({{"event_id", Q(R"(!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~)")}}),  // 0x21-0x7E
      Ev({{"customer_id", Q(Repeat("C", 128))}}),
      // identity.value counts characters: 256 two- and four-byte characters pass.
      Ev({{"identity", StrCat(R"({"kind":"external","value":)", Q(Repeat(e_acute, 256)), "}")}}),
      Ev({{"identity", StrCat(R"({"kind":"account","value":)", Q(Repeat(grinning, 256)), "}")}}),
      Ev({{"identity", StrCat(R"({"kind":"account","value":)", Q(Repeat("x", 256)), "}")}}),
      Ev({{"source", Q(Repeat(e_acute, 64))}}),
      Ev({{"actor", Q(Repeat("a", 128))}, {"conversation_id", Q(Repeat(grinning, 128))}}),
      Typed("visit", StrCat(R"({"summary":)", Q(Repeat(grinning, 4096)), "}")),
      Typed("fact_recorded", StrCat(R"({"key":)", Q(Repeat("k", 256)), R"(,"value":)",
                                    Q(Repeat(e_acute, 256)), "}")),
      Typed("message", StrCat(R"({"direction":"inbound","summary":"s","answers":{)",
                              Q(pictograph_key), ":", Q(Repeat("n", 4096)), "}}")),
      Ev({{"expected_version", "0"}}),
      Ev({{"expected_version", "9223372036854775807"}}),
      Typed("purchase", R"({"order_id":"O","amount_minor":9223372036854775807,"currency":"CNY"})"),
      Typed("purchase", R"({"order_id":"O","amount_minor":1,"currency":"XXX","items":[]})"),
      Typed("points_adjusted", R"({"points":-9223372036854775808,"reason":"r"})"),
      Typed("points_redeemed", R"({"points":1,"reward":"r"})"),
      Typed("survey_response", R"({"survey":"s","csat":1})"),
      Typed("survey_response", R"({"survey":"s","nps":0})"),
      Typed("survey_response", R"({"survey":"s","nps":10,"csat":5})"),
      Typed("preference_observed", R"({"key":"k","value":"v","weight":5e-324})"),
      Typed("preference_observed", R"({"key":"k","value":"v","weight":1e308})"),
      PurchaseWithItems(R"([{"sku":"A","quantity":1,"unit_price_minor":0}])"),
      Ev({{"occurred_at", Q("0001-01-01T00:00:00Z")}}),
      Ev({{"occurred_at", Q("9999-12-31T23:59:59.999999Z")}}),
      Ev({{"occurred_at", Q("2999-01-01T00:00:00Z")}}),  // the future is accepted
      Ev({{"identity", R"({"kind":"phone","value":"x1"})"}}),
      Ev({{"identity", R"({"kind":"web_cookie","value":" "})"}}),  // only emails are trimmed
      Ev({{"identity", R"({"kind":"loyalty_card","value":"L-1"})"}, {"customer_id", kOmit}}),
  };
  for (const auto& json : good) {
    SCOPED_TRACE(json.substr(0, 300));
    EXPECT_THAT(ParseEventJson(json, CodecOptions()), IsOk());
  }
}

TEST(ParseEventJsonTest, AcceptsAnEventOfExactlyMaxEventBytes) {
  std::string json = Ev();
  json.append(64 * 1024 - json.size(), '\n');
  ASSERT_EQ(json.size(), 65536u);
  EXPECT_THAT(ParseEventJson(json, CodecOptions()), IsOk());
  CodecOptions tight;
  tight.max_event_bytes = Ev().size();
  EXPECT_THAT(ParseEventJson(Ev(), tight), IsOk());
}

TEST(ParseEventJsonTest, AcceptsEveryEnumValue) {
  for (std::string_view type : {"visit",
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
                                "tag_removed"}) {
    ASSERT_THAT(EventTypeFromName(type), ::testing::Ne(std::nullopt)) << type;
    EXPECT_EQ(EventTypeName(*EventTypeFromName(type)), type);
  }
  for (std::string_view channel :
       {"phone", "email", "web", "store", "chat", "app", "social", "mail", "other"}) {
    EXPECT_THAT(ParseEventJson(Ev({{"channel", Q(channel)}}), {}), IsOk()) << channel;
    EXPECT_THAT(ParseEventJson(Typed("consent_changed",
                                     StrCat(R"({"purpose":"p","status":"granted","channel":)",
                                            Q(channel), "}")),
                               {}),
                IsOk())
        << channel;
  }
  for (std::string_view kind :
       {"email", "phone", "loyalty_card", "web_cookie", "account", "external"}) {
    EXPECT_THAT(
        ParseEventJson(Ev({{"identity", StrCat(R"({"kind":)", Q(kind), R"(,"value":"a1@b.c"})")}}),
                       {}),
        IsOk())
        << kind;
  }
  for (std::string_view direction : {"inbound", "outbound"}) {
    EXPECT_THAT(
        ParseEventJson(
            Typed("message", StrCat(R"({"summary":"s","direction":)", Q(direction), "}")), {}),
        IsOk());
  }
  for (std::string_view outcome : {"resolved", "unresolved", "abandoned"}) {
    EXPECT_THAT(
        ParseEventJson(Typed("conversation_closed", StrCat(R"({"outcome":)", Q(outcome), "}"),
                             {{"conversation_id", Q("c")}}),
                       {}),
        IsOk());
  }
  for (std::string_view status :
       {"placed", "confirmed", "shipped", "delivered", "cancelled", "returned"}) {
    EXPECT_THAT(
        ParseEventJson(
            Typed("order_status", StrCat(R"({"order_id":"O","status":)", Q(status), "}")), {}),
        IsOk());
  }
  for (std::string_view severity : {"low", "medium", "high"}) {
    EXPECT_THAT(ParseEventJson(
                    Typed("complaint_opened",
                          StrCat(R"({"case_id":"K","category":"c","severity":)", Q(severity), "}")),
                    {}),
                IsOk());
  }
  for (std::string_view status : {"granted", "revoked"}) {
    EXPECT_THAT(
        ParseEventJson(
            Typed("consent_changed", StrCat(R"({"purpose":"p","status":)", Q(status), "}")), {}),
        IsOk());
  }
  for (std::string_view tier : {"member", "silver", "gold", "platinum"}) {
    EXPECT_THAT(ParseEventJson(Typed("tier_override", StrCat(R"({"tier":)", Q(tier), "}")), {}),
                IsOk());
  }
}

TEST(ParseEventJsonTest, TierOverrideUsesTheConfiguredTiers) {
  CodecOptions options;
  options.tiers = {"bronze", "diamond"};
  EXPECT_THAT(ParseEventJson(Typed("tier_override", R"({"tier":"diamond"})"), options), IsOk());
  EXPECT_THAT(ParseEventJson(Typed("tier_override", R"({"tier":"gold"})"), options).status(),
              HasErrorField("data.tier"));
}

TEST(ParseEventJsonTest, IdentityWithoutCustomerIdRendersWithoutOne) {
  ASSERT_OK_AND_ASSIGN(
      Event ev,
      ParseEventJson(Ev({{"customer_id", kOmit},
                         {"identity", R"({"value":" Li.Wei@Example.COM ","kind":"email"})"}}),
                     CodecOptions()));
  EXPECT_EQ(ev.customer_id, "");
  // Accepted values are never changed: the identity stays as given, only resolution normalises.
  const std::string tail =
      R"("data":{},"event_id":"ev-1","identity":{"kind":"email","value":" Li.Wei@Example.COM "},)"
      R"("occurred_at":"2026-11-20T10:15:00Z","source":"pos","type":"visit"})";
  EXPECT_EQ(RenderCanonicalEvent(ev, ""), R"({"channel":"store",)" + tail);
  EXPECT_EQ(RenderCanonicalEvent(ev, "anon-2ce92690f7f490e3"),
            R"({"channel":"store","customer_id":"anon-2ce92690f7f490e3",)" + tail);
  ASSERT_OK_AND_ASSIGN(Event again, ParseEventJson(RenderCanonicalEvent(ev, ""), CodecOptions()));
  EXPECT_EQ(RenderCanonicalEvent(again, ""), RenderCanonicalEvent(ev, ""));
}

TEST(RenderCanonicalTest, PartsSurroundTheCustomerId) {
  ASSERT_OK_AND_ASSIGN(
      Event ev, ParseEventJson(Ev({{"actor", Q("a-1")}, {"conversation_id", Q("c-1")}}), {}));
  CanonicalEventParts parts = RenderCanonicalParts(ev);
  EXPECT_EQ(parts.head, R"({"actor":"a-1","channel":"store","conversation_id":"c-1",)");
  EXPECT_THAT(parts.tail, ::testing::StartsWith(R"("data":)"));
  EXPECT_EQ(parts.head + R"("customer_id":"C-1001",)" + parts.tail,
            RenderCanonicalEvent(ev, "C-1001"));
  EXPECT_EQ(parts.head + parts.tail, RenderCanonicalEvent(ev, ""));

  ASSERT_OK_AND_ASSIGN(Event bare, ParseEventJson(Ev(), {}));
  EXPECT_EQ(RenderCanonicalParts(bare).head, R"({"channel":"store",)");
}

TEST(RenderCanonicalTest, EscapesMinimallyAndKeepsNonAsciiRaw) {
  // Input escapes: \/ \u00e9 \ud83d\ude00 decode; \n \u001f \u0000 " \ stay escaped (lowercase);
  // DEL and non-ASCII are raw.
  const std::string summary_in =
      R"("line1\nline2\u001F\u0000 \"q\" back\\slash \/ \u00e9 \ud83d\ude00 )"
      "\x7f \xe6\x9d\x8e\"";
  ASSERT_OK_AND_ASSIGN(Event ev,
                       ParseEventJson(Typed("visit", StrCat(R"({"summary":)", summary_in, "}"),
                                            {{"event_id", Q(R"(a\"b\\c\/d)")}}),
                                      {}));
  EXPECT_EQ(ev.event_id, "a\"b\\c/d");
  const std::string expected =
      R"({"channel":"store","customer_id":"C-1001","data":{"summary":)"
      R"("line1\nline2\u001f\u0000 \"q\" back\\slash / )"
      "\xc3\xa9 \xf0\x9f\x98\x80 \x7f \xe6\x9d\x8e\"},"
      R"("event_id":"a\"b\\c/d","occurred_at":"2026-11-20T10:15:00Z","source":"pos",)"
      R"("type":"visit"})";
  EXPECT_EQ(RenderCanonicalEvent(ev, ev.customer_id), expected);
  ASSERT_OK_AND_ASSIGN(Event again, ParseEventJson(expected, {}));
  EXPECT_EQ(RenderCanonicalEvent(again, again.customer_id), expected);
}

TEST(RenderCanonicalTest, NormalisesTimestampsToUtcMicroseconds) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case kCases[] = {
      {"2026-11-20T10:15:00.1234567+08:00", "2026-11-20T02:15:00.123456Z"},
      {"2026-11-20T10:15:00.000000Z", "2026-11-20T10:15:00Z"},
      {"2026-11-20T10:15:00.0000009Z", "2026-11-20T10:15:00Z"},
      {"2026-11-20T10:15:00.5-01:30", "2026-11-20T11:45:00.500000Z"},
      {"2027-01-01t07:00:00z", "2027-01-01T07:00:00Z"},
      {"2027-01-01T07:00:00+08:00", "2026-12-31T23:00:00Z"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.in);
    ASSERT_OK_AND_ASSIGN(
        Event ev,
        ParseEventJson(Typed("commitment_made",
                             StrCat(R"({"commitment_id":"c","action":"a","due_at":)", Q(c.in), "}"),
                             {{"occurred_at", Q(c.in)}}),
                       {}));
    std::string canonical = RenderCanonicalEvent(ev, ev.customer_id);
    EXPECT_THAT(canonical, HasSubstr(StrCat(R"("due_at":")", c.out, "\"")));
    EXPECT_THAT(canonical, HasSubstr(StrCat(R"("occurred_at":")", c.out, "\"")));
  }
}

TEST(RenderCanonicalTest, SortsAnswersByUtf16CodeUnits) {
  // U+1F600 (UTF-16 D83D DE00) sorts before U+FF61, though its UTF-8 bytes sort after; "Z"
  // before "a"; a prefix before its extensions.
  const std::string grinning = "\xf0\x9f\x98\x80";
  const std::string ff61 = "\xef\xbd\xa1";
  ASSERT_OK_AND_ASSIGN(
      Event ev,
      ParseEventJson(Typed("message", StrCat(R"({"direction":"inbound","summary":"s","answers":{)",
                                             Q(ff61), R"(:"1","ab":"2",)", Q(grinning),
                                             R"(:"3","a":"4","Z":"5","\u00e9":"6"}})")),
                     {}));
  EXPECT_THAT(RenderCanonicalEvent(ev, ev.customer_id),
              HasSubstr(StrCat(R"("answers":{"Z":"5","a":"4","ab":"2",)", "\"\xc3\xa9\":\"6\",",
                               Q(grinning), R"(:"3",)", Q(ff61), R"(:"1"})")));
}

TEST(RenderCanonicalTest, RendersNumbersCanonically) {
  struct Case {
    std::string weight_in;
    std::string weight_out;  // ECMAScript Number::toString
  };
  const Case kCases[] = {
      {"1", "1"},
      {"1.0", "1"},
      {"2.50", "2.5"},
      {"1e2", "100"},
      {"0.1", "0.1"},
      {"1E-7", "1e-7"},
      {"1e21", "1e+21"},
      {"123456789.123", "123456789.123"},
      {"0.000001", "0.000001"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.weight_in);
    ASSERT_OK_AND_ASSIGN(
        Event ev,
        ParseEventJson(Typed("preference_observed",
                             StrCat(R"({"key":"k","value":"v","weight":)", c.weight_in, "}")),
                       {}));
    EXPECT_THAT(RenderCanonicalEvent(ev, ev.customer_id),
                HasSubstr(StrCat(R"("weight":)", c.weight_out, "}")));
  }
  ASSERT_OK_AND_ASSIGN(Event neg, ParseEventJson(Ev({{"expected_version", "-0"}}), {}));
  EXPECT_THAT(RenderCanonicalEvent(neg, neg.customer_id), HasSubstr(R"("expected_version":0,)"));
}

TEST(RenderCanonicalTest, RoundTripIsAFixedPoint) {
  // parse(render(x)) renders to render(x) for every example, with and without optional members.
  for (const auto& ex : Examples()) {
    for (const Members& changes :
         {Members{}, Members{{"actor", Q("assoc-17")}, {"expected_version", "3"}},
          Members{{"identity", R"({"kind":"phone","value":"+86 138 0013 8000"})"}},
          Members{{"customer_id", kOmit},
                  {"identity", R"({"kind":"web_cookie","value":"ck-\u00e9"})"}}}) {
      std::string json = ExampleJson(ex, {}, changes);
      SCOPED_TRACE(json);
      ASSERT_OK_AND_ASSIGN(Event ev, ParseEventJson(json, {}));
      std::string once = RenderCanonicalEvent(ev, ev.customer_id);
      ASSERT_OK_AND_ASSIGN(Event again, ParseEventJson(once, {}));
      EXPECT_EQ(RenderCanonicalEvent(again, again.customer_id), once);
    }
  }
}

TEST(ValidateEventTest, ChecksEventsBuiltInCode) {
  Event ev;
  ev.event_id = "ev-1";
  ev.type = EventType::kTagAssigned;
  ev.customer_id = "C-1";
  ev.channel = Channel::kApp;
  ev.source = "app";
  EXPECT_THAT(ValidateEvent(ev, {}), HasErrorField("data.tag"));
  ev.data.tag = "vip";
  ev.data.Set(DataField::kTag);
  EXPECT_OK(ValidateEvent(ev, {}));
  ev.data.Set(DataField::kAmountMinor);  // not a field of tag_assigned
  EXPECT_THAT(ValidateEvent(ev, {}), HasErrorField("data.amount_minor"));
  ev.data.present = 0;
  ev.data.Set(DataField::kTag);
  ev.customer_id.clear();
  EXPECT_THAT(ValidateEvent(ev, {}), HasErrorField("customer_id"));
  ev.identity = Identity{IdentityKind::kPhone, "no digits"};
  EXPECT_THAT(ValidateEvent(ev, {}), HasErrorField("identity.value"));
  ev.identity->value = "+1 555";
  EXPECT_OK(ValidateEvent(ev, {}));
  ev.expected_version = -1;
  EXPECT_THAT(ValidateEvent(ev, {}),
              ::testing::AllOf(HasErrorField("expected_version"), HasErrorCode("invalid_field")));
}

// ---------------------------------------------------------------------------------------------
// Identity normalisation (ledger/identity.h, CONTRACT §1).

TEST(IdentityTest, EmailIsTrimmedAndAsciiLowercased) {
  EXPECT_THAT(NormalizeIdentityValue(IdentityKind::kEmail, "  Li.Wei@Example.COM\t\n"),
              Optional(std::string("li.wei@example.com")));
  // Non-ASCII letters are left alone: Ä stays Ä, É stays É.
  EXPECT_THAT(NormalizeIdentityValue(IdentityKind::kEmail, "\xc3\x84XY@\xc3\x89xample.com"),
              Optional(std::string("\xc3\x84xy@\xc3\x89xample.com")));
  EXPECT_THAT(NormalizeIdentityValue(IdentityKind::kEmail, "a b@c"),
              Optional(std::string("a b@c")));  // inner spaces are kept
  EXPECT_EQ(NormalizeIdentityValue(IdentityKind::kEmail, " \t\r\n "), std::nullopt);
  EXPECT_EQ(NormalizeIdentityValue(IdentityKind::kEmail, ""), std::nullopt);
}

TEST(IdentityTest, PhoneKeepsAsciiDigitsOnly) {
  EXPECT_THAT(NormalizeIdentityValue(IdentityKind::kPhone, "+86 (138) 0013-8000"),
              Optional(std::string("8613800138000")));
  EXPECT_THAT(NormalizeIdentityValue(IdentityKind::kPhone, "0"), Optional(std::string("0")));
  // Fullwidth digits (U+FF11) are not ASCII digits.
  EXPECT_THAT(NormalizeIdentityValue(IdentityKind::kPhone, "\xef\xbc\x91 2"),
              Optional(std::string("2")));
  EXPECT_EQ(NormalizeIdentityValue(IdentityKind::kPhone, "\xef\xbc\x91"), std::nullopt);
  EXPECT_EQ(NormalizeIdentityValue(IdentityKind::kPhone, "n/a"), std::nullopt);
}

TEST(IdentityTest, OtherKindsAreExact) {
  for (IdentityKind kind : {IdentityKind::kLoyaltyCard, IdentityKind::kWebCookie,
                            IdentityKind::kAccount, IdentityKind::kExternal}) {
    EXPECT_THAT(NormalizeIdentityValue(kind, " Card-0042 "), Optional(std::string(" Card-0042 ")))
        << IdentityKindName(kind);
  }
}

TEST(IdentityTest, KeyIsKindColonNormalisedValue) {
  EXPECT_EQ(IdentityKey({IdentityKind::kEmail, " Li.Wei@Example.com "}),
            "email:li.wei@example.com");
  EXPECT_EQ(IdentityKey({IdentityKind::kPhone, "+86 138-0013-8000"}), "phone:8613800138000");
  EXPECT_EQ(IdentityKey({IdentityKind::kLoyaltyCard, "L-1"}), "loyalty_card:L-1");
  EXPECT_EQ(IdentityKey({IdentityKind::kWebCookie, "ck"}), "web_cookie:ck");
  EXPECT_EQ(IdentityKey({IdentityKind::kAccount, "Acc"}), "account:Acc");
  EXPECT_EQ(IdentityKey({IdentityKind::kExternal, "x"}), "external:x");
}

TEST(IdentityTest, AnonymousCustomerIdIsAnonPlus16HexOfSha256) {
  // printf 'email:li.wei@example.com' | sha256sum
  //   2ce92690f7f490e378b19350924057fc395c076d13d55059867005a9e7ceecda
  EXPECT_EQ(AnonymousCustomerId("email:li.wei@example.com"), "anon-2ce92690f7f490e3");
  EXPECT_EQ(AnonymousCustomerId(IdentityKey({IdentityKind::kEmail, " LI.WEI@example.com"})),
            "anon-2ce92690f7f490e3");
  // printf 'phone:8613800138000' | sha256sum
  //   7a8ec5b45b5d18ad440ac8f95606e27635947d9eeb80d8f1aa1ff4fe5520f0eb
  EXPECT_EQ(AnonymousCustomerId(IdentityKey({IdentityKind::kPhone, "+86 138 0013 8000"})),
            "anon-7a8ec5b45b5d18ad");
  EXPECT_TRUE(IsAnonymousCustomerId("anon-7a8ec5b45b5d18ad"));
  EXPECT_FALSE(IsAnonymousCustomerId("C-1001"));
  // An anonymous id is itself a valid customer id.
  EXPECT_THAT(ParseEventJson(Ev({{"customer_id", Q("anon-2ce92690f7f490e3")}}), {}), IsOk());
}

// ---------------------------------------------------------------------------------------------
// The status matchers themselves (tests/testing/status_matchers.h), so that a passing case above
// cannot come from a matcher that accepts anything.

TEST(StatusMatchersTest, MatchStatusAndStatusOr) {
  const absl::Status ok = absl::OkStatus();
  const absl::Status bad = InvalidField("data.items[0].quantity", "must be an integer >= 1");
  const absl::StatusOr<int> ok_or = 7;
  const absl::StatusOr<int> bad_or = bad;

  EXPECT_THAT(ok, IsOk());
  EXPECT_THAT(ok_or, IsOk());
  EXPECT_THAT(bad, ::testing::Not(IsOk()));
  EXPECT_THAT(bad_or, ::testing::Not(IsOk()));

  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad_or, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(">= 1")));
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument,
                            "data.items[0].quantity: must be an integer >= 1"));
  EXPECT_THAT(bad, ::testing::Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(bad, ::testing::Not(StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("x!"))));
  EXPECT_THAT(ok, StatusIs(absl::StatusCode::kOk));

  EXPECT_THAT(bad, HasErrorField("data.items[0].quantity"));
  EXPECT_THAT(bad_or, HasErrorField(::testing::StartsWith("data.items")));
  EXPECT_THAT(bad, ::testing::Not(HasErrorField("data.items[1].quantity")));
  EXPECT_THAT(bad, ::testing::Not(HasErrorField("")));
  EXPECT_THAT(InvalidJson("", "oops"), HasErrorField(""));
  EXPECT_THAT(ok, HasErrorField(""));

  EXPECT_THAT(bad, HasErrorCode("invalid_field"));
  EXPECT_THAT(TooLarge("big"), HasErrorCode("too_large"));
  EXPECT_THAT(bad, ::testing::Not(HasErrorCode("invalid_json")));
}

TEST(StatusMatchersTest, ExplainMismatches) {
  const absl::Status bad = InvalidField("event_id", "required");
  ::testing::StringMatchResultListener listener;
  EXPECT_FALSE(::testing::ExplainMatchResult(IsOk(), bad, &listener));
  EXPECT_THAT(listener.str(), HasSubstr("event_id: required"));

  ::testing::StringMatchResultListener field_listener;
  EXPECT_FALSE(::testing::ExplainMatchResult(HasErrorField("type"), bad, &field_listener));
  EXPECT_THAT(field_listener.str(), HasSubstr("\"event_id\""));

  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(HasErrorField("type")),
            "has an error field that is equal to \"type\"");
}

TEST(StatusMatchersTest, AssertOkAndAssignMovesTheValue) {
  ASSERT_OK_AND_ASSIGN(std::string value, absl::StatusOr<std::string>("moved"));
  EXPECT_EQ(value, "moved");
  std::string existing;
  ASSERT_OK_AND_ASSIGN(existing, absl::StatusOr<std::string>("again"));
  EXPECT_EQ(existing, "again");
  ASSERT_OK(absl::OkStatus());
  EXPECT_OK(absl::StatusOr<int>(1));
  ::testing::AssertionResult result = ::rapport::testing::internal::AssertOk(
      "Fetch()", absl::StatusOr<int>(absl::UnavailableError("broker down")));
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), HasSubstr("Fetch() is not OK"));
  EXPECT_THAT(result.message(), HasSubstr("broker down"));
}

}  // namespace
}  // namespace rapport::ledger
