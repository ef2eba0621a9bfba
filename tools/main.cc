// The `rapport` program: parses the command line and hands over to tools/commands.h.
#include <CLI/CLI.hpp>

#include "tools/allocator.h"
#include "tools/commands.h"
#include "tools/config.h"

int main(int argc, char** argv) {
  using namespace rapport::tools;
  TuneAllocator();
  LogToStderr();
  CLI::App app{"rapport — an event-sourced relationship ledger (see README.md)"};
  app.require_subcommand(1);
  CommonFlags common;
  std::string data_dir_flag;
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--data-dir", data_dir_flag,
                    "data directory (default: the config's data_dir, else ./rapport-data)");
    cmd->add_option("--config", common.config, "TOML configuration file");
  };
  // --data-dir, else the config's data_dir, else the default.
  auto resolve = [&] { common.data_dir = ResolveDataDir(data_dir_flag, common.config); };
  int code = kExitOk;

  std::string file;
  auto* append = app.add_subcommand("append", "append NDJSON events (stdin when no FILE)");
  add_common(append);
  append->add_option("file", file, "NDJSON file, or - for stdin");
  append->callback([&] {
    resolve();
    code = RunAppend(common, file);
  });

  ServeFlags serve_flags;
  auto* serve = app.add_subcommand("serve", "run the pipeline: Kafka inbox, ledger, projections");
  add_common(serve);
  serve->add_option("--kafka", serve_flags.kafka,
                    "embedded (a broker in this process), none, or host:port,... "
                    "(default: the config's kafka.bootstrap, else embedded)");
  serve
      ->add_option("--status-interval", serve_flags.status_interval_s,
                   "seconds between status log lines")
      ->capture_default_str();
  serve->add_option("--http", serve_flags.http,
                    "HTTP address host:port, or none (default: the config's http.listen, else "
                    "127.0.0.1:8080)");
  serve->add_flag("--insecure", serve_flags.insecure,
                  "allow a non-loopback --http address without auth.tokens_file");
  serve->add_option("--log-level", serve_flags.log_level,
                    "trace, debug, info, warn, error (default: the config's log.level)");
  serve->add_option("--log-format", serve_flags.log_format,
                    "text or json, one object per line (default: the config's log.format)");
  serve->callback([&] {
    resolve();
    code = RunServe(common, serve_flags);
  });

  int broker_partitions = 4;
  std::string bootstrap_file;
  auto* broker = app.add_subcommand("broker", "the embedded Kafka-protocol broker as a process");
  add_common(broker);
  broker->add_option("--partitions", broker_partitions, "partitions of every topic")
      ->capture_default_str();
  broker->add_option("--bootstrap-file", bootstrap_file, "write the bootstrap address here");
  broker->callback([&] {
    resolve();
    code = RunBroker(common, broker_partitions, bootstrap_file);
  });

  std::string customer, as_of;
  uint64_t after_seq = 0, limit = 0;
  auto* history = app.add_subcommand("history", "a customer's events as JSON");
  add_common(history);
  history->add_option("customer", customer, "customer id")->required();
  history->add_option("--as-of", as_of, "only events that occurred at or before this time");
  history->add_option("--after-seq", after_seq, "only events with a greater seq");
  history->add_option("--limit", limit, "at most this many events (0: all)");
  history->callback([&] {
    resolve();
    code = RunHistory(common, customer, as_of, after_seq, limit);
  });

  for (const char* name : {"profile", "loyalty", "resume"}) {
    auto* cmd = app.add_subcommand(
        name, std::string("the customer's ") + name + " projection as of a time (CONTRACT §4)");
    add_common(cmd);
    cmd->add_option("customer", customer, "customer id")->required();
    cmd->add_option("--as-of", as_of, "fold the events visible at this time (default: now)");
    cmd->callback([&, name] {
      resolve();
      code = RunProjection(common, name, customer, as_of);
    });
  }

  std::string rebuild_projection;
  auto* rebuild = app.add_subcommand("rebuild", "rebuild projections from the ledger, then switch");
  add_common(rebuild);
  rebuild->add_option("--projection", rebuild_projection,
                      "profile, loyalty or resume (default: all)");
  rebuild->callback([&] {
    resolve();
    code = RunRebuild(common, rebuild_projection);
  });

  std::string export_projection, export_format = "jsonl";
  auto* export_cmd = app.add_subcommand("export", "every customer's projection, for analytics");
  add_common(export_cmd);
  export_cmd->add_option("--projection", export_projection, "profile, loyalty or resume")
      ->required();
  export_cmd->add_option("--format", export_format, "jsonl or csv")->capture_default_str();
  export_cmd->callback([&] {
    resolve();
    code = RunExport(common, export_projection, export_format);
  });

  std::string verify_customer;
  auto* verify =
      app.add_subcommand("verify", "recompute every hash; exit 1 naming the first bad record");
  add_common(verify);
  verify->add_option("--customer", verify_customer, "verify one customer's stream only");
  verify->callback([&] {
    resolve();
    code = RunVerify(common, verify_customer.empty() ? std::nullopt
                                                     : std::optional<std::string>(verify_customer));
  });

  auto* digest = app.add_subcommand("digest", "each partition's head position and chain hash");
  add_common(digest);
  digest->callback([&] {
    resolve();
    code = RunDigest(common);
  });

  uint64_t gen_customers = 1000, gen_events = 10000, gen_seed = 1;
  auto* gen = app.add_subcommand("gen", "write a synthetic NDJSON workload to stdout");
  gen->add_option("--customers", gen_customers, "number of customers")->capture_default_str();
  gen->add_option("--events", gen_events, "number of events")->capture_default_str();
  gen->add_option("--seed", gen_seed, "random seed")->capture_default_str();
  gen->callback([&] {
    resolve();
    code = RunGen(gen_customers, gen_events, gen_seed);
  });

  BenchFlags bench;
  auto* bench_cmd = app.add_subcommand("bench", "benchmarks; print one JSON object");
  bench_cmd->require_subcommand(1);
  auto add_bench = [&](CLI::App* cmd) {
    add_common(cmd);
    cmd->add_option("--events", bench.events, "events in the workload")->capture_default_str();
    cmd->add_option("--customers", bench.customers, "customers")->capture_default_str();
    cmd->add_option("--batch", bench.batch, "events per append batch")->capture_default_str();
    cmd->add_option("--threads", bench.threads, "appending threads")->capture_default_str();
    cmd->add_option("--seed", bench.seed, "workload seed")->capture_default_str();
  };
  auto* bench_append = bench_cmd->add_subcommand("append", "durable JSON-to-ledger appends");
  add_bench(bench_append);
  bench_append->callback([&] {
    resolve();
    code = RunBenchAppend(common, bench);
  });
  auto* bench_replay =
      bench_cmd->add_subcommand("replay", "read every record and verify both chains");
  add_bench(bench_replay);
  bench_replay->callback([&] {
    resolve();
    code = RunBenchReplay(common, bench);
  });

  auto* bench_rebuild = bench_cmd->add_subcommand("rebuild", "rebuild all three projections");
  add_bench(bench_rebuild);
  bench_rebuild->callback([&] {
    resolve();
    code = RunBenchRebuild(common, bench);
  });
  auto* bench_query = bench_cmd->add_subcommand("query", "projection lookups and as-of folds");
  add_bench(bench_query);
  bench_query->callback([&] {
    resolve();
    code = RunBenchQuery(common, bench);
  });
  auto* bench_live = bench_cmd->add_subcommand(
      "live", "live projection updates: the runner catches up after every append batch");
  add_bench(bench_live);
  bench_live->callback([&] {
    resolve();
    code = RunBenchLive(common, bench);
  });
  auto* bench_ingest =
      bench_cmd->add_subcommand("ingest", "Kafka inbox to ledger through the embedded broker");
  add_bench(bench_ingest);
  bench_ingest->callback([&] {
    resolve();
    code = RunBenchIngest(common, bench);
  });
  int latency_rate = 20000, latency_seconds = 30, latency_warmup = 3;
  auto* bench_latency = bench_cmd->add_subcommand(
      "latency", "publish-to-projection-visible latency at a steady rate (embedded broker)");
  add_bench(bench_latency);
  bench_latency->add_option("--rate", latency_rate, "events per second")->capture_default_str();
  bench_latency->add_option("--seconds", latency_seconds, "how long to publish")
      ->capture_default_str();
  bench_latency
      ->add_option("--warmup", latency_warmup,
                   "seconds of the publishing not measured (the pipeline's start-up catch-up)")
      ->capture_default_str();
  bench_latency->callback([&] {
    resolve();
    code = RunBenchLatency(common, bench, latency_rate, latency_seconds, latency_warmup);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int exit = app.exit(e);
    return exit == 0 ? kExitOk : kExitBadInput;
  }
  return code;
}
