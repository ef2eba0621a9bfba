// The inbox consumer (CONTRACT §5, DESIGN.md data flow): a consumer-group member on
// rapport.touchpoints that appends what it reads through the ledger's group commit, with the
// consumed offsets in the same WriteBatch, so that every event read is stored exactly once
// across crashes and restarts. Bad messages are recorded (in the same WriteBatch) for the
// rejected topic; ingestion goes on.
#ifndef RAPPORT_CONSUMERS_INBOX_H_
#define RAPPORT_CONSUMERS_INBOX_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "consumers/kafka.h"
#include "consumers/state.h"
#include "ledger/codec.h"
#include "ledger/ledger.h"

namespace rapport::consumers {

struct InboxOptions {
  ledger::CodecOptions codec;
  // Messages taken per poll (one ledger request) and how long a poll waits for them.
  size_t batch_messages = 4096;
  int batch_wait_ms = 5;
  // Ledger requests in flight (they share group commits while the next batch is decoded).
  size_t max_in_flight = 3;
};

struct InboxStats {
  uint64_t consumed = 0;
  uint64_t stored = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  // `rejected` by error code (invalid_json, invalid_field, too_large, ...; ledger/errors.h).
  std::map<std::string, uint64_t> rejected_by_code;
  // Messages the broker deleted (retention) before they could be read.
  uint64_t lost_to_retention = 0;
  // Messages on the assigned partitions not yet stored (high watermark − stored offset).
  int64_t lag = 0;
  int assigned_partitions = 0;
};

// Owns a consumer thread and its librdkafka consumer. Start..Stop; thread-safe accessors.
// `ledger` must have the `kafka` column family and outlive the inbox.
class Inbox {
 public:
  static absl::Status Start(ledger::Ledger* ledger, const KafkaOptions& kafka,
                            const InboxOptions& options, std::unique_ptr<Inbox>* inbox);
  ~Inbox();

  // Stops reading, waits for the appends in flight, and leaves the group.
  void Stop();
  InboxStats stats() const;
  // Set when the consumer stopped on its own (a storage failure): the service must stop.
  absl::Status failure() const;

 private:
  struct Batch;
  Inbox(ledger::Ledger* ledger, ConsumerState state, const KafkaOptions& kafka,
        const InboxOptions& options);
  void Run();
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  // Decodes `messages` into one ledger request; rejects go into its side writes.
  std::unique_ptr<Batch> Decode(std::vector<Message> messages);
  // Waits for the oldest batch in flight and accounts for it; false on a storage failure.
  bool Finish(Batch* batch);
  void DrainInFlight();
  // The broker does not have the offset we asked for: the topic was recreated (read it from its
  // start) or retention deleted messages before we read them (counted and logged as lost).
  void OnOffsetOutOfRange(int32_t partition);

  ledger::Ledger* const ledger_;
  ConsumerState state_;
  const KafkaOptions kafka_;
  const InboxOptions options_;
  const std::string topic_;
  KafkaHandle rk_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> next_reject_id_{1};

  // Consumer-thread state: the next offset to take per assigned partition (messages below it are
  // already stored or in flight), and the batches in flight.
  std::vector<int64_t> next_offset_;
  std::vector<std::unique_ptr<Batch>> in_flight_;
  uint64_t lost_ = 0;

  mutable absl::Mutex mu_;
  InboxStats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> stored_offset_ ABSL_GUARDED_BY(mu_);  // -1: not assigned
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_INBOX_H_
