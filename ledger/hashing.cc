#include "ledger/hashing.h"

#include <openssl/sha.h>

#include <cstring>

namespace rapport::ledger {

Digest Sha256(std::string_view data) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

Digest ChainHash(const Digest& previous, const Digest& record_digest) {
  unsigned char buf[64];
  std::memcpy(buf, previous.data(), 32);
  std::memcpy(buf + 32, record_digest.data(), 32);
  Digest d;
  SHA256(buf, sizeof(buf), d.data());
  return d;
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
