#include "ledger/storage.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "ledger/record.h"
#include "ledger/side_store.h"
#include "ledger/strings.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"

namespace rapport::ledger {
namespace {

constexpr char kPartitionsKey[] = "meta/partitions";
constexpr char kFormatKey[] = "meta/format";
constexpr char kFormatVersion[] = "1";

rocksdb::ColumnFamilyOptions CfOptions(const std::shared_ptr<rocksdb::Cache>& cache, bool bloom,
                                       size_t write_buffer) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.block_size = 16 * 1024;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  if (bloom) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  o.write_buffer_size = write_buffer;
  o.max_write_buffer_number = 4;
  o.target_file_size_base = 64 << 20;
  o.max_bytes_for_level_base = 256 << 20;
  // Fresh data is flushed uncompressed (cheap on 2 cores); older levels are compressed.
  o.compression_per_level = {rocksdb::kNoCompression,
                             rocksdb::kNoCompression,
                             rocksdb::kLZ4Compression,
                             rocksdb::kLZ4Compression,
                             rocksdb::kLZ4Compression,
                             rocksdb::kLZ4Compression,
                             rocksdb::kZSTD};
  return o;
}

// The customer id part of a customers key (up to and including the 0x00 separator): inserts for
// one customer then start from where that customer's previous insert went.
class CustomerPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "rapport.CustomerPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const char* sep = static_cast<const char*>(std::memchr(key.data(), '\0', key.size()));
    return rocksdb::Slice(key.data(), static_cast<size_t>(sep - key.data()) + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

// A server holding the dir may delete files that compaction replaced between our reading the
// MANIFEST and opening them; the next attempt reads the newer MANIFEST.
rocksdb::Status OpenReadOnly(const rocksdb::DBOptions& db_options, const std::string& dir,
                             const std::vector<rocksdb::ColumnFamilyDescriptor>& cfs,
                             std::vector<rocksdb::ColumnFamilyHandle*>* handles,
                             rocksdb::DB** raw) {
  rocksdb::Status s;
  for (int attempt = 0;; ++attempt) {
    s = rocksdb::DB::OpenForReadOnly(db_options, dir, cfs, handles, raw);
    bool vanished = (s.IsIOError() || s.IsCorruption() || s.IsPathNotFound()) &&
                    s.ToString().find("No such file") != std::string::npos;
    if (!vanished || attempt == 20) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + 10 * attempt));
  }
}

// What the ledger's and the side store's databases share: background jobs, syncing, logs.
rocksdb::DBOptions CommonDbOptions() {
  rocksdb::DBOptions db_options;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.wal_bytes_per_sync = 0;
  db_options.keep_log_file_num = 5;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  return db_options;
}

}  // namespace

absl::Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(AbslView(msg));
  if (s.IsCorruption()) return absl::DataLossError(AbslView(msg));
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(AbslView(msg));
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return absl::UnavailableError(AbslView(msg));
  if (s.IsNotSupported()) return absl::UnimplementedError(AbslView(msg));
  return absl::InternalError(AbslView(msg));
}

absl::Status OpenStorage(const std::string& dir, const LedgerOptions& options,
                         StorageHandles* out) {
  std::error_code ec;
  bool exists = std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec);
  if (!exists && (options.read_only || !options.create_if_missing)) {
    return absl::NotFoundError(AbslView(StrCat("no ledger in ", dir)));
  }

  rocksdb::DBOptions db_options = CommonDbOptions();
  db_options.create_if_missing = options.create_if_missing;
  // One writer thread: concurrent memtable writes would never be used, and the hash memtable of
  // event_ids does not support them.
  db_options.allow_concurrent_memtable_write = false;
  db_options.max_total_wal_size = 512 << 20;
  // Tickers only (block cache hits and misses for /metrics): per-core counters, no timers.
  db_options.statistics = rocksdb::CreateDBStatistics();
  db_options.statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);

  // The partition count: an existing ledger's own (one records column family per partition),
  // else the configured one.
  std::vector<std::string> existing;
  uint32_t partitions = options.partitions;
  if (exists) {
    rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, dir, &existing);
    if (!ls.ok()) return ToStatus(ls, StrCat("listing the column families of ", dir));
    partitions = 0;
    for (const auto& name : existing) {
      if (std::string_view(name).starts_with(kRecordsCfPrefix)) ++partitions;
    }
  }
  if (partitions == 0 || partitions > 4096) {
    return absl::InvalidArgumentError(
        AbslView(StrCat("ledger.partitions must be from 1 to 4096, not ", partitions)));
  }

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, CfOptions(cache, true, 4 << 20));
  auto customers = CfOptions(cache, true, 32 << 20);
  customers.memtable_insert_with_hint_prefix_extractor = std::make_shared<CustomerPrefix>();
  cfs.emplace_back(kCustomersCf, customers);
  auto event_ids = CfOptions(cache, true, 32 << 20);
  // Only point lookups ever read event_ids. Most lookups of a new event_id miss; a memtable bloom
  // filter makes the miss cheap. A hash-of-skiplists memtable (NewHashSkipListRepFactory, whole
  // key as prefix) was measured and not kept: the writer's instructions fell 18 % (callgrind,
  // bench append 60k events), but its bucket array fills the memtable sooner and the extra
  // flushes made the whole run 3.8 % more (200k events).
  event_ids.memtable_prefix_bloom_size_ratio = 0.05;
  event_ids.memtable_whole_key_filtering = true;
  cfs.emplace_back(kEventIdsCf, event_ids);
  cfs.emplace_back(kIdentitiesCf, CfOptions(cache, true, 16 << 20));
  cfs.emplace_back(kHeadsCf, CfOptions(cache, true, 4 << 20));
  const size_t kFixed = cfs.size();
  size_t records_buffer = std::max<size_t>(8 << 20, (128u << 20) / partitions);
  for (uint32_t p = 0; p < partitions; ++p) {
    cfs.emplace_back(RecordsCfName(p), CfOptions(cache, false, records_buffer));
  }
  const size_t kExtra = cfs.size();
  // A read-only open cannot create column families: it opens only those that exist.
  std::vector<bool> extra_present;
  for (const auto& name : options.extra_column_families) {
    bool present =
        !options.read_only || std::find(existing.begin(), existing.end(), name) != existing.end();
    extra_present.push_back(present);
    if (present) cfs.emplace_back(name, CfOptions(cache, true, 32 << 20));
  }
  // Column families of a later format are opened too (RocksDB requires all of them).
  for (const auto& name : existing) {
    bool known = false;
    for (const auto& cf : cfs) known = known || cf.name == name;
    if (!known) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    // A server holding the dir may delete files that compaction replaced between our reading
    // the MANIFEST and opening them; the next attempt reads the newer MANIFEST.
    s = OpenReadOnly(db_options, dir, cfs, &out->handles, &raw);
  } else {
    std::filesystem::create_directories(dir, ec);
    s = rocksdb::DB::Open(db_options, dir, cfs, &out->handles, &raw);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return absl::UnavailableError(AbslView(StrCat(
          "the data dir ", dir, " is in use by another process (a running rapport serve?)")));
    }
    return ToStatus(s, StrCat("opening the ledger in ", dir));
  }
  out->db.reset(raw);
  auto* default_cf = out->handles[0];
  out->customers = out->handles[1];
  out->event_ids = out->handles[2];
  out->identities = out->handles[3];
  out->heads = out->handles[4];
  for (uint32_t p = 0; p < partitions; ++p) out->records.push_back(out->handles[kFixed + p]);
  for (size_t i = 0, next = kExtra; i < options.extra_column_families.size(); ++i) {
    out->extra.push_back(extra_present[i] ? out->handles[next++] : nullptr);
  }

  std::string value;
  s = raw->Get(rocksdb::ReadOptions(), default_cf, kPartitionsKey, &value);
  if (s.IsNotFound()) {
    if (options.read_only) return absl::NotFoundError(AbslView(StrCat("no ledger in ", dir)));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::WriteBatch batch;
    batch.Put(default_cf, kPartitionsKey, std::to_string(partitions));
    batch.Put(default_cf, kFormatKey, kFormatVersion);
    s = raw->Write(wo, &batch);
    if (!s.ok()) return ToStatus(s, "writing ledger metadata");
    out->partitions = partitions;
  } else if (!s.ok()) {
    return ToStatus(s, "reading ledger metadata");
  } else {
    auto r = std::from_chars(value.data(), value.data() + value.size(), out->partitions);
    if (r.ec != std::errc() || out->partitions != partitions) {
      return absl::DataLossError(
          AbslView(StrCat("the ledger in ", dir, " records ", value, " partitions but has ",
                          partitions, " records column families")));
    }
  }
  if (options.expect_partitions && *options.expect_partitions != out->partitions) {
    return absl::FailedPreconditionError(AbslView(
        StrCat("the ledger in ", dir, " has ", out->partitions, " partitions but ",
               *options.expect_partitions, " are configured; the count is fixed at creation")));
  }
  return absl::OkStatus();
}

absl::Status SideStore::Open(const std::string& dir,
                             const std::vector<std::string>& column_families,
                             const SideStoreOptions& options, std::unique_ptr<SideStore>* out) {
  std::error_code ec;
  if (options.read_only && !std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) {
    return absl::NotFoundError(AbslView(StrCat("no database in ", dir)));
  }
  rocksdb::DBOptions db_options = CommonDbOptions();
  db_options.create_if_missing = true;
  // No write-ahead log (side_store.h): a crash must then leave the column families at one and
  // the same write, which flushing them together guarantees.
  db_options.atomic_flush = true;
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, CfOptions(cache, true, 4 << 20));
  for (const auto& name : column_families) {
    cfs.emplace_back(name, CfOptions(cache, true, options.write_buffer_bytes));
  }
  std::unique_ptr<SideStore> store(new SideStore());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    s = OpenReadOnly(db_options, dir, cfs, &store->handles_, &raw);
  } else {
    std::filesystem::create_directories(dir, ec);
    s = rocksdb::DB::Open(db_options, dir, cfs, &store->handles_, &raw);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return absl::UnavailableError(AbslView(StrCat(
          "the data dir ", dir, " is in use by another process (a running rapport serve?)")));
    }
    return ToStatus(s, StrCat("opening ", dir));
  }
  store->db_.reset(raw);
  store->dir_ = dir;
  store->read_only_ = options.read_only;
  store->write_options_.disableWAL = true;
  *out = std::move(store);
  return absl::OkStatus();
}

absl::Status SideStore::Flush(bool wait) {
  if (read_only_) return absl::OkStatus();
  rocksdb::FlushOptions fo;
  fo.wait = wait;
  return ToStatus(db_->Flush(fo, handles_), StrCat("flushing ", dir_));
}

SideStore::~SideStore() {
  // RocksDB would flush unlogged writes at close too; this says so, and does it while the
  // handles exist. A failure leaves them to be derived again, which is what a crash does.
  (void)Flush();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
}

}  // namespace rapport::ledger
