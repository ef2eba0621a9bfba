#include "consumers/embedded_broker.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ledger/strings.h"

namespace rapport::consumers {

absl::Status EmbeddedBroker::Start(const EmbeddedBrokerOptions& options,
                                   std::unique_ptr<EmbeddedBroker>* out) {
  if (options.partitions < 1 || options.brokers < 1) {
    return absl::InvalidArgumentError("the embedded broker needs at least 1 broker and partition");
  }
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker());
  // The mock cluster lives inside a client handle; a producer with no brokers of its own.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  RouteLogsToSpdlog(conf);
  char err[512];
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(AbslView(StrCat("starting the embedded broker: ", err)));
  }
  broker->handle_.reset(rk);
  broker->cluster_ = rd_kafka_mock_cluster_new(rk, options.brokers);
  if (broker->cluster_ == nullptr) {
    return absl::UnavailableError("starting the embedded broker: cannot create the mock cluster");
  }
  broker->bootstrap_ = rd_kafka_mock_cluster_bootstraps(broker->cluster_);
  int replication = std::min(3, options.brokers);
  for (const auto& topic : Topics::WithPrefix(options.topic_prefix).All()) {
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(broker->cluster_, topic.c_str(),
                                                       options.partitions, replication);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError(e, StrCat("creating topic ", topic));
  }
  *out = std::move(broker);
  return absl::OkStatus();
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

absl::Status WriteBootstrapFile(const std::string& path, const std::string& bootstrap) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << bootstrap << "\n";
    if (!f.flush()) {
      return absl::UnavailableError(AbslView(StrCat("cannot write ", tmp)));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return absl::UnavailableError(AbslView(StrCat("cannot write ", path, ": ", ec.message())));
  return absl::OkStatus();
}

}  // namespace rapport::consumers
