#include "projections/runner.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "ledger/record.h"
#include "ledger/status_macros.h"
#include "ledger/storage.h"
#include "ledger/strings.h"
#include "ledger/thread_priority.h"
#include "projections/loyalty.h"
#include "projections/profile.h"
#include "projections/resume.h"
#include "projections/state_codec.h"
#include "rocksdb/db.h"
#include "rocksdb/sst_file_writer.h"
#include "rocksdb/write_batch.h"

namespace rapport::projections {
namespace {

// A reducer state behind one interface, so that the runner treats the three projections alike.
class AnyState {
 public:
  virtual ~AnyState() = default;
  virtual void Apply(const Touch& touch, const Rules& rules) = 0;
  virtual std::string Render(ledger::Timestamp as_of, const Rules& rules) const = 0;
  virtual std::string Encode() const = 0;
  virtual bool Decode(std::string_view bytes) = 0;
  virtual std::unique_ptr<AnyState> Clone() const = 0;
};

template <typename S, void (*ApplyFn)(S*, const Touch&, const Rules&),
          std::string (*RenderFn)(const S&, ledger::Timestamp, const Rules&),
          std::string (*EncodeFn)(const S&), bool (*DecodeFn)(std::string_view, S*)>
class StateOf final : public AnyState {
 public:
  void Apply(const Touch& touch, const Rules& rules) override { ApplyFn(&s_, touch, rules); }
  std::string Render(ledger::Timestamp as_of, const Rules& rules) const override {
    return RenderFn(s_, as_of, rules);
  }
  std::string Encode() const override { return EncodeFn(s_); }
  bool Decode(std::string_view bytes) override {
    s_ = S();
    return DecodeFn(bytes, &s_);
  }
  std::unique_ptr<AnyState> Clone() const override { return std::make_unique<StateOf>(*this); }

 private:
  S s_;
};

std::unique_ptr<AnyState> NewState(ProjectionKind kind) {
  switch (kind) {
    case ProjectionKind::kProfile:
      return std::make_unique<StateOf<ProfileState, ApplyProfile, RenderProfile, EncodeProfileState,
                                      DecodeProfileState>>();
    case ProjectionKind::kLoyalty:
      return std::make_unique<StateOf<LoyaltyState, ApplyLoyalty, RenderLoyalty, EncodeLoyaltyState,
                                      DecodeLoyaltyState>>();
    case ProjectionKind::kResume:
      return std::make_unique<
          StateOf<ResumeState, ApplyResume, RenderResume, EncodeResumeState, DecodeResumeState>>();
  }
  return nullptr;
}

// Events may arrive late: up to this long before the customer's latest event they are kept as
// "pending" (sorted, not yet applied); older ones are folded into the "settled" state. An event
// older than the settled part forces a fold of the customer from the ledger (rare), so the cost
// of late events no longer grows with the length of a customer's history.
constexpr int64_t kReorderWindowMicros = 7 * ledger::kMicrosPerDay;

using SharedTouch = std::shared_ptr<const Touch>;

bool KeyLess(int64_t t1, uint64_t s1, int64_t t2, uint64_t s2) {
  return t1 != t2 ? t1 < t2 : s1 < s2;
}
bool TouchLess(const SharedTouch& a, const SharedTouch& b) { return VisibleBefore(*a, *b); }

std::vector<SharedTouch> Share(std::vector<Touch> touches) {
  std::vector<SharedTouch> out;
  out.reserve(touches.size());
  for (auto& t : touches) out.push_back(std::make_shared<const Touch>(std::move(t)));
  return out;
}

// Reads the customer's touches with the given seqs (ascending) from the ledger.
using TouchLoader =
    std::function<absl::StatusOr<std::vector<SharedTouch>>(const std::vector<uint64_t>& seqs)>;

// Every so many settled events a customer's settled state is kept as a snapshot, so that a query
// as of an earlier time folds only the events after the nearest snapshot: every 128 events, or
// more rarely for a large state, so that snapshots cost at most ~32 bytes per event.
constexpr uint64_t kSnapshotEvery = 128;
constexpr uint64_t kSnapshotBytesPerEvent = 32;

// A settled state as of its boundary (the (occurred_at, seq) of its last event), with what
// an as-of query must add to it: the events pending at that point and those with a greater seq.
struct Snapshot {
  int64_t time = 0;
  uint64_t seq = 0;
  uint64_t max_seq = 0;
  std::vector<uint64_t> pending_seqs;
  std::string state;

  std::string Encode() const {
    std::string out;
    StateWriter w(&out);
    w.U64(max_seq);
    w.U64(pending_seqs.size());
    for (uint64_t s : pending_seqs) w.U64(s);
    w.Str(state);
    return out;
  }
  bool Decode(std::string_view bytes) {
    StateReader r(bytes);
    uint64_t n = 0;
    if (!r.U64(&max_seq) || !r.U64(&n) || n > bytes.size()) return false;
    pending_seqs.resize(n);
    for (auto& s : pending_seqs) {
      if (!r.U64(&s)) return false;
    }
    return r.Str(&state) && r.AtEnd();
  }
};

// A settled state is stored as a "base": inline in the customer's value while small, else under a
// key of its own (BaseKey) that is rewritten only every so many settled events — a busy
// customer's state (a loyalty state keeps every order) is not rewritten after every batch. The
// value names the events applied after the base (settled since, then pending), and whoever needs
// the state re-applies them from the ledger. Bounds: a base under its own key is rewritten once
// the events after it would take ~1/256 of its size to name, and at most every 1,024 events.
constexpr size_t kInlineBaseBytes = 2048;
constexpr size_t kBaseBytesPerTailEvent = 256;
constexpr size_t kMaxTailEvents = 1024;

// A stored value, parsed; string_views into the value's bytes.
struct StoredValue {
  int64_t last_occurred = INT64_MIN;
  uint64_t max_seq = 0;
  int64_t settled_time = INT64_MIN;
  uint64_t settled_seq = 0;
  uint64_t settled_count = 0;
  uint64_t next_snapshot = 0;
  int64_t base_time = INT64_MIN;
  uint64_t base_seq = 0;
  uint64_t base_count = 0;
  bool base_external = false;
  std::string_view inline_base;
  std::vector<uint64_t> tail;  // seqs applied after the base, ascending
  std::string_view rendered;   // "" when not stored (rebuilds)

  bool Parse(std::string_view bytes) {
    StateReader r(bytes);
    uint64_t external = 0, n = 0;
    if (!r.I64(&last_occurred) || !r.U64(&max_seq) || !r.I64(&settled_time) ||
        !r.U64(&settled_seq) || !r.U64(&settled_count) || !r.U64(&next_snapshot) ||
        !r.I64(&base_time) || !r.U64(&base_seq) || !r.U64(&base_count) || !r.U64(&external) ||
        external > 1 || !r.View(&inline_base) || !r.U64(&n) || n > bytes.size()) {
      return false;
    }
    base_external = external == 1;
    tail.resize(n);
    for (auto& seq : tail) {
      if (!r.U64(&seq)) return false;
    }
    return r.View(&rendered) && r.AtEnd();
  }
};

// What writing one projection takes: its value, and what becomes of its base key.
struct EncodedProjection {
  std::string value;
  enum class Base { kKeep, kPut, kDelete } base = Base::kKeep;
  std::string base_bytes;  // kPut
};

// One customer's projection as the runner keeps it: the settled state, the pending events, and
// the full state (settled + pending applied) kept up to date incrementally, so that reading the
// projection never re-applies the pending events.
struct CustomerProjection {
  std::unique_ptr<AnyState> settled;
  std::unique_ptr<AnyState> full;
  int64_t settled_time = INT64_MIN;  // (occurred_at, seq) of the last settled event
  uint64_t settled_seq = 0;
  std::deque<SharedTouch> pending;    // sorted by (occurred_at, seq); shared between projections
  int64_t last_occurred = INT64_MIN;  // the latest occurred_at applied
  uint64_t max_seq = 0;               // the greatest seq applied
  std::string rendered;               // full, rendered as of last_occurred ("" if not yet)
  // Whether `full` is kept current on every Add (live updates), or computed once when encoded
  // (rebuilds, whose events arrive far faster than anyone reads them).
  bool maintain_full = true;
  bool full_valid = true;
  // Nonzero: an event came later than the reorder window; the customer is folded again from the
  // ledger up to this seq at the end of the chunk.
  uint64_t refold_to_seq = 0;
  // The earliest (occurred_at, seq) among the events held for that refold.
  int64_t refold_min_time = INT64_MAX;
  uint64_t refold_min_seq = UINT64_MAX;
  // Set when the projection was folded again from a stored snapshot: the stored snapshots after
  // this boundary are stale (those before it stay exact).
  std::optional<std::pair<int64_t, uint64_t>> reset_snapshots_after;
  uint64_t settled_count = 0;
  uint64_t next_snapshot = kSnapshotEvery;  // settled_count at which to take the next one
  // Snapshots made since the last write; `snapshots_reset`: the stored ones are stale (refold).
  std::vector<Snapshot> new_snapshots;
  bool snapshots_reset = false;
  // The stored base (see kInlineBaseBytes): the settled state as of (base_time, base_seq) after
  // base_count events, and the seqs settled since, in order. !base_valid: no stored base is a
  // prefix of `settled` (a new or refolded projection), so the next write makes one.
  bool base_valid = false;
  bool base_external = false;  // under BaseKey, not inline
  size_t base_size = 0;
  int64_t base_time = INT64_MIN;
  uint64_t base_seq = 0;
  uint64_t base_count = 0;
  std::vector<uint64_t> since_base;

  void MakeFull(const Rules& rules) {
    full = settled->Clone();
    for (const auto& t : pending) full->Apply(*t, rules);
    full_valid = true;
  }

  explicit CustomerProjection(ProjectionKind kind)
      : settled(NewState(kind)), full(NewState(kind)) {}

  // Adds an event; false (and no change) when it sorts before the settled part.
  bool Add(SharedTouch touch, const Rules& rules) {
    const int64_t t = touch->event.occurred_at.micros;
    if (KeyLess(t, touch->seq, settled_time, settled_seq)) return false;
    // Rebuilds and live updates mostly bring events in time order: try the end first.
    auto at = pending.empty() || !TouchLess(touch, pending.back())
                  ? pending.end()
                  : std::upper_bound(pending.begin(), pending.end(), touch, TouchLess);
    if (!maintain_full) {
      full_valid = false;
    } else if (full_valid && at == pending.end()) {
      full->Apply(*touch, rules);  // in time order: the common case
    } else {
      full_valid = false;  // a late event within the window: rebuilt from settled + pending
    }
    last_occurred = std::max(last_occurred, t);
    max_seq = std::max(max_seq, touch->seq);
    rendered.clear();
    pending.insert(at, std::move(touch));
    // A late event (within the window) leaves `full` to be made again once, when the state is
    // next written, not per event: a busy customer can have many in one batch.
    const int64_t horizon = last_occurred - kReorderWindowMicros;
    while (!pending.empty() && pending.front()->event.occurred_at.micros < horizon) {
      settled->Apply(*pending.front(), rules);
      settled_time = pending.front()->event.occurred_at.micros;
      settled_seq = pending.front()->seq;
      since_base.push_back(settled_seq);
      pending.pop_front();
      if (++settled_count >= next_snapshot) {
        Snapshot& s = new_snapshots.emplace_back();
        s.time = settled_time;
        s.seq = settled_seq;
        s.max_seq = max_seq;
        for (const auto& t : pending) s.pending_seqs.push_back(t->seq);
        s.state = settled->Encode();
        next_snapshot =
            settled_count + std::max(kSnapshotEvery, s.state.size() / kSnapshotBytesPerEvent);
      }
    }
    return true;
  }

  // `render`: store the full state rendered too (live updates; rebuilds leave it to readers).
  // `rebuild`: the base is rewritten and kept inline (a rebuild's SST files hold values only).
  EncodedProjection Encode(bool render, const Rules& rules, bool rebuild = false) {
    EncodedProjection out;
    const bool rewrite = rebuild || !base_valid || !base_external ||
                         since_base.size() >= std::clamp<size_t>(base_size / kBaseBytesPerTailEvent,
                                                                 1, kMaxTailEvents);
    std::string inline_base;
    if (rewrite) {
      std::string bytes = settled->Encode();
      base_time = settled_time;
      base_seq = settled_seq;
      base_count = settled_count;
      base_size = bytes.size();
      since_base.clear();
      base_valid = true;
      if (rebuild || bytes.size() <= kInlineBaseBytes) {
        if (base_external) out.base = EncodedProjection::Base::kDelete;
        base_external = false;
        inline_base = std::move(bytes);
      } else {
        base_external = true;
        out.base = EncodedProjection::Base::kPut;
        out.base_bytes = std::move(bytes);
      }
    }
    if (render && rendered.empty()) {
      if (!full_valid) MakeFull(rules);
      rendered = full->Render(ledger::Timestamp{last_occurred}, rules);
    }
    std::vector<uint64_t> tail = since_base;
    for (const auto& t : pending) tail.push_back(t->seq);
    std::sort(tail.begin(), tail.end());
    out.value.reserve(96 + inline_base.size() + (render ? rendered.size() : 0) + 4 * tail.size());
    StateWriter w(&out.value);
    w.I64(last_occurred);
    w.U64(max_seq);
    w.I64(settled_time);
    w.U64(settled_seq);
    w.U64(settled_count);
    w.U64(next_snapshot);
    w.I64(base_time);
    w.U64(base_seq);
    w.U64(base_count);
    w.U64(base_external ? 1 : 0);
    w.Str(inline_base);
    w.U64(tail.size());
    for (uint64_t seq : tail) w.U64(seq);
    w.Str(render ? rendered : std::string());
    return out;
  }

  // Makes the projection from its stored value and base (`base`: the value's inline base, or the
  // bytes under its BaseKey), re-applying the events after the base, read with `load`. With
  // `make_full` (readers) the result is only for rendering; the runner makes `full` when it next
  // needs it.
  absl::Status Restore(const StoredValue& v, std::string_view base, const TouchLoader& load,
                       bool make_full, const Rules& rules) {
    auto bad = [] { return absl::DataLossError("corrupt projection state"); };
    if (!settled->Decode(base)) return bad();
    settled_time = v.base_time;
    settled_seq = v.base_seq;
    settled_count = v.base_count;
    pending.clear();
    since_base.clear();
    new_snapshots.clear();
    const bool maintain = maintain_full;
    maintain_full = false;
    full_valid = false;
    next_snapshot = UINT64_MAX;  // the snapshots of these events were taken when they settled
    if (!v.tail.empty()) {
      ASSIGN_OR_RETURN(std::vector<SharedTouch> touches, load(v.tail));
      if (touches.size() != v.tail.size()) return bad();
      std::sort(touches.begin(), touches.end(), TouchLess);
      for (auto& t : touches) {
        if (!Add(std::move(t), rules)) return bad();
      }
    }
    if (settled_time != v.settled_time || settled_seq != v.settled_seq ||
        settled_count != v.settled_count) {
      return bad();
    }
    maintain_full = maintain;
    last_occurred = v.last_occurred;
    max_seq = v.max_seq;
    next_snapshot = v.next_snapshot;
    rendered = std::string(v.rendered);
    base_valid = true;
    base_external = v.base_external;
    base_size = base.size();
    base_time = v.base_time;
    base_seq = v.base_seq;
    base_count = v.base_count;
    if (make_full) {
      // For a reader, about to render: the pending events go onto the settled state itself
      // (no copy of it), which becomes the full one; nothing may be added afterwards.
      for (const auto& t : pending) settled->Apply(*t, rules);
      full.swap(settled);
      full_valid = true;
    }
    return absl::OkStatus();
  }

  // The projection as of `as_of` >= last_occurred, or as of the latest event.
  std::string Render(std::optional<ledger::Timestamp> as_of, const Rules& rules) const {
    if (!as_of && !rendered.empty()) return rendered;
    return full->Render(as_of.value_or(ledger::Timestamp{last_occurred}), rules);
  }
};

TouchLoader LoaderFor(const ledger::Ledger& ledger, std::string customer_id) {
  return [&ledger, customer_id = std::move(customer_id)](
             const std::vector<uint64_t>& seqs) -> absl::StatusOr<std::vector<SharedTouch>> {
    ASSIGN_OR_RETURN(auto records, ledger.ReadCustomer(customer_id, ledger::Seq(seqs.front() - 1),
                                                       seqs.back() - seqs.front() + 1));
    std::vector<SharedTouch> out;
    size_t next = 0;
    for (const auto& record : records) {
      if (next < seqs.size() && record.seq.value() == seqs[next]) {
        auto t = std::make_shared<Touch>();
        RETURN_IF_ERROR(ReadTouch(record, t.get()));
        out.push_back(std::move(t));
        ++next;
      }
    }
    return out;
  };
}

std::string StateKey(ProjectionKind kind, uint32_t version, std::string_view customer_id);
std::string BaseKey(ProjectionKind kind, uint32_t version, std::string_view customer_id);

// `cp` made from the stored value `bytes` of `customer`, its base read from its own key (at
// `snapshot`, when given) unless inline.
absl::Status RestoreStored(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                           const ledger::Ledger& ledger, ProjectionKind kind, uint32_t version,
                           std::string_view customer, std::string_view bytes,
                           const rocksdb::Snapshot* snapshot, bool make_full, const Rules& rules,
                           CustomerProjection* cp) {
  StoredValue v;
  if (!v.Parse(bytes)) return absl::DataLossError("corrupt projection state");
  std::string external;
  std::string_view base = v.inline_base;
  if (v.base_external) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    rocksdb::Status s = db->Get(ro, cf, BaseKey(kind, version, customer), &external);
    if (s.IsNotFound()) return absl::DataLossError("projection state without its base");
    RETURN_IF_ERROR(ledger::ToStatus(s, "reading projection state"));
    base = external;
  }
  return cp->Restore(v, base, LoaderFor(ledger, std::string(customer)), make_full, rules);
}

std::string StateKey(ProjectionKind kind, uint32_t version, std::string_view customer_id) {
  std::string key;
  key.push_back(static_cast<char>(kind));
  ledger::PutFixed32BE(&key, version);
  key.append(customer_id);
  return key;
}

// A settled state too large to keep inline in its value (see kInlineBaseBytes): 0x40 | kind,
// version, customer — between the state keys and the snapshots.
std::string BaseKey(ProjectionKind kind, uint32_t version, std::string_view customer_id) {
  std::string key;
  key.push_back(static_cast<char>(0x40 | static_cast<int>(kind)));
  ledger::PutFixed32BE(&key, version);
  key.append(customer_id);
  return key;
}

// Snapshots sort after every state key: 0x80 | kind, version, customer, 0x00, boundary.
std::string SnapshotPrefix(ProjectionKind kind, uint32_t version, std::string_view customer_id) {
  std::string key;
  key.push_back(static_cast<char>(0x80 | static_cast<int>(kind)));
  ledger::PutFixed32BE(&key, version);
  key.append(customer_id);
  key.push_back('\0');
  return key;
}
std::string SnapshotKey(ProjectionKind kind, uint32_t version, std::string_view customer_id,
                        int64_t time, uint64_t seq) {
  std::string key = SnapshotPrefix(kind, version, customer_id);
  ledger::PutFixed64BE(&key, static_cast<uint64_t>(time) ^ (uint64_t{1} << 63));  // signed order
  ledger::PutFixed64BE(&key, seq);
  return key;
}

std::string CurrentKey(ProjectionKind kind) { return StrCat("current/", ProjectionName(kind)); }
std::string FingerprintKey(ProjectionKind kind, uint32_t version) {
  return StrCat("fingerprint/", ProjectionName(kind), "/", version);
}
// What a version's states were built with: the rules, and the format of the stored states (a
// version stored in another format is rebuilt like one built with other rules).
constexpr std::string_view kStateFormat = "state/v3;";
std::string StoredFingerprint(const Rules& rules) {
  return StrCat(kStateFormat, rules.Fingerprint());
}
std::string CheckpointKey(ProjectionKind kind, uint32_t version, uint32_t partition) {
  return StrCat("checkpoint/", ProjectionName(kind), "/", version, "/", partition);
}

// Removes every key of one version of a projection: states, bases, snapshots, fingerprint,
// checkpoints.
void DeleteVersion(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* states,
                   rocksdb::ColumnFamilyHandle* meta, ProjectionKind kind, uint32_t version,
                   uint32_t partitions) {
  batch->DeleteRange(states, StateKey(kind, version, ""), StateKey(kind, version + 1, ""));
  batch->DeleteRange(states, BaseKey(kind, version, ""), BaseKey(kind, version + 1, ""));
  batch->DeleteRange(states, SnapshotPrefix(kind, version, ""),
                     SnapshotPrefix(kind, version + 1, ""));
  batch->Delete(meta, FingerprintKey(kind, version));
  for (uint32_t p = 0; p < partitions; ++p) batch->Delete(meta, CheckpointKey(kind, version, p));
}

// Where a rebuild writes SST files before ingesting them: inside the database directory, so
// that ingesting moves them (a hard link) rather than copying.
std::string RebuildDir(rocksdb::DB* db) { return db->GetName() + "/projection-rebuild"; }

std::string U64Value(uint64_t v) {
  std::string out;
  ledger::PutFixed64BE(&out, v);
  return out;
}

}  // namespace

std::string ProjectionsDir(std::string_view ledger_dir) {
  return StrCat(ledger_dir, "/projections");
}

struct Runner::Version {
  ProjectionKind kind;
  uint32_t number = 1;
  bool rules_match = true;
  std::vector<uint64_t> checkpoints;  // last applied position, by partition (writers' view)
  // The checkpoints whose states are stored, for readers (Status); guarded by view_mu_.
  std::vector<uint64_t> visible;
};

Runner::Runner(ledger::Ledger* ledger, const RunnerOptions& options)
    : ledger_(ledger), options_(options) {}

Runner::~Runner() {
  stop_ = true;
  if (background_.joinable()) background_.join();
}

absl::Status Runner::Open(ledger::Ledger* ledger, const RunnerOptions& options,
                          std::unique_ptr<Runner>* out) {
  std::unique_ptr<Runner> runner(new Runner(ledger, options));
  ledger::SideStoreOptions so;
  so.read_only = ledger->read_only();
  so.write_buffer_bytes = options.store_write_buffer_bytes;
  absl::Status s = ledger::SideStore::Open(
      ProjectionsDir(ledger->dir()), {kProjectionsCf, kProjectionMetaCf}, so, &runner->store_);
  if (s.ok()) {
    runner->db_ = runner->store_->db();
    runner->states_cf_ = runner->store_->column_family(0);
    runner->meta_cf_ = runner->store_->column_family(1);
  } else if (!(ledger->read_only() && absl::IsNotFound(s))) {
    return s;
  }
  // Else a data dir no runner has written to yet, read-only: queries fold from the ledger.
  RETURN_IF_ERROR(runner->LoadVersions());
  *out = std::move(runner);
  return absl::OkStatus();
}

uint64_t Runner::StoredBytes() const {
  uint64_t bytes = 0;
  if (states_cf_ != nullptr)
    db_->GetIntProperty(states_cf_, "rocksdb.total-sst-files-size", &bytes);
  return bytes;
}

absl::Status Runner::LoadVersions() {
  rocksdb::DB* db = db_;
  const std::string fingerprint = StoredFingerprint(options_.rules);
  rocksdb::WriteBatch batch;
  absl::MutexLock lock(&mu_);
  for (ProjectionKind kind : kAllProjections) {
    auto v = std::make_unique<Version>();
    v->kind = kind;
    std::string value;
    rocksdb::Status s = meta_cf_ == nullptr
                            ? rocksdb::Status::NotFound()
                            : db->Get(rocksdb::ReadOptions(), meta_cf_, CurrentKey(kind), &value);
    if (s.ok() && value.size() == 8) {
      v->number = static_cast<uint32_t>(ledger::GetFixed64BE(value.data()));
      std::string stored;
      s = db->Get(rocksdb::ReadOptions(), meta_cf_, FingerprintKey(kind, v->number), &stored);
      v->rules_match = s.ok() && stored == fingerprint;
    } else if (s.IsNotFound()) {
      // First use: version 1 with today's rules, nothing applied yet.
      batch.Put(meta_cf_, CurrentKey(kind), U64Value(v->number));
      batch.Put(meta_cf_, FingerprintKey(kind, v->number), fingerprint);
    } else {
      return ledger::ToStatus(s, "reading projection metadata");
    }
    v->checkpoints.assign(ledger_->partitions(), 0);
    for (uint32_t p = 0; p < ledger_->partitions() && meta_cf_ != nullptr; ++p) {
      if (db->Get(rocksdb::ReadOptions(), meta_cf_, CheckpointKey(kind, v->number, p), &value)
              .ok() &&
          value.size() == 8) {
        v->checkpoints[p] = ledger::GetFixed64BE(value.data());
      }
    }
    absl::MutexLock view(&view_mu_);
    v->visible = v->checkpoints;
    current_.push_back(std::move(v));
  }
  // A read-only ledger cannot record version 1; its queries fold from the ledger.
  if (batch.Count() > 0 && !ledger_->read_only()) {
    RETURN_IF_ERROR(ledger::ToStatus(db->Write(store_->write_options(), &batch),
                                     "writing projection metadata"));
  }
  return absl::OkStatus();
}

// Runs one job at a time on a thread of its own, started once, at the nice value of the thread
// that starts the job (the background runner's, for `serve`).
class Runner::Helper {
 public:
  Helper() : thread_([this] { Loop(); }) {}
  ~Helper() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Starts `job` (which must outlive Wait) on the helper's thread; one at a time.
  void Start(const std::function<void()>& job) {
    {
      std::lock_guard lock(mu_);
      job_ = &job;
      nice_ = ledger::CurrentThreadNice();
    }
    cv_.notify_all();
  }
  // Returns when the started job has returned.
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return job_ == nullptr; });
  }

 private:
  void Loop() {
    pthread_setname_np(pthread_self(), "projections-2");
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || job_ != nullptr; });
      if (job_ == nullptr) return;  // stopping, nothing started
      const std::function<void()>* job = job_;
      const int nice = nice_;
      lock.unlock();
      ledger::MatchThreadNice(nice);
      (*job)();
      lock.lock();
      job_ = nullptr;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;  // started and not yet returned
  int nice_ = 0;                                // the starter's
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is made
};

absl::Status Runner::Advance(const std::vector<Version*>& versions, bool deferred,
                             uint64_t* applied, const std::function<void(uint64_t)>& on_batch,
                             std::vector<std::unique_ptr<PartitionPass>>* passes) {
  if (deferred) return RebuildPass(versions, applied, on_batch);
  // Partitions are independent (a customer lives in one): two threads share them out.
  std::vector<ledger::PartitionHead> heads = ledger_->Heads();
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> total{*applied};
  absl::Mutex callback_mu;
  std::vector<absl::Status> statuses(heads.size());
  std::function<void()> work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < heads.size();) {
      statuses[i] = AdvancePartition(
          versions, heads[i],
          [&](uint64_t n) {
            uint64_t done = total.fetch_add(n) + n;
            if (on_batch) {
              absl::MutexLock lock(&callback_mu);
              on_batch(done);
            }
          },
          passes != nullptr ? &(*passes)[i] : nullptr);
    }
  };
  const bool helped = heads.size() > 1;
  if (helped) {
    if (helper_ == nullptr) helper_ = std::make_unique<Helper>();
    helper_->Start(work);
  }
  work();
  if (helped) helper_->Wait();
  *applied = total.load();
  for (const auto& s : statuses) RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

// The projections of one partition's customers while records are applied to them: customer →
// projection in each version (null until the customer has an event to apply there), kept across
// chunks so that a state is decoded once per pass rather than once per chunk, and bounded. One
// thread at a time.
class Runner::PartitionPass {
 public:
  PartitionPass(Runner* runner, const std::vector<Version*>& versions, uint32_t partition,
                bool deferred)
      : runner_(runner),
        db_(runner->db_),
        rules_(runner->options_.rules),
        versions_(versions),
        p_(partition),
        deferred_(deferred),
        // A deferred (rebuild) pass starts from an empty version: until it first writes, there
        // is nothing to read back.
        maybe_stored_(!deferred) {}

  // Whether the cache is over its bound: write (rebuilds) or drop (live) it before going on.
  bool Full() const {
    return cache_.size() > (deferred_ ? runner_->options_.rebuild_cached_customers
                                      : runner_->options_.live_cached_customers);
  }
  void Clear() { cache_.clear(); }

  // Applies one record (its customer, position and parsed touch) to every version whose
  // checkpoint is before it.
  absl::Status Apply(std::string_view customer, uint64_t position, const SharedTouch& touch) {
    auto [it, inserted] = cache_.try_emplace(AbslView(customer));
    Projections& projections = it->second;
    if (inserted) projections.resize(versions_.size());
    for (size_t vi = 0; vi < versions_.size(); ++vi) {
      const Version* v = versions_[vi];
      if (v->checkpoints[p_] >= position) continue;
      if (!deferred_) touched_.emplace_back(vi, customer);
      std::unique_ptr<CustomerProjection>& cp = projections[vi];
      if (cp == nullptr) {
        cp = std::make_unique<CustomerProjection>(v->kind);
        cp->maintain_full = !deferred_;
        std::string value;
        rocksdb::Status s = rocksdb::Status::NotFound();
        if (maybe_stored_) {
          s = db_->Get(rocksdb::ReadOptions(), runner_->states_cf_,
                       StateKey(v->kind, v->number, customer), &value);
        }
        if (s.ok()) {
          // The runner is the only writer: no snapshot needed between the value and its base.
          RETURN_IF_ERROR(RestoreStored(db_, runner_->states_cf_, *runner_->ledger_, v->kind,
                                        v->number, customer, value, nullptr,
                                        /*make_full=*/false, rules_, cp.get()));
        } else if (!s.IsNotFound()) {
          return ledger::ToStatus(s, "reading projection state");
        }
      }
      if (cp->refold_to_seq > 0) {
        // Folded again from the ledger at the end of this chunk, this record included.
        cp->refold_to_seq = std::max(cp->refold_to_seq, touch->seq);
      } else if (!cp->Add(touch, rules_)) {
        // Later than the reorder window allows: the customer is folded again from the ledger,
        // once per chunk however many late events it has (Kafka partitions consumed at
        // different paces can bring many).
        cp->refold_to_seq = touch->seq;
        refolds_.emplace_back(vi, customer);
      }
      if (cp->refold_to_seq > 0 && KeyLess(touch->event.occurred_at.micros, touch->seq,
                                           cp->refold_min_time, cp->refold_min_seq)) {
        cp->refold_min_time = touch->event.occurred_at.micros;
        cp->refold_min_seq = touch->seq;
      }
    }
    return absl::OkStatus();
  }

  // After each chunk: folds again the customers that had events later than the window allows.
  absl::Status EndChunk() {
    if (refolds_.empty()) return absl::OkStatus();
    // A customer's stream is read once for all its projections that need it.
    std::sort(refolds_.begin(), refolds_.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    for (size_t i = 0; i < refolds_.size();) {
      const std::string customer = refolds_[i].second;
      size_t end = i;
      uint64_t to_seq = 0;
      for (; end < refolds_.size() && refolds_[end].second == customer; ++end) {
        to_seq = std::max(to_seq, cache_[customer][refolds_[end].first]->refold_to_seq);
      }
      // Live: from the nearest stored snapshot before the earliest late event, when there is one
      // (the stream's tail instead of all of it).
      bool all_from_snapshots = !deferred_;
      for (size_t j = i; j < end && all_from_snapshots; ++j) {
        std::unique_ptr<CustomerProjection>& cp = cache_[customer][refolds_[j].first];
        ASSIGN_OR_RETURN(std::unique_ptr<CustomerProjection> from,
                         FromSnapshot(refolds_[j].first, customer, *cp));
        if (from == nullptr) {
          all_from_snapshots = false;
        } else {
          cp = std::move(from);
        }
      }
      if (all_from_snapshots) {
        i = end;
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<Touch> read,
                       ReadTouches(*runner_->ledger_, customer, ledger::Seq(0), to_seq));
      std::vector<SharedTouch> touches = Share(std::move(read));
      std::sort(touches.begin(), touches.end(), TouchLess);
      for (; i < end; ++i) {
        const size_t vi = refolds_[i].first;
        std::unique_ptr<CustomerProjection>& cp = cache_[customer][vi];
        const uint64_t upto = cp->refold_to_seq;
        if (upto == 0) continue;  // already folded from a snapshot above
        cp = std::make_unique<CustomerProjection>(versions_[vi]->kind);
        cp->maintain_full = !deferred_;
        cp->snapshots_reset = true;
        // In time order, not seq order: no snapshot meanwhile (see FromSnapshot).
        cp->next_snapshot = UINT64_MAX;
        for (const auto& t : touches) {
          if (t->seq <= upto) cp->Add(t, rules_);
        }
        cp->next_snapshot = cp->settled_count + kSnapshotEvery;
      }
    }
    refolds_.clear();
    return absl::OkStatus();
  }

  // `cp` folded again from the newest stored snapshot before its earliest late event, with the
  // events after the snapshot read from the ledger; null when no snapshot fits.
  absl::StatusOr<std::unique_ptr<CustomerProjection>> FromSnapshot(size_t vi,
                                                                   const std::string& customer,
                                                                   const CustomerProjection& cp) {
    const Version* v = versions_[vi];
    std::string prefix = SnapshotPrefix(v->kind, v->number, customer);
    rocksdb::Slice lower(prefix);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, runner_->states_cf_));
    it->SeekForPrev(
        SnapshotKey(v->kind, v->number, customer, cp.refold_min_time, cp.refold_min_seq));
    if (!it->Valid()) {
      RETURN_IF_ERROR(ledger::ToStatus(it->status(), "reading snapshots"));
      return nullptr;
    }
    std::string_view key(it->key().data(), it->key().size());
    Snapshot snap;
    if (!key.starts_with(prefix) || key.size() != prefix.size() + 16 ||
        !snap.Decode(std::string_view(it->value().data(), it->value().size()))) {
      return nullptr;
    }
    snap.time = static_cast<int64_t>(ledger::GetFixed64BE(key.data() + prefix.size()) ^
                                     (uint64_t{1} << 63));
    snap.seq = ledger::GetFixed64BE(key.data() + prefix.size() + 8);
    if (!KeyLess(snap.time, snap.seq, cp.refold_min_time, cp.refold_min_seq) ||
        snap.max_seq >= cp.refold_to_seq) {
      return nullptr;
    }
    std::vector<SharedTouch> touches;
    if (!snap.pending_seqs.empty()) {
      std::sort(snap.pending_seqs.begin(), snap.pending_seqs.end());
      ASSIGN_OR_RETURN(touches, LoaderFor(*runner_->ledger_, customer)(snap.pending_seqs));
    }
    ASSIGN_OR_RETURN(auto later, runner_->ledger_->ReadCustomer(customer, ledger::Seq(snap.max_seq),
                                                                cp.refold_to_seq - snap.max_seq));
    for (const auto& record : later) {
      ASSIGN_OR_RETURN(Touch t, TouchFromRecord(record));
      touches.push_back(std::make_shared<const Touch>(std::move(t)));
    }
    for (const auto& t : touches) {
      // Everything after the snapshot must sort after its boundary, or it is stale.
      if (!KeyLess(snap.time, snap.seq, t->event.occurred_at.micros, t->seq)) return nullptr;
    }
    std::sort(touches.begin(), touches.end(), TouchLess);
    auto out = std::make_unique<CustomerProjection>(v->kind);
    if (!out->settled->Decode(snap.state))
      return absl::DataLossError("corrupt projection snapshot");
    out->settled_time = snap.time;
    out->settled_seq = snap.seq;
    out->last_occurred = snap.time;
    out->max_seq = snap.max_seq;
    out->maintain_full = true;
    out->MakeFull(rules_);
    out->reset_snapshots_after.emplace(snap.time, snap.seq);
    // Added in time order, not seq order: a snapshot taken meanwhile would claim seqs it has not
    // seen, so none is (the next comes kSnapshotEvery settled events later).
    out->next_snapshot = UINT64_MAX;
    for (auto& t : touches) {
      if (!out->Add(std::move(t), rules_)) return nullptr;
    }
    out->next_snapshot = out->settled_count + kSnapshotEvery;
    return out;
  }

  // Live updates: writes the states changed since the last call and the versions' checkpoints
  // in one WriteBatch, not synced: they come from records the ledger has synced, so a crash can
  // lose a tail of these writes (re-applied from the checkpoint stored with the states before
  // it) but never leaves the projections ahead of the ledger.
  absl::Status WriteTouched() {
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
    rocksdb::WriteBatch batch;
    for (const auto& [vi, customer] : touched_) {
      const Version* v = versions_[vi];
      CustomerProjection& cp = *cache_.find(customer)->second[vi];
      EncodedProjection e = cp.Encode(/*render=*/true, rules_);
      batch.Put(runner_->states_cf_, StateKey(v->kind, v->number, customer), e.value);
      if (e.base == EncodedProjection::Base::kPut) {
        batch.Put(runner_->states_cf_, BaseKey(v->kind, v->number, customer), e.base_bytes);
      } else if (e.base == EncodedProjection::Base::kDelete) {
        batch.Delete(runner_->states_cf_, BaseKey(v->kind, v->number, customer));
      }
      if (cp.snapshots_reset) {
        std::string prefix = SnapshotPrefix(v->kind, v->number, customer);
        std::string end = prefix;
        end.back() = '\x01';
        batch.DeleteRange(runner_->states_cf_, prefix, end);
        cp.snapshots_reset = false;
      } else if (cp.reset_snapshots_after) {
        std::string end = SnapshotPrefix(v->kind, v->number, customer);
        end.back() = '\x01';
        std::string after =
            SnapshotKey(v->kind, v->number, customer, cp.reset_snapshots_after->first,
                        cp.reset_snapshots_after->second);
        after.push_back('\0');  // the first key past the boundary
        batch.DeleteRange(runner_->states_cf_, after, end);
        cp.reset_snapshots_after.reset();
      }
      for (const auto& s : cp.new_snapshots) {
        batch.Put(runner_->states_cf_, SnapshotKey(v->kind, v->number, customer, s.time, s.seq),
                  s.Encode());
      }
      cp.new_snapshots.clear();
    }
    touched_.clear();
    for (const Version* v : versions_) {
      batch.Put(runner_->meta_cf_, CheckpointKey(v->kind, v->number, p_),
                U64Value(v->checkpoints[p_]));
    }
    return ledger::ToStatus(db_->Write(runner_->store_->write_options(), &batch),
                            "writing projection state");
  }

  // A rebuild: writes every cached projection (each for the last time) straight into SST files,
  // one per projection and key range (states, snapshots), in key order, ingests them into the
  // column family, and empties the cache. No memtable, WAL or flush: the rebuilt version serves
  // no one until the switch, and ingested files are durable. A crash before the switch leaves
  // the old version current, and the next Rebuild deletes what this one left. `tag` tells the
  // files of concurrent passes apart.
  absl::Status WriteAll(std::string_view tag) {
    std::vector<const std::string*> customers;
    customers.reserve(cache_.size());
    for (const auto& [customer, projections] : cache_) customers.push_back(&customer);
    std::sort(customers.begin(), customers.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    rocksdb::Options sst_options = db_->GetOptions(runner_->states_cf_);
    // Fresh data is uncompressed, as the column family flushes it.
    sst_options.compression_per_level.clear();
    sst_options.compression = rocksdb::kNoCompression;
    sst_options.bottommost_compression = rocksdb::kDisableCompressionOption;
    std::vector<std::string> files;
    rocksdb::WriteBatch resets;  // stale snapshots of refolded customers, from an earlier write
    auto write_file = [&](size_t vi, bool snapshots) -> absl::Status {
      const Version* v = versions_[vi];
      std::string path =
          StrCat(RebuildDir(db_), "/", ProjectionName(v->kind), "-", v->number, "-", p_, "-", tag,
                 "-", files_written_++, snapshots ? "-snapshots" : "", ".sst");
      rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), sst_options, runner_->states_cf_);
      RETURN_IF_ERROR(ledger::ToStatus(writer.Open(path), "writing projection state"));
      size_t entries = 0;
      for (const std::string* customer : customers) {
        CustomerProjection* cp = cache_.find(*customer)->second[vi].get();
        if (cp == nullptr) continue;
        rocksdb::Status s;
        if (!snapshots) {
          EncodedProjection e = cp->Encode(/*render=*/false, rules_, /*rebuild=*/true);
          s = writer.Put(StateKey(v->kind, v->number, *customer), e.value);
          // A base of its own from a live write of this version (none in practice) is stale.
          if (e.base == EncodedProjection::Base::kDelete) {
            resets.Delete(runner_->states_cf_, BaseKey(v->kind, v->number, *customer));
          }
          ++entries;
        } else {
          if (cp->snapshots_reset && maybe_stored_) {
            std::string prefix = SnapshotPrefix(v->kind, v->number, *customer);
            std::string end = prefix;
            end.back() = '\x01';
            resets.DeleteRange(runner_->states_cf_, prefix, end);
          }
          for (const auto& snap : cp->new_snapshots) {
            if (!s.ok()) break;
            s = writer.Put(SnapshotKey(v->kind, v->number, *customer, snap.time, snap.seq),
                           snap.Encode());
            ++entries;
          }
        }
        RETURN_IF_ERROR(ledger::ToStatus(s, "writing projection state"));
      }
      if (entries == 0) {
        // SstFileWriter cannot finish an empty file.
        std::error_code ec;
        std::filesystem::remove(path, ec);
        return absl::OkStatus();
      }
      RETURN_IF_ERROR(ledger::ToStatus(writer.Finish(), "writing projection state"));
      files.push_back(std::move(path));
      return absl::OkStatus();
    };
    for (size_t vi = 0; vi < versions_.size(); ++vi) {
      RETURN_IF_ERROR(write_file(vi, /*snapshots=*/true));
      RETURN_IF_ERROR(write_file(vi, /*snapshots=*/false));
    }
    if (resets.Count() > 0) {
      RETURN_IF_ERROR(ledger::ToStatus(db_->Write(runner_->store_->write_options(), &resets),
                                       "writing projection state"));
    }
    if (!files.empty()) {
      rocksdb::IngestExternalFileOptions ingest;
      ingest.move_files = true;
      RETURN_IF_ERROR(ledger::ToStatus(db_->IngestExternalFile(runner_->states_cf_, files, ingest),
                                       "ingesting projection state"));
    }
    maybe_stored_ = true;
    cache_.clear();
    return absl::OkStatus();
  }

 private:
  using Projections = std::vector<std::unique_ptr<CustomerProjection>>;

  Runner* const runner_;
  rocksdb::DB* const db_;
  const Rules& rules_;
  const std::vector<Version*>& versions_;
  const uint32_t p_;
  const bool deferred_;
  bool maybe_stored_;
  absl::flat_hash_map<std::string, Projections> cache_;
  std::vector<std::pair<size_t, std::string>> touched_;  // (version index, customer), live only
  std::vector<std::pair<size_t, std::string>> refolds_;
  int files_written_ = 0;
};

absl::Status Runner::AdvancePartition(const std::vector<Version*>& versions,
                                      const ledger::PartitionHead& head,
                                      const std::function<void(uint64_t)>& on_batch,
                                      std::unique_ptr<PartitionPass>* kept) {
  const uint32_t p = head.partition.value();
  uint64_t from = UINT64_MAX;
  for (const Version* v : versions) from = std::min(from, v->checkpoints[p]);
  std::unique_ptr<PartitionPass> own;
  std::unique_ptr<PartitionPass>& slot = kept != nullptr ? *kept : own;
  if (slot == nullptr) slot = std::make_unique<PartitionPass>(this, versions, p, false);
  PartitionPass& pass = *slot;
  // A runner being destroyed stops between chunks (each is stored with its checkpoint).
  while (from < head.position.value() && !stop_.load(std::memory_order_relaxed)) {
    if (pass.Full()) pass.Clear();
    std::vector<ledger::StoredRecord> chunk;
    RETURN_IF_ERROR(ledger_->ScanPartition(head.partition, ledger::Position(from + 1),
                                           [&](ledger::StoredRecord& r) {
                                             if (r.position > head.position) return false;
                                             chunk.push_back(std::move(r));
                                             return chunk.size() < options_.batch_records;
                                           }));
    if (chunk.empty()) break;
    for (const auto& record : chunk) {
      // Parsed in place: an Event is large, and moving it costs as much as parsing it.
      auto touch = std::make_shared<Touch>();
      RETURN_IF_ERROR(ReadTouch(record, touch.get()));
      RETURN_IF_ERROR(pass.Apply(record.customer_id, record.position.value(), touch));
    }
    RETURN_IF_ERROR(pass.EndChunk());
    uint64_t last = chunk.back().position.value();
    std::vector<uint64_t> before;
    for (Version* v : versions) {
      before.push_back(v->checkpoints[p]);
      v->checkpoints[p] = std::max(v->checkpoints[p], last);
    }
    if (absl::Status s = pass.WriteTouched(); !s.ok()) {
      // Nothing of this batch is stored: the checkpoints stay where the stored states are, and
      // the cached projections (ahead of them) are dropped.
      for (size_t i = 0; i < versions.size(); ++i) versions[i]->checkpoints[p] = before[i];
      pass.Clear();
      return s;
    }
    {
      absl::MutexLock view(&view_mu_);
      for (Version* v : versions) v->visible[p] = v->checkpoints[p];
    }
    from = last;
    on_batch(chunk.size());
  }
  return absl::OkStatus();
}

absl::Status Runner::RebuildPass(const std::vector<Version*>& versions, uint64_t* applied,
                                 const std::function<void(uint64_t)>& on_batch) {
  // Partitions differ in size, and customers more (under Zipf activity one customer can have a
  // tenth of all events), so sharing partitions out between two threads leaves one idle for a
  // long time. Instead this thread reads every partition's records, in turn, and two workers
  // parse and apply them, each for its own customers, and write their customers' states at the
  // end of every partition.
  constexpr size_t kWorkers = 2;
  constexpr size_t kMaxQueued = 16;  // chunks per worker: bounds memory
  // A chunk holds what the workers need of its records, not decoded records: their customer ids
  // and canonical bytes end to end in one buffer (one allocation a chunk, not four a record).
  struct Chunk {
    struct Item {
      uint64_t position = 0;
      uint64_t seq = 0;
      int64_t occurred_at = 0;
      uint32_t customer_at = 0;  // offsets and sizes in `bytes`
      uint32_t customer_size = 0;
      uint32_t canonical_at = 0;
      uint32_t canonical_size = 0;
      uint8_t worker = 0;
    };
    uint32_t partition = 0;
    bool end = false;  // the partition's last chunk was the one before
    std::string bytes;
    std::vector<Item> items;

    ledger::RecordView View(const Item& item) const {
      ledger::RecordView v;
      v.partition = ledger::PartitionId(partition);
      v.position = ledger::Position(item.position);
      v.seq = ledger::Seq(item.seq);
      v.occurred_at = ledger::Timestamp{item.occurred_at};
      v.customer_id = std::string_view(bytes).substr(item.customer_at, item.customer_size);
      v.canonical = std::string_view(bytes).substr(item.canonical_at, item.canonical_size);
      return v;
    }
  };
  using ChunkPtr = std::shared_ptr<const Chunk>;
  std::vector<ledger::PartitionHead> heads = ledger_->Heads();
  std::mutex mu;
  std::condition_variable cv;
  std::deque<ChunkPtr> queues[kWorkers];          // guarded by mu
  absl::Status failure;                           // guarded by mu
  std::vector<size_t> finished(heads.size(), 0);  // workers done with a partition, guarded by mu
  auto fail = [&](absl::Status s) {
    std::lock_guard lock(mu);
    if (failure.ok()) failure = std::move(s);
    cv.notify_all();
  };
  auto worker = [&](size_t w) {
    std::unique_ptr<PartitionPass> pass;
    const std::string tag = StrCat("w", w);
    while (true) {
      ChunkPtr chunk;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !queues[w].empty() || !failure.ok(); });
        if (!failure.ok()) return;
        chunk = std::move(queues[w].front());
        queues[w].pop_front();
        cv.notify_all();
      }
      if (chunk == nullptr) return;  // no more partitions
      const uint32_t p = chunk->partition;
      if (pass == nullptr) {
        pass = std::make_unique<PartitionPass>(this, versions, p, /*deferred=*/true);
      }
      absl::Status s;
      if (chunk->end) {
        s = pass->WriteAll(tag);
        pass.reset();
        bool last = false;
        if (s.ok()) {
          std::lock_guard lock(mu);
          last = ++finished[p] == kWorkers;
        }
        if (last) {
          // Both halves of the partition are stored: its checkpoints may say so.
          rocksdb::WriteBatch checkpoints;
          for (Version* v : versions) {
            v->checkpoints[p] = heads[p].position.value();
            checkpoints.Put(meta_cf_, CheckpointKey(v->kind, v->number, p),
                            U64Value(v->checkpoints[p]));
          }
          s = ledger::ToStatus(db_->Write(store_->write_options(), &checkpoints),
                               "writing projection checkpoints");
        }
      } else {
        if (pass->Full()) s = pass->WriteAll(tag);
        // Each worker parses its own records: the events live and die on one thread (memory
        // freed on another thread than it was allocated on is slow to free with glibc).
        for (size_t i = 0; s.ok() && i < chunk->items.size(); ++i) {
          if (chunk->items[i].worker != w) continue;
          const ledger::RecordView record = chunk->View(chunk->items[i]);
          auto touch = std::make_shared<Touch>();
          s = ReadTouch(record, touch.get());
          if (s.ok()) s = pass->Apply(record.customer_id, record.position.value(), touch);
        }
        if (s.ok()) s = pass->EndChunk();
      }
      if (!s.ok()) return fail(std::move(s));
    }
  };
  // Hands a chunk to both workers, waiting while either has too many; false once one failed.
  auto hand_out = [&](ChunkPtr chunk) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] {
      if (!failure.ok()) return true;
      for (const auto& q : queues) {
        if (q.size() >= kMaxQueued) return false;
      }
      return true;
    });
    if (!failure.ok()) return false;
    for (auto& q : queues) q.push_back(chunk);
    cv.notify_all();
    return true;
  };
  std::vector<std::thread> workers;
  for (size_t w = 0; w < kWorkers; ++w) workers.emplace_back(worker, w);
  // Chunks handed out, destroyed here once both workers are done with them (for the same reason
  // the workers parse their own records).
  std::deque<ChunkPtr> in_flight;
  auto reap = [&] {
    while (!in_flight.empty() && in_flight.front().use_count() == 1) in_flight.pop_front();
  };
  uint64_t done = *applied;
  absl::Status scan;
  // Customers go to workers as they first appear: to the one given fewer records so far (over
  // all partitions), so that a customer with a tenth of all events does not leave the other
  // worker idle. A customer lives in one partition: the map starts afresh with each.
  absl::flat_hash_map<std::string, uint8_t> owner;
  uint64_t given[kWorkers] = {};
  size_t chunk_bytes = 0;  // the size of the last chunk's buffer, to reserve the next one's
  for (size_t p = 0; p < heads.size() && scan.ok(); ++p) {
    const ledger::PartitionHead& head = heads[p];
    uint64_t from = UINT64_MAX;
    for (const Version* v : versions) from = std::min(from, v->checkpoints[p]);
    while (scan.ok() && from < head.position.value()) {
      auto chunk = std::make_shared<Chunk>();
      chunk->partition = static_cast<uint32_t>(p);
      chunk->items.reserve(options_.batch_records);
      chunk->bytes.reserve(chunk_bytes + chunk_bytes / 8);
      scan = ledger_->ScanPartitionViews(
          head.partition, ledger::Position(from + 1), [&](const ledger::RecordView& r) {
            if (r.position > head.position) return false;
            Chunk::Item& item = chunk->items.emplace_back();
            item.position = r.position.value();
            item.seq = r.seq.value();
            item.occurred_at = r.occurred_at.micros;
            item.customer_at = static_cast<uint32_t>(chunk->bytes.size());
            item.customer_size = static_cast<uint32_t>(r.customer_id.size());
            chunk->bytes.append(r.customer_id);
            item.canonical_at = static_cast<uint32_t>(chunk->bytes.size());
            item.canonical_size = static_cast<uint32_t>(r.canonical.size());
            chunk->bytes.append(r.canonical);
            auto [it, inserted] = owner.try_emplace(AbslView(r.customer_id));
            if (inserted) {
              it->second = static_cast<uint8_t>(
                  std::min_element(std::begin(given), std::end(given)) - std::begin(given));
            }
            ++given[it->second];
            item.worker = it->second;
            return chunk->items.size() < options_.batch_records;
          });
      if (!scan.ok() || chunk->items.empty()) break;
      chunk_bytes = chunk->bytes.size();
      from = chunk->items.back().position;
      size_t n = chunk->items.size();
      in_flight.push_back(chunk);
      if (!hand_out(std::move(chunk))) break;
      reap();
      done += n;
      if (on_batch) on_batch(done);
    }
    owner.clear();
    if (scan.ok()) {
      auto end = std::make_shared<Chunk>();
      end->partition = static_cast<uint32_t>(p);
      end->end = true;
      if (!hand_out(std::move(end))) break;
    }
  }
  if (scan.ok()) {
    hand_out(nullptr);
  } else {
    fail(scan);
  }
  for (auto& t : workers) t.join();
  *applied = done;
  std::lock_guard lock(mu);
  return failure;
}

absl::Status Runner::CatchUp() {
  uint64_t applied = 0;
  return CatchUp(&applied);
}

absl::Status Runner::CatchUp(uint64_t* applied) {
  *applied = 0;
  if (ledger_->read_only()) return absl::FailedPreconditionError("the ledger is read-only");
  absl::MutexLock lock(&mu_);
  std::vector<Version*> versions;
  std::vector<uint32_t> numbers;
  for (auto& v : current_) {
    // A version from other rules (or another state format) waits for its rebuild: adding to its
    // states would be wasted, or impossible.
    if (!v->rules_match) continue;
    versions.push_back(v.get());
    numbers.push_back(v->number);
  }
  if (versions.empty()) return absl::OkStatus();
  if (versions != live_versions_ || numbers != live_numbers_) {
    live_passes_.clear();
    live_versions_ = std::move(versions);
    live_numbers_ = std::move(numbers);
  }
  live_passes_.resize(ledger_->partitions());
  return Advance(live_versions_, /*deferred=*/false, applied, {}, &live_passes_);
}

void Runner::StartBackground() {
  if (background_.joinable()) return;
  background_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "projections");
    ledger::SetCurrentThreadNice(options_.background_nice);
    uint64_t seen = 0;
    uint64_t unflushed = 0;  // records applied since the last flush
    absl::Time flushed_at = absl::Now();
    while (!stop_.load()) {
      seen = ledger_->WaitForCommit(seen, absl::Milliseconds(200));
      if (stop_.load()) break;
      auto started = absl::Now();
      uint64_t applied = 0;
      absl::Status s = CatchUp(&applied);
      unflushed += applied;
      if (s.ok() && options_.store_flush_interval_ms > 0 && unflushed > 0 &&
          started - flushed_at >= absl::Milliseconds(options_.store_flush_interval_ms)) {
        // On RocksDB's flush thread: the next catch-up need not wait for it.
        s = store_->Flush(/*wait=*/false);
        unflushed = 0;
        flushed_at = started;
      }
      // Let commits accumulate so that a busy customer's events share a state write.
      absl::SleepFor(started + absl::Milliseconds(options_.live_interval_ms) - absl::Now());
      if (!s.ok()) {
        std::fprintf(stderr, "projections: %s\n", std::string(s.message()).c_str());
        absl::SleepFor(absl::Seconds(1));
      }
    }
  });
}

absl::StatusOr<std::string> Runner::Stored(ProjectionKind kind,
                                           std::string_view customer_id) const {
  if (states_cf_ == nullptr) {
    return absl::NotFoundError(AbslView(StrCat("no stored ", ProjectionName(kind))));
  }
  uint32_t version;
  {
    absl::MutexLock lock(&view_mu_);
    version = current_[static_cast<size_t>(kind)]->number;
  }
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), states_cf_, StateKey(kind, version, customer_id), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(AbslView(StrCat("no ", ProjectionName(kind), " for ", customer_id)));
  }
  RETURN_IF_ERROR(ledger::ToStatus(s, "reading projection state"));
  StoredValue stored;
  if (!stored.Parse(value)) return absl::DataLossError("corrupt projection state");
  if (!stored.rendered.empty()) return std::string(stored.rendered);
  // Not rendered (a rebuild wrote it): made from its base and the events after it.
  ASSIGN_OR_RETURN(std::optional<std::string> json,
                   RenderStored(kind, version, customer_id, std::nullopt));
  if (!json) {
    return absl::NotFoundError(AbslView(StrCat("no ", ProjectionName(kind), " for ", customer_id)));
  }
  return *std::move(json);
}

absl::StatusOr<std::optional<std::string>> Runner::RenderStored(
    ProjectionKind kind, uint32_t version, std::string_view customer_id,
    std::optional<ledger::Timestamp> as_of) const {
  // The value and its base as of one moment: the runner may rewrite both meanwhile.
  rocksdb::ManagedSnapshot snapshot(db_);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  std::string value;
  rocksdb::Status s = db_->Get(ro, states_cf_, StateKey(kind, version, customer_id), &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(ledger::ToStatus(s, "reading projection state"));
  StoredValue head;
  if (!head.Parse(value)) return absl::DataLossError("corrupt projection state");
  if (as_of && as_of->micros < head.last_occurred) return std::nullopt;
  if (as_of) {
    // The stored state holds every applied event; it answers for as_of only when those are all
    // of the customer's events (the runner is not behind for this customer).
    ASSIGN_OR_RETURN(ledger::Seq events, ledger_->CustomerVersion(customer_id));
    if (events.value() != head.max_seq) return std::nullopt;
  }
  CustomerProjection cp(kind);
  RETURN_IF_ERROR(RestoreStored(db_, states_cf_, *ledger_, kind, version, customer_id, value,
                                ro.snapshot, /*make_full=*/true, options_.rules, &cp));
  return cp.Render(as_of, options_.rules);
}

absl::StatusOr<std::string> Runner::Query(ProjectionKind kind, std::string_view customer_id,
                                          ledger::Timestamp as_of) const {
  if (states_cf_ == nullptr) {
    return FoldFromLedger(*ledger_, customer_id, kind, as_of, options_.rules);
  }
  uint32_t version;
  bool rules_match;
  {
    absl::MutexLock lock(&view_mu_);
    version = current_[static_cast<size_t>(kind)]->number;
    rules_match = current_[static_cast<size_t>(kind)]->rules_match;
  }
  if (rules_match) {
    absl::StatusOr<std::optional<std::string>> stored =
        RenderStored(kind, version, customer_id, as_of);
    // A state that cannot be read is answered from the ledger like a missing one.
    if (stored.ok() && stored->has_value()) return **std::move(stored);
    if (!stored.ok() && !absl::IsDataLoss(stored.status())) return stored.status();
  }
  if (rules_match) {
    ASSIGN_OR_RETURN(std::optional<std::string> from_snapshot,
                     QueryFromSnapshot(kind, version, customer_id, as_of));
    if (from_snapshot) return *std::move(from_snapshot);
  }
  return FoldFromLedger(*ledger_, customer_id, kind, as_of, options_.rules);
}

absl::StatusOr<std::optional<std::string>> Runner::QueryFromSnapshot(
    ProjectionKind kind, uint32_t version, std::string_view customer_id,
    ledger::Timestamp as_of) const {
  std::string prefix = SnapshotPrefix(kind, version, customer_id);
  rocksdb::Slice lower(prefix);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, states_cf_));
  it->SeekForPrev(SnapshotKey(kind, version, customer_id, as_of.micros, UINT64_MAX));
  if (!it->Valid()) {
    RETURN_IF_ERROR(ledger::ToStatus(it->status(), "reading snapshots"));
    return std::nullopt;
  }
  std::string_view key(it->key().data(), it->key().size());
  Snapshot snapshot;
  if (!key.starts_with(prefix) || key.size() != prefix.size() + 16 ||
      !snapshot.Decode(std::string_view(it->value().data(), it->value().size()))) {
    return absl::DataLossError("corrupt projection snapshot");
  }
  snapshot.time =
      static_cast<int64_t>(ledger::GetFixed64BE(key.data() + prefix.size()) ^ (uint64_t{1} << 63));
  snapshot.seq = ledger::GetFixed64BE(key.data() + prefix.size() + 8);
  // What the snapshot lacks: its pending events and every later seq, those visible at as_of.
  std::vector<SharedTouch> touches;
  if (!snapshot.pending_seqs.empty()) {
    std::sort(snapshot.pending_seqs.begin(), snapshot.pending_seqs.end());
    ASSIGN_OR_RETURN(touches, LoaderFor(*ledger_, std::string(customer_id))(snapshot.pending_seqs));
    std::erase_if(touches, [&](const SharedTouch& t) { return t->event.occurred_at > as_of; });
  }
  ASSIGN_OR_RETURN(auto later, ledger_->ReadCustomer(customer_id, ledger::Seq(snapshot.max_seq),
                                                     SIZE_MAX, as_of));
  for (const auto& record : later) {
    ASSIGN_OR_RETURN(Touch t, TouchFromRecord(record));
    // An event that sorts inside the snapshot arrived later than the runner could place it.
    if (KeyLess(t.event.occurred_at.micros, t.seq, snapshot.time, snapshot.seq)) {
      return std::nullopt;
    }
    touches.push_back(std::make_shared<const Touch>(std::move(t)));
  }
  std::sort(touches.begin(), touches.end(), TouchLess);
  auto state = NewState(kind);
  if (!state->Decode(snapshot.state)) return absl::DataLossError("corrupt projection snapshot");
  for (const auto& t : touches) state->Apply(*t, options_.rules);
  return state->Render(as_of, options_.rules);
}

absl::StatusOr<bool> Runner::HasStates(ProjectionKind kind, uint32_t version) const {
  for (const auto& [from, to] :
       {std::pair(StateKey(kind, version, ""), StateKey(kind, version + 1, "")),
        std::pair(BaseKey(kind, version, ""), BaseKey(kind, version + 1, "")),
        std::pair(SnapshotPrefix(kind, version, ""), SnapshotPrefix(kind, version + 1, ""))}) {
    rocksdb::Slice upper(to);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, states_cf_));
    it->Seek(from);
    if (it->Valid()) return true;
    RETURN_IF_ERROR(ledger::ToStatus(it->status(), "reading projection states"));
  }
  return false;
}

absl::Status Runner::Rebuild(const std::vector<ProjectionKind>& kinds,
                             const std::function<void(uint64_t, uint64_t)>& progress) {
  rocksdb::DB* db = db_;
  std::vector<std::unique_ptr<Version>> next;
  rocksdb::WriteBatch start;
  {
    absl::MutexLock lock(&mu_);
    for (ProjectionKind kind : kinds) {
      auto v = std::make_unique<Version>();
      v->kind = kind;
      v->number = current_[static_cast<size_t>(kind)]->number + 1;
      v->checkpoints.assign(ledger_->partitions(), 0);
      v->visible = v->checkpoints;
      // A rebuild that died half-way left keys of this version number: start it clean. (Only
      // then: a range deletion would keep the new states' files from their own levels.)
      ASSIGN_OR_RETURN(bool leftovers, HasStates(kind, v->number));
      if (leftovers) {
        DeleteVersion(&start, states_cf_, meta_cf_, kind, v->number, ledger_->partitions());
      }
      start.Put(meta_cf_, FingerprintKey(kind, v->number), StoredFingerprint(options_.rules));
      for (uint32_t p = 0; p < ledger_->partitions(); ++p) {
        start.Put(meta_cf_, CheckpointKey(kind, v->number, p), U64Value(0));
      }
      next.push_back(std::move(v));
    }
  }
  RETURN_IF_ERROR(
      ledger::ToStatus(db->Write(store_->write_options(), &start), "starting a rebuild"));
  // Durable before any file is ingested for the new version (the store keeps no log).
  RETURN_IF_ERROR(store_->Flush());
  // SST files of a rebuild that died before ingesting them.
  std::error_code ec;
  std::filesystem::remove_all(RebuildDir(db), ec);
  std::filesystem::create_directories(RebuildDir(db), ec);
  if (ec) {
    return absl::InternalError(AbslView(StrCat("creating ", RebuildDir(db), ": ", ec.message())));
  }

  uint64_t total = 0;
  for (const auto& head : ledger_->Heads()) total += head.position.value();
  uint64_t applied = 0;
  std::vector<Version*> versions;
  for (auto& v : next) versions.push_back(v.get());
  // Most of the work, while the current versions keep serving and being updated.
  // A rebuild that dies starts again from scratch, so it writes states only when its cache is
  // full and at the end of each partition, not after every batch, as ingested SST files.
  RETURN_IF_ERROR(Advance(versions, /*deferred=*/true, &applied, [&](uint64_t done) {
    if (progress) progress(done, std::max(total, done));
  }));
  absl::MutexLock lock(&mu_);
  // The records committed meanwhile, then the switch, with the live runner paused.
  RETURN_IF_ERROR(Advance(versions, /*deferred=*/false, &applied));
  rocksdb::WriteBatch finish;
  for (auto& v : next) {
    Version& old = *current_[static_cast<size_t>(v->kind)];
    finish.Put(meta_cf_, CurrentKey(v->kind), U64Value(v->number));
    DeleteVersion(&finish, states_cf_, meta_cf_, v->kind, old.number, ledger_->partitions());
  }
  RETURN_IF_ERROR(ledger::ToStatus(db->Write(store_->write_options(), &finish),
                                   "switching to the rebuilt version"));
  // The switch is durable once this returns (the store keeps no log).
  RETURN_IF_ERROR(store_->Flush());
  {
    absl::MutexLock view(&view_mu_);
    for (auto& v : next) {
      v->visible = v->checkpoints;
      current_[static_cast<size_t>(v->kind)] = std::move(v);
    }
  }
  std::filesystem::remove_all(RebuildDir(db), ec);
  if (progress) progress(applied, std::max(total, applied));
  return absl::OkStatus();
}

absl::Status Runner::ForEachStored(
    ProjectionKind kind, const std::function<bool(std::string_view, std::string_view)>& fn) const {
  if (states_cf_ == nullptr) return absl::OkStatus();
  uint32_t version;
  {
    absl::MutexLock lock(&view_mu_);
    version = current_[static_cast<size_t>(kind)]->number;
  }
  std::string lower = StateKey(kind, version, "");
  std::string upper = StateKey(kind, version + 1, "");
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;
  // Values and the bases some of them name, as of one moment.
  rocksdb::ManagedSnapshot snapshot(db_);
  ro.snapshot = snapshot.snapshot();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, states_cf_));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    std::string_view customer = key.substr(lower.size());
    std::string_view value(it->value().data(), it->value().size());
    StoredValue stored;
    if (!stored.Parse(value)) return absl::DataLossError("corrupt projection state");
    if (!stored.rendered.empty()) {
      if (!fn(customer, stored.rendered)) break;
      continue;
    }
    CustomerProjection cp(kind);
    RETURN_IF_ERROR(RestoreStored(db_, states_cf_, *ledger_, kind, version, customer, value,
                                  ro.snapshot, /*make_full=*/true, options_.rules, &cp));
    std::string json = cp.Render(std::nullopt, options_.rules);
    if (!fn(customer, json)) break;
  }
  return ledger::ToStatus(it->status(), "reading projection states");
}

std::vector<ProjectionStatus> Runner::Status() const {
  auto heads = ledger_->Heads();
  absl::MutexLock lock(&view_mu_);
  std::vector<ProjectionStatus> out;
  for (const auto& v : current_) {
    ProjectionStatus s;
    s.kind = v->kind;
    s.version = v->number;
    s.rules_match = v->rules_match;
    s.checkpoints = v->visible;
    for (uint32_t p = 0; p < heads.size() && p < v->visible.size(); ++p) {
      s.applied += v->visible[p];
      s.behind += heads[p].position.value() - std::min(heads[p].position.value(), v->visible[p]);
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace rapport::projections
