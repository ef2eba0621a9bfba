// Bearer tokens and roles for the HTTP API (`auth.tokens_file`; docs in ops/rapport.toml).
#ifndef RAPPORT_TOOLS_AUTH_H_
#define RAPPORT_TOOLS_AUTH_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rapport::tools {

// Roles are bits; `admin` holds every other role.
enum Role : uint8_t {
  kRolePublisher = 1,  // POST /v1/events
  kRoleReader = 2,     // projections and identity lookups
  kRoleAuditor = 4,    // history and the ledger digest
  kRoleAdmin = 8,      // everything
};
std::optional<Role> RoleFromName(std::string_view name);

// Who a token belongs to. Only `name` may appear in logs, never the token.
struct Principal {
  std::string name;
  uint8_t roles = 0;
  bool Has(Role role) const { return (roles & (role | kRoleAdmin)) != 0; }
};

// The tokens of a tokens file. Immutable after Load, so thread-safe. Tokens are kept only as
// SHA-256 digests, and a presented token is compared with every one of them in constant time, so
// neither the memory nor the response time tells anything about a token.
class TokenSet {
 public:
  // The TOML file holds `[[token]]` tables with `name`, `token` (at least 16 characters) and
  // `roles` (publisher, reader, auditor, admin). InvalidArgument naming the entry and key on a
  // bad file; NotFound when it cannot be read.
  static absl::StatusOr<TokenSet> Load(const std::string& path);
  // The principal whose token `presented` is, or nullopt.
  std::optional<Principal> Authenticate(std::string_view presented) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_AUTH_H_
