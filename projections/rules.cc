#include "projections/rules.h"

#include "ledger/json.h"
#include "ledger/strings.h"

namespace rapport::projections {

std::string Rules::Fingerprint() const {
  std::string out = "rules/v1;tiers=";
  for (const auto& t : tiers) {
    ledger::json::AppendString(&out, t.name);
    StrAppend(&out, ":", t.threshold_minor, ":", t.multiplier_centi, ",");
  }
  out.append(";currency=");
  ledger::json::AppendString(&out, currency);
  StrAppend(&out, ";points_expiry_days=", points_expiry_days,
            ";spend_window_days=", spend_window_days, ";tier_grace_days=", tier_grace_days,
            ";preference_half_life_days=", preference_half_life_days,
            ";activity_window_days=", activity_window_days);
  return out;
}

int Rules::TierIndex(const std::string& name) const {
  for (size_t i = 0; i < tiers.size(); ++i) {
    if (tiers[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace rapport::projections
