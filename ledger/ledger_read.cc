// Ledger readers and Verify.
#include <algorithm>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "ledger/errors.h"
#include "ledger/identity.h"
#include "ledger/json.h"
#include "ledger/ledger.h"
#include "ledger/status_macros.h"
#include "ledger/storage.h"
#include "ledger/strings.h"
#include "rocksdb/db.h"

namespace rapport::ledger {
namespace {

std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

}  // namespace

absl::StatusOr<StoredRecord> Ledger::ReadRecord(PartitionId partition, Position position) const {
  std::string value;
  if (partition.value() >= partitions_) {
    return absl::NotFoundError(AbslView(StrCat("no partition ", partition.value())));
  }
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), records_[partition.value()],
                               RecordKey(partition, position), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(AbslView(
        StrCat("no record at partition ", partition.value(), " position ", position.value())));
  }
  RETURN_IF_ERROR(ToStatus(s, "reading a record"));
  return DecodeRecord(value);
}

absl::Status Ledger::StreamHead(std::string_view customer_id, Seq* seq, Digest* hash) const {
  *seq = Seq(0);
  *hash = kZeroDigest;
  std::string prefix = CustomerIndexPrefix(customer_id);
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower(prefix);
  ro.iterate_lower_bound = &lower;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, customers_));
  it->SeekForPrev(CustomerIndexKey(customer_id, Seq(~uint64_t{0})));
  if (!it->Valid()) return ToStatus(it->status(), "reading the customer index");
  std::string_view k = ToView(it->key());
  CustomerIndexEntry entry;
  if (!k.starts_with(prefix) || k.size() != prefix.size() + 8 ||
      !DecodeCustomerIndexEntry(ToView(it->value()), &entry)) {
    return absl::DataLossError(AbslView(StrCat("corrupt index entry of customer ", customer_id)));
  }
  *seq = Seq(GetFixed64BE(k.data() + prefix.size()));
  *hash = entry.customer_hash;
  return absl::OkStatus();
}

absl::StatusOr<Seq> Ledger::CustomerVersion(std::string_view customer_id) const {
  Seq seq;
  Digest hash;
  RETURN_IF_ERROR(StreamHead(customer_id, &seq, &hash));
  return seq;
}

absl::StatusOr<std::vector<StoredRecord>> Ledger::ReadCustomer(
    std::string_view customer_id, Seq after, size_t limit, std::optional<Timestamp> as_of) const {
  std::vector<StoredRecord> out;
  if (limit == 0) return out;
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  ro.snapshot = snapshot;
  std::string prefix = CustomerIndexPrefix(customer_id);
  std::string upper = prefix;
  upper.back() = '\x01';
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  uint32_t partition = PartitionFor(customer_id, partitions_);
  std::vector<std::string> keys;
  std::vector<Seq> seqs;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, customers_));
    for (it->Seek(CustomerIndexKey(customer_id, Seq(after.value() + 1)));
         it->Valid() && keys.size() < limit; it->Next()) {
      std::string_view k = ToView(it->key()), v = ToView(it->value());
      CustomerIndexEntry entry;
      if (k.size() != prefix.size() + 8 || !DecodeCustomerIndexEntry(v, &entry)) {
        db_->ReleaseSnapshot(snapshot);
        return absl::DataLossError("corrupt customer index entry");
      }
      if (as_of && entry.occurred_at > *as_of) continue;
      keys.push_back(RecordKey(PartitionId(partition), entry.position));
      seqs.push_back(Seq(GetFixed64BE(k.data() + prefix.size())));
    }
    absl::Status st = ToStatus(it->status(), "reading the customer index");
    if (!st.ok()) {
      db_->ReleaseSnapshot(snapshot);
      return st;
    }
  }
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(ro, records_[partition], slices.size(), slices.data(), values.data(),
                statuses.data());
  db_->ReleaseSnapshot(snapshot);
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i].ok()) {
      return absl::DataLossError(
          AbslView(StrCat("customer ", customer_id, " seq ", seqs[i].value(),
                          ": its record is missing (", statuses[i].ToString(), ")")));
    }
    ASSIGN_OR_RETURN(StoredRecord rec, DecodeRecord(ToView(values[i])));
    out.push_back(std::move(rec));
  }
  return out;
}

std::unique_ptr<rocksdb::Iterator> Ledger::NewScan(PartitionId partition) const {
  // A partition's records are its own column family; a scan reads ahead and leaves the block
  // cache to the point reads of serving.
  rocksdb::ReadOptions ro;
  ro.readahead_size = 4 << 20;
  ro.fill_cache = false;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, records_[partition.value()]));
}

absl::Status Ledger::ScanPartition(PartitionId partition, Position from,
                                   const std::function<bool(StoredRecord&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it = NewScan(partition);
  for (it->Seek(RecordKey(partition, from)); it->Valid(); it->Next()) {
    ASSIGN_OR_RETURN(StoredRecord rec, DecodeRecord(ToView(it->value())));
    if (!fn(rec)) break;
  }
  return ToStatus(it->status(), "scanning a partition");
}

absl::Status Ledger::ScanPartitionViews(PartitionId partition, Position from,
                                        const std::function<bool(const RecordView&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it = NewScan(partition);
  std::string scratch;
  for (it->Seek(RecordKey(partition, from)); it->Valid(); it->Next()) {
    ASSIGN_OR_RETURN(RecordView rec, DecodeRecordView(ToView(it->value()), &scratch));
    if (!fn(rec)) break;
  }
  return ToStatus(it->status(), "scanning a partition");
}

absl::StatusOr<std::optional<std::string>> Ledger::LookupIdentity(const Identity& identity) const {
  if (!NormalizeIdentityValue(identity.kind, identity.value)) return std::nullopt;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), identities_, IdentityKey(identity), &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(ToStatus(s, "reading the identity index"));
  return value;
}

// ---------------------------------------------------------------------------------------------
// Verify

namespace {

// Checks one decoded record against its key and canonical bytes; returns the digest.
std::optional<std::string> CheckRecord(const StoredRecord& rec, PartitionId partition,
                                       Position position, uint32_t partitions, Digest* digest) {
  if (rec.partition != partition || rec.position != position) {
    return StrCat("the record stored here says partition ", rec.partition.value(), " position ",
                  rec.position.value());
  }
  auto env = ParseCanonical(rec.canonical);
  if (!env.ok()) return std::string(StdView(env.status().message()));
  if (env->partition != static_cast<int64_t>(partition.value()) ||
      env->position != static_cast<int64_t>(position.value())) {
    return StrCat("the canonical bytes say partition ", env->partition, " position ",
                  env->position);
  }
  if (env->customer_id != rec.customer_id || env->event_id != rec.event_id ||
      env->seq != static_cast<int64_t>(rec.seq.value()) ||
      env->recorded_at != FormatTimestamp(rec.recorded_at)) {
    return std::string("the record's fields disagree with its canonical bytes");
  }
  if (PartitionFor(rec.customer_id, partitions) != partition.value()) {
    return StrCat("customer ", rec.customer_id, " does not belong in this partition");
  }
  *digest = Sha256(rec.canonical);
  return std::nullopt;
}

}  // namespace

absl::Status Ledger::VerifyPartition(PartitionId partition, VerifyReport* report,
                                     std::atomic<uint64_t>* checked) const {
  struct CustomerState {
    Seq seq;
    Digest hash{};
  };
  absl::flat_hash_map<std::string, CustomerState> customers;
  Digest chain{};
  uint64_t expected = 1;
  uint64_t local = 0;
  auto fail = [&](uint64_t position, std::string reason) {
    report->ok = false;
    report->bad_partition = partition;
    report->bad_position = Position(position);
    report->reason = std::move(reason);
  };

  std::unique_ptr<rocksdb::Iterator> it = NewScan(partition);
  for (it->Seek(RecordKey(partition, Position(1))); it->Valid(); it->Next(), ++expected) {
    PartitionId kp;
    Position kpos;
    if (!ParseRecordKey(ToView(it->key()), &kp, &kpos)) {
      fail(expected, "a record key is malformed");
      break;
    }
    if (kpos.value() != expected) {
      fail(expected,
           StrCat("the record is missing (the next stored one is at position ", kpos.value(), ")"));
      break;
    }
    auto rec = DecodeRecord(ToView(it->value()));
    if (!rec.ok()) {
      fail(expected, std::string(StdView(rec.status().message())));
      break;
    }
    Digest digest;
    if (auto why = CheckRecord(*rec, partition, kpos, partitions_, &digest)) {
      fail(expected, *why);
      break;
    }
    Digest next = ChainHash(chain, digest);
    if (next != rec->chain_hash) {
      fail(expected, "chain_hash does not match SHA-256(previous chain_hash || record digest)");
      break;
    }
    CustomerState& c = customers[rec->customer_id];
    if (rec->seq.value() != c.seq.value() + 1) {
      fail(expected, StrCat("customer ", rec->customer_id, " seq ", rec->seq.value(),
                            " follows seq ", c.seq.value()));
      break;
    }
    Digest customer_next = ChainHash(c.hash, digest);
    if (customer_next != rec->customer_hash) {
      fail(expected, "customer_hash does not match SHA-256(previous customer_hash || digest)");
      break;
    }
    c.seq = rec->seq;
    c.hash = customer_next;
    chain = next;
    if (++local % 4096 == 0) checked->fetch_add(4096, std::memory_order_relaxed);
  }
  checked->fetch_add(local % 4096, std::memory_order_relaxed);
  RETURN_IF_ERROR(ToStatus(it->status(), "scanning records"));
  report->records = local;
  report->customers = customers.size();
  if (!report->ok) return absl::OkStatus();

  // The stored heads must be where the records end.
  std::string value;
  uint64_t head_position = 0;
  Digest head_hash{};
  if (db_->Get(rocksdb::ReadOptions(), heads_, PartitionHeadKey(partition), &value).ok()) {
    std::memcpy(head_hash.data(), value.data() + 8, std::min<size_t>(32, value.size() - 8));
    head_position = value.size() == 40 ? GetFixed64BE(value.data()) : ~uint64_t{0};
  }
  if (head_position != local || head_hash != chain) {
    fail(std::min(head_position, local) + 1,
         StrCat("the partition head says position ", head_position, " but ", local,
                " records chain up to a different hash"));
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Ledger::VerifyCustomer(const std::string& customer_id, VerifyReport* report) const {
  PartitionId partition(PartitionFor(customer_id, partitions_));
  auto fail = [&](Position position, std::string reason) {
    report->ok = false;
    report->bad_partition = partition;
    report->bad_position = position;
    report->reason = std::move(reason);
  };
  Digest customer_hash{};
  uint64_t seq = 0;
  rocksdb::ReadOptions ro;
  std::string prefix = CustomerIndexPrefix(customer_id);
  std::string upper = prefix;
  upper.back() = '\x01';
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, customers_));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view k = ToView(it->key()), v = ToView(it->value());
    CustomerIndexEntry entry;
    if (k.size() != prefix.size() + 8 || !DecodeCustomerIndexEntry(v, &entry)) {
      fail(Position(0), "a customer index entry is malformed");
      return absl::OkStatus();
    }
    Position position = entry.position;
    uint64_t index_seq = GetFixed64BE(k.data() + prefix.size());
    if (index_seq != seq + 1) {
      fail(position, StrCat("the stream jumps from seq ", seq, " to ", index_seq));
      return absl::OkStatus();
    }
    auto rec = ReadRecord(partition, position);
    if (!rec.ok()) {
      fail(position, std::string(StdView(rec.status().message())));
      return absl::OkStatus();
    }
    Digest digest;
    if (auto why = CheckRecord(*rec, partition, position, partitions_, &digest)) {
      fail(position, *why);
      return absl::OkStatus();
    }
    if (rec->customer_id != customer_id || rec->seq.value() != index_seq) {
      fail(position, StrCat("the index points seq ", index_seq, " at a record of ",
                            rec->customer_id, " seq ", rec->seq.value()));
      return absl::OkStatus();
    }
    Digest next = ChainHash(customer_hash, digest);
    if (next != rec->customer_hash || entry.customer_hash != next) {
      fail(position, "customer_hash does not match SHA-256(previous customer_hash || digest)");
      return absl::OkStatus();
    }
    // The record's link in the partition chain.
    Digest previous_chain{};
    if (position.value() > 1) {
      auto prev = ReadRecord(partition, Position(position.value() - 1));
      if (!prev.ok()) {
        fail(Position(position.value() - 1), std::string(StdView(prev.status().message())));
        return absl::OkStatus();
      }
      previous_chain = prev->chain_hash;
    }
    if (ChainHash(previous_chain, digest) != rec->chain_hash) {
      fail(position, "chain_hash does not match SHA-256(previous chain_hash || record digest)");
      return absl::OkStatus();
    }
    customer_hash = next;
    seq = index_seq;
    ++report->records;
  }
  RETURN_IF_ERROR(ToStatus(it->status(), "reading the customer index"));
  ASSIGN_OR_RETURN(Seq version, CustomerVersion(customer_id));
  if (version.value() != seq) {
    fail(Position(0),
         StrCat("the stream head says ", version.value(), " events but ", seq, " are indexed"));
  }
  if (seq == 0) return absl::NotFoundError(AbslView(StrCat("no customer ", customer_id)));
  report->customers = 1;
  return absl::OkStatus();
}

absl::StatusOr<VerifyReport> Ledger::Verify(std::optional<std::string> customer_id, int threads,
                                            const std::function<void(uint64_t)>& progress) const {
  VerifyReport report;
  if (customer_id) {
    RETURN_IF_ERROR(VerifyCustomer(*customer_id, &report));
    return report;
  }
  std::vector<VerifyReport> reports(partitions_);
  std::vector<absl::Status> statuses(partitions_);
  std::atomic<uint64_t> checked{0};
  std::atomic<uint32_t> next{0};
  std::atomic<int> running{std::max(1, threads)};
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(1, threads); ++t) {
    workers.emplace_back([&] {
      for (uint32_t p; (p = next.fetch_add(1)) < partitions_;) {
        statuses[p] = VerifyPartition(PartitionId(p), &reports[p], &checked);
      }
      running.fetch_sub(1);
    });
  }
  auto last_progress = std::chrono::steady_clock::now();
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (progress &&
        std::chrono::steady_clock::now() - last_progress > std::chrono::milliseconds(250)) {
      progress(checked.load());
      last_progress = std::chrono::steady_clock::now();
    }
  }
  for (auto& w : workers) w.join();
  if (progress) progress(checked.load());
  for (uint32_t p = 0; p < partitions_; ++p) {
    RETURN_IF_ERROR(statuses[p]);
    report.records += reports[p].records;
    report.customers += reports[p].customers;
    if (!reports[p].ok && report.ok) {
      report.ok = false;
      report.bad_partition = reports[p].bad_partition;
      report.bad_position = reports[p].bad_position;
      report.reason = reports[p].reason;
    }
  }
  return report;
}

std::string DigestJson(const std::vector<PartitionHead>& heads) {
  std::string out = "{\"partitions\":[";
  for (size_t i = 0; i < heads.size(); ++i) {
    if (i) out.push_back(',');
    out.append(StrCat("{\"partition\":", heads[i].partition.value(),
                      ",\"position\":", heads[i].position.value(), ",\"hash\":\""));
    json::AppendHex(&out, AsBytes(heads[i].hash));
    out.append("\"}");
  }
  out.append("]}");
  return out;
}

std::string HistoryJson(const std::vector<StoredRecord>& records) {
  std::string out = "{\"events\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) out.push_back(',');
    out.append(HistoryEventJson(records[i]));
  }
  out.append("]}");
  return out;
}

}  // namespace rapport::ledger
