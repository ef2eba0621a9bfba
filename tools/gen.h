// The synthetic workload behind `rapport gen`: a realistic, seed-deterministic stream of customer
// touchpoint events (CONTRACT §1–2) for demos, tests and `rapport bench`.
#ifndef RAPPORT_TOOLS_GEN_H_
#define RAPPORT_TOOLS_GEN_H_

#include <cstdint>
#include <functional>
#include <string_view>

namespace rapport::tools {

struct GenOptions {
  // Named customers C-000001 … C-<customers> (more digits past 999,999). The generator keeps
  // about 36 bytes per customer; at most 2^32 - 1 are used. With 0, only anonymous visitors
  // (identity-only events) are generated.
  uint64_t customers = 1000;
  // The exact number of events (lines) produced.
  uint64_t events = 10000;
  // Selects the workload; equal options give byte-identical output on every run and platform.
  uint64_t seed = 1;
};

// Generates `options.events` events and calls `sink` once per event, in output order, with one
// JSON object (no trailing newline) that ParseEventJson accepts with default CodecOptions. The
// view is valid only during the call. Output is in event-time order except for about 1% of
// events that arrive some hours late. Single-threaded; independent calls may run concurrently.
void GenerateWorkload(const GenOptions& options, const std::function<void(std::string_view)>& sink);

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_GEN_H_
