// A librdkafka producer shared by the relay, the changelog publisher and the rejected-message
// publisher: idempotent, acks=all, delivery reports handed to a callback on the thread that
// polls.
#ifndef RAPPORT_CONSUMERS_PRODUCER_H_
#define RAPPORT_CONSUMERS_PRODUCER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "consumers/kafka.h"
#include "ledger/thread_priority.h"

namespace rapport::consumers {

// Not thread-safe: one thread produces and polls (delivery callbacks run inside Poll/Flush).
class Producer {
 public:
  // `on_delivery(message)`: message->err says whether it was delivered; message->_private is
  // the `opaque` given to Produce.
  using DeliveryFn = std::function<void(const rd_kafka_message_t*)>;

  // `required`: settings the caller's guarantees rest on (NewClient), besides idempotence and
  // acks=all. `nice`: the nice value of the client's own threads.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const KafkaOptions& options,
                                                          std::string client_id,
                                                          DeliveryFn on_delivery,
                                                          const Properties& required = {},
                                                          int nice = ledger::kDerivedWorkNice);
  ~Producer();

  // Queues one message. ResourceExhausted when the local queue is full (poll, then retry);
  // `partition` < 0 lets the partitioner (murmur2_random, as the contract's producers) choose.
  absl::Status Produce(const std::string& topic, int32_t partition,
                       std::optional<std::string_view> key, std::string_view value,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       void* opaque);
  // Serves delivery reports for up to `timeout_ms`.
  void Poll(int timeout_ms);
  // Waits up to `timeout_ms` for everything queued to be delivered or failed.
  void Flush(int timeout_ms);
  // Messages queued or in flight.
  int OutQueue() const;
  // A fatal error (the idempotent producer cannot guarantee order any more); the producer must
  // be replaced. Ok otherwise.
  absl::Status Fatal() const;
  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  Producer() = default;
  DeliveryFn on_delivery_;
  KafkaHandle rk_;
};

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_PRODUCER_H_
