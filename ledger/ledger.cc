#include "ledger/ledger.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "ledger/errors.h"
#include "ledger/identity.h"
#include "ledger/json.h"
#include "ledger/status_macros.h"
#include "ledger/storage.h"
#include "ledger/strings.h"
#include "rocksdb/db.h"
#include "rocksdb/perf_level.h"
#include "rocksdb/write_batch.h"

namespace rapport::ledger {
namespace {

constexpr size_t kMaxSpareBatchBytes = 64u << 20;

struct CustomerHead {
  Seq seq;
  Digest hash{};
};

std::string EncodeHead(uint64_t n, const Digest& hash) {
  std::string v;
  v.reserve(40);
  PutFixed64BE(&v, n);
  v.append(AsBytes(hash));
  return v;
}

bool DecodeHead(std::string_view v, uint64_t* n, Digest* hash) {
  if (v.size() != 40) return false;
  *n = GetFixed64BE(v.data());
  std::memcpy(hash->data(), v.data() + 8, 32);
  return true;
}

}  // namespace

std::string AppendResultJson(const AppendResult& r) {
  std::string out = "{\"event_id\":";
  json::AppendString(&out, r.event_id);
  out.append(",\"customer_id\":");
  json::AppendString(&out, r.customer_id);
  out.append(",\"partition\":");
  json::AppendUint(&out, r.partition.value());
  out.append(",\"seq\":");
  json::AppendUint(&out, r.seq.value());
  out.append(",\"position\":");
  json::AppendUint(&out, r.position.value());
  out.append(",\"hash\":\"");
  json::AppendHex(&out, AsBytes(r.hash));
  out.append(r.duplicate ? "\",\"duplicate\":true}" : "\",\"duplicate\":false}");
  return out;
}

PreparedEvent PrepareEvent(Event event) {
  PreparedEvent p;
  p.canonical = RenderCanonicalParts(event);
  // The digest of the submitted form: customer_id only when the producer gave it.
  std::string customer_member;
  if (!event.customer_id.empty()) {
    customer_member = "\"customer_id\":";
    json::AppendString(&customer_member, event.customer_id);
    customer_member.push_back(',');
  }
  Digest d = Sha256Parts({p.canonical.head, customer_member, p.canonical.tail});
  p.content_digest.assign(reinterpret_cast<const char*>(d.data()), 16);
  if (!event.customer_id.empty()) {
    p.record_prefix.reserve(p.canonical.head.size() + p.canonical.tail.size() +
                            2 * customer_member.size() + 64);
    AppendCanonicalRecordPrefix(&p.record_prefix, event.customer_id, p.canonical.head,
                                p.canonical.tail);
    p.record_prefix_hash.Update(p.record_prefix);
  }
  if (event.identity) p.identity_key = IdentityKey(*event.identity);
  if (event.type == EventType::kIdentityLinked) {
    p.linked_identity_key = IdentityKey(event.data.identity);
  }
  p.event_id = std::move(event.event_id);
  p.customer_id = std::move(event.customer_id);
  p.expected_version = event.expected_version;
  p.occurred_at = event.occurred_at;
  return p;
}

absl::StatusOr<PreparedEvent> ParseAndPrepare(std::string_view json, const CodecOptions& options) {
  ASSIGN_OR_RETURN(Event event, ParseEventJson(json, options));
  return PrepareEvent(std::move(event));
}

// ---------------------------------------------------------------------------------------------
// The append path.

struct Ledger::Request {
  std::vector<PreparedEvent> events;
  bool atomic = true;
  // Atomic: the unit's outcome in `status` and its results; otherwise one entry per event.
  absl::Status status;
  std::vector<AppendResult> results;
  std::vector<absl::StatusOr<AppendResult>> each;
  AppendHooks hooks;
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();
  absl::Notification done;
};

// State of the commit thread (sequencer) and the writer thread. The sequencer owns the heads,
// caches and the WriteBatch it is building; the two meet under `mu` in the queue of groups.
struct Ledger::Impl {
  struct Group {
    uint64_t id = 0;
    rocksdb::WriteBatch batch;
    std::vector<Request*> requests;
    std::vector<PartitionHead> heads_after;
    uint64_t appended = 0;
    uint64_t duplicates = 0;
    uint64_t failed_units = 0;
  };
  // An event_id appended by a group that may not be durable yet; the DB cannot answer for it.
  struct InFlightId {
    std::string content_digest;
    AppendResult result;
  };
  // What a unit changed, to put back when it fails.
  struct Undo {
    std::vector<std::pair<uint32_t, PartitionHead>> partitions;
    std::vector<std::pair<std::string, CustomerHead>> customers;
    std::vector<std::pair<std::string, std::string>> links;
    std::vector<std::string> ids;
  };

  explicit Impl(Ledger* ledger) : owner(ledger) {}

  void SequencerLoop();
  void WriterLoop();
  void BuildGroup(Group* g, std::vector<Request*> requests);
  absl::Status ProcessUnit(Group* g, std::span<PreparedEvent> events,
                           std::vector<AppendResult>* results);
  absl::Status ProcessEvent(Group* g, PreparedEvent& pe, Undo* undo, AppendResult* out);
  absl::StatusOr<CustomerHead> LoadCustomerHead(const std::string& customer_id);
  std::string LoadLink(const std::string& key);
  void SetLink(Group* g, const std::string& key, const std::string& customer_id, Undo* undo,
               std::vector<std::string>* links);
  absl::StatusOr<AppendResult> ResultOfStored(const EventIdEntry& entry, const PreparedEvent& ev);

  Ledger* owner;
  absl::Mutex mu;
  std::deque<Request*> pending ABSL_GUARDED_BY(mu);
  std::deque<std::unique_ptr<Group>> to_write ABSL_GUARDED_BY(mu);
  // Written groups' batches, cleared, for the next groups: a group of a few thousand events is
  // megabytes, and building each batch in fresh memory cost the sequencer the copies of the
  // string's doublings and the page faults of new pages.
  std::vector<rocksdb::WriteBatch> spare_batches ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool sequencer_done ABSL_GUARDED_BY(mu) = false;
  absl::Status failed ABSL_GUARDED_BY(mu);
  uint64_t durable_group ABSL_GUARDED_BY(mu) = 0;
  std::vector<PartitionHead> durable_heads ABSL_GUARDED_BY(mu);
  LedgerStats stats ABSL_GUARDED_BY(mu);

  // Sequencer-only state.
  std::vector<PartitionHead> heads;
  absl::flat_hash_map<std::string, CustomerHead> customer_heads;
  absl::flat_hash_map<std::string, std::string> links;  // identity key → customer ("" = none)
  absl::flat_hash_map<std::string, InFlightId> inflight;
  std::deque<std::pair<uint64_t, std::vector<std::string>>> inflight_by_group;
  absl::flat_hash_map<std::string, std::string> stored_ids;  // this group's MultiGet hits
  absl::flat_hash_set<uint32_t> dirty_partitions;
  Timestamp recorded_at;
  Timestamp last_recorded_at;
  uint64_t next_group = 1;
  std::string scratch;

  std::thread sequencer;
  std::thread writer;
};

void Ledger::Impl::SequencerLoop() {
  pthread_setname_np(pthread_self(), "ledger-seq");
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  while (true) {
    std::vector<Request*> take;
    uint64_t durable;
    bool writer_idle;
    auto g = std::make_unique<Group>();
    {
      absl::MutexLock lock(&mu);
      // Backpressure: at most two groups wait for the disk, so that requests arriving meanwhile
      // pile up into the next, larger group.
      mu.Await(absl::Condition(
          +[](Impl* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu) {
            return self->stopping || self->to_write.size() < 2;
          },
          this));
      mu.Await(absl::Condition(
          +[](Impl* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu) {
            return self->stopping || !self->pending.empty();
          },
          this));
      if (pending.empty()) {
        sequencer_done = true;
        return;
      }
      size_t events = 0;
      while (!pending.empty() && (take.empty() || events + pending.front()->events.size() <=
                                                      owner->options_.max_group_events)) {
        events += pending.front()->events.size();
        take.push_back(pending.front());
        pending.pop_front();
      }
      if (!failed.ok()) {
        for (Request* r : take) {
          r->status = failed;
          r->done.Notify();
        }
        continue;
      }
      durable = durable_group;
      writer_idle = to_write.empty();
      if (!spare_batches.empty()) {
        g->batch = std::move(spare_batches.back());
        spare_batches.pop_back();
      }
    }
    while (!inflight_by_group.empty() && inflight_by_group.front().first <= durable) {
      for (const auto& id : inflight_by_group.front().second) inflight.erase(id);
      inflight_by_group.pop_front();
    }
    // The caches hold only what is durable or in flight; drop them when large, but only when no
    // group is in flight, so that what is read back from RocksDB is current.
    if (writer_idle && durable + 1 == next_group &&
        customer_heads.size() + links.size() > owner->options_.cache_entries) {
      customer_heads.clear();
      links.clear();
    }
    auto t0 = std::chrono::steady_clock::now();
    timespec cpu0, cpu1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    BuildGroup(g.get(), std::move(take));
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    absl::MutexLock lock(&mu);
    stats.sequence_micros += static_cast<uint64_t>(micros);
    stats.sequence_cpu_micros += static_cast<uint64_t>((cpu1.tv_sec - cpu0.tv_sec) * 1000000 +
                                                       (cpu1.tv_nsec - cpu0.tv_nsec) / 1000);
    to_write.push_back(std::move(g));
  }
}

void Ledger::Impl::BuildGroup(Group* g, std::vector<Request*> requests) {
  g->id = next_group++;
  g->requests = std::move(requests);
  Timestamp now = Now();
  recorded_at = std::max(now, last_recorded_at);
  last_recorded_at = recorded_at;

  // One MultiGet for the event_ids the group's events may repeat from earlier groups.
  std::vector<std::string_view> keys;
  for (Request* r : g->requests) {
    for (const auto& pe : r->events) {
      if (!inflight.contains(pe.event_id)) keys.push_back(pe.event_id);
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  stored_ids.clear();
  if (!keys.empty()) {
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    owner->db_->MultiGet(rocksdb::ReadOptions(), owner->event_ids_, slices.size(), slices.data(),
                         values.data(), statuses.data(), /*sorted_input=*/true);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].ok()) stored_ids.emplace(keys[i], values[i].ToString());
    }
  }

  for (Request* r : g->requests) {
    if (r->atomic) {
      r->status = ProcessUnit(g, std::span<PreparedEvent>(r->events), &r->results);
      if (!r->status.ok()) ++g->failed_units;
    } else {
      r->each.reserve(r->events.size());
      for (auto& pe : r->events) {
        std::vector<AppendResult> one;
        absl::Status s = ProcessUnit(g, std::span<PreparedEvent>(&pe, 1), &one);
        if (s.ok()) {
          r->each.emplace_back(std::move(one[0]));
        } else {
          ++g->failed_units;
          if (r->hooks.on_failed) r->hooks.on_failed(r->each.size(), s, &r->hooks.always);
          r->each.emplace_back(std::move(s));
        }
      }
    }
    for (const auto& op : r->hooks.always.ops()) {
      auto* cf = op.cf != nullptr ? op.cf : owner->handles_[0];
      if (op.is_delete) {
        g->batch.Delete(cf, op.key);
      } else {
        g->batch.Put(cf, op.key, op.value);
      }
    }
  }
  for (uint32_t p : dirty_partitions) {
    g->batch.Put(owner->heads_, PartitionHeadKey(PartitionId(p)),
                 EncodeHead(heads[p].position.value(), heads[p].hash));
  }
  dirty_partitions.clear();
  g->heads_after = heads;
}

absl::Status Ledger::Impl::ProcessUnit(Group* g, std::span<PreparedEvent> events,
                                       std::vector<AppendResult>* results) {
  Undo undo;
  g->batch.SetSavePoint();
  size_t first_result = results->size();
  uint64_t appended = 0, duplicates = 0;
  for (auto& pe : events) {
    AppendResult result;
    absl::Status s = ProcessEvent(g, pe, &undo, &result);
    if (!s.ok()) {
      g->batch.RollbackToSavePoint();
      for (auto it = undo.ids.rbegin(); it != undo.ids.rend(); ++it) inflight.erase(*it);
      for (auto it = undo.links.rbegin(); it != undo.links.rend(); ++it) {
        links[it->first] = it->second;
      }
      for (auto it = undo.customers.rbegin(); it != undo.customers.rend(); ++it) {
        customer_heads[it->first] = it->second;
      }
      for (auto it = undo.partitions.rbegin(); it != undo.partitions.rend(); ++it) {
        heads[it->first] = it->second;
      }
      results->resize(first_result);
      return s;
    }
    (result.duplicate ? duplicates : appended)++;
    results->push_back(std::move(result));
  }
  g->batch.PopSavePoint();
  if (!undo.ids.empty()) {
    if (inflight_by_group.empty() || inflight_by_group.back().first != g->id) {
      inflight_by_group.emplace_back(g->id, std::vector<std::string>());
    }
    auto& ids = inflight_by_group.back().second;
    ids.insert(ids.end(), undo.ids.begin(), undo.ids.end());
  }
  g->appended += appended;
  g->duplicates += duplicates;
  return absl::OkStatus();
}

absl::StatusOr<CustomerHead> Ledger::Impl::LoadCustomerHead(const std::string& customer_id) {
  auto it = customer_heads.find(customer_id);
  if (it != customer_heads.end()) return it->second;
  CustomerHead head;
  absl::Status s = owner->StreamHead(customer_id, &head.seq, &head.hash);
  if (!s.ok()) return s;
  customer_heads.emplace(customer_id, head);
  return head;
}

std::string Ledger::Impl::LoadLink(const std::string& key) {
  auto it = links.find(key);
  if (it != links.end()) return it->second;
  std::string value;
  rocksdb::Status s = owner->db_->Get(rocksdb::ReadOptions(), owner->identities_, key, &value);
  if (!s.ok()) value.clear();
  links.emplace(key, value);
  return value;
}

void Ledger::Impl::SetLink(Group* g, const std::string& key, const std::string& customer_id,
                           Undo* undo, std::vector<std::string>* record_links) {
  undo->links.emplace_back(key, LoadLink(key));
  links[key] = customer_id;
  g->batch.Put(owner->identities_, key, customer_id);
  record_links->push_back(key);
}

absl::StatusOr<AppendResult> Ledger::Impl::ResultOfStored(const EventIdEntry& entry,
                                                          const PreparedEvent& ev) {
  ASSIGN_OR_RETURN(StoredRecord rec, owner->ReadRecord(entry.partition, entry.position));
  AppendResult r;
  r.event_id = ev.event_id;
  r.customer_id = rec.customer_id;
  r.partition = rec.partition;
  r.seq = rec.seq;
  r.position = rec.position;
  r.hash = rec.chain_hash;
  r.duplicate = true;
  return r;
}

absl::Status Ledger::Impl::ProcessEvent(Group* g, PreparedEvent& pe, Undo* undo,
                                        AppendResult* out) {
  const PreparedEvent& ev = pe;
  // 1. Idempotency comes before identity resolution and expected_version (CONTRACT §1).
  if (auto it = inflight.find(ev.event_id); it != inflight.end()) {
    if (it->second.content_digest != pe.content_digest) return DuplicateMismatch(ev.event_id);
    *out = it->second.result;
    out->duplicate = true;
    return absl::OkStatus();
  }
  if (auto it = stored_ids.find(ev.event_id); it != stored_ids.end()) {
    EventIdEntry entry;
    if (!DecodeEventIdEntry(it->second, &entry)) {
      return absl::DataLossError(
          AbslView(StrCat("corrupt event_id index entry for ", ev.event_id)));
    }
    if (entry.content_digest != pe.content_digest) return DuplicateMismatch(ev.event_id);
    ASSIGN_OR_RETURN(*out, ResultOfStored(entry, ev));
    return absl::OkStatus();
  }

  // 2. Identity resolution; links take effect in append order.
  std::vector<std::string> record_links;
  std::string customer_id;
  if (!ev.customer_id.empty()) {
    customer_id = ev.customer_id;
    if (!pe.identity_key.empty()) {
      std::string current = LoadLink(pe.identity_key);
      if (current.empty() || (IsAnonymousCustomerId(current) && current != customer_id)) {
        SetLink(g, pe.identity_key, customer_id, undo, &record_links);
      }
    }
  } else {
    customer_id = LoadLink(pe.identity_key);
    if (customer_id.empty()) {
      customer_id = AnonymousCustomerId(pe.identity_key);
      SetLink(g, pe.identity_key, customer_id, undo, &record_links);
    }
  }
  if (!pe.linked_identity_key.empty()) {
    SetLink(g, pe.linked_identity_key, customer_id, undo, &record_links);
  }

  // 3. Optimistic concurrency on the customer's stream.
  ASSIGN_OR_RETURN(CustomerHead head, LoadCustomerHead(customer_id));
  if (ev.expected_version && static_cast<uint64_t>(*ev.expected_version) != head.seq.value()) {
    return VersionConflict(customer_id, *ev.expected_version,
                           static_cast<int64_t>(head.seq.value()));
  }

  // 4. Sequence and hash.
  uint32_t p = PartitionFor(customer_id, owner->partitions_);
  PartitionHead& ph = heads[p];
  undo->partitions.emplace_back(p, ph);
  undo->customers.emplace_back(customer_id, head);
  Position position(ph.position.value() + 1);
  Seq seq(head.seq.value() + 1);

  StoredRecord rec;
  Digest digest;
  if (!pe.record_prefix.empty()) {
    rec.canonical = std::move(pe.record_prefix);
    size_t suffix_start = rec.canonical.size();
    AppendCanonicalRecordSuffix(&rec.canonical, ev.event_id, PartitionId(p), position, recorded_at,
                                seq);
    Sha256Hasher hasher = pe.record_prefix_hash;
    hasher.Update(std::string_view(rec.canonical).substr(suffix_start));
    digest = hasher.Finish();
  } else {
    rec.canonical.reserve(pe.canonical.head.size() + pe.canonical.tail.size() + 200);
    AppendCanonicalRecord(&rec.canonical, customer_id, pe.canonical.head, pe.canonical.tail,
                          ev.event_id, PartitionId(p), position, recorded_at, seq);
    digest = Sha256(rec.canonical);
  }
  rec.partition = PartitionId(p);
  rec.position = position;
  rec.customer_id = customer_id;
  rec.seq = seq;
  rec.recorded_at = recorded_at;
  rec.occurred_at = ev.occurred_at;
  rec.event_id = ev.event_id;
  rec.chain_hash = ChainHash(ph.hash, digest);
  rec.customer_hash = ChainHash(head.hash, digest);
  rec.links = std::move(record_links);

  g->batch.Put(owner->records_[p], RecordKey(rec.partition, position), EncodeRecordView(rec));
  g->batch.Put(owner->customers_, CustomerIndexKey(customer_id, seq),
               EncodeCustomerIndexEntry({position, ev.occurred_at, rec.customer_hash}));
  g->batch.Put(owner->event_ids_, ev.event_id,
               EncodeEventIdEntry({rec.partition, position, pe.content_digest}));

  ph.position = position;
  ph.hash = rec.chain_hash;
  customer_heads[customer_id] = CustomerHead{seq, rec.customer_hash};
  dirty_partitions.insert(p);

  out->event_id = ev.event_id;
  out->customer_id = customer_id;
  out->partition = rec.partition;
  out->seq = seq;
  out->position = position;
  out->hash = rec.chain_hash;
  out->duplicate = false;
  inflight.emplace(ev.event_id, InFlightId{pe.content_digest, *out});
  undo->ids.push_back(ev.event_id);
  return absl::OkStatus();
}

void Ledger::Impl::WriterLoop() {
  pthread_setname_np(pthread_self(), "ledger-write");
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  while (true) {
    std::unique_ptr<Group> g;
    absl::Status failed_before;
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](Impl* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu) {
            return self->sequencer_done || !self->to_write.empty();
          },
          this));
      if (to_write.empty()) return;
      g = std::move(to_write.front());
      to_write.pop_front();
      failed_before = failed;
    }
    absl::Status status = failed_before;
    auto t0 = std::chrono::steady_clock::now();
    timespec cpu0, cpu1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    if (status.ok() && g->batch.Count() > 0) {
      rocksdb::Status s = owner->db_->Write(wo, &g->batch);
      if (!s.ok()) status = ToStatus(s, "ledger write");
    }
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    {
      absl::MutexLock lock(&mu);
      stats.write_micros += static_cast<uint64_t>(micros);
      stats.write_cpu_micros += static_cast<uint64_t>((cpu1.tv_sec - cpu0.tv_sec) * 1000000 +
                                                      (cpu1.tv_nsec - cpu0.tv_nsec) / 1000);
      if (!status.ok() && failed.ok()) failed = status;
      durable_group = g->id;
      // Kept for reuse unless unusually large (one huge HTTP batch should not stay allocated).
      if (g->batch.GetDataSize() <= kMaxSpareBatchBytes && spare_batches.size() < 3) {
        g->batch.Clear();
        spare_batches.push_back(std::move(g->batch));
      }
      if (status.ok()) {
        durable_heads = g->heads_after;
        ++stats.groups;
        stats.events_appended += g->appended;
        stats.duplicates += g->duplicates;
        stats.failed_units += g->failed_units;
      }
    }
    owner->group_events_.Observe(
        static_cast<double>(g->appended + g->duplicates + g->failed_units));
    auto finished = std::chrono::steady_clock::now();
    for (Request* r : g->requests) {
      owner->append_latency_.Observe(
          std::chrono::duration<double>(finished - r->submitted).count());
      if (!status.ok()) {
        r->status = status;
        for (auto& e : r->each) e = status;
      }
      r->done.Notify();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Ledger

Ledger::Ledger(std::string dir, const LedgerOptions& options)
    : dir_(std::move(dir)), options_(options) {}

Ledger::~Ledger() {
  if (impl_) {
    {
      absl::MutexLock lock(&impl_->mu);
      impl_->stopping = true;
    }
    impl_->sequencer.join();
    impl_->writer.join();
  }
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  if (db_) db_->Close();
}

absl::Status Ledger::Open(const std::string& dir, const LedgerOptions& options,
                          std::unique_ptr<Ledger>* out) {
  std::unique_ptr<Ledger> ledger(new Ledger(dir, options));
  StorageHandles h;
  RETURN_IF_ERROR(OpenStorage(dir, options, &h));
  ledger->db_ = std::move(h.db);
  ledger->handles_ = std::move(h.handles);
  h.handles.clear();
  ledger->partitions_ = h.partitions;
  ledger->records_ = h.records;
  ledger->extra_ = h.extra;
  ledger->customers_ = h.customers;
  ledger->event_ids_ = h.event_ids;
  ledger->identities_ = h.identities;
  ledger->heads_ = h.heads;

  if (!options.read_only) {
    auto impl = std::make_unique<Impl>(ledger.get());
    ledger->impl_ = std::move(impl);
    std::vector<PartitionHead> heads = ledger->Heads();
    // The heads are written in the same batch as the records; a record past a head means the
    // store was changed behind our back.
    for (const auto& head : heads) {
      std::string value;
      rocksdb::Status s =
          ledger->db_->Get(rocksdb::ReadOptions(), ledger->records_[head.partition.value()],
                           RecordKey(head.partition, Position(head.position.value() + 1)), &value);
      if (s.ok()) {
        return absl::DataLossError(
            AbslView(StrCat("partition ", head.partition.value(),
                            " has a record past its head position ", head.position.value())));
      }
    }
    ledger->impl_->heads = heads;
    {
      absl::MutexLock lock(&ledger->impl_->mu);
      ledger->impl_->durable_heads = heads;
    }
    Impl* impl_ptr = ledger->impl_.get();
    impl_ptr->sequencer = std::thread([impl_ptr] { impl_ptr->SequencerLoop(); });
    impl_ptr->writer = std::thread([impl_ptr] { impl_ptr->WriterLoop(); });
  }
  *out = std::move(ledger);
  return absl::OkStatus();
}

absl::Status Ledger::Enqueue(Request* request) {
  if (!impl_) return absl::FailedPreconditionError("the ledger is open read-only");
  absl::MutexLock lock(&impl_->mu);
  if (impl_->stopping) return absl::UnavailableError("the ledger is closing");
  impl_->pending.push_back(request);
  return absl::OkStatus();
}

Ledger::Pending::~Pending() {
  if (request_ && submit_status_.ok()) request_->done.WaitForNotification();
}

std::vector<absl::StatusOr<AppendResult>> Ledger::Pending::Wait() {
  size_t n = request_->events.size();
  if (!submit_status_.ok()) return std::vector<absl::StatusOr<AppendResult>>(n, submit_status_);
  request_->done.WaitForNotification();
  if (!request_->status.ok()) {
    return std::vector<absl::StatusOr<AppendResult>>(n, request_->status);
  }
  return std::move(request_->each);
}

std::unique_ptr<Ledger::Pending> Ledger::StartAppendEach(std::vector<PreparedEvent> events,
                                                         AppendHooks hooks) {
  auto pending = std::unique_ptr<Pending>(new Pending());
  pending->request_ = std::make_unique<Request>();
  pending->request_->events = std::move(events);
  pending->request_->atomic = false;
  pending->request_->hooks = std::move(hooks);
  if (pending->request_->events.empty() && pending->request_->hooks.always.empty()) {
    pending->request_->done.Notify();
    return pending;
  }
  pending->submit_status_ = Enqueue(pending->request_.get());
  return pending;
}

absl::StatusOr<std::vector<AppendResult>> Ledger::Append(std::vector<PreparedEvent> events) {
  if (events.empty()) return std::vector<AppendResult>();
  Request request;
  request.events = std::move(events);
  request.atomic = true;
  RETURN_IF_ERROR(Enqueue(&request));
  request.done.WaitForNotification();
  RETURN_IF_ERROR(request.status);
  return std::move(request.results);
}

std::vector<absl::StatusOr<AppendResult>> Ledger::AppendEach(std::vector<PreparedEvent> events) {
  return StartAppendEach(std::move(events))->Wait();
}

absl::Status Ledger::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return ToStatus(db_->Flush(fo, handles_), "flushing memtables");
}

absl::Status Ledger::Compact() {
  RETURN_IF_ERROR(Flush());
  for (auto* h : handles_) {
    RETURN_IF_ERROR(ToStatus(db_->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr),
                             "compacting"));
  }
  return absl::OkStatus();
}

rocksdb::ColumnFamilyHandle* Ledger::column_family(std::string_view name) const {
  for (size_t i = 0; i < options_.extra_column_families.size(); ++i) {
    if (options_.extra_column_families[i] == name) return extra_[i];
  }
  return nullptr;
}

uint64_t Ledger::WaitForCommit(uint64_t seen, absl::Duration timeout) const {
  if (!impl_) {
    absl::SleepFor(timeout);
    return seen;
  }
  std::pair<Impl*, uint64_t> arg(impl_.get(), seen);
  absl::MutexLock lock(&impl_->mu);
  impl_->mu.AwaitWithTimeout(absl::Condition(
                                 +[](std::pair<Impl*, uint64_t>* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                   return a->first->durable_group > a->second || a->first->stopping;
                                 },
                                 &arg),
                             timeout);
  return impl_->durable_group;
}

LedgerStats Ledger::stats() const {
  if (!impl_) return {};
  absl::MutexLock lock(&impl_->mu);
  return impl_->stats;
}

std::vector<PartitionHead> Ledger::Heads() const {
  if (impl_) {
    absl::MutexLock lock(&impl_->mu);
    if (!impl_->durable_heads.empty()) return impl_->durable_heads;
  }
  std::vector<PartitionHead> heads(partitions_);
  for (uint32_t p = 0; p < partitions_; ++p) {
    heads[p].partition = PartitionId(p);
    std::string value;
    uint64_t position = 0;
    if (db_->Get(rocksdb::ReadOptions(), heads_, PartitionHeadKey(PartitionId(p)), &value).ok() &&
        DecodeHead(value, &position, &heads[p].hash)) {
      heads[p].position = Position(position);
    }
  }
  return heads;
}

}  // namespace rapport::ledger
