// Strong types for the ledger's ids and positions, so that a seq is never passed as a position.
#ifndef RAPPORT_LEDGER_TYPES_H_
#define RAPPORT_LEDGER_TYPES_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace rapport::ledger {

// A value of type T that only compares and converts explicitly. Tag makes each use distinct.
template <typename T, typename Tag>
class NamedType {
 public:
  using ValueType = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T value) : value_(std::move(value)) {}
  constexpr const T& value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const NamedType& v) {
    return H::combine(std::move(h), v.value_);
  }

 private:
  T value_{};
};

// 0-based ledger partition (CONTRACT §3).
using PartitionId = NamedType<uint32_t, struct PartitionIdTag>;
// 1-based, gap-free index in a partition's ledger; 0 means "before the first record".
using Position = NamedType<uint64_t, struct PositionTag>;
// 1-based index in a customer's stream; 0 means "no event yet".
using Seq = NamedType<uint64_t, struct SeqTag>;
// An offset in a Kafka partition.
using KafkaOffset = NamedType<int64_t, struct KafkaOffsetTag>;
// A customer id: 1–128 printable ASCII characters (CONTRACT §1).
using CustomerId = NamedType<std::string, struct CustomerIdTag>;

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_TYPES_H_
