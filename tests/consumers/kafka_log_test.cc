// librdkafka's log lines reach spdlog at their own level, except the warning about a setting
// Rapport makes on purpose (the relay's enable.gapless.guarantee), which would otherwise greet
// every start of `rapport serve`. Real clients against the embedded broker.
#include <memory>
#include <sstream>
#include <string>

#include "consumers/embedded_broker.h"
#include "consumers/kafka.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/testing/status_matchers.h"

namespace rapport::consumers {
namespace {

// Sends everything logged while it lives to `out`, one "level message" line each.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>("captured", sink);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string Lines() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(KafkaLogTest, OurOwnGaplessSettingIsNotAWarningButOtherConfigWarningsAre) {
  std::unique_ptr<EmbeddedBroker> broker;
  ASSERT_OK(EmbeddedBroker::Start({}, &broker));
  KafkaOptions options;
  options.bootstrap = broker->bootstrap();
  std::string lines;
  {
    CapturedLog log;
    // group.id is a consumer property: librdkafka warns that a producer ignores it.
    auto producer = NewClient(RD_KAFKA_PRODUCER, options, {{"group.id", "not-for-producers"}},
                              {{"enable.idempotence", "true"},
                               {"enable.gapless.guarantee", "true"},
                               {"message.timeout.ms", "0"}});
    ASSERT_OK(producer.status());
    producer->reset();
    lines = log.Lines();
  }
  std::istringstream in(lines);
  bool gapless_seen = false;
  bool group_id_warned = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("CONFWARN") == std::string::npos) continue;
    if (line.find("enable.gapless.guarantee") != std::string::npos) {
      gapless_seen = true;
      EXPECT_EQ(line.rfind("debug ", 0), 0u) << line;
    }
    if (line.find("group.id") != std::string::npos) {
      group_id_warned = line.rfind("warning ", 0) == 0;
    }
  }
  EXPECT_TRUE(gapless_seen) << lines;
  EXPECT_TRUE(group_id_warned) << lines;
}

}  // namespace
}  // namespace rapport::consumers
