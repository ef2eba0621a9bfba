// `rapport bench append|replay|rebuild|query|live`: end-to-end figures on a workload made by the
// gen generator.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "ledger/json.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "projections/fold.h"
#include "projections/runner.h"
#include "rocksdb/db.h"
#include "tools/bench_common.h"
#include "tools/commands.h"
#include "tools/config.h"
#include "tools/gen.h"

namespace rapport::tools {
namespace {

struct AppendFigures {
  double seconds = 0;
  uint64_t events = 0;
  std::vector<double> batch_us;
  bool ok = true;
};

// Parses lines [begin, end) of `lines` (end clamped) into `events`; false, with the line named on
// stderr, at the first bad one.
bool PrepareLines(const std::vector<std::string>& lines, size_t begin, size_t end,
                  const ledger::CodecOptions& codec, std::vector<ledger::PreparedEvent>* events) {
  end = std::min(lines.size(), end);
  events->reserve(events->size() + (end > begin ? end - begin : 0));
  for (size_t i = begin; i < end; ++i) {
    auto p = ledger::ParseAndPrepare(lines[i], codec);
    if (!p.ok()) {
      std::fprintf(stderr, "bench: line %zu: %s\n", i + 1,
                   std::string(p.status().message()).c_str());
      return false;
    }
    events->push_back(std::move(*p));
  }
  return true;
}

// Appends `lines` in atomic batches of `batch` from `threads` threads, each parsing its own
// batches (the JSON-to-ledger path), the way concurrent HTTP publishers would.
AppendFigures AppendAll(ledger::Ledger& ledger, const std::vector<std::string>& lines,
                        const BenchFlags& bench, const ledger::CodecOptions& codec, bool progress) {
  AppendFigures f;
  size_t batches = (lines.size() + bench.batch - 1) / bench.batch;
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  std::vector<std::vector<double>> latencies(bench.threads);
  auto start = BenchClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < bench.threads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t b; (b = next.fetch_add(1)) < batches && !failed.load();) {
        auto t0 = BenchClock::now();
        std::vector<ledger::PreparedEvent> events;
        if (!PrepareLines(lines, b * bench.batch, (b + 1) * bench.batch, codec, &events)) {
          failed = true;
          return;
        }
        size_t n = events.size();
        auto r = ledger.Append(std::move(events));
        if (!r.ok()) {
          std::fprintf(stderr, "bench: append failed: %s\n",
                       std::string(r.status().message()).c_str());
          failed = true;
          return;
        }
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count());
        done.fetch_add(n);
      }
    });
  }
  if (progress) {
    while (done.load() < lines.size() && !failed.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      double secs = SecondsBetween(start, BenchClock::now());
      std::fprintf(stderr, "\rbench: %llu/%zu events appended (%.0f/s)   ",
                   static_cast<unsigned long long>(done.load()), lines.size(),
                   secs > 0 ? done.load() / secs : 0.0);
    }
    std::fprintf(stderr, "\n");
  }
  for (auto& t : threads) t.join();
  f.seconds = SecondsBetween(start, BenchClock::now());
  f.events = done.load();
  f.ok = !failed.load();
  for (auto& l : latencies) f.batch_us.insert(f.batch_us.end(), l.begin(), l.end());
  std::sort(f.batch_us.begin(), f.batch_us.end());
  return f;
}

// Mean size of a stored record value, from a sample of partition 0.
double MeanRecordBytes(const ledger::Ledger& ledger) {
  uint64_t n = 0, bytes = 0;
  (void)ledger.ScanPartition(ledger::PartitionId(0), ledger::Position(1),
                             [&](const ledger::StoredRecord& r) {
                               bytes += ledger::EncodeRecord(r).size();
                               return ++n < 20000;
                             });
  return n ? static_cast<double>(bytes) / static_cast<double>(n) : 0;
}

void AppendNumber(std::string* out, std::string_view key, double v) {
  out->append(StrCat(",\"", key, "\":"));
  ledger::json::AppendRounded4(out, v);
}

// Checks the flags, makes a fresh bench dir, the workload and an empty ledger; on failure prints
// why and returns the exit code.
int SetUpBench(const CommonFlags& flags, const BenchFlags& bench, Config* config,
               std::vector<std::string>* lines, std::unique_ptr<ledger::Ledger>* ledger) {
  if (bench.batch == 0 || bench.threads <= 0 || bench.customers == 0) {
    std::fprintf(stderr, "rapport bench: --batch, --threads and --customers must be positive\n");
    return kExitBadInput;
  }
  auto loaded = LoadConfig(flags.config);
  if (!loaded.ok()) {
    std::fprintf(stderr, "rapport: %s\n", std::string(loaded.status().message()).c_str());
    return kExitBadInput;
  }
  *config = *std::move(loaded);
  if (!PrepareBenchDir(flags.data_dir)) return kExitBadInput;
  *lines = MakeWorkload(bench);
  absl::Status s = ledger::Ledger::Open(flags.data_dir, config->ledger, ledger);
  if (!s.ok()) {
    std::fprintf(stderr, "rapport: %s\n", std::string(s.message()).c_str());
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

int RunBenchAppend(const CommonFlags& flags, const BenchFlags& bench) {
  Config config;
  std::vector<std::string> lines;
  std::unique_ptr<ledger::Ledger> ledger;
  if (int code = SetUpBench(flags, bench, &config, &lines, &ledger); code != kExitOk) return code;
  AppendFigures f = AppendAll(*ledger, lines, bench, config.codec, isatty(2));
  if (!f.ok) return kExitRuntime;
  ledger::LedgerStats stats = ledger->stats();
  std::string out = StrCat(BenchJsonHead("append"), ",\"events\":", f.events);
  AppendNumber(&out, "seconds", f.seconds);
  AppendNumber(&out, "events_per_s", f.events / f.seconds);
  AppendNumber(&out, "p50_us", Percentile(f.batch_us, 0.5));
  AppendNumber(&out, "p99_us", Percentile(f.batch_us, 0.99));
  out.append(StrCat(",\"batch\":", bench.batch, ",\"threads\":", bench.threads,
                    ",\"customers\":", bench.customers, ",\"group_commits\":", stats.groups));
  AppendNumber(&out, "events_per_group_commit",
               stats.groups ? static_cast<double>(stats.events_appended) / stats.groups : 0);
  AppendNumber(&out, "sequence_seconds", stats.sequence_micros / 1e6);
  AppendNumber(&out, "write_seconds", stats.write_micros / 1e6);
  AppendNumber(&out, "sequence_cpu_seconds", stats.sequence_cpu_micros / 1e6);
  AppendNumber(&out, "write_cpu_seconds", stats.write_cpu_micros / 1e6);
  AppendNumber(&out, "mean_record_bytes", MeanRecordBytes(*ledger));
  out.append("}\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int RunBenchReplay(const CommonFlags& flags, const BenchFlags& bench) {
  Config config;
  {
    std::vector<std::string> lines;
    std::unique_ptr<ledger::Ledger> ledger;
    if (int code = SetUpBench(flags, bench, &config, &lines, &ledger); code != kExitOk) return code;
    std::fprintf(stderr, "bench: loading the ledger (untimed)\n");
    if (!AppendAll(*ledger, lines, bench, config.codec, isatty(2)).ok) return kExitRuntime;
    // Flush so that the replay reads SST files, as it would on a ledger that has been running.
    (void)ledger->Flush();
  }
  std::unique_ptr<ledger::Ledger> ledger;
  ledger::LedgerOptions options = config.ledger;
  options.read_only = true;
  absl::Status s = ledger::Ledger::Open(flags.data_dir, options, &ledger);
  if (!s.ok()) {
    std::fprintf(stderr, "rapport: %s\n", std::string(s.message()).c_str());
    return kExitRuntime;
  }
  auto start = BenchClock::now();
  auto report = ledger->Verify(std::nullopt, bench.threads > 2 ? 2 : bench.threads);
  double secs = SecondsBetween(start, BenchClock::now());
  if (!report.ok() || !report->ok) {
    std::fprintf(
        stderr, "bench: verification failed: %s\n",
        report.ok() ? report->reason.c_str() : std::string(report.status().message()).c_str());
    return kExitRuntime;
  }
  std::string out = StrCat(BenchJsonHead("replay"), ",\"events\":", report->records);
  AppendNumber(&out, "seconds", secs);
  AppendNumber(&out, "events_per_s", report->records / secs);
  out.append(StrCat(",\"customers\":", report->customers, ",\"threads\":",
                    bench.threads > 2 ? 2 : bench.threads, ",\"verified\":true}\n"));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace rapport::tools

namespace rapport::tools {
namespace {

// A projection runner over `ledger` with the config's rules; exit code on failure.
int OpenRunner(ledger::Ledger* ledger, const Config& config,
               std::unique_ptr<projections::Runner>* runner) {
  absl::Status s =
      projections::Runner::Open(ledger, projections::RunnerOptions{config.rules}, runner);
  if (!s.ok()) {
    std::fprintf(stderr, "rapport: %s\n", std::string(s.message()).c_str());
    return kExitRuntime;
  }
  return kExitOk;
}

// A ledger loaded with the bench workload (untimed) and a runner over it; exit code on failure.
int LoadForProjections(const CommonFlags& flags, const BenchFlags& bench, Config* config,
                       std::unique_ptr<ledger::Ledger>* ledger,
                       std::unique_ptr<projections::Runner>* runner) {
  std::vector<std::string> lines;
  if (int code = SetUpBench(flags, bench, config, &lines, ledger); code != kExitOk) return code;
  std::fprintf(stderr, "bench: loading the ledger (untimed)\n");
  if (!AppendAll(**ledger, lines, bench, config->codec, isatty(2)).ok) return kExitRuntime;
  return OpenRunner(ledger->get(), *config, runner);
}

// Resets the process's peak resident set size (Linux: /proc/self/clear_refs), so that PeakRssMb
// measures one phase.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }
double PeakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::strtod(line.c_str() + 6, nullptr) / 1024;
  }
  return 0;
}

}  // namespace

int RunBenchRebuild(const CommonFlags& flags, const BenchFlags& bench) {
  Config config;
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<projections::Runner> runner;
  if (int code = LoadForProjections(flags, bench, &config, &ledger, &runner); code != kExitOk) {
    return code;
  }
  std::fprintf(stderr, "bench: compacting the ledger (untimed)\n");
  (void)ledger->Compact();
  std::vector<projections::ProjectionKind> kinds(std::begin(projections::kAllProjections),
                                                 std::end(projections::kAllProjections));
  uint64_t events = 0;
  std::fprintf(stderr, "bench: rebuilding (timed)\n");
  ResetPeakRss();
  double cpu = ProcessCpuSeconds();
  auto start = BenchClock::now();
  absl::Status s = runner->Rebuild(kinds, [&](uint64_t done, uint64_t) { events = done; });
  double secs = SecondsBetween(start, BenchClock::now());
  cpu = ProcessCpuSeconds() - cpu;
  if (!s.ok()) {
    std::fprintf(stderr, "bench: rebuild failed: %s\n", std::string(s.message()).c_str());
    return kExitRuntime;
  }
  std::string out = StrCat(BenchJsonHead("rebuild"), ",\"projections\":3,\"events\":", events);
  AppendNumber(&out, "seconds", secs);
  AppendNumber(&out, "events_per_s", events / secs);
  // CPU time is less sensitive than wall time to other work on a shared machine: with both
  // threads busy throughout, wall time would be cpu_seconds / 2 on two idle cores.
  AppendNumber(&out, "cpu_seconds", cpu);
  AppendNumber(&out, "events_per_cpu_s", events / cpu);
  AppendNumber(&out, "peak_rss_mb", PeakRssMb());
  const uint64_t state_bytes = runner->StoredBytes();
  AppendNumber(&out, "projection_sst_mb", static_cast<double>(state_bytes) / (1 << 20));
  // Lookups from the rebuilt version (its states are in ingested files, not flushed ones).
  std::vector<std::string> customers;
  (void)runner->ForEachStored(projections::ProjectionKind::kLoyalty,
                              [&](std::string_view customer, std::string_view) {
                                customers.emplace_back(customer);
                                return true;
                              });
  if (!customers.empty()) {
    std::mt19937_64 rng(bench.seed);
    std::vector<double> lookup_us;
    for (int i = 0; i < 30000; ++i) {
      auto kind = projections::kAllProjections[i % 3];
      auto t0 = BenchClock::now();
      auto json = runner->Stored(kind, customers[rng() % customers.size()]);
      lookup_us.push_back(
          std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count());
      if (!json.ok()) return kExitRuntime;
    }
    std::sort(lookup_us.begin(), lookup_us.end());
    AppendNumber(&out, "lookup_after_p99_us", Percentile(lookup_us, 0.99));
  }
  out.append(StrCat(",\"customers\":", bench.customers, "}\n"));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int RunBenchLive(const CommonFlags& flags, const BenchFlags& bench) {
  Config config;
  std::vector<std::string> lines;
  std::unique_ptr<ledger::Ledger> ledger;
  if (int code = SetUpBench(flags, bench, &config, &lines, &ledger); code != kExitOk) return code;
  std::unique_ptr<projections::Runner> runner;
  if (int code = OpenRunner(ledger.get(), config, &runner); code != kExitOk) return code;
  // Each batch is appended (untimed), then the runner catches up on it (timed), as the
  // background runner does every live_interval_ms: at 20,000 events/s, 400 events per 20 ms.
  std::fprintf(stderr, "bench: appending in batches of %zu, catching up after each\n", bench.batch);
  std::vector<double> catch_up_ms;
  double cpu = 0, wall = 0;
  uint64_t applied = 0;
  auto last_print = BenchClock::now();
  for (size_t b = 0; b < lines.size(); b += bench.batch) {
    std::vector<ledger::PreparedEvent> events;
    if (!PrepareLines(lines, b, b + bench.batch, config.codec, &events)) return kExitRuntime;
    if (auto r = ledger->Append(std::move(events)); !r.ok()) {
      std::fprintf(stderr, "bench: append failed: %s\n", std::string(r.status().message()).c_str());
      return kExitRuntime;
    }
    double cpu0 = ProcessCpuSeconds();
    auto t0 = BenchClock::now();
    uint64_t n = 0;
    absl::Status s = runner->CatchUp(&n);
    auto t1 = BenchClock::now();
    cpu += ProcessCpuSeconds() - cpu0;
    wall += SecondsBetween(t0, t1);
    applied += n;
    catch_up_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (!s.ok()) {
      std::fprintf(stderr, "bench: catch-up failed: %s\n", std::string(s.message()).c_str());
      return kExitRuntime;
    }
    if (isatty(2) && t1 - last_print > std::chrono::seconds(1)) {
      last_print = t1;
      std::fprintf(stderr, "\rbench: %zu/%zu events   ", b, lines.size());
    }
  }
  std::sort(catch_up_ms.begin(), catch_up_ms.end());
  // Every stored record (the workload repeats some event_ids) applied once, for all three.
  uint64_t records = 0;
  for (const auto& h : ledger->Heads()) records += h.position.value();
  if (applied != records) {
    std::fprintf(stderr, "bench: the runner applied %llu records of %llu stored\n",
                 static_cast<unsigned long long>(applied),
                 static_cast<unsigned long long>(records));
    return kExitRuntime;
  }
  const double events = static_cast<double>(applied);
  std::string out = StrCat(BenchJsonHead("live"), ",\"projections\":3,\"events\":", lines.size(),
                           ",\"records\":", records);
  AppendNumber(&out, "catch_up_seconds", wall);
  AppendNumber(&out, "events_per_s", wall > 0 ? events / wall : 0);
  // The whole process's CPU during the catch-ups: the runner's two threads and RocksDB's.
  AppendNumber(&out, "cpu_seconds", cpu);
  AppendNumber(&out, "cpu_us_per_event", events > 0 ? cpu * 1e6 / events : 0);
  AppendNumber(&out, "catch_up_p50_ms", Percentile(catch_up_ms, 0.5));
  AppendNumber(&out, "catch_up_p99_ms", Percentile(catch_up_ms, 0.99));
  AppendNumber(&out, "catch_up_max_ms", catch_up_ms.empty() ? 0 : catch_up_ms.back());
  out.append(StrCat(",\"batch\":", bench.batch, ",\"customers\":", bench.customers, "}\n"));
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int RunBenchQuery(const CommonFlags& flags, const BenchFlags& bench) {
  Config config;
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<projections::Runner> runner;
  if (int code = LoadForProjections(flags, bench, &config, &ledger, &runner); code != kExitOk) {
    return code;
  }
  if (absl::Status s = runner->CatchUp(); !s.ok()) {
    std::fprintf(stderr, "bench: %s\n", std::string(s.message()).c_str());
    return kExitRuntime;
  }
  // Customers and their event counts, from partition scans.
  std::map<std::string, uint64_t> counts;
  for (uint32_t p = 0; p < ledger->partitions(); ++p) {
    (void)ledger->ScanPartition(ledger::PartitionId(p), ledger::Position(1),
                                [&](const ledger::StoredRecord& r) {
                                  counts[r.customer_id] = r.seq.value();
                                  return true;
                                });
  }
  // The fold is timed on the customer with the fewest events at or above 1,000 (else the busiest).
  std::vector<std::string> customers;
  std::string busiest;
  for (const auto& [c, n] : counts) {
    customers.push_back(c);
    uint64_t best = busiest.empty() ? 0 : counts[busiest];
    bool better = best < 1000 ? n > best : (n >= 1000 && n < best);
    if (busiest.empty() || better) busiest = c;
  }
  std::mt19937_64 rng(bench.seed);
  std::vector<double> lookup_us;
  constexpr int kLookups = 100000;
  for (int i = 0; i < kLookups; ++i) {
    const std::string& c = customers[rng() % customers.size()];
    auto kind = projections::kAllProjections[i % 3];
    auto t0 = BenchClock::now();
    auto json = runner->Stored(kind, c);
    lookup_us.push_back(std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count());
    if (!json.ok()) {
      std::fprintf(stderr, "bench: %s\n", std::string(json.status().message()).c_str());
      return kExitRuntime;
    }
  }
  std::sort(lookup_us.begin(), lookup_us.end());
  // As-of folds of (up to) 1,000 events: the busiest customer as of its 1,000th event by time.
  auto records = ledger->ReadCustomer(busiest, ledger::Seq(0), SIZE_MAX);
  if (!records.ok() || records->empty()) return kExitRuntime;
  std::vector<ledger::Timestamp> times;
  for (const auto& r : *records) times.push_back(r.occurred_at);
  std::sort(times.begin(), times.end());
  size_t fold_events = times.size();
  // As-of queries at the times of random events of that customer (snapshots and stored state
  // may serve them), and full folds of all its events from the ledger, for comparison.
  std::vector<double> query_us, fold_us;
  for (int i = 0; i < 300; ++i) {
    auto kind = projections::kAllProjections[i % 3];
    ledger::Timestamp at = times[rng() % fold_events];
    auto t0 = BenchClock::now();
    auto json = runner->Query(kind, busiest, at);
    query_us.push_back(std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count());
    if (!json.ok()) return kExitRuntime;
    t0 = BenchClock::now();
    auto folded =
        projections::FoldFromLedger(*ledger, busiest, kind, times[fold_events - 1], config.rules);
    fold_us.push_back(std::chrono::duration<double, std::micro>(BenchClock::now() - t0).count());
    if (!folded.ok()) return kExitRuntime;
  }
  std::sort(query_us.begin(), query_us.end());
  std::sort(fold_us.begin(), fold_us.end());
  std::string out = StrCat(BenchJsonHead("query"), ",\"lookups\":", kLookups);
  AppendNumber(&out, "lookup_p50_us", Percentile(lookup_us, 0.5));
  AppendNumber(&out, "lookup_p99_us", Percentile(lookup_us, 0.99));
  out.append(
      StrCat(",\"as_of_customer_events\":", fold_events, ",\"as_of_queries\":", query_us.size()));
  AppendNumber(&out, "as_of_p50_us", Percentile(query_us, 0.5));
  AppendNumber(&out, "as_of_p99_us", Percentile(query_us, 0.99));
  AppendNumber(&out, "full_fold_p50_us", Percentile(fold_us, 0.5));
  AppendNumber(&out, "full_fold_p99_us", Percentile(fold_us, 0.99));
  out.append("}\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace rapport::tools
