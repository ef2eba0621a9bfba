// A stored ledger record and the byte layouts of the RocksDB column families (CONTRACT §3, §7).
// The key encodings are public so that tools and tests can address records through RocksDB itself.
#ifndef RAPPORT_LEDGER_RECORD_H_
#define RAPPORT_LEDGER_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/event.h"
#include "ledger/hashing.h"
#include "ledger/timestamp.h"
#include "ledger/types.h"

namespace rapport::ledger {

// Column families.
// One column family of records per partition ("records-0", …): each holds strictly increasing
// keys, so memtable inserts are appends and flushed files never overlap (no compaction rewrites).
inline constexpr char kRecordsCfPrefix[] = "records-";  // partition ‖ position → LedgerRecord
inline constexpr char kCustomersCf[] = "customers";  // customer ‖ 0x00 ‖ seq → CustomerIndexEntry
inline constexpr char kEventIdsCf[] = "event_ids";  // event_id → partition ‖ position ‖ digest
inline constexpr char kIdentitiesCf[] = "identities";  // kind ":" normalised value → customer
inline constexpr char kHeadsCf[] = "heads";  // 'p' ‖ partition → position ‖ chain hash

std::string RecordsCfName(uint32_t partition);

std::string RecordKey(PartitionId partition, Position position);
bool ParseRecordKey(std::string_view key, PartitionId* partition, Position* position);
std::string CustomerIndexKey(std::string_view customer_id, Seq seq);
// The prefix of every index key of `customer_id`.
std::string CustomerIndexPrefix(std::string_view customer_id);
std::string PartitionHeadKey(PartitionId partition);

// A customer index value: where the record is, when it occurred, and the customer_hash after it,
// so that the last entry of a customer is its stream head.
struct CustomerIndexEntry {
  Position position;
  Timestamp occurred_at;
  Digest customer_hash{};
};
std::string EncodeCustomerIndexEntry(const CustomerIndexEntry& entry);
bool DecodeCustomerIndexEntry(std::string_view bytes, CustomerIndexEntry* entry);

// Big-endian fixed-width integers, so that keys sort numerically.
void PutFixed32BE(std::string* out, uint32_t v);
void PutFixed64BE(std::string* out, uint64_t v);
uint32_t GetFixed32BE(const char* p);
uint64_t GetFixed64BE(const char* p);

// One record, decoded from its FlatBuffers LedgerRecord.
struct StoredRecord {
  PartitionId partition;
  Position position;
  std::string customer_id;
  Seq seq;
  Timestamp recorded_at;
  Timestamp occurred_at;
  std::string event_id;
  Digest chain_hash{};
  Digest customer_hash{};
  // CONTRACT §7 canonical bytes; SHA-256 of these is the record digest.
  std::string canonical;
  // Identity keys ("kind:normalised value") this record linked, in order.
  std::vector<std::string> links;
};

// Encodes `record` as a FlatBuffers LedgerRecord; with `touchpoint` (the record's event, as
// rapport.ledger carries it) the typed Touchpoint is filled in too.
std::string EncodeRecord(const StoredRecord& record, const Event* touchpoint = nullptr);
// The same bytes, in a buffer of the calling thread that the next call on it reuses: for callers
// that copy them at once (into a WriteBatch), without a string of their own.
std::string_view EncodeRecordView(const StoredRecord& record, const Event* touchpoint = nullptr);
// Decodes and verifies a LedgerRecord buffer; DataLoss when it is not one.
absl::StatusOr<StoredRecord> DecodeRecord(std::string_view bytes);

// The members of a stored record that a bulk reader (a projection rebuild) needs, as views into
// the record's bytes rather than copies: valid while those bytes are.
struct RecordView {
  PartitionId partition;
  Position position;
  Seq seq;
  Timestamp occurred_at;
  std::string_view customer_id;
  std::string_view canonical;  // CONTRACT §7 canonical bytes
};
// Verifies a LedgerRecord buffer as DecodeRecord does and views into it. FlatBuffers needs the
// buffer 8-aligned: a misaligned one is copied to `scratch` first, and the views point there.
absl::StatusOr<RecordView> DecodeRecordView(std::string_view bytes, std::string* scratch);
// The views of a decoded record (valid while it is).
RecordView RecordViewOf(const StoredRecord& record);

// The members of a canonical record that sit outside the event.
struct CanonicalEnvelope {
  std::string customer_id;
  std::string event_id;
  int64_t partition = -1;
  int64_t position = -1;
  std::string recorded_at;
  int64_t seq = -1;
  std::string_view event_json;  // points into the canonical bytes
};
// Parses the canonical bytes written by AppendCanonicalRecord; DataLoss when malformed.
absl::StatusOr<CanonicalEnvelope> ParseCanonical(std::string_view canonical);

// The canonical bytes in two parts: everything up to the end of the event (known once the
// customer is), and the members that sequencing assigns.
void AppendCanonicalRecordPrefix(std::string* out, std::string_view customer_id,
                                 std::string_view event_head, std::string_view event_tail);
void AppendCanonicalRecordSuffix(std::string* out, std::string_view event_id, PartitionId partition,
                                 Position position, Timestamp recorded_at, Seq seq);

// Appends the CONTRACT §7 canonical bytes: JCS of {customer_id, event, event_id, partition,
// position, recorded_at, seq} where the event is `head + "customer_id":<id>, + tail`.
void AppendCanonicalRecord(std::string* out, std::string_view customer_id,
                           std::string_view event_head, std::string_view event_tail,
                           std::string_view event_id, PartitionId partition, Position position,
                           Timestamp recorded_at, Seq seq);

// The event as `history` returns it: the accepted event plus seq, partition, position,
// recorded_at, hash and customer_hash (CONTRACT §6).
std::string HistoryEventJson(const StoredRecord& record);

// Values of the event_ids column family: where the first append of an event_id went, and the
// SHA-256 prefix of its content, to tell an identical retry from a mismatch.
struct EventIdEntry {
  PartitionId partition;
  Position position;
  std::string content_digest;  // 16 bytes
};
std::string EncodeEventIdEntry(const EventIdEntry& entry);
bool DecodeEventIdEntry(std::string_view bytes, EventIdEntry* entry);

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_RECORD_H_
