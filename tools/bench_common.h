// Pieces every `rapport bench` command shares.
#ifndef RAPPORT_TOOLS_BENCH_COMMON_H_
#define RAPPORT_TOOLS_BENCH_COMMON_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "tools/commands.h"

namespace rapport::tools {

using BenchClock = std::chrono::steady_clock;

inline double SecondsBetween(BenchClock::time_point a, BenchClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU seconds of the whole process (every thread, RocksDB's and librdkafka's included) so far.
// Less sensitive than wall time to other work on a shared machine.
double ProcessCpuSeconds();

// Benchmarks own their data dir: they create it fresh, and refuse to wipe one they did not make
// (false, with a message on stderr).
bool PrepareBenchDir(const std::string& dir);

// The gen workload of `bench` (customers, events, seed), one JSON line per event.
std::vector<std::string> MakeWorkload(const BenchFlags& bench);

// The opening of a benchmark's JSON line: {"bench":"NAME","allocator":"…" — the malloc that
// served the run (mimalloc when the program is linked with it or it is preloaded, else glibc),
// since allocation is a fifth of the CPU of the projection benchmarks.
std::string BenchJsonHead(std::string_view name);

// The value at quantile `q` (0..1) of `sorted` (ascending); 0 when empty.
double Percentile(const std::vector<double>& sorted, double q);

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_BENCH_COMMON_H_
