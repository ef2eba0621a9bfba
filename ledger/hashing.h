// SHA-256 (CONTRACT §7) and Kafka's murmur2 partitioner (CONTRACT §3).
#ifndef RAPPORT_LEDGER_HASHING_H_
#define RAPPORT_LEDGER_HASHING_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace rapport::ledger {

using Digest = std::array<uint8_t, 32>;
inline constexpr Digest kZeroDigest{};

// An incremental SHA-256 whose state can be copied: the append path hashes the start of a record
// on the caller's thread and finishes it on the commit thread.
class Sha256Hasher {
 public:
  Sha256Hasher();
  void Update(std::string_view data);
  // The digest of everything given so far; the hasher is unchanged and may be updated further.
  Digest Finish() const;

 private:
  alignas(8) unsigned char ctx_[112];  // OpenSSL's SHA256_CTX
};

Digest Sha256(std::string_view data);
// SHA-256 of the concatenation of `parts`, without concatenating them.
Digest Sha256Parts(std::initializer_list<std::string_view> parts);
// SHA-256(a ‖ b) of two digests: one link of a hash chain.
Digest ChainHash(const Digest& previous, const Digest& record_digest);
inline std::string_view AsBytes(const Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

// Kafka's murmur2 (the Java client's Utils.murmur2, librdkafka's rd_murmur2), seed 0x9747b28c.
uint32_t Murmur2(std::string_view data);
// (murmur2(customer_id) & 0x7fffffff) % partitions.
uint32_t PartitionFor(std::string_view customer_id, uint32_t partitions);

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_HASHING_H_
