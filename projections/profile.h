// The preference profile projection of CONTRACT §4.1 (`profile`) as a pure reducer: stated and
// observed preferences, category affinity, communication (channel mix, consents) and tags.
//
// Decay. Every decayed quantity the profile renders is a ratio of sums decayed to the same
// `as_of` (a preference's confidence, a category's share), and the winning value compares sums
// decayed to the same `as_of`. Since 0.5^((T - t)/h) = 0.5^((T - r)/h) · 0.5^((r - t)/h), the
// common factor cancels: the state keeps, per preference key and for the categories, sums
// re-based to one reference time r (the latest contributing event), which is exact, bounded and
// cannot overflow (factors are ≤ 1). The result does not depend on `as_of` at all, which is what
// the contract's formulas give. Ties are exact comparisons of those sums.
//
// Where CONTRACT §4.1 is silent, this projection chooses:
// - A stated winner is described (first_seen, last_seen, channels, evidence) by the statements of
//   that value since the key's last retraction: not by observations of the same value, not by
//   statements of other values in between, not by anything before the retraction.
// - Observations of a key that has a stated value are ignored (they could only matter after a
//   retraction, which discards them).
// - Category affinity counts purchases only, in any currency; refunds name no items and leave it
//   unchanged.
// - channel_mix's "365 days up to as_of" is (as_of − window, as_of] (the loyalty spend window's
//   form): a touchpoint exactly 365 days before as_of is out. "Most recent" (preferred_channel and
//   preference ties) is the (occurred_at, seq) apply order.
// - Consent keys are `purpose` or `purpose:channel`, each its own entry; the latest event for a
//   key wins.
#ifndef RAPPORT_PROJECTIONS_PROFILE_H_
#define RAPPORT_PROJECTIONS_PROFILE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/event.h"
#include "ledger/timestamp.h"
#include "projections/rules.h"
#include "projections/touch.h"

namespace rapport::projections {

// The contract's "latest 5 events" of a preference value.
inline constexpr int kProfileEvidence = 5;

// One value of a preference key and the events behind it.
struct ProfileValue {
  std::string value;
  // Observed values: the sum of weight × 0.5^((ref - t)/h) over its observations, where ref is
  // ProfilePreference::ref. Unused (0) for stated values.
  double weight = 0;
  ledger::Timestamp first_seen;
  ledger::Timestamp last_seen;
  // With last_seen, the apply order of the value's latest event: breaks weight ties.
  uint64_t last_seq = 0;
  uint8_t num_channels = 0;
  std::array<ledger::Channel, ledger::kNumChannels> channels{};  // in order of first use
  uint8_t num_evidence = 0;
  // Ledger positions of the latest events in apply order (rendered ascending).
  std::array<uint64_t, kProfileEvidence> evidence{};
};

// One preference key since its last retraction. Either observed-only (`values` are the observed
// values) or stated (`values` are the stated values since the retraction, `current` the latest):
// once a value is stated, observations cannot matter again until a retraction, which discards
// everything, so they are dropped.
struct ProfilePreference {
  std::string key;
  bool stated = false;
  int current = -1;       // stated: index in `values` of the latest stated value
  ledger::Timestamp ref;  // observed: the time the weights are re-based to
  std::vector<ProfileValue> values;
};

// All that is needed to render the profile as of any time at or after the last applied event.
// A value type: copyable, no references to outside data. Not thread-safe to mutate.
struct ProfileState {
  std::string customer_id;
  uint64_t seq = 0;  // the greatest seq applied
  bool has_events = false;
  ledger::Timestamp last_at;  // the occurred_at of the last applied event

  std::vector<ProfilePreference> preferences;  // sorted by key, bytewise

  ledger::Timestamp affinity_ref;  // the time affinity weights are re-based to
  std::vector<std::pair<std::string, double>> affinity;  // sorted by category

  // Inbound touchpoints that can still be inside the activity window for some as_of ≥ last_at,
  // in apply order; entries before `inbound_head` are dead (dropped lazily, in bulk).
  struct Inbound {
    int64_t at_micros;
    ledger::Channel channel;
  };
  std::vector<Inbound> inbound;
  size_t inbound_head = 0;

  std::vector<std::pair<std::string, bool>> consents;  // key → granted, sorted by key
  std::vector<std::string> tags;                       // sorted
};

// Applies one event. Events must arrive in (occurred_at, seq) order (CONTRACT §4). Pure: no wall
// clock, no I/O.
void ApplyProfile(ProfileState* state, const Touch& touch, const Rules& rules);

// The CONTRACT §4.1 JSON as of `as_of`, which should be ≥ every applied event's occurred_at
// (inbound touchpoints after `as_of` are not counted in the channel mix).
std::string RenderProfile(const ProfileState& state, ledger::Timestamp as_of, const Rules& rules);

// Binary form of the state for storage (state_codec.h). Decode returns false on truncated,
// trailing or inconsistent bytes; `*state` is then unspecified.
std::string EncodeProfileState(const ProfileState& state);
bool DecodeProfileState(std::string_view bytes, ProfileState* state);

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_PROFILE_H_
