// The projections' database keeps no log, so a crash takes back its writes since the last flush.
// A rebuild writes its new version as ingested files and flushes before and after switching: a
// crash before the switch must leave the old version serving, unchanged, and a later rebuild must
// start clean and give byte-identical projections. A crash during live catch-up must leave states
// and checkpoints at one and the same write, so that catching up again gives what a rebuild
// gives. The crashes are real: a child process (this test binary again) `_exit`s part-way, with
// no clean-up, or is killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

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
          std::unique_ptr<Runner>* runner, const RunnerOptions& runner_options = SmallBatches()) {
  ledger::LedgerOptions options;
  ASSERT_OK(ledger::Ledger::Open(dir, options, ledger));
  ASSERT_OK(Runner::Open(ledger->get(), runner_options, runner));
}

// Live catch-up in many small writes, with memtables so small that the projections' database
// flushes every few writes: a crash then finds some of them flushed and the later ones not.
RunnerOptions SmallWritesAndFlushes() {
  RunnerOptions o;
  o.batch_records = 50;
  o.store_write_buffer_bytes = 64u << 10;
  return o;
}

// The path of this test binary, to run it again as a child.
std::string Self() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  return self;
}

// Appends a gen workload of `events` events to the ledger in `dir` (no projections applied).
void AppendWorkload(const std::string& dir, uint64_t events, uint64_t seed) {
  ledger::LedgerOptions options;
  std::unique_ptr<ledger::Ledger> ledger;
  ASSERT_OK(ledger::Ledger::Open(dir, options, &ledger));
  std::vector<ledger::PreparedEvent> batch;
  tools::GenerateWorkload({300, events, seed}, [&](std::string_view line) {
    auto p = ledger::ParseAndPrepare(line, ledger::CodecOptions{});
    ASSERT_TRUE(p.ok()) << p.status();
    batch.push_back(*std::move(p));
  });
  ASSERT_OK(ledger->Append(std::move(batch)).status());
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
  const std::string self = Self();
  ASSERT_FALSE(self.empty());
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

// The child of KillNineDuringLiveCatchUp…: catches up the projections of the ledger in
// $RAPPORT_TEST_REBUILD_CRASH_DIR in small writes until it is killed. Skipped in ordinary runs.
TEST(LiveCrashTest, ChildCatchesUpUntilKilled) {
  const char* dir = std::getenv(kDirEnv);
  if (dir == nullptr || std::getenv(kAtEnv) != nullptr) GTEST_SKIP() << "the child of KillNine…";
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<Runner> runner;
  Open(dir, &ledger, &runner, SmallWritesAndFlushes());
  absl::Status s = runner->CatchUp();
  if (s.ok()) _exit(kRebuiltExit);  // done before the kill: no clean close either
  std::fprintf(stderr, "catching up failed: %s\n", s.ToString().c_str());
  _exit(1);
}

TEST(LiveCrashTest, KillNineDuringLiveCatchUpLeavesStatesAndCheckpointsTogether) {
  const std::string self = Self();
  ASSERT_FALSE(self.empty());
  testing::TempDir dir;
  // The child's environment, made before fork (a forked child of a threaded process may only
  // call async-signal-safe functions before exec).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(StrCat(kDirEnv, "=", dir.str()));
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::mt19937 rng(7);
  int kills = 0, partly_applied = 0;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(StrCat("round ", round));
    // Two rounds per workload: the second child goes on from what the first one's crash left.
    if (round % 2 == 0) AppendWorkload(dir.str(), 20000, 11 + round);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      execle(self.c_str(), self.c_str(), "--gtest_filter=LiveCrashTest.ChildCatchesUpUntilKilled",
             static_cast<char*>(nullptr), envp.data());
      _exit(127);
    }
    // Long enough to open and write for a while; a catch-up of all 20,000 events takes longer.
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 400));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == 0) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFSIGNALED(status));
      ++kills;
    } else {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kRebuiltExit) << status;
    }
    // What the crash left must be states that are exactly those of their checkpoints: catching
    // up from there gives what a rebuild gives (states ahead of their checkpoints would have
    // events applied twice, states behind them would miss events).
    std::unique_ptr<ledger::Ledger> ledger;
    std::unique_ptr<Runner> runner;
    Open(dir.str(), &ledger, &runner);
    uint64_t applied = 0, behind = 0;
    for (const auto& s : runner->Status()) {
      applied += s.applied;
      behind += s.behind;
    }
    if (applied > 0 && behind > 0) ++partly_applied;
    if (round % 2 == 1) {
      // Every other round checks here; the others let the next child start from the remains.
      ASSERT_OK(runner->CatchUp());
      auto caught_up = AllStored(*ledger, *runner);
      std::vector<ProjectionKind> kinds(std::begin(kAllProjections), std::end(kAllProjections));
      ASSERT_OK(runner->Rebuild(kinds));
      EXPECT_EQ(AllStored(*ledger, *runner), caught_up);
    }
  }
  EXPECT_GE(kills, 2) << "the catch-ups finished before they could be killed";
  EXPECT_GE(partly_applied, 1) << "no kill found the projections part-way";
}

}  // namespace
}  // namespace rapport::projections
