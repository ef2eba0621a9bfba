// Reading events back from the ledger's canonical bytes, fast. Every stored event was parsed and
// validated when it was accepted, and its canonical JSON (CONTRACT §7) is JCS: no whitespace,
// members in a fixed order, minimal string escapes. Rebuilds read every event of the ledger, so
// they read it with a parser that relies on that regularity and checks nothing it does not have
// to; anything it does not expect sends the event to the strict ledger codec instead, so the
// result is always the event the strict parser gives.
#ifndef RAPPORT_PROJECTIONS_STORED_EVENT_H_
#define RAPPORT_PROJECTIONS_STORED_EVENT_H_

#include <string_view>

#include "ledger/event.h"

namespace rapport::projections {

// Fills `*event` (a default-constructed Event) from canonical event JSON. False when the text is
// not in the exact form the ledger renders (then `*event` is unspecified and the caller must use
// the strict parser). Does not re-validate lengths, enums or UTF-8. Thread-safe.
bool ParseCanonicalEventFast(std::string_view json, ledger::Event* event);

// The event JSON inside canonical record bytes (`{"customer_id":…,"event":{…},"event_id":…}`),
// or an empty view when the bytes are not of that form.
std::string_view CanonicalEventJson(std::string_view canonical);

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_STORED_EVENT_H_
