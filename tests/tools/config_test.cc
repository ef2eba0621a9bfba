// The --config file: ops/rapport.toml (the reference) sets every key to its default, and bad keys
// or values are refused naming the key.
#include "tools/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/testing/temp_dir.h"

namespace rapport::tools {
namespace {

std::string ReferencePath() { return std::string(RAPPORT_SOURCE_DIR) + "/ops/rapport.toml"; }

std::string Write(const testing::TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.Sub(name);
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, ReferenceFileLoadsAndEqualsTheDefaults) {
  auto config = LoadConfig(ReferencePath());
  ASSERT_TRUE(config.ok()) << config.status();
  Config defaults;
  EXPECT_EQ(config->data_dir, "./rapport-data");
  EXPECT_EQ(config->ledger.partitions, defaults.ledger.partitions);
  EXPECT_EQ(config->codec.max_event_bytes, defaults.codec.max_event_bytes);
  EXPECT_EQ(config->http.max_batch_bytes, defaults.http.max_batch_bytes);
  EXPECT_EQ(config->http.listen, defaults.http.listen);
  EXPECT_EQ(config->http.threads, defaults.http.threads);
  EXPECT_EQ(config->http.read_timeout_ms, defaults.http.read_timeout_ms);
  EXPECT_EQ(config->http.write_timeout_ms, defaults.http.write_timeout_ms);
  EXPECT_EQ(config->http.keep_alive_timeout_s, defaults.http.keep_alive_timeout_s);
  EXPECT_EQ(config->http.tokens_file, "");
  EXPECT_EQ(config->http.max_projection_lag, defaults.http.max_projection_lag);
  EXPECT_EQ(config->log_level, defaults.log_level);
  EXPECT_EQ(config->log_format, defaults.log_format);
  EXPECT_EQ(config->kafka_mode, defaults.kafka_mode);
  EXPECT_EQ(config->kafka.topic_prefix, defaults.kafka.topic_prefix);
  EXPECT_EQ(config->kafka.group_id, defaults.kafka.group_id);
  EXPECT_EQ(config->changelog_interval_ms, defaults.changelog_interval_ms);
  EXPECT_TRUE(config->kafka.properties.empty());
  // Every projection rule: the fingerprint names them all.
  EXPECT_EQ(config->rules.Fingerprint(), defaults.rules.Fingerprint());
}

// Each `key = value` line of the reference, commented out or not, names a key the loader knows:
// the file documents exactly what exists.
TEST(ConfigTest, EveryKeyOfTheReferenceIsKnownToTheLoader) {
  std::ifstream in(ReferencePath());
  std::string line, section;
  std::set<std::string> keys;
  std::regex header(R"(^\[+([a-z_.]+)\]+\s*$)"), assignment(R"(^([a-z_]+)\s*=)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, header)) {
      section = m[1];
    } else if (std::regex_search(line, m, assignment)) {
      keys.insert(section.empty() ? std::string(m[1]) : section + "." + std::string(m[1]));
    }
  }
  EXPECT_GE(keys.size(), 25u);
  testing::TempDir dir;
  for (const auto& key : keys) {
    if (key.starts_with("loyalty.tiers.")) continue;  // checked as a whole above
    // Setting the key to a value of the wrong type must be refused naming exactly that key,
    // which shows the loader reads it (an unknown key would say "unknown key").
    size_t dot = key.rfind('.');
    std::string text = dot == std::string::npos
                           ? key + " = [1]\n"
                           : "[" + key.substr(0, dot) + "]\n" + key.substr(dot + 1) + " = [1]\n";
    auto config = LoadConfig(Write(dir, "k.toml", text));
    ASSERT_FALSE(config.ok()) << key;
    std::string message(config.status().message());
    EXPECT_NE(message.find(key), std::string::npos) << message;
    EXPECT_EQ(message.find("unknown key"), std::string::npos) << key << ": " << message;
  }
}

TEST(ConfigTest, BadKeysAndValuesNameTheKey) {
  testing::TempDir dir;
  struct Case {
    const char* text;
    const char* key;
  } cases[] = {
      {"[http]\nlisten = \"nowhere\"\n", "http.listen"},
      {"[http]\nthreads = 0\n", "http.threads"},
      {"[http]\nlistn = \"127.0.0.1:1\"\n", "http.listn"},
      {"[limits]\nmax_batch_bytes = 10\n", "limits.max_batch_bytes"},
      {"[log]\nlevel = \"loud\"\n", "log.level"},
      {"[health]\nmax_projection_lag = -1\n", "health.max_projection_lag"},
      {"data_dir = \"\"\n", "data_dir"},
  };
  for (const auto& c : cases) {
    auto config = LoadConfig(Write(dir, "bad.toml", c.text));
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(config.status().message()).find(c.key), std::string::npos)
        << config.status();
  }
}

TEST(ConfigTest, TokensFileIsRelativeToTheConfigAndDataDirResolves) {
  testing::TempDir dir;
  std::string path =
      Write(dir, "c.toml", "data_dir = \"/srv/rapport\"\n[auth]\ntokens_file = \"tokens.toml\"\n");
  auto config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http.tokens_file, dir.Sub("tokens.toml"));
  EXPECT_EQ(ResolveDataDir("", path), "/srv/rapport");
  EXPECT_EQ(ResolveDataDir("/flag/wins", path), "/flag/wins");
  EXPECT_EQ(ResolveDataDir("", ""), "./rapport-data");
}

}  // namespace
}  // namespace rapport::tools
