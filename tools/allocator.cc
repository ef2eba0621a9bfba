#include "tools/allocator.h"

#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "mimalloc.h"

namespace rapport::tools {

void TuneAllocator() {
  // Looked up at run time: the tools library is not linked with mimalloc (the tests run on glibc's
  // malloc), only the programs are.
  using SetFn = void (*)(mi_option_t, long);
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "mi_option_set"));
  if (set == nullptr) return;
  struct Setting {
    mi_option_t option;
    const char* env;
    long value;
  };
  // Page faults are costly on virtual machines: each first touch of a 4 KiB page traps. Huge
  // pages take one fault per 2 MiB, and the delays stop memtables, Kafka buffers and batches from
  // being returned and faulted in again with every cycle.
  static constexpr Setting kSettings[] = {
      {mi_option_large_os_pages, "MIMALLOC_LARGE_OS_PAGES", 1},
      {mi_option_decommit_delay, "MIMALLOC_DECOMMIT_DELAY", 1000},
      {mi_option_segment_decommit_delay, "MIMALLOC_SEGMENT_DECOMMIT_DELAY", 5000},
  };
  // mimalloc reads each option from MIMALLOC_NAME or mimalloc_name; either wins over ours.
  auto in_environment = [](const char* name) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return std::getenv(name) != nullptr || std::getenv(lower.c_str()) != nullptr;
  };
  for (const Setting& s : kSettings) {
    if (!in_environment(s.env)) set(s.option, s.value);
  }
}

}  // namespace rapport::tools
