// The embedded Kafka-protocol broker: librdkafka's mock cluster (rdkafka_mock.h), which speaks
// the real Kafka protocol over TCP, with the contract's topics created. The development, demo
// and test default (`rapport serve --kafka embedded`, `rapport broker`); production points
// kafka.bootstrap at a real cluster and runs the same client code.
#ifndef RAPPORT_CONSUMERS_EMBEDDED_BROKER_H_
#define RAPPORT_CONSUMERS_EMBEDDED_BROKER_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "consumers/kafka.h"

namespace rapport::consumers {

struct EmbeddedBrokerOptions {
  int brokers = 3;
  // Partitions of every topic; must equal ledger.partitions (CONTRACT §3).
  int partitions = 4;
  std::string topic_prefix = "rapport.";
};

// Owns a mock cluster and the librdkafka handle it lives in; the brokers serve on loopback
// ports from Start until destruction (which drops everything they hold: the mock keeps its logs
// in memory). Thread-safe as librdkafka's mock API is; cluster() is for fault injection.
class EmbeddedBroker {
 public:
  static absl::Status Start(const EmbeddedBrokerOptions& options,
                            std::unique_ptr<EmbeddedBroker>* broker);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // `127.0.0.1:port,...`, for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  // For rd_kafka_mock_* fault injection (broker down, request errors, leader changes).
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

 private:
  EmbeddedBroker() = default;
  KafkaHandle handle_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

// Writes `bootstrap` to `path` atomically (a temp file renamed), for clients in other processes.
absl::Status WriteBootstrapFile(const std::string& path, const std::string& bootstrap);

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_EMBEDDED_BROKER_H_
