#include "ledger/hashing.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

namespace rapport::ledger {
namespace {

// OpenSSL 3's one-shot SHA256() fetches the algorithm on every call (a third of the cost for a
// 64-byte input); fetch it once and keep one context per thread.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) std::abort();  // OpenSSL without SHA-256 cannot run a ledger
    return m;
  }();
  return md;
}

struct Context {
  Context() : ctx(EVP_MD_CTX_new()) {}
  ~Context() { EVP_MD_CTX_free(ctx); }
  EVP_MD_CTX* ctx;
};

Digest Hash(std::initializer_list<std::string_view> parts) {
  thread_local Context context;
  unsigned int len = 0;
  Digest d;
  bool ok = EVP_DigestInit_ex2(context.ctx, Sha256Md(), nullptr) == 1;
  for (std::string_view p : parts) ok = ok && EVP_DigestUpdate(context.ctx, p.data(), p.size()) == 1;
  if (!ok || EVP_DigestFinal_ex(context.ctx, d.data(), &len) != 1) std::abort();
  return d;
}

}  // namespace

Digest Sha256(std::string_view data) { return Hash({data}); }

Digest Sha256Parts(std::initializer_list<std::string_view> parts) { return Hash(parts); }

Digest ChainHash(const Digest& previous, const Digest& record_digest) {
  return Hash({AsBytes(previous), AsBytes(record_digest)});
}

uint32_t Murmur2(std::string_view data) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t length = data.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  size_t blocks = length / 4;
  for (size_t i = 0; i < blocks; ++i) {
    uint32_t k = static_cast<uint32_t>(p[4 * i]) | static_cast<uint32_t>(p[4 * i + 1]) << 8 |
                 static_cast<uint32_t>(p[4 * i + 2]) << 16 |
                 static_cast<uint32_t>(p[4 * i + 3]) << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const unsigned char* tail = p + blocks * 4;
  switch (length & 3) {
    case 3: h ^= static_cast<uint32_t>(tail[2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(tail[1]) << 8; [[fallthrough]];
    case 1:
      h ^= tail[0];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

uint32_t PartitionFor(std::string_view customer_id, uint32_t partitions) {
  return (Murmur2(customer_id) & 0x7fffffff) % partitions;
}

}  // namespace rapport::ledger
