#include "tools/bench_common.h"

#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tools/gen.h"

namespace rapport::tools {

namespace {
constexpr char kMarker[] = ".rapport-bench";
}  // namespace

double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

bool PrepareBenchDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec) && !fs::exists(fs::path(dir) / kMarker, ec)) {
    std::fprintf(stderr,
                 "rapport bench: %s exists and was not made by a benchmark; give an empty or new "
                 "--data-dir\n",
                 dir.c_str());
    return false;
  }
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  std::ofstream(fs::path(dir) / kMarker) << "made by rapport bench; safe to delete\n";
  return true;
}

std::vector<std::string> MakeWorkload(const BenchFlags& bench) {
  std::vector<std::string> lines;
  lines.reserve(bench.events);
  auto start = BenchClock::now();
  GenerateWorkload({bench.customers, bench.events, bench.seed},
                   [&](std::string_view line) { lines.emplace_back(line); });
  std::fprintf(stderr, "bench: generated %zu events for %llu customers in %.2fs\n", lines.size(),
               static_cast<unsigned long long>(bench.customers),
               SecondsBetween(start, BenchClock::now()));
  return lines;
}

std::string BenchJsonHead(std::string_view name) {
  const char* allocator = "glibc";
  if (dlsym(RTLD_DEFAULT, "mi_version") != nullptr) {
    allocator = "mimalloc";
  } else if (dlsym(RTLD_DEFAULT, "mallctl") != nullptr) {
    allocator = "jemalloc";
  } else if (dlsym(RTLD_DEFAULT, "tc_malloc") != nullptr) {
    allocator = "tcmalloc";
  }
  std::string out = "{\"bench\":\"";
  out.append(name);
  out.append("\",\"allocator\":\"");
  out.append(allocator);
  out.append("\"");
  return out;
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace rapport::tools
