#include "ledger/timestamp.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rapport::ledger {
namespace {

using ::testing::Optional;

constexpr int64_t kSecond = kMicrosPerSecond;

Timestamp Seconds(int64_t s, int64_t micros = 0) { return Timestamp{s * kSecond + micros}; }

// Parses `text` and renders the result; "invalid" when it does not parse.
std::string Normalize(std::string_view text) {
  auto t = ParseRfc3339(text);
  return t ? FormatTimestamp(*t) : "invalid";
}

// Unix times below are from `date -u -d <time> +%s`.

TEST(ParseRfc3339Test, ParsesUtcAndRendersBack) {
  EXPECT_THAT(ParseRfc3339("1970-01-01T00:00:00Z"), Optional(Timestamp{0}));
  EXPECT_THAT(ParseRfc3339("2026-11-20T02:15:00Z"), Optional(Seconds(1795140900)));
  EXPECT_EQ(FormatTimestamp(Seconds(1795140900)), "2026-11-20T02:15:00Z");
  EXPECT_EQ(FormatTimestamp(Timestamp{0}), "1970-01-01T00:00:00Z");
}

TEST(ParseRfc3339Test, ParsesDatesBeforeTheEpoch) {
  EXPECT_THAT(ParseRfc3339("1969-07-20T20:17:40Z"), Optional(Seconds(-14182940)));
  EXPECT_THAT(ParseRfc3339("1900-01-01T00:00:00Z"), Optional(Seconds(-2208988800)));
  EXPECT_THAT(ParseRfc3339("1969-12-31T23:59:59.999999Z"), Optional(Timestamp{-1}));
  EXPECT_EQ(FormatTimestamp(Timestamp{-1}), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTimestamp(Seconds(-1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatTimestamp(Seconds(-14182940)), "1969-07-20T20:17:40Z");
  EXPECT_EQ(FormatTimestamp(Seconds(-2208988800, 500000)), "1900-01-01T00:00:00.500000Z");
}

TEST(ParseRfc3339Test, AcceptsTheBoundsOfYears0001To9999) {
  EXPECT_THAT(ParseRfc3339("0001-01-01T00:00:00Z"), Optional(Seconds(-62135596800)));
  EXPECT_THAT(ParseRfc3339("9999-12-31T23:59:59.999999Z"), Optional(Seconds(253402300799, 999999)));
  EXPECT_EQ(FormatTimestamp(Seconds(-62135596800)), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(Seconds(253402300799, 999999)), "9999-12-31T23:59:59.999999Z");
}

TEST(ParseRfc3339Test, RejectsInstantsOutsideYears0001To9999InUtc) {
  std::string why;
  EXPECT_EQ(ParseRfc3339("0000-12-31T23:59:59Z", &why), std::nullopt);
  EXPECT_FALSE(why.empty());
  // Valid local times whose UTC instant falls outside the range.
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:00:00+00:01"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("0001-01-01T05:00:00+08:00"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59-00:01"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("9999-12-31T20:00:00-08:00"), std::nullopt);
  // ...and ones just inside it.
  EXPECT_EQ(Normalize("0001-01-01T08:00:00+08:00"), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Normalize("9999-12-31T15:59:59.999999-08:00"), "9999-12-31T23:59:59.999999Z");
}

TEST(ParseRfc3339Test, KnowsLeapYears) {
  EXPECT_EQ(Normalize("2024-02-29T12:00:00Z"), "2024-02-29T12:00:00Z");
  EXPECT_EQ(Normalize("2000-02-29T12:00:00Z"), "2000-02-29T12:00:00Z");  // divisible by 400
  EXPECT_EQ(Normalize("2023-02-29T12:00:00Z"), "invalid");
  EXPECT_EQ(Normalize("1900-02-29T12:00:00Z"), "invalid");  // divisible by 100, not 400
  EXPECT_EQ(Normalize("2100-02-29T12:00:00Z"), "invalid");
  EXPECT_EQ(Normalize("2024-02-30T12:00:00Z"), "invalid");
  EXPECT_EQ(Normalize("2023-02-28T23:59:59Z"), "2023-02-28T23:59:59Z");
  // Day after Feb 28 of a common year and of a leap year.
  EXPECT_EQ(Normalize("2023-02-28T23:30:00-01:00"), "2023-03-01T00:30:00Z");
  EXPECT_EQ(Normalize("2024-02-28T23:30:00-01:00"), "2024-02-29T00:30:00Z");
  EXPECT_EQ(Normalize("2024-03-01T00:30:00+01:00"), "2024-02-29T23:30:00Z");
}

TEST(ParseRfc3339Test, RejectsDaysAMonthDoesNotHave) {
  for (std::string_view text :
       {"2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z", "2026-09-31T00:00:00Z",
        "2026-11-31T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-00T00:00:00Z",
        "2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z"}) {
    EXPECT_EQ(ParseRfc3339(text), std::nullopt) << text;
  }
  EXPECT_EQ(Normalize("2026-12-31T00:00:00Z"), "2026-12-31T00:00:00Z");
  EXPECT_EQ(Normalize("2026-01-31T00:00:00Z"), "2026-01-31T00:00:00Z");
}

TEST(ParseRfc3339Test, AppliesOffsetsOfBothSignsAcrossDayAndYearBoundaries) {
  EXPECT_EQ(Normalize("2026-11-20T10:15:00+08:00"), "2026-11-20T02:15:00Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00-05:30"), "2026-11-20T15:45:00Z");
  EXPECT_EQ(Normalize("2027-01-01T07:59:59+08:00"), "2026-12-31T23:59:59Z");
  EXPECT_EQ(Normalize("2026-12-31T23:30:00-01:00"), "2027-01-01T00:30:00Z");
  EXPECT_EQ(Normalize("2026-12-31T16:00:00-08:00"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(Normalize("2026-03-01T00:00:00+14:00"), "2026-02-28T10:00:00Z");
  EXPECT_EQ(Normalize("1970-01-01T00:00:00+00:01"), "1969-12-31T23:59:00Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00+23:59"), "2026-11-19T10:16:00Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00-23:59"), "2026-11-21T10:14:00Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00+00:00"), "2026-11-20T10:15:00Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00-00:00"), "2026-11-20T10:15:00Z");
}

TEST(ParseRfc3339Test, AcceptsLowercaseTAndZ) {
  EXPECT_EQ(Normalize("2026-11-20t10:15:00z"), "2026-11-20T10:15:00Z");
  EXPECT_EQ(Normalize("2026-11-20t10:15:00.5+01:00"), "2026-11-20T09:15:00.500000Z");
}

TEST(ParseRfc3339Test, TruncatesTheFractionToMicroseconds) {
  EXPECT_EQ(Normalize("2026-11-20T10:15:00.1234567+08:00"), "2026-11-20T02:15:00.123456Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00.9999999Z"), "2026-11-20T10:15:00.999999Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00.1Z"), "2026-11-20T10:15:00.100000Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00.000001Z"), "2026-11-20T10:15:00.000001Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00.0000009Z"), "2026-11-20T10:15:00Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00.000000Z"), "2026-11-20T10:15:00Z");
  EXPECT_EQ(Normalize("2026-11-20T10:15:00.123456789012345678901234567890Z"),
            "2026-11-20T10:15:00.123456Z");
  // Truncation is toward the past before the epoch too: the fraction adds to the second.
  EXPECT_EQ(Normalize("1969-12-31T23:59:59.9999999Z"), "1969-12-31T23:59:59.999999Z");
  EXPECT_THAT(ParseRfc3339("1970-01-01T00:00:00.0000015Z"), Optional(Timestamp{1}));
}

TEST(ParseRfc3339Test, RejectsMalformedTimes) {
  for (std::string_view text : {
           "",
           "garbage",
           "2026-11-20",                  // date only
           "2026-11-20T10:15:00",         // no zone
           "2026-11-20T10:15Z",           // no seconds
           "2026-11-20 10:15:00Z",        // space instead of T
           "2026-11-20T24:00:00Z",        // hour 24
           "2026-11-20T10:60:00Z",        // minute 60
           "2026-11-20T10:15:60Z",        // leap second
           "2026-11-20T10:15:00+24:00",   // offset hour 24
           "2026-11-20T10:15:00+08:60",   // offset minute 60
           "2026-11-20T10:15:00+0800",    // offset without colon
           "2026-11-20T10:15:00+08",      // offset without minutes
           "2026-11-20T10:15:00+8:00",    // one-digit offset hour
           "2026-11-20T10:15:00 +08:00",  // space before the offset
           "2026-11-20T10:15:00.Z",       // fraction without digits
           "2026-11-20T10:15:00,5Z",      // comma fraction
           "2026-11-20T10:15:00ZZ",       // trailing text
           "2026-11-20T10:15:00Z ",       // trailing space
           " 2026-11-20T10:15:00Z",       // leading space
           "26-11-20T10:15:00Z",          // two-digit year
           "+2026-11-20T10:15:00Z",       // signed year
           "20261-11-20T10:15:00Z",       // five-digit year
           "2026-1-20T10:15:00Z",         // one-digit month
           "2026-11-20T1:15:00Z",         // one-digit hour
           "2026/11/20T10:15:00Z",        // wrong separators
           "2026-11-20T10.15.00Z",
           "2026-11-20T10:15:00UTC",
           "2026-11-20T10:15:00+08:00Z",
           "2026-11-20X10:15:00Z",
           "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-11-20T10:15:00Z",  // fullwidth digits
       }) {
    std::string why;
    EXPECT_EQ(ParseRfc3339(text, &why), std::nullopt) << "\"" << text << "\"";
    EXPECT_FALSE(why.empty()) << "\"" << text << "\"";
  }
}

TEST(FormatTimestampTest, AppendsAfterExistingText) {
  std::string out = "at ";
  AppendTimestamp(&out, Seconds(1795140900, 123));
  EXPECT_EQ(out, "at 2026-11-20T02:15:00.000123Z");
}

TEST(FormatTimestampTest, RoundTripsEveryMicrosecondInRange) {
  // A fixed-seed sample across the whole range, plus the day boundaries around the epoch.
  const int64_t lo = -62135596800 * kSecond;
  const int64_t hi = 253402300799 * kSecond + 999999;
  std::mt19937_64 rng(20261120);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  for (int i = 0; i < 20000; ++i) {
    Timestamp t{i < 10 ? (i - 5) * kMicrosPerDay + (i % 2) : dist(rng)};
    std::string text = FormatTimestamp(t);
    ASSERT_THAT(ParseRfc3339(text), Optional(t)) << text;
    ASSERT_EQ(text.size(), t.micros % kSecond == 0 ? 20u : 27u) << text;
  }
}

TEST(NowTest, IsAfter2024AndBefore2100) {
  Timestamp now = Now();
  EXPECT_GT(now, *ParseRfc3339("2024-01-01T00:00:00Z"));
  EXPECT_LT(now, *ParseRfc3339("2100-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace rapport::ledger
