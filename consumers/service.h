// The running pipeline of `rapport serve` (DESIGN.md data flow): the ledger, the projection
// runner, and — unless Kafka is off — the inbox consumer, the outbox relay, the changelog
// publisher and the rejected-message publisher, on an embedded broker or a real cluster.
#ifndef RAPPORT_CONSUMERS_SERVICE_H_
#define RAPPORT_CONSUMERS_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "consumers/changelog.h"
#include "consumers/embedded_broker.h"
#include "consumers/inbox.h"
#include "consumers/kafka.h"
#include "consumers/rejected.h"
#include "consumers/relay.h"
#include "ledger/ledger.h"
#include "projections/runner.h"

namespace rapport::consumers {

struct ServiceOptions {
  std::string data_dir = "./rapport-data";
  ledger::LedgerOptions ledger;
  projections::RunnerOptions runner;
  InboxOptions inbox;
  ChangelogOptions changelog;
  // `embedded` (a broker in this process), `none` (no Kafka), or a bootstrap list.
  std::string kafka_mode = "embedded";
  KafkaOptions kafka;  // bootstrap filled in for `embedded`
  int embedded_brokers = 3;
};

// Lag of each stage, for logs, /healthz and /metrics.
struct ServiceStatus {
  InboxStats inbox;
  RelayStats relay;
  ChangelogStats changelog;
  uint64_t rejected_published = 0;
  uint64_t rejected_waiting = 0;
  uint64_t projections_behind = 0;  // summed over the three projections
  bool kafka = false;
};

// Owns everything it starts. Start..Stop from one thread; status() and the accessors are
// thread-safe.
class Service {
 public:
  // Unavailable when another process holds the data dir; FailedPrecondition when the inbox
  // topic's partition count differs from the ledger's; InvalidArgument for bad Kafka settings.
  static absl::Status Start(const ServiceOptions& options, std::unique_ptr<Service>* service);
  ~Service();

  // Drains in data-flow order — stop reading the inbox, let the projections catch up, publish
  // what is stored — then closes everything. Idempotent.
  void Stop();
  ServiceStatus status() const;
  // The inbox's figures alone (cheap: no lock the projection runner holds).
  InboxStats inbox_stats() const;
  // Set when a stage stopped on a storage failure; the process should exit.
  absl::Status failure() const;

  ledger::Ledger* ledger() const { return ledger_.get(); }
  projections::Runner* runner() const { return runner_.get(); }
  // The Kafka bootstrap in use (empty without Kafka).
  const std::string& bootstrap() const { return bootstrap_; }
  EmbeddedBroker* embedded_broker() const { return broker_.get(); }

 private:
  Service() = default;
  std::string bootstrap_;
  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<projections::Runner> runner_;
  std::unique_ptr<RejectedPublisher> rejected_;
  std::unique_ptr<LedgerRelay> relay_;
  std::unique_ptr<ChangelogPublisher> changelog_;
  std::unique_ptr<Inbox> inbox_;
  bool stopped_ = false;
};

}  // namespace rapport::consumers

#endif  // RAPPORT_CONSUMERS_SERVICE_H_
