// Lowering the CPU priority of the calling thread, for work derived from the ledger (projections,
// the Kafka relay and publishers) that must not take the CPU from appends when both want it.
#ifndef RAPPORT_LEDGER_THREAD_PRIORITY_H_
#define RAPPORT_LEDGER_THREAD_PRIORITY_H_

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace rapport::ledger {

// The nice value of derived work: an idle CPU still runs it at full speed, a busy one serves the
// ledger's appends first.
inline constexpr int kDerivedWorkNice = 10;

// Sets the calling thread's nice value (Linux: per thread; threads it starts inherit it). Raising
// it needs no privilege; a failure leaves the priority as it was, which is harmless.
inline void SetCurrentThreadNice(int nice) {
  if (nice > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
}

// The calling thread's nice value.
inline int CurrentThreadNice() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

// Makes the calling thread's nice value `nice`, up or (with the privilege to) down; without it,
// a thread asked to run at a higher priority stays at its own, which is harmless.
inline void MatchThreadNice(int nice) {
  if (CurrentThreadNice() != nice) {
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
  }
}

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_THREAD_PRIORITY_H_
