// `rapport serve` and `rapport broker` (CONTRACT §6): long-running processes that stop cleanly
// on SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>

#include "consumers/embedded_broker.h"
#include "consumers/service.h"
#include "ledger/json.h"
#include "ledger/strings.h"
#include "ledger/timestamp.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tools/commands.h"
#include "tools/config.h"
#include "tools/http_server.h"

namespace rapport::tools {
namespace {

// Blocks SIGTERM and SIGINT in this thread and every thread started after, so that WaitForStop
// receives them synchronously.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Waits up to `timeout_ms` for SIGTERM/SIGINT; the signal number, or 0 on timeout.
int WaitForStop(const sigset_t& set, int timeout_ms) {
  timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

// One JSON object per log line: {"time","level","thread","msg"} (log.format = "json"), for log
// pipelines that parse fields instead of text.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "{\"time\":\"";
    int64_t micros =
        std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    line += ledger::FormatTimestamp(ledger::Timestamp{micros});
    auto level = spdlog::level::to_string_view(msg.level);
    line += StrCat("\",\"level\":\"", std::string_view(level.data(), level.size()),
                   "\",\"thread\":", static_cast<uint64_t>(msg.thread_id), ",\"msg\":");
    ledger::json::AppendString(&line, std::string_view(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }
};

// Applies log.level and log.format (flags win over the config); false after printing why.
bool ConfigureLogging(const Config& config, const ServeFlags& flags) {
  LogToStderr();
  std::string level = flags.log_level.empty() ? config.log_level : flags.log_level;
  auto spd_level = spdlog::level::from_str(level);
  if (spd_level == spdlog::level::off && level != "off") {
    std::fprintf(stderr, "rapport: --log-level must be trace, debug, info, warn, error or off\n");
    return false;
  }
  spdlog::set_level(spd_level);
  std::string format = flags.log_format.empty() ? config.log_format : flags.log_format;
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonLogFormatter>());
  } else if (format != "text") {
    std::fprintf(stderr, "rapport: --log-format must be text or json\n");
    return false;
  }
  return true;
}

int ExitFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
      return kExitBadInput;
    default:
      return kExitRuntime;
  }
}

}  // namespace

void LogToStderr() {
  static bool done = [] {
    spdlog::set_default_logger(spdlog::stderr_color_mt("rapport"));
    return true;
  }();
  (void)done;
}

int RunServe(const CommonFlags& flags, const ServeFlags& serve) {
  auto config = LoadConfig(flags.config);
  if (!config.ok()) {
    std::fprintf(stderr, "rapport: config: %s\n", std::string(config.status().message()).c_str());
    return kExitBadInput;
  }
  if (!ConfigureLogging(*config, serve)) return kExitBadInput;
  HttpOptions http = config->http;
  http.codec = config->codec;
  if (!serve.http.empty()) http.listen = serve.http;
  http.insecure = serve.insecure;
  if (http.listen != "none") {
    if (absl::Status v = ValidateHttpOptions(http); !v.ok()) {
      std::fprintf(stderr, "rapport: serve: http: %s\n", std::string(v.message()).c_str());
      return ExitFor(v);
    }
  }
  sigset_t signals = BlockStopSignals();
  consumers::ServiceOptions options = ServiceOptionsFor(*config, flags.data_dir);
  if (!serve.kafka.empty()) options.kafka_mode = serve.kafka;
  std::unique_ptr<consumers::Service> service;
  absl::Status s = consumers::Service::Start(options, &service);
  if (!s.ok()) {
    std::fprintf(stderr, "rapport: serve: %s\n", std::string(s.message()).c_str());
    return ExitFor(s);
  }
  std::unique_ptr<HttpServer> http_server;
  if (http.listen != "none") {
    s = HttpServer::Start(http, service.get(), &http_server);
    if (!s.ok()) {
      std::fprintf(stderr, "rapport: serve: http: %s\n", std::string(s.message()).c_str());
      service->Stop();
      return ExitFor(s);
    }
    // For scripts and tests that ask for port 0.
    if (absl::Status w = consumers::WriteBootstrapFile(StrCat(flags.data_dir, "/http.address"),
                                                       http_server->address());
        !w.ok()) {
      spdlog::warn("serve: could not write {}/http.address: {}", flags.data_dir, w.ToString());
    }
  }
  std::printf("rapport serve: ledger %s (%u partitions)\n", flags.data_dir.c_str(),
              service->ledger()->partitions());
  if (http_server) {
    std::printf("http: http://%s (%s)\n", http_server->address().c_str(),
                http_server->auth_enabled() ? "bearer tokens required" : "no auth");
  } else {
    std::printf("http: none\n");
  }
  if (service->bootstrap().empty()) {
    std::printf("kafka: none\n");
  } else {
    std::printf("kafka: %s%s\n", service->bootstrap().c_str(),
                service->embedded_broker() != nullptr
                    ? StrCat(" (embedded; written to ", flags.data_dir, "/kafka.bootstrap)").c_str()
                    : "");
  }
  std::fflush(stdout);

  auto last_log = std::chrono::steady_clock::now();
  int exit_code = kExitOk;
  while (true) {
    int sig = WaitForStop(signals, 500);
    if (sig != 0) {
      spdlog::info("serve: signal {}; draining and stopping", sig);
      break;
    }
    if (absl::Status failure = service->failure(); !failure.ok()) {
      spdlog::error("serve: stopping after a failure: {}", failure.ToString());
      exit_code = kExitRuntime;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_log >= std::chrono::seconds(serve.status_interval_s)) {
      last_log = now;
      auto st = service->status();
      if (st.kafka) {
        spdlog::info(
            "serve: inbox stored {} dup {} rejected {} lag {}; relay lag {}; projections behind "
            "{}; changelog lag {}; rejected waiting {}",
            st.inbox.stored, st.inbox.duplicates, st.inbox.rejected, st.inbox.lag, st.relay.lag,
            st.projections_behind, st.changelog.lag, st.rejected_waiting);
      } else {
        spdlog::info("serve: projections behind {}", st.projections_behind);
      }
    }
  }
  // Stop taking requests first, then drain the pipeline.
  if (http_server) http_server->Stop();
  service->Stop();
  spdlog::info("serve: stopped");
  return exit_code;
}

int RunBroker(const CommonFlags& flags, int partitions, const std::string& bootstrap_file) {
  auto config = LoadConfig(flags.config);
  if (!config.ok()) {
    std::fprintf(stderr, "rapport: config: %s\n", std::string(config.status().message()).c_str());
    return kExitBadInput;
  }
  if (partitions < 1 || partitions > 4096) {
    std::fprintf(stderr, "rapport: broker: --partitions must be from 1 to 4096\n");
    return kExitBadInput;
  }
  if (!ConfigureLogging(*config, ServeFlags{})) return kExitBadInput;
  sigset_t signals = BlockStopSignals();
  consumers::EmbeddedBrokerOptions options;
  options.partitions = partitions;
  options.topic_prefix = config->kafka.topic_prefix;
  std::unique_ptr<consumers::EmbeddedBroker> broker;
  absl::Status s = consumers::EmbeddedBroker::Start(options, &broker);
  if (s.ok() && !bootstrap_file.empty()) {
    s = consumers::WriteBootstrapFile(bootstrap_file, broker->bootstrap());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "rapport: broker: %s\n", std::string(s.message()).c_str());
    return kExitRuntime;
  }
  std::printf("%s\n", broker->bootstrap().c_str());
  std::fflush(stdout);
  spdlog::info("broker: 3 brokers at {}, topics {}* with {} partitions{}", broker->bootstrap(),
               options.topic_prefix, partitions,
               bootstrap_file.empty() ? "" : StrCat("; bootstrap written to ", bootstrap_file));
  while (WaitForStop(signals, 1000) == 0) {
  }
  spdlog::info("broker: stopping");
  return kExitOk;
}

}  // namespace rapport::tools
