// kill -9 a real `rapport serve` at random moments while a producer publishes a `rapport gen`
// workload to the inbox of a `rapport broker` running as a process of its own, restarting serve
// each time: afterwards every event is stored exactly once, `rapport verify` passes, and
// rapport.ledger holds every record, duplicates only of records already sent, in per-customer
// order.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "ledger/codec.h"
#include "ledger/record.h"
#include "tests/testing/kafka.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace rapport {
namespace {

using testing::ReadFile;
using testing::RunRapport;
using testing::SpawnRapport;
using testing::TempDir;
using testing::WaitExit;
using testing::WaitFor;

std::string WaitForFile(const std::string& path) {
  WaitFor([&] { return std::filesystem::exists(path); }, std::chrono::seconds(30));
  std::string text = ReadFile(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Records in the ledger, from `rapport digest` (which reads while serve holds the data dir).
uint64_t StoredRecords(const TempDir& dir, const std::string& data) {
  auto r = RunRapport(dir, "digest --data-dir " + data);
  if (r.exit_code != 0) return 0;
  uint64_t total = 0;
  size_t at = 0;
  while ((at = r.out.find("\"position\":", at)) != std::string::npos) {
    at += 11;
    total += std::stoull(r.out.substr(at));
  }
  return total;
}

TEST(KafkaCrashTest, KillNineServeWhilePublishingLosesNothingAndStoresNothingTwice) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string bootstrap_file = dir.Sub("bootstrap");
  pid_t broker = SpawnRapport({"broker", "--partitions", "4", "--bootstrap-file", bootstrap_file},
                              dir.Sub("broker.out"), dir.Sub("broker.err"));
  ASSERT_GT(broker, 0);
  const std::string bootstrap = WaitForFile(bootstrap_file);
  ASSERT_FALSE(bootstrap.empty()) << ReadFile(dir.Sub("broker.err"));

  // The workload, with each message keyed as a producer would: customer id, else identity value.
  constexpr int kEvents = 120000;
  auto gen =
      RunRapport(dir, "gen --customers 8000 --events " + std::to_string(kEvents) + " --seed 23");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::vector<std::pair<std::string, std::string>> messages;
  std::set<std::string> event_ids;
  {
    std::istringstream in(gen.out);
    std::string line;
    while (std::getline(in, line)) {
      auto event = ledger::ParseEventJson(line, ledger::CodecOptions());
      ASSERT_TRUE(event.ok()) << event.status();
      event_ids.insert(event->event_id);
      messages.emplace_back(
          !event->customer_id.empty() ? event->customer_id : event->identity->value, line);
    }
  }
  ASSERT_EQ(messages.size(), static_cast<size_t>(kEvents));

  // rapport.ledger is followed while it is written (the embedded broker keeps 5 MB a partition).
  testing::TopicCollector ledger_topic(bootstrap, "rapport.ledger", 4);

  // A shorter consumer-group session, so that the group hands the partitions to the restarted
  // serve soon after the killed one stops heartbeating (the default is 6 s; the embedded
  // broker's first rebalance waits 3 s, so a session must be longer than that).
  const std::string config = dir.Sub("rapport.toml");
  testing::WriteFile(config,
                     "[kafka.consumer_properties]\n\"session.timeout.ms\" = 4000\n"
                     "\"heartbeat.interval.ms\" = 500\n");
  auto start_serve = [&] {
    return SpawnRapport({"serve", "--data-dir", data, "--config", config, "--kafka", bootstrap,
                         "--status-interval", "2"},
                        dir.Sub("serve.out"), dir.Sub("serve.err"));
  };
  pid_t serve = start_serve();
  ASSERT_GT(serve, 0);

  // Publish at about 2,500 events/s for 48 s: mid-stream at every kill, and the backlog while
  // serve restarts stays well within what the embedded broker keeps.
  std::atomic<bool> published{false};
  std::thread producer([&] {
    testing::TestProducer p(bootstrap);
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < messages.size(); ++i) {
      p.Send("rapport.touchpoints", messages[i].first, messages[i].second);
      if (i % 600 == 599) {
        std::this_thread::sleep_until(t0 + std::chrono::milliseconds((i + 1) * 2 / 5));
      }
    }
    EXPECT_EQ(p.Flush(), 0);
    published = true;
  });

  // Each round waits until the running serve has stored something new (so it is mid-stream,
  // not still starting), then kills it at a random moment.
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(0, 1000);
  int kills = 0;
  uint64_t before = 0;
  std::vector<uint64_t> stored_at_kill;
  while (kills < 6 && !published) {
    WaitFor([&] { return published || StoredRecords(dir, data) > before; },
            std::chrono::seconds(60));
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    if (published) break;
    ASSERT_EQ(kill(serve, SIGKILL), 0);
    EXPECT_EQ(WaitExit(serve), 128 + SIGKILL);
    ++kills;
    before = StoredRecords(dir, data);
    stored_at_kill.push_back(before);
    serve = start_serve();
    ASSERT_GT(serve, 0);
  }
  producer.join();
  EXPECT_GE(kills, 5) << "the workload was published before 5 kills";

  const uint64_t records = event_ids.size();
  ASSERT_TRUE(
      WaitFor([&] { return StoredRecords(dir, data) >= records; }, std::chrono::seconds(120)))
      << StoredRecords(dir, data) << " of " << records << "\n"
      << ReadFile(dir.Sub("serve.err")).substr(0, 4000);
  // Every record relayed (followed by the collector) before serve stops cleanly.
  auto first_seen = [&] {
    std::map<int32_t, std::set<uint64_t>> positions;
    for (const auto& m : ledger_topic.Messages()) {
      positions[m.partition].insert(std::stoull(m.headers.at("position")));
    }
    uint64_t n = 0;
    for (const auto& [p, set] : positions) n += set.size();
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return first_seen() >= records; }, std::chrono::seconds(120)))
      << first_seen() << " of " << records;
  ASSERT_EQ(kill(serve, SIGTERM), 0);
  EXPECT_EQ(WaitExit(serve), 0) << ReadFile(dir.Sub("serve.err"));

  // Stored exactly once: as many records as distinct events (the ledger keys them by event_id,
  // so a second copy would be one more record), and both chains verify.
  EXPECT_EQ(StoredRecords(dir, data), records);
  auto verify = RunRapport(dir, "verify --data-dir " + data);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(ReadFile(dir.Sub("serve.err")).find("deleted by the broker"), std::string::npos)
      << "the inbox fell further behind than the embedded broker keeps";

  // rapport.ledger: per partition, a position is new only right after the greatest one seen
  // (a resend repeats positions already sent); per customer, seqs first appear in order.
  std::map<int32_t, uint64_t> greatest;
  std::map<std::string, uint64_t> customer_seq;
  uint64_t duplicates = 0;
  for (const auto& m : ledger_topic.Messages()) {
    uint64_t position = std::stoull(m.headers.at("position"));
    uint64_t seq = std::stoull(m.headers.at("seq"));
    uint64_t& g = greatest[m.partition];
    if (position <= g) {
      ++duplicates;
      continue;
    }
    ASSERT_EQ(position, g + 1) << "partition " << m.partition << " skipped a record";
    g = position;
    uint64_t& s = customer_seq[*m.key];
    ASSERT_EQ(seq, s + 1) << "customer " << *m.key << " out of order";
    s = seq;
  }
  uint64_t relayed = 0;
  for (const auto& [p, g] : greatest) relayed += g;
  EXPECT_EQ(relayed, records);
  RecordProperty("kills", kills);
  std::string at;
  for (uint64_t n : stored_at_kill) at += std::to_string(n) + " ";
  RecordProperty("stored_at_each_kill", at);
  RecordProperty("ledger_topic_duplicates", static_cast<int>(duplicates));

  kill(broker, SIGTERM);
  EXPECT_EQ(WaitExit(broker), 0);
}

}  // namespace
}  // namespace rapport
