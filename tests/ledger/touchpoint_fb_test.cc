#include "ledger/touchpoint_fb.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "flatbuffers/flatbuffers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/codec.h"
#include "ledger/errors.h"
#include "ledger/event.h"
#include "ledger/strings.h"
#include "schemas/ledger_record_generated.h"
#include "schemas/touchpoint_generated.h"
#include "tests/testing/status_matchers.h"
#include "tools/gen.h"

namespace rapport::ledger {
namespace {

namespace fb = ::rapport::schemas;
using ::rapport::testing::HasErrorCode;
using ::rapport::testing::HasErrorField;
using ::rapport::testing::IsOk;
using ::rapport::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using Builder = flatbuffers::FlatBufferBuilder;
using DataFn = std::function<flatbuffers::Offset<void>(Builder&)>;

constexpr std::string_view kInvalidField = kCodeInvalidField;
constexpr std::string_view kInvalidJson = kCodeInvalidJson;

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

std::string Q(std::string_view s) { return StrCat("\"", s, "\""); }

std::string Canonical(const Event& ev) { return RenderCanonicalEvent(ev, ev.customer_id); }

// Field by field, then the canonical rendering, which covers every present `data` value.
void ExpectSameEvent(const Event& got, const Event& want) {
  EXPECT_EQ(got.event_id, want.event_id);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.customer_id, want.customer_id);
  EXPECT_EQ(got.identity, want.identity);
  EXPECT_EQ(got.occurred_at, want.occurred_at);
  EXPECT_EQ(got.channel, want.channel);
  EXPECT_EQ(got.source, want.source);
  EXPECT_EQ(got.actor, want.actor);
  EXPECT_EQ(got.conversation_id, want.conversation_id);
  EXPECT_EQ(got.expected_version, want.expected_version);
  EXPECT_EQ(got.data.present, want.data.present);
  EXPECT_EQ(Canonical(got), Canonical(want));
}

Event ParseOrDie(const std::string& json) {
  auto ev = ParseEventJson(json, CodecOptions{});
  if (!ev.ok()) {
    ADD_FAILURE() << "bad test event " << json << ": " << ev.status();
    return Event{};
  }
  return *std::move(ev);
}

// JSON → Event → FlatBuffers → Event must give back the JSON-parsed Event, and encoding again
// must give the same bytes.
void ExpectRoundTrip(const std::string& json) {
  SCOPED_TRACE(json.size() <= 600 ? json : json.substr(0, 600) + "...");
  Event want = ParseOrDie(json);
  std::string bytes = EncodeTouchpoint(want);
  auto got = DecodeTouchpoint(bytes, CodecOptions{});
  ASSERT_THAT(got.status(), IsOk());
  ExpectSameEvent(*got, want);
  EXPECT_EQ(EncodeTouchpoint(*got), bytes);
}

// ---------------------------------------------------------------------------------------------
// The schema and the event model agree.

std::string CamelCase(std::string_view snake) {
  std::string out;
  bool upper = true;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

TEST(TouchpointSchemaTest, UnionMembersAreTheEventTypesInOrder) {
  for (int i = 0; i < kNumEventTypes; ++i) {
    EXPECT_EQ(fb::EnumNameEventData(static_cast<fb::EventData>(i + 1)),
              CamelCase(EventTypeName(static_cast<EventType>(i))));
  }
  EXPECT_EQ(static_cast<int>(fb::EventData::MAX), kNumEventTypes);
}

TEST(TouchpointSchemaTest, EnumNamesAreTheContractNames) {
  for (int i = 0; i < kNumChannels; ++i) {
    EXPECT_EQ(fb::EnumNameChannel(static_cast<fb::Channel>(i)),
              ChannelName(static_cast<Channel>(i)));
  }
  EXPECT_EQ(static_cast<int>(fb::Channel::MAX) + 1, kNumChannels);
  for (int i = 0; i < kNumIdentityKinds; ++i) {
    EXPECT_EQ(fb::EnumNameIdentityKind(static_cast<fb::IdentityKind>(i)),
              IdentityKindName(static_cast<IdentityKind>(i)));
  }
  EXPECT_EQ(static_cast<int>(fb::IdentityKind::MAX) + 1, kNumIdentityKinds);
}

// ---------------------------------------------------------------------------------------------
// Round trips.

TEST(TouchpointRoundTripTest, EveryEventOfGenWorkloadsRoundTrips) {
  std::set<EventType> types;
  size_t n = 0;
  for (uint64_t seed : {1, 2, 3}) {
    tools::GenOptions options;
    options.customers = 300;
    options.events = 4000;
    options.seed = seed;
    tools::GenerateWorkload(options, [&](std::string_view line) {
      if (::testing::Test::HasFailure()) return;  // one failure is enough to read
      ExpectRoundTrip(std::string(line));
      types.insert(ParseOrDie(std::string(line)).type);
      ++n;
    });
  }
  EXPECT_EQ(n, 12000u);
  // The workload is realistic rather than exhaustive; the hand-written set below covers the rest.
  EXPECT_GE(types.size(), 20u);
}

// One event of every type with every optional `data` field; the envelope with every optional
// member. Deliberately awkward values: int64 extremes, fractions beyond microseconds, offsets,
// answer keys whose UTF-16 order differs from their byte order, NUL and control characters.
std::vector<std::pair<std::string, std::string>> FullData() {
  return {
      {"visit", R"({"location":"Store 12","summary":"Browsed laptops"})"},
      {"inquiry", R"({"topic":"warranty","summary":"Asked about\nthe warranty"})"},
      {"conversation_opened", R"({"topic":"delivery","summary":"Where is my parcel?"})"},
      {"message",
       R"({"direction":"inbound","summary":"Which size?","asks":["size","colour","size"],)"
       R"("answers":{"shoe_size":"42","\uff01":"fullwidth","\ud83d\ude00":"grin","a\u0000b":"nul"}})"},
      {"conversation_closed", R"({"outcome":"abandoned","summary":"No reply"})"},
      {"commitment_made",
       R"({"commitment_id":"cm-1","action":"Call back","due_at":"2026-11-21T09:00:00.1234567+08:00"})"},
      {"commitment_fulfilled", R"({"commitment_id":"cm-1"})"},
      {"fact_recorded", R"({"key":"diet","value":"vegetarian"})"},
      {"preference_stated", R"({"key":"wine","value":"one ice cube"})"},
      {"preference_observed", R"({"key":"room","value":"high floor","weight":0.1})"},
      {"preference_retracted", R"({"key":"room"})"},
      {"purchase",
       R"({"order_id":"O-1","amount_minor":9223372036854775807,"currency":"CNY","items":[)"
       R"({"sku":"PC-X1","category":"computers","quantity":2,"unit_price_minor":0},{"sku":"CASE"}]})"},
      {"refund", R"({"order_id":"O-1","amount_minor":5000,"currency":"EUR"})"},
      {"order_status", R"({"order_id":"O-1","status":"returned"})"},
      {"complaint_opened",
       R"({"case_id":"K-7","category":"delivery","severity":"medium","summary":"Late"})"},
      {"complaint_resolved", R"({"case_id":"K-7","resolution":"Voucher","satisfied":true})"},
      {"complaint_resolved", R"({"case_id":"K-7","satisfied":false})"},
      {"suggestion", R"({"topic":"app","summary":"Dark mode"})"},
      {"survey_response", R"({"survey":"post-visit","csat":1,"nps":0,"comment":"ok"})"},
      {"points_adjusted", R"({"points":-9223372036854775808,"reason":"Correction"})"},
      {"points_redeemed", R"({"points":1000,"reward":"Coffee"})"},
      {"tier_override", R"({"tier":"platinum","until":"2027-01-01T08:00:00+08:00"})"},
      {"consent_changed", R"({"purpose":"marketing","status":"granted","channel":"social"})"},
      {"identity_linked", R"({"identity":{"kind":"loyalty_card","value":" L-1 "}})"},
      {"tag_assigned", R"({"tag":"vip"})"},
      {"tag_removed", R"({"tag":"vip"})"},
  };
}

std::string FullEvent(const std::string& type, const std::string& data) {
  return StrCat(R"({"event_id":"pos-7781-0001","type":)", Q(type),
                R"(,"customer_id":"C-1001","identity":{"kind":"web_cookie","value":"ck-9"},)",
                R"("occurred_at":"2026-11-20T18:15:00.5+08:00","channel":"store","source":"pos",)",
                R"("actor":"assoc-17","conversation_id":"conv-42","expected_version":12,"data":)",
                data, "}");
}

TEST(TouchpointRoundTripTest, EveryTypeWithEveryOptionalFieldRoundTrips) {
  std::vector<uint64_t> present(kNumEventTypes, 0);
  for (const auto& [type, data] : FullData()) {
    std::string json = FullEvent(type, data);
    ExpectRoundTrip(json);
    Event ev = ParseOrDie(json);
    present[static_cast<int>(ev.type)] |= ev.data.present;
  }
  // Every field of every type was carried (a field the codec forgot would differ above only if
  // some example had it).
  for (int t = 0; t < kNumEventTypes; ++t) {
    uint64_t all = 0;
    for (const auto& spec : DataFieldsOf(static_cast<EventType>(t))) {
      all |= uint64_t{1} << static_cast<int>(spec.field);
    }
    EXPECT_EQ(present[t], all) << EventTypeName(static_cast<EventType>(t));
  }
}

TEST(TouchpointRoundTripTest, MinimalEnvelopesRoundTrip) {
  // Only required members; identity without customer_id; expected_version 0; empty data.
  ExpectRoundTrip(
      R"({"event_id":"e","type":"visit","customer_id":"C","occurred_at":"2026-11-20T10:15:00Z",)"
      R"("channel":"web","source":"s"})");
  ExpectRoundTrip(
      R"({"event_id":"e","type":"visit","identity":{"kind":"email","value":" Li@X.com"},)"
      R"("occurred_at":"1970-01-01T00:00:00Z","channel":"web","source":"s","expected_version":0,)"
      R"("data":{}})");
  ExpectRoundTrip(
      R"({"event_id":"e","type":"tag_assigned","customer_id":"C","occurred_at":"0001-01-01T00:00:00Z",)"
      R"("channel":"other","source":"s","data":{"tag":"t"}})");
  ExpectRoundTrip(
      R"({"event_id":"e","type":"tag_assigned","customer_id":"C","occurred_at":"9999-12-31T23:59:59.999999Z",)"
      R"("channel":"mail","source":"s","data":{"tag":"t"}})");
}

TEST(TouchpointRoundTripTest, EveryEnumValueRoundTrips) {
  for (int c = 0; c < kNumChannels; ++c) {
    std::string name(ChannelName(static_cast<Channel>(c)));
    ExpectRoundTrip(
        FullEvent("visit", "{}").replace(FullEvent("visit", "{}").find("store"), 5, name));
    ExpectRoundTrip(
        FullEvent("consent_changed",
                  StrCat(R"({"purpose":"p","status":"revoked","channel":)", Q(name), "}")));
  }
  for (int k = 0; k < kNumIdentityKinds; ++k) {
    ExpectRoundTrip(FullEvent(
        "identity_linked",
        StrCat(R"({"identity":{"kind":)", Q(IdentityKindName(static_cast<IdentityKind>(k))),
               R"(,"value":"+86 1"}})")));
  }
  for (std::string_view v : {"inbound", "outbound"}) {
    ExpectRoundTrip(FullEvent("message", StrCat(R"({"direction":)", Q(v), R"(,"summary":"s"})")));
  }
  for (std::string_view v : {"resolved", "unresolved", "abandoned"}) {
    ExpectRoundTrip(FullEvent("conversation_closed", StrCat(R"({"outcome":)", Q(v), "}")));
  }
  for (std::string_view v :
       {"placed", "confirmed", "shipped", "delivered", "cancelled", "returned"}) {
    ExpectRoundTrip(FullEvent("order_status", StrCat(R"({"order_id":"O","status":)", Q(v), "}")));
  }
  for (std::string_view v : {"low", "medium", "high"}) {
    ExpectRoundTrip(FullEvent("complaint_opened",
                              StrCat(R"({"case_id":"K","category":"c","severity":)", Q(v), "}")));
  }
}

// ---------------------------------------------------------------------------------------------
// Buffers built by hand, as a producer with the generated API (or flatc) would build them.

// A Touchpoint whose every part can be left out or set to a value no encoder of ours writes.
// The defaults are the valid `visit` event `ValidJson()`.
struct RawIdentity {
  int kind = 0;
  std::optional<std::string> value = "a@b.c";
};

struct RawTouchpoint {
  std::optional<std::string> event_id = "ev-1";
  std::optional<std::string> customer_id = "C-1001";
  std::optional<RawIdentity> identity;
  std::optional<std::string> occurred_at = "2026-11-20T10:15:00Z";
  std::optional<int> channel = static_cast<int>(fb::Channel::store);
  std::optional<std::string> source = "pos";
  std::optional<std::string> actor;
  std::optional<std::string> conversation_id;
  std::optional<int64_t> expected_version;
  int data_type = static_cast<int>(fb::EventData::Visit);
  DataFn data;                 // empty: no table
  bool unknown_field = false;  // a field after `data`, as a newer schema would add
};

std::string ValidJson() {
  return R"({"event_id":"ev-1","type":"visit","customer_id":"C-1001",)"
         R"("occurred_at":"2026-11-20T10:15:00Z","channel":"store","source":"pos"})";
}

flatbuffers::Offset<fb::Identity> BuildRawIdentity(Builder& fbb, const RawIdentity& id,
                                                   bool unknown_field = false) {
  auto value = id.value ? fbb.CreateString(*id.value) : flatbuffers::Offset<flatbuffers::String>();
  auto start = fbb.StartTable();
  fbb.AddOffset(fb::Identity::VT_VALUE, value);
  fbb.AddElement<int8_t>(fb::Identity::VT_KIND, static_cast<int8_t>(id.kind), 0);
  if (unknown_field) fbb.AddElement<int32_t>(fb::Identity::VT_VALUE + 2, 7, 0);
  return flatbuffers::Offset<fb::Identity>(fbb.EndTable(start));
}

std::string Finish(Builder& fbb, flatbuffers::Offset<fb::Touchpoint> root) {
  fb::FinishTouchpointBuffer(fbb, root);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string Build(const RawTouchpoint& raw) {
  Builder fbb;
  auto str = [&](const std::optional<std::string>& s) {
    return s ? fbb.CreateString(*s) : flatbuffers::Offset<flatbuffers::String>();
  };
  auto event_id = str(raw.event_id);
  auto customer_id = str(raw.customer_id);
  auto identity =
      raw.identity ? BuildRawIdentity(fbb, *raw.identity) : flatbuffers::Offset<fb::Identity>();
  auto occurred_at = str(raw.occurred_at);
  auto source = str(raw.source);
  auto actor = str(raw.actor);
  auto conversation_id = str(raw.conversation_id);
  auto data = raw.data ? raw.data(fbb) : flatbuffers::Offset<void>();
  fb::TouchpointBuilder b(fbb);
  b.add_event_id(event_id);
  b.add_customer_id(customer_id);
  b.add_identity(identity);
  b.add_occurred_at(occurred_at);
  if (raw.channel) b.add_channel(static_cast<fb::Channel>(*raw.channel));
  b.add_source(source);
  b.add_actor(actor);
  b.add_conversation_id(conversation_id);
  if (raw.expected_version) b.add_expected_version(*raw.expected_version);
  b.add_data_type(static_cast<fb::EventData>(raw.data_type));
  b.add_data(data);
  if (raw.unknown_field) fbb.AddElement<int32_t>(fb::Touchpoint::VT_DATA + 2, 7, 0);
  return Finish(fbb, b.Finish());
}

TEST(DecodeTouchpointTest, HandBuiltDefaultIsTheValidJsonEvent) {
  auto got = DecodeTouchpoint(Build(RawTouchpoint{}), CodecOptions{});
  ASSERT_THAT(got.status(), IsOk());
  ExpectSameEvent(*got, ParseOrDie(ValidJson()));
}

TEST(DecodeTouchpointTest, KeepsWhatTheProducerWroteLikeJson) {
  // Unsorted answers, an offset time with a fraction beyond microseconds, an identity value that
  // normalises differently: the Event is what ParseEventJson makes of the same text.
  RawTouchpoint raw;
  raw.identity = RawIdentity{static_cast<int>(fb::IdentityKind::email), " Li.Wei@Example.com"};
  raw.occurred_at = "2026-11-20t18:15:00.1234569+08:00";
  raw.expected_version = 0;
  raw.data_type = static_cast<int>(fb::EventData::Message);
  raw.data = [](Builder& fbb) {
    std::vector<flatbuffers::Offset<fb::Answer>> answers = {
        fb::CreateAnswerDirect(fbb, "zeta", "z"), fb::CreateAnswerDirect(fbb, "alpha", "a")};
    auto list = fbb.CreateVector(answers);  // not sorted: producers need not sort
    auto summary = fbb.CreateString("s");
    return fb::CreateMessage(fbb, fb::Direction::outbound, summary, 0, list).Union();
  };
  std::string json =
      R"({"event_id":"ev-1","type":"message","customer_id":"C-1001",)"
      R"("identity":{"kind":"email","value":" Li.Wei@Example.com"},)"
      R"("occurred_at":"2026-11-20t18:15:00.1234569+08:00","channel":"store","source":"pos",)"
      R"("expected_version":0,"data":{"direction":"outbound","summary":"s",)"
      R"("answers":{"zeta":"z","alpha":"a"}}})";
  auto got = DecodeTouchpoint(Build(raw), CodecOptions{});
  ASSERT_THAT(got.status(), IsOk());
  ExpectSameEvent(*got, ParseOrDie(json));
}

TEST(DecodeTouchpointTest, AUnionTypeWithoutItsTableIsAnEventWithoutData) {
  RawTouchpoint raw;
  raw.data_type = static_cast<int>(fb::EventData::Visit);
  auto got = DecodeTouchpoint(Build(raw), CodecOptions{});
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(got->data.present, 0u);
}

TEST(DecodeTouchpointTest, ReadsUnalignedInput) {
  std::string bytes = EncodeTouchpoint(ParseOrDie(FullEvent("purchase", FullData()[11].second)));
  for (size_t offset = 1; offset < 8; ++offset) {
    std::string shifted = std::string(offset, '\0') + bytes;
    auto got = DecodeTouchpoint(std::string_view(shifted).substr(offset), CodecOptions{});
    ASSERT_THAT(got.status(), IsOk());
    EXPECT_EQ(EncodeTouchpoint(*got), bytes);
  }
}

TEST(DecodeTouchpointTest, UsesTheConfiguredTiers) {
  std::string bytes =
      EncodeTouchpoint(ParseOrDie(FullEvent("tier_override", R"({"tier":"gold"})")));
  CodecOptions options;
  options.tiers = {"bronze"};
  EXPECT_THAT(DecodeTouchpoint(bytes, options).status(), HasErrorField("data.tier"));
  options.tiers = {};
  EXPECT_THAT(DecodeTouchpoint(bytes, options).status(), IsOk());
}

TEST(BuildTouchpointTest, EmbedsInALedgerRecord) {
  Event ev = ParseOrDie(FullEvent("purchase", FullData()[11].second));
  Builder fbb;
  auto touchpoint = BuildTouchpoint(fbb, ev);
  auto event_id = fbb.CreateString(ev.event_id);
  fb::LedgerRecordBuilder b(fbb);
  b.add_event_id(event_id);
  b.add_touchpoint(touchpoint);
  fb::FinishLedgerRecordBuffer(fbb, b.Finish());
  flatbuffers::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
  ASSERT_TRUE(fb::VerifyLedgerRecordBuffer(verifier));
  const fb::Touchpoint* tp = fb::GetLedgerRecord(fbb.GetBufferPointer())->touchpoint();
  ASSERT_NE(tp, nullptr);
  EXPECT_EQ(tp->event_id()->str(), "pos-7781-0001");
  EXPECT_EQ(tp->occurred_at()->str(), "2026-11-20T10:15:00.500000Z");
  ASSERT_NE(tp->data_as_Purchase(), nullptr);
  EXPECT_EQ(tp->data_as_Purchase()->amount_minor(), INT64_MAX);
  EXPECT_EQ(tp->data_as_Purchase()->items()->size(), 2u);
  // A LedgerRecord is not a Touchpoint, whatever its bytes.
  std::string record(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  EXPECT_THAT(DecodeTouchpoint(record, CodecOptions{}).status(), HasErrorCode("invalid_json"));
}

TEST(EncodeTouchpointTest, WritesCanonicalTimesAndSortedAnswerKeys) {
  Event ev = ParseOrDie(FullEvent("message", FullData()[3].second));
  std::string bytes = EncodeTouchpoint(ev);
  ASSERT_TRUE(fb::TouchpointBufferHasIdentifier(bytes.data()));
  const fb::Touchpoint* tp = fb::GetTouchpoint(bytes.data());
  EXPECT_EQ(tp->occurred_at()->str(), "2026-11-20T10:15:00.500000Z");
  EXPECT_EQ(tp->customer_id()->str(), "C-1001");
  const auto* answers = tp->data_as_Message()->answers();
  ASSERT_EQ(answers->size(), 4u);
  for (flatbuffers::uoffset_t i = 1; i < answers->size(); ++i) {
    EXPECT_TRUE(answers->Get(i - 1)->KeyCompareLessThan(answers->Get(i)));
  }
  EXPECT_NE(answers->LookupByKey("shoe_size"), nullptr);
  Event anon =
      ParseOrDie(R"({"event_id":"e","type":"visit","identity":{"kind":"email","value":"a@b.c"},)"
                 R"("occurred_at":"2026-11-20T10:15:00Z","channel":"web","source":"s"})");
  EXPECT_EQ(fb::GetTouchpoint(EncodeTouchpoint(anon).data())->customer_id(), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Bad events: the same code and field as the JSON path. Each case has the FlatBuffers bytes and,
// when JSON can say the same thing, the equivalent JSON, which must fail the same way.

struct BadCase {
  std::string name;
  std::string bytes;
  std::string json;  // "" when JSON cannot express it
  std::string field;
  std::string_view code = kInvalidField;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

// The canonical JSON of `ev` with `type` moved first. The canonical order puts `data` before
// `type`, and the JSON parser then skips `data` to read it later, reporting malformed text in it
// (invalid UTF-8) at `data` instead of the exact path it gives when `type` comes first.
std::string TypeFirstJson(const Event& ev) {
  std::string json = Canonical(ev);
  size_t at = json.rfind(",\"type\":");
  std::string type = json.substr(at + 1, json.size() - 1 - (at + 1));
  json.erase(at, json.size() - 1 - at);
  return json.insert(1, type + ",");
}

// The valid event parsed from `json`, changed by `mutate`: the encoder writes whatever the Event
// holds, and its canonical rendering gives the equivalent JSON.
BadCase Mutated(std::string name, const std::string& json,
                const std::function<void(Event&)>& mutate, std::string field,
                std::string_view code = kInvalidField) {
  Event ev = ParseOrDie(json);
  mutate(ev);
  return {std::move(name), EncodeTouchpoint(ev), TypeFirstJson(ev), std::move(field), code};
}

std::string Typed(std::string_view type, std::string_view data) {
  return StrCat(R"({"event_id":"ev-1","type":)", Q(type),
                R"(,"customer_id":"C-1001","occurred_at":"2026-11-20T10:15:00Z",)"
                R"("channel":"store","source":"pos","data":)",
                data, "}");
}

// ValidJson() with its member `key` replaced by `value` (JSON text), or dropped when empty.
std::string JsonWith(std::string_view key, std::string_view value) {
  std::string json = ValidJson();
  std::string member = StrCat(Q(key), ":");
  size_t at = json.find(member);
  if (at == std::string::npos) {
    json.pop_back();
    return StrCat(json, ",", member, value, "}");
  }
  size_t end = json.find_first_of(",}", json.find('"', at + member.size() + 1) + 1);
  if (value.empty()) {
    if (json[end] == ',') return json.erase(at, end + 1 - at);
    return json.erase(at - 1, end - at + 1);  // the last member and the comma before it
  }
  return json.replace(at + member.size(), end - at - member.size(), value);
}

std::vector<BadCase> BadCases() {
  std::vector<BadCase> cases;
  auto mutated = [&](std::string name, const std::string& json,
                     const std::function<void(Event&)>& mutate, std::string field,
                     std::string_view code = kInvalidField) {
    cases.push_back(Mutated(std::move(name), json, mutate, std::move(field), code));
  };
  auto raw = [&](std::string name, const std::function<void(RawTouchpoint&)>& change,
                 std::string json, std::string field, std::string_view code = kInvalidField) {
    RawTouchpoint r;
    change(r);
    cases.push_back({std::move(name), Build(r), std::move(json), std::move(field), code});
  };
  const std::string e_acute = "\xc3\xa9";
  const std::string grinning = "\xf0\x9f\x98\x80";
  const std::string visit = ValidJson();
  const std::string message =
      Typed("message", R"({"direction":"inbound","summary":"s",)"
                       R"("asks":["a","b"],"answers":{"k":"v","note":"n"}})");
  const std::string purchase = Typed(
      "purchase",
      R"({"order_id":"O-1","amount_minor":1,"currency":"CNY","items":[{"sku":"A","category":"c"},{"sku":"B"}]})");
  const std::string survey = Typed("survey_response", R"({"survey":"s","csat":3,"nps":7})");
  const std::string identity_linked =
      Typed("identity_linked", R"({"identity":{"kind":"email","value":"a@b.c"}})");

  // --- Missing required members (FlatBuffers: left out).
  raw(
      "MissingEventId", [](auto& r) { r.event_id.reset(); }, JsonWith("event_id", ""), "event_id");
  raw(
      "MissingType", [](auto& r) { r.data_type = 0; }, JsonWith("type", ""), "type");
  raw(
      "MissingOccurredAt", [](auto& r) { r.occurred_at.reset(); }, JsonWith("occurred_at", ""),
      "occurred_at");
  raw(
      "MissingChannel", [](auto& r) { r.channel.reset(); }, JsonWith("channel", ""), "channel");
  raw(
      "MissingSource", [](auto& r) { r.source.reset(); }, JsonWith("source", ""), "source");
  raw(
      "NeitherCustomerIdNorIdentity", [](auto& r) { r.customer_id.reset(); },
      JsonWith("customer_id", ""), "customer_id");
  raw(
      "EmptyTable",
      [](auto& r) {
        r.event_id.reset();
        r.customer_id.reset();
        r.occurred_at.reset();
        r.channel.reset();
        r.source.reset();
        r.data_type = 0;
      },
      "{}", "event_id");
  raw(
      "IdentityWithoutValue",
      [](auto& r) {
        r.identity = RawIdentity{0, std::nullopt};
      },
      JsonWith("identity", R"({"kind":"email"})"), "identity.value");
  raw(
      "DataIdentityWithoutValue",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::IdentityLinked);
        r.data = [](Builder& fbb) {
          auto id = BuildRawIdentity(fbb, RawIdentity{0, std::nullopt});
          return fb::CreateIdentityLinked(fbb, id).Union();
        };
      },
      Typed("identity_linked", R"({"identity":{"kind":"email"}})"), "data.identity.value");
  raw(
      "RequiredDataOmitted",
      [](auto& r) { r.data_type = static_cast<int>(fb::EventData::Inquiry); },
      JsonWith("type", Q("inquiry")), "data.topic");
  raw(
      "ItemWithoutSku",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::Purchase);
        r.data = [](Builder& fbb) {
          std::vector<flatbuffers::Offset<fb::Item>> items = {fb::CreateItem(fbb, 0, 0, 1)};
          return fb::CreatePurchaseDirect(fbb, "O-1", 1, "CNY", &items).Union();
        };
      },
      Typed("purchase", R"({"order_id":"O-1","amount_minor":1,"currency":"CNY",)"
                        R"("items":[{"quantity":1}]})"),
      "data.items[0].sku");
  raw(
      "AnswerWithoutText",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::Message);
        r.data = [](Builder& fbb) {
          std::vector<flatbuffers::Offset<fb::Answer>> answers = {
              fb::CreateAnswerDirect(fbb, "size", nullptr)};
          return fb::CreateMessageDirect(fbb, fb::Direction::inbound, "s", nullptr, &answers)
              .Union();
        };
      },
      Typed("message", R"({"direction":"inbound","summary":"s","answers":{"size":null}})"),
      "data.answers.size");
  raw(
      "DuplicateAnswersKey",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::Message);
        r.data = [](Builder& fbb) {
          std::vector<flatbuffers::Offset<fb::Answer>> answers = {
              fb::CreateAnswerDirect(fbb, "size", "M"), fb::CreateAnswerDirect(fbb, "c", "d"),
              fb::CreateAnswerDirect(fbb, "size", "L")};
          return fb::CreateMessageDirect(fbb, fb::Direction::inbound, "s", nullptr, &answers)
              .Union();
        };
      },
      Typed("message",
            R"({"direction":"inbound","summary":"s","answers":{"size":"M","c":"d","size":"L"}})"),
      "data.answers.size");
  raw(
      "CustomerIdEmpty", [](auto& r) { r.customer_id = ""; }, JsonWith("customer_id", Q("")),
      "customer_id");

  // --- Values outside the schema's enums and union.
  raw(
      "UnknownType", [](auto& r) { r.data_type = kNumEventTypes + 1; }, "", "type");
  raw(
      "UnknownType255", [](auto& r) { r.data_type = 255; }, "", "type");
  raw(
      "UnknownChannel", [](auto& r) { r.channel = 9; }, JsonWith("channel", Q("sms")), "channel");
  raw(
      "NegativeChannel", [](auto& r) { r.channel = -1; }, "", "channel");
  raw(
      "UnknownIdentityKind",
      [](auto& r) {
        r.identity = RawIdentity{6, "123"};
      },
      JsonWith("identity", R"({"kind":"fax","value":"123"})"), "identity.kind");
  auto data_enum = [&](std::string name, fb::EventData type, DataFn data, std::string json,
                       std::string field) {
    raw(
        std::move(name),
        [&](auto& r) {
          r.data_type = static_cast<int>(type);
          r.data = data;
          r.conversation_id = "c";
        },
        std::move(json), std::move(field));
  };
  data_enum(
      "UnknownDirection", fb::EventData::Message,
      [](Builder& fbb) {
        return fb::CreateMessageDirect(fbb, static_cast<fb::Direction>(2), "s").Union();
      },
      Typed("message", R"({"direction":"incoming","summary":"s"})"), "data.direction");
  data_enum(
      "UnknownOutcome", fb::EventData::ConversationClosed,
      [](Builder& fbb) {
        return fb::CreateConversationClosed(fbb, static_cast<fb::Outcome>(3)).Union();
      },
      "", "data.outcome");
  data_enum(
      "UnknownOrderStatus", fb::EventData::OrderStatus,
      [](Builder& fbb) {
        return fb::CreateOrderStatusDirect(fbb, "O-1", static_cast<fb::OrderStatusKind>(6)).Union();
      },
      Typed("order_status", R"({"order_id":"O-1","status":"lost"})"), "data.status");
  data_enum(
      "UnknownSeverity", fb::EventData::ComplaintOpened,
      [](Builder& fbb) {
        return fb::CreateComplaintOpenedDirect(fbb, "K", "c", static_cast<fb::Severity>(-3))
            .Union();
      },
      Typed("complaint_opened", R"({"case_id":"K","category":"c","severity":"critical"})"),
      "data.severity");
  data_enum(
      "UnknownConsentStatus", fb::EventData::ConsentChanged,
      [](Builder& fbb) {
        return fb::CreateConsentChangedDirect(fbb, "marketing", static_cast<fb::ConsentStatus>(2))
            .Union();
      },
      Typed("consent_changed", R"({"purpose":"marketing","status":"maybe"})"), "data.status");
  data_enum(
      "UnknownConsentChannel", fb::EventData::ConsentChanged,
      [](Builder& fbb) {
        return fb::CreateConsentChangedDirect(fbb, "marketing", fb::ConsentStatus::granted,
                                              static_cast<fb::Channel>(9))
            .Union();
      },
      Typed("consent_changed", R"({"purpose":"marketing","status":"granted","channel":"sms"})"),
      "data.channel");
  data_enum(
      "UnknownDataIdentityKind", fb::EventData::IdentityLinked,
      [](Builder& fbb) {
        auto id = BuildRawIdentity(fbb, RawIdentity{17, "L-1"});
        return fb::CreateIdentityLinked(fbb, id).Union();
      },
      Typed("identity_linked", R"({"identity":{"kind":"loyalty","value":"L-1"}})"),
      "data.identity.kind");

  // --- Fields a newer schema would add: rejected like unknown JSON members, naming the table.
  raw(
      "UnknownTopLevelField", [](auto& r) { r.unknown_field = true; }, "", "");
  {
    Builder fbb;
    auto id = BuildRawIdentity(fbb, RawIdentity{}, /*unknown_field=*/true);
    auto tp = fb::CreateTouchpointDirect(fbb, "ev-1", nullptr, id, "2026-11-20T10:15:00Z",
                                         fb::Channel::store, "pos", nullptr, nullptr,
                                         flatbuffers::nullopt, fb::EventData::Visit);
    cases.push_back({"UnknownIdentityField", Finish(fbb, tp), "", "identity"});
  }
  raw(
      "UnknownDataField",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::Inquiry);
        r.data = [](Builder& fbb) {
          auto topic = fbb.CreateString("t");
          auto start = fbb.StartTable();
          fbb.AddOffset(fb::Inquiry::VT_TOPIC, topic);
          fbb.AddElement<int32_t>(fb::Inquiry::VT_SUMMARY + 2, 1, 0);
          return flatbuffers::Offset<void>(fbb.EndTable(start));
        };
      },
      "", "data");
  raw(
      "UnknownDataIdentityField",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::IdentityLinked);
        r.data = [](Builder& fbb) {
          auto id = BuildRawIdentity(fbb, RawIdentity{}, /*unknown_field=*/true);
          return fb::CreateIdentityLinked(fbb, id).Union();
        };
      },
      "", "data.identity");
  raw(
      "UnknownItemField",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::Purchase);
        r.data = [](Builder& fbb) {
          auto sku = fbb.CreateString("A");
          auto start = fbb.StartTable();
          fbb.AddOffset(fb::Item::VT_SKU, sku);
          fbb.AddElement<int64_t>(fb::Item::VT_UNIT_PRICE_MINOR + 2, 1, 0);
          std::vector<flatbuffers::Offset<fb::Item>> items = {
              flatbuffers::Offset<fb::Item>(fbb.EndTable(start))};
          return fb::CreatePurchaseDirect(fbb, "O-1", 1, "CNY", &items).Union();
        };
      },
      "", "data.items[0]");
  raw(
      "UnknownAnswerField",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::Message);
        r.data = [](Builder& fbb) {
          auto key = fbb.CreateString("k");
          auto text = fbb.CreateString("v");
          auto start = fbb.StartTable();
          fbb.AddOffset(fb::Answer::VT_KEY, key);
          fbb.AddOffset(fb::Answer::VT_TEXT, text);
          fbb.AddElement<int8_t>(fb::Answer::VT_TEXT + 2, 1, 0);
          std::vector<flatbuffers::Offset<fb::Answer>> answers = {
              flatbuffers::Offset<fb::Answer>(fbb.EndTable(start))};
          return fb::CreateMessageDirect(fbb, fb::Direction::inbound, "s", nullptr, &answers)
              .Union();
        };
      },
      "", "data.answers.k");

  // --- Timestamps are RFC 3339 text, parsed as in JSON.
  for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
           {"NoZone", "2026-11-20T10:15:00"},
           {"NoSeconds", "2026-11-20T10:15Z"},
           {"DateOnly", "2026-11-20"},
           {"February29InCommonYear", "2026-02-29T10:15:00Z"},
           {"Hour24", "2026-11-20T24:00:00Z"},
           {"LeapSecond", "2026-12-31T23:59:60Z"},
           {"OffsetWithoutColon", "2026-11-20T10:15:00+0800"},
           {"Garbage", "yesterday"},
           {"Empty", ""},
           {"SpaceSeparator", "2026-11-20 10:15:00Z"},
           {"TrailingText", "2026-11-20T10:15:00Z[UTC]"},
           {"Year0", "0000-06-01T00:00:00Z"},
           {"AfterYear9999AfterOffset", "9999-12-31T23:30:00-01:00"},
           {"Nul", std::string("2026-11-20T10:15:00Z\0", 21)},
       }) {
    const auto& [name, time] = bad;
    raw(
        "OccurredAt" + name, [&bad](auto& r) { r.occurred_at = bad.second; },
        name == "Nul" ? "" : JsonWith("occurred_at", Q(time)), "occurred_at");
  }
  raw(
      "DueAtNoZone",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::CommitmentMade);
        r.data = [](Builder& fbb) {
          return fb::CreateCommitmentMadeDirect(fbb, "c", "a", "2026-11-21T09:00:00").Union();
        };
      },
      Typed("commitment_made",
            R"({"commitment_id":"c","action":"a","due_at":"2026-11-21T09:00:00"})"),
      "data.due_at");
  raw(
      "UntilFebruary30",
      [](auto& r) {
        r.data_type = static_cast<int>(fb::EventData::TierOverride);
        r.data = [](Builder& fbb) {
          return fb::CreateTierOverrideDirect(fbb, "gold", "2027-02-30T00:00:00Z").Union();
        };
      },
      Typed("tier_override", R"({"tier":"gold","until":"2027-02-30T00:00:00Z"})"), "data.until");

  // --- Lengths and ASCII ids (the Event holds the bad value; both encodings carry it).
  mutated(
      "EventIdEmpty", visit, [](Event& e) { e.event_id = ""; }, "event_id");
  mutated(
      "EventId129", visit, [&](Event& e) { e.event_id = Repeat("a", 129); }, "event_id");
  mutated(
      "EventIdSpace", visit, [](Event& e) { e.event_id = "ev 1"; }, "event_id");
  mutated(
      "EventIdNul", visit, [](Event& e) { e.event_id = std::string("ev\0", 3); }, "event_id");
  mutated(
      "EventIdNonAscii", visit, [&](Event& e) { e.event_id = "ev-" + e_acute; }, "event_id");
  mutated(
      "CustomerId129", visit, [&](Event& e) { e.customer_id = Repeat("C", 129); }, "customer_id");
  mutated(
      "CustomerIdSpace", visit, [](Event& e) { e.customer_id = "C 1001"; }, "customer_id");
  mutated(
      "CustomerIdNonAscii", visit, [&](Event& e) { e.customer_id = "C-" + grinning; },
      "customer_id");
  mutated(
      "IdentityValueEmpty", visit,
      [](Event& e) {
        e.identity = Identity{IdentityKind::kAccount, ""};
      },
      "identity.value");
  mutated(
      "IdentityValue257TwoByteChars", visit,
      [&](Event& e) {
        e.identity = Identity{IdentityKind::kExternal, Repeat(e_acute, 257)};
      },
      "identity.value");
  mutated(
      "DataIdentityValue257", identity_linked,
      [&](Event& e) { e.data.identity.value = Repeat("x", 257); }, "data.identity.value");
  mutated(
      "SourceEmpty", visit, [](Event& e) { e.source = ""; }, "source");
  mutated(
      "Source65TwoByteChars", visit, [&](Event& e) { e.source = Repeat(e_acute, 65); }, "source");
  mutated(
      "ActorEmpty", visit, [](Event& e) { e.actor = ""; }, "actor");
  mutated(
      "Actor129", visit, [&](Event& e) { e.actor = Repeat("a", 129); }, "actor");
  mutated(
      "ConversationIdEmpty", visit, [](Event& e) { e.conversation_id = ""; }, "conversation_id");
  mutated(
      "ConversationId129", visit, [&](Event& e) { e.conversation_id = Repeat("c", 129); },
      "conversation_id");
  auto data_string = [&](std::string name, const std::string& json, DataField f,
                         std::string value) {
    mutated(
        std::move(name), json,
        [f, value](Event& e) {
          EventData& d = e.data;
          std::string* member = nullptr;
          switch (f) {
            case DataField::kSummary:
              member = &d.summary;
              break;
            case DataField::kKey:
              member = &d.key;
              break;
            case DataField::kValue:
              member = &d.value;
              break;
            case DataField::kTopic:
              member = &d.topic;
              break;
            case DataField::kTag:
              member = &d.tag;
              break;
            case DataField::kLocation:
              member = &d.location;
              break;
            case DataField::kOrderId:
              member = &d.order_id;
              break;
            case DataField::kCaseId:
              member = &d.case_id;
              break;
            case DataField::kCommitmentId:
              member = &d.commitment_id;
              break;
            case DataField::kAction:
              member = &d.action;
              break;
            case DataField::kReason:
              member = &d.reason;
              break;
            case DataField::kReward:
              member = &d.reward;
              break;
            case DataField::kResolution:
              member = &d.resolution;
              break;
            case DataField::kComment:
              member = &d.comment;
              break;
            case DataField::kSurvey:
              member = &d.survey;
              break;
            case DataField::kPurpose:
              member = &d.purpose;
              break;
            case DataField::kCategory:
              member = &d.category;
              break;
            case DataField::kCurrency:
              member = &d.currency;
              break;
            case DataField::kTier:
              member = &d.tier;
              break;
            default:
              break;
          }
          ASSERT_NE(member, nullptr);
          d.Set(f);
          *member = value;
        },
        StrCat("data.", DataFieldName(f)));
  };
  const std::string visit_data = Typed("visit", R"({"summary":"s","location":"l"})");
  data_string("Summary4097FourByteChars", visit_data, DataField::kSummary, Repeat(grinning, 4097));
  data_string("SummaryEmpty", visit_data, DataField::kSummary, "");
  data_string("Location257", visit_data, DataField::kLocation, Repeat("l", 257));
  data_string("Key257", Typed("fact_recorded", R"({"key":"k","value":"v"})"), DataField::kKey,
              Repeat("k", 257));
  data_string("Value257", Typed("preference_stated", R"({"key":"k","value":"v"})"),
              DataField::kValue, Repeat("v", 257));
  data_string("Topic257", Typed("inquiry", R"({"topic":"t"})"), DataField::kTopic,
              Repeat("t", 257));
  data_string("TagEmpty", Typed("tag_removed", R"({"tag":"t"})"), DataField::kTag, "");
  data_string("OrderId257", Typed("order_status", R"({"order_id":"O","status":"placed"})"),
              DataField::kOrderId, Repeat("o", 257));
  data_string("CaseId257", Typed("complaint_resolved", R"({"case_id":"K"})"), DataField::kCaseId,
              Repeat("k", 257));
  data_string("CommitmentIdEmpty", Typed("commitment_fulfilled", R"({"commitment_id":"c"})"),
              DataField::kCommitmentId, "");
  data_string("Action4097", Typed("commitment_made", R"({"commitment_id":"c","action":"a"})"),
              DataField::kAction, Repeat("a", 4097));
  data_string("Reason4097", Typed("points_adjusted", R"({"points":5,"reason":"r"})"),
              DataField::kReason, Repeat("r", 4097));
  data_string("Reward257", Typed("points_redeemed", R"({"points":5,"reward":"r"})"),
              DataField::kReward, Repeat("r", 257));
  data_string("Resolution4097", Typed("complaint_resolved", R"({"case_id":"K"})"),
              DataField::kResolution, Repeat("r", 4097));
  data_string("Comment4097", survey, DataField::kComment, Repeat("c", 4097));
  data_string("Survey257", survey, DataField::kSurvey, Repeat("s", 257));
  data_string("Purpose257", Typed("consent_changed", R"({"purpose":"p","status":"granted"})"),
              DataField::kPurpose, Repeat("p", 257));
  data_string("ComplaintCategory257",
              Typed("complaint_opened", R"({"case_id":"K","category":"c","severity":"low"})"),
              DataField::kCategory, Repeat("c", 257));
  for (std::string code : {"cny", "ABC", "", "C1Y", "XYZ"}) {
    data_string(StrCat("Currency_", code.empty() ? "Empty" : code),
                Typed("refund", R"({"order_id":"O-1","amount_minor":1,"currency":"CNY"})"),
                DataField::kCurrency, code);
  }
  data_string("UnknownTier", Typed("tier_override", R"({"tier":"gold"})"), DataField::kTier,
              "diamond");
  data_string("TierWrongCase", Typed("tier_override", R"({"tier":"gold"})"), DataField::kTier,
              "Gold");
  mutated(
      "ItemSku257", purchase, [&](Event& e) { e.data.items[0].sku = Repeat("s", 257); },
      "data.items[0].sku");
  mutated(
      "ItemCategoryEmpty", purchase, [](Event& e) { e.data.items[1].category = ""; },
      "data.items[1].category");
  mutated(
      "Ask257", message, [&](Event& e) { e.data.asks[1] = Repeat("k", 257); }, "data.asks[1]");
  mutated(
      "AnswersKey257", message, [&](Event& e) { e.data.answers[0].first = Repeat("k", 257); },
      "data.answers." + Repeat("k", 257));
  mutated(
      "AnswersKeyEmpty", message, [](Event& e) { e.data.answers[0].first = ""; }, "data.answers.");
  mutated(
      "Answer4097", message, [&](Event& e) { e.data.answers[1].second = Repeat("n", 4097); },
      "data.answers.note");
  mutated(
      "AnswerEmpty", message, [](Event& e) { e.data.answers[1].second = ""; }, "data.answers.note");

  // --- Ranges.
  mutated(
      "AmountMinorZero", purchase, [](Event& e) { e.data.amount_minor = 0; }, "data.amount_minor");
  mutated(
      "AmountMinorNegative", purchase, [](Event& e) { e.data.amount_minor = INT64_MIN; },
      "data.amount_minor");
  mutated(
      "ItemQuantityZero", purchase, [](Event& e) { e.data.items[0].quantity = 0; },
      "data.items[0].quantity");
  mutated(
      "SecondItemQuantityNegative", purchase, [](Event& e) { e.data.items[1].quantity = -1; },
      "data.items[1].quantity");
  mutated(
      "ItemUnitPriceNegative", purchase, [](Event& e) { e.data.items[0].unit_price_minor = -1; },
      "data.items[0].unit_price_minor");
  mutated(
      "Csat0", survey, [](Event& e) { e.data.csat = 0; }, "data.csat");
  mutated(
      "Csat6", survey, [](Event& e) { e.data.csat = 6; }, "data.csat");
  mutated(
      "NpsMinus1", survey, [](Event& e) { e.data.nps = -1; }, "data.nps");
  mutated(
      "Nps11", survey, [](Event& e) { e.data.nps = 11; }, "data.nps");
  mutated(
      "PointsAdjustedZero", Typed("points_adjusted", R"({"points":5,"reason":"r"})"),
      [](Event& e) { e.data.points = 0; }, "data.points");
  mutated(
      "PointsRedeemedNegative", Typed("points_redeemed", R"({"points":5,"reward":"r"})"),
      [](Event& e) { e.data.points = -5; }, "data.points");
  const std::string observed =
      Typed("preference_observed", R"({"key":"k","value":"v","weight":2})");
  mutated(
      "WeightZero", observed, [](Event& e) { e.data.weight = 0; }, "data.weight");
  mutated(
      "WeightNegativeZero", observed, [](Event& e) { e.data.weight = -0.0; }, "data.weight");
  mutated(
      "WeightNegative", observed, [](Event& e) { e.data.weight = -0.5; }, "data.weight");
  mutated(
      "ExpectedVersionNegative", visit, [](Event& e) { e.expected_version = -1; },
      "expected_version");
  // JSON has no NaN or infinity; FlatBuffers doubles do.
  for (double w :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    Event ev = ParseOrDie(observed);
    ev.data.weight = w;
    cases.push_back({StrCat("Weight", std::isnan(w) ? "NaN" : "Infinity"), EncodeTouchpoint(ev), "",
                     "data.weight"});
  }

  // --- Identities that normalise to nothing.
  mutated(
      "PhoneWithoutDigits", visit,
      [](Event& e) {
        e.identity = Identity{IdentityKind::kPhone, "+-() ext"};
      },
      "identity.value");
  mutated(
      "BlankEmail", visit,
      [](Event& e) {
        e.identity = Identity{IdentityKind::kEmail, " \t "};
      },
      "identity.value");
  mutated(
      "DataPhoneWithoutDigits", identity_linked,
      [](Event& e) {
        e.data.identity = Identity{IdentityKind::kPhone, "n/a"};
      },
      "data.identity.value");

  // --- Rules across fields.
  mutated(
      "ConversationOpenedWithoutConversationId",
      Typed("conversation_opened", R"({"topic":"t"})").insert(1, R"("conversation_id":"c",)"),
      [](Event& e) { e.conversation_id.reset(); }, "conversation_id");
  mutated(
      "SurveyResponseWithoutScore", survey,
      [](Event& e) {
        e.data.present &= ~((uint64_t{1} << static_cast<int>(DataField::kCsat)) |
                            (uint64_t{1} << static_cast<int>(DataField::kNps)));
      },
      "data.csat");
  // Every required `data` field of every type left out.
  std::set<std::string> types_done;
  for (const auto& [type, data] : FullData()) {
    if (!types_done.insert(type).second) continue;
    std::string json = FullEvent(type, data);
    Event ev = ParseOrDie(json);
    for (const auto& spec : DataFieldsOf(ev.type)) {
      if (!spec.required) continue;
      mutated(
          StrCat("Missing_", type, "_", DataFieldName(spec.field)), json,
          [f = spec.field](Event& e) { e.data.present &= ~(uint64_t{1} << static_cast<int>(f)); },
          StrCat("data.", DataFieldName(spec.field)));
    }
  }

  // --- Invalid UTF-8: invalid_json naming the field, as in JSON.
  auto utf8 = [&](std::string name, const std::string& json, const std::function<void(Event&)>& m,
                  std::string field) {
    mutated(std::move(name), json, m, std::move(field), kInvalidJson);
  };
  utf8(
      "InvalidUtf8Byte", visit_data, [](Event& e) { e.data.summary = "caf\xff"; }, "data.summary");
  utf8(
      "InvalidUtf8Continuation", visit, [](Event& e) { e.source = "p\x80os"; }, "source");
  utf8(
      "InvalidUtf8Overlong", visit, [](Event& e) { e.actor = "\xc0\xaf"; }, "actor");
  utf8(
      "InvalidUtf8Surrogate", visit_data, [](Event& e) { e.data.summary = "\xed\xa0\x80"; },
      "data.summary");
  utf8(
      "InvalidUtf8AboveMaxCodePoint", visit_data,
      [](Event& e) { e.data.location = "\xf4\x90\x80\x80"; }, "data.location");
  utf8(
      "InvalidUtf8Truncated", visit,
      [](Event& e) {
        e.identity = Identity{IdentityKind::kEmail, "\xe6\x9d"};
      },
      "identity.value");
  utf8(
      "InvalidUtf8InEventId", visit, [](Event& e) { e.event_id = "ev\xff"; }, "event_id");
  utf8(
      "InvalidUtf8InCustomerId", visit, [](Event& e) { e.customer_id = "C\xff"; }, "customer_id");
  utf8(
      "InvalidUtf8InConversationId", visit, [](Event& e) { e.conversation_id = "\xff"; },
      "conversation_id");
  utf8(
      "InvalidUtf8InAnswersKey", message, [](Event& e) { e.data.answers[0].first = "\xff"; },
      "data.answers");
  utf8(
      "InvalidUtf8InAnswer", message, [](Event& e) { e.data.answers[0].second = "\xff"; },
      "data.answers.k");
  utf8(
      "InvalidUtf8InAsk", message, [](Event& e) { e.data.asks[0] = "\xff"; }, "data.asks[0]");
  utf8(
      "InvalidUtf8InItemSku", purchase, [](Event& e) { e.data.items[0].sku = "\xff"; },
      "data.items[0].sku");
  utf8(
      "InvalidUtf8InItemCategory", purchase,
      [](Event& e) { e.data.items[0].category = "\xf0\x9f"; }, "data.items[0].category");
  utf8(
      "InvalidUtf8InCurrency", purchase, [](Event& e) { e.data.currency = "CN\xff"; },
      "data.currency");
  utf8(
      "InvalidUtf8InDataIdentity", identity_linked,
      [](Event& e) { e.data.identity.value = "\xff"; }, "data.identity.value");
  return cases;
}

class BadTouchpointTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadTouchpointTest, IsRejectedLikeJson) {
  const BadCase& c = GetParam();
  absl::Status status = DecodeTouchpoint(c.bytes, CodecOptions{}).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status, HasErrorCode(std::string(c.code)));
  EXPECT_THAT(status, HasErrorField(c.field));
  EXPECT_FALSE(status.message().empty());
  if (!c.json.empty()) {
    SCOPED_TRACE(c.json.size() <= 600 ? c.json : c.json.substr(0, 600) + "...");
    absl::Status json_status = ParseEventJson(c.json, CodecOptions{}).status();
    EXPECT_EQ(ErrorCode(json_status), ErrorCode(status)) << json_status;
    EXPECT_EQ(ErrorField(json_status).value_or(""), ErrorField(status).value_or("")) << json_status;
  }
}

INSTANTIATE_TEST_SUITE_P(AllRules, BadTouchpointTest, ::testing::ValuesIn(BadCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           std::string name;
                           for (char ch : info.param.name) {
                             name.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch
                                                                                         : '_');
                           }
                           return name;
                         });

TEST(BadTouchpointTableTest, CaseNamesAreUnique) {
  std::set<std::string> names;
  for (const auto& c : BadCases()) EXPECT_TRUE(names.insert(c.name).second) << c.name;
}

// ---------------------------------------------------------------------------------------------
// Size and corrupt buffers: a precise error, never a crash (run under the asan preset too).

TEST(DecodeTouchpointTest, RejectsMessagesOverTheLimit) {
  std::string bytes = EncodeTouchpoint(ParseOrDie(ValidJson()));
  CodecOptions options;
  options.max_event_bytes = bytes.size();
  EXPECT_THAT(DecodeTouchpoint(bytes, options).status(), IsOk());
  options.max_event_bytes = bytes.size() - 1;
  absl::Status s = DecodeTouchpoint(bytes, options).status();
  EXPECT_THAT(s, HasErrorCode("too_large"));
  EXPECT_EQ(ErrorField(s), std::nullopt);
  // Over 64 KiB by default, checked before anything is read.
  Event big = ParseOrDie(ValidJson());
  big.data.Set(DataField::kSummary);
  big.data.summary = Repeat("s", 70000);
  EXPECT_THAT(DecodeTouchpoint(EncodeTouchpoint(big), CodecOptions{}).status(),
              HasErrorCode("too_large"));
  EXPECT_THAT(DecodeTouchpoint(std::string(64 * 1024 + 1, '\xff'), CodecOptions{}).status(),
              HasErrorCode("too_large"));
}

void ExpectUnreadable(const absl::Status& s, std::string_view why) {
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(std::string(why))));
  EXPECT_THAT(s, HasErrorCode("invalid_json"));
  EXPECT_EQ(ErrorField(s), std::nullopt);
  EXPECT_THAT(std::string(s.message()), HasSubstr("FlatBuffers"));
}

TEST(DecodeTouchpointTest, RejectsEmptyAndShortInput) {
  ExpectUnreadable(DecodeTouchpoint("", CodecOptions{}).status(), "empty");
  for (size_t n = 1; n < 8; ++n) {
    ExpectUnreadable(DecodeTouchpoint(std::string(n, 'R'), CodecOptions{}).status(), "too short");
  }
}

TEST(DecodeTouchpointTest, RejectsOtherIdentifiers) {
  std::string bytes = EncodeTouchpoint(ParseOrDie(ValidJson()));
  std::string wrong = bytes;
  wrong.replace(4, 4, "RPLR");
  ExpectUnreadable(DecodeTouchpoint(wrong, CodecOptions{}).status(), "\"RPLR\", not \"RPTP\"");
  wrong.replace(4, 4, std::string("\0\x01zz", 4));
  ExpectUnreadable(DecodeTouchpoint(wrong, CodecOptions{}).status(), "\\x00\\x01zz");
  // JSON sent with the FlatBuffers content type.
  ExpectUnreadable(DecodeTouchpoint(ValidJson(), CodecOptions{}).status(), "file identifier");
  // A buffer finished without an identifier.
  Builder fbb;
  fbb.Finish(fb::CreateTouchpointDirect(fbb, "ev-1", "C-1001", 0, "2026-11-20T10:15:00Z",
                                        fb::Channel::store, "pos"));
  ExpectUnreadable(
      DecodeTouchpoint(
          std::string_view(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()),
          CodecOptions{})
          .status(),
      "file identifier");
}

TEST(DecodeTouchpointTest, RejectsEveryTruncation) {
  std::string bytes = EncodeTouchpoint(ParseOrDie(FullEvent("message", FullData()[3].second)));
  Event want = *DecodeTouchpoint(bytes, CodecOptions{});
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    auto got = DecodeTouchpoint(bytes.substr(0, n), CodecOptions{});
    if (got.ok()) {
      // Only the alignment padding after the first string written may go unnoticed.
      EXPECT_GE(n + 4, bytes.size());
      EXPECT_EQ(Canonical(*got), Canonical(want));
      continue;
    }
    EXPECT_THAT(got.status(), HasErrorCode("invalid_json"));
    EXPECT_EQ(ErrorField(got.status()), std::nullopt);
  }
}

// A small deterministic generator (no <random>: its distributions differ across libraries).
uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

TEST(DecodeTouchpointTest, SurvivesRandomBytes) {
  uint64_t state = 42;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(SplitMix(&state) % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(SplitMix(&state));
    if (bytes.size() >= 8 && i % 2 == 0) bytes.replace(4, 4, "RPTP");  // get past the identifier
    absl::Status s = DecodeTouchpoint(bytes, CodecOptions{}).status();
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(s, HasErrorCode(AnyOf("invalid_json", "invalid_field")));
  }
}

TEST(DecodeTouchpointTest, SurvivesEverySingleByteCorruption) {
  // Each byte of a full event replaced by a few values: whatever verifies must then decode to an
  // event or a precise error.
  for (const auto& [type, data] : FullData()) {
    std::string bytes = EncodeTouchpoint(ParseOrDie(FullEvent(type, data)));
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (unsigned char v : {0x00, 0x01, 0x7F, 0x80, 0xFF}) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bytes[i] ^ v);
        auto got = DecodeTouchpoint(bad, CodecOptions{});
        if (got.ok()) continue;
        EXPECT_THAT(got.status(), HasErrorCode(AnyOf("invalid_json", "invalid_field")))
            << type << " byte " << i;
      }
    }
  }
}

}  // namespace
}  // namespace rapport::ledger
