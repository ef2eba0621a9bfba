#include "tools/config.h"

#include <toml++/toml.h>

#include "ledger/strings.h"

namespace rapport::tools {
namespace {

absl::Status Bad(std::string_view key, std::string_view why) {
  return absl::InvalidArgumentError(AbslView(StrCat("config key ", key, ": ", why)));
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  Config config;
  if (path.empty()) return config;
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        AbslView(StrCat("config ", path, ": ", std::string_view(e.description()), " at line ",
                        static_cast<int64_t>(e.source().begin.line))));
  }
  for (const auto& [section, node] : root) {
    std::string s(section.str());
    const toml::table* t = node.as_table();
    if (t == nullptr) return Bad(s, "must be a table");
    for (const auto& [key, value] : *t) {
      std::string k = StrCat(s, ".", std::string_view(key.str()));
      if (k == "ledger.partitions") {
        auto v = value.value<int64_t>();
        if (!v || *v < 1 || *v > 4096) return Bad(k, "must be an integer from 1 to 4096");
        config.ledger.partitions = static_cast<uint32_t>(*v);
      } else if (k == "limits.max_event_bytes") {
        auto v = value.value<int64_t>();
        if (!v || *v < 256 || *v > (16 << 20))
          return Bad(k, "must be an integer from 256 to 16777216");
        config.codec.max_event_bytes = static_cast<size_t>(*v);
      } else {
        return Bad(k, "unknown key");
      }
    }
  }
  return config;
}

}  // namespace rapport::tools
