// Folding a customer's stored events into a projection as of a time (CONTRACT §4: visible events,
// occurred_at <= as_of, applied in (occurred_at, seq) order). This is the as-of query and the
// reference the incremental runner must agree with.
#ifndef RAPPORT_PROJECTIONS_FOLD_H_
#define RAPPORT_PROJECTIONS_FOLD_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"
#include "projections/rules.h"
#include "projections/touch.h"

namespace rapport::projections {

enum class ProjectionKind { kProfile, kLoyalty, kResume };
inline constexpr ProjectionKind kAllProjections[] = {
    ProjectionKind::kProfile, ProjectionKind::kLoyalty, ProjectionKind::kResume};
std::string_view ProjectionName(ProjectionKind kind);
std::optional<ProjectionKind> ProjectionFromName(std::string_view name);

// Parses an event as stored in the ledger (accepted earlier: today's size limit and tiers do not
// apply to it). Canonical JSON takes a fast path (projections/stored_event.h); anything else goes
// through the strict ledger codec.
absl::StatusOr<ledger::Event> ParseStoredEvent(std::string_view event_json);

// Fills `*touch` (default-constructed) from a stored record: its event, seq and position. DataLoss
// when its canonical bytes do not hold an event.
absl::Status ReadTouch(const ledger::StoredRecord& record, Touch* touch);
// The same from a record's views (a rebuild's scan).
absl::Status ReadTouch(const ledger::RecordView& record, Touch* touch);

// Decodes a stored record into a Touch (and, when asked, the event's JSON). DataLoss when its
// canonical bytes do not hold an event.
absl::StatusOr<Touch> TouchFromRecord(const ledger::StoredRecord& record,
                                      std::string* event_json = nullptr);

// The customer's events with seq > `after` (at most `limit`; with `as_of`, only those occurred by
// then), in seq order.
absl::StatusOr<std::vector<Touch>> ReadTouches(
    const ledger::Ledger& ledger, std::string_view customer_id, ledger::Seq after, size_t limit,
    std::optional<ledger::Timestamp> as_of = std::nullopt);

// The projection JSON of `touches` (one customer's, any order; those after `as_of` are ignored)
// as of `as_of`. nullopt when no event is visible.
std::optional<std::string> Fold(ProjectionKind kind, std::vector<Touch> touches,
                                ledger::Timestamp as_of, const Rules& rules);

// Reads the customer's events from the ledger and folds them. NotFound when the customer has no
// event visible at `as_of`.
absl::StatusOr<std::string> FoldFromLedger(const ledger::Ledger& ledger,
                                           std::string_view customer_id, ProjectionKind kind,
                                           ledger::Timestamp as_of, const Rules& rules);

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_FOLD_H_
