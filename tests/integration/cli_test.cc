// The `rapport` program as a user runs it: exit codes and output of CONTRACT §6.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "ledger/ledger.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace rapport {
namespace {

using ::rapport::testing::InquiryJson;
using ::rapport::testing::RunRapport;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

class CliTest : public ::testing::Test {
 protected:
  std::string Dir() const { return "--data-dir " + dir_.Sub("data"); }
  testing::TempDir dir_;
};

TEST_F(CliTest, AppendPrintsOneResultPerLineAndExitsZero) {
  std::string input = InquiryJson("e1", "C-1") + "\n\n   \n" + InquiryJson("e2", "C-1") + "\n" +
                      InquiryJson("e1", "C-1") + "\n";
  auto r = RunRapport(dir_, "append " + Dir(), input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("{\"event_id\":\"e1\",\"customer_id\":\"C-1\",\"partition\":"));
  EXPECT_THAT(lines[0], HasSubstr("\"seq\":1,\"position\":1,\"hash\":\""));
  EXPECT_THAT(lines[0], HasSubstr("\"duplicate\":false}"));
  EXPECT_THAT(lines[1], HasSubstr("\"seq\":2"));
  EXPECT_THAT(lines[2], HasSubstr("\"duplicate\":true}"));
}

TEST_F(CliTest, BadLinesGetAnErrorNamingLineAndFieldAndExitTwo) {
  std::string input =
      InquiryJson("e1", "C-1") + "\n" + "{not json\n" +
      R"({"event_id":"e3","type":"purchase","customer_id":"C-1","occurred_at":"2026-11-20T10:15:00Z","channel":"store","source":"pos","data":{"order_id":"O","amount_minor":0,"currency":"CNY"}})" +
      "\n" + InquiryJson("e4", "C-1", "\"expected_version\":0") + "\n" + InquiryJson("e5", "C-1") +
      "\n";
  auto r = RunRapport(dir_, "append " + Dir(), input);
  EXPECT_EQ(r.exit_code, 2);
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_THAT(lines[1], StartsWith("{\"line\":2,\"error\":{\"code\":\"invalid_json\""));
  EXPECT_THAT(lines[2], StartsWith("{\"line\":3,\"error\":{\"code\":\"invalid_field\""));
  EXPECT_THAT(lines[2], HasSubstr("\"field\":\"data.amount_minor\""));
  EXPECT_THAT(lines[3], HasSubstr("\"code\":\"version_conflict\""));
  EXPECT_THAT(lines[3], HasSubstr("\"current_version\":1"));
  EXPECT_THAT(lines[4], HasSubstr("\"seq\":2"));  // later lines go on
}

TEST_F(CliTest, HistoryVerifyDigest) {
  ASSERT_EQ(RunRapport(dir_, "append " + Dir(),
                       InquiryJson("e1", "C-1", "", "2026-01-01T00:00:00Z") + "\n" +
                           InquiryJson("e2", "C-1", "", "2026-06-01T00:00:00+08:00") + "\n")
                .exit_code,
            0);
  auto h = RunRapport(dir_, "history C-1 " + Dir());
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_THAT(h.out, StartsWith("{\"events\":[{\"channel\":\"chat\",\"customer_id\":\"C-1\""));
  EXPECT_THAT(h.out, HasSubstr("\"occurred_at\":\"2026-05-31T16:00:00Z\""));
  EXPECT_THAT(h.out, HasSubstr("\"customer_hash\":\""));
  auto as_of = RunRapport(dir_, "history C-1 --as-of 2026-02-01T00:00:00Z " + Dir());
  EXPECT_EQ(as_of.exit_code, 0);
  EXPECT_THAT(as_of.out, HasSubstr("\"event_id\":\"e1\""));
  EXPECT_THAT(as_of.out, ::testing::Not(HasSubstr("\"event_id\":\"e2\"")));
  EXPECT_EQ(RunRapport(dir_, "history C-404 " + Dir()).exit_code, 1);
  EXPECT_EQ(RunRapport(dir_, "history C-1 --as-of yesterday " + Dir()).exit_code, 2);

  auto v = RunRapport(dir_, "verify " + Dir());
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_THAT(v.out, StartsWith("{\"ok\":true,\"records\":2,\"customers\":1"));
  EXPECT_EQ(RunRapport(dir_, "verify --customer C-1 " + Dir()).exit_code, 0);

  auto d = RunRapport(dir_, "digest " + Dir());
  EXPECT_EQ(d.exit_code, 0);
  EXPECT_THAT(d.out, StartsWith("{\"partitions\":[{\"partition\":0,\"position\":"));
  EXPECT_THAT(d.out, HasSubstr(std::string(64, '0')));  // the empty partitions
}

TEST_F(CliTest, AppendNeedsTheDataDirToItself) {
  std::unique_ptr<ledger::Ledger> server;
  ASSERT_OK(ledger::Ledger::Open(dir_.Sub("data"), ledger::LedgerOptions(), &server));
  auto r = RunRapport(dir_, "append " + Dir(), InquiryJson("e1", "C-1") + "\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("in use"));
  // Readers still work while the "server" holds it.
  EXPECT_EQ(RunRapport(dir_, "digest " + Dir()).exit_code, 0);
}

TEST_F(CliTest, BadUsageExitsTwo) {
  EXPECT_EQ(RunRapport(dir_, "frobnicate").exit_code, 2);
  EXPECT_EQ(RunRapport(dir_, "history").exit_code, 2);
  EXPECT_EQ(RunRapport(dir_, "gen --events many").exit_code, 2);
  EXPECT_EQ(RunRapport(dir_, "append /nonexistent/file " + Dir()).exit_code, 2);
  testing::WriteFile(dir_.Sub("bad.toml"), "[ledger]\npartitoins = 3\n");
  auto r = RunRapport(dir_, "digest --config " + dir_.Sub("bad.toml") + " " + Dir());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("ledger.partitoins"));
  // Checked before anything starts: a warm-up as long as the run would leave nothing measured.
  r = RunRapport(dir_, "bench latency --seconds 3 --warmup 3 " + Dir());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--warmup"));
}

TEST_F(CliTest, GenIsDeterministicAndAppendable) {
  auto a = RunRapport(dir_, "gen --customers 50 --events 2000 --seed 3");
  auto b = RunRapport(dir_, "gen --customers 50 --events 2000 --seed 3");
  auto c = RunRapport(dir_, "gen --customers 50 --events 2000 --seed 4");
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_EQ(Lines(a.out).size(), 2000u);
  auto r = RunRapport(dir_, "append " + Dir(), a.out);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out.substr(0, 500);
  EXPECT_EQ(RunRapport(dir_, "verify " + Dir()).exit_code, 0);
}

TEST_F(CliTest, BenchLiveAppliesEveryRecordOnce) {
  auto r = RunRapport(
      dir_, "bench live --events 3000 --customers 200 --batch 150 --data-dir " + dir_.Sub("bench"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("{\"bench\":\"live\""));
  EXPECT_THAT(r.out, HasSubstr("\"events\":3000,\"records\":"));
  EXPECT_THAT(r.out, HasSubstr("\"cpu_us_per_event\":"));
  EXPECT_THAT(r.out, HasSubstr("\"batch\":150,\"customers\":200}"));
  // It makes its own data dir and refuses one it did not make.
  std::filesystem::create_directories(dir_.Sub("mine"));
  testing::WriteFile(dir_.Sub("mine/keep.txt"), "x");
  r = RunRapport(dir_, "bench live --events 10 --data-dir " + dir_.Sub("mine"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("was not made by a benchmark"));
}

TEST_F(CliTest, ProjectionsAsOfRebuildAndExport) {
  std::string input =
      InquiryJson("p1", "C-1", "", "2026-01-01T00:00:00Z") + "\n" +
      R"({"event_id":"p2","type":"purchase","customer_id":"C-1","occurred_at":"2026-02-01T00:00:00Z","channel":"store","source":"pos","data":{"order_id":"O-1","amount_minor":120000,"currency":"CNY"}})" +
      "\n" + InquiryJson("p3", "C-2", "", "2026-03-01T00:00:00Z") + "\n";
  ASSERT_EQ(RunRapport(dir_, "append " + Dir(), input).exit_code, 0);

  auto loyalty = RunRapport(dir_, "loyalty C-1 " + Dir());
  EXPECT_EQ(loyalty.exit_code, 0) << loyalty.err;
  EXPECT_THAT(loyalty.out, StartsWith("{\"customer_id\":\"C-1\",\"as_of\":\""));
  EXPECT_THAT(loyalty.out, HasSubstr("\"seq\":2"));
  auto before = RunRapport(dir_, "loyalty C-1 --as-of 2026-01-15T00:00:00Z " + Dir());
  EXPECT_EQ(before.exit_code, 0) << before.err;
  EXPECT_THAT(before.out, HasSubstr("\"as_of\":\"2026-01-15T00:00:00Z\",\"seq\":1"));
  EXPECT_EQ(RunRapport(dir_, "profile C-1 --as-of 2025-12-31T00:00:00Z " + Dir()).exit_code, 1);
  EXPECT_EQ(RunRapport(dir_, "resume C-404 " + Dir()).exit_code, 1);
  EXPECT_EQ(RunRapport(dir_, "resume C-1 --as-of soon " + Dir()).exit_code, 2);

  auto rebuild = RunRapport(dir_, "rebuild " + Dir());
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.err;
  EXPECT_THAT(rebuild.out, HasSubstr("\"events\":3"));
  EXPECT_EQ(RunRapport(dir_, "rebuild --projection nope " + Dir()).exit_code, 2);

  auto jsonl = RunRapport(dir_, "export --projection resume " + Dir());
  EXPECT_EQ(jsonl.exit_code, 0) << jsonl.err;
  EXPECT_EQ(Lines(jsonl.out).size(), 2u);
  auto csv = RunRapport(dir_, "export --projection loyalty --format csv " + Dir());
  EXPECT_EQ(csv.exit_code, 0) << csv.err;
  auto rows = Lines(csv.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0], StartsWith("customer_id,as_of,seq,tier,tier_since,tier_history,"));
  EXPECT_THAT(rows[1], StartsWith("C-1,2026-02-01T00:00:00Z,2,silver,"));
  EXPECT_EQ(RunRapport(dir_, "export --projection loyalty --format xml " + Dir()).exit_code, 2);
}

}  // namespace
}  // namespace rapport
