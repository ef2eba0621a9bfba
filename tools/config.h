// The `--config FILE` TOML settings the CLI needs so far. Unknown keys and bad values stop the
// command with a message naming the key.
#ifndef RAPPORT_TOOLS_CONFIG_H_
#define RAPPORT_TOOLS_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "consumers/kafka.h"
#include "consumers/service.h"
#include "ledger/codec.h"
#include "ledger/ledger.h"
#include "projections/rules.h"
#include "tools/http_server.h"

namespace rapport::tools {

struct Config {
  ledger::LedgerOptions ledger;
  ledger::CodecOptions codec;
  projections::Rules rules;
  // kafka.bootstrap: "embedded", "none" or host:port,... (serve --kafka overrides it).
  std::string kafka_mode = "embedded";
  consumers::KafkaOptions kafka;
  // kafka.changelog_interval_ms: how often projection changes are published (coalescing).
  int changelog_interval_ms = 1000;
  // data_dir (top level); --data-dir wins over it. Empty: not set.
  std::string data_dir;
  // [http], limits.max_batch_bytes, auth.tokens_file, health.max_projection_lag (codec: from
  // `codec` at start-up).
  HttpOptions http;
  // log.level: trace, debug, info, warn, error, critical or off.
  std::string log_level = "info";
  // log.format: text, or json (one object per line: time, level, thread, msg).
  std::string log_format = "text";
};

// Loads `path` (empty: the defaults). InvalidArgument naming the key on a bad key or value.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// The pipeline's options from the config, for the ledger in `data_dir` (kafka_mode as configured).
consumers::ServiceOptions ServiceOptionsFor(const Config& config, const std::string& data_dir);

// The data dir of a command: `flag` when given, else the config file's data_dir (a config that
// cannot be read is left for the command to report), else ./rapport-data.
std::string ResolveDataDir(const std::string& flag, const std::string& config_path);

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_CONFIG_H_
