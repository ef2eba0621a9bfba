// Publishes projection changes to the compacted changelog topics rapport.profile,
// rapport.loyalty and rapport.resume (CONTRACT §4, §5): key the customer id, value the stored
// projection JSON. It follows each ledger partition behind the runner's checkpoint; the
// customers whose records the runner applied since the last round are published once each with
// their state as stored then, so a burst of events for one customer becomes one message. The
// cursor per (projection, partition) is kept in RocksDB with the projection version and moves
// on delivery; a new version (a rebuild) republishes every customer.
#ifndef RAPPORT_CONSUMERS_CHANGELOG_H_
#define RAPPORT_CONSUMERS_CHANGELOG_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "consumers/kafka.h"
#include "consumers/producer.h"
#include "consumers/state.h"
#include "ledger/ledger.h"
#include "projections/runner.h"

namespace rapport::consumers {

struct ChangelogStats {
  uint64_t published = 0;
  // Applied records whose changes are not confirmed published yet, over projections and
  // partitions, as of the start of the last round (so up to one interval stale).
  uint64_t lag = 0;
};

struct ChangelogOptions {
  // Rounds start at most this often, so that a customer's burst of events becomes one message
  // (Kafka Streams' commit interval plays the same role).
  int interval_ms = 1000;
};

// Owns one thread and a producer; `ledger` and `runner` must outlive it.
class ChangelogPublisher {
 public:
  static absl::Status Start(ledger::Ledger* ledger, projections::Runner* runner,
                            const KafkaOptions& kafka, const ChangelogOptions& options,
                            std::unique_ptr<ChangelogPublisher>* out);
  ~ChangelogPublisher();
  // Publishes what the runner has applied, for up to `drain_ms`, then stops.
  void Stop(int drain_ms = 10000);
  ChangelogStats stats() const;

 private:
  ChangelogPublisher(ledger::Ledger* ledger, projections::Runner* runner, ConsumerState state,
                     const KafkaOptions& kafka, const ChangelogOptions& options);
  void Run();
  // One round: publish what is behind; true when something was published.
  bool Round();

  ledger::Ledger* const ledger_;
  projections::Runner* const runner_;
  ConsumerState state_;
  const KafkaOptions kafka_;
  const ChangelogOptions options_;
  const std::vector<std::string> topics_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int drain_ms_ = 0;

  // Publisher-thread state, by kind then partition.
  std::vector<uint32_t> versions_;
  std::vector<std::vector<uint64_t>> cursors_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  uint64_t failures_in_round_ = 0;
  uint64_t pending_in_round_ = 0;

  mutable absl::Mutex mu_;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::vector<uint64_t>> confirmed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<uint64_t>> applied_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<Producer> producer_;  // last: destroyed first
};

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_CHANGELOG_H_
