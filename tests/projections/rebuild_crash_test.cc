// A rebuild writes its new version without the WAL and flushes it before switching. A crash
// before the switch must leave the old version serving, unchanged, and a later rebuild must start
// clean and give byte-identical projections. The crash is real: a child process (this test binary
// again) rebuilds and `_exit`s part-way, with no clean-up, like `kill -9`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "projections/runner.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tools/gen.h"

namespace rapport::projections {
namespace {

constexpr char kDirEnv[] = "RAPPORT_TEST_REBUILD_CRASH_DIR";
constexpr char kAtEnv[] = "RAPPORT_TEST_REBUILD_CRASH_AT";
constexpr int kCrashedExit = 42;
constexpr int kRebuiltExit = 43;

RunnerOptions SmallBatches() {
  RunnerOptions o;
  o.batch_records = 200;  // progress (and so the crash point) after every 200 records
  return o;
}

void Open(const std::string& dir, std::unique_ptr<ledger::Ledger>* ledger,
          std::unique_ptr<Runner>* runner) {
  ledger::LedgerOptions options;
  ASSERT_OK(ledger::Ledger::Open(dir, options, ledger));
  ASSERT_OK(Runner::Open(ledger->get(), SmallBatches(), runner));
}

std::map<std::pair<int, std::string>, std::string> AllStored(const ledger::Ledger& ledger,
                                                             const Runner& runner) {
  std::set<std::string> customers;
  for (uint32_t p = 0; p < ledger.partitions(); ++p) {
    EXPECT_OK(ledger.ScanPartition(ledger::PartitionId(p), ledger::Position(1),
                                   [&](const ledger::StoredRecord& r) {
                                     customers.insert(r.customer_id);
                                     return true;
                                   }));
  }
  std::map<std::pair<int, std::string>, std::string> out;
  for (ProjectionKind kind : kAllProjections) {
    for (const auto& c : customers) {
      auto json = runner.Stored(kind, c);
      EXPECT_TRUE(json.ok()) << c << ": " << json.status();
      if (json.ok()) out[{static_cast<int>(kind), c}] = *json;
    }
  }
  return out;
}

// The child: rebuilds every projection of the ledger in $RAPPORT_TEST_REBUILD_CRASH_DIR and dies
// once $RAPPORT_TEST_REBUILD_CRASH_AT records are applied (or, when it finishes first, just
// after the switch). Skipped in ordinary runs.
TEST(RebuildCrashTest, ChildRebuildsAndDies) {
  const char* dir = std::getenv(kDirEnv);
  const char* at = std::getenv(kAtEnv);
  if (dir == nullptr || at == nullptr) GTEST_SKIP() << "the child of CrashMidRebuild…";
  const uint64_t crash_at = std::strtoull(at, nullptr, 10);
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<Runner> runner;
  Open(dir, &ledger, &runner);
  std::vector<ProjectionKind> kinds(std::begin(kAllProjections), std::end(kAllProjections));
  absl::Status s = runner->Rebuild(kinds, [&](uint64_t done, uint64_t) {
    if (done >= crash_at) _exit(kCrashedExit);
  });
  // Rebuilt and switched: die before any clean-up, so that a clean close flushes nothing.
  if (s.ok()) _exit(kRebuiltExit);
  std::fprintf(stderr, "the rebuild failed: %s\n", s.ToString().c_str());
  _exit(1);
}

TEST(RebuildCrashTest, CrashMidRebuildLeavesTheOldVersionServingAndARebuildStartsClean) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  testing::TempDir dir;
  constexpr uint64_t kEvents = 6000;
  std::map<std::pair<int, std::string>, std::string> before;
  {
    std::unique_ptr<ledger::Ledger> ledger;
    std::unique_ptr<Runner> runner;
    Open(dir.str(), &ledger, &runner);
    std::vector<ledger::PreparedEvent> batch;
    tools::GenerateWorkload({120, kEvents, 9}, [&](std::string_view line) {
      auto p = ledger::ParseAndPrepare(line, ledger::CodecOptions{});
      ASSERT_TRUE(p.ok()) << p.status();
      batch.push_back(*std::move(p));
    });
    ASSERT_OK(ledger->Append(std::move(batch)).status());
    ASSERT_OK(runner->CatchUp());
    before = AllStored(*ledger, *runner);
    ASSERT_FALSE(before.empty());
  }
  auto run_child = [&](uint64_t crash_at) {
    std::string cmd =
        StrCat(kDirEnv, "=", dir.str(), " ", kAtEnv, "=", crash_at, " ", self,
               " --gtest_filter=RebuildCrashTest.ChildRebuildsAndDies", " > /dev/null 2>&1");
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  // Early (nothing of the new version written yet) and late (some partitions' states written
  // without the WAL, not yet flushed), each followed by a restart that looks at what is served.
  for (uint64_t crash_at : {kEvents / 10, kEvents * 9 / 10}) {
    SCOPED_TRACE(StrCat("crash after ", crash_at, " records"));
    ASSERT_EQ(run_child(crash_at), kCrashedExit);
    std::unique_ptr<ledger::Ledger> ledger;
    std::unique_ptr<Runner> runner;
    Open(dir.str(), &ledger, &runner);
    for (const auto& s : runner->Status()) {
      EXPECT_EQ(s.version, 1u);
      EXPECT_EQ(s.behind, 0u);
    }
    EXPECT_EQ(AllStored(*ledger, *runner), before);
  }
  // The rebuild again, to the end this time, and a crash right after the switch: the new version
  // must be there in full.
  ASSERT_EQ(run_child(UINT64_MAX), kRebuiltExit);
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<Runner> runner;
  Open(dir.str(), &ledger, &runner);
  for (const auto& s : runner->Status()) {
    EXPECT_EQ(s.version, 2u);
    EXPECT_EQ(s.behind, 0u);
  }
  EXPECT_EQ(AllStored(*ledger, *runner), before);
  // And an in-process rebuild after it.
  std::vector<ProjectionKind> kinds(std::begin(kAllProjections), std::end(kAllProjections));
  ASSERT_OK(runner->Rebuild(kinds));
  for (const auto& s : runner->Status()) EXPECT_EQ(s.version, 3u);
  EXPECT_EQ(AllStored(*ledger, *runner), before);
}

}  // namespace
}  // namespace rapport::projections
