#include "consumers/inbox.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "ledger/errors.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/touchpoint_fb.h"
#include "spdlog/spdlog.h"

namespace rapport::consumers {

namespace {

constexpr int64_t kNotAssigned = -2;
constexpr int64_t kFromStart = -1;
constexpr std::string_view kFlatBuffersType = "application/x-flatbuffers";

// Errors that are about the message (it goes to the rejected topic), as opposed to the store.
bool IsInputError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
         s.code() == absl::StatusCode::kFailedPrecondition ||
         s.code() == absl::StatusCode::kAlreadyExists;
}

absl::StatusOr<ledger::PreparedEvent> DecodeMessage(const rd_kafka_message_t* m,
                                                    const ledger::CodecOptions& codec) {
  if (m->key == nullptr) {
    return ledger::InvalidField(
        "key",
        "the message has no key; key it by customer id or identity value so that a "
        "customer's events stay in order (CONTRACT §5)");
  }
  if (m->payload == nullptr || m->len == 0) {
    return ledger::InvalidJson("", "the message value is empty");
  }
  std::string_view value(static_cast<const char*>(m->payload), m->len);
  std::string_view type = HeaderValue(m, "content-type");
  if (type == kFlatBuffersType) {
    ASSIGN_OR_RETURN(ledger::Event event, ledger::DecodeTouchpoint(value, codec));
    return ledger::PrepareEvent(std::move(event));
  }
  if (!type.empty() && !type.starts_with("application/json")) {
    return ledger::InvalidField("headers.content-type",
                                StrCat("unsupported content-type \"", type,
                                       "\"; use application/json or ", kFlatBuffersType));
  }
  return ledger::ParseAndPrepare(value, codec);
}

RejectedMessage MakeReject(const rd_kafka_message_t* m, const absl::Status& status) {
  RejectedMessage r;
  if (m->key != nullptr) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* original = nullptr;
  if (rd_kafka_message_headers(m, &original) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(original, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      r.headers.emplace_back(
          name, value ? std::string(static_cast<const char*>(value), size) : std::string());
    }
  }
  r.headers.emplace_back("error.code", ledger::ErrorCode(status));
  r.headers.emplace_back("error.message", std::string(status.message()));
  r.headers.emplace_back("error.field", ledger::ErrorField(status).value_or(""));
  r.headers.emplace_back("source.topic", rd_kafka_topic_name(m->rkt));
  r.headers.emplace_back("source.partition", std::to_string(m->partition));
  r.headers.emplace_back("source.offset", std::to_string(m->offset));
  return r;
}

}  // namespace

struct Inbox::Batch {
  std::vector<Message> messages;
  std::vector<size_t> origin;                             // event index → message index
  std::vector<std::pair<int32_t, int64_t>> next_offsets;  // partition → next offset
  uint64_t consumed = 0;
  uint64_t decode_rejects = 0;
  std::vector<std::string> reject_codes;  // one per rejected message
  std::unique_ptr<ledger::Ledger::Pending> pending;
};

Inbox::Inbox(ledger::Ledger* ledger, ConsumerState state, const KafkaOptions& kafka,
             const InboxOptions& options)
    : ledger_(ledger),
      state_(state),
      kafka_(kafka),
      options_(options),
      topic_(kafka.topics().touchpoints) {}

absl::Status Inbox::Start(ledger::Ledger* ledger, const KafkaOptions& kafka,
                          const InboxOptions& options, std::unique_ptr<Inbox>* out) {
  ASSIGN_OR_RETURN(ConsumerState state, ConsumerState::For(ledger));
  std::unique_ptr<Inbox> inbox(new Inbox(ledger, state, kafka, options));
  Inbox* self = inbox.get();
  ASSIGN_OR_RETURN(inbox->rk_,
                   NewClient(RD_KAFKA_CONSUMER, kafka,
                             {{"session.timeout.ms", "6000"},
                              {"heartbeat.interval.ms", "1000"},
                              // How long a broker holds a fetch with nothing to return. A
                              // real broker answers as soon as data arrives, but the embedded
                              // (mock) one waits this long: 50 ms added ~25 ms to the median
                              // publish -> stored latency. kafka.properties may override it.
                              {"fetch.wait.max.ms", "10"},
                              {"client.id", "rapport-inbox"}},
                             {{"group.id", kafka.group_id},
                              {"enable.auto.commit", "false"},
                              {"enable.auto.offset.store", "false"},
                              {"enable.partition.eof", "false"},
                              // An offset the broker no longer has is reported to us
                              // (OnOffsetReset) rather than silently replaced.
                              {"auto.offset.reset", "error"}},
                             [self](rd_kafka_conf_t* conf) {
                               rd_kafka_conf_set_opaque(conf, self);
                               rd_kafka_conf_set_rebalance_cb(
                                   conf, +[](rd_kafka_t*, rd_kafka_resp_err_t err,
                                             rd_kafka_topic_partition_list_t* parts, void* opaque) {
                                     static_cast<Inbox*>(opaque)->OnRebalance(err, parts);
                                   });
                             }));
  rd_kafka_poll_set_consumer(inbox->rk_.get());
  ASSIGN_OR_RETURN(int partitions, PartitionCount(inbox->rk_.get(), inbox->topic_, 10000));
  if (static_cast<uint32_t>(partitions) != ledger->partitions()) {
    return absl::FailedPreconditionError(AbslView(
        StrCat("topic ", inbox->topic_, " has ", partitions, " partitions but the ledger has ",
               ledger->partitions(), " (ledger.partitions must equal the inbox topic's count)")));
  }
  inbox->next_offset_.assign(partitions, kNotAssigned);
  {
    absl::MutexLock lock(&inbox->mu_);
    inbox->stored_offset_.assign(partitions, -1);
  }
  ASSIGN_OR_RETURN(uint64_t next_id, state.NextRejectId());
  inbox->next_reject_id_ = next_id;
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), inbox->topic_.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(inbox->rk_.get(), topics.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(err, StrCat("subscribing to ", inbox->topic_));
  }
  inbox->thread_ = std::thread([self] { self->Run(); });
  *out = std::move(inbox);
  return absl::OkStatus();
}

Inbox::~Inbox() { Stop(); }

void Inbox::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Inbox::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  // Whatever happens to the assignment, the batches read so far are finished first, so that the
  // offsets stored are exact when another member (or this one again) starts from them.
  DrainInFlight();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < parts->cnt; ++i) {
      auto& tp = parts->elems[i];
      auto stored = state_.Get(InboxOffsetKey(topic_, tp.partition));
      int64_t from = kFromStart;
      if (stored.ok() && stored->has_value()) from = static_cast<int64_t>(**stored);
      tp.offset = from >= 0 ? from : RD_KAFKA_OFFSET_BEGINNING;
      if (tp.partition >= 0 && static_cast<size_t>(tp.partition) < next_offset_.size()) {
        next_offset_[tp.partition] = from;
        absl::MutexLock lock(&mu_);
        stored_offset_[tp.partition] = std::max<int64_t>(from, 0);
      }
    }
    rd_kafka_assign(rk_.get(), parts);
    absl::MutexLock lock(&mu_);
    stats_.assigned_partitions = parts->cnt;
    spdlog::info("inbox: assigned {} partition(s) of {}", parts->cnt, topic_);
  } else {
    std::fill(next_offset_.begin(), next_offset_.end(), kNotAssigned);
    rd_kafka_assign(rk_.get(), nullptr);
    absl::MutexLock lock(&mu_);
    std::fill(stored_offset_.begin(), stored_offset_.end(), -1);
    stats_.assigned_partitions = 0;
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      spdlog::warn("inbox: rebalance error: {}", rd_kafka_err2str(err));
    }
  }
}

std::unique_ptr<Inbox::Batch> Inbox::Decode(std::vector<Message> messages) {
  auto batch = std::make_unique<Batch>();
  std::vector<ledger::PreparedEvent> events;
  ledger::AppendHooks hooks;
  for (auto& m : messages) {
    int32_t p = m->partition;
    if (p < 0 || static_cast<size_t>(p) >= next_offset_.size()) continue;
    int64_t next = next_offset_[p];
    // Not ours any more, or already stored / in flight (a fetch from before a rebalance).
    if (next == kNotAssigned || (next >= 0 && m->offset < next)) continue;
    if (next >= 0 && m->offset > next) {
      // The broker deleted messages before they were read (retention; the embedded broker keeps
      // 5 MB per partition). They were never accepted, but the producer must hear about it.
      spdlog::error(
          "inbox: {} [{}]: offsets {}..{} were deleted by the broker before they were "
          "read (retention); those messages are lost",
          topic_, p, next, m->offset - 1);
      lost_ += static_cast<uint64_t>(m->offset - next);
    }
    next_offset_[p] = m->offset + 1;
    bool found = false;
    for (auto& [bp, bo] : batch->next_offsets) {
      if (bp == p) {
        bo = m->offset + 1;
        found = true;
      }
    }
    if (!found) batch->next_offsets.emplace_back(p, m->offset + 1);
    ++batch->consumed;
    auto prepared = DecodeMessage(m.get(), options_.codec);
    if (prepared.ok()) {
      batch->origin.push_back(batch->messages.size());
      events.push_back(std::move(*prepared));
    } else {
      ++batch->decode_rejects;
      batch->reject_codes.push_back(ledger::ErrorCode(prepared.status()));
      hooks.always.Put(state_.cf(), RejectKey(next_reject_id_++),
                       EncodeRejected(MakeReject(m.get(), prepared.status())));
    }
    batch->messages.push_back(std::move(m));
  }
  for (const auto& [p, offset] : batch->next_offsets) {
    hooks.always.Put(state_.cf(), InboxOffsetKey(topic_, p), EncodeU64(offset));
  }
  if (batch->consumed == 0) return nullptr;
  Batch* b = batch.get();
  rocksdb::ColumnFamilyHandle* cf = state_.cf();
  hooks.on_failed = [this, b, cf](size_t i, const absl::Status& s, ledger::SideWrites* out) {
    out->Put(cf, RejectKey(next_reject_id_++),
             EncodeRejected(MakeReject(b->messages[b->origin[i]].get(), s)));
  };
  batch->pending = ledger_->StartAppendEach(std::move(events), std::move(hooks));
  return batch;
}

bool Inbox::Finish(Batch* batch) {
  auto results = batch->pending->Wait();
  uint64_t stored = 0, duplicates = 0, rejected = batch->decode_rejects;
  absl::Status storage;
  for (const auto& r : results) {
    if (r.ok()) {
      (r->duplicate ? duplicates : stored)++;
    } else if (IsInputError(r.status())) {
      ++rejected;
      batch->reject_codes.push_back(ledger::ErrorCode(r.status()));
    } else if (storage.ok()) {
      storage = r.status();
    }
  }
  if (!storage.ok()) {
    spdlog::error("inbox: the ledger failed; stopping the consumer: {}", storage.ToString());
    absl::MutexLock lock(&mu_);
    failure_ = storage;
    stop_ = true;
    return false;
  }
  // Kafka's committed offsets are only for lag tools; the truth is in the ledger.
  PartitionList commit(
      rd_kafka_topic_partition_list_new(static_cast<int>(batch->next_offsets.size())));
  for (const auto& [p, offset] : batch->next_offsets) {
    rd_kafka_topic_partition_list_add(commit.get(), topic_.c_str(), p)->offset = offset;
  }
  rd_kafka_commit(rk_.get(), commit.get(), /*async=*/1);
  absl::MutexLock lock(&mu_);
  stats_.consumed += batch->consumed;
  stats_.stored += stored;
  stats_.duplicates += duplicates;
  stats_.rejected += rejected;
  for (const auto& code : batch->reject_codes) ++stats_.rejected_by_code[code];
  stats_.lost_to_retention = lost_;
  for (const auto& [p, offset] : batch->next_offsets) {
    if (stored_offset_[p] >= 0) stored_offset_[p] = std::max(stored_offset_[p], offset);
  }
  return true;
}

void Inbox::DrainInFlight() {
  for (auto& b : in_flight_) Finish(b.get());
  in_flight_.clear();
}

void Inbox::OnOffsetOutOfRange(int32_t p) {
  if (p < 0 || static_cast<size_t>(p) >= next_offset_.size() || next_offset_[p] == kNotAssigned) {
    return;
  }
  const int64_t next = next_offset_[p];
  int64_t lo = 0, hi = 0;
  rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(rk_.get(), topic_.c_str(), p, &lo, &hi, 10000);
  int64_t target = next;  // kFromStart reads from the log start
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("inbox: {} [{}]: offset {} out of range and no watermarks ({}); retrying", topic_,
                 p, next, rd_kafka_err2str(err));
  } else if (next > hi) {
    spdlog::warn(
        "inbox: {} [{}]: the stored offset {} is past the log end {}: the topic was "
        "recreated; reading it from its start",
        topic_, p, next, hi);
    target = kFromStart;
  } else if (next >= 0 && next < lo) {
    spdlog::error(
        "inbox: {} [{}]: offsets {}..{} were deleted by the broker before they were "
        "read (retention); those messages are lost",
        topic_, p, next, lo - 1);
    lost_ += static_cast<uint64_t>(lo - next);
    target = kFromStart;
  } else {
    // The broker has the offset after all (a leader change, an unclean election): ask again.
    spdlog::warn("inbox: {} [{}]: offset {} reported out of range within {}..{}; retrying", topic_,
                 p, next, lo, hi);
  }
  next_offset_[p] = target;
  // Assigning again with explicit offsets restarts the partitions' fetchers (a seek does not
  // restart one stopped by the offset-reset error). Nothing is in flight here, so every other
  // partition resumes exactly where this consumer stands.
  PartitionList assignment(
      rd_kafka_topic_partition_list_new(static_cast<int>(next_offset_.size())));
  for (size_t q = 0; q < next_offset_.size(); ++q) {
    if (next_offset_[q] == kNotAssigned) continue;
    rd_kafka_topic_partition_list_add(assignment.get(), topic_.c_str(), static_cast<int32_t>(q))
        ->offset = next_offset_[q] >= 0 ? next_offset_[q] : RD_KAFKA_OFFSET_BEGINNING;
  }
  err = rd_kafka_assign(rk_.get(), assignment.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("inbox: assigning {} again: {}", topic_, rd_kafka_err2str(err));
  }
}

void Inbox::Run() {
  pthread_setname_np(pthread_self(), "inbox");
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk_.get());
  std::vector<rd_kafka_message_t*> raw(options_.batch_messages);
  uint64_t transport_errors = 0;
  while (!stop_) {
    ssize_t n = rd_kafka_consume_batch_queue(queue, options_.batch_wait_ms, raw.data(), raw.size());
    std::vector<Message> messages;
    messages.reserve(n > 0 ? static_cast<size_t>(n) : 0);
    for (ssize_t i = 0; i < n; ++i) {
      Message m(raw[i]);
      if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        DrainInFlight();
        OnOffsetOutOfRange(m->partition);
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && transport_errors++ % 100 == 0) {
          spdlog::warn("inbox: {}", rd_kafka_message_errstr(m.get()));
        }
        continue;
      }
      messages.push_back(std::move(m));
    }
    if (messages.empty()) {
      DrainInFlight();
      continue;
    }
    auto batch = Decode(std::move(messages));
    if (batch) in_flight_.push_back(std::move(batch));
    while (in_flight_.size() > options_.max_in_flight) {
      Finish(in_flight_.front().get());
      in_flight_.erase(in_flight_.begin());
    }
  }
  DrainInFlight();
  rd_kafka_queue_destroy(queue);
  // Leaves the group (the revoke callback runs here, on this thread).
  rd_kafka_consumer_close(rk_.get());
}

InboxStats Inbox::stats() const {
  InboxStats s;
  std::vector<int64_t> stored;
  {
    absl::MutexLock lock(&mu_);
    s = stats_;
    stored = stored_offset_;
  }
  for (size_t p = 0; p < stored.size(); ++p) {
    if (stored[p] < 0) continue;
    int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(rk_.get(), topic_.c_str(), static_cast<int32_t>(p), &lo,
                                       &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi > stored[p]) {
      s.lag += hi - std::max(stored[p], lo);
    }
  }
  return s;
}

absl::Status Inbox::failure() const {
  absl::MutexLock lock(&mu_);
  return failure_;
}

}  // namespace rapport::consumers
