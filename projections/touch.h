// A ledger event as the projection reducers see it.
#ifndef RAPPORT_PROJECTIONS_TOUCH_H_
#define RAPPORT_PROJECTIONS_TOUCH_H_

#include <cstdint>

#include "ledger/event.h"

namespace rapport::projections {

// One visible event of a customer's stream. `event.customer_id` is the resolved customer.
// Reducers receive a customer's visible events in (occurred_at, seq) order (CONTRACT §4).
struct Touch {
  ledger::Event event;
  uint64_t seq = 0;
  uint64_t position = 0;  // ledger position, cited as evidence
};

// The order in which visible events are applied: (occurred_at, seq).
inline bool VisibleBefore(const Touch& a, const Touch& b) {
  return a.event.occurred_at != b.event.occurred_at ? a.event.occurred_at < b.event.occurred_at
                                                    : a.seq < b.seq;
}

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_TOUCH_H_
