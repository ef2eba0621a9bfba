#include "consumers/changelog.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "ledger/record.h"
#include "ledger/status_macros.h"
#include "ledger/thread_priority.h"
#include "rocksdb/db.h"
#include "spdlog/spdlog.h"

namespace rapport::consumers {

namespace {

// Records scanned per partition and round: bounds the memory of one round and the time until
// its cursor moves.
constexpr uint64_t kMaxRecordsPerRound = 20000;

std::string EncodeCursor(uint32_t version, uint64_t position) {
  std::string s;
  ledger::PutFixed32BE(&s, version);
  ledger::PutFixed64BE(&s, position);
  return s;
}

}  // namespace

ChangelogPublisher::ChangelogPublisher(ledger::Ledger* ledger, projections::Runner* runner,
                                       ConsumerState state, const KafkaOptions& kafka,
                                       const ChangelogOptions& options)
    : ledger_(ledger),
      runner_(runner),
      state_(state),
      kafka_(kafka),
      options_(options),
      topics_(kafka.topics().Changelogs()) {}

absl::Status ChangelogPublisher::Start(ledger::Ledger* ledger, projections::Runner* runner,
                                       const KafkaOptions& kafka, const ChangelogOptions& options,
                                       std::unique_ptr<ChangelogPublisher>* out) {
  ASSIGN_OR_RETURN(ConsumerState state, ConsumerState::For(ledger));
  std::unique_ptr<ChangelogPublisher> pub(
      new ChangelogPublisher(ledger, runner, state, kafka, options));
  ChangelogPublisher* self = pub.get();
  uint32_t n = ledger->partitions();
  auto status = runner->Status();
  size_t kinds = std::size(projections::kAllProjections);
  pub->versions_.assign(kinds, 0);
  pub->cursors_.assign(kinds, std::vector<uint64_t>(n, 0));
  for (const auto& s : status) {
    int k = static_cast<int>(s.kind);
    pub->versions_[k] = s.version;
    for (uint32_t p = 0; p < n; ++p) {
      std::string value;
      rocksdb::Status rs =
          ledger->db()->Get(rocksdb::ReadOptions(), state.cf(), ChangelogCursorKey(k, p), &value);
      // A cursor of another version (a rebuild happened) starts again from the beginning.
      if (rs.ok() && value.size() == 12 && ledger::GetFixed32BE(value.data()) == s.version) {
        pub->cursors_[k][p] = ledger::GetFixed64BE(value.data() + 4);
      }
    }
  }
  {
    absl::MutexLock lock(&pub->mu_);
    pub->confirmed_ = pub->cursors_;
    pub->applied_ = pub->cursors_;
  }
  ASSIGN_OR_RETURN(
      pub->producer_,
      Producer::Create(kafka, "rapport-changelog", [self](const rd_kafka_message_t* m) {
        --self->pending_in_round_;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          if (self->failures_in_round_++ == 0) {
            spdlog::warn("changelog: publishing failed ({}); will retry", rd_kafka_err2str(m->err));
          }
          return;
        }
        absl::MutexLock lock(&self->mu_);
        ++self->published_;
      }));
  pub->thread_ = std::thread([self] { self->Run(); });
  *out = std::move(pub);
  return absl::OkStatus();
}

ChangelogPublisher::~ChangelogPublisher() { Stop(0); }

void ChangelogPublisher::Stop(int drain_ms) {
  if (!thread_.joinable()) return;
  drain_ms_ = drain_ms;
  stop_ = true;
  thread_.join();
}

bool ChangelogPublisher::Round() {
  auto status = runner_->Status();
  uint32_t n = ledger_->partitions();
  std::vector<std::vector<uint64_t>> targets(versions_.size(), std::vector<uint64_t>(n, 0));
  for (const auto& s : status) {
    int k = static_cast<int>(s.kind);
    if (s.version != versions_[k]) {
      spdlog::info("changelog: {} is now version {}; publishing every customer again",
                   projections::ProjectionName(s.kind), s.version);
      versions_[k] = s.version;
      std::fill(cursors_[k].begin(), cursors_[k].end(), 0);
    }
    for (uint32_t p = 0; p < n && p < s.checkpoints.size(); ++p) targets[k][p] = s.checkpoints[p];
  }
  {
    absl::MutexLock lock(&mu_);
    applied_ = targets;
  }
  failures_in_round_ = 0;
  auto next = cursors_;
  bool any = false;
  for (uint32_t p = 0; p < n; ++p) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t k = 0; k < versions_.size(); ++k) {
      if (targets[k][p] > cursors_[k][p]) {
        lo = std::min(lo, cursors_[k][p]);
        hi = std::max(hi, targets[k][p]);
      }
    }
    if (lo == UINT64_MAX) continue;
    hi = std::min(hi, lo + kMaxRecordsPerRound);
    std::vector<std::pair<std::string, uint64_t>> touched;  // customer, position
    absl::Status scan = ledger_->ScanPartition(
        ledger::PartitionId(p), ledger::Position(lo + 1), [&](ledger::StoredRecord& r) {
          if (r.position.value() > hi) return false;
          touched.emplace_back(std::move(r.customer_id), r.position.value());
          return true;
        });
    if (!scan.ok()) {
      spdlog::error("changelog: reading partition {}: {}", p, scan.ToString());
      continue;
    }
    for (size_t k = 0; k < versions_.size(); ++k) {
      uint64_t from = cursors_[k][p], to = std::min(targets[k][p], hi);
      if (to <= from) continue;
      auto kind = projections::kAllProjections[k];
      absl::flat_hash_set<std::string_view> done;
      for (const auto& [customer, position] : touched) {
        if (position <= from || position > to || !done.insert(customer).second) continue;
        auto json = runner_->Stored(kind, customer);
        if (!json.ok()) {
          if (!absl::IsNotFound(json.status())) ++failures_in_round_;
          continue;
        }
        while (true) {
          absl::Status s = producer_->Produce(topics_[k], -1, customer, *json, {}, nullptr);
          if (s.ok()) {
            ++pending_in_round_;
            break;
          }
          if (!absl::IsResourceExhausted(s) || stop_) {
            ++failures_in_round_;
            break;
          }
          producer_->Poll(10);
        }
      }
      next[k][p] = to;
      any = true;
    }
  }
  if (!any) return false;
  // The cursors move only once everything of this round is confirmed.
  while (pending_in_round_ > 0) {
    producer_->Poll(50);
    if (stopping_ && std::chrono::steady_clock::now() >= deadline_) return true;
  }
  if (failures_in_round_ > 0) return true;
  cursors_ = next;
  for (size_t k = 0; k < versions_.size(); ++k) {
    for (uint32_t p = 0; p < n; ++p) {
      absl::Status s = state_.Put(ChangelogCursorKey(static_cast<int>(k), p),
                                  EncodeCursor(versions_[k], cursors_[k][p]));
      if (!s.ok()) spdlog::warn("changelog: saving the cursor: {}", s.ToString());
    }
  }
  absl::MutexLock lock(&mu_);
  confirmed_ = cursors_;
  return true;
}

void ChangelogPublisher::Run() {
  pthread_setname_np(pthread_self(), "changelog");
  ledger::SetCurrentThreadNice(ledger::kDerivedWorkNice);
  while (true) {
    if (stop_ && !stopping_) {
      stopping_ = true;
      deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms_);
    }
    if (stopping_ && std::chrono::steady_clock::now() >= deadline_) break;
    auto started = std::chrono::steady_clock::now();
    bool published = Round();
    if (!published && stopping_) break;
    // Let changes pile up until the next round (not when draining).
    auto next = started + std::chrono::milliseconds(published ? options_.interval_ms : 5);
    while (!stop_ && std::chrono::steady_clock::now() < next) producer_->Poll(5);
  }
  producer_.reset();
}

ChangelogStats ChangelogPublisher::stats() const {
  ChangelogStats s;
  absl::MutexLock lock(&mu_);
  s.published = published_;
  for (size_t k = 0; k < applied_.size(); ++k) {
    for (size_t p = 0; p < applied_[k].size(); ++p) {
      s.lag += applied_[k][p] - std::min(applied_[k][p], confirmed_[k][p]);
    }
  }
  return s;
}

}  // namespace rapport::consumers
