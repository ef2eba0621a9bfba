#include "ledger/identity.h"

#include "ledger/hashing.h"
#include "ledger/json.h"

namespace rapport::ledger {

std::optional<std::string> NormalizeIdentityValue(IdentityKind kind, std::string_view value) {
  std::string out;
  switch (kind) {
    case IdentityKind::kEmail: {
      auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
      };
      while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
      while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
      out.reserve(value.size());
      for (char c : value) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
      break;
    }
    case IdentityKind::kPhone:
      for (char c : value) {
        if (c >= '0' && c <= '9') out.push_back(c);
      }
      break;
    default:
      out.assign(value);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string IdentityKey(const Identity& identity) {
  std::string key(IdentityKindName(identity.kind));
  key.push_back(':');
  key.append(NormalizeIdentityValue(identity.kind, identity.value).value_or(""));
  return key;
}

std::string AnonymousCustomerId(std::string_view identity_key) {
  Digest d = Sha256(identity_key);
  std::string id(kAnonymousPrefix);
  json::AppendHex(&id, std::string_view(reinterpret_cast<const char*>(d.data()), 8));
  return id;
}

}  // namespace rapport::ledger
