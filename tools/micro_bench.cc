// Google Benchmark micro-benchmarks of the append path's CPU work, per event:
//   build/release/tools/rapport_micro_bench
#include <benchmark/benchmark.h>

#include "ledger/codec.h"
#include "ledger/hashing.h"
#include "ledger/ledger.h"
#include "ledger/record.h"
#include "tools/gen.h"

namespace {

using namespace rapport;

const std::vector<std::string>& Workload() {
  static const auto* lines = [] {
    auto* v = new std::vector<std::string>();
    tools::GenerateWorkload({1000, 20000, 1}, [&](std::string_view l) { v->emplace_back(l); });
    return v;
  }();
  return *lines;
}

void BM_ParseEventJson(benchmark::State& state) {
  const auto& lines = Workload();
  ledger::CodecOptions options;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& line = lines[i++ % lines.size()];
    bytes += line.size();
    benchmark::DoNotOptimize(ledger::ParseEventJson(line, options));
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParseEventJson);

void BM_ParseAndPrepare(benchmark::State& state) {
  const auto& lines = Workload();
  ledger::CodecOptions options;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ledger::ParseAndPrepare(lines[i++ % lines.size()], options));
  }
}
BENCHMARK(BM_ParseAndPrepare);

void BM_Sha256(benchmark::State& state) {
  std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(ledger::Sha256(data));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(64)->Arg(700);

void BM_EncodeRecord(benchmark::State& state) {
  ledger::StoredRecord r;
  r.customer_id = "C-000123";
  r.event_id = "g1-123456";
  r.canonical.assign(650, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(ledger::EncodeRecord(r));
}
BENCHMARK(BM_EncodeRecord);

void BM_DecodeRecord(benchmark::State& state) {
  ledger::StoredRecord r;
  r.customer_id = "C-000123";
  r.event_id = "g1-123456";
  r.canonical.assign(650, 'x');
  std::string bytes = ledger::EncodeRecord(r);
  for (auto _ : state) benchmark::DoNotOptimize(ledger::DecodeRecord(bytes));
}
BENCHMARK(BM_DecodeRecord);

}  // namespace

BENCHMARK_MAIN();
