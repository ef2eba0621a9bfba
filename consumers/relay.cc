#include "consumers/relay.h"

#include <pthread.h>

#include <chrono>

#include "ledger/json.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/thread_priority.h"
#include "projections/fold.h"
#include "spdlog/spdlog.h"

namespace rapport::consumers {

namespace {

// A delivery report's opaque: the partition in the low 12 bits (at most 4096 partitions), the
// position above.
void* PackOpaque(uint32_t partition, uint64_t position) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>((position << 12) | partition));
}
void UnpackOpaque(void* opaque, uint32_t* partition, uint64_t* position) {
  auto v = reinterpret_cast<uintptr_t>(opaque);
  *partition = static_cast<uint32_t>(v & 0xfff);
  *position = static_cast<uint64_t>(v >> 12);
}

constexpr uint64_t kMaxInFlightPerPartition = 50000;
constexpr size_t kChunk = 2000;

}  // namespace

LedgerRelay::LedgerRelay(ledger::Ledger* ledger, ConsumerState state, const KafkaOptions& kafka)
    : ledger_(ledger), state_(state), kafka_(kafka), topic_(kafka.topics().ledger) {}

absl::Status LedgerRelay::NewProducer() {
  producer_.reset();
  // Deliveries must be gapless per partition: a record may reach Kafka only after every earlier
  // one, or readers, which drop positions they have applied, would skip the ones resent after a
  // later one landed (CONTRACT §5). librdkafka's idempotent producer still delivers the batches
  // after one that failed for good or timed out, so a failed batch is made fatal (Run then
  // starts a new producer and resends from the last confirmed position), and messages never
  // time out (the gapless guarantee does not cover timeouts).
  ASSIGN_OR_RETURN(
      producer_,
      Producer::Create(kafka_, "rapport-relay",
                       [this](const rd_kafka_message_t* m) { OnDelivery(m); },
                       {{"enable.gapless.guarantee", "true"}, {"message.timeout.ms", "0"}}));
  return absl::OkStatus();
}

absl::Status LedgerRelay::Start(ledger::Ledger* ledger, const KafkaOptions& kafka,
                                std::unique_ptr<LedgerRelay>* out) {
  ASSIGN_OR_RETURN(ConsumerState state, ConsumerState::For(ledger));
  std::unique_ptr<LedgerRelay> relay(new LedgerRelay(ledger, state, kafka));
  uint32_t n = ledger->partitions();
  if (n > 4096) return absl::InvalidArgumentError("the relay supports at most 4096 partitions");
  std::vector<uint64_t> confirmed(n, 0);
  for (uint32_t p = 0; p < n; ++p) {
    ASSIGN_OR_RETURN(auto cursor, state.Get(RelayCursorKey(p)));
    confirmed[p] = cursor.value_or(0);
  }
  relay->sent_ = confirmed;
  relay->saved_ = confirmed;
  relay->in_flight_.assign(n, 0);
  relay->failed_.assign(n, false);
  {
    absl::MutexLock lock(&relay->mu_);
    relay->confirmed_ = confirmed;
  }
  RETURN_IF_ERROR(relay->NewProducer());
  ASSIGN_OR_RETURN(int partitions,
                   PartitionCount(relay->producer_->handle(), relay->topic_, 10000));
  if (static_cast<uint32_t>(partitions) != n) {
    return absl::FailedPreconditionError(AbslView(StrCat(
        "topic ", relay->topic_, " has ", partitions, " partitions but the ledger has ", n)));
  }
  LedgerRelay* self = relay.get();
  relay->thread_ = std::thread([self] { self->Run(); });
  *out = std::move(relay);
  return absl::OkStatus();
}

LedgerRelay::~LedgerRelay() { Stop(0); }

void LedgerRelay::Stop(int drain_ms) {
  if (!thread_.joinable()) return;
  drain_ms_ = drain_ms;
  draining_ = true;
  stop_ = true;
  thread_.join();
}

void LedgerRelay::OnDelivery(const rd_kafka_message_t* m) {
  uint32_t p;
  uint64_t position;
  UnpackOpaque(m->_private, &p, &position);
  --in_flight_[p];
  absl::MutexLock lock(&mu_);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && !failed_[p] && position == confirmed_[p] + 1) {
    confirmed_[p] = position;
    ++delivered_;
    return;
  }
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (position <= confirmed_[p]) ++delivered_;  // a resend of a record already confirmed
    if (position <= confirmed_[p]) return;
  } else if (!failed_[p]) {
    spdlog::warn("relay: delivery of partition {} position {} failed ({}); resending from {}", p,
                 position, rd_kafka_err2str(m->err), confirmed_[p] + 1);
  }
  // A failure, or a report past a gap: everything after confirmed_ is sent again.
  failed_[p] = true;
}

bool LedgerRelay::Fill(uint32_t p, uint64_t head) {
  if (sent_[p] >= head || in_flight_[p] >= static_cast<int64_t>(kMaxInFlightPerPartition)) {
    return false;
  }
  bool queued = false;
  size_t count = 0;
  absl::Status scan = ledger_->ScanPartition(
      ledger::PartitionId(p), ledger::Position(sent_[p] + 1), [&](ledger::StoredRecord& r) {
        uint64_t position = r.position.value();
        if (position > head) return false;
        // rapport.ledger carries the typed Touchpoint too (schemas/ledger_record.fbs), so that
        // readers need no JSON parser. The event is read back as the projections read it (the
        // canonical fast path, the strict parser's result): the strict parser was most of the
        // relay's CPU.
        projections::Touch touch;
        absl::Status read = projections::ReadTouch(r, &touch);
        if (!read.ok()) spdlog::error("relay: {}", read.ToString());
        std::string value = ledger::EncodeRecord(r, read.ok() ? &touch.event : nullptr);
        std::vector<std::pair<std::string, std::string>> headers = {
            {"position", std::to_string(position)},
            {"seq", std::to_string(r.seq.value())},
            {"partition", std::to_string(p)},
            {"hash",
             ledger::json::Hex(std::string_view(reinterpret_cast<const char*>(r.chain_hash.data()),
                                                r.chain_hash.size()))}};
        absl::Status s = producer_->Produce(topic_, static_cast<int32_t>(p), r.customer_id, value,
                                            headers, PackOpaque(p, position));
        if (!s.ok()) return false;  // queue full: poll and come back
        sent_[p] = position;
        ++in_flight_[p];
        queued = true;
        return ++count < kChunk && in_flight_[p] < static_cast<int64_t>(kMaxInFlightPerPartition);
      });
  if (!scan.ok()) spdlog::error("relay: reading partition {}: {}", p, scan.ToString());
  return queued;
}

void LedgerRelay::SaveCursors() {
  std::vector<uint64_t> confirmed;
  {
    absl::MutexLock lock(&mu_);
    confirmed = confirmed_;
  }
  for (uint32_t p = 0; p < confirmed.size(); ++p) {
    if (confirmed[p] == saved_[p]) continue;
    absl::Status s = state_.Put(RelayCursorKey(p), EncodeU64(confirmed[p]));
    if (s.ok()) {
      saved_[p] = confirmed[p];
    } else {
      spdlog::warn("relay: saving the cursor: {}", s.ToString());
    }
  }
}

void LedgerRelay::Run() {
  pthread_setname_np(pthread_self(), "relay");
  ledger::SetCurrentThreadNice(ledger::kDerivedWorkNice);
  auto last_save = std::chrono::steady_clock::now();
  uint64_t seen_group = 0;
  std::chrono::steady_clock::time_point drain_deadline{};
  bool drain_started = false;
  while (true) {
    producer_->Poll(0);
    auto now = std::chrono::steady_clock::now();
    if (stop_) {
      if (!drain_started) {
        drain_started = true;
        drain_deadline = now + std::chrono::milliseconds(drain_ms_);
      }
      if (now >= drain_deadline) break;
    }
    if (absl::Status fatal = producer_->Fatal(); !fatal.ok()) {
      spdlog::error("relay: {}; starting a new producer", fatal.ToString());
      absl::Status s = NewProducer();
      if (!s.ok()) {
        spdlog::error("relay: {}", s.ToString());
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      absl::MutexLock lock(&mu_);
      for (uint32_t p = 0; p < sent_.size(); ++p) {
        sent_[p] = confirmed_[p];
        in_flight_[p] = 0;
        failed_[p] = false;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      for (uint32_t p = 0; p < sent_.size(); ++p) {
        if (failed_[p] && in_flight_[p] <= 0) {
          resent_ += sent_[p] - confirmed_[p];
          sent_[p] = confirmed_[p];
          failed_[p] = false;
        }
      }
    }
    auto heads = ledger_->Heads();
    bool queued = false;
    bool behind = false;
    for (uint32_t p = 0; p < heads.size(); ++p) {
      bool failed;
      {
        absl::MutexLock lock(&mu_);
        failed = failed_[p];
      }
      if (!failed) queued |= Fill(p, heads[p].position.value());
      behind |= sent_[p] < heads[p].position.value() || in_flight_[p] > 0;
    }
    // Unsynced puts are cheap and survive a process crash: the cursor is kept close behind the
    // deliveries so that a restart resends little.
    if (now - last_save > std::chrono::milliseconds(10)) {
      SaveCursors();
      last_save = now;
    }
    if (stop_ && !behind) break;
    if (!queued) {
      if (producer_->OutQueue() > 0) {
        producer_->Poll(5);
      } else {
        seen_group = ledger_->WaitForCommit(seen_group, absl::Milliseconds(20));
      }
    }
  }
  producer_->Flush(stop_ && drain_ms_ > 0 ? 2000 : 0);
  SaveCursors();
  producer_.reset();
}

RelayStats LedgerRelay::stats() const {
  auto heads = ledger_->Heads();
  RelayStats s;
  absl::MutexLock lock(&mu_);
  s.sent = delivered_;
  for (uint32_t p = 0; p < heads.size() && p < confirmed_.size(); ++p) {
    s.lag += heads[p].position.value() - std::min(heads[p].position.value(), confirmed_[p]);
  }
  return s;
}

}  // namespace rapport::consumers
