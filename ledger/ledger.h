// The ledger of record: a RocksDB store of touchpoint events, partitioned by customer, with
// permanent event_id deduplication, identity resolution, optimistic concurrency per customer,
// two SHA-256 hash chains, and group commit (CONTRACT §1, §3, §7; DESIGN.md data flow).
#ifndef RAPPORT_LEDGER_LEDGER_H_
#define RAPPORT_LEDGER_LEDGER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ledger/codec.h"
#include "ledger/event.h"
#include "ledger/hashing.h"
#include "ledger/histogram.h"
#include "ledger/record.h"
#include "ledger/types.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
}  // namespace rocksdb

namespace rapport::ledger {

struct LedgerOptions {
  // ledger.partitions: used when the data dir is created; an existing dir keeps its own count.
  uint32_t partitions = 4;
  // When set, opening fails unless the data dir has exactly this many partitions.
  std::optional<uint32_t> expect_partitions;
  bool create_if_missing = true;
  // Readers only: no appends; may open a data dir that a running server holds.
  bool read_only = false;
  // The most events one group commit (one synced WriteBatch) takes.
  size_t max_group_events = 8192;
  // RocksDB block cache shared by all column families.
  size_t block_cache_bytes = 256u << 20;
  // Customer heads and identity links kept in memory (entries) before the cache is dropped.
  size_t cache_entries = 2'000'000;
  // Column families that layers above keep in the same database (projection state and
  // checkpoints), so that they can be written atomically with their checkpoint.
  std::vector<std::string> extra_column_families;
};

// What an append returns for one event (CONTRACT §3).
struct AppendResult {
  std::string event_id;
  std::string customer_id;
  PartitionId partition;
  Seq seq;
  Position position;
  Digest hash{};
  bool duplicate = false;
};
// `{"event_id","customer_id","partition","seq","position","hash","duplicate"}`.
std::string AppendResultJson(const AppendResult& result);

// An event with the CPU-heavy work done (parsing, canonical rendering, content digest), so that
// callers do it on their own threads and the commit path only sequences and hashes.
// Only what the append path needs is kept, so that moving one is cheap.
struct PreparedEvent {
  std::string event_id;
  std::string customer_id;  // as given; empty when only an identity was
  std::optional<int64_t> expected_version;
  Timestamp occurred_at;
  CanonicalEventParts canonical;
  // SHA-256 prefix of the event as submitted (before customer resolution): an identical retry
  // has the same one.
  std::string content_digest;
  // IdentityKey of `event.identity` and of `data.identity` (identity_linked), or empty.
  std::string identity_key;
  std::string linked_identity_key;
  // When the producer gave customer_id, the record's customer is known before sequencing: the
  // record's canonical bytes up to the end of the event, and the SHA-256 state over them, so
  // that the commit thread only hashes the few bytes that sequencing adds.
  std::string record_prefix;
  Sha256Hasher record_prefix_hash;
};
PreparedEvent PrepareEvent(Event event);
absl::StatusOr<PreparedEvent> ParseAndPrepare(std::string_view json, const CodecOptions& options);

// Writes that travel in the same RocksDB WriteBatch as an append request's events, so that they
// are durable exactly when the events are (DESIGN.md: the consumed Kafka offsets, entries of the
// rejected-message outbox). A null column family means the ledger's default one; others are
// the ledger's extra column families (Ledger::column_family).
class SideWrites {
 public:
  void Put(rocksdb::ColumnFamilyHandle* cf, std::string key, std::string value) {
    ops_.push_back({cf, std::move(key), std::move(value), false});
  }
  void Delete(rocksdb::ColumnFamilyHandle* cf, std::string key) {
    ops_.push_back({cf, std::move(key), {}, true});
  }
  bool empty() const { return ops_.empty(); }

  struct Op {
    rocksdb::ColumnFamilyHandle* cf;
    std::string key;
    std::string value;
    bool is_delete;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

// What StartAppendEach writes besides the events.
struct AppendHooks {
  // Written with the request's group whatever the events' outcomes.
  SideWrites always;
  // Called on the commit thread for each event that fails (before its group is written) with
  // the event's index and error; what it adds is written in the same WriteBatch. Lets the inbox
  // consumer record a rejected message atomically with the offset that consumed it. It must not
  // block or call back into the ledger.
  std::function<void(size_t index, const absl::Status& status, SideWrites* out)> on_failed;
};

struct PartitionHead {
  PartitionId partition;
  Position position;
  Digest hash{};  // zeros for an empty partition
};

// The outcome of Verify: ok, or the first bad partition and position with the reason.
struct VerifyReport {
  bool ok = true;
  uint64_t records = 0;
  uint64_t customers = 0;
  std::optional<PartitionId> bad_partition;
  std::optional<Position> bad_position;
  std::string reason;
};

// Counters since open, for metrics and benchmarks.
struct LedgerStats {
  uint64_t groups = 0;
  uint64_t events_appended = 0;
  uint64_t duplicates = 0;
  uint64_t failed_units = 0;
  // Time spent sequencing groups (commit thread) and writing them (writer thread, incl. fsync).
  uint64_t sequence_micros = 0;
  uint64_t write_micros = 0;
  // The CPU time of the same (the rest of the wall time is fsync, or waiting for a core).
  uint64_t sequence_cpu_micros = 0;
  uint64_t write_cpu_micros = 0;
};

// `{"partitions": [{"partition", "position", "hash"}]}` (GET /v1/ledger/digest).
std::string DigestJson(const std::vector<PartitionHead>& heads);
// `{"events": [...]}`, each as HistoryEventJson (GET /v1/customers/{id}/events).
std::string HistoryJson(const std::vector<StoredRecord>& records);

// Thread-safe. Appends from any number of threads are sequenced by one commit thread and made
// durable by one writer thread: each group of concurrent requests becomes one synced RocksDB
// WriteBatch, and Append returns only once its group is on disk. Readers run on the calling
// thread against RocksDB. If a write to RocksDB ever fails, the ledger stops accepting appends
// (every later Append returns that error) because its in-memory heads may be ahead of the disk;
// reopen it to recover. Destroying the Ledger waits for the appends in flight.
class Ledger {
 private:
  struct Request;

 public:
  // Opens (or creates) the ledger in `dir`. Unavailable when another process holds the data dir
  // (read_only opens do not conflict); FailedPrecondition when the partition count differs from
  // options.expect_partitions; DataLoss when the heads and records disagree.
  static absl::Status Open(const std::string& dir, const LedgerOptions& options,
                           std::unique_ptr<Ledger>* ledger);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends `events` atomically: all are stored (or are duplicates) or none is. Blocks until the
  // group holding them is durable. Errors: FailedPrecondition (expected_version conflict, with
  // the actual version; ledger/errors.h), AlreadyExists (duplicate_mismatch), or the storage
  // error. An empty batch returns no results.
  absl::StatusOr<std::vector<AppendResult>> Append(std::vector<PreparedEvent> events);

  // Appends each event as its own atomic unit, in order, in the same group commit: one result per
  // event; a failed event does not stop the ones after it.
  std::vector<absl::StatusOr<AppendResult>> AppendEach(std::vector<PreparedEvent> events);

  // An AppendEach that has been queued but not waited for. Requests are sequenced in the order
  // StartAppendEach was called, so a caller can keep several in flight (sharing group commits)
  // and still append in its input order. Wait() must be called before destruction.
  class Pending {
   public:
    ~Pending();
    // Blocks until the events are durable (or failed); one result per event.
    std::vector<absl::StatusOr<AppendResult>> Wait();

   private:
    friend class Ledger;
    std::unique_ptr<Request> request_;
    absl::Status submit_status_;
  };
  // `hooks` adds writes to the same WriteBatch (see AppendHooks); a request with no events but
  // side writes is still written (and durable when Wait returns).
  std::unique_ptr<Pending> StartAppendEach(std::vector<PreparedEvent> events,
                                           AppendHooks hooks = {});

  // The customer's records with seq > `after`, at most `limit`, in seq order; with `as_of`, only
  // events with occurred_at <= as_of (the events visible to projections at that time).
  absl::StatusOr<std::vector<StoredRecord>> ReadCustomer(
      std::string_view customer_id, Seq after, size_t limit,
      std::optional<Timestamp> as_of = std::nullopt) const;
  // The number of events in the customer's stream (0 when unknown).
  absl::StatusOr<Seq> CustomerVersion(std::string_view customer_id) const;
  // One record; NotFound when the position is past the head.
  absl::StatusOr<StoredRecord> ReadRecord(PartitionId partition, Position position) const;
  // Calls `fn` for the partition's records from `from` on, in position order, until it returns
  // false; `fn` may move from the record it is given. DataLoss on an undecodable record.
  absl::Status ScanPartition(PartitionId partition, Position from,
                             const std::function<bool(StoredRecord&)>& fn) const;
  // The same scan without copies: `fn` sees each record as views that are valid only during
  // the call (a bulk reader copies what it keeps).
  absl::Status ScanPartitionViews(PartitionId partition, Position from,
                                  const std::function<bool(const RecordView&)>& fn) const;
  // The customer an identity resolves to, or nullopt.
  absl::StatusOr<std::optional<std::string>> LookupIdentity(const Identity& identity) const;

  // Per-partition head position and chain hash (GET /v1/ledger/digest).
  std::vector<PartitionHead> Heads() const;
  // Recomputes every record digest and both chains (all partitions, in parallel on `threads`
  // threads), or one customer's stream and its partition-chain links. `progress`, when given,
  // is called now and then with the number of records checked so far.
  absl::StatusOr<VerifyReport> Verify(std::optional<std::string> customer_id = std::nullopt,
                                      int threads = 2,
                                      const std::function<void(uint64_t)>& progress = {}) const;

  // Flushes every memtable to SST files (checkpoints, benchmarks).
  absl::Status Flush();
  // Flushes and fully compacts every column family, so that benchmarks of reads start from a
  // settled store rather than racing background compactions.
  absl::Status Compact();

  // The handle of one of options.extra_column_families (owned by the ledger), or null (also when
  // a read-only ledger does not have it yet).
  rocksdb::ColumnFamilyHandle* column_family(std::string_view name) const;

  // Blocks until a group commit later than `seen` is durable, or `timeout` passes, or the ledger
  // closes; returns the number of the latest durable group (0 before the first). Read-only
  // ledgers return `seen` after the timeout. Lets consumers of new records (projections, the
  // outbox) wake on commits instead of polling.
  uint64_t WaitForCommit(uint64_t seen, absl::Duration timeout) const;

  uint32_t partitions() const { return partitions_; }
  bool read_only() const { return options_.read_only; }
  const std::string& dir() const { return dir_; }
  LedgerStats stats() const;
  // Seconds from an append request's submission until it is durable (or failed).
  const Histogram& append_latency() const { return append_latency_; }
  // Events (stored, duplicate or failed) per group commit.
  const Histogram& group_events() const { return group_events_; }
  // The ledger's default column family (ledger metadata; side writes with a null family).
  rocksdb::ColumnFamilyHandle* default_column_family() const { return handles_[0]; }
  // The underlying database, for metrics and tests that inspect storage.
  rocksdb::DB* db() const { return db_.get(); }

 private:
  struct Impl;
  Ledger(std::string dir, const LedgerOptions& options);

  absl::Status Enqueue(Request* request);
  // The customer's stream head: its seq and customer_hash (zeros for a new customer).
  absl::Status StreamHead(std::string_view customer_id, Seq* seq, Digest* hash) const;
  std::unique_ptr<rocksdb::Iterator> NewScan(PartitionId partition) const;
  absl::Status VerifyCustomer(const std::string& customer_id, VerifyReport* report) const;
  absl::Status VerifyPartition(PartitionId partition, VerifyReport* report,
                               std::atomic<uint64_t>* checked) const;

  const std::string dir_;
  const LedgerOptions options_;
  uint32_t partitions_ = 0;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> records_;  // one per partition
  std::vector<rocksdb::ColumnFamilyHandle*> extra_;
  rocksdb::ColumnFamilyHandle* customers_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids_ = nullptr;
  rocksdb::ColumnFamilyHandle* identities_ = nullptr;
  rocksdb::ColumnFamilyHandle* heads_ = nullptr;
  Histogram append_latency_{Histogram::LatencyBounds()};
  Histogram group_events_{Histogram::SizeBounds()};
  std::unique_ptr<Impl> impl_;  // the append path; null when read-only
};

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_LEDGER_H_
