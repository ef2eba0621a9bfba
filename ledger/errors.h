// Errors as CONTRACT §6 shows them: a machine-readable code, a message, and the path of the
// offending field. They travel inside absl::Status as payloads so that every layer (codec, append
// path, HTTP, CLI, the rejected topic) reports the same thing.
#ifndef RAPPORT_LEDGER_ERRORS_H_
#define RAPPORT_LEDGER_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace rapport::ledger {

// Values of `error.code`.
inline constexpr std::string_view kCodeInvalidJson = "invalid_json";
inline constexpr std::string_view kCodeInvalidField = "invalid_field";
inline constexpr std::string_view kCodeTooLarge = "too_large";
inline constexpr std::string_view kCodeVersionConflict = "version_conflict";
inline constexpr std::string_view kCodeDuplicateMismatch = "duplicate_mismatch";
inline constexpr std::string_view kCodeNotFound = "not_found";
inline constexpr std::string_view kCodeUnavailable = "unavailable";
inline constexpr std::string_view kCodeInternal = "internal";

// A status with canonical `code` carrying the contract's `error_code` and, when not empty, the
// field it is about.
absl::Status MakeError(absl::StatusCode code, std::string_view error_code, std::string_view message,
                       std::string_view field = "");
// InvalidArgument naming `field` (a path such as `data.items[0].quantity`).
absl::Status InvalidField(std::string_view field, std::string_view message);
// InvalidArgument for input that is not JSON at all; `field` may be empty.
absl::Status InvalidJson(std::string_view field, std::string_view message);
// The event is larger than limits.max_event_bytes (InvalidArgument, code too_large).
absl::Status TooLarge(std::string_view message);
// FailedPrecondition carrying the stream's actual version.
absl::Status VersionConflict(std::string_view customer_id, int64_t expected, int64_t current);
// AlreadyExists: the event_id was stored before with other content.
absl::Status DuplicateMismatch(std::string_view event_id);

// The contract code of `status` (its payload, or one derived from the canonical code).
std::string ErrorCode(const absl::Status& status);
// The field path, when the error names one.
std::optional<std::string> ErrorField(const absl::Status& status);
// The actual stream version of a version conflict.
std::optional<int64_t> CurrentVersion(const absl::Status& status);

// `{"error": {"code", "message", "field"?, "line"?, "current_version"?}}`.
std::string ErrorJson(const absl::Status& status, std::optional<int64_t> line = std::nullopt);

}  // namespace rapport::ledger

#endif  // RAPPORT_LEDGER_ERRORS_H_
