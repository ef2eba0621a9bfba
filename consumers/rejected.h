// Publishes the rejected-message outbox to rapport.rejected (CONTRACT §5): the original key,
// value and headers plus `error.code`, `error.message`, `error.field`, `source.topic`,
// `source.partition`, `source.offset`. An entry is deleted only once Kafka confirmed it, so a
// rejected message is never dropped (at least once).
#ifndef RAPPORT_CONSUMERS_REJECTED_H_
#define RAPPORT_CONSUMERS_REJECTED_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "consumers/kafka.h"
#include "consumers/producer.h"
#include "consumers/state.h"
#include "ledger/ledger.h"

namespace rapport::consumers {

// Owns one thread and a producer; `ledger` must outlive it. stats are thread-safe.
class RejectedPublisher {
 public:
  static absl::Status Start(ledger::Ledger* ledger, const KafkaOptions& kafka,
                            std::unique_ptr<RejectedPublisher>* out);
  ~RejectedPublisher();
  // Publishes what is waiting for up to `drain_ms`, then stops.
  void Stop(int drain_ms = 5000);
  uint64_t published() const { return published_; }
  uint64_t waiting() const { return waiting_; }

 private:
  RejectedPublisher(ConsumerState state, const KafkaOptions& kafka)
      : state_(state), kafka_(kafka), topic_(kafka.topics().rejected) {}
  void Run();

  ConsumerState state_;
  const KafkaOptions kafka_;
  const std::string topic_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int drain_ms_ = 0;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> waiting_{0};
  absl::flat_hash_set<uint64_t> in_flight_;  // publisher thread only
  std::unique_ptr<Producer> producer_;       // last: destroyed first
};

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_REJECTED_H_
