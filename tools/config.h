// The `--config FILE` TOML settings the CLI needs so far. Unknown keys and bad values stop the
// command with a message naming the key.
#ifndef RAPPORT_TOOLS_CONFIG_H_
#define RAPPORT_TOOLS_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "consumers/kafka.h"
#include "ledger/codec.h"
#include "ledger/ledger.h"
#include "projections/rules.h"

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
};

// Loads `path` (empty: the defaults). InvalidArgument naming the key on a bad key or value.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_CONFIG_H_
