// End to end through the embedded broker over TCP: a `rapport gen` workload published with a
// real producer is stored once each, relayed to rapport.ledger in per-partition order, and
// reflected in the changelog topics.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "consumers/embedded_broker.h"
#include "consumers/service.h"
#include "gtest/gtest.h"
#include "ledger/codec.h"
#include "ledger/record.h"
#include "projections/fold.h"
#include "schemas/ledger_record_generated.h"
#include "tests/testing/kafka.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tools/gen.h"

namespace rapport::consumers {
namespace {

using testing::TempDir;
using testing::TestProducer;
using testing::WaitFor;

// The routing key a producer would use: the customer id, else the identity value.
std::string KeyOf(std::string_view json) {
  auto event = ledger::ParseEventJson(json, ledger::CodecOptions());
  EXPECT_TRUE(event.ok()) << event.status();
  if (!event.ok()) return "";
  return !event->customer_id.empty() ? event->customer_id : event->identity->value;
}

struct Published {
  std::set<std::string> event_ids;
  uint64_t messages = 0;
};

// Publishes the workload, pausing while the inbox is more than `max_lag` messages behind: the
// embedded broker keeps only 5 MB per partition, so a producer far ahead of the consumer would
// have its oldest messages deleted before they are read (a real topic's retention).
Published PublishWorkload(const std::string& bootstrap, const Service& service, uint64_t customers,
                          uint64_t events, uint64_t seed, int64_t max_lag = 20000) {
  Published out;
  TestProducer producer(bootstrap);
  tools::GenerateWorkload({customers, events, seed}, [&](std::string_view line) {
    auto event = ledger::ParseEventJson(line, ledger::CodecOptions());
    ASSERT_TRUE(event.ok());
    out.event_ids.insert(event->event_id);
    producer.Send("rapport.touchpoints", KeyOf(line), std::string(line));
    if (++out.messages % 5000 == 0) {
      producer.Flush();
      WaitFor([&] {
        auto st = service.status();
        return static_cast<int64_t>(out.messages - st.inbox.consumed) <= max_lag;
      });
    }
  });
  EXPECT_EQ(producer.Flush(), 0);
  return out;
}

bool CaughtUp(const Service& service, uint64_t records) {
  uint64_t stored = 0;
  for (const auto& h : service.ledger()->Heads()) stored += h.position.value();
  auto st = service.status();
  return stored == records && st.inbox.lag == 0 && st.relay.lag == 0 &&
         st.projections_behind == 0 && st.changelog.lag == 0;
}

std::string Describe(const Service& service, uint64_t records) {
  uint64_t stored = 0;
  for (const auto& h : service.ledger()->Heads()) stored += h.position.value();
  auto st = service.status();
  return "records " + std::to_string(stored) + " of " + std::to_string(records) +
         "; inbox stored " + std::to_string(st.inbox.stored) + " dup " +
         std::to_string(st.inbox.duplicates) + " rejected " + std::to_string(st.inbox.rejected) +
         " lag " + std::to_string(st.inbox.lag) + "; relay lag " + std::to_string(st.relay.lag) +
         "; projections behind " + std::to_string(st.projections_behind) + "; changelog lag " +
         std::to_string(st.changelog.lag);
}

TEST(PipelineTest, EveryPublishedEventIsStoredOnceRelayedAndProjected) {
  TempDir dir;
  std::unique_ptr<EmbeddedBroker> broker;
  ASSERT_OK(EmbeddedBroker::Start({}, &broker));
  ServiceOptions options;
  options.data_dir = dir.Sub("data");
  options.kafka_mode = broker->bootstrap();
  std::unique_ptr<Service> service;
  ASSERT_OK(Service::Start(options, &service));

  // Readers follow the output topics while the data flows, as analytics jobs do.
  testing::TopicCollector ledger_topic(broker->bootstrap(), "rapport.ledger", 4);
  std::vector<std::unique_ptr<testing::TopicCollector>> changelogs;
  for (auto kind : projections::kAllProjections) {
    changelogs.push_back(std::make_unique<testing::TopicCollector>(
        broker->bootstrap(), "rapport." + std::string(projections::ProjectionName(kind)), 4));
  }

  constexpr uint64_t kEvents = 100'000;
  Published published = PublishWorkload(broker->bootstrap(), *service, 10'000, kEvents, 11);
  ASSERT_EQ(published.messages, kEvents);
  const uint64_t records = published.event_ids.size();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(*service, records); }, std::chrono::seconds(60)))
      << Describe(*service, records);

  // The ledger: every distinct event once (producer retries in the workload are duplicates),
  // nothing rejected, and the chains verify.
  auto st = service->status();
  EXPECT_EQ(st.inbox.stored, records);
  EXPECT_EQ(st.inbox.stored + st.inbox.duplicates, kEvents);
  EXPECT_EQ(st.inbox.rejected, 0u);
  EXPECT_EQ(st.inbox.lost_to_retention, 0u);
  auto report = service->ledger()->Verify();
  ASSERT_OK(report.status());
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->records, records);

  // rapport.ledger: every position of every partition, first seen in order, with the contract's
  // key, headers and value.
  auto heads = service->ledger()->Heads();
  ASSERT_TRUE(WaitFor([&] { return ledger_topic.size() >= records; }))
      << ledger_topic.size() << " of " << records;
  EXPECT_TRUE(ledger_topic.Errors().empty()) << ledger_topic.Errors()[0];
  std::vector<uint64_t> last(4, 0);
  std::vector<std::set<uint64_t>> seen(4);
  for (const auto& m : ledger_topic.Messages()) {
    uint64_t position = std::stoull(m.headers.at("position"));
    ASSERT_EQ(m.headers.at("partition"), std::to_string(m.partition));
    if (seen[m.partition].insert(position).second) {
      ASSERT_EQ(position, last[m.partition] + 1) << "partition " << m.partition;
      last[m.partition] = position;
    }
    auto record = ledger::DecodeRecord(m.value);
    ASSERT_OK(record.status());
    EXPECT_EQ(record->position.value(), position);
    EXPECT_EQ(std::to_string(record->seq.value()), m.headers.at("seq"));
    ASSERT_TRUE(m.key.has_value());
    EXPECT_EQ(*m.key, record->customer_id);
    EXPECT_EQ(m.headers.at("hash").size(), 64u);
    // The typed touchpoint rides along and is the stored event.
    auto fb = flatbuffers::GetRoot<schemas::LedgerRecord>(m.value.data());
    ASSERT_NE(fb->touchpoint(), nullptr);
    ASSERT_NE(fb->touchpoint()->event_id(), nullptr);
    EXPECT_EQ(fb->touchpoint()->event_id()->str(), record->event_id);
  }
  for (uint32_t p = 0; p < 4; ++p) EXPECT_EQ(last[p], heads[p].position.value());

  // The changelog topics: the last message of each customer is its stored projection.
  for (auto kind : projections::kAllProjections) {
    std::string topic = "rapport." + std::string(projections::ProjectionName(kind));
    auto& collector = *changelogs[static_cast<int>(kind)];
    std::map<std::string, std::string> latest;
    // Wait until every customer's last state has arrived.
    ASSERT_TRUE(WaitFor([&] {
      latest.clear();
      for (auto& m : collector.Messages()) latest[*m.key] = std::move(m.value);
      if (latest.size() != report->customers) return false;
      for (const auto& [customer, json] : latest) {
        if (json != *service->runner()->Stored(kind, customer)) return false;
      }
      return true;
    })) << topic
        << ": " << latest.size() << " customers of " << report->customers;
    EXPECT_TRUE(collector.Errors().empty()) << collector.Errors()[0];
    EXPECT_EQ(latest.size(), report->customers) << topic;
  }
  service->Stop();
}

TEST(PipelineTest, InboxTopicWithAnotherPartitionCountStopsTheService) {
  TempDir dir;
  EmbeddedBrokerOptions bo;
  bo.partitions = 3;
  std::unique_ptr<EmbeddedBroker> broker;
  ASSERT_OK(EmbeddedBroker::Start(bo, &broker));
  ServiceOptions options;
  options.data_dir = dir.Sub("data");
  options.kafka_mode = broker->bootstrap();
  std::unique_ptr<Service> service;
  absl::Status s = Service::Start(options, &service);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("partitions"), std::string_view::npos) << s;
}

}  // namespace
}  // namespace rapport::consumers
