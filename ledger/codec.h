// The JSON codec of CONTRACT §1–2: strict parsing into Event, and the canonical (RFC 8785) JSON
// rendering that is stored, hashed (§7) and returned by `history`.
#ifndef RAPPORT_LEDGER_CODEC_H_
#define RAPPORT_LEDGER_CODEC_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/event.h"

namespace rapport::ledger {

struct CodecOptions {
  // limits.max_event_bytes: the largest accepted event, in raw bytes.
  size_t max_event_bytes = 64 * 1024;
  // The configured loyalty tiers; `tier_override.tier` must be one of them. Empty: any tier name
  // (for re-reading stored events, which were checked against the tiers of their day).
  std::vector<std::string> tiers = {"member", "silver", "gold", "platinum"};
};

// Parses and validates one event. Errors are InvalidArgument with the error code (invalid_json,
// invalid_field, too_large) and the path of the offending field as payloads (ledger/errors.h).
// Thread-safe.
absl::StatusOr<Event> ParseEventJson(std::string_view json, const CodecOptions& options);

// Checks the rules that do not depend on how the event was encoded (required fields, lengths,
// enums, ranges). ParseEventJson applies it; decoders of other encodings (FlatBuffers) must too.
absl::Status ValidateEvent(const Event& event, const CodecOptions& options);

// The canonical JSON of an event, split around the `customer_id` member so that the customer id
// resolved at append time can be put in without rendering again: the event's JSON is
// `head + "\"customer_id\":" + <string> + "," + tail` (head starts with `{` and ends with `,` or
// `{`; tail starts with `"data"`).
struct CanonicalEventParts {
  std::string head;
  std::string tail;
};
CanonicalEventParts RenderCanonicalParts(const Event& event);

// The canonical JSON of `event` with `customer_id` set to `customer_id` (omitted when empty).
std::string RenderCanonicalEvent(const Event& event, std::string_view customer_id);

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_CODEC_H_
