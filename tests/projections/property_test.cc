// Property tests of the runner against a real ledger, over thousands of random event sequences
// (every customer's stream is one; 40 seeds × ~30 gen customers and 40 × 40 edge-case ones): from
// `rapport gen` with random seeds, and from a generator of edge cases (equal timestamps, events
// late by more than the reorder window, events in the future, refunds of unknown orders, …).
// For each: incremental application (random batch sizes, catching up at random points) equals a
// rebuild byte for byte, and a query as of T equals folding the events that occurred by T.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "projections/runner.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tools/gen.h"

namespace rapport::projections {
namespace {

// A random but valid event of a random type for one of a few customers. Times come from a small
// set around 2026-01-01 (so many are equal), with some far earlier and some years ahead.
std::string EdgeCaseEvent(std::mt19937_64& rng, int n) {
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<uint64_t>(k)); };
  const std::string customer = StrCat("E-", pick(40));  // each customer's stream is one sequence
  int64_t day = 20454 + pick(40);            // days since the epoch: 2026-01-01 + up to 40 days
  if (pick(10) == 0) day -= 30 + pick(400);  // late by more than the reorder window
  if (pick(25) == 0) day += 1500;            // in the future
  ledger::Timestamp at{day * ledger::kMicrosPerDay + pick(4) * 3600 * ledger::kMicrosPerSecond};
  const char* channels[] = {"phone", "email", "web", "store", "chat", "app"};
  std::string order = StrCat("O-", pick(4));
  std::string type, data;
  switch (pick(16)) {
    case 0:
      type = "purchase";
      data = StrCat(R"({"order_id":")", order, R"(","amount_minor":)", 1000 + pick(300000),
                    R"(,"currency":")", pick(5) ? "CNY" : "USD",
                    R"(","items":[{"sku":"S-1","category":")", pick(2) ? "wine" : "books",
                    R"(","quantity":)", 1 + pick(3), "}]}");
      break;
    case 1:
      type = "refund";
      data = StrCat(R"({"order_id":")", order, R"(","amount_minor":)", 500 + pick(200000),
                    R"(,"currency":"CNY"})");
      break;
    case 2:
      type = "points_adjusted";
      data = StrCat(R"({"points":)", pick(2) ? 100 + pick(900) : -(1 + pick(900)),
                    R"(,"reason":"goodwill"})");
      break;
    case 3:
      type = "points_redeemed";
      data = StrCat(R"({"points":)", 1 + pick(2000), R"(,"reward":"voucher"})");
      break;
    case 4:
      type = "tier_override";
      data = StrCat(
          R"({"tier":")", pick(2) ? "gold" : "silver", "\"",
          pick(2) ? StrCat(R"(,"until":")",
                           ledger::FormatTimestamp({at.micros + pick(60) * ledger::kMicrosPerDay}),
                           "\"")
                  : std::string(),
          "}");
      break;
    case 5:
      type = "preference_stated";
      data = StrCat(R"({"key":"k)", pick(2), R"(","value":"v)", pick(3), R"("})");
      break;
    case 6:
      type = "preference_observed";
      data = StrCat(R"({"key":"k)", pick(2), R"(","value":"v)", pick(3), R"(","weight":)",
                    1 + pick(3), "}");
      break;
    case 7:
      type = "preference_retracted";
      data = StrCat(R"({"key":"k)", pick(2), R"("})");
      break;
    case 8:
      type = "message";
      data = StrCat(R"({"direction":")", pick(2) ? "inbound" : "outbound",
                    R"(","summary":"hi","asks":["a)", pick(3), R"("],"answers":{"a)", pick(3),
                    R"(":"yes"}})");
      break;
    case 9:
      type = pick(2) ? "conversation_opened" : "conversation_closed";
      data = type == "conversation_opened" ? R"({"topic":"t"})" : R"({"outcome":"resolved"})";
      break;
    case 10:
      type = pick(2) ? "complaint_opened" : "complaint_resolved";
      data = type == "complaint_opened"
                 ? StrCat(R"({"case_id":"K)", pick(3), R"(","category":"c","severity":"low"})")
                 : StrCat(R"({"case_id":"K)", pick(3), R"(","satisfied":)",
                          pick(2) ? "true" : "false", "}");
      break;
    case 11:
      type = "survey_response";
      data = StrCat(R"({"survey":"s","csat":)", 1 + pick(5), R"(,"nps":)", pick(11), "}");
      break;
    case 12:
      type = "order_status";
      data = StrCat(
          R"({"order_id":")", order, R"(","status":")",
          std::vector<const char*>{"placed", "shipped", "delivered", "cancelled"}[pick(4)], "\"}");
      break;
    case 13:
      type = pick(2) ? "commitment_made" : "commitment_fulfilled";
      data = type == "commitment_made"
                 ? StrCat(R"({"commitment_id":"M)", pick(3), R"(","action":"call back","due_at":")",
                          ledger::FormatTimestamp({at.micros + pick(5) * ledger::kMicrosPerDay}),
                          "\"}")
                 : StrCat(R"({"commitment_id":"M)", pick(3), "\"}");
      break;
    case 14:
      type = pick(2) ? "fact_recorded" : "consent_changed";
      data = type == "fact_recorded"
                 ? StrCat(R"({"key":"f)", pick(3), R"(","value":"x"})")
                 : StrCat(R"({"purpose":"marketing","status":")", pick(2) ? "granted" : "revoked",
                          "\"", pick(2) ? R"(,"channel":"email")" : "", "}");
      break;
    default:
      type = pick(2) ? "tag_assigned" : "visit";
      data = type == "visit" ? R"({"summary":"browsed"})" : StrCat(R"({"tag":"t)", pick(3), "\"}");
  }
  std::string conversation = (type.starts_with("conversation") || (type == "message" && pick(2)))
                                 ? StrCat(R"(,"conversation_id":"conv-)", pick(2), "\"")
                                 : "";
  return StrCat(R"({"event_id":"edge-)", n, R"(","type":")", type, R"(","customer_id":")", customer,
                R"(","occurred_at":")", ledger::FormatTimestamp(at), R"(","channel":")",
                channels[pick(6)], R"(","source":"prop")", conversation, R"(,"data":)", data, "}");
}

class PropertyTest : public ::testing::TestWithParam<int> {};

void CheckSequence(const std::vector<std::string>& lines, uint64_t seed) {
  testing::TempDir dir;
  ledger::LedgerOptions options;
  std::unique_ptr<ledger::Ledger> ledger;
  ASSERT_OK(ledger::Ledger::Open(dir.str(), options, &ledger));
  std::unique_ptr<Runner> runner;
  ASSERT_OK(Runner::Open(ledger.get(), RunnerOptions{}, &runner));
  std::mt19937_64 rng(seed);
  std::set<std::string> customers;
  for (size_t i = 0; i < lines.size();) {
    size_t n = 1 + rng() % 40;
    std::vector<ledger::PreparedEvent> batch;
    for (; n > 0 && i < lines.size(); --n, ++i) {
      ASSERT_OK_AND_ASSIGN(auto p, ledger::ParseAndPrepare(lines[i], ledger::CodecOptions{}));
      batch.push_back(std::move(p));
    }
    ASSERT_OK_AND_ASSIGN(auto results, ledger->Append(std::move(batch)));
    for (const auto& r : results) customers.insert(r.customer_id);
    if (rng() % 3 == 0) {
      ASSERT_OK(runner->CatchUp());
    }
  }
  ASSERT_OK(runner->CatchUp());
  std::map<std::pair<int, std::string>, std::string> incremental;
  for (ProjectionKind kind : kAllProjections) {
    for (const auto& c : customers) {
      auto json = runner->Stored(kind, c);
      ASSERT_TRUE(json.ok()) << json.status();
      incremental[{static_cast<int>(kind), c}] = *json;
    }
  }
  ASSERT_OK(runner->Rebuild({kAllProjections[0], kAllProjections[1], kAllProjections[2]}));
  for (const auto& [key, json] : incremental) {
    ASSERT_OK_AND_ASSIGN(std::string rebuilt,
                         runner->Stored(static_cast<ProjectionKind>(key.first), key.second));
    ASSERT_EQ(json, rebuilt) << "seed " << seed << " " << key.second;
  }
  // As of T: the times of random events, just before them, and far out.
  for (int i = 0; i < 30; ++i) {
    const std::string& c =
        *std::next(customers.begin(), static_cast<long>(rng() % customers.size()));
    auto records = ledger->ReadCustomer(c, ledger::Seq(0), SIZE_MAX);
    ASSERT_TRUE(records.ok());
    const auto& r = (*records)[rng() % records->size()];
    int64_t offsets[] = {0, -1, int64_t(3000) * ledger::kMicrosPerDay};
    ledger::Timestamp as_of{r.occurred_at.micros + offsets[rng() % 3]};
    for (ProjectionKind kind : kAllProjections) {
      auto queried = runner->Query(kind, c, as_of);
      auto folded = FoldFromLedger(*ledger, c, kind, as_of, runner->rules());
      ASSERT_EQ(queried.ok(), folded.ok()) << "seed " << seed;
      if (queried.ok()) {
        ASSERT_EQ(*queried, *folded) << "seed " << seed << " " << c << " as of " << as_of.micros;
      }
    }
  }
}

TEST_P(PropertyTest, GenWorkloadIncrementalEqualsRebuildAndAsOfEqualsFold) {
  const uint64_t seed = 1000 + static_cast<uint64_t>(GetParam());
  std::vector<std::string> lines;
  tools::GenerateWorkload({30, 900, seed}, [&](std::string_view l) { lines.emplace_back(l); });
  CheckSequence(lines, seed);
}

TEST_P(PropertyTest, EdgeCasesIncrementalEqualsRebuildAndAsOfEqualsFold) {
  const uint64_t seed = 5000 + static_cast<uint64_t>(GetParam());
  std::mt19937_64 rng(seed);
  std::vector<std::string> lines;
  for (int i = 0; i < 1200; ++i) lines.push_back(EdgeCaseEvent(rng, i));
  CheckSequence(lines, seed);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PropertyTest, ::testing::Range(0, 40));

}  // namespace
}  // namespace rapport::projections
