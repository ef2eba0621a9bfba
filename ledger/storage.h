// Opening the RocksDB database behind a Ledger: column families, tuning, the partition count.
// Internal to ledger/.
#ifndef RAPPORT_LEDGER_STORAGE_H_
#define RAPPORT_LEDGER_STORAGE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "ledger/ledger.h"
#include "rocksdb/db.h"

namespace rapport::ledger {

struct StorageHandles {
  StorageHandles() = default;
  StorageHandles(const StorageHandles&) = delete;
  StorageHandles& operator=(const StorageHandles&) = delete;
  ~StorageHandles() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }

  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // owned; destroyed before the DB
  uint32_t partitions = 0;
  std::vector<rocksdb::ColumnFamilyHandle*> records;  // one per partition
  rocksdb::ColumnFamilyHandle* customers = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids = nullptr;
  rocksdb::ColumnFamilyHandle* identities = nullptr;
  rocksdb::ColumnFamilyHandle* heads = nullptr;
  // options.extra_column_families, in that order.
  std::vector<rocksdb::ColumnFamilyHandle*> extra;
};

absl::Status OpenStorage(const std::string& dir, const LedgerOptions& options, StorageHandles* out);

// Converts a RocksDB status into the most specific absl code.
absl::Status ToStatus(const rocksdb::Status& s, std::string_view what);

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_STORAGE_H_
