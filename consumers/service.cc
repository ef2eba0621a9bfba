#include "consumers/service.h"

#include <algorithm>
#include <filesystem>

#include "absl/time/clock.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "spdlog/spdlog.h"

namespace rapport::consumers {

namespace {

// Asks the cluster for its id and binds the stored offsets and cursors to it (ConsumerState).
absl::Status BindToCluster(ledger::Ledger* ledger, const KafkaOptions& kafka) {
  ASSIGN_OR_RETURN(ConsumerState state, ConsumerState::For(ledger));
  ASSIGN_OR_RETURN(KafkaHandle rk, NewClient(RD_KAFKA_PRODUCER, kafka, {}, {}));
  char* id = rd_kafka_clusterid(rk.get(), 10000);
  if (id == nullptr) {
    return absl::UnavailableError(
        AbslView(StrCat("no answer from the Kafka cluster at ", kafka.bootstrap)));
  }
  std::string cluster_id(id);
  rd_kafka_mem_free(rk.get(), id);
  bool changed = false;
  RETURN_IF_ERROR(state.BindToCluster(cluster_id, &changed));
  if (changed) {
    spdlog::warn(
        "kafka: this data dir last talked to another Kafka cluster (now {}); the inbox reads the "
        "new topics from their start and every record and projection is published again",
        cluster_id);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Service::Start(const ServiceOptions& options, std::unique_ptr<Service>* out) {
  std::unique_ptr<Service> svc(new Service());
  ledger::LedgerOptions lo = options.ledger;
  lo.read_only = false;
  lo.extra_column_families = {kKafkaCf};
  RETURN_IF_ERROR(ledger::Ledger::Open(options.data_dir, lo, &svc->ledger_));
  RETURN_IF_ERROR(projections::Runner::Open(svc->ledger_.get(), options.runner, &svc->runner_));
  std::vector<projections::ProjectionKind> stale;
  for (const auto& s : svc->runner_->Status()) {
    if (!s.rules_match) stale.push_back(s.kind);
  }
  if (!stale.empty()) {
    // CONTRACT §4: serve rebuilds when the stored rules fingerprint differs from the config's.
    spdlog::info(
        "projections: stored with other rules or in an older state format; rebuilding {} "
        "projection(s)",
        stale.size());
    RETURN_IF_ERROR(svc->runner_->Rebuild(stale));
  }
  // A backlog (left by a stop or a crash) is applied in the background, so that serving starts
  // at once; /healthz says not_ready until it is.
  uint64_t behind = 0;
  for (const auto& s : svc->runner_->Status()) behind = std::max(behind, s.behind);
  if (behind > 0) spdlog::info("projections: {} records behind; catching up", behind);
  svc->runner_->StartBackground();

  if (options.kafka_mode == "none") {
    *out = std::move(svc);
    return absl::OkStatus();
  }
  KafkaOptions kafka = options.kafka;
  if (options.kafka_mode == "embedded") {
    EmbeddedBrokerOptions bo;
    bo.brokers = options.embedded_brokers;
    bo.partitions = static_cast<int>(svc->ledger_->partitions());
    bo.topic_prefix = kafka.topic_prefix;
    RETURN_IF_ERROR(EmbeddedBroker::Start(bo, &svc->broker_));
    kafka.bootstrap = svc->broker_->bootstrap();
    RETURN_IF_ERROR(WriteBootstrapFile(
        (std::filesystem::path(options.data_dir) / "kafka.bootstrap").string(), kafka.bootstrap));
  } else {
    kafka.bootstrap = options.kafka_mode;
  }
  svc->bootstrap_ = kafka.bootstrap;
  RETURN_IF_ERROR(BindToCluster(svc->ledger_.get(), kafka));
  RETURN_IF_ERROR(RejectedPublisher::Start(svc->ledger_.get(), kafka, &svc->rejected_));
  RETURN_IF_ERROR(LedgerRelay::Start(svc->ledger_.get(), kafka, &svc->relay_));
  RETURN_IF_ERROR(ChangelogPublisher::Start(svc->ledger_.get(), svc->runner_.get(), kafka,
                                            options.changelog, &svc->changelog_));
  RETURN_IF_ERROR(Inbox::Start(svc->ledger_.get(), kafka, options.inbox, &svc->inbox_));
  *out = std::move(svc);
  return absl::OkStatus();
}

Service::~Service() { Stop(); }

void Service::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (inbox_) inbox_->Stop();
  if (runner_ && ledger_) {
    // The background runner keeps applying: give it a while, so that the changelogs publish
    // what was stored. What is still behind then is applied at the next start (the checkpoints
    // are durable), so a stop never waits for a long backlog.
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    uint64_t behind = 0;
    do {
      behind = 0;
      for (const auto& p : runner_->Status()) behind = std::max(behind, p.behind);
      if (behind == 0) break;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    if (behind > 0) {
      spdlog::info("projections: stopping {} records behind; they are applied at the next start",
                   behind);
    }
  }
  if (changelog_) changelog_->Stop(10000);
  if (relay_) relay_->Stop(10000);
  if (rejected_) rejected_->Stop(5000);
  inbox_.reset();
  changelog_.reset();
  relay_.reset();
  rejected_.reset();
  runner_.reset();
  ledger_.reset();
  broker_.reset();
}

ServiceStatus Service::status() const {
  ServiceStatus s;
  s.kafka = inbox_ != nullptr;
  if (inbox_) s.inbox = inbox_->stats();
  if (relay_) s.relay = relay_->stats();
  if (changelog_) s.changelog = changelog_->stats();
  if (rejected_) {
    s.rejected_published = rejected_->published();
    s.rejected_waiting = rejected_->waiting();
  }
  if (runner_) {
    for (const auto& p : runner_->Status()) s.projections_behind += p.behind;
  }
  return s;
}

InboxStats Service::inbox_stats() const { return inbox_ ? inbox_->stats() : InboxStats(); }

absl::Status Service::failure() const {
  if (inbox_) return inbox_->failure();
  return absl::OkStatus();
}

}  // namespace rapport::consumers
