// Kafka faults while a `rapport gen` workload flows through the pipeline (CONTRACT §5: an event
// read from rapport.touchpoints is stored exactly once; every stored record reaches
// rapport.ledger at least once, in order per partition). The faults are injected into the
// embedded broker (librdkafka's mock cluster, 3 brokers) through rdkafka_mock.h while a real
// producer publishes and the service — in this process, on a temp data dir — consumes, appends,
// relays and publishes changelogs over TCP:
//   - the broker that leads an inbox partition (and coordinates the inbox group) goes down for
//     4 s, then comes back;
//   - Produce requests of the service's own producers fail for good (not retriable), so the
//     relay and the changelog publisher must send again;
//   - Produce, Fetch (OFFSET_OUT_OF_RANGE in a disabled test, see there), OffsetCommit,
//     Heartbeat (including REBALANCE_IN_PROGRESS, which makes the inbox rejoin its group),
//     JoinGroup and SyncGroup request errors;
//   - partition leaders moving between brokers mid-stream;
//   - the service stopped and started again on the same data dir mid-stream.
// After each, once nothing is behind: the ledger holds exactly the distinct event_ids published
// (the workload includes producer retries of the same event), its chains verify, rapport.ledger
// holds every position first seen in order, and the changelog topics end with each customer's
// stored projection.
//
// What librdkafka 2.0.2's mock cannot do: a Produce request error is returned before the
// records are appended, so it never simulates a lost acknowledgement of an appended batch (a
// broker going down with requests in flight comes closest); a broker that is down stays the
// leader of its partitions (no automatic failover: the mock has no controller), so leadership
// moves only when the test moves it; it has no API to read the current leader (the tests ask the
// cluster's metadata); and its mock API calls take a few hundred milliseconds each while no
// client is connected, so the tests make few of them before the service starts.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "consumers/embedded_broker.h"
#include "consumers/kafka.h"
#include "consumers/service.h"
#include "gtest/gtest.h"
#include "ledger/codec.h"
#include "ledger/json.h"
#include "ledger/ledger.h"
#include "ledger/record.h"
#include "ledger/strings.h"
#include "projections/fold.h"
#include "projections/runner.h"
#include "tests/testing/kafka.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tools/gen.h"

namespace rapport::consumers {
namespace {

using testing::ReadTopic;
using testing::TempDir;
using testing::TestProducer;
using testing::WaitFor;

constexpr int kPartitions = 4;
constexpr int kBrokers = 3;
constexpr uint64_t kEvents = 20'000;
constexpr uint64_t kCustomers = 2'000;

// Kafka API keys (the protocol's numbers).
constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;
constexpr int16_t kOffsetCommit = 8;
constexpr int16_t kJoinGroup = 11;
constexpr int16_t kHeartbeat = 12;
constexpr int16_t kSyncGroup = 14;

// A `rapport gen` workload as a producer publishes it: keyed by customer id, or by the identity
// value when the event has none.
struct Workload {
  std::vector<std::pair<std::string, std::string>> messages;  // key, value
  std::set<std::string> event_ids;                            // distinct
};

const Workload& SharedWorkload() {
  static const Workload* workload = [] {
    auto* w = new Workload;
    tools::GenerateWorkload({kCustomers, kEvents, 7}, [&](std::string_view line) {
      auto event = ledger::ParseEventJson(line, ledger::CodecOptions());
      if (!event.ok()) {
        ADD_FAILURE() << event.status() << " in " << line;
        return;
      }
      w->event_ids.insert(event->event_id);
      std::string key = !event->customer_id.empty() ? event->customer_id : event->identity->value;
      w->messages.emplace_back(std::move(key), std::string(line));
    });
    return w;
  }();
  return *workload;
}

class KafkaFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmbeddedBrokerOptions bo;
    bo.brokers = kBrokers;
    bo.partitions = kPartitions;
    ASSERT_OK(EmbeddedBroker::Start(bo, &broker_));
    options_.data_dir = dir_.Sub("data");
    options_.kafka_mode = broker_->bootstrap();
  }

  // `short_sessions`: a 3 s group session instead of the inbox's default (a pass-through
  // librdkafka property), because the mock coordinator waits the session timeout less 1 s
  // before it completes a rebalance of a group that was up.
  void StartService(bool short_sessions) {
    // Clients retry a broker that was down within 1 s rather than librdkafka's 10 s backoff cap.
    options_.kafka.properties = {{"reconnect.backoff.max.ms", "1000"}};
    if (short_sessions) {
      options_.kafka.consumer_properties = {{"session.timeout.ms", "3000"},
                                            {"heartbeat.interval.ms", "300"}};
    }
    // Changelog rounds every 200 ms rather than 1 s, so that WaitCaughtUp's quiet period covers
    // one (the publisher learns what to publish at the start of a round).
    options_.changelog.interval_ms = 200;
    ASSERT_OK(Service::Start(options_, &service_));
    // The faults are for a running pipeline: the inbox has joined its group first.
    ASSERT_TRUE(WaitFor([&] { return service_->status().inbox.assigned_partitions == kPartitions; },
                        std::chrono::seconds(60)))
        << Describe();
  }

  // The broker leading each partition of `topic`, from the cluster's metadata (the mock has no
  // getter for it).
  std::vector<int32_t> Leaders(const std::string& topic) const {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", broker_->bootstrap().c_str(), err, sizeof(err));
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    std::vector<int32_t> leaders(kPartitions, -1);
    EXPECT_EQ(rd_kafka_metadata(rk, 0, t, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    if (md != nullptr) {
      for (int i = 0; i < md->topic_cnt; ++i) {
        for (int j = 0; j < md->topics[i].partition_cnt; ++j) {
          const auto& pm = md->topics[i].partitions[j];
          if (pm.id >= 0 && pm.id < kPartitions) leaders[pm.id] = pm.leader;
        }
      }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return leaders;
  }

  void TearDown() override {
    if (service_) service_->Stop();
    service_.reset();
    broker_.reset();
  }

  rd_kafka_mock_cluster_t* cluster() const { return broker_->cluster(); }

  // Publishes the workload in `parts` slices, calling `before(i)` ahead of slice i (and
  // `before(parts)` after the last), then waits until the broker acknowledged everything.
  void Publish(int parts, const std::function<void(int)>& before) {
    const auto& messages = SharedWorkload().messages;
    TestProducer producer(broker_->bootstrap(), {{"reconnect.backoff.max.ms", "1000"}});
    for (int i = 0; i < parts; ++i) {
      before(i);
      size_t from = messages.size() * i / parts, to = messages.size() * (i + 1) / parts;
      for (size_t m = from; m < to; ++m) {
        producer.Send(topics_.touchpoints, messages[m].first, messages[m].second);
      }
    }
    before(parts);
    EXPECT_EQ(producer.Flush(), 0);
  }

  uint64_t StoredRecords() const {
    uint64_t n = 0;
    for (const auto& h : service_->ledger()->Heads()) n += h.position.value();
    return n;
  }

  bool CaughtUp() const {
    auto st = service_->status();
    return StoredRecords() == SharedWorkload().event_ids.size() && st.inbox.lag == 0 &&
           st.relay.lag == 0 && st.projections_behind == 0 && st.changelog.lag == 0 &&
           st.rejected_waiting == 0;
  }

  std::string Describe() const {
    auto st = service_->status();
    return StrCat("stored ", StoredRecords(), " of ", SharedWorkload().event_ids.size(),
                  "; inbox consumed ", st.inbox.consumed, " lag ", st.inbox.lag, " assigned ",
                  st.inbox.assigned_partitions, "; relay lag ", st.relay.lag,
                  "; projections behind ", st.projections_behind, "; changelog lag ",
                  st.changelog.lag);
  }

  // Waits until everything published is stored and nothing is behind, steadily for 600 ms (the
  // changelog publisher refreshes what it has to publish at the start of each round).
  void WaitCaughtUp() {
    auto stable_since = std::chrono::steady_clock::now();
    bool ok = WaitFor(
        [&] {
          if (!CaughtUp()) {
            stable_since = std::chrono::steady_clock::now();
            return false;
          }
          return std::chrono::steady_clock::now() - stable_since > std::chrono::milliseconds(600);
        },
        std::chrono::seconds(120));
    ASSERT_TRUE(ok) << Describe();
    ASSERT_OK(service_->failure());
  }

  // The inbox's own account, for a service that ran the whole workload.
  void ExpectInboxStats() const {
    const Workload& w = SharedWorkload();
    InboxStats st = service_->status().inbox;
    EXPECT_EQ(st.stored, w.event_ids.size());
    EXPECT_EQ(st.rejected, 0u);
    EXPECT_EQ(st.lost_to_retention, 0u);
    EXPECT_EQ(st.consumed, st.stored + st.duplicates);
    // Every message at least once (a fault could only add copies on the topic).
    EXPECT_GE(st.consumed, w.messages.size());
  }

  // The ledger holds each published event_id exactly once, and nothing else; the chains verify.
  void ExpectLedgerExact() const {
    const Workload& w = SharedWorkload();
    ledger::Ledger* ledger = service_->ledger();
    std::map<std::string, int> seen;
    uint64_t records = 0;
    for (uint32_t p = 0; p < ledger->partitions(); ++p) {
      ASSERT_OK(ledger->ScanPartition(ledger::PartitionId(p), ledger::Position(1),
                                      [&](ledger::StoredRecord& r) {
                                        ++seen[r.event_id];
                                        ++records;
                                        return true;
                                      }));
    }
    EXPECT_EQ(records, w.event_ids.size());
    EXPECT_EQ(StoredRecords(), w.event_ids.size());
    int twice = 0;
    for (const auto& [id, count] : seen) {
      if (count != 1 && ++twice <= 5) ADD_FAILURE() << id << " stored " << count << " times";
    }
    EXPECT_EQ(twice, 0);
    std::set<std::string> ids;
    for (const auto& [id, count] : seen) ids.insert(id);
    EXPECT_TRUE(ids == w.event_ids)
        << ids.size() << " stored ids, " << w.event_ids.size() << " published";
    ASSERT_OK_AND_ASSIGN(ledger::VerifyReport report, ledger->Verify());
    EXPECT_TRUE(report.ok) << report.reason;
    EXPECT_EQ(report.records, w.event_ids.size());
  }

  // rapport.ledger: per partition, positions first appear as 1, 2, 3, … up to the head (copies
  // only of positions already seen), each message the record at that position.
  void ExpectLedgerTopic() const {
    ledger::Ledger* ledger = service_->ledger();
    auto heads = ledger->Heads();
    std::vector<uint64_t> last(kPartitions, 0);
    uint64_t copies = 0;
    int bad = 0;
    for (const auto& m : ReadTopic(broker_->bootstrap(), topics_.ledger, kPartitions)) {
      uint64_t position = std::stoull(m.headers.at("position"));
      ASSERT_EQ(m.headers.at("partition"), std::to_string(m.partition));
      if (position > last[m.partition]) {
        if (position != last[m.partition] + 1 && ++bad <= 5) {
          ADD_FAILURE() << "partition " << m.partition << ": position " << position
                        << " first appears after " << last[m.partition];
        }
        last[m.partition] = position;
      } else {
        ++copies;
      }
      ASSERT_OK_AND_ASSIGN(
          ledger::StoredRecord stored,
          ledger->ReadRecord(ledger::PartitionId(m.partition), ledger::Position(position)));
      ASSERT_OK_AND_ASSIGN(ledger::StoredRecord sent, ledger::DecodeRecord(m.value));
      EXPECT_EQ(sent.position.value(), position);
      EXPECT_EQ(sent.event_id, stored.event_id);
      EXPECT_EQ(sent.canonical, stored.canonical);
      EXPECT_EQ(m.key, stored.customer_id);
      EXPECT_EQ(m.headers.at("seq"), std::to_string(stored.seq.value()));
      EXPECT_EQ(m.headers.at("hash"), ledger::json::Hex(std::string_view(
                                          reinterpret_cast<const char*>(stored.chain_hash.data()),
                                          stored.chain_hash.size())));
    }
    EXPECT_EQ(bad, 0);
    for (int p = 0; p < kPartitions; ++p) {
      EXPECT_EQ(last[p], heads[p].position.value()) << "partition " << p;
    }
    RecordProperty("ledger_topic_copies", std::to_string(copies));
  }

  // Each changelog topic ends, per customer, with the customer's stored projection, and names
  // every customer that has one.
  void ExpectChangelogs() const {
    auto topics = topics_.Changelogs();
    for (size_t k = 0; k < topics.size(); ++k) {
      auto kind = projections::kAllProjections[k];
      std::map<std::string, std::string> last;
      for (auto& m : ReadTopic(broker_->bootstrap(), topics[k], kPartitions)) {
        ASSERT_TRUE(m.key.has_value()) << topics[k];
        last[*m.key] = std::move(m.value);  // one partition per key: offset order is time order
      }
      std::map<std::string, std::string> stored;
      ASSERT_OK(
          service_->runner()->ForEachStored(kind, [&](std::string_view c, std::string_view j) {
            stored.emplace(std::string(c), std::string(j));
            return true;
          }));
      EXPECT_EQ(last.size(), stored.size()) << topics[k];
      int bad = 0;
      for (const auto& [customer, json] : stored) {
        auto it = last.find(customer);
        ASSERT_OK_AND_ASSIGN(std::string now, service_->runner()->Stored(kind, customer));
        EXPECT_EQ(now, json);
        if ((it == last.end() || it->second != now) && ++bad <= 3) {
          ADD_FAILURE() << topics[k] << " " << customer << ": last message "
                        << (it == last.end() ? "(none)" : it->second) << " but stored " << now;
        }
      }
      EXPECT_EQ(bad, 0) << topics[k];
    }
  }

  void ExpectEverything() {
    ExpectLedgerExact();
    ExpectLedgerTopic();
    ExpectChangelogs();
  }

  void PushErrors(int16_t api, const std::vector<rd_kafka_resp_err_t>& errors) {
    rd_kafka_mock_push_request_errors_array(cluster(), api, errors.size(), errors.data());
  }

  TempDir dir_;
  Topics topics_ = Topics::WithPrefix("rapport.");
  std::unique_ptr<EmbeddedBroker> broker_;
  ServiceOptions options_;
  std::unique_ptr<Service> service_;
};

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

TEST_F(KafkaFaultsTest, BrokerDownForSecondsLosesAndDoublesNothing) {
  // The broker that leads inbox partition 0 goes down; it also leads partitions of the ledger
  // and changelog topics (the mock spreads leaders at random over 4 partitions and 3 brokers)
  // and is made the inbox group's coordinator, so producing, fetching, relaying, committing and
  // heartbeating all stall on it. 4 s stays under the 10 s session: the inbox keeps its group
  // membership (the group paths are the next test's).
  const int32_t down = Leaders(topics_.touchpoints)[0];
  ASSERT_GT(down, 0);
  ASSERT_EQ(rd_kafka_mock_coordinator_set(cluster(), "group", "rapport", down),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/false));
  Publish(4, [&](int part) {
    if (part == 1) {
      ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster(), down), RD_KAFKA_RESP_ERR_NO_ERROR);
    } else if (part == 3) {
      SleepMs(4000);
      ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster(), down), RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  });
  WaitCaughtUp();
  ExpectInboxStats();
  ExpectEverything();
}

TEST_F(KafkaFaultsTest, FailedDeliveriesAreSentAgainInOrder) {
  // The workload is on the inbox before the service starts, and the next Produce requests fail
  // for good (not retriable): only the service's producers — the relay, the changelog and
  // rejected publishers — take them, so their deliveries fail for real and they must send
  // again. rapport.ledger may get copies, never a gap or a position before an earlier one.
  Publish(1, [](int) {});
  PushErrors(kProduce, std::vector<rd_kafka_resp_err_t>(4, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/false));
  for (int wave = 0; wave < 5; ++wave) {
    SleepMs(150);
    PushErrors(kProduce, {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_RECORD});
  }
  WaitCaughtUp();
  rd_kafka_mock_clear_request_errors(cluster(), kProduce);
  ExpectInboxStats();
  ExpectEverything();
}

TEST_F(KafkaFaultsTest, ProduceRequestErrorsLoseAndDoubleNothing) {
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/true));
  // Waves of retriable Produce errors, taken by whichever producer asks next: the test's
  // publisher, the relay, the changelog publisher.
  Publish(5, [&](int part) {
    if (part >= 1 && part <= 4) {
      PushErrors(kProduce,
                 {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION});
      SleepMs(400);
    }
  });
  WaitCaughtUp();
  rd_kafka_mock_clear_request_errors(cluster(), kProduce);
  ExpectInboxStats();
  ExpectEverything();
}

TEST_F(KafkaFaultsTest, FetchRequestErrorsLoseAndDoubleNothing) {
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/true));
  Publish(5, [&](int part) {
    if (part >= 1 && part <= 4) {
      PushErrors(kFetch,
                 {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE});
      SleepMs(400);
    }
  });
  WaitCaughtUp();
  rd_kafka_mock_clear_request_errors(cluster(), kFetch);
  ExpectInboxStats();
  ExpectEverything();
}

// A Fetch answered OFFSET_OUT_OF_RANGE for an offset the broker does have (as after an unclean
// leader election) reaches Inbox::OnOffsetOutOfRange, which asks again from the same offset:
// nothing is skipped, nothing counted lost, nothing stored twice.
TEST_F(KafkaFaultsTest, FetchOffsetOutOfRangeRewindsAndDoublesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/true));
  Publish(5, [&](int part) {
    if (part == 1 || part == 3) {
      PushErrors(kFetch, {RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE});
      SleepMs(400);
    }
  });
  WaitCaughtUp();
  rd_kafka_mock_clear_request_errors(cluster(), kFetch);
  ExpectInboxStats();
  ExpectEverything();
}

TEST_F(KafkaFaultsTest, CommitAndGroupRequestErrorsLoseAndDoubleNothing) {
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/true));
  // Failed offset commits (the ledger, not Kafka, holds the inbox offsets), and heartbeats that
  // announce a rebalance or a lost coordinator: the inbox rejoins, its partitions are revoked
  // and assigned again from the offsets stored in the ledger, through failing JoinGroup and
  // SyncGroup requests.
  Publish(5, [&](int part) {
    if (part >= 1 && part <= 4) {
      PushErrors(
          kOffsetCommit,
          {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
           RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS});
      if (part == 1) {
        // One rebalance, through a failing JoinGroup and SyncGroup (each failure costs a
        // mock rebalance round of up to a session timeout, so just one of each).
        PushErrors(kHeartbeat, {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS});
        PushErrors(kJoinGroup, {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS});
        PushErrors(kSyncGroup, {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE});
      } else if (part == 3) {
        PushErrors(kHeartbeat, {RD_KAFKA_RESP_ERR_NOT_COORDINATOR});
      }
      SleepMs(600);  // heartbeats go every 300 ms
    }
  });
  WaitCaughtUp();
  for (int16_t api : {kOffsetCommit, kHeartbeat, kJoinGroup, kSyncGroup}) {
    rd_kafka_mock_clear_request_errors(cluster(), api);
  }
  ExpectInboxStats();
  ExpectEverything();
}

TEST_F(KafkaFaultsTest, PartitionLeadersMovingMidStreamLoseAndDoubleNothing) {
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/true));
  // Every partition of every topic changes leader four times while the workload flows.
  Publish(5, [&](int part) {
    if (part >= 1 && part <= 4) {
      for (const auto& topic : topics_.All()) {
        for (int p = 0; p < kPartitions; ++p) {
          ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster(), topic.c_str(), p,
                                                       (p + part) % kBrokers + 1),
                    RD_KAFKA_RESP_ERR_NO_ERROR);
        }
      }
      SleepMs(500);
    }
  });
  WaitCaughtUp();
  ExpectInboxStats();
  ExpectEverything();
}

TEST_F(KafkaFaultsTest, ServiceRestartedMidStreamLosesAndDoublesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartService(/*short_sessions=*/true));
  // Stopped twice while messages are waiting on the inbox and records are being relayed, and
  // started again on the same data dir and broker: a new group member resumes from the offsets
  // stored in the ledger, the relay and changelog publishers from their cursors.
  const uint64_t total = SharedWorkload().event_ids.size();
  Publish(4, [&](int part) {
    if (part == 1 || part == 3) {
      uint64_t want = total * part / 8;  // a part of what was published so far is stored
      ASSERT_TRUE(WaitFor([&] { return StoredRecords() >= want; }, std::chrono::seconds(60)))
          << Describe();
      service_->Stop();
      service_.reset();
      ASSERT_OK(Service::Start(options_, &service_));
    }
  });
  WaitCaughtUp();
  // The second instance's inbox saw only the rest; the ledger is the account of record.
  EXPECT_EQ(service_->status().inbox.rejected, 0u);
  ExpectEverything();
}

}  // namespace
}  // namespace rapport::consumers
