#include "ledger/json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace rapport::ledger::json {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Length of the UTF-8 sequence starting at p (0 when invalid), per RFC 3629 (no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  auto cont = [&](int i) { return p + i < end && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[1] > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// Decodes one UTF-8 code point (input known valid) and advances *i.
uint32_t DecodeUtf8(std::string_view s, size_t* i) {
  auto c = static_cast<unsigned char>(s[*i]);
  if (c < 0x80) {
    ++*i;
    return c;
  }
  int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  uint32_t cp = c & (0x7F >> n);
  for (int k = 1; k < n && *i + k < s.size(); ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  }
  *i += n;
  return cp;
}

}  // namespace

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char SimpleEscape(char e) {
  switch (e) {
    case '"':
    case '\\':
    case '/':
      return e;
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
  }
}

namespace {

// Whether any of the 8 bytes of `w` is a control character, '"' or '\\' (bit tricks exact for
// that question: bytes >= 0x80, UTF-8's, never count).
bool AnyNeedsEscaping(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t below_space = (w - kOnes * 0x20) & ~w;
  const uint64_t is_quote = (quote - kOnes) & ~quote;
  const uint64_t is_backslash = (backslash - kOnes) & ~backslash;
  return ((below_space | is_quote | is_backslash) & kHighs) != 0;
}

}  // namespace

void AppendString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < s.size();) {
    // Eight bytes at a time while none needs escaping: most text has nothing to escape, and
    // rendering projections is mostly strings.
    if (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!AnyNeedsEscaping(w)) {
        i += 8;
        continue;
      }
    }
    auto c = static_cast<unsigned char>(s[i++]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - 1 - run);
    run = i;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHexDigits[c >> 4]);
        out->push_back(kHexDigits[c & 0xF]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendDouble(std::string* out, double v) {
  if (v == 0) {  // covers -0, which ECMAScript prints as 0
    out->push_back('0');
    return;
  }
  // Shortest round-trip digits in scientific form: d[.ddd]e±XX.
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view sci(buf, r.ptr - buf);
  bool negative = sci[0] == '-';
  if (negative) sci.remove_prefix(1);
  size_t e_pos = sci.find('e');
  std::string digits;
  digits.push_back(sci[0]);
  if (e_pos > 1) digits.append(sci.substr(2, e_pos - 2));
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exponent);
  // ECMAScript: k digits, n = exponent + 1 (position of the decimal point).
  int k = static_cast<int>(digits.size());
  int n = exponent + 1;
  if (negative) out->push_back('-');
  if (k <= n && n <= 21) {
    out->append(digits);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, 0, static_cast<size_t>(n));
    out->push_back('.');
    out->append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits, 1);
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    AppendInt(out, std::abs(n - 1));
  }
}

void AppendRounded4(std::string* out, double v) {
  // Rounds the exact value of `v`, like ECMAScript's toFixed(4). v * 10000 is itself rounded and
  // can land on a .5 tie that the exact product is just short of (2.00005 is 2.0000499999…);
  // fma gives the exact rounding error of the product, whose sign then decides.
  double scaled = v * 10000.0;
  double rounded = std::round(scaled);  // half away from zero
  if (std::fabs(scaled - std::trunc(scaled)) == 0.5) {
    double error = std::fma(v, 10000.0, -scaled);
    if (error != 0 && std::signbit(error) != std::signbit(scaled)) rounded = std::trunc(scaled);
  }
  AppendDouble(out, rounded / 10000.0);
}

void AppendHex(std::string* out, std::string_view bytes) {
  for (unsigned char c : bytes) {
    out->push_back(kHexDigits[c >> 4]);
    out->push_back(kHexDigits[c & 0xF]);
  }
}

std::string Hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  AppendHex(&out, bytes);
  return out;
}

bool Utf16Less(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    auto ca = static_cast<unsigned char>(a[i]);
    auto cb = static_cast<unsigned char>(b[j]);
    if (ca < 0x80 && cb < 0x80) {  // fast path
      if (ca != cb) return ca < cb;
      ++i;
      ++j;
      continue;
    }
    uint32_t x = DecodeUtf8(a, &i);
    uint32_t y = DecodeUtf8(b, &j);
    // Compare the first UTF-16 code unit; equal first units of pairs fall through to the second.
    auto unit = [](uint32_t cp, bool second) -> uint32_t {
      if (cp < 0x10000) return second ? 0 : cp;
      cp -= 0x10000;
      return second ? 0xDC00 + (cp & 0x3FF) : 0xD800 + (cp >> 10);
    };
    if (unit(x, false) != unit(y, false)) return unit(x, false) < unit(y, false);
    if (unit(x, true) != unit(y, true)) return unit(x, true) < unit(y, true);
  }
  return i == a.size() && j < b.size();
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Reader

Reader::Reader(std::string_view text)
    : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

bool Reader::Fail(std::string_view message) {
  if (error_.empty()) error_ = std::string(message);
  return false;
}

void Reader::SkipWs() {
  while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
}

bool Reader::Expect(char c) {
  SkipWs();
  if (p_ < end_ && *p_ == c) {
    ++p_;
    return true;
  }
  if (p_ >= end_) return Fail("unexpected end of input");
  return Fail(std::string("expected '") + c + "'");
}

bool Reader::JustOpened(char c) const {
  const char* q = p_;
  while (q > begin_) {
    char b = *(q - 1);
    if (b == ' ' || b == '\n' || b == '\r' || b == '\t') {
      --q;
      continue;
    }
    return b == c;
  }
  return false;
}

Reader::Type Reader::Peek() {
  SkipWs();
  if (p_ >= end_) return Type::kInvalid;
  switch (*p_) {
    case '{':
      return Type::kObject;
    case '[':
      return Type::kArray;
    case '"':
      return Type::kString;
    case 't':
    case 'f':
      return Type::kBool;
    case 'n':
      return Type::kNull;
    default:
      if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return Type::kNumber;
      return Type::kInvalid;
  }
}

bool Reader::BeginObject() { return Expect('{'); }

bool Reader::NextMember(std::string* key, bool* done) {
  bool first = JustOpened('{');
  SkipWs();
  if (p_ >= end_) return Fail("unexpected end of input in object");
  if (*p_ == '}') {
    ++p_;
    *done = true;
    return true;
  }
  *done = false;
  if (!first) {
    if (*p_ != ',') return Fail("expected ',' or '}' in object");
    ++p_;
    SkipWs();
    if (p_ < end_ && *p_ == '}') return Fail("trailing comma in object");
  }
  if (p_ >= end_) return Fail("unexpected end of input in object");
  if (*p_ != '"') return Fail("expected a string key");
  if (!ReadString(key)) return false;
  return Expect(':');
}

bool Reader::BeginArray() { return Expect('['); }

bool Reader::NextElement(bool* done) {
  bool first = JustOpened('[');
  SkipWs();
  if (p_ >= end_) return Fail("unexpected end of input in array");
  if (*p_ == ']') {
    ++p_;
    *done = true;
    return true;
  }
  *done = false;
  if (!first) {
    if (*p_ != ',') return Fail("expected ',' or ']' in array");
    ++p_;
    SkipWs();
    if (p_ < end_ && *p_ == ']') return Fail("trailing comma in array");
  }
  return true;
}

bool Reader::ReadString(std::string* out) {
  SkipWs();
  if (p_ >= end_ || *p_ != '"') return Fail("expected a string");
  ++p_;
  out->clear();
  const char* run = p_;
  while (true) {
    // Fast scan over plain ASCII.
    while (p_ < end_) {
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++p_;
    }
    if (p_ >= end_) return Fail("unterminated string");
    auto c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      out->append(run, p_);
      ++p_;
      return true;
    }
    if (c < 0x20) return Fail("control character in string");
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p_),
                                    reinterpret_cast<const unsigned char*>(end_));
      if (n == 0) return Fail("invalid UTF-8");
      p_ += n;
      continue;
    }
    // Escape.
    out->append(run, p_);
    ++p_;
    if (p_ >= end_) return Fail("unterminated string");
    char e = *p_++;
    if (char plain = SimpleEscape(e)) {
      out->push_back(plain);
    } else if (e == 'u') {
      auto read4 = [&](uint32_t* v) {
        if (end_ - p_ < 4) return false;
        *v = 0;
        for (int i = 0; i < 4; ++i) {
          int h = HexValue(p_[i]);
          if (h < 0) return false;
          *v = (*v << 4) | static_cast<uint32_t>(h);
        }
        p_ += 4;
        return true;
      };
      uint32_t cp;
      if (!read4(&cp)) return Fail("invalid \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return Fail("lone surrogate");
        p_ += 2;
        if (!read4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return Fail("lone surrogate");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return Fail("lone surrogate");
      }
      AppendUtf8(out, cp);
    } else {
      return Fail("invalid escape in string");
    }
    run = p_;
  }
}

bool Reader::ScanNumber(std::string_view* text, bool* is_integer) {
  SkipWs();
  const char* start = p_;
  *is_integer = true;
  if (p_ < end_ && *p_ == '-') ++p_;
  if (p_ >= end_ || *p_ < '0' || *p_ > '9') return Fail("invalid number");
  if (*p_ == '0') {
    ++p_;
    if (p_ < end_ && *p_ >= '0' && *p_ <= '9') return Fail("invalid number (leading zero)");
  } else {
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
  }
  if (p_ < end_ && *p_ == '.') {
    *is_integer = false;
    ++p_;
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return Fail("invalid number");
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
  }
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    *is_integer = false;
    ++p_;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return Fail("invalid number");
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
  }
  *text = std::string_view(start, static_cast<size_t>(p_ - start));
  return true;
}

bool Reader::ReadInt64(int64_t* out) {
  if (Peek() != Type::kNumber) return Fail("expected an integer");
  std::string_view text;
  bool is_integer;
  if (!ScanNumber(&text, &is_integer)) return false;
  if (!is_integer) return Fail("must be an integer (no fraction or exponent)");
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
    return Fail("integer out of the int64 range");
  }
  return true;
}

bool Reader::ReadDouble(double* out) {
  if (Peek() != Type::kNumber) return Fail("expected a number");
  std::string_view text;
  bool is_integer;
  if (!ScanNumber(&text, &is_integer)) return false;
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (r.ec != std::errc() || !std::isfinite(*out)) return Fail("number out of range");
  return true;
}

bool Reader::ReadBool(bool* out) {
  SkipWs();
  if (end_ - p_ >= 4 && std::memcmp(p_, "true", 4) == 0) {
    p_ += 4;
    *out = true;
    return true;
  }
  if (end_ - p_ >= 5 && std::memcmp(p_, "false", 5) == 0) {
    p_ += 5;
    *out = false;
    return true;
  }
  return Fail("expected true or false");
}

bool Reader::ReadNull() {
  SkipWs();
  if (end_ - p_ >= 4 && std::memcmp(p_, "null", 4) == 0) {
    p_ += 4;
    return true;
  }
  return Fail("expected null");
}

bool Reader::SkipValue(std::string_view* raw) {
  SkipWs();
  const char* start = p_;
  if (!SkipValueDepth(0)) return false;
  if (raw != nullptr) *raw = std::string_view(start, static_cast<size_t>(p_ - start));
  return true;
}

bool Reader::SkipValueDepth(int depth) {
  if (depth > 64) return Fail("nested too deeply");
  std::string scratch;
  switch (Peek()) {
    case Type::kObject: {
      BeginObject();
      bool done = false;
      while (true) {
        if (!NextMember(&scratch, &done)) return false;
        if (done) return true;
        if (!SkipValueDepth(depth + 1)) return false;
      }
    }
    case Type::kArray: {
      BeginArray();
      bool done = false;
      while (true) {
        if (!NextElement(&done)) return false;
        if (done) return true;
        if (!SkipValueDepth(depth + 1)) return false;
      }
    }
    case Type::kString:
      return ReadString(&scratch);
    case Type::kNumber: {
      std::string_view text;
      bool is_integer;
      return ScanNumber(&text, &is_integer);
    }
    case Type::kBool: {
      bool b;
      return ReadBool(&b);
    }
    case Type::kNull:
      return ReadNull();
    case Type::kInvalid:
      break;
  }
  return Fail(p_ >= end_ ? "unexpected end of input" : "invalid JSON value");
}

bool Reader::AtEnd() {
  SkipWs();
  return p_ == end_;
}

}  // namespace rapport::ledger::json
