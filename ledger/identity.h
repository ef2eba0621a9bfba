// Identity normalisation and the ids of anonymous customers (CONTRACT §1).
#ifndef RAPPORT_LEDGER_IDENTITY_H_
#define RAPPORT_LEDGER_IDENTITY_H_

#include <optional>
#include <string>
#include <string_view>

#include "ledger/event.h"

namespace rapport::ledger {

// email: trimmed, ASCII-lowercased; phone: its ASCII digits; other kinds: unchanged. nullopt when
// nothing is left (an email of spaces, a phone without a digit).
std::optional<std::string> NormalizeIdentityValue(IdentityKind kind, std::string_view value);

// `kind + ":" + normalised value`: the identity index key and the input of AnonymousCustomerId.
// `identity` must normalise (validated events always do).
std::string IdentityKey(const Identity& identity);

// "anon-" + the first 16 lowercase hex digits of SHA-256(IdentityKey).
std::string AnonymousCustomerId(std::string_view identity_key);

inline constexpr std::string_view kAnonymousPrefix = "anon-";
inline bool IsAnonymousCustomerId(std::string_view id) { return id.starts_with(kAnonymousPrefix); }

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_IDENTITY_H_
