#include "tools/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <toml++/toml.h>

#include <filesystem>

#include "ledger/strings.h"

namespace rapport::tools {
namespace {

std::array<unsigned char, 32> Sha256(std::string_view text) {
  std::array<unsigned char, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

absl::Status Bad(const std::string& path, std::string_view where, std::string_view why) {
  return absl::InvalidArgumentError(
      AbslView(StrCat("auth.tokens_file ", path, ": ", where, ": ", why)));
}

}  // namespace

std::optional<Role> RoleFromName(std::string_view name) {
  if (name == "publisher") return kRolePublisher;
  if (name == "reader") return kRoleReader;
  if (name == "auditor") return kRoleAuditor;
  if (name == "admin") return kRoleAdmin;
  return std::nullopt;
}

absl::StatusOr<TokenSet> TokenSet::Load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(AbslView(StrCat("auth.tokens_file ", path, ": no such file")));
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    // The message may quote the offending line, which may hold a token: only the position.
    return Bad(path, StrCat("line ", static_cast<int64_t>(e.source().begin.line)),
               "not valid TOML");
  }
  TokenSet set;
  for (const auto& [key, node] : root) {
    if (key.str() != "token")
      return Bad(path, std::string(key.str()), "unknown key (use [[token]])");
  }
  const toml::array* tokens = root["token"].as_array();
  if (tokens == nullptr || tokens->empty()) {
    return Bad(path, "token", "needs at least one [[token]] table");
  }
  for (size_t i = 0; i < tokens->size(); ++i) {
    std::string at = StrCat("token[", i, "]");
    const toml::table* t = (*tokens)[i].as_table();
    if (t == nullptr) return Bad(path, at, "must be a table with name, token and roles");
    Entry entry;
    bool has_token = false;
    for (const auto& [k, v] : *t) {
      std::string field(k.str());
      if (field == "name") {
        auto name = v.value<std::string>();
        if (!name || name->empty())
          return Bad(path, StrCat(at, ".name"), "must be a non-empty string");
        entry.principal.name = *name;
      } else if (field == "token") {
        auto token = v.value<std::string>();
        if (!token || token->size() < 16) {
          return Bad(path, StrCat(at, ".token"), "must be a string of at least 16 characters");
        }
        entry.digest = Sha256(*token);
        has_token = true;
      } else if (field == "roles") {
        const toml::array* roles = v.as_array();
        if (roles == nullptr || roles->empty()) {
          return Bad(path, StrCat(at, ".roles"), "must be a non-empty array of role names");
        }
        for (const auto& r : *roles) {
          auto name = r.value<std::string>();
          auto role = name ? RoleFromName(*name) : std::nullopt;
          if (!role) {
            return Bad(path, StrCat(at, ".roles"),
                       "roles are publisher, reader, auditor and admin");
          }
          entry.principal.roles |= *role;
        }
      } else {
        return Bad(path, StrCat(at, ".", field), "unknown key");
      }
    }
    if (entry.principal.name.empty()) return Bad(path, StrCat(at, ".name"), "required");
    if (!has_token) return Bad(path, StrCat(at, ".token"), "required");
    if (entry.principal.roles == 0) return Bad(path, StrCat(at, ".roles"), "required");
    for (const auto& other : set.entries_) {
      if (CRYPTO_memcmp(other.digest.data(), entry.digest.data(), 32) == 0) {
        return Bad(path, StrCat(at, ".token"), "the same token is listed twice");
      }
    }
    set.entries_.push_back(std::move(entry));
  }
  return set;
}

std::optional<Principal> TokenSet::Authenticate(std::string_view presented) const {
  auto digest = Sha256(presented);
  const Entry* found = nullptr;
  // Every entry is compared, whatever matched, so the time does not depend on which one did.
  for (const auto& e : entries_) {
    bool equal = CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) found = &e;
  }
  if (found == nullptr) return std::nullopt;
  return found->principal;
}

}  // namespace rapport::tools
