// The fast reader of stored events must give exactly the event the strict ledger codec gives, for
// everything the ledger stores; what it does not handle it must refuse (and leave to the codec).
#include "projections/stored_event.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ledger/codec.h"
#include "ledger/ledger.h"
#include "ledger/record.h"
#include "ledger/strings.h"
#include "projections/fold.h"
#include "projections/runner.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tools/gen.h"

namespace rapport::projections {
namespace {

ledger::CodecOptions StoredOptions() {
  ledger::CodecOptions o;
  o.max_event_bytes = SIZE_MAX;
  o.tiers.clear();
  return o;
}

// Everything a reducer can see of an event: its canonical rendering covers every member and data
// field marked present; the presence bits and customer id are compared as well.
void ExpectSameEvent(const ledger::Event& a, const ledger::Event& b, std::string_view context) {
  EXPECT_EQ(ledger::RenderCanonicalEvent(a, a.customer_id),
            ledger::RenderCanonicalEvent(b, b.customer_id))
      << context;
  EXPECT_EQ(a.data.present, b.data.present) << context;
  EXPECT_EQ(a.customer_id, b.customer_id) << context;
  EXPECT_EQ(a.expected_version, b.expected_version) << context;
  EXPECT_EQ(a.identity.has_value(), b.identity.has_value()) << context;
  EXPECT_EQ(a.occurred_at.micros, b.occurred_at.micros) << context;
  EXPECT_EQ(a.data.weight, b.data.weight) << context;
  EXPECT_EQ(a.data.due_at.micros, b.data.due_at.micros) << context;
  EXPECT_EQ(a.data.until.micros, b.data.until.micros) << context;
  EXPECT_EQ(a.data.answers, b.data.answers) << context;
  EXPECT_EQ(a.data.items, b.data.items) << context;
  EXPECT_EQ(a.data.asks, b.data.asks) << context;
}

// Parses an accepted event, renders it as the ledger stores it, and reads it back both ways.
// Returns whether the fast path took it.
bool RoundTrip(const std::string& line, std::string_view customer = "") {
  auto accepted = ledger::ParseEventJson(line, ledger::CodecOptions{});
  EXPECT_TRUE(accepted.ok()) << line << ": " << accepted.status();
  if (!accepted.ok()) return false;
  std::string id = customer.empty() ? accepted->customer_id : std::string(customer);
  if (id.empty()) id = "C-resolved";
  std::string canonical = ledger::RenderCanonicalEvent(*accepted, id);
  auto strict = ledger::ParseEventJson(canonical, StoredOptions());
  EXPECT_TRUE(strict.ok()) << canonical;
  if (!strict.ok()) return false;
  ledger::Event fast;
  bool took = ParseCanonicalEventFast(canonical, &fast);
  if (took) ExpectSameEvent(fast, *strict, canonical);
  // Whichever path it takes, ParseStoredEvent gives the strict result.
  auto stored = ParseStoredEvent(canonical);
  EXPECT_TRUE(stored.ok()) << canonical;
  if (stored.ok()) ExpectSameEvent(*stored, *strict, canonical);
  return took;
}

TEST(StoredEventTest, FastPathTakesEveryGeneratedEventAndAgreesWithTheCodec) {
  for (uint64_t seed : {1, 2, 3, 17}) {
    size_t n = 0, fast = 0;
    tools::GenerateWorkload({300, 5000, seed}, [&](std::string_view line) {
      ++n;
      fast += RoundTrip(std::string(line));
    });
    EXPECT_EQ(fast, n) << "seed " << seed;
  }
}

TEST(StoredEventTest, EdgeCasesAgreeWithTheCodec) {
  const std::string head =
      R"("event_id":"e-1","customer_id":"C-1","occurred_at":"2026-01-02T03:04:05.000006Z","channel":"web","source":"s")";
  const std::vector<std::string> cases = {
      // Escapes JCS writes, \u for control characters, non-ASCII text, a supplementary character.
      StrCat(R"({"type":"visit",)", head,
             R"(,"data":{"summary":"a\"b\\c\/d\n\t\r\b\f\u0001\u001f é 中文 😀"}})"),
      StrCat(R"({"type":"inquiry",)", head, R"(,"actor":"agent \"7\"","data":{"topic":"x"}})"),
      // Weights that render in exponent form or with many digits.
      StrCat(R"({"type":"preference_observed",)", head,
             R"(,"data":{"key":"k","value":"v","weight":1e-7}})"),
      StrCat(R"({"type":"preference_observed",)", head,
             R"(,"data":{"key":"k","value":"v","weight":123456789012345678901234}})"),
      StrCat(R"({"type":"preference_observed",)", head,
             R"(,"data":{"key":"k","value":"v","weight":0.30000000000000004}})"),
      StrCat(R"({"type":"points_adjusted",)", head,
             R"(,"data":{"points":-9223372036854775807,"reason":"r"}})"),
      StrCat(R"({"type":"complaint_resolved",)", head,
             R"(,"data":{"case_id":"K","satisfied":false,"resolution":"ok"}})"),
      // Answer keys whose UTF-16 order differs from their byte order.
      StrCat(
          R"({"type":"message",)", head,
          R"(,"conversation_id":"cv","data":{"direction":"inbound","summary":"s","asks":["a","b\"c"],"answers":{"😀":"1","｡":"2","a":"3"}}})"),
      StrCat(
          R"({"type":"purchase",)", head,
          R"(,"data":{"order_id":"O","amount_minor":100,"currency":"CNY","items":[{"sku":"A","category":"c","quantity":2,"unit_price_minor":50},{"sku":"B"}]}})"),
      StrCat(R"({"type":"tier_override",)", head,
             R"(,"data":{"tier":"gold","until":"2027-01-01T00:00:00Z"}})"),
      StrCat(R"({"type":"commitment_made",)", head,
             R"(,"data":{"commitment_id":"M","action":"call","due_at":"2026-01-03T00:00:00.5Z"}})"),
      StrCat(R"({"type":"identity_linked",)", head,
             R"(,"data":{"identity":{"kind":"email","value":"A@Example.com"}}})"),
      StrCat(R"({"type":"consent_changed",)", head,
             R"(,"data":{"purpose":"marketing","status":"granted","channel":"email"}})"),
      StrCat(R"({"type":"order_status",)", head, R"(,"data":{"order_id":"O","status":"shipped"}})"),
      StrCat(
          R"({"type":"inquiry",)", head,
          R"(,"expected_version":0,"identity":{"kind":"phone","value":"+86 138"},"data":{"topic":"t"}})"),
      // Identity only: the ledger adds the resolved customer.
      R"({"type":"visit","event_id":"e-2","identity":{"kind":"web_cookie","value":"ck"},"occurred_at":"2026-01-02T00:00:00Z","channel":"store","source":"s","data":{}})",
  };
  for (const auto& c : cases) {
    bool took = RoundTrip(c);
    // Surrogate pairs (the supplementary characters above are written raw by JCS, so none here)
    // are the only escapes the fast path leaves to the codec.
    EXPECT_TRUE(took) << c;
  }
  // A customer id with characters JCS escapes.
  EXPECT_TRUE(RoundTrip(StrCat(R"({"type":"visit",)", head, R"(,"data":{}})"), "C\"\\1"));
}

TEST(StoredEventTest, RefusesWhatItDoesNotExpect) {
  ledger::Event e;
  const std::string ok =
      R"({"channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})";
  EXPECT_TRUE(ParseCanonicalEventFast(ok, &e));
  const std::vector<std::string> bad = {
      // Whitespace, members out of place, unknown or duplicate members, wrong types.
      R"({ "channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})",
      R"({"channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit","x":1})",
      R"({"channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","zzz":1,"type":"visit"})",
      R"({"channel":"web","channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})",
      R"({"channel":"web","customer_id":"C","data":{"nope":1},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})",
      R"({"channel":"web","customer_id":"C","data":{"summary":1},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})",
      R"({"channel":"tv","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})",
      R"({"channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"yesterday","source":"s","type":"visit"})",
      R"({"channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"nap"})",
      R"({"channel":"web","customer_id":"C","data":{},"occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})",
      R"({"channel":"web","customer_id":"C","data":{"points":1.5,"reason":"r"},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"points_adjusted"})",
      R"({"channel":"web","customer_id":"C","data":{"points":01,"reason":"r"},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"points_adjusted"})",
      R"({"channel":"web","customer_id":"C","data":{"summary":"\ud83d\ude00"},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"})",
      R"({"channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit"}x)",
      R"({"channel":"web","customer_id":"C","data":{},"event_id":"e","occurred_at":"2026-01-01T00:00:00Z","source":"s","type":"visit")",
      "",
  };
  for (const auto& b : bad) {
    ledger::Event ev;
    EXPECT_FALSE(ParseCanonicalEventFast(b, &ev)) << b;
  }
}

TEST(StoredEventTest, ReadTouchFromRealRecordsMatchesTheCodec) {
  testing::TempDir dir;
  ledger::LedgerOptions options;
  std::unique_ptr<ledger::Ledger> ledger;
  ASSERT_OK(ledger::Ledger::Open(dir.str(), options, &ledger));
  std::vector<ledger::PreparedEvent> batch;
  tools::GenerateWorkload({50, 2000, 5}, [&](std::string_view line) {
    auto p = ledger::ParseAndPrepare(line, ledger::CodecOptions{});
    ASSERT_TRUE(p.ok()) << p.status();
    batch.push_back(*std::move(p));
  });
  batch.push_back(*ledger::ParseAndPrepare(
      R"({"event_id":"q-1","type":"visit","customer_id":"Q\"\\x","occurred_at":"2026-01-01T00:00:00Z","channel":"web","source":"s","data":{"summary":"é\n"}})",
      ledger::CodecOptions{}));
  ASSERT_OK(ledger->Append(std::move(batch)).status());
  size_t records = 0;
  for (uint32_t p = 0; p < ledger->partitions(); ++p) {
    ASSERT_OK(ledger->ScanPartition(
        ledger::PartitionId(p), ledger::Position(1), [&](const ledger::StoredRecord& r) {
          ++records;
          auto env = ledger::ParseCanonical(r.canonical);
          EXPECT_TRUE(env.ok());
          if (!env.ok()) return false;
          EXPECT_EQ(CanonicalEventJson(r.canonical), env->event_json);
          auto strict = ledger::ParseEventJson(env->event_json, StoredOptions());
          EXPECT_TRUE(strict.ok());
          Touch touch;
          EXPECT_OK(ReadTouch(r, &touch));
          if (strict.ok()) ExpectSameEvent(touch.event, *strict, r.canonical);
          EXPECT_EQ(touch.seq, r.seq.value());
          EXPECT_EQ(touch.position, r.position.value());
          return true;
        }));
  }
  EXPECT_EQ(records, 2001u);
}

TEST(StoredEventTest, CorruptRecordIsDataLoss) {
  ledger::StoredRecord r;
  r.canonical = R"({"customer_id":"C","event":{"channel":"web"},"event_id":"e"})";
  Touch touch;
  EXPECT_EQ(ReadTouch(r, &touch).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace rapport::projections
