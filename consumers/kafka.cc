#include "consumers/kafka.h"

#include <string_view>

#include "ledger/strings.h"
#include "ledger/thread_priority.h"
#include "spdlog/spdlog.h"

namespace rapport::consumers {

Topics Topics::WithPrefix(std::string_view prefix) {
  Topics t;
  t.touchpoints = StrCat(prefix, "touchpoints");
  t.ledger = StrCat(prefix, "ledger");
  t.rejected = StrCat(prefix, "rejected");
  t.profile = StrCat(prefix, "profile");
  t.loyalty = StrCat(prefix, "loyalty");
  t.resume = StrCat(prefix, "resume");
  return t;
}

std::vector<std::string> Topics::All() const {
  return {touchpoints, ledger, rejected, profile, loyalty, resume};
}

void KafkaDeleter::operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }

namespace {

absl::Status Set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(AbslView(StrCat("kafka.properties.", key, ": ", err)));
  }
  return absl::OkStatus();
}

// Whether a librdkafka warning is about a setting Rapport itself makes on purpose: the relay's
// enable.gapless.guarantee (relay.cc), which librdkafka calls experimental on every start.
bool IsOurOwnSettingsWarning(std::string_view facility, std::string_view message) {
  return facility == "CONFWARN" &&
         message.find("enable.gapless.guarantee is experimental") != std::string_view::npos;
}

// Called on librdkafka's threads; spdlog's logger is thread-safe.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  spdlog::level::level_enum l = level <= 2   ? spdlog::level::critical
                                : level == 3 ? spdlog::level::err
                                : level == 4 ? spdlog::level::warn
                                : level <= 6 ? spdlog::level::info
                                             : spdlog::level::debug;
  if (IsOurOwnSettingsWarning(facility, message)) l = spdlog::level::debug;
  spdlog::log(l, "kafka {} {}: {}", rd_kafka_name(rk), facility, message);
}

}  // namespace

void RouteLogsToSpdlog(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, LogToSpdlog); }

void LowerClientThreadsPriority(rd_kafka_conf_t* conf, int nice) {
  // The nice value travels as the interceptors' opaque pointer.
  void* opaque = reinterpret_cast<void*>(static_cast<intptr_t>(nice));
  rd_kafka_conf_interceptor_add_on_new(
      conf, "rapport-nice",
      +[](rd_kafka_t* rk, const rd_kafka_conf_t*, void* ic_opaque, char*,
          size_t) -> rd_kafka_resp_err_t {
        return rd_kafka_interceptor_add_on_thread_start(
            rk, "rapport-nice",
            +[](rd_kafka_t*, rd_kafka_thread_type_t, const char*,
                void* nice_opaque) -> rd_kafka_resp_err_t {
              ledger::SetCurrentThreadNice(
                  static_cast<int>(reinterpret_cast<intptr_t>(nice_opaque)));
              return RD_KAFKA_RESP_ERR_NO_ERROR;
            },
            ic_opaque);
      },
      opaque);
}

absl::StatusOr<KafkaHandle> NewClient(rd_kafka_type_t type, const KafkaOptions& options,
                                      const Properties& defaults, const Properties& required,
                                      const std::function<void(rd_kafka_conf_t*)>& configure) {
  if (options.bootstrap.empty()) return absl::InvalidArgumentError("kafka.bootstrap is empty");
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  RouteLogsToSpdlog(conf);
  auto fail = [&](absl::Status s) {
    rd_kafka_conf_destroy(conf);
    return s;
  };
  absl::Status s = Set(conf, "bootstrap.servers", options.bootstrap);
  for (const auto& [k, v] : defaults) {
    if (s.ok()) s = Set(conf, k, v);
  }
  const auto& role =
      type == RD_KAFKA_CONSUMER ? options.consumer_properties : options.producer_properties;
  for (const auto* props : {&options.properties, &role}) {
    for (const auto& [k, v] : *props) {
      if (s.ok()) s = Set(conf, k, v);
    }
  }
  for (const auto& [k, v] : required) {
    for (const auto* props : {&options.properties, &role}) {
      for (const auto& [uk, uv] : *props) {
        if (uk == k && uv != v) {
          return fail(absl::InvalidArgumentError(AbslView(StrCat(
              "kafka properties: ", k, ": Rapport needs \"", v, "\" here for its guarantees"))));
        }
      }
    }
    if (s.ok()) s = Set(conf, k, v);
  }
  if (!s.ok()) return fail(s);
  if (configure) configure(conf);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(AbslView(StrCat("creating a Kafka client: ", err)));
  }
  return KafkaHandle(rk);
}

absl::Status KafkaError(rd_kafka_resp_err_t err, std::string_view what) {
  std::string msg = StrCat(what, ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::OkStatus();
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return absl::UnavailableError(AbslView(msg));
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return absl::NotFoundError(AbslView(msg));
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return absl::ResourceExhaustedError(AbslView(msg));
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return absl::PermissionDeniedError(AbslView(msg));
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
      return absl::InvalidArgumentError(AbslView(msg));
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
      return absl::AbortedError(AbslView(msg));
    default:
      return absl::InternalError(AbslView(msg));
  }
}

absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(err, StrCat("reading the metadata of ", topic));
  }
  absl::StatusOr<int> out = absl::NotFoundError(AbslView(StrCat("topic ", topic, " not found")));
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& tm = md->topics[i];
    if (topic != tm.topic) continue;
    if (tm.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      out = KafkaError(tm.err, StrCat("topic ", topic));
    } else {
      out = tm.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

std::string_view HeaderValue(const rd_kafka_message_t* message, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return {};
  }
  return std::string_view(static_cast<const char*>(value), size);
}

}  // namespace rapport::consumers
