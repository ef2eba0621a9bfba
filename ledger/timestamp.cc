#include "ledger/timestamp.h"

#include <array>
#include <chrono>
#include <cstring>

namespace rapport::ledger {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Min/max instants: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
const int64_t kMinMicros = DaysFromCivil(1, 1, 1) * kMicrosPerDay;
const int64_t kMaxMicros = DaysFromCivil(10000, 1, 1) * kMicrosPerDay - 1;

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::optional<Timestamp> Bad(std::string* why, const char* message) {
  if (why != nullptr) *why = message;
  return std::nullopt;
}

// "00" to "99", so that a timestamp is written two digits at a time into a buffer and appended
// once: formatting by push_back was 7 % of the projection runner's instructions (rendering).
constexpr std::array<char, 200> kDigitPairs = [] {
  std::array<char, 200> pairs{};
  for (int i = 0; i < 100; ++i) {
    pairs[2 * i] = static_cast<char>('0' + i / 10);
    pairs[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}();

void Put2(char* at, unsigned v) { std::memcpy(at, &kDigitPairs[2 * v], 2); }

}  // namespace

std::optional<Timestamp> ParseRfc3339(std::string_view s, std::string* why) {
  const char* kFormat = "must be an RFC 3339 timestamp such as 2026-11-20T10:15:00Z";
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return Bad(why, kFormat);
  }
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > DaysInMonth(year, static_cast<unsigned>(month))) {
    return Bad(why, "has no such date");
  }
  if (hour > 23 || minute > 59 || second > 59) return Bad(why, "has no such time of day");
  size_t pos = 19;
  int64_t fraction = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) {
        fraction += (s[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
    }
    if (pos == start) return Bad(why, kFormat);
  }
  int64_t offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om)) {
      return Bad(why, kFormat);
    }
    if (oh > 23 || om > 59) return Bad(why, "has an invalid UTC offset");
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return Bad(why, "must end in Z or a UTC offset such as +08:00");
  }
  if (pos != s.size()) return Bad(why, kFormat);

  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  int64_t micros = secs * kMicrosPerSecond + fraction;
  if (micros < kMinMicros || micros > kMaxMicros) {
    return Bad(why, "is outside the years 0001-9999 in UTC");
  }
  return Timestamp{micros};
}

void AppendTimestamp(std::string* out, Timestamp t) {
  int64_t days =
      t.micros >= 0 ? t.micros / kMicrosPerDay : -((-t.micros + kMicrosPerDay - 1) / kMicrosPerDay);
  int64_t rem = t.micros - days * kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const auto year = static_cast<unsigned>(y);  // 1..9999 (kMinMicros..kMaxMicros)
  const auto secs = static_cast<unsigned>(rem / kMicrosPerSecond);
  const auto micros = static_cast<unsigned>(rem % kMicrosPerSecond);
  char buf[27];  // YYYY-MM-DDTHH:MM:SS.ffffffZ
  Put2(buf, year / 100 % 100);
  Put2(buf + 2, year % 100);
  buf[4] = '-';
  Put2(buf + 5, m);
  buf[7] = '-';
  Put2(buf + 8, d);
  buf[10] = 'T';
  Put2(buf + 11, secs / 3600);
  buf[13] = ':';
  Put2(buf + 14, secs / 60 % 60);
  buf[16] = ':';
  Put2(buf + 17, secs % 60);
  size_t n = 19;
  if (micros != 0) {
    buf[19] = '.';
    Put2(buf + 20, micros / 10000);
    Put2(buf + 22, micros / 100 % 100);
    Put2(buf + 24, micros % 100);
    n = 26;
  }
  buf[n++] = 'Z';
  out->append(buf, n);
}

std::string FormatTimestamp(Timestamp t) {
  std::string out;
  out.reserve(27);
  AppendTimestamp(&out, t);
  return out;
}

Timestamp Now() {
  auto d = std::chrono::system_clock::now().time_since_epoch();
  return Timestamp{std::chrono::duration_cast<std::chrono::microseconds>(d).count()};
}

}  // namespace rapport::ledger
