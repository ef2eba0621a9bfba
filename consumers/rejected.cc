#include "consumers/rejected.h"

#include <pthread.h>

#include <chrono>

#include "ledger/status_macros.h"
#include "ledger/thread_priority.h"
#include "spdlog/spdlog.h"

namespace rapport::consumers {

absl::Status RejectedPublisher::Start(ledger::Ledger* ledger, const KafkaOptions& kafka,
                                      std::unique_ptr<RejectedPublisher>* out) {
  ASSIGN_OR_RETURN(ConsumerState state, ConsumerState::For(ledger));
  std::unique_ptr<RejectedPublisher> pub(new RejectedPublisher(state, kafka));
  RejectedPublisher* self = pub.get();
  ASSIGN_OR_RETURN(pub->producer_,
                   Producer::Create(kafka, "rapport-rejected", [self](const rd_kafka_message_t* m) {
                     auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
                     self->in_flight_.erase(id);
                     if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                       spdlog::warn("rejected: publishing failed ({}); will retry",
                                    rd_kafka_err2str(m->err));
                       return;
                     }
                     absl::Status s = self->state_.Delete(RejectKey(id));
                     if (!s.ok()) spdlog::warn("rejected: {}", s.ToString());
                     ++self->published_;
                   }));
  pub->thread_ = std::thread([self] { self->Run(); });
  *out = std::move(pub);
  return absl::OkStatus();
}

RejectedPublisher::~RejectedPublisher() { Stop(0); }

void RejectedPublisher::Stop(int drain_ms) {
  if (!thread_.joinable()) return;
  drain_ms_ = drain_ms;
  stop_ = true;
  thread_.join();
}

void RejectedPublisher::Run() {
  pthread_setname_np(pthread_self(), "rejected");
  ledger::SetCurrentThreadNice(ledger::kDerivedWorkNice);
  std::chrono::steady_clock::time_point deadline{};
  bool stopping = false;
  while (true) {
    if (stop_ && !stopping) {
      stopping = true;
      deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms_);
    }
    if (stopping && std::chrono::steady_clock::now() >= deadline) break;
    auto pending = state_.PendingRejects(2000);
    if (!pending.ok()) {
      spdlog::error("rejected: {}", pending.status().ToString());
      producer_->Poll(500);
      continue;
    }
    waiting_ = pending->size();
    if (pending->empty() && stopping) break;
    for (auto& [id, m] : *pending) {
      if (in_flight_.contains(id)) continue;
      std::optional<std::string_view> key;
      if (m.key) key = *m.key;
      absl::Status s = producer_->Produce(topic_, -1, key, m.value, m.headers,
                                          reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
      if (!s.ok()) break;
      in_flight_.insert(id);
    }
    producer_->Poll(pending->empty() ? 50 : 10);
  }
  producer_->Flush(stop_ && drain_ms_ > 0 ? 2000 : 0);
  producer_.reset();
}

}  // namespace rapport::consumers
