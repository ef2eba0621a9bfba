// Process-wide allocator settings for the `rapport` program (its serve, broker and bench commands).
#ifndef RAPPORT_TOOLS_ALLOCATOR_H_
#define RAPPORT_TOOLS_ALLOCATOR_H_

namespace rapport::tools {

// When the process allocates through mimalloc (linked or preloaded), asks it for 2 MiB
// transparent huge pages and to keep freed memory for a second (segments 5 s) before returning it
// to the OS. With its defaults, `bench ingest` of 1M events took 2.1M minor page faults and 30 s
// of system time; with these, 0.11M and 7-8 s (docs/PERFORMANCE.md, "sixth session"). A
// MIMALLOC_* (or mimalloc_*) environment variable of the same option wins. Does nothing under other
// allocators. Call first thing in main().
void TuneAllocator();

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_ALLOCATOR_H_
