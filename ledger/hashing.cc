#include "ledger/hashing.h"

// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, but EVP contexts cannot be
// copied cheaply and add a dispatch that costs more than hashing 64 bytes; both end in the same
// SHA-NI/AVX code.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

namespace rapport::ledger {

static_assert(sizeof(SHA256_CTX) <= 112, "Sha256Hasher::ctx_ too small");

Sha256Hasher::Sha256Hasher() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(ctx_)); }

void Sha256Hasher::Update(std::string_view data) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(ctx_), data.data(), data.size());
}

Digest Sha256Hasher::Finish() const {
  SHA256_CTX copy;
  std::memcpy(&copy, ctx_, sizeof(copy));
  Digest d;
  SHA256_Final(d.data(), &copy);
  return d;
}

Digest Sha256(std::string_view data) { return Sha256Parts({data}); }

Digest Sha256Parts(std::initializer_list<std::string_view> parts) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (std::string_view p : parts) SHA256_Update(&ctx, p.data(), p.size());
  Digest d;
  SHA256_Final(d.data(), &ctx);
  return d;
}

Digest ChainHash(const Digest& previous, const Digest& record_digest) {
  return Sha256Parts({AsBytes(previous), AsBytes(record_digest)});
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
    case 3:
      h ^= static_cast<uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(tail[1]) << 8;
      [[fallthrough]];
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
