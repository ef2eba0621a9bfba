// Prometheus text-format metrics of `rapport serve` (GET /metrics): the HTTP layer's own
// counters, and a rendering of what the ledger, RocksDB, the projections and the Kafka stages
// report. docs/OPERATIONS.md lists every metric.
#ifndef RAPPORT_TOOLS_METRICS_H_
#define RAPPORT_TOOLS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "consumers/service.h"
#include "ledger/histogram.h"

namespace rapport::tools {

// The routes of CONTRACT §6, as metric labels.
enum class Route : uint8_t {
  kPostEvents,
  kHistory,
  kProfile,
  kLoyalty,
  kResume,
  kIdentity,
  kDigest,
  kHealth,
  kMetrics,
  kOther,  // unknown paths and methods
};
inline constexpr size_t kNumRoutes = 10;
std::string_view RouteLabel(Route route);

// Request counts and latencies by route and status, and rejected events by error code.
// Thread-safe; recording is lock-free except for rejects.
class HttpMetrics {
 public:
  HttpMetrics();
  void RecordRequest(Route route, int status, double seconds);
  void RecordReject(std::string_view code);
  // Appends the request metrics in Prometheus text format.
  void Render(std::string* out) const;
  std::map<std::string, uint64_t, std::less<>> rejects() const;

 private:
  // Statuses counted one by one; others fall into the last slot with their class (e.g. 5xx).
  static constexpr std::array<int, 13> kStatuses = {200, 400, 401, 403, 404, 405, 408,
                                                    409, 413, 414, 415, 500, 503};
  std::array<std::array<std::atomic<uint64_t>, kStatuses.size() + 1>, kNumRoutes> counts_{};
  std::array<std::unique_ptr<ledger::Histogram>, kNumRoutes> latency_;
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t, std::less<>> rejects_ ABSL_GUARDED_BY(mu_);
};

// Every metric of the service: `http` (may be null) and the service's ledger, RocksDB,
// projections, Kafka stages and process.
std::string RenderMetrics(const consumers::Service& service, const HttpMetrics* http);

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_METRICS_H_
