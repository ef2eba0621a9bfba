// The preference profile (CONTRACT §4.1), rule by rule. Expected values are computed by hand
// from the contract; the arithmetic is in the comments.
#include "projections/profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ledger/timestamp.h"
#include "projections/rules.h"
#include "tests/testing/touches.h"

namespace rapport::projections {
namespace {

using ::rapport::testing::EventJson;
using ::rapport::testing::MakeTouch;

ledger::Timestamp Ts(const std::string& text) {
  auto t = ledger::ParseRfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(ledger::Timestamp{});
}

// The top-level members of the profile, in contract order.
constexpr const char* kMembers[] = {"customer_id",       "as_of",         "seq", "preferences",
                                    "category_affinity", "communication", "tags"};

// The JSON text of one top-level member's value. Relies on the fixed member order, and on test
// data that never spells a member name as a key.
std::string Member(const std::string& json, const std::string& name) {
  for (size_t i = 0; i < std::size(kMembers); ++i) {
    if (name != kMembers[i]) continue;
    std::string open = StrCat("\"", name, "\":");
    size_t begin = json.find(open);
    if (begin == std::string::npos) return "<missing " + name + ">";
    begin += open.size();
    size_t end = i + 1 < std::size(kMembers) ? json.find(StrCat(",\"", kMembers[i + 1], "\":"))
                                             : json.size() - 1;  // the closing brace
    if (end == std::string::npos) return "<unterminated " + name + ">";
    return json.substr(begin, end - begin);
  }
  return "<unknown member " + name + ">";
}

class ProfileTest : public ::testing::Test {
 protected:
  // Applies an event with the next seq; position = 100 + seq unless given.
  void Apply(const std::string& type, const std::string& at, const std::string& data = "{}",
             const std::string& channel = "web", uint64_t position = 0,
             const std::string& extra = "") {
    ++seq_;
    ApplyWithSeq(seq_, position ? position : 100 + seq_, EventJson(type, at, data, channel, extra));
  }
  void ApplyWithSeq(uint64_t seq, uint64_t position, const std::string& json) {
    ApplyProfile(&state_, MakeTouch(json, seq, position), rules_);
  }
  void Observe(const std::string& at, const std::string& key, const std::string& value,
               const std::string& weight = "", const std::string& channel = "web",
               uint64_t position = 0) {
    std::string data = StrCat(R"({"key":")", key, R"(","value":")", value, "\"");
    if (!weight.empty()) data += StrCat(",\"weight\":", weight);
    data += "}";
    Apply("preference_observed", at, data, channel, position);
  }
  void State(const std::string& at, const std::string& key, const std::string& value,
             const std::string& channel = "web", uint64_t position = 0) {
    Apply("preference_stated", at, StrCat(R"({"key":")", key, R"(","value":")", value, "\"}"),
          channel, position);
  }
  void Retract(const std::string& at, const std::string& key) {
    Apply("preference_retracted", at, StrCat(R"({"key":")", key, "\"}"));
  }
  void Purchase(const std::string& at, const std::string& items,
                const std::string& channel = "web") {
    Apply("purchase", at,
          StrCat(R"({"order_id":"O-)", seq_ + 1,
                 R"(","amount_minor":1000,"currency":"CNY","items":)", items, "}"),
          channel);
  }
  void Visit(const std::string& at, const std::string& channel) {
    Apply("visit", at, "{}", channel);
  }

  std::string Render(const std::string& as_of) const {
    return RenderProfile(state_, Ts(as_of), rules_);
  }
  std::string Prefs(const std::string& as_of) const { return Member(Render(as_of), "preferences"); }

  Rules rules_;
  ProfileState state_;
  uint64_t seq_ = 0;
};

// --- Document shape -------------------------------------------------------------------------

TEST_F(ProfileTest, OnlyNonProfileEventsRenderEmptyMapsAndNulls) {
  // Outbound messages, facts, points, refunds, conversations: none feeds the profile, and none
  // is an inbound touchpoint.
  Apply("message", "2026-01-01T10:00:00Z", R"({"direction":"outbound","summary":"Hello"})");
  Apply("fact_recorded", "2026-01-02T10:00:00Z", R"({"key":"size","value":"M"})");
  Apply("points_adjusted", "2026-01-03T10:00:00Z", R"({"points":10,"reason":"goodwill"})");
  Apply("refund", "2026-01-04T10:00:00Z",
        R"({"order_id":"O-9","amount_minor":500,"currency":"CNY"})");
  Apply("conversation_opened", "2026-01-05T10:00:00Z", R"({"topic":"sizes"})", "chat", 0,
        R"("conversation_id":"conv-1")");
  EXPECT_EQ(Render("2026-01-05T10:00:00Z"),
            R"({"customer_id":"C-1","as_of":"2026-01-05T10:00:00Z","seq":5,"preferences":{},)"
            R"("category_affinity":{},"communication":{"preferred_channel":null,"channel_mix":{},)"
            R"("consents":{}},"tags":[]})");
}

TEST_F(ProfileTest, FullDocumentOfASmallProfile) {
  // seq 1 (pos 101): stated seat=window on app at 09:00.
  // seq 2 (pos 102): observed drink=tea, weight 2, on store.
  // seq 3 (pos 103): observed drink=coffee, weight 1, on web — tea wins, confidence 2/3 = 0.6667.
  // seq 4 (pos 104): purchase, one "books" item of quantity 3 → books share 1.
  // seq 5 (pos 105): consent marketing on email granted.
  // seq 6 (pos 106): tag vip.
  // Inbound: the stated preference (app) and the purchase (store): app 1, store 1; tie → the most
  // recent, store. as_of carries a fraction, rendered with 6 digits.
  State("2026-03-01T09:00:00Z", "seat", "window", "app");
  Observe("2026-03-01T09:30:00Z", "drink", "tea", "2", "store");
  Observe("2026-03-01T09:30:00Z", "drink", "coffee", "", "web");
  Purchase("2026-03-02T12:00:00.5Z", R"([{"sku":"B-1","category":"books","quantity":3}])", "store");
  Apply("consent_changed", "2026-03-03T00:00:00Z",
        R"({"purpose":"marketing","status":"granted","channel":"email"})", "email");
  Apply("tag_assigned", "2026-03-04T00:00:00Z", R"({"tag":"vip"})");
  EXPECT_EQ(Render("2026-03-05T00:00:00.000250Z"),
            R"({"customer_id":"C-1","as_of":"2026-03-05T00:00:00.000250Z","seq":6,)"
            R"("preferences":{)"
            R"("drink":{"value":"tea","source":"observed","confidence":0.6667,)"
            R"("first_seen":"2026-03-01T09:30:00Z","last_seen":"2026-03-01T09:30:00Z",)"
            R"("channels":["store"],"evidence":[102]},)"
            R"("seat":{"value":"window","source":"stated","confidence":1,)"
            R"("first_seen":"2026-03-01T09:00:00Z","last_seen":"2026-03-01T09:00:00Z",)"
            R"("channels":["app"],"evidence":[101]}},)"
            R"("category_affinity":{"books":1},)"
            R"("communication":{"preferred_channel":"store","channel_mix":{"app":1,"store":1},)"
            R"("consents":{"marketing:email":"granted"}},)"
            R"("tags":["vip"]})");
}

TEST_F(ProfileTest, PreferenceKeysSortBytewise) {
  // Bytewise: "B" (0x42) < "a" (0x61) < "b" (0x62) < "é" (0xC3 0xA9).
  Observe("2026-01-01T00:00:00Z", "b", "1");
  Observe("2026-01-01T00:00:00Z", "\xC3\xA9", "2");
  Observe("2026-01-01T00:00:00Z", "B", "3");
  Observe("2026-01-01T00:00:00Z", "a", "4");
  std::string prefs = Prefs("2026-01-01T00:00:00Z");
  size_t upper_b = prefs.find("\"B\":"), a = prefs.find("\"a\":"), b = prefs.find("\"b\":"),
         e = prefs.find("\"\xC3\xA9\":");
  ASSERT_NE(e, std::string::npos);
  EXPECT_LT(upper_b, a);
  EXPECT_LT(a, b);
  EXPECT_LT(b, e);
}

TEST_F(ProfileTest, SeqIsTheGreatestEvenWhenALateEventIsAppliedFirst) {
  // Apply order is (occurred_at, seq): seq 3 arrived late with the earliest time, so it is
  // applied first; seq is still 3, not the last applied (2).
  ApplyWithSeq(3, 30, EventJson("visit", "2026-01-01T00:00:00Z"));
  ApplyWithSeq(1, 10, EventJson("visit", "2026-01-02T00:00:00Z"));
  ApplyWithSeq(2, 20, EventJson("visit", "2026-01-03T00:00:00Z"));
  EXPECT_EQ(Member(Render("2026-01-03T00:00:00Z"), "seq"), "3");
  EXPECT_EQ(Member(Render("2026-01-03T00:00:00Z"), "customer_id"), "\"C-1\"");
}

// --- Stated preferences ---------------------------------------------------------------------

TEST_F(ProfileTest, StatedBeatsObservedWithConfidenceOne) {
  // Heavy observations of aisle, then one statement of window: window, stated, confidence 1,
  // described by the stated event only.
  Observe("2026-01-01T00:00:00Z", "seat", "aisle", "5", "app", 11);
  Observe("2026-01-02T00:00:00Z", "seat", "aisle", "5", "app", 12);
  State("2026-01-03T00:00:00Z", "seat", "window", "phone", 13);
  EXPECT_EQ(Prefs("2026-01-03T00:00:00Z"),
            R"({"seat":{"value":"window","source":"stated","confidence":1,)"
            R"("first_seen":"2026-01-03T00:00:00Z","last_seen":"2026-01-03T00:00:00Z",)"
            R"("channels":["phone"],"evidence":[13]}})");
}

TEST_F(ProfileTest, ObservationsAfterAStatementDoNotChangeIt) {
  State("2026-01-01T00:00:00Z", "seat", "window", "phone", 11);
  Observe("2026-01-02T00:00:00Z", "seat", "aisle", "100", "app", 12);
  Observe("2026-01-03T00:00:00Z", "seat", "window", "1", "store", 13);
  EXPECT_EQ(Prefs("2026-01-03T00:00:00Z"),
            R"({"seat":{"value":"window","source":"stated","confidence":1,)"
            R"("first_seen":"2026-01-01T00:00:00Z","last_seen":"2026-01-01T00:00:00Z",)"
            R"("channels":["phone"],"evidence":[11]}})");
}

TEST_F(ProfileTest, LatestStatedValueWins) {
  State("2026-01-01T00:00:00Z", "seat", "window", "web", 11);
  State("2026-01-02T00:00:00Z", "seat", "aisle", "app", 12);
  EXPECT_EQ(Prefs("2026-01-02T00:00:00Z"),
            R"({"seat":{"value":"aisle","source":"stated","confidence":1,)"
            R"("first_seen":"2026-01-02T00:00:00Z","last_seen":"2026-01-02T00:00:00Z",)"
            R"("channels":["app"],"evidence":[12]}})");
}

TEST_F(ProfileTest, StatedValueIsDescribedByItsStatementsSinceTheRetraction) {
  // window (web, 11), aisle (app, 12), window (store, 13): window wins; its statements are 11
  // and 13, so first_seen is the first of them and channels web, store. The window statement
  // before the retraction (10) is discarded.
  State("2025-12-31T00:00:00Z", "seat", "window", "mail", 10);
  Retract("2025-12-31T12:00:00Z", "seat");
  State("2026-01-01T00:00:00Z", "seat", "window", "web", 11);
  State("2026-01-02T00:00:00Z", "seat", "aisle", "app", 12);
  State("2026-01-03T00:00:00Z", "seat", "window", "store", 13);
  EXPECT_EQ(Prefs("2026-01-03T00:00:00Z"),
            R"({"seat":{"value":"window","source":"stated","confidence":1,)"
            R"("first_seen":"2026-01-01T00:00:00Z","last_seen":"2026-01-03T00:00:00Z",)"
            R"("channels":["web","store"],"evidence":[11,13]}})");
}

// --- Retraction -----------------------------------------------------------------------------

TEST_F(ProfileTest, RetractionRemovesTheKey) {
  State("2026-01-01T00:00:00Z", "seat", "window");
  Observe("2026-01-01T00:00:00Z", "drink", "tea");
  Retract("2026-01-02T00:00:00Z", "seat");
  Retract("2026-01-02T00:00:00Z", "never-seen");  // nothing to remove: no effect
  EXPECT_THAT(Prefs("2026-01-02T00:00:00Z"), ::testing::StartsWith(R"({"drink":)"));
  EXPECT_THAT(Prefs("2026-01-02T00:00:00Z"), ::testing::Not(::testing::HasSubstr("seat")));
}

TEST_F(ProfileTest, RetractionDiscardsEarlierEvidenceAndLaterObservationsStartFresh) {
  // Before: aisle ×3 (weight 5 each) and a statement of window. After the retraction one
  // observation of window, weight 1: the only evidence left, so window with confidence
  // 1 ÷ 1 = 1 (had aisle's 15 survived, window would have lost).
  Observe("2026-01-01T00:00:00Z", "seat", "aisle", "5", "app", 11);
  Observe("2026-01-01T00:00:00Z", "seat", "aisle", "5", "app", 12);
  Observe("2026-01-01T00:00:00Z", "seat", "aisle", "5", "app", 13);
  State("2026-01-02T00:00:00Z", "seat", "window", "phone", 14);
  Retract("2026-01-03T00:00:00Z", "seat");
  Observe("2026-01-04T00:00:00Z", "seat", "window", "", "store", 16);
  EXPECT_EQ(Prefs("2026-01-04T00:00:00Z"),
            R"({"seat":{"value":"window","source":"observed","confidence":1,)"
            R"("first_seen":"2026-01-04T00:00:00Z","last_seen":"2026-01-04T00:00:00Z",)"
            R"("channels":["store"],"evidence":[16]}})");
}

TEST_F(ProfileTest, StatementAfterARetractionStartsFresh) {
  State("2026-01-01T00:00:00Z", "seat", "window", "web", 11);
  Retract("2026-01-02T00:00:00Z", "seat");
  State("2026-01-03T00:00:00Z", "seat", "window", "app", 13);
  EXPECT_EQ(Prefs("2026-01-03T00:00:00Z"),
            R"({"seat":{"value":"window","source":"stated","confidence":1,)"
            R"("first_seen":"2026-01-03T00:00:00Z","last_seen":"2026-01-03T00:00:00Z",)"
            R"("channels":["app"],"evidence":[13]}})");
}

// --- Observed preferences: decay, ties, confidence ------------------------------------------

TEST_F(ProfileTest, ObservationOneHalfLifeOldCountsHalf) {
  // Default half-life 180 days. tea: weight 1 on 2026-01-01, 180 days before as_of
  // 2026-06-30 → 1 × 0.5^(180/180) = 0.5. coffee: weight 0.4 at as_of → 0.4.
  // tea wins with confidence 0.5 ÷ (0.5 + 0.4) = 0.5556 (0.5555…).
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "", "web", 11);
  Observe("2026-06-30T00:00:00Z", "drink", "coffee", "0.4", "app", 12);
  EXPECT_EQ(Prefs("2026-06-30T00:00:00Z"),
            R"({"drink":{"value":"tea","source":"observed","confidence":0.5556,)"
            R"("first_seen":"2026-01-01T00:00:00Z","last_seen":"2026-01-01T00:00:00Z",)"
            R"("channels":["web"],"evidence":[11]}})");
}

TEST_F(ProfileTest, DecayedTieGoesToTheMostRecentValue) {
  // tea: 1 × 0.5 = 0.5 (180 days old); coffee: 0.5 × 1 = 0.5 (at as_of). A tie: coffee, observed
  // more recently, wins with confidence 0.5 ÷ 1 = 0.5.
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "", "web", 11);
  Observe("2026-06-30T00:00:00Z", "drink", "coffee", "0.5", "app", 12);
  EXPECT_EQ(Prefs("2026-06-30T00:00:00Z"),
            R"({"drink":{"value":"coffee","source":"observed","confidence":0.5,)"
            R"("first_seen":"2026-06-30T00:00:00Z","last_seen":"2026-06-30T00:00:00Z",)"
            R"("channels":["app"],"evidence":[12]}})");
}

TEST_F(ProfileTest, TieAtTheSameTimeGoesToTheLaterSeq) {
  // Both weight 1 at the same instant: the later in (occurred_at, seq) order is the most recent.
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "", "web", 11);
  Observe("2026-01-01T00:00:00Z", "drink", "coffee", "", "web", 12);
  EXPECT_THAT(Prefs("2026-01-01T00:00:00Z"),
              ::testing::StartsWith(R"({"drink":{"value":"coffee","source":"observed",)"
                                    R"("confidence":0.5,)"));
}

TEST_F(ProfileTest, DecayChangesTheWinner) {
  // tea: weight 1.5 on 2026-01-01 → 1.5 × 0.5 = 0.75 at 2026-06-30; coffee: 1 at 2026-06-30.
  // Undecayed tea would win (1.5 > 1); decayed, coffee wins: 1 ÷ 1.75 = 0.571428… → 0.5714.
  // A later as_of decays both by the same factor: 360 days → 0.375 and 0.5, still 0.5714.
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "1.5", "web", 11);
  Observe("2026-06-30T00:00:00Z", "drink", "coffee", "", "app", 12);
  const std::string expected =
      R"({"drink":{"value":"coffee","source":"observed","confidence":0.5714,)"
      R"("first_seen":"2026-06-30T00:00:00Z","last_seen":"2026-06-30T00:00:00Z",)"
      R"("channels":["app"],"evidence":[12]}})";
  EXPECT_EQ(Prefs("2026-06-30T00:00:00Z"), expected);
  EXPECT_EQ(Prefs("2026-12-27T00:00:00Z"), expected);
}

TEST_F(ProfileTest, HalfLifeComesFromTheRules) {
  // Half-life 90 days: tea 1.5 × 0.5^(180/90) = 0.375 against coffee 1 → 1 ÷ 1.375 = 0.7273
  // (0.727272…).
  rules_.preference_half_life_days = 90;
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "1.5");
  Observe("2026-06-30T00:00:00Z", "drink", "coffee");
  EXPECT_THAT(Prefs("2026-06-30T00:00:00Z"),
              ::testing::StartsWith(R"({"drink":{"value":"coffee","source":"observed",)"
                                    R"("confidence":0.7273,)"));
}

TEST_F(ProfileTest, ConfidenceIsTheWinnersShareOfTheKeysTotal) {
  // Same instant, no decay: tea 1, coffee 1 + 2 = 3, water 0.25.
  // coffee wins with 3 ÷ 4.25 = 0.705882… → 0.7059.
  Observe("2026-01-01T00:00:00Z", "drink", "tea");
  Observe("2026-01-01T00:00:00Z", "drink", "coffee");
  Observe("2026-01-01T00:00:00Z", "drink", "coffee", "2");
  Observe("2026-01-01T00:00:00Z", "drink", "water", "0.25");
  EXPECT_THAT(Prefs("2026-01-01T00:00:00Z"),
              ::testing::StartsWith(R"({"drink":{"value":"coffee","source":"observed",)"
                                    R"("confidence":0.7059,)"));
}

TEST_F(ProfileTest, DescriptionIsOfTheWinningValuesEventsOnly) {
  // tea on phone (11), coffee on web then chat (12, 14), tea again on store (13). coffee 2 vs
  // tea 2 at the same instant: a tie, coffee's latest (seq 4) is the most recent.
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "", "phone", 11);
  Observe("2026-01-01T00:00:00Z", "drink", "coffee", "", "web", 12);
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "", "store", 13);
  Observe("2026-01-01T00:00:00Z", "drink", "coffee", "", "chat", 14);
  EXPECT_EQ(Prefs("2026-01-01T00:00:00Z"),
            R"({"drink":{"value":"coffee","source":"observed","confidence":0.5,)"
            R"("first_seen":"2026-01-01T00:00:00Z","last_seen":"2026-01-01T00:00:00Z",)"
            R"("channels":["web","chat"],"evidence":[12,14]}})");
}

TEST_F(ProfileTest, ChannelsInOrderOfFirstUse) {
  Observe("2026-01-01T00:00:00Z", "drink", "tea", "", "store");
  Observe("2026-01-02T00:00:00Z", "drink", "tea", "", "web");
  Observe("2026-01-03T00:00:00Z", "drink", "tea", "", "store");
  Observe("2026-01-04T00:00:00Z", "drink", "tea", "", "app");
  Observe("2026-01-05T00:00:00Z", "drink", "tea", "", "web");
  EXPECT_THAT(Prefs("2026-01-05T00:00:00Z"),
              ::testing::HasSubstr(R"("first_seen":"2026-01-01T00:00:00Z",)"
                                   R"("last_seen":"2026-01-05T00:00:00Z",)"
                                   R"("channels":["store","web","app"],)"));
}

TEST_F(ProfileTest, EvidenceIsTheLatestFivePositionsAscending) {
  // Seven observations in apply order with positions 10, 11, 12, 40, 13, 14, 15 (40 arrived late
  // with an earlier occurred_at, so it is applied among the others). The latest five in apply
  // order are 12, 40, 13, 14, 15; rendered ascending.
  const uint64_t positions[] = {10, 11, 12, 40, 13, 14, 15};
  for (int i = 0; i < 7; ++i) {
    Observe(StrCat("2026-01-0", i + 1, "T00:00:00Z"), "drink", "tea", "", "web", positions[i]);
  }
  EXPECT_THAT(Prefs("2026-01-07T00:00:00Z"),
              ::testing::HasSubstr(R"("evidence":[12,13,14,15,40])"));
}

// --- Category affinity ----------------------------------------------------------------------

TEST_F(ProfileTest, CategoryAffinityDecaysAndRoundsEachShare) {
  // 2026-01-01: books ×2, toys (no quantity → 1), an item without a category (ignored).
  // 2026-06-30 (180 days later = one half-life): books ×1, games ×3.
  // As of 2026-06-30: books 2 × 0.5 + 1 = 2, toys 0.5, games 3; total 5.5.
  // books 2/5.5 = 0.363636… → 0.3636; games 3/5.5 = 0.545454… → 0.5455; toys 0.5/5.5 =
  // 0.090909… → 0.0909 (each rounded on its own: they sum to 1.0000 only by luck).
  Purchase("2026-01-01T00:00:00Z",
           R"([{"sku":"B-1","category":"books","quantity":2},{"sku":"T-1","category":"toys"},)"
           R"({"sku":"X-1"}])");
  Purchase("2026-06-30T00:00:00Z",
           R"([{"sku":"B-2","category":"books"},{"sku":"G-1","category":"games","quantity":3}])");
  EXPECT_EQ(Member(Render("2026-06-30T00:00:00Z"), "category_affinity"),
            R"({"books":0.3636,"games":0.5455,"toys":0.0909})");
  // The same factor decays every category: a later as_of gives the same shares.
  EXPECT_EQ(Member(Render("2027-06-30T00:00:00Z"), "category_affinity"),
            R"({"books":0.3636,"games":0.5455,"toys":0.0909})");
}

TEST_F(ProfileTest, CategorySharesRoundHalfAwayFromZero) {
  // a 1, b 31 at one instant: 1/32 = 0.03125 → 0.0313 and 31/32 = 0.96875 → 0.9688 (exact
  // binary halves, rounded away from zero).
  Purchase("2026-01-01T00:00:00Z",
           R"([{"sku":"A","category":"a"},{"sku":"B","category":"b","quantity":31}])");
  EXPECT_EQ(Member(Render("2026-01-01T00:00:00Z"), "category_affinity"),
            R"({"a":0.0313,"b":0.9688})");
}

TEST_F(ProfileTest, RefundsAndPurchasesWithoutCategoriesLeaveAffinityAlone) {
  Purchase("2026-01-01T00:00:00Z", R"([{"sku":"A","category":"a"}])");
  Apply("refund", "2026-01-02T00:00:00Z",
        R"({"order_id":"O-1","amount_minor":1000,"currency":"CNY"})");
  Purchase("2026-06-30T00:00:00Z", R"([{"sku":"X"}])");
  Apply("purchase", "2026-06-30T00:00:00Z",
        R"({"order_id":"O-3","amount_minor":1,"currency":"CNY"})");  // no items at all
  EXPECT_EQ(Member(Render("2026-06-30T00:00:00Z"), "category_affinity"), R"({"a":1})");
}

// --- Communication --------------------------------------------------------------------------

TEST_F(ProfileTest, ChannelMixCountsEveryInboundTouchpointType) {
  // Inbound: message (inbound), visit, inquiry, purchase, complaint_opened, suggestion,
  // survey_response, preference_stated. Not: outbound messages, observations, conversations,
  // consents, tags, refunds.
  const std::string at = "2026-01-01T00:00:00Z";
  Apply("message", at, R"({"direction":"inbound","summary":"Hi"})", "chat");
  Apply("visit", at, "{}", "store");
  Apply("inquiry", at, R"({"topic":"hours"})", "phone");
  Apply("purchase", at, R"({"order_id":"O-4","amount_minor":1,"currency":"CNY"})", "web");
  Apply("complaint_opened", at, R"({"case_id":"K-1","category":"late","severity":"low"})", "email");
  Apply("suggestion", at, R"({"topic":"parking"})", "app");
  Apply("survey_response", at, R"({"survey":"s-1","csat":5})", "mail");
  State(at, "seat", "window", "social");
  Apply("message", at, R"({"direction":"outbound","summary":"Hello"})", "other");
  Observe(at, "drink", "tea", "", "other");
  Apply("conversation_opened", at, R"({"topic":"t"})", "other", 0, R"("conversation_id":"c-1")");
  Apply("tag_assigned", at, R"({"tag":"x"})", "other");
  Apply("refund", at, R"({"order_id":"O-5","amount_minor":1,"currency":"CNY"})", "other");
  // Eight channels once each; the most recent of the tie is social (the statement).
  EXPECT_EQ(Member(Render(at), "communication"),
            R"({"preferred_channel":"social","channel_mix":{"app":1,"chat":1,"email":1,"mail":1,)"
            R"("phone":1,"social":1,"store":1,"web":1},"consents":{}})");
}

TEST_F(ProfileTest, ChannelMixWindowExcludesExactly365DaysBeforeAsOf) {
  // The window is (as_of − 365 days, as_of], the form of the loyalty spend window: as of
  // 2027-01-01T00:00:00Z a touchpoint at 2026-01-01T00:00:00Z (exactly 365 days before) is out,
  // one a microsecond later is in.
  Visit("2026-01-01T00:00:00Z", "store");
  Visit("2026-01-01T00:00:00.000001Z", "web");
  Visit("2027-01-01T00:00:00Z", "app");
  EXPECT_EQ(Member(Render("2027-01-01T00:00:00Z"), "communication"),
            R"({"preferred_channel":"app","channel_mix":{"app":1,"web":1},"consents":{}})");
  // A microsecond later the web visit is exactly 365 days old, and out too.
  EXPECT_THAT(Render("2027-01-01T00:00:00.000001Z"),
              ::testing::HasSubstr(R"("channel_mix":{"app":1})"));
}

TEST_F(ProfileTest, ActivityWindowComesFromTheRules) {
  rules_.activity_window_days = 30;
  Visit("2026-01-01T00:00:00Z", "store");
  Visit("2026-01-31T00:00:00Z", "web");  // 30 days after the first
  EXPECT_THAT(Render("2026-01-31T00:00:00Z"), ::testing::HasSubstr(R"("channel_mix":{"web":1})"));
}

TEST_F(ProfileTest, PreferredChannelIsTheLargestThenTheMostRecent) {
  // web 3, store 1 (latest): web, the largest.
  Visit("2026-01-01T00:00:00Z", "web");
  Visit("2026-01-02T00:00:00Z", "web");
  Visit("2026-01-03T00:00:00Z", "web");
  Visit("2026-01-04T00:00:00Z", "store");
  EXPECT_THAT(
      Render("2026-01-04T00:00:00Z"),
      ::testing::HasSubstr(R"("preferred_channel":"web","channel_mix":{"store":1,"web":3})"));
  // store 3, web 3: a tie; store's latest (2026-01-06) is the most recent.
  Visit("2026-01-05T00:00:00Z", "store");
  Visit("2026-01-06T00:00:00Z", "store");
  EXPECT_THAT(Render("2026-01-06T00:00:00Z"),
              ::testing::HasSubstr(R"("preferred_channel":"store")"));
  // web 4, store 3.
  Visit("2026-01-07T00:00:00Z", "web");
  EXPECT_THAT(Render("2026-01-07T00:00:00Z"), ::testing::HasSubstr(R"("preferred_channel":"web")"));
}

TEST_F(ProfileTest, PreferredChannelTieAtOneInstantGoesToTheLaterSeq) {
  Visit("2026-01-01T00:00:00Z", "web");
  Visit("2026-01-01T00:00:00Z", "app");
  EXPECT_THAT(Render("2026-01-01T00:00:00Z"), ::testing::HasSubstr(R"("preferred_channel":"app")"));
}

TEST_F(ProfileTest, PreferredChannelIsNullWhenNothingIsInTheWindow) {
  Visit("2026-01-01T00:00:00Z", "web");
  Apply("tag_assigned", "2026-06-01T00:00:00Z", R"({"tag":"x"})");
  EXPECT_THAT(Render("2027-01-01T00:00:00Z"),
              ::testing::HasSubstr(R"({"preferred_channel":null,"channel_mix":{},)"));
}

TEST_F(ProfileTest, OldInboundTouchpointsArePrunedWithoutChangingTheResult) {
  // Daily visits on days 0..399 (web on even days, app on odd ones), then a store visit on day
  // 400. As of day 400 the window (day 35, day 400] holds days 36..399 of the loop — 182 even
  // (36, 38, …, 398) and 182 odd (37, …, 399) — plus the store visit. The state keeps only what
  // can still be in a window (days 36..400, 365 entries), and its encoded copy renders alike.
  ledger::Timestamp start = Ts("2025-01-01T00:00:00Z");
  for (int day = 0; day < 400; ++day) {
    ledger::Timestamp t{start.micros + day * ledger::kMicrosPerDay};
    Visit(ledger::FormatTimestamp(t), day % 2 == 0 ? "web" : "app");
  }
  ledger::Timestamp last{start.micros + 400 * ledger::kMicrosPerDay};
  Visit(ledger::FormatTimestamp(last), "store");
  const std::string as_of = ledger::FormatTimestamp(last);
  EXPECT_THAT(Render(as_of),
              ::testing::HasSubstr(R"("channel_mix":{"app":182,"store":1,"web":182})"));
  EXPECT_LE(state_.inbound.size() - state_.inbound_head, 366u);
  ProfileState copy;
  ASSERT_TRUE(DecodeProfileState(EncodeProfileState(state_), &copy));
  EXPECT_EQ(RenderProfile(copy, Ts(as_of), rules_), Render(as_of));
}

TEST_F(ProfileTest, ConsentsLatestWinsPerPurposeAndChannel) {
  Apply("consent_changed", "2026-01-01T00:00:00Z", R"({"purpose":"marketing","status":"granted"})");
  Apply("consent_changed", "2026-01-02T00:00:00Z",
        R"({"purpose":"marketing","status":"revoked","channel":"email"})");
  Apply("consent_changed", "2026-01-03T00:00:00Z",
        R"({"purpose":"analytics","status":"granted","channel":"web"})");
  EXPECT_THAT(Render("2026-01-03T00:00:00Z"),
              ::testing::HasSubstr(R"("consents":{"analytics:web":"granted","marketing":"granted",)"
                                   R"("marketing:email":"revoked"}})"));
  Apply("consent_changed", "2026-01-04T00:00:00Z", R"({"purpose":"marketing","status":"revoked"})");
  Apply("consent_changed", "2026-01-05T00:00:00Z",
        R"({"purpose":"marketing","status":"granted","channel":"email"})");
  EXPECT_THAT(Render("2026-01-05T00:00:00Z"),
              ::testing::HasSubstr(R"("consents":{"analytics:web":"granted","marketing":"revoked",)"
                                   R"("marketing:email":"granted"}})"));
}

// --- Tags -----------------------------------------------------------------------------------

TEST_F(ProfileTest, TagsAssignedAndNotRemovedSorted) {
  Apply("tag_assigned", "2026-01-01T00:00:00Z", R"({"tag":"vip"})");
  Apply("tag_assigned", "2026-01-02T00:00:00Z", R"({"tag":"alpha"})");
  Apply("tag_assigned", "2026-01-03T00:00:00Z", R"({"tag":"vip"})");  // already there
  Apply("tag_removed", "2026-01-04T00:00:00Z", R"({"tag":"beta"})");  // never assigned
  Apply("tag_assigned", "2026-01-05T00:00:00Z", R"({"tag":"Zed"})");  // "Z" < "a" bytewise
  Apply("tag_assigned", "2026-01-06T00:00:00Z", R"({"tag":"churn"})");
  Apply("tag_removed", "2026-01-07T00:00:00Z", R"({"tag":"churn"})");
  EXPECT_EQ(Member(Render("2026-01-07T00:00:00Z"), "tags"), R"(["Zed","alpha","vip"])");
  Apply("tag_assigned", "2026-01-08T00:00:00Z", R"({"tag":"churn"})");  // re-assigned
  EXPECT_EQ(Member(Render("2026-01-08T00:00:00Z"), "tags"), R"(["Zed","alpha","churn","vip"])");
}

// --- Storage --------------------------------------------------------------------------------

class ProfileCodecTest : public ProfileTest {
 protected:
  void BuildRichState() {
    State("2026-01-01T00:00:00Z", "seat", "window", "app");
    State("2026-01-02T00:00:00Z", "seat", "aisle", "web");
    for (int i = 0; i < 7; ++i) {
      Observe(StrCat("2026-02-0", i + 1, "T00:00:00Z"), "drink", i % 3 ? "tea" : "coffee",
              i % 2 ? "0.75" : "", i % 2 ? "store" : "phone");
    }
    Purchase("2026-03-01T00:00:00Z",
             R"([{"sku":"B-1","category":"books","quantity":2},{"sku":"G","category":"games"}])");
    Apply("message", "2026-03-02T00:00:00Z", R"({"direction":"inbound","summary":"Hi"})", "chat");
    Apply("consent_changed", "2026-03-03T00:00:00Z",
          R"({"purpose":"marketing","status":"granted","channel":"email"})");
    Apply("tag_assigned", "2026-03-04T00:00:00Z", R"({"tag":"vip"})");
  }
};

TEST_F(ProfileCodecTest, RoundTripRendersIdenticallyAndKeepsApplying) {
  BuildRichState();
  ProfileState copy;
  ASSERT_TRUE(DecodeProfileState(EncodeProfileState(state_), &copy));
  EXPECT_EQ(RenderProfile(copy, Ts("2026-03-04T00:00:00Z"), rules_),
            Render("2026-03-04T00:00:00Z"));
  EXPECT_EQ(RenderProfile(copy, Ts("2027-01-01T00:00:00Z"), rules_),
            Render("2027-01-01T00:00:00Z"));
  EXPECT_EQ(EncodeProfileState(copy), EncodeProfileState(state_));
  // Both go on alike.
  std::string json = EventJson("preference_observed", "2026-04-01T00:00:00Z",
                               R"({"key":"drink","value":"coffee","weight":3})", "web");
  ApplyProfile(&copy, MakeTouch(json, 99, 999), rules_);
  ApplyProfile(&state_, MakeTouch(json, 99, 999), rules_);
  EXPECT_EQ(RenderProfile(copy, Ts("2026-04-01T00:00:00Z"), rules_),
            Render("2026-04-01T00:00:00Z"));
}

TEST_F(ProfileCodecTest, EmptyStateRoundTrips) {
  ProfileState copy;
  ASSERT_TRUE(DecodeProfileState(EncodeProfileState(state_), &copy));
  EXPECT_EQ(RenderProfile(copy, Ts("2026-01-01T00:00:00Z"), rules_),
            Render("2026-01-01T00:00:00Z"));
}

TEST_F(ProfileCodecTest, DecodeRejectsTruncatedTrailingAndCorruptBytes) {
  BuildRichState();
  const std::string bytes = EncodeProfileState(state_);
  for (size_t n = 0; n < bytes.size(); ++n) {
    ProfileState s;
    EXPECT_FALSE(DecodeProfileState(std::string_view(bytes).substr(0, n), &s)) << n;
  }
  ProfileState s;
  EXPECT_FALSE(DecodeProfileState(bytes + "x", &s));
  std::string other_version = bytes;
  other_version[0] = 9;
  EXPECT_FALSE(DecodeProfileState(other_version, &s));
  // Every single-byte corruption either fails or decodes into a state that renders.
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0xFF);
    ProfileState c;
    if (DecodeProfileState(corrupt, &c)) RenderProfile(c, Ts("2026-03-04T00:00:00Z"), rules_);
  }
}

}  // namespace
}  // namespace rapport::projections
