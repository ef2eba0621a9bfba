#include "consumers/producer.h"

#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/thread_priority.h"

namespace rapport::consumers {

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const KafkaOptions& options,
                                                           std::string client_id,
                                                           DeliveryFn on_delivery,
                                                           const Properties& required, int nice) {
  std::unique_ptr<Producer> p(new Producer());
  Properties all_required = {{"enable.idempotence", "true"}, {"acks", "all"}};
  all_required.insert(all_required.end(), required.begin(), required.end());
  p->on_delivery_ = std::move(on_delivery);
  Producer* self = p.get();
  ASSIGN_OR_RETURN(
      p->rk_, NewClient(RD_KAFKA_PRODUCER, options,
                        {{"linger.ms", "5"},
                         {"batch.num.messages", "10000"},
                         {"queue.buffering.max.messages", "500000"},
                         {"message.timeout.ms", "120000"},
                         {"partitioner", "murmur2_random"},
                         {"compression.type", "lz4"},
                         {"client.id", client_id}},
                        all_required, [self, nice](rd_kafka_conf_t* conf) {
                          // Our producers carry derived work (the ledger topic, changelogs,
                          // rejected messages): their librdkafka threads yield to appends too.
                          LowerClientThreadsPriority(conf, nice);
                          rd_kafka_conf_set_opaque(conf, self);
                          rd_kafka_conf_set_dr_msg_cb(
                              conf, +[](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
                                static_cast<Producer*>(opaque)->on_delivery_(m);
                              });
                        }));
  return p;
}

Producer::~Producer() {
  if (rk_) {
    // Whatever is still queued is dropped: the callers' cursors only move on delivery, so it is
    // sent again by whoever takes over.
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_.get(), 1000);
  }
}

absl::Status Producer::Produce(const std::string& topic, int32_t partition,
                               std::optional<std::string_view> key, std::string_view value,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               void* opaque) {
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& [name, v] : headers) {
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), v.data(),
                        static_cast<ssize_t>(v.size()));
  }
  const char* key_data = key ? key->data() : nullptr;
  size_t key_size = key ? key->size() : 0;
  char* value_data = const_cast<char*>(value.data());
  size_t value_size = value.size();
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
      RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(value_data, value_size),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque),
      RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(hdrs);  // only owned by librdkafka on success
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return absl::ResourceExhaustedError("the producer queue is full");
    }
    return KafkaError(err, StrCat("producing to ", topic));
  }
  return absl::OkStatus();
}

void Producer::Poll(int timeout_ms) { rd_kafka_poll(rk_.get(), timeout_ms); }

void Producer::Flush(int timeout_ms) { rd_kafka_flush(rk_.get(), timeout_ms); }

int Producer::OutQueue() const { return rd_kafka_outq_len(rk_.get()); }

absl::Status Producer::Fatal() const {
  char err[512];
  rd_kafka_resp_err_t e = rd_kafka_fatal_error(rk_.get(), err, sizeof(err));
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return absl::AbortedError(AbslView(StrCat("fatal producer error: ", err)));
}

}  // namespace rapport::consumers
