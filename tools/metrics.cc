#include "tools/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "ledger/json.h"
#include "ledger/strings.h"
#include "projections/fold.h"
#include "rocksdb/db.h"
#include "rocksdb/statistics.h"

namespace rapport::tools {
namespace {

void Help(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append(StrCat("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n"));
}

void AppendNumber(std::string* out, double v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.9g", v);
  out->append(buf, static_cast<size_t>(n));
}

void Sample(std::string* out, std::string_view name, std::string_view labels, double value) {
  out->append(name);
  if (!labels.empty()) out->append(StrCat("{", labels, "}"));
  out->push_back(' ');
  AppendNumber(out, value);
  out->push_back('\n');
}

// One metric with one sample and no labels.
void Gauge(std::string* out, std::string_view name, std::string_view type, std::string_view help,
           double value) {
  Help(out, name, type, help);
  Sample(out, name, "", value);
}

// The samples of one histogram series (HELP/TYPE written by the caller).
void HistogramSamples(std::string* out, std::string_view name, std::string_view labels,
                      const ledger::Histogram::Snapshot& h) {
  std::string prefix = labels.empty() ? "" : StrCat(labels, ",");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += h.buckets[i];
    std::string le;
    AppendNumber(&le, h.bounds[i]);
    Sample(out, StrCat(name, "_bucket"), StrCat(prefix, "le=\"", le, "\""),
           static_cast<double>(cumulative));
  }
  cumulative += h.buckets.back();
  Sample(out, StrCat(name, "_bucket"), StrCat(prefix, "le=\"+Inf\""),
         static_cast<double>(cumulative));
  Sample(out, StrCat(name, "_sum"), labels, h.sum);
  Sample(out, StrCat(name, "_count"), labels, static_cast<double>(cumulative));
}

void HistogramMetric(std::string* out, std::string_view name, std::string_view help,
                     const ledger::Histogram& h) {
  Help(out, name, "histogram", help);
  HistogramSamples(out, name, "", h.Take());
}

// Resident set size and CPU seconds of this process, from /proc/self/stat.
void ProcessMetrics(std::string* out) {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return;
  std::vector<std::string> f;
  size_t i = close + 2;
  while (i < stat.size()) {
    size_t j = stat.find(' ', i);
    if (j == std::string::npos) j = stat.size();
    f.push_back(stat.substr(i, j - i));
    i = j + 1;
  }
  // f[0] is field 3 (state): utime = field 14, stime = 15, starttime = 22, rss = 24 (pages).
  if (f.size() < 22) return;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  double rss = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
  Gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss);
  Gauge(out, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.", cpu);
}

uint64_t AggregatedProperty(rocksdb::DB* db, const std::string& property) {
  uint64_t v = 0;
  db->GetAggregatedIntProperty(property, &v);
  return v;
}

void RocksDbMetrics(std::string* out, rocksdb::DB* db) {
  Gauge(out, "rapport_rocksdb_sst_bytes", "gauge", "Size of all SST files (all column families).",
        static_cast<double>(AggregatedProperty(db, rocksdb::DB::Properties::kTotalSstFilesSize)));
  Gauge(
      out, "rapport_rocksdb_live_data_bytes", "gauge", "Estimated size of the live data.",
      static_cast<double>(AggregatedProperty(db, rocksdb::DB::Properties::kEstimateLiveDataSize)));
  Gauge(out, "rapport_rocksdb_memtable_bytes", "gauge",
        "Size of all memtables, active and immutable (all column families).",
        static_cast<double>(AggregatedProperty(db, rocksdb::DB::Properties::kCurSizeAllMemTables)));
  uint64_t cache_usage = 0;
  db->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &cache_usage);
  Gauge(out, "rapport_rocksdb_block_cache_bytes", "gauge", "Bytes held by the block cache.",
        static_cast<double>(cache_usage));
  Gauge(out, "rapport_rocksdb_pending_compaction_bytes", "gauge",
        "Estimated bytes compaction still has to rewrite.",
        static_cast<double>(
            AggregatedProperty(db, rocksdb::DB::Properties::kEstimatePendingCompactionBytes)));
  auto stats = db->GetDBOptions().statistics;
  if (stats) {
    uint64_t hits = stats->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
    uint64_t misses = stats->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
    Gauge(out, "rapport_rocksdb_block_cache_hits_total", "counter", "Block cache hits.",
          static_cast<double>(hits));
    Gauge(out, "rapport_rocksdb_block_cache_misses_total", "counter", "Block cache misses.",
          static_cast<double>(misses));
    Gauge(
        out, "rapport_rocksdb_block_cache_hit_ratio", "gauge",
        "Block cache hits / (hits + misses) since start (0 before the first lookup).",
        hits + misses == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(hits + misses));
  }
}

}  // namespace

std::string_view RouteLabel(Route route) {
  switch (route) {
    case Route::kPostEvents:
      return "POST /v1/events";
    case Route::kHistory:
      return "GET /v1/customers/{id}/events";
    case Route::kProfile:
      return "GET /v1/customers/{id}/profile";
    case Route::kLoyalty:
      return "GET /v1/customers/{id}/loyalty";
    case Route::kResume:
      return "GET /v1/customers/{id}/resume";
    case Route::kIdentity:
      return "GET /v1/identities/{kind}/{value}";
    case Route::kDigest:
      return "GET /v1/ledger/digest";
    case Route::kHealth:
      return "GET /healthz";
    case Route::kMetrics:
      return "GET /metrics";
    case Route::kOther:
      break;
  }
  return "other";
}

HttpMetrics::HttpMetrics() {
  for (auto& h : latency_)
    h = std::make_unique<ledger::Histogram>(ledger::Histogram::LatencyBounds());
}

void HttpMetrics::RecordRequest(Route route, int status, double seconds) {
  size_t r = static_cast<size_t>(route);
  size_t slot = kStatuses.size();
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) slot = i;
  }
  counts_[r][slot].fetch_add(1, std::memory_order_relaxed);
  latency_[r]->Observe(seconds);
}

void HttpMetrics::RecordReject(std::string_view code) {
  absl::MutexLock lock(&mu_);
  auto it = rejects_.find(code);
  if (it == rejects_.end()) it = rejects_.emplace(std::string(code), 0).first;
  ++it->second;
}

void HttpMetrics::Render(std::string* out) const {
  Help(out, "rapport_http_requests_total", "counter",
       "HTTP requests answered, by route and status.");
  for (size_t r = 0; r < kNumRoutes; ++r) {
    std::string route = StrCat("route=\"", RouteLabel(static_cast<Route>(r)), "\"");
    for (size_t i = 0; i <= kStatuses.size(); ++i) {
      uint64_t n = counts_[r][i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::string code = i < kStatuses.size() ? StrCat(kStatuses[i]) : "other";
      Sample(out, "rapport_http_requests_total", StrCat(route, ",code=\"", code, "\""),
             static_cast<double>(n));
    }
  }
  Help(out, "rapport_http_request_duration_seconds", "histogram",
       "Time from a request's routing to its response, by route.");
  for (size_t r = 0; r < kNumRoutes; ++r) {
    auto h = latency_[r]->Take();
    if (h.count == 0) continue;
    HistogramSamples(out, "rapport_http_request_duration_seconds",
                     StrCat("route=\"", RouteLabel(static_cast<Route>(r)), "\""), h);
  }
}

std::map<std::string, uint64_t, std::less<>> HttpMetrics::rejects() const {
  absl::MutexLock lock(&mu_);
  return rejects_;
}

std::string RenderMetrics(const consumers::Service& service, const HttpMetrics* http) {
  std::string out;
  out.reserve(16 << 10);
  const ledger::Ledger& ledger = *service.ledger();
  ledger::LedgerStats ls = ledger.stats();
  Gauge(&out, "rapport_appends_total", "counter", "Events stored (new records).",
        static_cast<double>(ls.events_appended));
  Gauge(&out, "rapport_duplicates_total", "counter",
        "Events answered as duplicates of stored ones (same event_id and content).",
        static_cast<double>(ls.duplicates));
  Gauge(&out, "rapport_group_commits_total", "counter", "Synced RocksDB write batches.",
        static_cast<double>(ls.groups));
  HistogramMetric(&out, "rapport_group_commit_events",
                  "Events (stored, duplicate or failed) per group commit.", ledger.group_events());
  HistogramMetric(&out, "rapport_append_latency_seconds",
                  "Time from an append request's submission until it is durable.",
                  ledger.append_latency());

  Help(&out, "rapport_rejects_total", "counter",
       "Events refused, by source (http, kafka) and error code.");
  consumers::ServiceStatus st = service.status();
  for (const auto& [code, n] : st.inbox.rejected_by_code) {
    Sample(&out, "rapport_rejects_total", StrCat("source=\"kafka\",code=\"", code, "\""),
           static_cast<double>(n));
  }
  if (http != nullptr) {
    for (const auto& [code, n] : http->rejects()) {
      Sample(&out, "rapport_rejects_total", StrCat("source=\"http\",code=\"", code, "\""),
             static_cast<double>(n));
    }
    http->Render(&out);
  }

  Help(&out, "rapport_ledger_head_position", "gauge", "Last position of each ledger partition.");
  for (const auto& head : ledger.Heads()) {
    Sample(&out, "rapport_ledger_head_position",
           StrCat("partition=\"", head.partition.value(), "\""),
           static_cast<double>(head.position.value()));
  }

  auto projections = service.runner()->Status();
  // One gauge per projection, labelled with its name.
  auto per_projection = [&](std::string_view name, std::string_view help,
                            uint64_t projections::ProjectionStatus::*field) {
    Help(&out, name, "gauge", help);
    for (const auto& p : projections) {
      Sample(&out, name, StrCat("projection=\"", projections::ProjectionName(p.kind), "\""),
             static_cast<double>(p.*field));
    }
  };
  per_projection("rapport_projection_lag_records",
                 "Committed records a projection has not applied yet.",
                 &projections::ProjectionStatus::behind);
  per_projection("rapport_projection_applied_records",
                 "Records applied in a projection's current version.",
                 &projections::ProjectionStatus::applied);
  Help(&out, "rapport_projection_version", "gauge",
       "The current version of a projection (a rebuild makes a new one).");
  for (const auto& p : projections) {
    Sample(&out, "rapport_projection_version",
           StrCat("projection=\"", projections::ProjectionName(p.kind), "\""), p.version);
  }

  if (st.kafka) {
    Gauge(&out, "rapport_inbox_lag_messages", "gauge",
          "Inbox messages on the assigned partitions not stored yet.",
          static_cast<double>(st.inbox.lag));
    Gauge(&out, "rapport_inbox_consumed_total", "counter", "Inbox messages consumed.",
          static_cast<double>(st.inbox.consumed));
    Gauge(&out, "rapport_inbox_lost_to_retention_total", "counter",
          "Inbox messages the broker deleted before they were read.",
          static_cast<double>(st.inbox.lost_to_retention));
    Gauge(&out, "rapport_inbox_assigned_partitions", "gauge",
          "Inbox partitions assigned to this consumer.",
          static_cast<double>(st.inbox.assigned_partitions));
    Gauge(&out, "rapport_relay_lag_records", "gauge",
          "Stored records not yet confirmed in the ledger topic.",
          static_cast<double>(st.relay.lag));
    Gauge(&out, "rapport_relay_sent_total", "counter",
          "Ledger topic messages delivered (resends included).",
          static_cast<double>(st.relay.sent));
    Gauge(&out, "rapport_changelog_lag_records", "gauge",
          "Applied records whose projection changes are not published yet.",
          static_cast<double>(st.changelog.lag));
    Gauge(&out, "rapport_changelog_published_total", "counter",
          "Projection changelog messages published.", static_cast<double>(st.changelog.published));
    Gauge(&out, "rapport_rejected_waiting", "gauge",
          "Rejected messages stored but not yet published to the rejected topic.",
          static_cast<double>(st.rejected_waiting));
  }
  RocksDbMetrics(&out, ledger.db());
  ProcessMetrics(&out);
  return out;
}

}  // namespace rapport::tools
