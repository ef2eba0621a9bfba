// The outbox relay (CONTRACT §5, DESIGN.md): publishes every stored ledger record to
// rapport.ledger — key the customer id, value the FlatBuffers LedgerRecord, headers `position`,
// `seq`, `partition`, `hash` — in position order per ledger partition (so in stream order per
// customer). The cursor per partition lives in RocksDB and moves only on delivery reports, so
// a restart resends from the last confirmed record: at least once, never a gap.
#ifndef RAPPORT_CONSUMERS_RELAY_H_
#define RAPPORT_CONSUMERS_RELAY_H_

#include <atomic>
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

namespace rapport::consumers {

struct RelayStats {
  uint64_t sent = 0;    // messages delivered (resends included)
  uint64_t resent = 0;  // records queued again after a failed delivery
  uint64_t lag = 0;     // stored records not confirmed yet, over all partitions
};

// Owns one thread and an idempotent producer. `ledger` must have the `kafka` column family and
// outlive the relay. Thread-safe accessors.
class LedgerRelay {
 public:
  static absl::Status Start(ledger::Ledger* ledger, const KafkaOptions& kafka,
                            std::unique_ptr<LedgerRelay>* relay);
  ~LedgerRelay();
  // Sends what is stored until confirmed or `drain_ms` passes, saves the cursors, and stops.
  void Stop(int drain_ms = 10000);
  RelayStats stats() const;

 private:
  LedgerRelay(ledger::Ledger* ledger, ConsumerState state, const KafkaOptions& kafka);
  void Run();
  void OnDelivery(const rd_kafka_message_t* m);
  // Queues records of `partition` after sent_; false when nothing was queued.
  bool Fill(uint32_t partition, uint64_t head);
  void SaveCursors();
  absl::Status NewProducer();

  ledger::Ledger* const ledger_;
  ConsumerState state_;
  const KafkaOptions kafka_;
  const std::string topic_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  int drain_ms_ = 0;

  // Relay-thread state (delivery callbacks run on it too).
  std::vector<uint64_t> sent_;      // last position queued
  std::vector<uint64_t> saved_;     // last confirmed position written to RocksDB
  std::vector<int64_t> in_flight_;  // queued, not reported
  std::vector<bool> failed_;        // a delivery failed: rewind once in_flight_ is 0
  uint64_t resent_ = 0;

  mutable absl::Mutex mu_;
  std::vector<uint64_t> confirmed_ ABSL_GUARDED_BY(mu_);  // last contiguously delivered
  uint64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;

  std::unique_ptr<Producer> producer_;  // last: destroyed first, while the rest is alive
};

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_RELAY_H_
