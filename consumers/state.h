// What the Kafka parts keep in the ledger's RocksDB (column family `kafka`), so that it is
// durable together with — or, for cursors of at-least-once outputs, just behind — what it
// describes: the consumed inbox offsets (written in the same WriteBatch as the events), the
// relay and changelog cursors, and the outbox of rejected messages.
#ifndef RAPPORT_CONSUMERS_STATE_H_
#define RAPPORT_CONSUMERS_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"

namespace rapport::consumers {

inline constexpr char kKafkaCf[] = "kafka";

// Next inbox offset to consume of (topic, partition).
std::string InboxOffsetKey(std::string_view topic, int32_t partition);
// Last ledger position of `partition` confirmed delivered to the ledger topic.
std::string RelayCursorKey(uint32_t partition);
// Last ledger position of `partition` whose projection changes were published for `kind`
// (value: EncodeChangelogCursor).
std::string ChangelogCursorKey(int kind, uint32_t partition);
// One rejected message waiting to be published; ids grow.
std::string RejectKey(uint64_t id);
inline constexpr std::string_view kRejectPrefix = "x";

std::string EncodeU64(uint64_t v);
std::optional<uint64_t> DecodeU64(std::string_view bytes);

// A message for the rejected topic: the original key and value, and the contract's headers.
struct RejectedMessage {
  std::optional<std::string> key;  // nullopt: the original had no key
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};
std::string EncodeRejected(const RejectedMessage& m);
std::optional<RejectedMessage> DecodeRejected(std::string_view bytes);

// Reads and writes the `kafka` column family of a ledger. Thread-safe (RocksDB is).
class ConsumerState {
 public:
  // FailedPrecondition when the ledger was opened without the `kafka` column family.
  static absl::StatusOr<ConsumerState> For(ledger::Ledger* ledger);

  rocksdb::ColumnFamilyHandle* cf() const { return cf_; }
  ledger::Ledger* ledger() const { return ledger_; }

  absl::StatusOr<std::optional<uint64_t>> Get(const std::string& key) const;
  // Not synced: the cursors of at-least-once outputs may fall back a little on a crash.
  absl::Status Put(const std::string& key, const std::string& value);
  absl::Status Delete(const std::string& key);
  // Rejected messages waiting, in id order, at most `limit`.
  absl::StatusOr<std::vector<std::pair<uint64_t, RejectedMessage>>> PendingRejects(
      size_t limit) const;
  // The id after the greatest reject id stored (1 when none).
  absl::StatusOr<uint64_t> NextRejectId() const;

  // Offsets and cursors describe one Kafka cluster. When `cluster_id` differs from the one they
  // were kept for (a new embedded broker, or a move to another cluster), they are dropped so
  // that the inbox reads the new topics from their start and every record and projection is
  // published again; rejected messages still waiting are kept. Sets *changed when it did.
  absl::Status BindToCluster(const std::string& cluster_id, bool* changed);

 private:
  ConsumerState(ledger::Ledger* ledger, rocksdb::ColumnFamilyHandle* cf)
      : ledger_(ledger), cf_(cf) {}
  ledger::Ledger* ledger_;
  rocksdb::ColumnFamilyHandle* cf_;
};

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_STATE_H_
