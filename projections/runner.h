// Keeps the stored projections up to date with the ledger (CONTRACT §4, DESIGN.md data flow):
// after each group commit the runner applies the new records and writes the changed customers'
// states together with its checkpoints in one WriteBatch, so a crash can neither skip nor
// double-apply an event. A projection lives in versions: `Rebuild` builds a new version from
// position 1 while the current one keeps serving, then switches to it atomically.
#ifndef RAPPORT_PROJECTIONS_RUNNER_H_
#define RAPPORT_PROJECTIONS_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ledger/ledger.h"
#include "ledger/side_store.h"
#include "ledger/thread_priority.h"
#include "projections/fold.h"
#include "projections/rules.h"

namespace rapport::projections {

// The runner keeps its states in a database of its own beside the ledger's (ledger::SideStore,
// in ProjectionsDir of the ledger's dir): its unsynced writes never wait for the ledger's synced
// group commits, nor add to what those sync. Its column families:
inline constexpr char kProjectionsCf[] = "projections";  // kind ‖ version ‖ customer → state
inline constexpr char kProjectionMetaCf[] = "projection_meta";
std::string ProjectionsDir(std::string_view ledger_dir);

struct RunnerOptions {
  Rules rules;
  // Records applied per WriteBatch.
  size_t batch_records = 4096;
  // Customers whose projections a rebuild keeps in memory per partition and worker; past this
  // it writes them and starts over (reading back those it meets again). About 4 KB each here.
  size_t rebuild_cached_customers = size_t{1} << 20;
  // Customers whose projections live updates keep in memory per partition between catch-ups, so
  // that a customer with new events is not read back and decoded for every batch.
  size_t live_cached_customers = 20000;
  // The background runner applies what was committed at most this often, so that a busy
  // customer's events share one state write (a longer interval: fewer writes, later answers).
  int live_interval_ms = 20;
  // The nice value of the background runner's threads (0..19). Projections are derived and
  // catch up on their own, so when appends and projections compete for the CPU the appends —
  // the ledger of record — go first (measured: HTTP NDJSON ingest 91k → 120k events/s on 2
  // cores); an idle CPU still runs the projections at full speed.
  int background_nice = ledger::kDerivedWorkNice;
  // The memtable of each column family of the projections' database. It keeps no log, so after
  // a crash the runner applies again what was written since its last flush: at most about this
  // much state per column family, or store_flush_interval_ms of events, whichever is less.
  size_t store_write_buffer_bytes = 32u << 20;
  // The background runner flushes the store at most this often when it has applied something
  // since its last flush (0: only when a memtable fills). A read-only reader beside a running
  // server (`rapport export`, `rapport profile`) sees the store as of its last flush, so this is
  // how far behind such readers can be; it also bounds what a crash makes the runner apply again.
  int store_flush_interval_ms = 10000;
};

// What the runner knows of one projection.
struct ProjectionStatus {
  ProjectionKind kind;
  uint32_t version = 0;
  bool rules_match = true;            // false: stored with other rules; a rebuild is due
  uint64_t applied = 0;               // records applied in the current version, over all partitions
  uint64_t behind = 0;                // committed records not applied yet
  std::vector<uint64_t> checkpoints;  // last applied position, by partition
};

// Thread-safe. Owns no ledger: `ledger` must outlive the runner. On a read-only ledger only the
// query methods work.
class Runner {
 public:
  static absl::Status Open(ledger::Ledger* ledger, const RunnerOptions& options,
                           std::unique_ptr<Runner>* runner);
  ~Runner();

  // Applies every committed record not yet applied, in every projection's current version.
  absl::Status CatchUp();
  // The same, saying how many records it applied (each once, whatever the projections).
  absl::Status CatchUp(uint64_t* applied);
  // Runs CatchUp after every group commit on a thread of its own until destruction.
  void StartBackground();

  // The stored projection, rendered as of the customer's latest applied occurred_at (what
  // changelogs publish). NotFound for a customer without events applied.
  absl::StatusOr<std::string> Stored(ProjectionKind kind, std::string_view customer_id) const;
  // The projection as of `as_of`: from the stored state when it already holds exactly the events
  // visible then, otherwise by folding the ledger. NotFound when no event is visible.
  absl::StatusOr<std::string> Query(ProjectionKind kind, std::string_view customer_id,
                                    ledger::Timestamp as_of) const;

  // Builds a new version of each of `kinds` from position 1 (one pass over the ledger) while the
  // current ones serve, then switches to them atomically. `progress(done, total)` is called now
  // and then, from one thread at a time.
  absl::Status Rebuild(const std::vector<ProjectionKind>& kinds,
                       const std::function<void(uint64_t, uint64_t)>& progress = {});

  // Calls `fn(customer_id, json)` for every stored projection of `kind` (current version), in
  // customer id order, until it returns false. The JSON is rendered as of each customer's latest
  // occurred_at.
  absl::Status ForEachStored(
      ProjectionKind kind,
      const std::function<bool(std::string_view customer_id, std::string_view json)>& fn) const;

  std::vector<ProjectionStatus> Status() const;
  // Bytes of projection state in SST files (current and other versions).
  uint64_t StoredBytes() const;
  // The database of projection states (null: read-only, none stored yet); for tests and tools.
  const ledger::SideStore* store() const { return store_.get(); }
  const Rules& rules() const { return options_.rules; }

 private:
  struct Version;
  Runner(ledger::Ledger* ledger, const RunnerOptions& options);
  absl::Status LoadVersions();
  // Whether a version of `kind` has any state or snapshot stored (left by a rebuild that died).
  absl::StatusOr<bool> HasStates(ProjectionKind kind, uint32_t version) const;
  // The stored state of `customer_id` rendered as of `as_of` (else as of its latest event), made
  // from its base and the events after it; nullopt when there is none, or (with `as_of`) when it
  // does not hold exactly the events visible then.
  absl::StatusOr<std::optional<std::string>> RenderStored(
      ProjectionKind kind, uint32_t version, std::string_view customer_id,
      std::optional<ledger::Timestamp> as_of) const;
  // The projection as of `as_of` from the latest snapshot at or before it; nullopt when there is
  // none (or the ledger has an event the snapshot cannot take).
  absl::StatusOr<std::optional<std::string>> QueryFromSnapshot(ProjectionKind kind,
                                                               uint32_t version,
                                                               std::string_view customer_id,
                                                               ledger::Timestamp as_of) const;
  class PartitionPass;
  // Applies records after the checkpoints of `versions` (a subset of kinds) up to the heads.
  // `deferred`: write states only when the in-memory cache is full and at the end of each
  // partition (rebuilds, through RebuildPass); otherwise states and checkpoints after every batch.
  // `on_batch(records applied so far)` now and then.
  // `passes` (live only, optional): one pass per partition kept across calls, made for exactly
  // `versions`.
  absl::Status Advance(const std::vector<Version*>& versions, bool deferred, uint64_t* applied,
                       const std::function<void(uint64_t)>& on_batch = {},
                       std::vector<std::unique_ptr<PartitionPass>>* passes = nullptr);
  // One partition of a live Advance; `on_batch(records)` after each batch. `pass`: the
  // partition's kept pass, or null for one of its own.
  absl::Status AdvancePartition(const std::vector<Version*>& versions,
                                const ledger::PartitionHead& head,
                                const std::function<void(uint64_t)>& on_batch,
                                std::unique_ptr<PartitionPass>* pass);
  // A deferred Advance: this thread reads, two workers parse and apply (each for half of the
  // customers) and write states as ingested SST files at the end of each partition.
  absl::Status RebuildPass(const std::vector<Version*>& versions, uint64_t* applied,
                           const std::function<void(uint64_t)>& on_batch);

  ledger::Ledger* const ledger_;
  const RunnerOptions options_;
  std::unique_ptr<ledger::SideStore> store_;  // null: read-only, no projections stored yet
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* states_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;

  // Serialises writers of projection state (CatchUp and the final step of a Rebuild). A
  // CatchUp far behind holds it for as long as it takes, so readers never wait for it.
  mutable absl::Mutex mu_;
  // Taken briefly by readers (queries, Status) and by writers of what they read: the current_
  // pointers (written holding both mutexes) and the current versions' checkpoints.
  mutable absl::Mutex view_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<std::unique_ptr<Version>> current_;  // by kind; see mu_ and view_mu_
  // CatchUp's passes (their caches of customer projections) and the versions they were made
  // for; made again when the versions change (a rebuild's switch).
  std::vector<Version*> live_versions_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> live_numbers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<PartitionPass>> live_passes_ ABSL_GUARDED_BY(mu_);

  // The second thread of live Advances, kept for the runner's life: one started per catch-up
  // (every few milliseconds) cost its stack's and its allocator heap's page faults each time.
  class Helper;
  std::unique_ptr<Helper> helper_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> stop_{false};
  std::thread background_;
};

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_RUNNER_H_
