// The loyalty status projection of CONTRACT §4.2 — tier with grace and overrides, points in
// expiring lots, qualifying spend, lifetime value, satisfaction and the relationship class — as a
// pure reducer over a customer's visible events.
//
// Where the contract is silent, the choices made here (documented in full in loyalty.cc):
// - Grace and overrides: the tier is max(earned tier, active override). Grace protects the
//   earned tier only: it starts when the spend-supported tier falls below the earned tier, so an
//   override's end drops the tier at once to the earned tier — the spend-supported tier, or the
//   grace-protected one when a grace period is running. An override never starts a grace period.
// - The latest tier_override replaces any earlier one, even when its `until` has already passed
//   (which then simply ends the earlier floor). An override naming a tier not in the rules (an
//   event stored under other rules) is ignored.
// - Refunds: the forgiven shortfall counts as removed (a later refund of the same order never
//   takes it again); points are never given back. A refund of an order that has no purchase in
//   the loyalty currency (yet, in apply order) is ignored.
// - first/last_purchase_at, `orders` and the relationship class count purchases in any currency.
//   A purchase repeating an order id adds to that order (amount, points, own lots), refunds are
//   allocated to its purchases in purchase order for the spend window.
// - Lots holding 0 points are not lots: a purchase earning 0 points makes none, a lot emptied by a
//   redemption or refund disappears from `points_expiring`.
// - next_tier.spend_needed_minor = max(0, threshold − qualifying spend); it is always > 0 in
//   practice because the tier is never below the spend-supported one.
// - complaints_365d counts complaint_opened events of cases not already open, in the fixed 365
//   days (as_of − 365 d, as_of] (the name says 365 d); the relationship uses
//   Rules::activity_window_days with the same half-open window.
#ifndef RAPPORT_PROJECTIONS_LOYALTY_H_
#define RAPPORT_PROJECTIONS_LOYALTY_H_

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/timestamp.h"
#include "projections/rules.h"
#include "projections/touch.h"

namespace rapport::projections {

// "No such time": no grace period running, an override without `until`.
inline constexpr int64_t kLoyaltyNever = std::numeric_limits<int64_t>::max();
// A lot that no order earned (a positive points_adjusted).
inline constexpr uint32_t kLoyaltyNoOrder = std::numeric_limits<uint32_t>::max();

// Points that expire together. Lots are kept sorted by expiry (ties: oldest first).
struct LoyaltyLot {
  int64_t expires_at = 0;            // µs; expired once the clock is >= this
  int64_t points = 0;                // > 0: an emptied lot is removed
  uint32_t order = kLoyaltyNoOrder;  // index in LoyaltyState::orders of the earning order
};

// A distinct order id. Kept for ever: a refund of any past order still moves points and value,
// and `orders` counts distinct ids.
struct LoyaltyOrder {
  std::string order_id;
  int64_t last_purchase_at = 0;  // µs, purchases in any currency (relationship window)
  // Purchases and refunds in Rules::currency only.
  int64_t amount_minor = 0;
  int64_t refunded_minor = 0;  // <= amount_minor
  int64_t points = 0;          // earned by its purchases
  int64_t points_removed = 0;  // floor(points × refunded ÷ amount) at the last refund
};

// A counted purchase still inside the spend window, in occurred order.
struct LoyaltySpend {
  int64_t at = 0;
  int64_t amount_minor = 0;
  int64_t offset_minor = 0;  // the order's counted amount before this purchase
  int64_t net_minor = 0;     // amount less the refunds allocated to it
  uint32_t order = 0;
};

struct LoyaltyTierChange {
  int32_t tier = 0;  // index in Rules::tiers
  int64_t at = 0;
  bool has_position = false;  // false: caused by time (rendered as null)
  uint64_t position = 0;
};

// All that is needed to render the projection as of any time >= the last applied event. A plain
// value: copyable, not thread-safe. Fields are internal to loyalty.cc and its codec.
struct LoyaltyState {
  std::string customer_id;
  bool started = false;
  uint64_t max_seq = 0;
  int64_t clock = 0;  // µs: every time-caused change up to here is applied

  int32_t tier = 0;         // in force: max(earned_tier, active override)
  int32_t earned_tier = 0;  // by spend, with grace
  int64_t grace_until = kLoyaltyNever;
  int32_t override_tier = -1;  // -1: no override in force
  int64_t override_until = kLoyaltyNever;
  std::vector<LoyaltyTierChange> tier_history;

  std::vector<LoyaltyLot> lots;
  std::vector<LoyaltySpend> window;
  int64_t qualifying_spend_minor = 0;  // sum of window[].net_minor
  int64_t lifetime_value_minor = 0;

  std::vector<LoyaltyOrder> orders;   // in order of first purchase
  std::vector<uint32_t> order_index;  // indices of `orders`, sorted by order_id
  bool has_purchase = false;
  int64_t first_purchase_at = 0;
  int64_t last_purchase_at = 0;

  std::array<int8_t, 10> csat{};  // ring of the latest csat scores
  uint8_t csat_count = 0;
  uint8_t csat_next = 0;
  bool has_nps = false;
  int64_t nps_last = 0;
  std::vector<std::string> open_cases;   // sorted
  std::vector<int64_t> complaint_times;  // complaints opened in the last 365 days, ascending
};

// Applies one event. Events arrive in (occurred_at, seq) order. Pure: no wall clock, no I/O. It
// first advances the state's clock to the event's occurred_at (lots expire, purchases leave the
// spend window, grace periods and overrides end — each such time-caused tier change is recorded
// with position null at the exact time it happens), then applies the event.
void ApplyLoyalty(LoyaltyState* state, const Touch& touch, const Rules& rules);

// The CONTRACT §4.2 JSON as of `as_of` (>= every applied event's occurred_at): advances a copy of
// the state to `as_of`. `rules` must be those the state was built with.
std::string RenderLoyalty(const LoyaltyState& state, ledger::Timestamp as_of, const Rules& rules);

// Binary state for storage (state_codec.h). Decode returns false on truncated or inconsistent
// input, leaving *state unspecified.
std::string EncodeLoyaltyState(const LoyaltyState& state);
bool DecodeLoyaltyState(std::string_view bytes, LoyaltyState* state);

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_LOYALTY_H_
