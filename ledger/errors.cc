#include "ledger/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "ledger/json.h"
#include "ledger/strings.h"

namespace rapport::ledger {
namespace {

constexpr char kCodeUrl[] = "rapport/code";
constexpr char kFieldUrl[] = "rapport/field";
constexpr char kVersionUrl[] = "rapport/current_version";

}  // namespace

absl::Status MakeError(absl::StatusCode code, std::string_view error_code, std::string_view message,
                       std::string_view field) {
  absl::Status s(code, AbslView(message));
  s.SetPayload(kCodeUrl, absl::Cord(AbslView(error_code)));
  if (!field.empty()) s.SetPayload(kFieldUrl, absl::Cord(AbslView(field)));
  return s;
}

absl::Status InvalidField(std::string_view field, std::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, kCodeInvalidField,
                   field.empty() ? std::string(message) : StrCat(field, ": ", message), field);
}

absl::Status InvalidJson(std::string_view field, std::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, kCodeInvalidJson,
                   field.empty() ? StrCat("invalid JSON: ", message)
                                 : StrCat(field, ": invalid JSON: ", message),
                   field);
}

absl::Status TooLarge(std::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, kCodeTooLarge, message, "");
}

absl::Status VersionConflict(std::string_view customer_id, int64_t expected, int64_t current) {
  absl::Status s = MakeError(absl::StatusCode::kFailedPrecondition, kCodeVersionConflict,
                             StrCat("expected_version ", expected, " but customer ", customer_id,
                                    " has ", current, " events"),
                             "expected_version");
  s.SetPayload(kVersionUrl, absl::Cord(StrCat(current)));
  return s;
}

absl::Status DuplicateMismatch(std::string_view event_id) {
  return MakeError(absl::StatusCode::kAlreadyExists, kCodeDuplicateMismatch,
                   StrCat("event_id ", event_id, " was stored before with different content"),
                   "event_id");
}

std::string ErrorCode(const absl::Status& status) {
  if (auto p = status.GetPayload(kCodeUrl)) return std::string(*p);
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return std::string(kCodeNotFound);
    case absl::StatusCode::kUnavailable:
      return std::string(kCodeUnavailable);
    case absl::StatusCode::kInvalidArgument:
      return std::string(kCodeInvalidField);
    default:
      return std::string(kCodeInternal);
  }
}

std::optional<std::string> ErrorField(const absl::Status& status) {
  if (auto p = status.GetPayload(kFieldUrl)) return std::string(*p);
  return std::nullopt;
}

std::optional<int64_t> CurrentVersion(const absl::Status& status) {
  int64_t v;
  if (auto p = status.GetPayload(kVersionUrl); p && absl::SimpleAtoi(std::string(*p), &v)) {
    return v;
  }
  return std::nullopt;
}

std::string ErrorJson(const absl::Status& status, std::optional<int64_t> line) {
  std::string out = "{\"error\":{\"code\":";
  json::AppendString(&out, ErrorCode(status));
  out.append(",\"message\":");
  json::AppendString(&out, StdView(status.message()));
  if (auto field = ErrorField(status)) {
    out.append(",\"field\":");
    json::AppendString(&out, *field);
  }
  if (line) {
    out.append(",\"line\":");
    json::AppendInt(&out, *line);
  }
  if (auto v = CurrentVersion(status)) {
    out.append(",\"current_version\":");
    json::AppendInt(&out, *v);
  }
  out.append("}}");
  return out;
}

}  // namespace rapport::ledger
