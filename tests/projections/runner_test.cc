// The runner against a real ledger: incremental application equals a rebuild byte for byte, and
// queries as of any time equal folding the events visible then.
#include "projections/runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "absl/time/clock.h"
#include "ledger/ledger.h"
#include "ledger/timestamp.h"
#include "rocksdb/db.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tools/gen.h"

namespace rapport::projections {
namespace {

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger::LedgerOptions options;
    ASSERT_OK(ledger::Ledger::Open(dir_.str(), options, &ledger_));
    ASSERT_OK(Runner::Open(ledger_.get(), RunnerOptions{}, &runner_));
  }

  // Appends a `rapport gen` workload in batches of `batch`, catching up after each when asked.
  void AppendWorkload(uint64_t customers, uint64_t events, uint64_t seed, size_t batch,
                      bool catch_up_each) {
    std::vector<std::string> lines;
    tools::GenerateWorkload({customers, events, seed},
                            [&](std::string_view l) { lines.emplace_back(l); });
    for (size_t i = 0; i < lines.size(); i += batch) {
      std::vector<ledger::PreparedEvent> prepared;
      for (size_t j = i; j < std::min(lines.size(), i + batch); ++j) {
        ASSERT_OK_AND_ASSIGN(auto p, ledger::ParseAndPrepare(lines[j], ledger::CodecOptions{}));
        prepared.push_back(std::move(p));
      }
      ASSERT_OK(ledger_->Append(std::move(prepared)).status());
      if (catch_up_each) {
        ASSERT_OK(runner_->CatchUp());
      }
    }
  }

  // Every customer id with events, from the ledger.
  std::vector<std::string> Customers() {
    std::set<std::string> ids;
    for (uint32_t p = 0; p < ledger_->partitions(); ++p) {
      EXPECT_OK(ledger_->ScanPartition(ledger::PartitionId(p), ledger::Position(1),
                                       [&](const ledger::StoredRecord& r) {
                                         ids.insert(r.customer_id);
                                         return true;
                                       }));
    }
    return {ids.begin(), ids.end()};
  }

  std::map<std::string, std::string> AllStored(ProjectionKind kind) {
    std::map<std::string, std::string> out;
    for (const auto& c : Customers()) {
      auto json = runner_->Stored(kind, c);
      EXPECT_TRUE(json.ok()) << c << ": " << json.status();
      if (json.ok()) out[c] = *json;
    }
    return out;
  }

  ledger::Timestamp LatestOccurred(const std::string& customer) {
    auto records = ledger_->ReadCustomer(customer, ledger::Seq(0), SIZE_MAX);
    ledger::Timestamp latest{INT64_MIN};
    for (const auto& r : *records) latest = std::max(latest, r.occurred_at);
    return latest;
  }

  testing::TempDir dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<Runner> runner_;
};

TEST_F(RunnerTest, StoredStateEqualsAFoldAsOfTheLatestEvent) {
  AppendWorkload(200, 4000, 7, 256, /*catch_up_each=*/false);
  ASSERT_OK(runner_->CatchUp());
  for (ProjectionKind kind : kAllProjections) {
    SCOPED_TRACE(ProjectionName(kind));
    auto stored = AllStored(kind);
    ASSERT_FALSE(stored.empty());
    for (const auto& [customer, json] : stored) {
      ASSERT_OK_AND_ASSIGN(
          std::string folded,
          FoldFromLedger(*ledger_, customer, kind, LatestOccurred(customer), runner_->rules()));
      ASSERT_EQ(json, folded) << customer;
    }
  }
}

TEST_F(RunnerTest, IncrementalApplicationEqualsARebuildByteForByte) {
  AppendWorkload(150, 3000, 11, 37, /*catch_up_each=*/true);
  for (ProjectionKind kind : kAllProjections) {
    SCOPED_TRACE(ProjectionName(kind));
    auto incremental = AllStored(kind);
    uint64_t last_total = 0;
    ASSERT_OK(runner_->Rebuild({kind}, [&](uint64_t done, uint64_t total) {
      EXPECT_LE(done, total);
      last_total = total;
    }));
    EXPECT_EQ(last_total, 3000u);
    EXPECT_EQ(AllStored(kind), incremental);
    auto status = runner_->Status();
    EXPECT_EQ(status[static_cast<size_t>(kind)].version, 2u);
    EXPECT_EQ(status[static_cast<size_t>(kind)].behind, 0u);
  }
}

TEST_F(RunnerTest, ARebuildThatOutgrowsItsCacheStillEqualsIncrementalApplication) {
  AppendWorkload(150, 3000, 13, 64, /*catch_up_each=*/true);
  std::map<int, std::map<std::string, std::string>> incremental;
  for (ProjectionKind kind : kAllProjections) {
    incremental[static_cast<int>(kind)] = AllStored(kind);
  }
  // Small chunks and a cache of 3 customers: states are written, dropped and read back again
  // many times per partition.
  runner_.reset();
  RunnerOptions options;
  options.batch_records = 50;
  options.rebuild_cached_customers = 3;
  ASSERT_OK(Runner::Open(ledger_.get(), options, &runner_));
  std::vector<ProjectionKind> kinds(std::begin(kAllProjections), std::end(kAllProjections));
  ASSERT_OK(runner_->Rebuild(kinds));
  for (ProjectionKind kind : kAllProjections) {
    SCOPED_TRACE(ProjectionName(kind));
    EXPECT_EQ(AllStored(kind), incremental[static_cast<int>(kind)]);
    EXPECT_EQ(runner_->Status()[static_cast<size_t>(kind)].version, 2u);
  }
  // As-of queries answer from the rebuilt snapshots like folds do.
  for (const auto& customer : Customers()) {
    ledger::Timestamp latest = LatestOccurred(customer);
    for (int64_t back : {0, 3, 30, 200}) {
      ledger::Timestamp at{latest.micros - back * ledger::kMicrosPerDay};
      for (ProjectionKind kind : kAllProjections) {
        auto queried = runner_->Query(kind, customer, at);
        auto folded = FoldFromLedger(*ledger_, customer, kind, at, runner_->rules());
        ASSERT_EQ(queried.ok(), folded.ok()) << customer;
        if (queried.ok()) {
          ASSERT_EQ(*queried, *folded) << customer << " " << at.micros;
        }
      }
    }
  }
}

TEST_F(RunnerTest, QueryAsOfEqualsFoldingTheVisibleEvents) {
  AppendWorkload(100, 2000, 5, 128, /*catch_up_each=*/false);
  ASSERT_OK(runner_->CatchUp());
  std::mt19937_64 rng(42);
  auto customers = Customers();
  for (int i = 0; i < 60; ++i) {
    const std::string& c = customers[rng() % customers.size()];
    ledger::Timestamp latest = LatestOccurred(c);
    // Before, at and after the latest event.
    int64_t offsets[] = {-int64_t(rng() % (400 * ledger::kMicrosPerDay)), 0,
                         int64_t(rng() % (800 * ledger::kMicrosPerDay))};
    for (int64_t offset : offsets) {
      ledger::Timestamp as_of{latest.micros + offset};
      for (ProjectionKind kind : kAllProjections) {
        auto queried = runner_->Query(kind, c, as_of);
        auto folded = FoldFromLedger(*ledger_, c, kind, as_of, runner_->rules());
        ASSERT_EQ(queried.ok(), folded.ok()) << c;
        if (queried.ok()) {
          ASSERT_EQ(*queried, *folded) << c << " as of " << as_of.micros;
        }
      }
    }
  }
}

TEST_F(RunnerTest, AsOfQueriesFromSnapshotsEqualFolds) {
  // Two customers with ~600 events each over 18 months: many snapshots each.
  AppendWorkload(2, 1200, 9, 64, /*catch_up_each=*/true);
  std::mt19937_64 rng(7);
  int checked = 0;
  for (const auto& c : Customers()) {
    auto records = ledger_->ReadCustomer(c, ledger::Seq(0), SIZE_MAX);
    ASSERT_TRUE(records.ok());
    if (records->size() < 300) continue;  // anonymous visitors
    ++checked;
    for (int i = 0; i < 40; ++i) {
      const auto& r = (*records)[rng() % records->size()];
      ledger::Timestamp as_of{r.occurred_at.micros + int64_t(rng() % 3) - 1};
      for (ProjectionKind kind : kAllProjections) {
        auto queried = runner_->Query(kind, c, as_of);
        auto folded = FoldFromLedger(*ledger_, c, kind, as_of, runner_->rules());
        ASSERT_EQ(queried.ok(), folded.ok());
        if (queried.ok()) {
          ASSERT_EQ(*queried, *folded) << c << " " << ProjectionName(kind) << " " << as_of.micros;
        }
      }
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST_F(RunnerTest, EventsLaterThanTheWindowFoldFromASnapshotAndEqualFolds) {
  // Two customers with ~600 events each over 18 months (many stored snapshots), then events
  // weeks to months older than each customer's latest, one per catch-up: each is folded again
  // from the nearest snapshot before it, and everything still equals a fold from the ledger.
  AppendWorkload(2, 1200, 9, 64, /*catch_up_each=*/true);
  std::mt19937_64 rng(11);
  std::vector<std::string> big;
  for (const auto& c : Customers()) {
    auto records = ledger_->ReadCustomer(c, ledger::Seq(0), SIZE_MAX);
    ASSERT_TRUE(records.ok());
    if (records->size() >= 300) big.push_back(c);
  }
  ASSERT_EQ(big.size(), 2u);
  for (int i = 0; i < 12; ++i) {
    const std::string& c = big[i % 2];
    ledger::Timestamp late{LatestOccurred(c).micros -
                           (10 + static_cast<int64_t>(rng() % 200)) * ledger::kMicrosPerDay};
    std::vector<ledger::PreparedEvent> batch;
    batch.push_back(testing::Prepared(
        testing::InquiryJson("late-" + std::to_string(i), c, "", ledger::FormatTimestamp(late))));
    ASSERT_OK(ledger_->Append(std::move(batch)).status());
    ASSERT_OK(runner_->CatchUp());
  }
  for (const auto& c : big) {
    for (ProjectionKind kind : kAllProjections) {
      ASSERT_OK_AND_ASSIGN(std::string stored, runner_->Stored(kind, c));
      ASSERT_OK_AND_ASSIGN(std::string folded,
                           FoldFromLedger(*ledger_, c, kind, LatestOccurred(c), runner_->rules()));
      ASSERT_EQ(stored, folded) << c << " " << ProjectionName(kind);
    }
    auto records = ledger_->ReadCustomer(c, ledger::Seq(0), SIZE_MAX);
    for (int i = 0; i < 30; ++i) {
      const auto& r = (*records)[rng() % records->size()];
      for (ProjectionKind kind : kAllProjections) {
        auto queried = runner_->Query(kind, c, r.occurred_at);
        auto folded = FoldFromLedger(*ledger_, c, kind, r.occurred_at, runner_->rules());
        ASSERT_EQ(queried.ok(), folded.ok());
        if (queried.ok()) {
          ASSERT_EQ(*queried, *folded) << c << " " << ProjectionName(kind);
        }
      }
    }
  }
  // And a rebuild gives the same.
  std::map<ProjectionKind, std::map<std::string, std::string>> before;
  for (ProjectionKind kind : kAllProjections) before[kind] = AllStored(kind);
  ASSERT_OK(runner_->Rebuild({kAllProjections[0], kAllProjections[1], kAllProjections[2]}));
  for (ProjectionKind kind : kAllProjections) EXPECT_EQ(AllStored(kind), before[kind]);
}

// Counts the keys of the projections column family whose first byte is `first`.
size_t KeysStartingWith(const Runner& runner, char first) {
  std::unique_ptr<rocksdb::Iterator> it(
      runner.store()->db()->NewIterator(rocksdb::ReadOptions(), runner.store()->column_family(0)));
  size_t n = 0;
  for (it->Seek(std::string(1, first)); it->Valid() && it->key()[0] == first; it->Next()) ++n;
  return n;
}

TEST_F(RunnerTest, LargeStatesUnderTheirOwnKeysAreReadBackExactly) {
  // Two customers with ~2,000 events each: their loyalty states outgrow the inline base, so the
  // settled state lives under a key of its own, rewritten every so many settled events, and
  // every reader re-applies the events after it. With no live cache the runner reads each state
  // back before every batch, and a reopened runner goes on from the stored values.
  runner_.reset();
  RunnerOptions options;
  options.live_cached_customers = 0;
  ASSERT_OK(Runner::Open(ledger_.get(), options, &runner_));
  std::vector<std::string> lines;
  tools::GenerateWorkload({2, 4000, 9}, [&](std::string_view l) { lines.emplace_back(l); });
  std::mt19937_64 rng(3);
  bool restarted = false;
  for (size_t i = 0; i < lines.size();) {
    size_t n = 1 + rng() % 40;
    std::vector<ledger::PreparedEvent> prepared;
    for (; n > 0 && i < lines.size(); --n, ++i) {
      ASSERT_OK_AND_ASSIGN(auto p, ledger::ParseAndPrepare(lines[i], ledger::CodecOptions{}));
      prepared.push_back(std::move(p));
    }
    ASSERT_OK(ledger_->Append(std::move(prepared)).status());
    ASSERT_OK(runner_->CatchUp());
    if (i % 1000 < 40) {  // now and then: every stored state equals a fold, now and later
      for (const auto& c : Customers()) {
        ledger::Timestamp latest = LatestOccurred(c);
        for (ProjectionKind kind : kAllProjections) {
          ASSERT_OK_AND_ASSIGN(std::string stored, runner_->Stored(kind, c));
          ASSERT_OK_AND_ASSIGN(std::string folded,
                               FoldFromLedger(*ledger_, c, kind, latest, runner_->rules()));
          ASSERT_EQ(stored, folded) << c << " " << ProjectionName(kind) << " after " << i;
          ledger::Timestamp later{latest.micros + 40 * ledger::kMicrosPerDay};
          ASSERT_OK_AND_ASSIGN(std::string queried, runner_->Query(kind, c, later));
          ASSERT_OK_AND_ASSIGN(folded, FoldFromLedger(*ledger_, c, kind, later, runner_->rules()));
          ASSERT_EQ(queried, folded) << c << " " << ProjectionName(kind) << " after " << i;
        }
      }
    }
    if (i >= 2000 && !restarted) {  // a restart half-way
      restarted = true;
      runner_.reset();
      ASSERT_OK(Runner::Open(ledger_.get(), options, &runner_));
    }
  }
  // Bases of their own (0x40 | kind) exist, and export renders every customer like Stored.
  for (ProjectionKind kind : kAllProjections) {
    EXPECT_GT(KeysStartingWith(*runner_, static_cast<char>(0x40 | static_cast<int>(kind))), 0u)
        << ProjectionName(kind);
  }
  for (ProjectionKind kind : kAllProjections) {
    std::map<std::string, std::string> exported;
    ASSERT_OK(runner_->ForEachStored(kind, [&](std::string_view c, std::string_view json) {
      exported.emplace(c, json);
      return true;
    }));
    auto incremental = AllStored(kind);
    EXPECT_EQ(exported, incremental);
    // A rebuild keeps its bases inline, drops the old version's keys, and answers the same.
    ASSERT_OK(runner_->Rebuild({kind}));
    EXPECT_EQ(AllStored(kind), incremental);
    EXPECT_EQ(KeysStartingWith(*runner_, static_cast<char>(0x40 | static_cast<int>(kind))), 0u);
  }
}

TEST_F(RunnerTest, CheckpointsSurviveReopenAndNothingIsAppliedTwice) {
  AppendWorkload(80, 1500, 3, 100, /*catch_up_each=*/true);
  auto before = AllStored(ProjectionKind::kLoyalty);
  runner_.reset();
  ledger_.reset();
  ledger::LedgerOptions options;
  ASSERT_OK(ledger::Ledger::Open(dir_.str(), options, &ledger_));
  ASSERT_OK(Runner::Open(ledger_.get(), RunnerOptions{}, &runner_));
  for (const auto& s : runner_->Status()) EXPECT_EQ(s.behind, 0u);
  ASSERT_OK(runner_->CatchUp());
  EXPECT_EQ(AllStored(ProjectionKind::kLoyalty), before);
}

// How many customers a read-only reader opened now (as `rapport export` beside a running server
// does) sees stored, and how many records it sees the projection behind the ledger.
std::pair<size_t, uint64_t> SeenByAReadOnlyReader(const std::string& dir, ProjectionKind kind) {
  ledger::LedgerOptions options;
  options.read_only = true;
  std::unique_ptr<ledger::Ledger> ledger;
  EXPECT_OK(ledger::Ledger::Open(dir, options, &ledger));
  if (!ledger) return {0, UINT64_MAX};
  std::unique_ptr<Runner> runner;
  EXPECT_OK(Runner::Open(ledger.get(), RunnerOptions{}, &runner));
  if (!runner) return {0, UINT64_MAX};
  size_t customers = 0;
  EXPECT_OK(runner->ForEachStored(kind, [&](std::string_view, std::string_view) {
    ++customers;
    return true;
  }));
  uint64_t behind = UINT64_MAX;
  for (const auto& s : runner->Status()) {
    if (s.kind == kind) behind = s.behind;
  }
  return {customers, behind};
}

// The store keeps no log, so read-only readers see it as of its last flush: the background
// runner flushes it every store_flush_interval_ms when it has applied something, so that they
// are never more than that behind a running server; without it they would see nothing until a
// memtable filled.
TEST(BackgroundRunnerTest, FlushesSoReadOnlyReadersBesideItSeeItsStates) {
  testing::TempDir dir;
  for (int interval_ms : {0, 100}) {
    SCOPED_TRACE(interval_ms);
    std::string sub = dir.str() + "/interval" + std::to_string(interval_ms);
    std::unique_ptr<ledger::Ledger> ledger;
    ASSERT_OK(ledger::Ledger::Open(sub, ledger::LedgerOptions{}, &ledger));
    RunnerOptions options;
    options.store_flush_interval_ms = interval_ms;
    std::unique_ptr<Runner> runner;
    // Half the events are in the ledger before the runner starts (a server restarted after a
    // crash: no commit of its own, only a catch-up), half arrive while it runs.
    std::vector<ledger::PreparedEvent> before, after;
    tools::GenerateWorkload({50, 600, 11}, [&](std::string_view line) {
      auto p = ledger::ParseAndPrepare(line, ledger::CodecOptions{});
      ASSERT_TRUE(p.ok()) << p.status();
      (before.size() < 300 ? before : after).push_back(*std::move(p));
    });
    ASSERT_OK(ledger->Append(std::move(before)).status());
    ledger.reset();
    ASSERT_OK(ledger::Ledger::Open(sub, ledger::LedgerOptions{}, &ledger));
    ASSERT_OK(Runner::Open(ledger.get(), options, &runner));
    runner->StartBackground();
    auto deadline = absl::Now() + absl::Seconds(60);
    while (runner->Status()[0].applied < 300 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (interval_ms > 0) {
      // Flushed although this process has committed nothing yet.
      std::pair<size_t, uint64_t> early = SeenByAReadOnlyReader(sub, ProjectionKind::kLoyalty);
      while (early.second > 0 && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(50));
        early = SeenByAReadOnlyReader(sub, ProjectionKind::kLoyalty);
      }
      EXPECT_EQ(early.second, 0u);
    }
    ASSERT_OK(ledger->Append(std::move(after)).status());
    auto applied = [&] {
      for (const auto& s : runner->Status()) {
        if (s.behind > 0) return false;
      }
      return true;
    };
    while (!applied() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    ASSERT_TRUE(applied());
    size_t customers = 0;  // as the server itself sees them
    ASSERT_OK(
        runner->ForEachStored(ProjectionKind::kLoyalty, [&](std::string_view, std::string_view) {
          ++customers;
          return true;
        }));
    ASSERT_GT(customers, 40u);
    std::pair<size_t, uint64_t> seen = SeenByAReadOnlyReader(sub, ProjectionKind::kLoyalty);
    if (interval_ms == 0) {
      // Applied, but all of it still in the memtables.
      EXPECT_EQ(seen.first, 0u);
      EXPECT_EQ(seen.second, 600u);
      continue;
    }
    while (seen.first < customers && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
      seen = SeenByAReadOnlyReader(sub, ProjectionKind::kLoyalty);
    }
    EXPECT_EQ(seen.first, customers);
    EXPECT_EQ(seen.second, 0u);
  }
}

}  // namespace
}  // namespace rapport::projections
