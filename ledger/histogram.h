// A fixed-bucket histogram for metrics (Prometheus `histogram` semantics: cumulative buckets by
// upper bound, a sum and a count), cheap enough to record on hot paths.
#ifndef RAPPORT_LEDGER_HISTOGRAM_H_
#define RAPPORT_LEDGER_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace rapport::ledger {

// Thread-safe: Observe is a few relaxed atomic adds; Snapshot may run concurrently with it (a
// snapshot taken during an Observe can be off by that one observation between fields).
class Histogram {
 public:
  struct Snapshot {
    std::vector<double> bounds;     // upper bounds, increasing; +Inf is implied after them
    std::vector<uint64_t> buckets;  // non-cumulative counts, bounds.size() + 1 entries
    uint64_t count = 0;
    double sum = 0;
  };

  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);
  Snapshot Take() const;

  // Latencies in seconds from 50 µs to 10 s.
  static std::vector<double> LatencyBounds();
  // Sizes (events per group commit) from 1 to 16384, powers of two.
  static std::vector<double> SizeBounds();

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  // The sum in micro-units, so that it is one atomic integer.
  std::atomic<uint64_t> sum_micro_{0};
};

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_HISTOGRAM_H_
