#include "projections/fold.h"

#include <algorithm>

#include "ledger/codec.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "projections/loyalty.h"
#include "projections/profile.h"
#include "projections/resume.h"
#include "projections/stored_event.h"

namespace rapport::projections {

std::string_view ProjectionName(ProjectionKind kind) {
  switch (kind) {
    case ProjectionKind::kProfile:
      return "profile";
    case ProjectionKind::kLoyalty:
      return "loyalty";
    case ProjectionKind::kResume:
      return "resume";
  }
  return "";
}

std::optional<ProjectionKind> ProjectionFromName(std::string_view name) {
  for (ProjectionKind kind : kAllProjections) {
    if (ProjectionName(kind) == name) return kind;
  }
  return std::nullopt;
}

namespace {

// The ledger codec, without today's size limit and tiers (stored events were checked against
// those of their day).
absl::StatusOr<ledger::Event> ParseStoredEventStrict(std::string_view event_json) {
  static const ledger::CodecOptions* options = [] {
    auto* o = new ledger::CodecOptions();
    o->max_event_bytes = SIZE_MAX;
    o->tiers.clear();
    return o;
  }();
  return ledger::ParseEventJson(event_json, *options);
}

}  // namespace

absl::StatusOr<ledger::Event> ParseStoredEvent(std::string_view event_json) {
  ledger::Event event;
  if (ParseCanonicalEventFast(event_json, &event)) return event;
  return ParseStoredEventStrict(event_json);
}

absl::Status ReadTouch(const ledger::StoredRecord& record, Touch* touch) {
  return ReadTouch(ledger::RecordViewOf(record), touch);
}

absl::Status ReadTouch(const ledger::RecordView& record, Touch* touch) {
  touch->seq = record.seq.value();
  touch->position = record.position.value();
  // The fast path, which fills the event in place: all but corrupt or unusual records.
  std::string_view json = CanonicalEventJson(record.canonical);
  if (!json.empty() && ParseCanonicalEventFast(json, &touch->event)) return absl::OkStatus();
  ASSIGN_OR_RETURN(ledger::CanonicalEnvelope env, ledger::ParseCanonical(record.canonical));
  auto event = ParseStoredEventStrict(env.event_json);
  if (!event.ok()) {
    return absl::DataLossError(AbslView(
        StrCat("partition ", record.partition.value(), " position ", record.position.value(),
               ": the stored event does not parse: ", StdView(event.status().message()))));
  }
  touch->event = *std::move(event);
  return absl::OkStatus();
}

absl::StatusOr<Touch> TouchFromRecord(const ledger::StoredRecord& record, std::string* event_json) {
  if (event_json != nullptr) {
    ASSIGN_OR_RETURN(ledger::CanonicalEnvelope env, ledger::ParseCanonical(record.canonical));
    event_json->assign(env.event_json);
  }
  Touch touch;
  RETURN_IF_ERROR(ReadTouch(record, &touch));
  return touch;
}

std::optional<std::string> Fold(ProjectionKind kind, std::vector<Touch> touches,
                                ledger::Timestamp as_of, const Rules& rules) {
  std::erase_if(touches, [&](const Touch& t) { return t.event.occurred_at > as_of; });
  if (touches.empty()) return std::nullopt;
  std::sort(touches.begin(), touches.end(), VisibleBefore);
  switch (kind) {
    case ProjectionKind::kProfile: {
      ProfileState state;
      for (const auto& t : touches) ApplyProfile(&state, t, rules);
      return RenderProfile(state, as_of, rules);
    }
    case ProjectionKind::kLoyalty: {
      LoyaltyState state;
      for (const auto& t : touches) ApplyLoyalty(&state, t, rules);
      return RenderLoyalty(state, as_of, rules);
    }
    case ProjectionKind::kResume: {
      ResumeState state;
      for (const auto& t : touches) ApplyResume(&state, t, rules);
      return RenderResume(state, as_of, rules);
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<Touch>> ReadTouches(const ledger::Ledger& ledger,
                                               std::string_view customer_id, ledger::Seq after,
                                               size_t limit,
                                               std::optional<ledger::Timestamp> as_of) {
  ASSIGN_OR_RETURN(auto records, ledger.ReadCustomer(customer_id, after, limit, as_of));
  std::vector<Touch> touches;
  touches.reserve(records.size());
  for (const auto& record : records) {
    ASSIGN_OR_RETURN(Touch touch, TouchFromRecord(record));
    touches.push_back(std::move(touch));
  }
  return touches;
}

absl::StatusOr<std::string> FoldFromLedger(const ledger::Ledger& ledger,
                                           std::string_view customer_id, ProjectionKind kind,
                                           ledger::Timestamp as_of, const Rules& rules) {
  ASSIGN_OR_RETURN(std::vector<Touch> touches,
                   ReadTouches(ledger, customer_id, ledger::Seq(0), SIZE_MAX, as_of));
  auto json = Fold(kind, std::move(touches), as_of, rules);
  if (!json) {
    return absl::NotFoundError(AbslView(StrCat(
        "customer ", customer_id, " has no event at or before ", ledger::FormatTimestamp(as_of))));
  }
  return *std::move(json);
}

}  // namespace rapport::projections
