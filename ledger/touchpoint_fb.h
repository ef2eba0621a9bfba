// The FlatBuffers form of a touchpoint (CONTRACT §5: a `Touchpoint` of schemas/touchpoint.fbs on
// rapport.touchpoints with header `content-type: application/x-flatbuffers`). Decoding yields the
// same Event, and the same errors, as ParseEventJson gives for the equivalent JSON; encoding is
// what rapport.ledger embeds as `LedgerRecord.touchpoint`.
//
// Decisions where the encoding differs from JSON:
// - The buffer must carry the file identifier "RPTP" (flatc and FinishTouchpointBuffer write it).
//   A buffer without one cannot be told from one with the wrong one (bytes 4–7 are then part of
//   the data), and the identifier is what keeps a LedgerRecord ("RPLR") or a foreign table that
//   reached the topic from being read as a Touchpoint. Size-prefixed buffers are not accepted.
// - Bytes that are not a verifiable Touchpoint (empty, truncated, corrupt, wrong identifier) are
//   `invalid_json` with no field: the contract's code for a message whose encoding cannot be read
//   at all, as opposed to `invalid_field` for a readable event that breaks a rule. The message
//   says FlatBuffers. Strings that are not valid UTF-8 are `invalid_json` naming the field, as in
//   JSON. No new code is introduced, so consumers of rapport.rejected and HTTP need no change.
// - A field FlatBuffers leaves out is absent: a JSON `null` has no equivalent. Scalars the schema
//   gives a default (`Identity.kind`, default `email`) are never absent. `Answer.key` is a
//   FlatBuffers key, which the verifier requires, so an answer without one is unreadable.
// - An enum value outside the schema is `invalid_field` naming the field, like an unknown name in
//   JSON; a `data_type` outside the union is `invalid_field` on `type`, and a Touchpoint without
//   `data` (data_type NONE) is `invalid_field` on `type` ("required"). A union type whose table is
//   left out is an empty `data`, as a JSON event may omit `data`.
// - A table holding a field the schema does not know (written with a newer schema) is rejected,
//   as unknown JSON members are: `invalid_field` naming the table (``, `identity`, `data`,
//   `data.identity`, `data.items[i]`), because the field has no name we could report.
// - The size limit (limits.max_event_bytes, `too_large`) applies to the raw FlatBuffers bytes.
#ifndef RAPPORT_LEDGER_TOUCHPOINT_FB_H_
#define RAPPORT_LEDGER_TOUCHPOINT_FB_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "flatbuffers/flatbuffers.h"
#include "ledger/codec.h"
#include "ledger/event.h"
#include "schemas/touchpoint_generated.h"

namespace rapport::ledger {

// Verifies and decodes one FlatBuffers `Touchpoint` and validates it with ValidateEvent. The
// result equals ParseEventJson of the equivalent JSON; errors are InvalidArgument with the codes
// and field paths of ParseEventJson (ledger/errors.h; see above for what only FlatBuffers can
// get wrong). `bytes` need not be aligned. Thread-safe.
absl::StatusOr<Event> DecodeTouchpoint(std::string_view bytes, const CodecOptions& options);

// A finished FlatBuffers `Touchpoint` of `event`, with the "RPTP" identifier. `event` must be
// valid (ValidateEvent); times are rendered in the canonical form (UTC, `Z`, microseconds only
// when not zero), so decoding gives back an equal Event. Thread-safe.
std::string EncodeTouchpoint(const Event& event);

// Writes `event` as a `Touchpoint` table into `fbb` (not finished), for embedding it in another
// table such as `LedgerRecord.touchpoint`. Same requirements as EncodeTouchpoint.
flatbuffers::Offset<rapport::schemas::Touchpoint> BuildTouchpoint(
    flatbuffers::FlatBufferBuilder& fbb, const Event& event);

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_TOUCHPOINT_FB_H_
