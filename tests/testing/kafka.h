// Test helpers for the Kafka paths: a real librdkafka producer and a topic reader that talk to
// the embedded broker (or any bootstrap) over TCP, and a wait-for-condition loop.
#ifndef RAPPORT_TESTS_TESTING_KAFKA_H_
#define RAPPORT_TESTS_TESTING_KAFKA_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace rapport::testing {

// Polls `done` every 20 ms until it holds or `timeout` passes; returns its last value.
inline bool WaitFor(const std::function<bool()>& done,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// One message as read back from a topic.
struct ReadMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
  std::map<std::string, std::string> headers;
};

// A plain producer (not Rapport's code): what another system publishing to the inbox would use.
// Every message is confirmed by Flush() or the destructor.
class TestProducer {
 public:
  explicit TestProducer(const std::string& bootstrap,
                        std::vector<std::pair<std::string, std::string>> props = {}) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
    rd_kafka_conf_set(conf, "partitioner", "murmur2_random", err, sizeof(err));
    rd_kafka_conf_set(conf, "message.timeout.ms", "120000", err, sizeof(err));
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err));
    // The embedded broker keeps at most 5 MB per partition (librdkafka's mock log limit);
    // compressed batches hold several times more events.
    rd_kafka_conf_set(conf, "compression.type", "lz4", err, sizeof(err));
    for (const auto& [k, v] : props)
      rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(
        conf, +[](rd_kafka_t*, const rd_kafka_message_t* m, void* op) {
          if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++*static_cast<int64_t*>(op);
        });
    rd_kafka_conf_set_opaque(conf, &failed_);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  }
  ~TestProducer() {
    rd_kafka_flush(rk_, 60000);
    rd_kafka_destroy(rk_);
  }
  // `key` nullopt: no key. `headers` e.g. {{"content-type", "application/x-flatbuffers"}}.
  void Send(const std::string& topic, std::optional<std::string> key, const std::string& value,
            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    const char* key_data = key ? key->data() : nullptr;
    size_t key_size = key ? key->size() : 0;
    char* value_data = const_cast<char*>(value.data());
    size_t value_size = value.size();
    while (true) {
      rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
      for (const auto& [n, v] : headers)
        rd_kafka_header_add(h, n.data(), n.size(), v.data(), v.size());
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(value_data, value_size),
          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      rd_kafka_headers_destroy(h);
      ASSERT_EQ(e, RD_KAFKA_RESP_ERR__QUEUE_FULL) << rd_kafka_err2str(e);
      rd_kafka_poll(rk_, 10);
    }
  }
  // Waits for every message to be acknowledged; the number that failed for good.
  int64_t Flush() {
    while (rd_kafka_outq_len(rk_) > 0) rd_kafka_flush(rk_, 1000);
    return failed_;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  int64_t failed_ = 0;
};

inline ReadMessage ToReadMessage(const rd_kafka_message_t* m) {
  ReadMessage r;
  r.partition = m->partition;
  r.offset = m->offset;
  if (m->key) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* v;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &v, &size) == 0; ++i) {
      r.headers[name] = v ? std::string(static_cast<const char*>(v), size) : "";
    }
  }
  return r;
}

// A plain consumer assigned every partition of `topic` from the beginning (no group
// membership: nothing commits or rebalances).
inline rd_kafka_t* NewTopicReader(const std::string& bootstrap, const std::string& topic,
                                  int partitions) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "rapport-test-reader", err, sizeof(err));
  // Quiet when the broker goes away at the end of a test.
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  return rk;
}

// Reads every message of `topic` (all partitions, from the beginning up to the high watermarks
// at the time of the call) with a plain assign()ed consumer.
inline std::vector<ReadMessage> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                          int partitions) {
  std::vector<ReadMessage> out;
  rd_kafka_t* rk = NewTopicReader(bootstrap, topic, partitions);
  std::vector<int64_t> high(partitions, 0);
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &high[p], 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    total += high[p] - lo;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::vector<int64_t> next(partitions, 0);
  auto done = [&] {
    for (int p = 0; p < partitions; ++p) {
      if (next[p] < high[p]) return false;
    }
    return true;
  };
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < high[m->partition]) {
      next[m->partition] = m->offset + 1;
      out.push_back(ToReadMessage(m));
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_TRUE(done()) << "timed out reading " << topic << ": " << out.size() << " of " << total;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Reads `topic` from the beginning on a thread of its own for as long as it lives, the way an
// analytics job follows a topic. Needed when more is published than the embedded broker keeps
// (5 MB per partition): the reader must follow while the data flows.
class TopicCollector {
 public:
  TopicCollector(const std::string& bootstrap, const std::string& topic, int partitions)
      : rk_(NewTopicReader(bootstrap, topic, partitions)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
        if (m == nullptr) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(ToReadMessage(m));
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          std::lock_guard<std::mutex> lock(mu_);
          errors_.push_back(rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
      }
    });
  }
  ~TopicCollector() {
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_.size();
  }
  std::vector<ReadMessage> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // Consumer errors seen (an offset reset means messages were lost before they were read).
  std::vector<std::string> Errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<ReadMessage> messages_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_KAFKA_H_
