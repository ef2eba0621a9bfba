// The `rapport` subcommands (CONTRACT §6). Each returns the process exit code: 0 ok, 1 a failure
// found or nothing found, 2 bad usage or bad input, 3 runtime error.
#ifndef RAPPORT_TOOLS_COMMANDS_H_
#define RAPPORT_TOOLS_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace rapport::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFound = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitRuntime = 3;

struct CommonFlags {
  std::string data_dir = "./rapport-data";
  std::string config;
};

int RunAppend(const CommonFlags& flags, const std::string& file);
int RunHistory(const CommonFlags& flags, const std::string& customer, const std::string& as_of,
               uint64_t after_seq, uint64_t limit);
// `rapport rebuild [--projection NAME]`: builds a new version of each projection from position 1
// and switches to it; progress on a terminal.
int RunRebuild(const CommonFlags& flags, const std::string& projection);
// `rapport export --projection NAME [--format jsonl|csv]`: every customer's stored projection.
int RunExport(const CommonFlags& flags, const std::string& projection, const std::string& format);
int RunVerify(const CommonFlags& flags, const std::optional<std::string>& customer);
int RunDigest(const CommonFlags& flags);
// `rapport profile|loyalty|resume CUSTOMER [--as-of T]`: folds the customer's events visible at T
// (default: now) into the projection (CONTRACT §4).
int RunProjection(const CommonFlags& flags, const std::string& projection,
                  const std::string& customer, const std::string& as_of);
struct ServeFlags {
  // --kafka: embedded, none or host:port,...; empty: the config's kafka.bootstrap.
  std::string kafka;
  int status_interval_s = 10;
  // --http: host:port or none; empty: the config's http.listen.
  std::string http;
  bool insecure = false;
  std::string log_level;   // empty: the config's log.level
  std::string log_format;  // text or json; empty: the config's log.format
};
// Sends the libraries' logs (spdlog's default logger, stdout until then) to stderr, so that stdout
// carries only what a command prints for scripts: JSON, CSV, the bootstrap address. Idempotent.
void LogToStderr();
// `rapport serve`: the whole pipeline until SIGTERM/SIGINT, then drains and stops.
int RunServe(const CommonFlags& flags, const ServeFlags& serve);
// `rapport broker`: the embedded broker as a process of its own, until SIGTERM/SIGINT.
int RunBroker(const CommonFlags& flags, int partitions, const std::string& bootstrap_file);
int RunGen(uint64_t customers, uint64_t events, uint64_t seed);

struct BenchFlags {
  uint64_t events = 1'000'000;
  uint64_t customers = 100'000;
  uint64_t batch = 512;
  int threads = 3;
  uint64_t seed = 1;
};
int RunBenchAppend(const CommonFlags& flags, const BenchFlags& bench);
int RunBenchReplay(const CommonFlags& flags, const BenchFlags& bench);
// All three projections rebuilt over the workload; one JSON object with events_per_s.
int RunBenchRebuild(const CommonFlags& flags, const BenchFlags& bench);
// Stored-projection lookups and as-of folds of a 1,000-event customer: p50/p99.
int RunBenchQuery(const CommonFlags& flags, const BenchFlags& bench);
// Live projection updates: appends in batches of --batch, the runner catching up after each.
int RunBenchLive(const CommonFlags& flags, const BenchFlags& bench);
// Sustained ingest through the embedded broker: a producer publishes the workload to the inbox
// and the whole pipeline takes it in; events stored per second.
int RunBenchIngest(const CommonFlags& flags, const BenchFlags& bench);
// Publish-to-projection-visible latency at a steady `rate` for `seconds`, the first
// `warmup_seconds` not measured: p50/p99/p99.9/max, and the worst second's p99.
int RunBenchLatency(const CommonFlags& flags, const BenchFlags& bench, int rate, int seconds,
                    int warmup_seconds);

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_COMMANDS_H_
