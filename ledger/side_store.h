// A RocksDB database beside the ledger's, for data derived from it (the projections), so that
// its writes neither wait for the ledger's synced group commits nor make each of those sync the
// derived data too. Its column families are tuned like the ledger's.
//
// It keeps no write-ahead log: what it holds can be derived again from the ledger, so a crash
// may take back its latest writes, but only whole writes and only all column families together
// (atomic flush): after a crash it is as it was at some earlier write, and whoever derives it
// goes on from what that write recorded. Closing it (or Flush) makes everything durable. The log
// cost the projection runner ~14 % of its CPU, and its write-back made the ledger's fsyncs on the
// same file system wait (docs/PERFORMANCE.md).
#ifndef RAPPORT_LEDGER_SIDE_STORE_H_
#define RAPPORT_LEDGER_SIDE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rocksdb/db.h"

namespace rapport::ledger {

struct SideStoreOptions {
  bool read_only = false;
  size_t block_cache_bytes = 64u << 20;
  size_t write_buffer_bytes = 32u << 20;
};

class SideStore {
 public:
  // Opens (creating it unless read-only) the database in `dir` with `column_families` (besides
  // RocksDB's default one). Read-only: NotFound when there is none yet, and a server holding the
  // dir may go on writing it (the view is the one at open time).
  static absl::Status Open(const std::string& dir, const std::vector<std::string>& column_families,
                           const SideStoreOptions& options, std::unique_ptr<SideStore>* out);
  ~SideStore();
  SideStore(const SideStore&) = delete;
  SideStore& operator=(const SideStore&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  // What every write to db() must use (no write-ahead log; not synced).
  const rocksdb::WriteOptions& write_options() const { return write_options_; }
  // Makes everything written so far durable (all column families at once), and visible to
  // read-only openers. `wait` false: starts the flush on RocksDB's threads and returns.
  absl::Status Flush(bool wait = true);
  // The column families named at Open, in that order.
  rocksdb::ColumnFamilyHandle* column_family(size_t i) const { return handles_[i + 1]; }

 private:
  SideStore() = default;
  std::string dir_;
  bool read_only_ = false;
  rocksdb::WriteOptions write_options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; [0] is RocksDB's default
};

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_SIDE_STORE_H_
