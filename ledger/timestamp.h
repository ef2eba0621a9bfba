// Event and record times: microseconds since the Unix epoch, UTC, parsed from and rendered as
// RFC 3339 (CONTRACT §1, §4).
#ifndef RAPPORT_LEDGER_TIMESTAMP_H_
#define RAPPORT_LEDGER_TIMESTAMP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rapport::ledger {

struct Timestamp {
  int64_t micros = 0;  // since 1970-01-01T00:00:00Z
  auto operator<=>(const Timestamp&) const = default;
};

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// Parses RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`: `T`/`t` and `Z`/`z` accepted, the
// fraction truncated to microseconds, the result a year 0001–9999 in UTC. nullopt when invalid;
// *why (if given) says what is wrong.
std::optional<Timestamp> ParseRfc3339(std::string_view text, std::string* why = nullptr);

// `YYYY-MM-DDTHH:MM:SSZ`, or with `.ffffff` when the microseconds are not zero.
std::string FormatTimestamp(Timestamp t);
void AppendTimestamp(std::string* out, Timestamp t);

// The current wall-clock time.
Timestamp Now();

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_TIMESTAMP_H_
