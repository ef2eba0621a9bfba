#include "ledger/json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rapport::ledger::json {
namespace {

using ::testing::ElementsAre;

std::string Double(double v) {
  std::string out;
  AppendDouble(&out, v);
  return out;
}

std::string Rounded4(double v) {
  std::string out;
  AppendRounded4(&out, v);
  return out;
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendString(&out, s);
  return out;
}

// ---------------------------------------------------------------------------------------------
// AppendDouble: ECMAScript Number::toString, as RFC 8785 requires.

struct DoubleCase {
  double value;
  const char* expected;  // `String(value)` in node v20
};

TEST(AppendDoubleTest, MatchesEcmaScriptNumberToString) {
  // Every expectation was produced with `node -e 'console.log(String(v))'`.
  const DoubleCase kCases[] = {
      {1, "1"},
      {0.1, "0.1"},
      {1e21, "1e+21"},
      {1e-7, "1e-7"},
      {123456789.123, "123456789.123"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {-0.0, "0"},
      {0.0, "0"},
      {100, "100"},
      {1e20, "100000000000000000000"},
      {0.000001, "0.000001"},
      {1.5e-6, "0.0000015"},
      {-1.5, "-1.5"},
      {0.5, "0.5"},
      {123e-20, "1.23e-18"},
      {1.0000001e-6, "0.0000010000001"},
      {123456789012345680000.0, "123456789012345680000"},
      {1.2345678901234567e21, "1.2345678901234568e+21"},
      {9007199254740992.0, "9007199254740992"},
      {9007199254740994.0, "9007199254740994"},
      {0.3, "0.3"},
      {0.1 + 0.2, "0.30000000000000004"},
      {-1e-7, "-1e-7"},
      {-1e21, "-1e+21"},
      {4.35, "4.35"},
      {1.0 / 3.0, "0.3333333333333333"},
      {2.0 / 3.0, "0.6666666666666666"},
      {1e300, "1e+300"},
      {2.5e-5, "0.000025"},
      {1e23, "1e+23"},
      {5e-7, "5e-7"},
      {299792458, "299792458"},
      {-273.15, "-273.15"},
      {0.000123, "0.000123"},
      {1e6, "1000000"},
      {123456789, "123456789"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.expected);
    EXPECT_EQ(Double(c.value), c.expected);
  }
}

TEST(AppendDoubleTest, AppendsToExistingText) {
  std::string out = "[";
  AppendDouble(&out, 2.5);
  EXPECT_EQ(out, "[2.5");
}

// ---------------------------------------------------------------------------------------------
// AppendRounded4: CONTRACT §4, half away from zero to 4 decimals, of the double's exact value.

struct RoundedCase {
  double value;
  const char* expected;  // `String(Number(v.toFixed(4)))` in node v20 (-0 printed as 0)
};

TEST(AppendRounded4Test, RoundsTheExactValueHalfAwayFromZero) {
  const RoundedCase kCases[] = {
      // Exact binary ties go away from zero.
      {1.03125, "1.0313"},
      {-1.03125, "-1.0313"},
      {0.03125, "0.0313"},
      {-0.03125, "-0.0313"},
      {0.5, "0.5"},
      {1.5, "1.5"},
      // The double of 0.00005 is 0.0000500000000000000024: above the tie.
      {0.00005, "0.0001"},
      {-0.00005, "-0.0001"},
      // The double of 2.00005 is 2.0000499999999998835: below the tie, although 2.00005 * 10000
      // rounds to exactly 20000.5 in double arithmetic.
      {2.00005, "2"},
      {-2.00005, "-2"},
      {0.33335, "0.3333"},
      {26.49665, "26.4966"},
      {99.99995, "99.9999"},
      {123.45675, "123.4567"},
      {7.15945, "7.1594"},
      {4.00625, "4.0062"},
      {12345.67895, "12345.6789"},
      // Above the tie.
      {-1.23455, "-1.2346"},
      {1.23455, "1.2346"},
      {3.00015, "3.0002"},
      {0.99995, "1"},
      {-0.99995, "-1"},
      {0.0009765625, "0.001"},
      // Ordinary values; results print without trailing zeros or binary noise.
      {0.1 + 0.2, "0.3"},
      {2.0 / 3.0, "0.6667"},
      {-2.0 / 3.0, "-0.6667"},
      {1.0 / 3.0, "0.3333"},
      {0.00004999, "0"},
      {-0.00001, "0"},  // -0 prints as 0
      {1e-10, "0"},
      {0, "0"},
      {1e15, "1000000000000000"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.expected);
    EXPECT_EQ(Rounded4(c.value), c.expected);
  }
}

TEST(AppendRounded4Test, RoundsEveryNearTieByTheExactProduct) {
  // k/10000 + 0.00005 for k in a range: every one is a decimal tie whose double lies a little
  // above or below it, so each exercises the exact-product correction one way or the other.
  // Expected: the exact product v * 10000 computed in long double (10000 = 16 * 625 adds 10
  // significant bits to the 53 of a double, and x86-64's long double holds 64), rounded half
  // away from zero by hand.
  if (std::numeric_limits<long double>::digits < 63) {
    GTEST_SKIP() << "long double cannot hold the exact product on this platform";
  }
  int checked = 0;
  for (int k = -20000; k <= 20000; ++k) {
    double v = (k + 0.5) / 10000.0;
    long double exact = static_cast<long double>(v) * 10000.0L;
    long double floor_part = std::floor(exact);
    long double frac = exact - floor_part;
    long double rounded;
    if (frac > 0.5L) {
      rounded = floor_part + 1;
    } else if (frac < 0.5L) {
      rounded = floor_part;
    } else {
      rounded = exact > 0 ? floor_part + 1 : floor_part;  // away from zero
    }
    std::string expected;
    AppendDouble(&expected, static_cast<double>(rounded) / 10000.0);
    ASSERT_EQ(Rounded4(v), expected) << "k=" << k;
    ++checked;
  }
  EXPECT_EQ(checked, 40001);
}

// ---------------------------------------------------------------------------------------------
// AppendString, AppendInt, AppendUint, Hex.

TEST(AppendStringTest, EscapesOnlyQuoteBackslashAndControlCharacters) {
  EXPECT_EQ(Quoted(""), R"("")");
  EXPECT_EQ(Quoted("plain"), R"("plain")");
  EXPECT_EQ(Quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quoted("a/b"), R"("a/b")");  // `/` is not escaped
  EXPECT_EQ(Quoted("\b\t\n\f\r"), R"("\b\t\n\f\r")");
  EXPECT_EQ(Quoted(std::string_view("\0", 1)), R"("\u0000")");
  EXPECT_EQ(Quoted("\x01\x0b\x0e\x1f"), R"("\u0001\u000b\u000e\u001f")");  // lowercase hex
  EXPECT_EQ(Quoted("\x7f"), "\"\x7f\"");                                   // DEL is not
  EXPECT_EQ(Quoted("caf\xc3\xa9 \xe6\x9d\x8e \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe6\x9d\x8e \xf0\x9f\x98\x80\"");  // non-ASCII raw
  EXPECT_EQ(Quoted("\xe2\x80\xa8"), "\"\xe2\x80\xa8\"");       // U+2028 raw, as JCS does
}

TEST(AppendStringTest, EscapesEveryControlCharacter) {
  for (int c = 0; c < 0x20; ++c) {
    std::string s(1, static_cast<char>(c));
    std::string q = Quoted(s);
    SCOPED_TRACE(c);
    ASSERT_GE(q.size(), 4u);
    EXPECT_EQ(q[1], '\\');
    std::string round_trip;
    Reader r(q);
    ASSERT_TRUE(r.ReadString(&round_trip)) << r.error();
    EXPECT_EQ(round_trip, s);
  }
}

TEST(AppendStringTest, EscapesEveryByteValueAtEveryPositionOfALongString) {
  // AppendString skips eight bytes at a time; this checks every byte value at every offset of
  // 8-byte words against a byte-at-a-time reference.
  auto reference = [](std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c >= 0x20) {
        out.push_back(static_cast<char>(c));
      } else {
        static const char* const kShort[] = {"\\b", "\\t", "\\n", nullptr, "\\f", "\\r"};
        if (c >= 8 && c <= 13 && kShort[c - 8] != nullptr) {
          out.append(kShort[c - 8]);
        } else {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out.append(buf);
        }
      }
    }
    return out + "\"";
  };
  for (int c = 0; c < 256; ++c) {
    for (size_t at = 0; at < 19; ++at) {
      std::string s(19, 'a');
      s[at] = static_cast<char>(c);
      s[18 - at] = static_cast<char>(0xc3);  // a UTF-8 lead byte elsewhere
      ASSERT_EQ(Quoted(s), reference(s)) << "byte " << c << " at " << at;
    }
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(Quoted(all + all), reference(all + all));
}

TEST(AppendIntTest, RendersInt64AndUint64Extremes) {
  std::string out;
  AppendInt(&out, std::numeric_limits<int64_t>::min());
  out.push_back(' ');
  AppendInt(&out, std::numeric_limits<int64_t>::max());
  out.push_back(' ');
  AppendInt(&out, 0);
  out.push_back(' ');
  AppendUint(&out, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(out, "-9223372036854775808 9223372036854775807 0 18446744073709551615");
}

TEST(HexTest, LowercaseTwoDigitsPerByte) {
  EXPECT_EQ(Hex(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(Hex(""), "");
  std::string out = "x";
  AppendHex(&out, "\x10");
  EXPECT_EQ(out, "x10");
}

// ---------------------------------------------------------------------------------------------
// Utf16Less and CodePoints.

TEST(Utf16LessTest, OrdersAsciiBytewiseWithPrefixesFirst) {
  EXPECT_TRUE(Utf16Less("a", "b"));
  EXPECT_FALSE(Utf16Less("b", "a"));
  EXPECT_TRUE(Utf16Less("a", "ab"));
  EXPECT_FALSE(Utf16Less("ab", "a"));
  EXPECT_TRUE(Utf16Less("", "a"));
  EXPECT_FALSE(Utf16Less("", ""));
  EXPECT_FALSE(Utf16Less("same", "same"));
  EXPECT_TRUE(Utf16Less("B", "a"));  // uppercase sorts first
  EXPECT_TRUE(Utf16Less("z", "\xc3\xa9"));
}

TEST(Utf16LessTest, SupplementaryPlaneSortsBeforeHalfwidthIdeographicFullStop) {
  const std::string emoji = "\xf0\x9f\x98\x80";  // U+1F600, UTF-16 D83D DE00
  const std::string ff61 = "\xef\xbd\xa1";       // U+FF61
  EXPECT_TRUE(Utf16Less(emoji, ff61));
  EXPECT_FALSE(Utf16Less(ff61, emoji));
  EXPECT_GT(emoji, ff61);  // bytewise (UTF-8, code point) order is the other way round
}

TEST(Utf16LessTest, ComparesSurrogatePairsByBothUnits) {
  EXPECT_TRUE(Utf16Less("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x81"));  // U+1F600 < U+1F601
  EXPECT_FALSE(Utf16Less("\xf0\x9f\x98\x81", "\xf0\x9f\x98\x80"));
  EXPECT_TRUE(Utf16Less("\xf0\x90\x80\x80", "\xf0\x9f\x98\x80"));  // U+10000 < U+1F600
  EXPECT_FALSE(Utf16Less("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"));
  EXPECT_TRUE(Utf16Less("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80x"));
  EXPECT_TRUE(Utf16Less("\xed\x9f\xbf", "\xf0\x90\x80\x80"));  // U+D7FF < U+10000 (D800 DC00)
}

TEST(Utf16LessTest, SortsTheRfc8785Example) {
  // RFC 8785 §3.2.3: the property names of the sorting example, in their required order.
  std::vector<std::string> keys = {
      "\xe2\x82\xac",      // U+20AC
      "\r",                // U+000D
      "\xef\xac\xb3",      // U+FB33
      "1",                 // U+0031
      "\xf0\x9f\x98\x80",  // U+1F600
      "\xc2\x80",          // U+0080
      "\xc3\xb6",          // U+00F6
  };
  std::sort(keys.begin(), keys.end(), Utf16Less);
  EXPECT_THAT(keys, ElementsAre("\r", "1", "\xc2\x80", "\xc3\xb6", "\xe2\x82\xac",
                                "\xf0\x9f\x98\x80", "\xef\xac\xb3"));
}

TEST(CodePointsTest, CountsCharactersNotBytes) {
  EXPECT_EQ(CodePoints(""), 0u);
  EXPECT_EQ(CodePoints("abc"), 3u);
  EXPECT_EQ(CodePoints("\xc3\xa9"), 1u);
  EXPECT_EQ(CodePoints("\xe6\x9d\x8e"), 1u);
  EXPECT_EQ(CodePoints("\xf0\x9f\x98\x80"), 1u);
  EXPECT_EQ(CodePoints("a\xc3\xa9\xe6\x9d\x8e\xf0\x9f\x98\x80"), 4u);
}

// ---------------------------------------------------------------------------------------------
// Reader.

// Whether `text` is exactly one valid JSON text.
bool Valid(std::string_view text) {
  Reader r(text);
  return r.SkipValue(nullptr) && r.AtEnd();
}

// Decodes one JSON string literal; false when invalid.
bool DecodeString(std::string_view text, std::string* out) {
  Reader r(text);
  return r.ReadString(out) && r.AtEnd();
}

TEST(ReaderTest, AcceptsValidJsonTexts) {
  for (std::string_view text : {
           "0",
           "-0",
           "10",
           "-10",
           "0.5",
           "-0.5",
           "1e5",
           "1E5",
           "1e+5",
           "1e-5",
           "1.5E-10",
           R"("")",
           R"("x")",
           "true",
           "false",
           "null",
           "{}",
           "[]",
           " \t\r\n[ 1 , 2 ] \n",
           R"({"a":1,"b":[true,false,null],"c":{"d":"e"}})",
           R"([{}, [], "", 0])",
           "\"\x7f\"",  // DEL is not a control character for JSON
       }) {
    EXPECT_TRUE(Valid(text)) << text;
  }
}

TEST(ReaderTest, RejectsInvalidJsonTexts) {
  for (std::string_view text : {
           "",
           " ",
           "01",
           "-01",
           "00",
           "1.",
           ".5",
           "+1",
           "1e",
           "1e+",
           "-",
           "0x10",
           "NaN",
           "Infinity",
           "tru",
           "nul",
           "True",
           "NULL",
           "[1,]",
           "[,1]",
           "[1,,2]",
           "[1 2]",
           "{,}",
           R"({"a":1,})",
           R"({"a" 1})",
           R"({a:1})",
           "{'a':1}",
           "[1]]",
           "[1] x",
           "{} {}",
           "[",
           "{",
           R"({"a":)",
           R"("abc)",
           "\f[1]",
           "\v[1]",
           "/*c*/1",
           "\xef\xbb\xbf{}",  // a BOM is not whitespace
           "\xc2\xa0[1]",     // nor is U+00A0
       }) {
    EXPECT_FALSE(Valid(text)) << "\"" << text << "\"";
  }
}

TEST(ReaderTest, RejectsControlCharactersInStrings) {
  std::string out;
  for (int c = 0; c < 0x20; ++c) {
    std::string text = "\"a";
    text.push_back(static_cast<char>(c));
    text.append("b\"");
    EXPECT_FALSE(DecodeString(text, &out)) << "control character " << c;
  }
}

TEST(ReaderTest, DecodesEscapes) {
  std::string out;
  ASSERT_TRUE(DecodeString(R"("\/")", &out));
  EXPECT_EQ(out, "/");
  ASSERT_TRUE(DecodeString(R"("\"\\\b\f\n\r\t")", &out));
  EXPECT_EQ(out, "\"\\\b\f\n\r\t");
  ASSERT_TRUE(DecodeString(R"("\u0041\u00e9\u00E9\u674e")", &out));
  EXPECT_EQ(out, "A\xc3\xa9\xc3\xa9\xe6\x9d\x8e");
  ASSERT_TRUE(DecodeString(R"("\u0000")", &out));
  EXPECT_EQ(out, std::string("\0", 1));
  ASSERT_TRUE(DecodeString(R"("a\u0062c")", &out));
  EXPECT_EQ(out, "abc");
}

TEST(ReaderTest, DecodesSurrogatePairsToUtf8) {
  std::string out;
  ASSERT_TRUE(DecodeString(R"("\ud83d\ude00")", &out));
  EXPECT_EQ(out, "\xf0\x9f\x98\x80");  // U+1F600
  ASSERT_TRUE(DecodeString(R"("\uD83D\uDE00")", &out));
  EXPECT_EQ(out, "\xf0\x9f\x98\x80");
  ASSERT_TRUE(DecodeString(R"("\ud800\udc00")", &out));
  EXPECT_EQ(out, "\xf0\x90\x80\x80");  // U+10000
  ASSERT_TRUE(DecodeString(R"("\udbff\udfff")", &out));
  EXPECT_EQ(out, "\xf4\x8f\xbf\xbf");  // U+10FFFF
  ASSERT_TRUE(DecodeString(R"("x\ud83d\ude00y")", &out));
  EXPECT_EQ(out, "x\xf0\x9f\x98\x80y");
}

TEST(ReaderTest, RejectsBadEscapesAndLoneSurrogates) {
  std::string out;
  for (std::string_view text : {
           R"("\x41")", R"("\U0041")", R"("\'")", R"("\a")", R"("\u12")", R"("\u12g4")",
           R"("\ud83d")",        // lone high surrogate at the end
           R"("\ud83dx")",       // followed by a plain character
           R"("\ud83d\u0041")",  // followed by a non-surrogate escape
           R"("\ud83d\ud83d")",  // followed by another high surrogate
           R"("\ude00")",        // lone low surrogate
           R"("\ude00\ud83d")",  // a pair in the wrong order
           R"("\)",              // unterminated escape
       }) {
    EXPECT_FALSE(DecodeString(text, &out)) << text;
  }
}

TEST(ReaderTest, AcceptsValidUtf8AndRejectsInvalidUtf8) {
  std::string out;
  ASSERT_TRUE(DecodeString("\"caf\xc3\xa9 \xe6\x9d\x8e \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"", &out));
  EXPECT_EQ(out, "caf\xc3\xa9 \xe6\x9d\x8e \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
  for (std::string_view text : {
           "\"\x80\"",              // lone continuation byte
           "\"\xc0\xaf\"",          // overlong '/'
           "\"\xc1\xbf\"",          // overlong
           "\"\xe0\x80\xaf\"",      // overlong, 3 bytes
           "\"\xf0\x80\x80\xaf\"",  // overlong, 4 bytes
           "\"\xed\xa0\x80\"",      // UTF-8-encoded surrogate U+D800
           "\"\xed\xbf\xbf\"",      // UTF-8-encoded surrogate U+DFFF
           "\"\xf4\x90\x80\x80\"",  // U+110000
           "\"\xf5\x80\x80\x80\"",  // invalid lead byte
           "\"\xff\"",              // invalid byte
           "\"\xe6\x9d\"",          // truncated sequence before the quote
           "\"\xc3\"",              // truncated sequence before the quote
           "\"\xe6\x9d",            // truncated at the end of input
       }) {
    EXPECT_FALSE(DecodeString(text, &out)) << ::testing::PrintToString(std::string(text));
  }
}

TEST(ReaderTest, ReadInt64AcceptsTheWholeRangeOnly) {
  struct Case {
    std::string_view text;
    bool ok;
    int64_t value;
  };
  const Case kCases[] = {
      {"0", true, 0},
      {"-0", true, 0},
      {"42", true, 42},
      {"9223372036854775807", true, std::numeric_limits<int64_t>::max()},
      {"-9223372036854775808", true, std::numeric_limits<int64_t>::min()},
      {"9223372036854775808", false, 0},
      {"-9223372036854775809", false, 0},
      {"99999999999999999999", false, 0},
      {"1.0", false, 0},
      {"1e2", false, 0},
      {"1E2", false, 0},
      {"0.5", false, 0},
      {"01", false, 0},
      {"\"1\"", false, 0},
      {"true", false, 0},
  };
  for (const auto& c : kCases) {
    Reader r(c.text);
    int64_t v = -1;
    EXPECT_EQ(r.ReadInt64(&v), c.ok) << c.text;
    if (c.ok) {
      EXPECT_EQ(v, c.value) << c.text;
    } else {
      EXPECT_FALSE(r.error().empty()) << c.text;
    }
  }
}

TEST(ReaderTest, ReadDoubleRequiresAFiniteNumber) {
  double v = 0;
  EXPECT_TRUE(Reader("1.5e3").ReadDouble(&v));
  EXPECT_EQ(v, 1500.0);
  EXPECT_TRUE(Reader("-0.25").ReadDouble(&v));
  EXPECT_EQ(v, -0.25);
  EXPECT_TRUE(Reader("7").ReadDouble(&v));
  EXPECT_EQ(v, 7.0);
  EXPECT_FALSE(Reader("1e400").ReadDouble(&v));
  EXPECT_FALSE(Reader("-1e400").ReadDouble(&v));
  EXPECT_FALSE(Reader("\"1\"").ReadDouble(&v));
  EXPECT_FALSE(Reader("1.").ReadDouble(&v));
}

TEST(ReaderTest, IteratesObjectsAndArrays) {
  Reader r(R"( {"a": [1, 2], "b": {}, "c": "x"} )");
  ASSERT_EQ(r.Peek(), Reader::Type::kObject);
  ASSERT_TRUE(r.BeginObject());
  std::string key;
  bool done = true;
  std::vector<std::string> keys;
  std::vector<int64_t> numbers;

  ASSERT_TRUE(r.NextMember(&key, &done));
  ASSERT_FALSE(done);
  keys.push_back(key);
  ASSERT_EQ(r.Peek(), Reader::Type::kArray);
  ASSERT_TRUE(r.BeginArray());
  while (true) {
    ASSERT_TRUE(r.NextElement(&done)) << r.error();
    if (done) break;
    int64_t v;
    ASSERT_TRUE(r.ReadInt64(&v));
    numbers.push_back(v);
  }

  ASSERT_TRUE(r.NextMember(&key, &done));
  ASSERT_FALSE(done);
  keys.push_back(key);
  std::string_view raw;
  ASSERT_TRUE(r.SkipValue(&raw));
  EXPECT_EQ(raw, "{}");

  ASSERT_TRUE(r.NextMember(&key, &done));
  ASSERT_FALSE(done);
  keys.push_back(key);
  std::string s;
  ASSERT_TRUE(r.ReadString(&s));
  EXPECT_EQ(s, "x");

  ASSERT_TRUE(r.NextMember(&key, &done));
  EXPECT_TRUE(done);
  EXPECT_TRUE(r.AtEnd());
  EXPECT_THAT(keys, ElementsAre("a", "b", "c"));
  EXPECT_THAT(numbers, ElementsAre(1, 2));
}

TEST(ReaderTest, ReportsTrailingCommasWhileIterating) {
  Reader object(R"({"a":1,})");
  std::string key;
  bool done;
  ASSERT_TRUE(object.BeginObject());
  ASSERT_TRUE(object.NextMember(&key, &done));
  ASSERT_TRUE(object.SkipValue(nullptr));
  EXPECT_FALSE(object.NextMember(&key, &done));
  EXPECT_THAT(object.error(), ::testing::HasSubstr("trailing comma"));

  Reader array("[1,]");
  ASSERT_TRUE(array.BeginArray());
  ASSERT_TRUE(array.NextElement(&done));
  ASSERT_TRUE(array.SkipValue(nullptr));
  EXPECT_FALSE(array.NextElement(&done));
  EXPECT_THAT(array.error(), ::testing::HasSubstr("trailing comma"));
}

TEST(ReaderTest, SkipValueReturnsTheRawText) {
  Reader r(R"(  {"k": [1, "two", {"x": null}]}  )");
  std::string_view raw;
  ASSERT_TRUE(r.SkipValue(&raw));
  EXPECT_EQ(raw, R"({"k": [1, "two", {"x": null}]})");
  EXPECT_TRUE(r.AtEnd());
}

TEST(ReaderTest, LimitsNestingDepth) {
  EXPECT_TRUE(Valid(std::string(10, '[') + std::string(10, ']')));
  EXPECT_FALSE(Valid(std::string(1000, '[') + std::string(1000, ']')));
  EXPECT_FALSE(Valid(std::string(100000, '[')));  // must not overflow the stack
}

TEST(ReaderTest, PeekClassifiesWithoutConsuming) {
  EXPECT_EQ(Reader(" {").Peek(), Reader::Type::kObject);
  EXPECT_EQ(Reader("[").Peek(), Reader::Type::kArray);
  EXPECT_EQ(Reader("\"").Peek(), Reader::Type::kString);
  EXPECT_EQ(Reader("-1").Peek(), Reader::Type::kNumber);
  EXPECT_EQ(Reader("7").Peek(), Reader::Type::kNumber);
  EXPECT_EQ(Reader("true").Peek(), Reader::Type::kBool);
  EXPECT_EQ(Reader("false").Peek(), Reader::Type::kBool);
  EXPECT_EQ(Reader("null").Peek(), Reader::Type::kNull);
  EXPECT_EQ(Reader("").Peek(), Reader::Type::kInvalid);
  EXPECT_EQ(Reader("x").Peek(), Reader::Type::kInvalid);
  Reader r("  42");
  r.Peek();
  int64_t v;
  ASSERT_TRUE(r.ReadInt64(&v));
  EXPECT_EQ(v, 42);
}

}  // namespace
}  // namespace rapport::ledger::json
