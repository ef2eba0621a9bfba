// The projection state encoding: varints at their boundaries, and refusal of bad input.
#include "projections/state_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace rapport::projections {
namespace {

TEST(StateCodecTest, IntegersRoundTripAtEveryLengthBoundary) {
  std::string bytes;
  StateWriter w(&bytes);
  std::vector<uint64_t> unsigned_values = {0,
                                           1,
                                           127,
                                           128,
                                           16383,
                                           16384,
                                           uint64_t{1} << 35,
                                           (uint64_t{1} << 63) - 1,
                                           uint64_t{1} << 63,
                                           std::numeric_limits<uint64_t>::max()};
  std::vector<int64_t> signed_values = {0,
                                        -1,
                                        1,
                                        -64,
                                        64,
                                        -65,
                                        1'780'000'000'000'000,  // a timestamp in µs
                                        std::numeric_limits<int64_t>::min(),
                                        std::numeric_limits<int64_t>::max()};
  for (uint64_t v : unsigned_values) w.U64(v);
  for (int64_t v : signed_values) w.I64(v);
  w.Str("text");
  w.F64(0.25);
  StateReader r(bytes);
  for (uint64_t v : unsigned_values) {
    uint64_t got = 0;
    ASSERT_TRUE(r.U64(&got));
    EXPECT_EQ(got, v);
  }
  for (int64_t v : signed_values) {
    int64_t got = 0;
    ASSERT_TRUE(r.I64(&got));
    EXPECT_EQ(got, v);
  }
  std::string s;
  ASSERT_TRUE(r.Str(&s));
  EXPECT_EQ(s, "text");
  double d = 0;
  ASSERT_TRUE(r.F64(&d));
  EXPECT_EQ(d, 0.25);
  EXPECT_TRUE(r.AtEnd());
}

TEST(StateCodecTest, SmallValuesTakeOneByte) {
  std::string bytes;
  StateWriter w(&bytes);
  w.U64(127);
  w.I64(-1);
  w.I64(63);
  EXPECT_EQ(bytes.size(), 3u);
  w.U64(128);
  EXPECT_EQ(bytes.size(), 5u);
  bytes.clear();
  w.U64(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(bytes.size(), 10u);
}

TEST(StateCodecTest, RejectsTruncatedAndOverlongVarints) {
  uint64_t v = 0;
  StateReader empty("");
  EXPECT_FALSE(empty.U64(&v));
  StateReader truncated("\x80\x80");
  EXPECT_FALSE(truncated.U64(&v));
  // Eleven bytes, or a tenth byte with more than the 64th bit.
  const std::string eleven_bytes = std::string(10, '\x80') + "\x01";
  StateReader eleven(eleven_bytes);
  EXPECT_FALSE(eleven.U64(&v));
  const std::string too_big_bytes = std::string(9, '\xff') + "\x02";
  StateReader too_big(too_big_bytes);
  EXPECT_FALSE(too_big.U64(&v));
  // A string longer than what is left.
  StateReader long_string(
      "\x05"
      "abc");
  std::string s;
  EXPECT_FALSE(long_string.Str(&s));
}

}  // namespace
}  // namespace rapport::projections
