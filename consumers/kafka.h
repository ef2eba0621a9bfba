// The librdkafka basics every Kafka part of Rapport shares: options (CONTRACT §5: a topic prefix
// and librdkafka properties passed through from the configuration), topic names, RAII handles,
// and the conversion of librdkafka errors into absl codes. Only consumers/ includes librdkafka.
#ifndef RAPPORT_CONSUMERS_KAFKA_H_
#define RAPPORT_CONSUMERS_KAFKA_H_

#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rapport::consumers {

// The contract's topics under a prefix (default `rapport.`).
struct Topics {
  std::string touchpoints;
  std::string ledger;
  std::string rejected;
  std::string profile;
  std::string loyalty;
  std::string resume;

  static Topics WithPrefix(std::string_view prefix);
  std::vector<std::string> All() const;
  // The compacted changelog topics, in ProjectionKind order (profile, loyalty, resume).
  std::vector<std::string> Changelogs() const { return {profile, loyalty, resume}; }
};

// How to reach Kafka (the `[kafka]` configuration table).
struct KafkaOptions {
  // `host:port,...` of a real cluster or of the embedded broker.
  std::string bootstrap;
  std::string topic_prefix = "rapport.";
  // The inbox consumer group.
  std::string group_id = "rapport";
  // `kafka.properties`: librdkafka properties for every client (SASL, TLS, timeouts, ...). They
  // override Rapport's defaults but not the few settings its guarantees rest on.
  std::vector<std::pair<std::string, std::string>> properties;
  // `kafka.consumer_properties` / `kafka.producer_properties`: applied after `properties` to the
  // inbox consumer / to the producers only (librdkafka warns about the other role's keys).
  std::vector<std::pair<std::string, std::string>> consumer_properties;
  std::vector<std::pair<std::string, std::string>> producer_properties;

  Topics topics() const { return Topics::WithPrefix(topic_prefix); }
};

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
using Headers = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

using Properties = std::vector<std::pair<std::string, std::string>>;

// librdkafka's log lines go through spdlog like every other line (levels, text or JSON) instead
// of straight to stderr.
void RouteLogsToSpdlog(rd_kafka_conf_t* conf);
// Every thread the client made from `conf` starts runs at this nice value (an interceptor).
void LowerClientThreadsPriority(rd_kafka_conf_t* conf, int nice);

// Creates a client. Properties are applied in order: `defaults`, then options.properties, then
// `required` (what the caller's guarantees rest on; InvalidArgument naming the property when
// options.properties sets it differently). `configure` may set callbacks and the opaque on the
// conf before the client is made. InvalidArgument for an unknown property or bad value.
absl::StatusOr<KafkaHandle> NewClient(rd_kafka_type_t type, const KafkaOptions& options,
                                      const Properties& defaults, const Properties& required,
                                      const std::function<void(rd_kafka_conf_t*)>& configure = {});

// The most specific absl code for a librdkafka error: Unavailable for transport and broker
// trouble and timeouts, InvalidArgument for bad requests or configuration, NotFound for an
// unknown topic or partition, and so on.
absl::Status KafkaError(rd_kafka_resp_err_t err, std::string_view what);

// The partition count of `topic`, from the cluster's metadata; NotFound when it does not exist.
absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms);

// The value of header `name`, or empty when absent.
std::string_view HeaderValue(const rd_kafka_message_t* message, const char* name);

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_KAFKA_H_
