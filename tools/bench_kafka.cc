// `rapport bench ingest|latency`: the Kafka inbox through the embedded broker, in-process:
// a producer publishes a gen workload to rapport.touchpoints and `serve`'s pipeline (inbox,
// ledger, projections, relay, changelogs) takes it in.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "consumers/embedded_broker.h"
#include "consumers/producer.h"
#include "consumers/service.h"
#include "ledger/codec.h"
#include "ledger/strings.h"
#include "tools/bench_common.h"
#include "tools/config.h"

namespace rapport::tools {
namespace {

struct KeyedEvent {
  std::string key;  // the customer id, else the identity value (CONTRACT §5)
  std::string json;
  std::string event_id;
};

std::vector<KeyedEvent> KeyWorkload(std::vector<std::string> lines) {
  std::vector<KeyedEvent> out;
  out.reserve(lines.size());
  for (auto& line : lines) {
    auto event = ledger::ParseEventJson(line, ledger::CodecOptions());
    if (!event.ok()) continue;
    KeyedEvent k;
    k.key = !event->customer_id.empty() ? event->customer_id : event->identity->value;
    k.event_id = event->event_id;
    k.json = std::move(line);
    out.push_back(std::move(k));
  }
  return out;
}

struct Pipeline {
  std::unique_ptr<consumers::EmbeddedBroker> broker;
  std::unique_ptr<consumers::Service> service;
  std::unique_ptr<consumers::Producer> producer;
  std::atomic<uint64_t> failed{0};
};

// Starts the broker, the service on a fresh bench data dir, and a producer; prints the error.
bool StartPipeline(const CommonFlags& flags, Pipeline* p) {
  auto config = LoadConfig(flags.config);
  if (!config.ok()) {
    std::fprintf(stderr, "rapport: config: %s\n", std::string(config.status().message()).c_str());
    return false;
  }
  if (!PrepareBenchDir(flags.data_dir)) return false;
  consumers::EmbeddedBrokerOptions bo;
  bo.partitions = static_cast<int>(config->ledger.partitions);
  absl::Status s = consumers::EmbeddedBroker::Start(bo, &p->broker);
  consumers::ServiceOptions options = ServiceOptionsFor(*config, flags.data_dir);
  if (s.ok()) {
    options.kafka_mode = p->broker->bootstrap();
    s = consumers::Service::Start(options, &p->service);
  }
  if (s.ok()) {
    consumers::KafkaOptions ko = config->kafka;
    ko.bootstrap = p->broker->bootstrap();
    // The producer stands for another system's: its threads do not yield to ours (nice 0).
    auto producer = consumers::Producer::Create(
        ko, "rapport-bench",
        [p](const rd_kafka_message_t* m) {
          if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++p->failed;
        },
        {}, /*nice=*/0);
    if (producer.ok()) {
      p->producer = std::move(*producer);
    } else {
      s = producer.status();
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "rapport bench: %s\n", std::string(s.message()).c_str());
    return false;
  }
  // Timing starts once the inbox owns its partitions (the embedded broker's first consumer-group
  // rebalance waits 3 s for more members, as group.initial.rebalance.delay.ms does).
  while (p->service->inbox_stats().assigned_partitions == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void Publish(Pipeline* p, const std::string& topic, const KeyedEvent& e) {
  while (!p->producer->Produce(topic, -1, e.key, e.json, {}, nullptr).ok()) {
    p->producer->Poll(1);
  }
}

uint64_t StoredRecords(const consumers::Service& service) {
  uint64_t n = 0;
  for (const auto& h : service.ledger()->Heads()) n += h.position.value();
  return n;
}

uint64_t DistinctEvents(const std::vector<KeyedEvent>& events) {
  absl::flat_hash_map<std::string_view, bool> seen;
  for (const auto& e : events) seen.emplace(e.event_id, true);
  return seen.size();
}

}  // namespace

int RunBenchIngest(const CommonFlags& flags, const BenchFlags& bench) {
  auto events = KeyWorkload(MakeWorkload(bench));
  const uint64_t records = DistinctEvents(events);
  Pipeline p;
  if (!StartPipeline(flags, &p)) return kExitRuntime;
  const std::string topic = consumers::Topics::WithPrefix("rapport.").touchpoints;
  // The embedded broker keeps 5 MB per partition; the producer stays at most this many messages
  // ahead of the inbox so that none is deleted before it is read.
  constexpr uint64_t kWindow = 60000;
  std::fprintf(stderr, "bench: publishing %zu events to %s\n", events.size(), topic.c_str());
  auto t0 = BenchClock::now();
  const double cpu0 = ProcessCpuSeconds();
  std::thread publisher([&] {
    for (size_t i = 0; i < events.size(); ++i) {
      Publish(&p, topic, events[i]);
      if (i % 1000 == 999) {
        p.producer->Poll(0);
        while (i + 1 > p.service->inbox_stats().consumed + kWindow) p.producer->Poll(1);
      }
    }
    p.producer->Flush(60000);
  });
  auto last_print = t0;
  while (StoredRecords(*p.service) < records) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto now = BenchClock::now();
    if (now - last_print > std::chrono::seconds(1)) {
      last_print = now;
      uint64_t n = StoredRecords(*p.service);
      std::fprintf(stderr, "\rbench: %llu/%llu stored (%.0f/s)   ",
                   static_cast<unsigned long long>(n), static_cast<unsigned long long>(records),
                   static_cast<double>(n) / SecondsBetween(t0, now));
    }
    if (p.service->inbox_stats().lost_to_retention > 0 || !p.service->failure().ok()) break;
  }
  auto t1 = BenchClock::now();
  const double cpu1 = ProcessCpuSeconds();
  // The ledger's share of the ingest: its groups and the CPU of its two threads.
  const ledger::LedgerStats ls = p.service->ledger()->stats();
  publisher.join();
  auto stored = StoredRecords(*p.service);
  // The rest of the pipeline: projections applied, every record relayed, changelogs published.
  std::fprintf(stderr, "\n");
  while (true) {
    auto st = p.service->status();
    if (st.projections_behind == 0 && st.relay.lag == 0 && st.changelog.lag == 0) break;
    auto now = BenchClock::now();
    if (now - last_print > std::chrono::seconds(1)) {
      last_print = now;
      std::fprintf(stderr,
                   "\rbench: %.0fs: projections behind %llu, relay lag %llu, changelog lag %llu   ",
                   SecondsBetween(t0, now), static_cast<unsigned long long>(st.projections_behind),
                   static_cast<unsigned long long>(st.relay.lag),
                   static_cast<unsigned long long>(st.changelog.lag));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto t2 = BenchClock::now();
  auto st = p.service->status();
  std::fprintf(stderr, "\n");
  std::printf(
      "%s,\"events\":%zu,\"records\":%llu,\"stored\":%llu,"
      "\"duplicates\":%llu,\"rejected\":%llu,\"lost_to_retention\":%llu,\"seconds\":%.3f,"
      "\"events_per_s\":%.0f,\"all_stages_seconds\":%.3f,\"all_stages_events_per_s\":%.0f,"
      "\"relayed\":%llu,\"changelog_messages\":%llu,\"group_commits\":%llu,"
      "\"events_per_group_commit\":%.1f,\"sequence_cpu_seconds\":%.3f,"
      "\"write_cpu_seconds\":%.3f,\"cpu_seconds\":%.3f,\"cpu_us_per_event\":%.2f}\n",
      BenchJsonHead("ingest").c_str(), events.size(), static_cast<unsigned long long>(records),
      static_cast<unsigned long long>(stored), static_cast<unsigned long long>(st.inbox.duplicates),
      static_cast<unsigned long long>(st.inbox.rejected),
      static_cast<unsigned long long>(st.inbox.lost_to_retention), SecondsBetween(t0, t1),
      static_cast<double>(events.size()) / SecondsBetween(t0, t1), SecondsBetween(t0, t2),
      static_cast<double>(events.size()) / SecondsBetween(t0, t2),
      static_cast<unsigned long long>(st.relay.sent),
      static_cast<unsigned long long>(st.changelog.published),
      static_cast<unsigned long long>(ls.groups),
      ls.groups == 0 ? 0.0
                     : static_cast<double>(ls.events_appended + ls.duplicates) /
                           static_cast<double>(ls.groups),
      static_cast<double>(ls.sequence_cpu_micros) / 1e6,
      static_cast<double>(ls.write_cpu_micros) / 1e6, cpu1 - cpu0,
      events.empty() ? 0.0 : (cpu1 - cpu0) * 1e6 / static_cast<double>(events.size()));
  p.service->Stop();
  return stored == records ? kExitOk : kExitRuntime;
}

int RunBenchLatency(const CommonFlags& flags, const BenchFlags& bench, int rate, int seconds,
                    int warmup_seconds) {
  if (rate <= 0 || seconds <= 0) {
    std::fprintf(stderr, "rapport bench latency: --rate and --seconds must be positive\n");
    return kExitBadInput;
  }
  if (warmup_seconds < 0 || warmup_seconds >= seconds) {
    std::fprintf(stderr,
                 "rapport bench latency: --warmup must be at least 0 and less than "
                 "--seconds\n");
    return kExitBadInput;
  }
  // The events published in the warm-up are not measured: the pipeline starts with a backlog
  // (the inbox's first fetch comes about a second after the first publish, and the projections
  // then catch up with it), which drains in the next second or so.
  const size_t warmup_events = static_cast<size_t>(rate) * static_cast<size_t>(warmup_seconds);
  BenchFlags b = bench;
  b.events = static_cast<uint64_t>(rate) * static_cast<uint64_t>(seconds);
  auto events = KeyWorkload(MakeWorkload(b));
  absl::flat_hash_map<std::string, size_t> first_index;
  for (size_t i = 0; i < events.size(); ++i) first_index.emplace(events[i].event_id, i);
  std::vector<std::atomic<int64_t>> sent_ns(events.size());
  Pipeline p;
  if (!StartPipeline(flags, &p)) return kExitRuntime;
  const std::string topic = consumers::Topics::WithPrefix("rapport.").touchpoints;
  const uint64_t records = first_index.size();
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               BenchClock::now().time_since_epoch())
        .count();
  };

  std::fprintf(stderr, "bench: publishing %zu events at %d/s\n", events.size(), rate);
  auto t0 = BenchClock::now();
  const double cpu0 = ProcessCpuSeconds();
  std::thread publisher([&] {
    // Wakes once a millisecond and publishes every event due by then: a wake-up per event
    // (20,000/s) cost this thread more CPU than publishing, CPU the pipeline measured needs.
    auto due = [&](size_t i) {
      return t0 +
             std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) / rate));
    };
    for (size_t i = 0; i < events.size(); ++i) {
      if (BenchClock::now() < due(i)) {
        p.producer->Poll(0);
        std::this_thread::sleep_until(
            std::max(due(i), BenchClock::now() + std::chrono::milliseconds(1)));
      }
      sent_ns[i] = now_ns();
      Publish(&p, topic, events[i]);
    }
    p.producer->Flush(60000);
  });

  // Visible = applied by the projection runner (all three projections, state and checkpoint
  // committed): a query from then on answers with the event. Checked every millisecond.
  const uint32_t partitions = p.service->ledger()->partitions();
  std::vector<double> latency_ms;  // publish -> visible
  latency_ms.reserve(records);
  // Publish -> stored durably in the ledger (the inbox's part of the latency). Each record is
  // read once, when stored: its position and publish time wait in `unseen` until it is visible.
  std::vector<uint64_t> stored_seen(partitions, 0);
  std::vector<std::deque<std::pair<uint64_t, int64_t>>> unseen(partitions);
  std::vector<double> stored_ms;
  stored_ms.reserve(records);
  // Publish -> visible by the second the event was published in: a tail that one burst makes
  // shows as one bad second, a steady one in every second.
  std::vector<std::vector<double>> by_second(static_cast<size_t>(seconds) + 1);
  const int64_t t0_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
  auto last_print = t0;
  uint64_t to_measure = 0;  // distinct events first published after the warm-up
  for (const auto& [id, index] : first_index) to_measure += index >= warmup_events ? 1 : 0;
  while (latency_ms.size() < to_measure) {
    if (BenchClock::now() - last_print > std::chrono::seconds(1)) {
      last_print = BenchClock::now();
      auto st = p.service->status();
      std::fprintf(stderr,
                   "bench: %.0fs: %zu visible; inbox lag %lld, projections behind %llu, relay lag "
                   "%llu, changelog lag %llu\n",
                   SecondsBetween(t0, last_print), latency_ms.size(),
                   static_cast<long long>(st.inbox.lag),
                   static_cast<unsigned long long>(st.projections_behind),
                   static_cast<unsigned long long>(st.relay.lag),
                   static_cast<unsigned long long>(st.changelog.lag));
    }
    std::vector<uint64_t> visible(partitions, UINT64_MAX);
    for (const auto& s : p.service->runner()->Status()) {
      for (uint32_t q = 0; q < partitions && q < s.checkpoints.size(); ++q) {
        visible[q] = std::min(visible[q], s.checkpoints[q]);
      }
    }
    std::vector<uint64_t> stored(partitions, 0);
    for (const auto& h : p.service->ledger()->Heads()) {
      if (h.partition.value() < partitions) stored[h.partition.value()] = h.position.value();
    }
    int64_t at = now_ns();
    bool progressed = false;
    for (uint32_t q = 0; q < partitions; ++q) {
      if (stored[q] > stored_seen[q]) {
        progressed = true;
        absl::Status s = p.service->ledger()->ScanPartition(
            ledger::PartitionId(q), ledger::Position(stored_seen[q] + 1),
            [&](ledger::StoredRecord& r) {
              if (r.position.value() > stored[q]) return false;
              auto it = first_index.find(r.event_id);
              int64_t sent = -1;  // -1: published in the warm-up, not measured
              if (it != first_index.end() && it->second >= warmup_events) {
                sent = sent_ns[it->second].load();
                stored_ms.push_back(static_cast<double>(at - sent) / 1e6);
              }
              unseen[q].emplace_back(r.position.value(), sent);
              return true;
            });
        if (!s.ok()) {
          std::fprintf(stderr, "rapport bench: %s\n", std::string(s.message()).c_str());
          return kExitRuntime;
        }
        stored_seen[q] = stored[q];
      }
      // Checkpoints were read before the heads, so every visible record is in `unseen`.
      while (visible[q] != UINT64_MAX && !unseen[q].empty() &&
             unseen[q].front().first <= visible[q]) {
        progressed = true;
        if (const int64_t sent = unseen[q].front().second; sent >= 0) {
          latency_ms.push_back(static_cast<double>(at - sent) / 1e6);
          size_t second = static_cast<size_t>((sent - t0_ns) / 1000000000);
          by_second[std::min(second, by_second.size() - 1)].push_back(latency_ms.back());
        }
        unseen[q].pop_front();
      }
    }
    if (!progressed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (SecondsBetween(t0, BenchClock::now()) > seconds + 120.0) break;
  }
  publisher.join();
  auto elapsed = SecondsBetween(t0, BenchClock::now());
  const double cpu = ProcessCpuSeconds() - cpu0;
  size_t measured = latency_ms.size();
  std::sort(latency_ms.begin(), latency_ms.end());
  double p50 = Percentile(latency_ms, 0.50), p99 = Percentile(latency_ms, 0.99),
         p999 = Percentile(latency_ms, 0.999), max = Percentile(latency_ms, 1.0);
  std::sort(stored_ms.begin(), stored_ms.end());
  double worst_second_p99 = 0;
  int seconds_over_100ms = 0;  // seconds whose p99 is over 100 ms
  for (auto& v : by_second) {
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    double second_p99 = Percentile(v, 0.99);
    worst_second_p99 = std::max(worst_second_p99, second_p99);
    if (second_p99 > 100) ++seconds_over_100ms;
  }
  std::printf(
      "%s,\"rate_per_s\":%d,\"events\":%zu,\"warmup_events\":%zu,"
      "\"measured\":%zu,"
      "\"seconds\":%.3f,\"visible_p50_ms\":%.2f,\"visible_p99_ms\":%.2f,"
      "\"visible_p999_ms\":%.2f,\"visible_max_ms\":%.2f,\"stored_p50_ms\":%.2f,"
      "\"stored_p99_ms\":%.2f,\"stored_max_ms\":%.2f,\"worst_second_visible_p99_ms\":%.2f,"
      "\"seconds_over_100ms\":%d,\"cpu_seconds\":%.3f,\"cpu_us_per_event\":%.2f}\n",
      BenchJsonHead("latency").c_str(), rate, events.size(), warmup_events, measured, elapsed, p50,
      p99, p999, max, Percentile(stored_ms, 0.50), Percentile(stored_ms, 0.99),
      Percentile(stored_ms, 1.0), worst_second_p99, seconds_over_100ms, cpu,
      cpu * 1e6 / static_cast<double>(events.size()));
  p.service->Stop();
  return measured == to_measure ? kExitOk : kExitRuntime;
}

}  // namespace rapport::tools
