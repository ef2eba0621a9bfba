// The projection rules of CONTRACT §4 that come from the configuration: loyalty tiers and their
// thresholds and multipliers, points expiry, the spend window, tier grace, the loyalty currency,
// and the preference half-life. The defaults are the contract's.
#ifndef RAPPORT_PROJECTIONS_RULES_H_
#define RAPPORT_PROJECTIONS_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace rapport::projections {

struct Tier {
  std::string name;
  // Qualifying spend (minor units) at or above which the tier applies.
  int64_t threshold_minor = 0;
  // Points multiplier in hundredths (1.25 → 125), so that points are computed exactly:
  // floor(amount_minor × multiplier_centi ÷ 10000).
  int64_t multiplier_centi = 100;
};

struct Rules {
  // Ascending by threshold; the first is the base tier every customer starts in.
  std::vector<Tier> tiers = {{"member", 0, 100},
                             {"silver", 100000, 125},
                             {"gold", 500000, 150},
                             {"platinum", 2000000, 200}};
  // Only purchases and refunds in this currency count toward points, spend and value.
  std::string currency = "CNY";
  int64_t points_expiry_days = 365;
  // Qualifying spend window: (as_of - window, as_of].
  int64_t spend_window_days = 365;
  int64_t tier_grace_days = 90;
  double preference_half_life_days = 180;
  // The window of communication.channel_mix and of the relationship class.
  int64_t activity_window_days = 365;

  // A stable text naming every value above; stored with projection state, a change of it is a
  // reason to rebuild.
  std::string Fingerprint() const;
  // The tier's index in `tiers`, or -1.
  int TierIndex(const std::string& name) const;
};

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_RULES_H_
