#include "tools/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace rapport::tools {
namespace {

absl::Status Bad(std::string_view key, std::string_view why) {
  return absl::InvalidArgumentError(AbslView(StrCat("config key ", key, ": ", why)));
}

// `[[loyalty.tiers]]` tables: name, threshold_minor, multiplier (e.g. 1.25, at most 2 decimals).
absl::Status LoadTiers(const std::string& key, const toml::node& node, projections::Rules* rules) {
  const toml::array* tiers = node.as_array();
  if (tiers == nullptr || tiers->empty()) return Bad(key, "must be a non-empty array of tables");
  rules->tiers.clear();
  for (size_t i = 0; i < tiers->size(); ++i) {
    std::string at = StrCat(key, "[", i, "]");
    const toml::table* t = (*tiers)[i].as_table();
    if (t == nullptr) return Bad(at, "must be a table with name, threshold_minor, multiplier");
    projections::Tier tier;
    for (const auto& [field, v] : *t) {
      std::string f(field.str());
      if (f == "name") {
        auto name = v.value<std::string>();
        if (!name || name->empty()) return Bad(StrCat(at, ".name"), "must be a non-empty string");
        tier.name = *name;
      } else if (f == "threshold_minor") {
        auto n = v.value<int64_t>();
        if (!n || *n < 0) return Bad(StrCat(at, ".threshold_minor"), "must be an integer >= 0");
        tier.threshold_minor = *n;
      } else if (f == "multiplier") {
        auto m = v.value<double>();
        double centi = m ? *m * 100 : -1;
        if (!m || *m <= 0 || *m > 100 || std::abs(centi - std::round(centi)) > 1e-9) {
          return Bad(StrCat(at, ".multiplier"), "must be a number > 0 with at most 2 decimals");
        }
        tier.multiplier_centi = static_cast<int64_t>(std::round(centi));
      } else {
        return Bad(StrCat(at, ".", f), "unknown key");
      }
    }
    if (tier.name.empty()) return Bad(StrCat(at, ".name"), "required");
    if (i == 0 && tier.threshold_minor != 0) {
      return Bad(StrCat(at, ".threshold_minor"), "the first (base) tier must have threshold 0");
    }
    if (i > 0 && tier.threshold_minor <= rules->tiers.back().threshold_minor) {
      return Bad(StrCat(at, ".threshold_minor"), "tiers must have increasing thresholds");
    }
    if (rules->TierIndex(tier.name) >= 0) return Bad(StrCat(at, ".name"), "duplicate tier");
    rules->tiers.push_back(std::move(tier));
  }
  return absl::OkStatus();
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
    if (s == "data_dir") {
      auto v = node.value<std::string>();
      if (!v || v->empty()) return Bad(s, "must be a non-empty path");
      config.data_dir = *v;
      continue;
    }
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
      } else if (k == "loyalty.currency") {
        auto v = value.value<std::string>();
        if (!v || v->size() != 3) return Bad(k, "must be a 3-letter ISO 4217 code");
        config.rules.currency = *v;
      } else if (k == "loyalty.points_expiry_days" || k == "loyalty.spend_window_days" ||
                 k == "loyalty.tier_grace_days" || k == "loyalty.activity_window_days") {
        auto v = value.value<int64_t>();
        if (!v || *v < 1 || *v > 36500) return Bad(k, "must be a whole number of days, 1-36500");
        int64_t* field = k == "loyalty.points_expiry_days"  ? &config.rules.points_expiry_days
                         : k == "loyalty.spend_window_days" ? &config.rules.spend_window_days
                         : k == "loyalty.tier_grace_days"   ? &config.rules.tier_grace_days
                                                            : &config.rules.activity_window_days;
        *field = *v;
      } else if (k == "preferences.half_life_days") {
        auto v = value.value<double>();
        if (!v || !(*v > 0) || *v > 36500) return Bad(k, "must be a number of days > 0");
        config.rules.preference_half_life_days = *v;
      } else if (k == "kafka.bootstrap") {
        auto v = value.value<std::string>();
        if (!v || v->empty()) {
          return Bad(k, "must be \"embedded\", \"none\" or a list host:port,host:port");
        }
        config.kafka_mode = *v;
      } else if (k == "kafka.topic_prefix") {
        auto v = value.value<std::string>();
        if (!v || v->find_first_of(" /\\,:") != std::string::npos) {
          return Bad(k, "must be a string usable in Kafka topic names");
        }
        config.kafka.topic_prefix = *v;
      } else if (k == "kafka.changelog_interval_ms") {
        auto v = value.value<int64_t>();
        if (!v || *v < 0 || *v > 3600000) return Bad(k, "must be milliseconds from 0 to 3600000");
        config.changelog_interval_ms = static_cast<int>(*v);
      } else if (k == "kafka.group_id") {
        auto v = value.value<std::string>();
        if (!v || v->empty()) return Bad(k, "must be a non-empty string");
        config.kafka.group_id = *v;
      } else if (k == "kafka.properties" || k == "kafka.consumer_properties" ||
                 k == "kafka.producer_properties") {
        auto* out = k == "kafka.properties"            ? &config.kafka.properties
                    : k == "kafka.consumer_properties" ? &config.kafka.consumer_properties
                                                       : &config.kafka.producer_properties;
        const toml::table* props = value.as_table();
        if (props == nullptr) return Bad(k, "must be a table of librdkafka properties");
        for (const auto& [pk, pv] : *props) {
          std::string name(pk.str());
          std::string text;
          if (auto str = pv.value_exact<std::string>()) {
            text = *str;
          } else if (auto i = pv.value_exact<int64_t>()) {
            text = std::to_string(*i);
          } else if (auto b = pv.value_exact<bool>()) {
            text = *b ? "true" : "false";
          } else {
            return Bad(StrCat(k, ".", name), "must be a string, integer or boolean");
          }
          out->emplace_back(name, text);
        }
      } else if (k == "limits.max_batch_bytes") {
        auto v = value.value<int64_t>();
        if (!v || *v < 1024 || *v > (int64_t{1} << 30)) {
          return Bad(k, "must be an integer from 1024 to 1073741824");
        }
        config.http.max_batch_bytes = static_cast<size_t>(*v);
      } else if (k == "http.listen") {
        auto v = value.value<std::string>();
        // "none": no HTTP (as `serve --http none`; ops/rapport.toml documents both).
        if (!v || (*v != "none" && v->find(':') == std::string::npos)) {
          return Bad(k, "must be host:port or \"none\"");
        }
        config.http.listen = *v;
      } else if (k == "http.threads") {
        auto v = value.value<int64_t>();
        if (!v || *v < 1 || *v > 1024) return Bad(k, "must be an integer from 1 to 1024");
        config.http.threads = static_cast<int>(*v);
      } else if (k == "http.read_timeout_ms" || k == "http.write_timeout_ms") {
        auto v = value.value<int64_t>();
        if (!v || *v < 100 || *v > 600000) return Bad(k, "must be milliseconds from 100 to 600000");
        (k == "http.read_timeout_ms" ? config.http.read_timeout_ms : config.http.write_timeout_ms) =
            static_cast<int>(*v);
      } else if (k == "http.keep_alive_timeout_s") {
        auto v = value.value<int64_t>();
        if (!v || *v < 1 || *v > 3600) return Bad(k, "must be seconds from 1 to 3600");
        config.http.keep_alive_timeout_s = static_cast<int>(*v);
      } else if (k == "auth.tokens_file") {
        auto v = value.value<std::string>();
        if (!v) return Bad(k, "must be a path");
        std::filesystem::path tokens(*v);
        if (tokens.is_relative() && !v->empty()) {
          tokens = std::filesystem::path(path).parent_path() / tokens;
        }
        config.http.tokens_file = tokens.string();
      } else if (k == "health.max_projection_lag") {
        auto v = value.value<int64_t>();
        if (!v || *v < 0) return Bad(k, "must be an integer >= 0");
        config.http.max_projection_lag = static_cast<uint64_t>(*v);
      } else if (k == "log.level") {
        auto v = value.value<std::string>();
        static const char* kLevels[] = {"trace", "debug",    "info", "warn",
                                        "error", "critical", "off"};
        if (!v || std::find(std::begin(kLevels), std::end(kLevels), *v) == std::end(kLevels)) {
          return Bad(k, "must be trace, debug, info, warn, error, critical or off");
        }
        config.log_level = *v;
      } else if (k == "log.format") {
        auto v = value.value<std::string>();
        if (!v || (*v != "text" && *v != "json")) return Bad(k, "must be text or json");
        config.log_format = *v;
      } else if (k == "loyalty.tiers") {
        RETURN_IF_ERROR(LoadTiers(k, value, &config.rules));
      } else {
        return Bad(k, "unknown key");
      }
    }
  }
  // tier_override events must name a configured tier.
  config.codec.tiers.clear();
  for (const auto& tier : config.rules.tiers) config.codec.tiers.push_back(tier.name);
  return config;
}

consumers::ServiceOptions ServiceOptionsFor(const Config& config, const std::string& data_dir) {
  consumers::ServiceOptions options;
  options.data_dir = data_dir;
  options.ledger = config.ledger;
  options.runner.rules = config.rules;
  options.inbox.codec = config.codec;
  options.kafka = config.kafka;
  options.changelog.interval_ms = config.changelog_interval_ms;
  options.kafka_mode = config.kafka_mode;
  return options;
}

std::string ResolveDataDir(const std::string& flag, const std::string& config_path) {
  if (!flag.empty()) return flag;
  if (!config_path.empty()) {
    auto config = LoadConfig(config_path);
    if (config.ok() && !config->data_dir.empty()) return config->data_dir;
  }
  return "./rapport-data";
}

}  // namespace rapport::tools
