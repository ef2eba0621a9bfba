// The loyalty projection (CONTRACT §4.2): each rule on a hand-computed scenario. Default rules:
// member ×1.00 (0), silver ×1.25 (≥ 100000), gold ×1.50 (≥ 500000), platinum ×2.00 (≥ 2000000);
// lots expire after 365 d, spend window 365 d, grace 90 d, currency CNY. Every event of a test
// gets seq n (1-based) and ledger position 100 + n.
#include "projections/loyalty.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "ledger/strings.h"
#include "ledger/timestamp.h"
#include "tests/testing/touches.h"

namespace rapport::projections {
namespace {

ledger::Timestamp T(const std::string& rfc3339) {
  auto t = ledger::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(ledger::Timestamp{});
}

// The raw JSON text of the first member named `key` (objects and arrays whole). Enough for the
// projection's own output, whose strings hold no brackets or quotes.
std::string Field(const std::string& json, const std::string& key) {
  const std::string needle = StrCat("\"", key, "\":");
  size_t start = json.find(needle);
  if (start == std::string::npos) return "<missing " + key + ">";
  start += needle.size();
  size_t end = start;
  if (json[start] == '{' || json[start] == '[') {
    int depth = 0;
    for (; end < json.size(); ++end) {
      if (json[end] == '{' || json[end] == '[') ++depth;
      if (json[end] == '}' || json[end] == ']') {
        if (--depth == 0) {
          ++end;
          break;
        }
      }
    }
  } else if (json[start] == '"') {
    end = json.find('"', start + 1) + 1;
  } else {
    end = json.find_first_of(",}]", start);
  }
  return json.substr(start, end - start);
}

class LoyaltyTest : public ::testing::Test {
 protected:
  void Add(const std::string& type, const std::string& at, const std::string& data = "{}",
           const std::string& extra = "") {
    ++seq_;
    ApplyLoyalty(
        &state_,
        testing::MakeTouch(testing::EventJson(type, at, data, "web", extra), seq_, 100 + seq_),
        rules_);
  }
  void Purchase(const std::string& at, const std::string& order, int64_t amount,
                const std::string& currency = "CNY") {
    Add("purchase", at,
        StrCat("{\"order_id\":\"", order, "\",\"amount_minor\":", amount, ",\"currency\":\"",
               currency, "\"}"));
  }
  void Refund(const std::string& at, const std::string& order, int64_t amount,
              const std::string& currency = "CNY") {
    Add("refund", at,
        StrCat("{\"order_id\":\"", order, "\",\"amount_minor\":", amount, ",\"currency\":\"",
               currency, "\"}"));
  }
  void Adjust(const std::string& at, int64_t points) {
    Add("points_adjusted", at, StrCat("{\"points\":", points, ",\"reason\":\"goodwill\"}"));
  }
  void Redeem(const std::string& at, int64_t points) {
    Add("points_redeemed", at, StrCat("{\"points\":", points, ",\"reward\":\"mug\"}"));
  }
  void Override(const std::string& at, const std::string& tier, const std::string& until = "") {
    Add("tier_override", at,
        until.empty() ? StrCat("{\"tier\":\"", tier, "\"}")
                      : StrCat("{\"tier\":\"", tier, "\",\"until\":\"", until, "\"}"));
  }
  void Survey(const std::string& at, const std::string& scores) {
    Add("survey_response", at, StrCat("{\"survey\":\"post-visit\",", scores, "}"));
  }
  void Complaint(const std::string& at, const std::string& case_id) {
    Add("complaint_opened", at,
        StrCat("{\"case_id\":\"", case_id, "\",\"category\":\"delivery\",\"severity\":\"low\"}"));
  }
  void Resolve(const std::string& at, const std::string& case_id) {
    Add("complaint_resolved", at, StrCat("{\"case_id\":\"", case_id, "\"}"));
  }

  std::string Render(const std::string& as_of) { return RenderLoyalty(state_, T(as_of), rules_); }
  std::string Get(const std::string& as_of, const std::string& key) {
    return Field(Render(as_of), key);
  }

  Rules rules_;
  LoyaltyState state_;
  uint64_t seq_ = 0;
};

TEST_F(LoyaltyTest, PointsAtEachTierMultiplierRoundDown) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 99999);    // member: 99999×100/10000 = 999.99 → 999
  Purchase("2026-01-02T00:00:00Z", "O-2", 1);        // 1×100/10000 = 0.01 → 0, no lot; spend
                                                     // 100000 → silver
  Purchase("2026-01-03T00:00:00Z", "O-3", 333);      // silver: 333×125/10000 = 4.1625 → 4
  Purchase("2026-01-04T00:00:00Z", "O-4", 399667);   // 399667×125/10000 = 4995.8375 → 4995;
                                                     // spend 500000 → gold
  Purchase("2026-01-05T00:00:00Z", "O-5", 1000001);  // gold: ×150/10000 = 15000.015 → 15000
  Purchase("2026-01-06T00:00:00Z", "O-6", 499999);   // still gold: 7499.985 → 7499; spend
                                                     // 2000000 → platinum
  Purchase("2026-01-07T00:00:00Z", "O-7", 12345);    // platinum: ×200/10000 = 246.9 → 246
  const std::string out = Render("2026-01-07T00:00:00Z");
  // 999 + 4 + 4995 + 15000 + 7499 + 246 = 28743
  EXPECT_EQ(Field(out, "points_balance"), "28743");
  EXPECT_EQ(Field(out, "points_expiring"),
            "[{\"points\":999,\"on\":\"2027-01-01T00:00:00Z\"},"
            "{\"points\":4,\"on\":\"2027-01-03T00:00:00Z\"},"
            "{\"points\":4995,\"on\":\"2027-01-04T00:00:00Z\"},"
            "{\"points\":15000,\"on\":\"2027-01-05T00:00:00Z\"},"
            "{\"points\":7499,\"on\":\"2027-01-06T00:00:00Z\"},"
            "{\"points\":246,\"on\":\"2027-01-07T00:00:00Z\"}]");
  EXPECT_EQ(Field(out, "tier"), "\"platinum\"");
  EXPECT_EQ(Field(out, "tier_since"), "\"2026-01-06T00:00:00Z\"");
  // Upgrades are immediate, at the purchase that reaches the threshold, with its position.
  EXPECT_EQ(Field(out, "tier_history"),
            "[{\"tier\":\"member\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"silver\",\"at\":\"2026-01-02T00:00:00Z\",\"position\":102},"
            "{\"tier\":\"gold\",\"at\":\"2026-01-04T00:00:00Z\",\"position\":104},"
            "{\"tier\":\"platinum\",\"at\":\"2026-01-06T00:00:00Z\",\"position\":106}]");
  // 99999 + 1 + 333 + 399667 + 1000001 + 499999 + 12345 = 2012345
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "2012345");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "2012345");
  EXPECT_EQ(Field(out, "orders"), "7");
  EXPECT_EQ(Field(out, "next_tier"), "null");
}

TEST_F(LoyaltyTest, UpgradingPurchaseEarnsAtTheOldRate) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 100000);  // member rate: 1000, not 1250
  EXPECT_EQ(Get("2026-01-01T00:00:00Z", "points_balance"), "1000");
  EXPECT_EQ(Get("2026-01-01T00:00:00Z", "tier"), "\"silver\"");
  Purchase("2026-01-02T00:00:00Z", "O-2", 100000);  // silver rate: 100000×125/10000 = 1250
  EXPECT_EQ(Get("2026-01-02T00:00:00Z", "points_balance"), "2250");
}

TEST_F(LoyaltyTest, LotExpiresWhenAsOfReachesExpiry) {
  Purchase("2026-03-01T12:00:00.5Z", "O-1", 10000);  // 100 points, expiring 365 d later
  EXPECT_EQ(Get("2027-03-01T12:00:00.499999Z", "points_expiring"),
            "[{\"points\":100,\"on\":\"2027-03-01T12:00:00.500000Z\"}]");
  EXPECT_EQ(Get("2027-03-01T12:00:00.499999Z", "points_balance"), "100");
  EXPECT_EQ(Get("2027-03-01T12:00:00.5Z", "points_balance"), "0");
  EXPECT_EQ(Get("2027-03-01T12:00:00.5Z", "points_expiring"), "[]");
  // An event at the expiry instant sees the lot gone: nothing to redeem.
  Redeem("2027-03-01T12:00:00.5Z", 1);
  Adjust("2027-03-02T00:00:00Z", 7);
  EXPECT_EQ(Get("2027-03-02T00:00:00Z", "points_balance"), "7");
}

TEST_F(LoyaltyTest, RedemptionTakesFromSoonestExpiringLots) {
  Adjust("2026-01-01T00:00:00Z", 100);            // lot A, expires 2027-01-01
  Purchase("2026-02-01T00:00:00Z", "O-1", 5000);  // lot B: 50, expires 2027-02-01
  Adjust("2026-03-01T00:00:00Z", 30);             // lot C, expires 2027-03-01
  Redeem("2026-04-01T00:00:00Z", 120);            // A 100 → 0, B 50 → 30
  const std::string out = Render("2026-04-01T00:00:00Z");
  EXPECT_EQ(Field(out, "points_balance"), "60");
  EXPECT_EQ(Field(out, "points_expiring"),
            "[{\"points\":30,\"on\":\"2027-02-01T00:00:00Z\"},"
            "{\"points\":30,\"on\":\"2027-03-01T00:00:00Z\"}]");
}

TEST_F(LoyaltyTest, NegativeAdjustmentTakesFromSoonestAndBalanceNeverNegative) {
  Adjust("2026-01-01T00:00:00Z", 100);
  Adjust("2026-03-01T00:00:00Z", 30);
  Adjust("2026-04-01T00:00:00Z", -120);  // 100 → 0, 30 → 10
  EXPECT_EQ(Get("2026-04-01T00:00:00Z", "points_expiring"),
            "[{\"points\":10,\"on\":\"2027-03-01T00:00:00Z\"}]");
  Redeem("2026-04-02T00:00:00Z", 1000);  // only 10 to take
  EXPECT_EQ(Get("2026-04-02T00:00:00Z", "points_balance"), "0");
  Adjust("2026-04-03T00:00:00Z", -50);  // nothing to take; no debt
  Adjust("2026-04-04T00:00:00Z", 5);
  EXPECT_EQ(Get("2026-04-04T00:00:00Z", "points_balance"), "5");
  EXPECT_EQ(Get("2026-04-04T00:00:00Z", "points_expiring"),
            "[{\"points\":5,\"on\":\"2027-04-04T00:00:00Z\"}]");
}

TEST_F(LoyaltyTest, RefundsRemovePointsProportionallyAndAreCappedAtTheAmount) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 10001);  // 10001×100/10000 = 100.01 → 100
  Adjust("2026-01-02T00:00:00Z", 50);
  Refund("2026-02-01T00:00:00Z", "O-1", 3000);  // removed = floor(100×3000/10001) = 29
  std::string out = Render("2026-02-01T00:00:00Z");
  EXPECT_EQ(Field(out, "points_expiring"),
            "[{\"points\":71,\"on\":\"2027-01-01T00:00:00Z\"},"
            "{\"points\":50,\"on\":\"2027-01-02T00:00:00Z\"}]");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "7001");  // 10001 − 3000
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "7001");
  Refund("2026-02-02T00:00:00Z", "O-1", 5000);  // total 8000: floor(100×8000/10001) = 79, 50 more
  EXPECT_EQ(Get("2026-02-02T00:00:00Z", "points_balance"), "71");  // 21 + 50
  Refund("2026-02-03T00:00:00Z", "O-1", 5000);  // capped at 10001 − 8000 = 2001: all 100 removed
  out = Render("2026-02-03T00:00:00Z");
  EXPECT_EQ(Field(out, "points_expiring"), "[{\"points\":50,\"on\":\"2027-01-02T00:00:00Z\"}]");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "0");
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "0");
  Refund("2026-02-04T00:00:00Z", "O-1", 100);  // nothing left to refund
  out = Render("2026-02-04T00:00:00Z");
  EXPECT_EQ(Field(out, "points_balance"), "50");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "0");
  EXPECT_EQ(Field(out, "orders"), "1");
}

TEST_F(LoyaltyTest, RefundAfterOwnLotWasSpentTakesFromOtherLotsThenIsForgiven) {
  Adjust("2026-01-01T00:00:00Z", 40);              // lot A
  Purchase("2026-02-01T00:00:00Z", "O-1", 10000);  // lot B: 100
  Adjust("2026-03-01T00:00:00Z", 60);              // lot C
  Redeem("2026-03-02T00:00:00Z", 130);             // A 40 → 0, B 100 → 10
  Refund("2026-03-03T00:00:00Z", "O-1", 5000);     // remove floor(100×5000/10000) = 50:
                                                   // B 10 → 0, then C 60 → 20
  EXPECT_EQ(Get("2026-03-03T00:00:00Z", "points_expiring"),
            "[{\"points\":20,\"on\":\"2027-03-01T00:00:00Z\"}]");
  Redeem("2026-03-04T00:00:00Z", 20);
  Refund("2026-03-05T00:00:00Z", "O-1", 5000);  // 50 more, nothing live: forgiven
  EXPECT_EQ(Get("2026-03-05T00:00:00Z", "points_balance"), "0");
  Adjust("2026-03-06T00:00:00Z", 10);  // no debt was carried
  EXPECT_EQ(Get("2026-03-06T00:00:00Z", "points_balance"), "10");
}

TEST_F(LoyaltyTest, RefundAfterOwnLotExpiredTakesFromOtherLiveLots) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 10000);  // 100, expires 2027-01-01
  Adjust("2026-06-01T00:00:00Z", 80);              // expires 2027-06-01
  Refund("2027-01-01T00:00:00Z", "O-1", 2500);     // own lot expired: 25 from the other lot
  EXPECT_EQ(Get("2027-01-01T00:00:00Z", "points_expiring"),
            "[{\"points\":55,\"on\":\"2027-06-01T00:00:00Z\"}]");
}

TEST_F(LoyaltyTest, RefundOfUnknownOrderIsIgnored) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 10000);
  Refund("2026-01-02T00:00:00Z", "O-2", 5000);
  const std::string out = Render("2026-01-02T00:00:00Z");
  EXPECT_EQ(Field(out, "points_balance"), "100");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "10000");
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "10000");
}

TEST_F(LoyaltyTest, OtherCurrencyCountsAsAnOrderOnly) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 200000, "USD");
  std::string out = Render("2026-01-01T00:00:00Z");
  EXPECT_EQ(Field(out, "points_balance"), "0");
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "0");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "0");
  EXPECT_EQ(Field(out, "tier"), "\"member\"");
  EXPECT_EQ(Field(out, "orders"), "1");
  EXPECT_EQ(Field(out, "first_purchase_at"), "\"2026-01-01T00:00:00Z\"");
  EXPECT_EQ(Field(out, "relationship"), "\"one_time\"");
  Purchase("2026-01-02T00:00:00Z", "O-2", 1000);       // 10 points
  Refund("2026-01-03T00:00:00Z", "O-2", 1000, "USD");  // not the loyalty currency
  Refund("2026-01-04T00:00:00Z", "O-1", 100);          // O-1 has no CNY amount to refund
  out = Render("2026-01-04T00:00:00Z");
  EXPECT_EQ(Field(out, "points_balance"), "10");
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "1000");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "1000");
  EXPECT_EQ(Field(out, "orders"), "2");
  EXPECT_EQ(Field(out, "first_purchase_at"), "\"2026-01-01T00:00:00Z\"");
  EXPECT_EQ(Field(out, "last_purchase_at"), "\"2026-01-02T00:00:00Z\"");
}

TEST_F(LoyaltyTest, RepeatedOrderIdIsOneOrderAndRefundsFillItsPurchasesInOrder) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 10000);  // 100
  Purchase("2026-02-01T00:00:00Z", "O-1", 10000);  // 100
  Refund("2026-03-01T00:00:00Z", "O-1", 15000);    // first purchase fully, second 5000;
                                                   // removed floor(200×15000/20000) = 150
  std::string out = Render("2026-03-01T00:00:00Z");
  EXPECT_EQ(Field(out, "orders"), "1");
  EXPECT_EQ(Field(out, "points_balance"), "50");
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "5000");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "5000");
  // The fully refunded first purchase leaving the window changes nothing.
  EXPECT_EQ(Get("2027-01-01T00:00:00Z", "qualifying_spend_minor"), "5000");
  EXPECT_EQ(Get("2027-02-01T00:00:00Z", "qualifying_spend_minor"), "0");
}

TEST_F(LoyaltyTest, RefundCountsAtItsOrdersPurchaseTime) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 100000);
  Purchase("2026-06-01T00:00:00Z", "O-2", 100000);
  Refund("2026-07-01T00:00:00Z", "O-1", 50000);
  EXPECT_EQ(Get("2026-07-01T00:00:00Z", "qualifying_spend_minor"), "150000");
  // O-1 (net 50000) leaves the window: 100000, not 150000 − 100000 + ... or negative.
  EXPECT_EQ(Get("2027-01-01T00:00:00Z", "qualifying_spend_minor"), "100000");
  // A refund of an order already out of the window no longer touches spend, only value.
  Refund("2027-02-01T00:00:00Z", "O-1", 50000);
  const std::string out = Render("2027-02-01T00:00:00Z");
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "100000");
  EXPECT_EQ(Field(out, "lifetime_value_minor"), "100000");  // 200000 − 100000
  EXPECT_EQ(Field(out, "tier"), "\"silver\"");
}

TEST_F(LoyaltyTest, PurchaseLeavingTheWindowStartsGraceThenDropsToSupportedTier) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 500000);  // gold
  Purchase("2026-06-01T00:00:00Z", "O-2", 100000);  // 600000: gold
  // 2027-01-01: O-1 leaves, spend 100000 (silver): gold kept until 2027-01-01 + 90 d = 04-01.
  std::string out = Render("2027-03-31T23:59:59.999999Z");
  EXPECT_EQ(Field(out, "tier"), "\"gold\"");
  EXPECT_EQ(Field(out, "qualifying_spend_minor"), "100000");
  EXPECT_EQ(Field(out, "next_tier"), "{\"tier\":\"platinum\",\"spend_needed_minor\":1900000}");
  out = Render("2027-04-01T00:00:00Z");
  EXPECT_EQ(Field(out, "tier"), "\"silver\"");
  EXPECT_EQ(Field(out, "tier_since"), "\"2027-04-01T00:00:00Z\"");
  // 2027-06-01: O-2 leaves, spend 0: silver kept until 06-01 + 90 d = 08-30. The visit comes
  // later; each change is recorded at its own instant, without a position.
  Add("visit", "2027-09-15T00:00:00Z");
  out = Render("2027-09-15T00:00:00Z");
  EXPECT_EQ(Field(out, "tier"), "\"member\"");
  EXPECT_EQ(Field(out, "tier_history"),
            "[{\"tier\":\"member\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"gold\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"silver\",\"at\":\"2027-04-01T00:00:00Z\",\"position\":null},"
            "{\"tier\":\"member\",\"at\":\"2027-08-30T00:00:00Z\",\"position\":null}]");
}

TEST_F(LoyaltyTest, GraceEndDropsStraightToWhatSpendSupportsThen) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 500000);  // gold
  // 2027-01-01 spend 0: grace until 04-01. A purchase during grace is not a recovery to gold.
  Purchase("2027-02-01T00:00:00Z", "O-2", 100000);  // gold rate (grace): 1500 points
  EXPECT_EQ(Get("2027-03-01T00:00:00Z", "tier"), "\"gold\"");
  const std::string out = Render("2027-04-01T00:00:00Z");
  EXPECT_EQ(Field(out, "tier"), "\"silver\"");
  EXPECT_EQ(Field(out, "points_expiring"), "[{\"points\":1500,\"on\":\"2028-02-01T00:00:00Z\"}]");
}

TEST_F(LoyaltyTest, GraceEndSkipsIntermediateTiers) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 500000);  // gold; out 2027-01-01, grace to 04-01
  EXPECT_EQ(Get("2027-05-01T00:00:00Z", "tier_history"),
            "[{\"tier\":\"member\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"gold\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"member\",\"at\":\"2027-04-01T00:00:00Z\",\"position\":null}]");
}

TEST_F(LoyaltyTest, RefundBelowThresholdStartsGrace) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 100000);  // silver
  Refund("2026-02-01T00:00:00Z", "O-1", 1);         // 99999: grace until 02-01 + 90 d = 05-02
  EXPECT_EQ(Get("2026-05-01T23:59:59Z", "tier"), "\"silver\"");
  EXPECT_EQ(Field(Render("2026-05-02T00:00:00Z"), "tier_history"),
            "[{\"tier\":\"member\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"silver\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"member\",\"at\":\"2026-05-02T00:00:00Z\",\"position\":null}]");
}

TEST_F(LoyaltyTest, SpendRecoveringDuringGraceKeepsTheTier) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 500000);  // gold; spend 0 from 2027-01-01
  Purchase("2027-02-01T00:00:00Z", "O-2", 500000);  // back to 500000: grace over
  const std::string out = Render("2027-06-01T00:00:00Z");
  EXPECT_EQ(Field(out, "tier"), "\"gold\"");
  EXPECT_EQ(Field(out, "tier_since"), "\"2026-01-01T00:00:00Z\"");
  EXPECT_EQ(Field(out, "points_balance"), "7500");  // 500000×150/10000; the first lot expired
  // A new fall starts a new grace: O-2 leaves 2028-02-01, gold until 2028-05-01 (2028 is leap:
  // 29 + 31 + 30 = 90 days).
  EXPECT_EQ(Get("2028-04-30T23:59:59Z", "tier"), "\"gold\"");
  EXPECT_EQ(Get("2028-05-01T00:00:00Z", "tier"), "\"member\"");
}

TEST_F(LoyaltyTest, OverrideWithUntilIsAFloorUntilThenEndsAtOnce) {
  Add("visit", "2026-01-01T00:00:00Z");
  Override("2026-01-10T00:00:00Z", "gold", "2026-03-01T00:00:00Z");
  Purchase("2026-02-01T00:00:00Z", "O-1", 10000);  // in force: gold, 10000×150/10000 = 150
  EXPECT_EQ(Get("2026-02-28T23:59:59Z", "tier"), "\"gold\"");
  const std::string out = Render("2026-03-01T00:00:00Z");
  EXPECT_EQ(Field(out, "tier"), "\"member\"");
  EXPECT_EQ(Field(out, "points_balance"), "150");
  EXPECT_EQ(Field(out, "tier_history"),
            "[{\"tier\":\"member\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"gold\",\"at\":\"2026-01-10T00:00:00Z\",\"position\":102},"
            "{\"tier\":\"member\",\"at\":\"2026-03-01T00:00:00Z\",\"position\":null}]");
}

TEST_F(LoyaltyTest, OverrideWithoutUntilLastsUntilTheNextOverride) {
  Override("2026-01-01T00:00:00Z", "silver");
  EXPECT_EQ(Get("2030-01-01T00:00:00Z", "tier"), "\"silver\"");
  EXPECT_EQ(Get("2030-01-01T00:00:00Z", "next_tier"),
            "{\"tier\":\"gold\",\"spend_needed_minor\":500000}");
  Override("2030-01-02T00:00:00Z", "member");  // the latest override wins
  EXPECT_EQ(Get("2030-01-02T00:00:00Z", "tier_history"),
            "[{\"tier\":\"member\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"silver\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"member\",\"at\":\"2030-01-02T00:00:00Z\",\"position\":102}]");
}

TEST_F(LoyaltyTest, OverrideBelowTheEarnedTierChangesNothing) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 500000);  // gold
  Override("2026-01-02T00:00:00Z", "silver");
  EXPECT_EQ(Get("2026-01-02T00:00:00Z", "tier"), "\"gold\"");
  EXPECT_EQ(Get("2026-01-02T00:00:00Z", "tier_since"), "\"2026-01-01T00:00:00Z\"");
}

TEST_F(LoyaltyTest, OverrideEndingDuringGraceFallsToTheGraceProtectedTier) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 100000);  // silver
  Override("2026-06-01T00:00:00Z", "platinum", "2027-02-01T00:00:00Z");
  // 2027-01-01 O-1 leaves: earned silver in grace until 04-01; 2027-02-01 the override ends.
  EXPECT_EQ(Get("2027-05-01T00:00:00Z", "tier_history"),
            "[{\"tier\":\"member\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"silver\",\"at\":\"2026-01-01T00:00:00Z\",\"position\":101},"
            "{\"tier\":\"platinum\",\"at\":\"2026-06-01T00:00:00Z\",\"position\":102},"
            "{\"tier\":\"silver\",\"at\":\"2027-02-01T00:00:00Z\",\"position\":null},"
            "{\"tier\":\"member\",\"at\":\"2027-04-01T00:00:00Z\",\"position\":null}]");
}

TEST_F(LoyaltyTest, OverrideEndingWithoutEarnedTierStartsNoGrace) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 30000);  // member, spend 30000
  Override("2026-01-02T00:00:00Z", "gold", "2026-02-01T00:00:00Z");
  EXPECT_EQ(Get("2026-01-15T00:00:00Z", "next_tier"),
            "{\"tier\":\"platinum\",\"spend_needed_minor\":1970000}");  // 2000000 − 30000
  EXPECT_EQ(Get("2026-02-01T00:00:00Z", "tier"), "\"member\"");
  EXPECT_EQ(Get("2026-02-01T00:00:00Z", "next_tier"),
            "{\"tier\":\"silver\",\"spend_needed_minor\":70000}");  // 100000 − 30000
}

TEST_F(LoyaltyTest, OverrideWithPastUntilOnlyEndsTheEarlierOne) {
  Override("2026-01-01T00:00:00Z", "gold");
  Override("2026-02-01T00:00:00Z", "platinum", "2026-01-15T00:00:00Z");
  EXPECT_EQ(Get("2026-02-01T00:00:00Z", "tier"), "\"member\"");
}

TEST_F(LoyaltyTest, CsatAverageOfTheLatestTenWithACsat) {
  Survey("2026-01-01T00:00:00Z", "\"csat\":1");
  Survey("2026-01-02T00:00:00Z", "\"csat\":1");
  const int scores[] = {5, 4, 5, 4, 5, 4, 5, 4, 5, 3};
  for (int i = 0; i < 10; ++i) {
    if (i == 5) Survey("2026-02-14T12:00:00Z", "\"nps\":9");  // no csat: not one of the ten
    Survey(StrCat("2026-02-", 10 + i, "T00:00:00Z"), StrCat("\"csat\":", scores[i]));
  }
  std::string out = Render("2026-03-01T00:00:00Z");
  // The two 1s are out: (5+4+5+4+5+4+5+4+5+3) / 10 = 44 / 10
  EXPECT_EQ(Field(out, "satisfaction"),
            "{\"csat_avg\":4.4,\"nps_last\":9,\"open_complaints\":0,\"complaints_365d\":0}");
  Survey("2026-03-02T00:00:00Z", "\"csat\":1,\"nps\":2");  // (44 − 5 + 1) / 10 = 4
  out = Render("2026-03-02T00:00:00Z");
  EXPECT_EQ(Field(out, "csat_avg"), "4");
  EXPECT_EQ(Field(out, "nps_last"), "2");
}

TEST_F(LoyaltyTest, CsatAverageIsRoundedToFourDecimals) {
  Survey("2026-01-01T00:00:00Z", "\"csat\":2");
  Survey("2026-01-02T00:00:00Z", "\"csat\":2");
  Survey("2026-01-03T00:00:00Z", "\"csat\":1,\"nps\":0");
  EXPECT_EQ(Get("2026-01-03T00:00:00Z", "csat_avg"), "1.6667");  // 5 / 3 = 1.66666…
  EXPECT_EQ(Get("2026-01-03T00:00:00Z", "nps_last"), "0");
}

TEST_F(LoyaltyTest, ComplaintsOpenAndInTheLast365Days) {
  Complaint("2026-01-01T00:00:00Z", "K-A");
  Complaint("2026-06-01T00:00:00Z", "K-B");
  Complaint("2026-06-02T00:00:00Z", "K-A");  // already open: the same complaint
  Resolve("2026-07-01T00:00:00Z", "K-A");
  Resolve("2026-07-02T00:00:00Z", "K-X");    // never opened: ignored
  Complaint("2026-08-01T00:00:00Z", "K-A");  // reopened after resolution: a new complaint
  EXPECT_EQ(Get("2026-08-01T00:00:00Z", "satisfaction"),
            "{\"csat_avg\":null,\"nps_last\":null,\"open_complaints\":2,\"complaints_365d\":3}");
  // (as_of − 365 d, as_of]: the first K-A leaves at 2027-01-01, K-B at 06-01, K-A at 08-01.
  EXPECT_EQ(Get("2026-12-31T23:59:59Z", "complaints_365d"), "3");
  EXPECT_EQ(Get("2027-01-01T00:00:00Z", "complaints_365d"), "2");
  EXPECT_EQ(Get("2027-06-01T00:00:00Z", "complaints_365d"), "1");
  EXPECT_EQ(Get("2027-08-01T00:00:00Z", "complaints_365d"), "0");
  EXPECT_EQ(Get("2027-08-01T00:00:00Z", "open_complaints"), "2");
}

TEST_F(LoyaltyTest, RelationshipClasses) {
  Add("visit", "2026-01-01T00:00:00Z");
  EXPECT_EQ(Get("2026-01-01T00:00:00Z", "relationship"), "\"prospect\"");
  Purchase("2026-01-02T00:00:00Z", "O-1", 100, "USD");
  EXPECT_EQ(Get("2026-01-02T00:00:00Z", "relationship"), "\"one_time\"");
  EXPECT_EQ(Get("2027-01-01T23:59:59Z", "relationship"), "\"one_time\"");
  EXPECT_EQ(Get("2027-01-02T00:00:00Z", "relationship"), "\"lapsed\"");  // 365 d after
  Purchase("2026-03-01T00:00:00Z", "O-2", 100);
  EXPECT_EQ(Get("2026-03-01T00:00:00Z", "relationship"), "\"repeat\"");
  Purchase("2026-04-01T00:00:00Z", "O-2", 100);  // the same order again: still 2 orders
  EXPECT_EQ(Get("2026-04-01T00:00:00Z", "relationship"), "\"repeat\"");
  Purchase("2026-05-01T00:00:00Z", "O-3", 100);
  EXPECT_EQ(Get("2026-05-01T00:00:00Z", "relationship"), "\"loyal\"");
  // O-1 leaves the 365 days at 2027-01-02: two orders left in them.
  EXPECT_EQ(Get("2027-01-01T23:59:59Z", "relationship"), "\"loyal\"");
  EXPECT_EQ(Get("2027-01-02T00:00:00Z", "relationship"), "\"repeat\"");
  EXPECT_EQ(Get("2027-05-01T00:00:00Z", "relationship"), "\"lapsed\"");
}

TEST_F(LoyaltyTest, FullJsonOfAProspect) {
  Add("visit", "2026-05-01T09:00:00Z");
  EXPECT_EQ(Render("2026-05-01T09:00:00Z"),
            "{\"customer_id\":\"C-1\",\"as_of\":\"2026-05-01T09:00:00Z\",\"seq\":1,"
            "\"tier\":\"member\",\"tier_since\":\"2026-05-01T09:00:00Z\","
            "\"tier_history\":[{\"tier\":\"member\",\"at\":\"2026-05-01T09:00:00Z\","
            "\"position\":101}],"
            "\"points_balance\":0,\"points_expiring\":[],\"qualifying_spend_minor\":0,"
            "\"lifetime_value_minor\":0,\"orders\":0,\"first_purchase_at\":null,"
            "\"last_purchase_at\":null,"
            "\"next_tier\":{\"tier\":\"silver\",\"spend_needed_minor\":100000},"
            "\"satisfaction\":{\"csat_avg\":null,\"nps_last\":null,\"open_complaints\":0,"
            "\"complaints_365d\":0},\"relationship\":\"prospect\"}");
}

TEST_F(LoyaltyTest, FullJsonOfASmallCase) {
  Add("visit", "2026-05-01T09:00:00Z");
  Purchase("2026-05-02T10:30:00.25Z", "O-1", 120000);  // member rate: 1200; → silver
  Survey("2026-05-03T00:00:00Z", "\"csat\":4,\"nps\":8");
  Complaint("2026-05-04T00:00:00Z", "K-1");
  EXPECT_EQ(Render("2026-06-01T00:00:00Z"),
            "{\"customer_id\":\"C-1\",\"as_of\":\"2026-06-01T00:00:00Z\",\"seq\":4,"
            "\"tier\":\"silver\",\"tier_since\":\"2026-05-02T10:30:00.250000Z\","
            "\"tier_history\":["
            "{\"tier\":\"member\",\"at\":\"2026-05-01T09:00:00Z\",\"position\":101},"
            "{\"tier\":\"silver\",\"at\":\"2026-05-02T10:30:00.250000Z\",\"position\":102}],"
            "\"points_balance\":1200,"
            "\"points_expiring\":[{\"points\":1200,\"on\":\"2027-05-02T10:30:00.250000Z\"}],"
            "\"qualifying_spend_minor\":120000,\"lifetime_value_minor\":120000,\"orders\":1,"
            "\"first_purchase_at\":\"2026-05-02T10:30:00.250000Z\","
            "\"last_purchase_at\":\"2026-05-02T10:30:00.250000Z\","
            "\"next_tier\":{\"tier\":\"gold\",\"spend_needed_minor\":380000},"
            "\"satisfaction\":{\"csat_avg\":4,\"nps_last\":8,\"open_complaints\":1,"
            "\"complaints_365d\":1},\"relationship\":\"one_time\"}");
}

TEST_F(LoyaltyTest, SeqIsTheGreatestApplied) {
  // A late-arriving event takes its place in time but keeps its higher seq.
  seq_ = 5;
  Add("visit", "2026-01-01T00:00:00Z");
  seq_ = 2;
  Add("visit", "2026-01-02T00:00:00Z");
  EXPECT_EQ(Get("2026-01-02T00:00:00Z", "seq"), "6");
}

TEST_F(LoyaltyTest, RenderingDoesNotChangeTheState) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 500000);
  const std::string before = Render("2026-01-01T00:00:00Z");
  Render("2028-01-01T00:00:00Z");  // past expiry and grace
  EXPECT_EQ(Render("2026-01-01T00:00:00Z"), before);
  Add("visit", "2026-02-01T00:00:00Z");
  EXPECT_EQ(Get("2026-02-01T00:00:00Z", "points_balance"), "5000");
}

TEST_F(LoyaltyTest, EncodeDecodeRoundTripRendersIdentically) {
  Purchase("2026-01-01T00:00:00Z", "O-B", 500000);
  Purchase("2026-01-05T00:00:00Z", "O-A", 12345, "USD");
  Purchase("2026-02-01T00:00:00Z", "O-C", 40000);
  Refund("2026-02-02T00:00:00Z", "O-C", 1000);
  Adjust("2026-03-01T00:00:00Z", 77);
  Redeem("2026-03-02T00:00:00Z", 10);
  Override("2026-04-01T00:00:00Z", "platinum", "2027-02-01T00:00:00Z");
  for (int i = 0; i < 12; ++i) Survey(StrCat("2026-05-", 10 + i, "T00:00:00Z"), "\"csat\":3");
  Survey("2026-06-01T00:00:00Z", "\"csat\":5,\"nps\":7");
  Complaint("2026-06-02T00:00:00Z", "K-2");
  Complaint("2026-06-03T00:00:00Z", "K-1");
  Add("visit", "2027-01-15T00:00:00Z");  // O-B has left: gold in grace, override still on

  const std::string bytes = EncodeLoyaltyState(state_);
  LoyaltyState decoded;
  ASSERT_TRUE(DecodeLoyaltyState(bytes, &decoded));
  EXPECT_EQ(EncodeLoyaltyState(decoded), bytes);
  for (const char* as_of : {"2027-01-15T00:00:00Z", "2027-02-01T00:00:00Z", "2027-04-16T00:00:00Z",
                            "2028-01-01T00:00:00Z"}) {
    EXPECT_EQ(RenderLoyalty(decoded, T(as_of), rules_), Render(as_of)) << as_of;
  }
  // Both go on alike.
  LoyaltyState original = state_;
  state_ = decoded;
  Refund("2027-01-20T00:00:00Z", "O-C", 39000);
  Survey("2027-01-21T00:00:00Z", "\"csat\":1");
  const std::string continued = Render("2027-06-01T00:00:00Z");
  state_ = original;
  seq_ -= 2;
  Refund("2027-01-20T00:00:00Z", "O-C", 39000);
  Survey("2027-01-21T00:00:00Z", "\"csat\":1");
  EXPECT_EQ(Render("2027-06-01T00:00:00Z"), continued);
}

TEST_F(LoyaltyTest, DecodeRejectsBadInput) {
  Purchase("2026-01-01T00:00:00Z", "O-1", 500000);
  Survey("2026-01-02T00:00:00Z", "\"csat\":3");
  Complaint("2026-01-03T00:00:00Z", "K-1");
  const std::string bytes = EncodeLoyaltyState(state_);
  LoyaltyState decoded;
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeLoyaltyState(bytes.substr(0, n), &decoded)) << n;
  }
  EXPECT_FALSE(DecodeLoyaltyState(bytes + "x", &decoded));
  std::string bad_version = bytes;
  bad_version[0] = 9;
  EXPECT_FALSE(DecodeLoyaltyState(bad_version, &decoded));
  EXPECT_TRUE(DecodeLoyaltyState(bytes, &decoded));
}

TEST_F(LoyaltyTest, ConfiguredRulesAreFollowed) {
  rules_.currency = "EUR";
  rules_.tiers = {{"basic", 0, 100}, {"star", 1000, 300}};
  rules_.points_expiry_days = 10;
  rules_.spend_window_days = 30;
  rules_.tier_grace_days = 0;
  Purchase("2026-01-01T00:00:00Z", "O-1", 1000, "EUR");  // basic rate: 10 points; → star
  Purchase("2026-01-02T00:00:00Z", "O-2", 1001, "EUR");  // star: 1001×300/10000 = 30.03 → 30
  Purchase("2026-01-03T00:00:00Z", "O-3", 5000);         // CNY: not counted
  std::string out = Render("2026-01-03T00:00:00Z");
  EXPECT_EQ(Field(out, "points_balance"), "40");
  EXPECT_EQ(Field(out, "tier"), "\"star\"");
  EXPECT_EQ(Field(out, "next_tier"), "null");
  EXPECT_EQ(Get("2026-01-11T00:00:00Z", "points_balance"), "30");  // 10 d expiry
  // O-1 leaves the 30 d window at 01-31: 1001 still supports star; O-2 leaves at 02-01 and, with
  // no grace, the tier drops at that instant.
  out = Render("2026-02-01T00:00:00Z");
  EXPECT_EQ(Field(out, "tier"), "\"basic\"");
  EXPECT_EQ(Field(out, "tier_since"), "\"2026-02-01T00:00:00Z\"");
}

// Random streams: (1) visits slipped in between (seq 0, so `seq` is unchanged) must not change
// anything, since every time-caused change is recorded at its own instant whether or not an event
// comes by; (2) encoding and decoding after every event and going on gives the same output.
TEST(LoyaltyPropertyTest, TimeCausedChangesDoNotDependOnEventsInBetween) {
  const Rules rules;
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<Touch> events, with_visits;
    int64_t at = T("2026-01-01T00:00:00Z").micros;
    const int n = 5 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      at += static_cast<int64_t>(rng() % (120 * 86400)) * ledger::kMicrosPerSecond;
      const std::string when = ledger::FormatTimestamp(ledger::Timestamp{at});
      const std::string order = StrCat("O-", rng() % 8);
      std::string json;
      switch (rng() % 7) {
        case 0:
        case 1:
          json = testing::EventJson(
              "purchase", when,
              StrCat("{\"order_id\":\"", order, "\",\"amount_minor\":", 1 + rng() % 700000,
                     ",\"currency\":\"", rng() % 5 == 0 ? "USD" : "CNY", "\"}"));
          break;
        case 2:
          json = testing::EventJson("refund", when,
                                    StrCat("{\"order_id\":\"", order, "\",\"amount_minor\":",
                                           1 + rng() % 300000, ",\"currency\":\"CNY\"}"));
          break;
        case 3:
          json =
              testing::EventJson("points_adjusted", when,
                                 StrCat("{\"points\":", static_cast<int64_t>(rng() % 4000) - 1500,
                                        ",\"reason\":\"r\"}"));
          if (json.find("\"points\":0,") != std::string::npos) continue;
          break;
        case 4:
          json = testing::EventJson("points_redeemed", when,
                                    StrCat("{\"points\":", 1 + rng() % 3000, ",\"reward\":\"r\"}"));
          break;
        case 5: {
          const char* tiers[] = {"member", "silver", "gold", "platinum"};
          const int64_t until = at + static_cast<int64_t>(rng() % (200 * 86400)) * 1000000;
          json = testing::EventJson(
              "tier_override", when,
              rng() % 3 == 0 ? StrCat("{\"tier\":\"", tiers[rng() % 4], "\"}")
                             : StrCat("{\"tier\":\"", tiers[rng() % 4], "\",\"until\":\"",
                                      ledger::FormatTimestamp(ledger::Timestamp{until}), "\"}"));
          break;
        }
        default:
          json = testing::EventJson("survey_response", when, "{\"survey\":\"s\",\"csat\":3}");
      }
      const uint64_t seq = events.size() + 1;
      events.push_back(testing::MakeTouch(json, seq, 100 + seq));
      with_visits.push_back(events.back());
      if (rng() % 2 == 0) {
        const int64_t v = at + static_cast<int64_t>(rng() % (120 * 86400)) * 1000000;
        // Anywhere after the first event; sorted into time order below.
        with_visits.push_back(testing::MakeTouch(
            testing::EventJson("visit", ledger::FormatTimestamp(ledger::Timestamp{v})), 0, 1));
      }
    }
    std::stable_sort(with_visits.begin(), with_visits.end(), [](const Touch& a, const Touch& b) {
      return a.event.occurred_at < b.event.occurred_at;
    });
    LoyaltyState plain, visited, hopped;
    for (const auto& t : events) {
      ApplyLoyalty(&plain, t, rules);
      // Re-decoded before every event, as the runner does between batches.
      LoyaltyState next;
      ASSERT_TRUE(DecodeLoyaltyState(EncodeLoyaltyState(hopped), &next));
      hopped = std::move(next);
      ApplyLoyalty(&hopped, t, rules);
    }
    for (const auto& t : with_visits) ApplyLoyalty(&visited, t, rules);
    const ledger::Timestamp end{std::max(at, with_visits.back().event.occurred_at.micros) +
                                400 * ledger::kMicrosPerDay};
    const std::string expected = RenderLoyalty(plain, end, rules);
    ASSERT_EQ(RenderLoyalty(visited, end, rules), expected) << "round " << round;
    ASSERT_EQ(RenderLoyalty(hopped, end, rules), expected) << "round " << round;
    EXPECT_EQ(Field(expected, "points_balance").find('-'), std::string::npos);
    EXPECT_EQ(Field(expected, "qualifying_spend_minor"), "0");  // all left the window
  }
}

}  // namespace
}  // namespace rapport::projections
