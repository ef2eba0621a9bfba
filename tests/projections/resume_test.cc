// The resume projection (CONTRACT §4.3): one scenario per rule, with expected values computed by
// hand from the contract, plus the exact JSON of small cases and the state codec.
#include "projections/resume.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ledger/timestamp.h"
#include "projections/state_codec.h"
#include "tests/testing/touches.h"

namespace rapport::projections {
namespace {

using ::rapport::testing::EventJson;
using ::rapport::testing::MakeTouch;

// 2026-03-01 at `hour`:`minute` UTC.
std::string T(int hour, int minute = 0) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "2026-03-01T%02d:%02d:00Z", hour, minute);
  return buf;
}

ledger::Timestamp Ts(const std::string& text) { return *ledger::ParseRfc3339(text); }

std::string Conv(const std::string& id, const std::string& actor = "") {
  std::string out = "\"conversation_id\":\"" + id + "\"";
  if (!actor.empty()) out += ",\"actor\":\"" + actor + "\"";
  return out;
}

// The JSON text of the top-level member `name` of the object `json` (which our renderer writes
// without whitespace), or "<missing>".
std::string Member(const std::string& json, const std::string& name) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      std::string key = "\"" + name + "\":";
      if (depth == 1 && json.compare(i, key.size(), key) == 0 &&
          (json[i - 1] == '{' || json[i - 1] == ',')) {
        size_t start = i + key.size();
        int d = 0;
        bool s = false;
        for (size_t j = start; j < json.size(); ++j) {
          char x = json[j];
          if (s) {
            if (x == '\\') {
              ++j;
            } else if (x == '"') {
              s = false;
            }
            continue;
          }
          if (x == '"') {
            s = true;
          } else if (x == '{' || x == '[') {
            ++d;
          } else if (x == '}' || x == ']') {
            if (d == 0) return json.substr(start, j - start);
            --d;
          } else if (x == ',' && d == 0) {
            return json.substr(start, j - start);
          }
          if (d == 0 && (x == '}' || x == ']')) return json.substr(start, j + 1 - start);
        }
      }
      in_string = true;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
  }
  return "<missing>";
}

class ResumeTest : public ::testing::Test {
 protected:
  // Applies events in the order given, with consecutive seqs; callers give them in time order.
  void Apply(const std::string& json) {
    ++seq_;
    ApplyResume(&state_, MakeTouch(json, seq_, 1000 + seq_), rules_);
  }
  std::string Render(const std::string& as_of = "2026-03-02T00:00:00Z") const {
    return RenderResume(state_, Ts(as_of), rules_);
  }
  std::string Field(const std::string& name,
                    const std::string& as_of = "2026-03-02T00:00:00Z") const {
    return Member(Render(as_of), name);
  }

  Rules rules_;
  ResumeState state_;
  uint64_t seq_ = 0;
};

TEST(MemberTest, ExtractsTopLevelValues) {
  std::string j = R"({"a":1,"b":{"a":2},"c":[{"x":"]"}],"d":"q\"}","e":null})";
  EXPECT_EQ(Member(j, "a"), "1");
  EXPECT_EQ(Member(j, "b"), R"({"a":2})");
  EXPECT_EQ(Member(j, "c"), R"([{"x":"]"}])");
  EXPECT_EQ(Member(j, "d"), R"("q\"}")");
  EXPECT_EQ(Member(j, "e"), "null");
  EXPECT_EQ(Member(j, "x"), "<missing>");
}

// --- last_contact ---

TEST_F(ResumeTest, LastContactIsTheLatestEventWithActorAndSummary) {
  Apply(EventJson("inquiry", T(9), R"({"topic":"sizes","summary":"asked about sizes"})", "web",
                  R"("actor":"bot-1")"));
  EXPECT_EQ(Field("last_contact"),
            R"({"at":"2026-03-01T09:00:00Z","channel":"web","type":"inquiry","actor":"bot-1",)"
            R"("summary":"asked about sizes"})");
  // Any type counts, and absent actor and summary are null.
  Apply(EventJson("tag_assigned", T(10), R"({"tag":"vip"})", "other"));
  EXPECT_EQ(Field("last_contact"),
            R"({"at":"2026-03-01T10:00:00Z","channel":"other","type":"tag_assigned",)"
            R"("actor":null,"summary":null})");
}

TEST_F(ResumeTest, TimestampsCarryAFractionOnlyWhenNonZero) {
  Apply(EventJson("visit", "2026-03-01T09:00:00.250+01:00", "{}", "store"));
  EXPECT_EQ(Member(Field("last_contact"), "at"), R"("2026-03-01T08:00:00.250000Z")");
  EXPECT_EQ(Field("as_of", "2026-03-01T09:00:00Z"), R"("2026-03-01T09:00:00Z")");
}

// --- open_conversations ---

TEST_F(ResumeTest, ConversationAcrossChannelsKeepsChannelsInOrderOfFirstUse) {
  Apply(EventJson("conversation_opened", T(9), R"({"topic":"laptop repair"})", "chat",
                  Conv("conv-1")));
  Apply(EventJson("message", T(10),
                  R"({"direction":"inbound","summary":"sent photos of the screen"})", "email",
                  Conv("conv-1")));
  Apply(EventJson("message", T(11), R"({"direction":"outbound","summary":"chat follow-up"})",
                  "chat", Conv("conv-1")));
  Apply(EventJson("message", T(12), R"({"direction":"outbound","summary":"called back"})", "phone",
                  Conv("conv-1", "agent-7")));
  EXPECT_EQ(Field("open_conversations"),
            R"([{"conversation_id":"conv-1","topic":"laptop repair",)"
            R"("opened_at":"2026-03-01T09:00:00Z","last_at":"2026-03-01T12:00:00Z",)"
            R"("channels":["chat","email","phone"],)"
            R"("last_message":{"direction":"outbound","summary":"called back",)"
            R"("at":"2026-03-01T12:00:00Z","channel":"phone"},"pending_asks":[]}])");
}

TEST_F(ResumeTest, TopicIsTheLatestSeenInTheConversation) {
  // Opened by a message: no topic yet, and the message is the last message.
  Apply(EventJson("message", T(9), R"({"direction":"inbound","summary":"hello"})", "chat",
                  Conv("conv-1")));
  std::string c = Field("open_conversations");
  EXPECT_THAT(c, ::testing::HasSubstr(R"("topic":null)"));
  EXPECT_THAT(c,
              ::testing::HasSubstr(R"("last_message":{"direction":"inbound","summary":"hello")"));
  Apply(EventJson("inquiry", T(10), R"({"topic":"delivery"})", "chat", Conv("conv-1")));
  EXPECT_THAT(Field("open_conversations"), ::testing::HasSubstr(R"("topic":"delivery")"));
  // A topic outside the conversation does not touch it.
  Apply(EventJson("suggestion", T(11), R"({"topic":"packaging"})", "web"));
  EXPECT_THAT(Field("open_conversations"), ::testing::HasSubstr(R"("topic":"delivery")"));
  // conversation_opened on an open conversation only adds to it (latest topic, same opened_at).
  Apply(EventJson("conversation_opened", T(12), R"({"topic":"returns"})", "chat", Conv("conv-1")));
  c = Field("open_conversations");
  EXPECT_THAT(c, ::testing::HasSubstr(R"("topic":"returns")"));
  EXPECT_THAT(c, ::testing::HasSubstr(R"("opened_at":"2026-03-01T09:00:00Z")"));
  EXPECT_THAT(c, ::testing::HasSubstr(R"("last_at":"2026-03-01T12:00:00Z")"));
  // The last message stays the message, not the later non-message events.
  EXPECT_THAT(c, ::testing::HasSubstr(R"("last_message":{"direction":"inbound","summary":"hello",)"
                                      R"("at":"2026-03-01T09:00:00Z","channel":"chat"})"));
}

TEST_F(ResumeTest, LastMessageIsNullUntilAMessage) {
  Apply(EventJson("conversation_opened", T(9), R"({"topic":"t"})", "phone", Conv("conv-1")));
  EXPECT_THAT(Field("open_conversations"), ::testing::HasSubstr(R"("last_message":null)"));
}

TEST_F(ResumeTest, PendingAsksAreAskedInboundAndAnsweredOutbound) {
  auto msg = [&](int h, const std::string& dir, const std::string& extra_data,
                 const std::string& conv = "conv-1") {
    Apply(EventJson("message", T(h),
                    R"({"direction":")" + dir + R"(","summary":"m")" + extra_data + "}", "chat",
                    Conv(conv)));
  };
  auto pending = [&](const std::string& conv = "conv-1") {
    std::string all = Field("open_conversations");
    size_t at = all.find("\"conversation_id\":\"" + conv + "\"");
    size_t p = all.find("\"pending_asks\":", at);
    return all.substr(p + 15, all.find(']', p) - p - 14);
  };
  msg(9, "inbound", R"(,"asks":["size","colour"])");
  EXPECT_EQ(pending(), R"(["size","colour"])");
  // Asked again while pending: keeps its first place.
  msg(10, "inbound", R"(,"asks":["colour","budget","budget"])");
  EXPECT_EQ(pending(), R"(["size","colour","budget"])");
  // Outbound asks are the company's questions: not pending.
  msg(11, "outbound", R"(,"asks":["address"])");
  EXPECT_EQ(pending(), R"(["size","colour","budget"])");
  // Answered outbound: no longer pending, and the answer becomes a known fact.
  msg(12, "outbound", R"(,"answers":{"colour":"graphite"})");
  EXPECT_EQ(pending(), R"(["size","budget"])");
  EXPECT_EQ(Field("known_facts"), R"({"colour":"graphite"})");
  // Inbound answers are facts but answer nothing.
  msg(13, "inbound", R"(,"answers":{"size":"14 inch"})");
  EXPECT_EQ(pending(), R"(["size","budget"])");
  EXPECT_EQ(Field("known_facts"), R"({"colour":"graphite","size":"14 inch"})");
  // An outbound answer in another conversation answers nothing here.
  msg(14, "outbound", R"(,"answers":{"budget":"10000"})", "conv-2");
  EXPECT_EQ(pending(), R"(["size","budget"])");
  // Asked again after being answered: pending again, at the end.
  msg(15, "inbound", R"(,"asks":["colour"])");
  EXPECT_EQ(pending(), R"(["size","budget","colour"])");
  msg(16, "outbound", R"(,"answers":{"budget":"9000","size":"14 inch"})");
  EXPECT_EQ(pending(), R"(["colour"])");
  EXPECT_EQ(Field("known_facts"), R"({"budget":"9000","colour":"graphite","size":"14 inch"})");
}

TEST_F(ResumeTest, ClosedConversationIsGoneAndReopensFresh) {
  Apply(EventJson("conversation_opened", T(9), R"({"topic":"warranty"})", "chat", Conv("conv-1")));
  Apply(EventJson("message", T(10), R"({"direction":"inbound","summary":"q","asks":["serial"]})",
                  "email", Conv("conv-1")));
  Apply(EventJson("conversation_closed", T(11), R"({"outcome":"resolved"})", "email",
                  Conv("conv-1")));
  EXPECT_EQ(Field("open_conversations"), "[]");
  // A message naming it reopens it with nothing of before.
  Apply(EventJson("visit", T(12), "{}", "web", Conv("conv-1")));
  EXPECT_EQ(Field("open_conversations"),
            R"([{"conversation_id":"conv-1","topic":null,"opened_at":"2026-03-01T12:00:00Z",)"
            R"("last_at":"2026-03-01T12:00:00Z","channels":["web"],"last_message":null,)"
            R"("pending_asks":[]}])");
}

TEST_F(ResumeTest, ClosingAConversationThatIsNotOpenLeavesNothing) {
  Apply(EventJson("conversation_closed", T(9), R"({"outcome":"abandoned"})", "phone",
                  Conv("conv-9")));
  EXPECT_EQ(Field("open_conversations"), "[]");
  EXPECT_THAT(Field("last_contact"), ::testing::HasSubstr(R"("type":"conversation_closed")"));
}

TEST_F(ResumeTest, OpenConversationsLatestLastAtFirst) {
  Apply(EventJson("conversation_opened", T(9), R"({"topic":"a"})", "chat", Conv("conv-a")));
  Apply(EventJson("conversation_opened", T(10), R"({"topic":"b"})", "chat", Conv("conv-b")));
  Apply(EventJson("conversation_opened", T(11), R"({"topic":"c"})", "chat", Conv("conv-c")));
  auto ids = [&] {
    std::string all = Field("open_conversations");
    std::string out;
    for (size_t p = all.find("\"conversation_id\":\""); p != std::string::npos;
         p = all.find("\"conversation_id\":\"", p + 1)) {
      out += all.substr(p + 19, 6) + " ";
    }
    return out;
  };
  EXPECT_EQ(ids(), "conv-c conv-b conv-a ");
  Apply(EventJson("message", T(12), R"({"direction":"inbound","summary":"x"})", "app",
                  Conv("conv-a")));
  EXPECT_EQ(ids(), "conv-a conv-c conv-b ");
  // Same last_at: the one applied later (greater seq at that time) first.
  Apply(EventJson("message", T(12), R"({"direction":"inbound","summary":"x"})", "app",
                  Conv("conv-b")));
  EXPECT_EQ(ids(), "conv-b conv-a conv-c ");
  Apply(
      EventJson("conversation_closed", T(13), R"({"outcome":"resolved"})", "app", Conv("conv-a")));
  EXPECT_EQ(ids(), "conv-b conv-c ");
}

// --- commitments ---

TEST_F(ResumeTest, CommitmentsByDueAtNullsLastTiesInOrderMade) {
  auto made = [&](int h, const std::string& id, const std::string& due) {
    std::string data = R"({"commitment_id":")" + id + R"(","action":"do )" + id + "\"";
    if (!due.empty()) data += R"(,"due_at":")" + due + "\"";
    Apply(EventJson("commitment_made", T(h), data + "}", "phone"));
  };
  made(9, "k1", "2026-03-05T12:00:00Z");
  made(9, "k2", "");
  made(10, "k3", "2026-03-03T12:00:00Z");
  made(11, "k4", "2026-03-05T12:00:00Z");
  made(12, "k5", "");
  EXPECT_EQ(Field("commitments", "2026-03-03T12:00:00Z"),
            R"([{"commitment_id":"k3","action":"do k3","due_at":"2026-03-03T12:00:00Z",)"
            R"("overdue":false},)"
            R"({"commitment_id":"k1","action":"do k1","due_at":"2026-03-05T12:00:00Z",)"
            R"("overdue":false},)"
            R"({"commitment_id":"k4","action":"do k4","due_at":"2026-03-05T12:00:00Z",)"
            R"("overdue":false},)"
            R"({"commitment_id":"k2","action":"do k2","due_at":null,"overdue":false},)"
            R"({"commitment_id":"k5","action":"do k5","due_at":null,"overdue":false}])");
  // One microsecond after k3's due time it is overdue; as_of == due_at was not.
  std::string later = Field("commitments", "2026-03-03T12:00:00.000001Z");
  EXPECT_THAT(later, ::testing::HasSubstr(
                         R"("commitment_id":"k3","action":"do k3","due_at":"2026-03-03T12:00:00Z",)"
                         R"("overdue":true})"));
  EXPECT_THAT(later, ::testing::HasSubstr(R"("due_at":"2026-03-05T12:00:00Z","overdue":false)"));
  EXPECT_THAT(Field("commitments", "2030-01-01T00:00:00Z"),
              ::testing::HasSubstr(R"("due_at":null,"overdue":false)"));
}

TEST_F(ResumeTest, CommitmentsFulfilledAndRepeated) {
  Apply(
      EventJson("commitment_made", T(9),
                R"({"commitment_id":"k1","action":"call back","due_at":"2026-03-02T09:00:00Z"})"));
  Apply(EventJson("commitment_made", T(9), R"({"commitment_id":"k2","action":"send invoice"})"));
  // Fulfilling an unknown id does nothing.
  Apply(EventJson("commitment_fulfilled", T(10), R"({"commitment_id":"k9"})"));
  Apply(EventJson("commitment_fulfilled", T(10), R"({"commitment_id":"k1"})"));
  EXPECT_EQ(Field("commitments"),
            R"([{"commitment_id":"k2","action":"send invoice","due_at":null,"overdue":false}])");
  // A repeat replaces action and due_at.
  Apply(EventJson(
      "commitment_made", T(11),
      R"({"commitment_id":"k2","action":"email invoice","due_at":"2026-03-01T12:00:00Z"})"));
  EXPECT_EQ(Field("commitments", T(13)), R"([{"commitment_id":"k2","action":"email invoice",)"
                                         R"("due_at":"2026-03-01T12:00:00Z","overdue":true}])");
  // Made again after fulfilment: open again.
  Apply(EventJson("commitment_made", T(12), R"({"commitment_id":"k1","action":"call again"})"));
  EXPECT_THAT(Field("commitments"),
              ::testing::HasSubstr(R"("commitment_id":"k1","action":"call again")"));
}

TEST_F(ResumeTest, RepeatedCommitmentCountsAsMadeAtTheRepeatForTies) {
  Apply(EventJson("commitment_made", T(9), R"({"commitment_id":"a","action":"x"})"));
  Apply(EventJson("commitment_made", T(10), R"({"commitment_id":"b","action":"x"})"));
  Apply(EventJson("commitment_made", T(11), R"({"commitment_id":"a","action":"y"})"));
  EXPECT_EQ(Field("commitments"),
            R"([{"commitment_id":"b","action":"x","due_at":null,"overdue":false},)"
            R"({"commitment_id":"a","action":"y","due_at":null,"overdue":false}])");
}

// --- known_facts ---

TEST_F(ResumeTest, KnownFactsLatestWinsAndLastOrderWinsOverFacts) {
  Apply(EventJson("fact_recorded", T(9), R"({"key":"shoe_size","value":"42"})"));
  Apply(EventJson("fact_recorded", T(9), R"({"key":"last_order_id","value":"legacy-7"})"));
  Apply(EventJson("message", T(10),
                  R"({"direction":"inbound","summary":"s","answers":{"shoe_size":"43"}})", "chat"));
  // Before any purchase a fact of that name shows as it is.
  EXPECT_EQ(Field("known_facts"), R"({"last_order_id":"legacy-7","shoe_size":"43"})");
  Apply(EventJson("fact_recorded", T(11), R"({"key":"address","value":"1 Main St"})"));
  Apply(EventJson(
      "purchase", T(12),
      R"({"order_id":"O-1","amount_minor":5000,"currency":"CNY","items":[{"sku":"S-1"},{"sku":"S-2","quantity":2}]})",
      "store"));
  Apply(EventJson(
      "purchase", T(13),
      R"({"order_id":"O-2","amount_minor":700,"currency":"USD","items":[{"sku":"S-9"}]})", "web"));
  // A fact recorded after the purchase still loses to it.
  Apply(EventJson("fact_recorded", T(14), R"({"key":"last_order_items","value":"none"})"));
  EXPECT_EQ(Field("known_facts"),
            R"({"address":"1 Main St","last_order_at":"2026-03-01T13:00:00Z",)"
            R"("last_order_id":"O-2","last_order_items":["S-9"],"shoe_size":"43"})");
}

TEST_F(ResumeTest, PurchaseWithoutItemsHasEmptyItems) {
  Apply(EventJson("purchase", T(9), R"({"order_id":"O-1","amount_minor":5000,"currency":"CNY"})"));
  EXPECT_EQ(Field("known_facts"),
            R"({"last_order_at":"2026-03-01T09:00:00Z","last_order_id":"O-1",)"
            R"("last_order_items":[]})");
}

// --- open_orders ---

TEST_F(ResumeTest, OpenOrdersLifecycleNewestFirst) {
  Apply(EventJson("purchase", T(9), R"({"order_id":"O-1","amount_minor":100,"currency":"CNY"})",
                  "store"));
  EXPECT_EQ(Field("open_orders"),
            R"([{"order_id":"O-1","status":"placed","placed_at":"2026-03-01T09:00:00Z",)"
            R"("channel":"store"}])");
  // An order that starts at a status event; its channel and time are that event's.
  Apply(EventJson("order_status", T(10), R"({"order_id":"O-2","status":"confirmed"})", "app"));
  Apply(EventJson("order_status", T(11), R"({"order_id":"O-1","status":"shipped"})", "web"));
  // A purchase of an open order changes neither placed_at nor channel.
  Apply(EventJson("purchase", T(12), R"({"order_id":"O-2","amount_minor":100,"currency":"CNY"})",
                  "web"));
  Apply(EventJson("purchase", T(12), R"({"order_id":"O-3","amount_minor":100,"currency":"CNY"})",
                  "web"));
  EXPECT_EQ(Field("open_orders"),
            R"([{"order_id":"O-3","status":"placed","placed_at":"2026-03-01T12:00:00Z",)"
            R"("channel":"web"},)"
            R"({"order_id":"O-2","status":"confirmed","placed_at":"2026-03-01T10:00:00Z",)"
            R"("channel":"app"},)"
            R"({"order_id":"O-1","status":"shipped","placed_at":"2026-03-01T09:00:00Z",)"
            R"("channel":"store"}])");
  Apply(EventJson("order_status", T(13), R"({"order_id":"O-1","status":"delivered"})"));
  Apply(EventJson("order_status", T(13), R"({"order_id":"O-2","status":"cancelled"})"));
  Apply(EventJson("order_status", T(14), R"({"order_id":"O-4","status":"returned"})"));
  EXPECT_EQ(Field("open_orders"),
            R"([{"order_id":"O-3","status":"placed","placed_at":"2026-03-01T12:00:00Z",)"
            R"("channel":"web"}])");
  // Closed stays closed.
  Apply(EventJson("order_status", T(15), R"({"order_id":"O-1","status":"shipped"})"));
  Apply(EventJson("purchase", T(15), R"({"order_id":"O-4","amount_minor":100,"currency":"CNY"})"));
  Apply(EventJson("order_status", T(16), R"({"order_id":"O-3","status":"returned"})"));
  EXPECT_EQ(Field("open_orders"), "[]");
  // A refund does not close an order (only statuses do) nor open one.
  Apply(EventJson("purchase", T(17), R"({"order_id":"O-5","amount_minor":100,"currency":"CNY"})"));
  Apply(EventJson("refund", T(18), R"({"order_id":"O-5","amount_minor":100,"currency":"CNY"})"));
  Apply(EventJson("refund", T(18), R"({"order_id":"O-6","amount_minor":100,"currency":"CNY"})"));
  EXPECT_EQ(Field("open_orders"),
            R"([{"order_id":"O-5","status":"placed","placed_at":"2026-03-01T17:00:00Z",)"
            R"("channel":"web"}])");
}

// --- open_cases ---

TEST_F(ResumeTest, OpenCasesNewestFirstUntilResolved) {
  Apply(EventJson("complaint_opened", T(9),
                  R"({"case_id":"K1","category":"delivery","severity":"low"})", "phone"));
  Apply(EventJson("complaint_opened", T(10),
                  R"({"case_id":"K2","category":"billing","severity":"high"})", "email"));
  EXPECT_EQ(Field("open_cases"), R"([{"case_id":"K2","category":"billing","severity":"high",)"
                                 R"("opened_at":"2026-03-01T10:00:00Z"},)"
                                 R"({"case_id":"K1","category":"delivery","severity":"low",)"
                                 R"("opened_at":"2026-03-01T09:00:00Z"}])");
  // Opened again while open: latest category and severity, same opened_at and place.
  Apply(EventJson("complaint_opened", T(11),
                  R"({"case_id":"K1","category":"damage","severity":"medium"})"));
  EXPECT_EQ(Field("open_cases"), R"([{"case_id":"K2","category":"billing","severity":"high",)"
                                 R"("opened_at":"2026-03-01T10:00:00Z"},)"
                                 R"({"case_id":"K1","category":"damage","severity":"medium",)"
                                 R"("opened_at":"2026-03-01T09:00:00Z"}])");
  Apply(EventJson("complaint_resolved", T(12), R"({"case_id":"K1","satisfied":true})"));
  Apply(EventJson("complaint_resolved", T(12), R"({"case_id":"K7"})"));
  EXPECT_EQ(Field("open_cases"), R"([{"case_id":"K2","category":"billing","severity":"high",)"
                                 R"("opened_at":"2026-03-01T10:00:00Z"}])");
  // Opened after resolution: fresh.
  Apply(EventJson("complaint_opened", T(13),
                  R"({"case_id":"K1","category":"delivery","severity":"low"})"));
  EXPECT_EQ(Field("open_cases"), R"([{"case_id":"K1","category":"delivery","severity":"low",)"
                                 R"("opened_at":"2026-03-01T13:00:00Z"},)"
                                 R"({"case_id":"K2","category":"billing","severity":"high",)"
                                 R"("opened_at":"2026-03-01T10:00:00Z"}])");
}

// --- do_not_ask ---

TEST_F(ResumeTest, DoNotAskIsFactsAndStatedPreferencesSorted) {
  Apply(EventJson("preference_stated", T(9), R"({"key":"wine","value":"one ice cube"})"));
  Apply(EventJson("preference_stated", T(9), R"({"key":"pillow","value":"firm"})"));
  Apply(EventJson("preference_stated", T(9), R"({"key":"Zeta","value":"z"})"));
  Apply(EventJson("preference_observed", T(9), R"({"key":"floor","value":"high"})"));
  Apply(EventJson("fact_recorded", T(10), R"({"key":"pillow","value":"feather allergy"})"));
  Apply(EventJson("fact_recorded", T(10), R"({"key":"birthday","value":"05-14"})"));
  Apply(EventJson("message", T(10),
                  R"({"direction":"outbound","summary":"s","answers":{"room":"1204"}})"));
  // Bytewise: uppercase before lowercase; a key that is both is listed once.
  EXPECT_EQ(Field("do_not_ask"), R"(["Zeta","birthday","pillow","room","wine"])");
  // Retracting removes the stated key; a fact of the same key stays known.
  Apply(EventJson("preference_retracted", T(11), R"({"key":"wine"})"));
  Apply(EventJson("preference_retracted", T(11), R"({"key":"pillow"})"));
  Apply(EventJson("preference_retracted", T(11), R"({"key":"unknown"})"));
  EXPECT_EQ(Field("do_not_ask"), R"(["Zeta","birthday","pillow","room"])");
  Apply(EventJson("purchase", T(12), R"({"order_id":"O-1","amount_minor":1,"currency":"CNY"})"));
  EXPECT_EQ(Field("do_not_ask"),
            R"(["Zeta","birthday","last_order_at","last_order_id","last_order_items","pillow",)"
            R"("room"])");
  // Stated again after a retraction: back.
  Apply(EventJson("preference_stated", T(13), R"({"key":"wine","value":"no ice"})"));
  EXPECT_THAT(Field("do_not_ask"), ::testing::HasSubstr(R"("room","wine"])"));
}

// --- recent ---

TEST_F(ResumeTest, RecentKeepsTheTenNewestNewestFirst) {
  for (int i = 0; i < 12; ++i) {
    Apply(EventJson("visit", T(8, i), R"({"summary":"visit )" + std::to_string(i) + "\"}",
                    i % 2 ? "web" : "store"));
  }
  std::string expected = "[";
  for (int i = 11; i >= 2; --i) {
    if (i != 11) expected += ",";
    expected += R"({"at":")" + T(8, i) + R"(","channel":")" + (i % 2 ? "web" : "store") +
                R"(","type":"visit","summary":"visit )" + std::to_string(i) + "\"}";
  }
  expected += "]";
  EXPECT_EQ(Field("recent"), expected);
}

TEST_F(ResumeTest, RecentWithFewEventsAndNullSummary) {
  Apply(EventJson("visit", T(9), "{}", "store"));
  Apply(EventJson("suggestion", T(10), R"({"topic":"t","summary":"more sizes"})", "app"));
  EXPECT_EQ(Field("recent"),
            R"([{"at":"2026-03-01T10:00:00Z","channel":"app","type":"suggestion",)"
            R"("summary":"more sizes"},)"
            R"({"at":"2026-03-01T09:00:00Z","channel":"store","type":"visit","summary":null}])");
}

// --- seq and apply order ---

TEST_F(ResumeTest, SeqIsTheGreatestAppliedSeqWithALateEvent) {
  // seq 3 arrived late: it happened first, so it is applied first (CONTRACT §4).
  std::vector<Touch> touches = {
      MakeTouch(EventJson("visit", T(10), R"({"summary":"second"})", "store"), 1, 11),
      MakeTouch(EventJson("visit", T(11), R"({"summary":"third"})", "web"), 2, 12),
      MakeTouch(EventJson("visit", T(9), R"({"summary":"first"})", "app"), 3, 13),
  };
  std::sort(touches.begin(), touches.end(), [](const Touch& a, const Touch& b) {
    return std::pair(a.event.occurred_at, a.seq) < std::pair(b.event.occurred_at, b.seq);
  });
  for (const auto& t : touches) ApplyResume(&state_, t, rules_);
  EXPECT_EQ(Field("seq"), "3");
  EXPECT_EQ(Member(Field("last_contact"), "summary"), R"("third")");
  EXPECT_THAT(Field("recent"), ::testing::StartsWith(R"([{"at":"2026-03-01T11:00:00Z")"));
  EXPECT_THAT(Field("recent"), ::testing::EndsWith(R"("summary":"first"}])"));
}

// --- whole documents ---

TEST_F(ResumeTest, EmptyishCustomerExactJson) {
  Apply(EventJson("visit", "2026-03-01T09:30:00Z", "{}", "store", "", "C-77"));
  EXPECT_EQ(Render("2026-03-01T09:30:00Z"),
            R"({"customer_id":"C-77","as_of":"2026-03-01T09:30:00Z","seq":1,)"
            R"("last_contact":{"at":"2026-03-01T09:30:00Z","channel":"store","type":"visit",)"
            R"("actor":null,"summary":null},)"
            R"("open_conversations":[],"commitments":[],"known_facts":{},"open_orders":[],)"
            R"("open_cases":[],"do_not_ask":[],)"
            R"("recent":[{"at":"2026-03-01T09:30:00Z","channel":"store","type":"visit",)"
            R"("summary":null}]})");
}

TEST(ResumeEmptyTest, NoEventRendersNulls) {
  ResumeState s;
  EXPECT_EQ(RenderResume(s, Ts("2026-03-01T00:00:00Z"), Rules{}),
            R"({"customer_id":null,"as_of":"2026-03-01T00:00:00Z","seq":null,)"
            R"("last_contact":null,"open_conversations":[],"commitments":[],"known_facts":{},)"
            R"("open_orders":[],"open_cases":[],"do_not_ask":[],"recent":[]})");
}

// A small but complete case, every member checked at once.
void ApplySmallCase(ResumeState* s) {
  Rules rules;
  std::vector<std::string> events = {
      EventJson("purchase", "2026-03-01T08:00:00Z",
                R"({"order_id":"O-1","amount_minor":129900,"currency":"CNY",)"
                R"("items":[{"sku":"PC-X1","category":"computers"}]})",
                "store", R"("actor":"assoc-17")", "C-1001"),
      EventJson("conversation_opened", "2026-03-01T09:00:00Z",
                R"({"topic":"setup help","summary":"cannot connect \"wifi\""})", "chat",
                R"("conversation_id":"conv-42")", "C-1001"),
      EventJson("message", "2026-03-01T09:05:00Z",
                R"({"direction":"inbound","summary":"which router?","asks":["router_model"]})",
                "chat", R"("conversation_id":"conv-42")", "C-1001"),
      EventJson("commitment_made", "2026-03-01T09:10:00.5Z",
                R"({"commitment_id":"cb-1","action":"call back","due_at":"2026-03-01T12:00:00Z"})",
                "chat", R"("conversation_id":"conv-42","actor":"agent-7")", "C-1001"),
      EventJson("preference_stated", "2026-03-01T09:20:00Z",
                R"({"key":"contact_time","value":"evenings"})", "phone", "", "C-1001"),
  };
  uint64_t seq = 0;
  for (const auto& e : events) {
    ++seq;
    ApplyResume(s, MakeTouch(e, seq, 500 + seq), rules);
  }
}

constexpr char kSmallCaseJson[] =
    R"({"customer_id":"C-1001","as_of":"2026-03-01T13:00:00Z","seq":5,)"
    R"("last_contact":{"at":"2026-03-01T09:20:00Z","channel":"phone",)"
    R"("type":"preference_stated","actor":null,"summary":null},)"
    R"("open_conversations":[{"conversation_id":"conv-42","topic":"setup help",)"
    R"("opened_at":"2026-03-01T09:00:00Z","last_at":"2026-03-01T09:10:00.500000Z",)"
    R"("channels":["chat"],"last_message":{"direction":"inbound","summary":"which router?",)"
    R"("at":"2026-03-01T09:05:00Z","channel":"chat"},"pending_asks":["router_model"]}],)"
    R"("commitments":[{"commitment_id":"cb-1","action":"call back",)"
    R"("due_at":"2026-03-01T12:00:00Z","overdue":true}],)"
    R"("known_facts":{"last_order_at":"2026-03-01T08:00:00Z","last_order_id":"O-1",)"
    R"("last_order_items":["PC-X1"]},)"
    R"("open_orders":[{"order_id":"O-1","status":"placed","placed_at":"2026-03-01T08:00:00Z",)"
    R"("channel":"store"}],"open_cases":[],)"
    R"("do_not_ask":["contact_time","last_order_at","last_order_id","last_order_items"],)"
    R"("recent":[{"at":"2026-03-01T09:20:00Z","channel":"phone","type":"preference_stated",)"
    R"("summary":null},)"
    R"({"at":"2026-03-01T09:10:00.500000Z","channel":"chat","type":"commitment_made",)"
    R"("summary":null},)"
    R"({"at":"2026-03-01T09:05:00Z","channel":"chat","type":"message",)"
    R"("summary":"which router?"},)"
    R"({"at":"2026-03-01T09:00:00Z","channel":"chat","type":"conversation_opened",)"
    R"("summary":"cannot connect \"wifi\""},)"
    R"({"at":"2026-03-01T08:00:00Z","channel":"store","type":"purchase","summary":null}]})";

TEST(ResumeDocumentTest, SmallCaseExactJson) {
  ResumeState s;
  ApplySmallCase(&s);
  EXPECT_EQ(RenderResume(s, Ts("2026-03-01T13:00:00Z"), Rules{}), kSmallCaseJson);
}

// --- state codec ---

// A state that exercises every encoded member, including a wrapped recent ring.
ResumeState RichState() {
  ResumeState s;
  ApplySmallCase(&s);
  Rules rules;
  std::vector<std::string> events = {
      EventJson("message", "2026-03-01T10:00:00Z",
                R"({"direction":"outbound","summary":"a","answers":{"router_model":"AX3000"}})",
                "email", R"("conversation_id":"conv-42")", "C-1001"),
      EventJson("conversation_opened", "2026-03-01T10:01:00Z", R"({"topic":"invoice"})", "app",
                R"("conversation_id":"conv-43")", "C-1001"),
      EventJson("commitment_made", "2026-03-01T10:02:00Z",
                R"({"commitment_id":"cb-2","action":"mail"})", "mail", "", "C-1001"),
      EventJson("order_status", "2026-03-01T10:03:00Z", R"({"order_id":"O-2","status":"shipped"})",
                "web", "", "C-1001"),
      EventJson("order_status", "2026-03-01T10:04:00Z",
                R"({"order_id":"O-0","status":"cancelled"})", "web", "", "C-1001"),
      EventJson("complaint_opened", "2026-03-01T10:05:00Z",
                R"({"case_id":"K1","category":"noise","severity":"high","summary":"fan"})",
                "social", "", "C-1001"),
      EventJson("fact_recorded", "2026-03-01T10:06:00Z", R"({"key":"floor","value":"3"})", "other",
                "", "C-1001"),
      EventJson("visit", "2026-03-01T10:07:00Z", "{}", "store", R"("actor":"assoc-2")", "C-1001"),
  };
  uint64_t seq = 5;
  for (const auto& e : events) {
    ++seq;
    ApplyResume(&s, MakeTouch(e, seq, 500 + seq), rules);
  }
  return s;
}

TEST(ResumeCodecTest, RoundTripRendersIdenticallyAndKeepsFolding) {
  ResumeState s = RichState();
  std::string bytes = EncodeResumeState(s);
  ResumeState d;
  ASSERT_TRUE(DecodeResumeState(bytes, &d));
  EXPECT_EQ(EncodeResumeState(d), bytes);
  for (const char* as_of : {"2026-03-01T10:07:00Z", "2026-03-09T00:00:00Z"}) {
    EXPECT_EQ(RenderResume(d, Ts(as_of), Rules{}), RenderResume(s, Ts(as_of), Rules{}));
  }
  // Folding on from the decoded state equals folding on from the original (the ring, the sorted
  // vectors and the touch order survived).
  std::vector<std::string> more = {
      EventJson("message", "2026-03-01T11:00:00Z",
                R"({"direction":"inbound","summary":"b","asks":["x"]})", "chat",
                R"("conversation_id":"conv-42")", "C-1001"),
      EventJson("fact_recorded", "2026-03-01T11:01:00Z", R"({"key":"aa","value":"1"})", "web", "",
                "C-1001"),
      EventJson("order_status", "2026-03-01T11:02:00Z", R"({"order_id":"O-0","status":"placed"})",
                "web", "", "C-1001"),
      EventJson("preference_stated", "2026-03-01T11:03:00Z", R"({"key":"b","value":"1"})", "web",
                "", "C-1001"),
  };
  uint64_t seq = 100;
  for (const auto& e : more) {
    ++seq;
    Touch t = MakeTouch(e, seq, seq);
    ApplyResume(&s, t, Rules{});
    ApplyResume(&d, t, Rules{});
  }
  EXPECT_EQ(RenderResume(d, Ts("2026-03-02T00:00:00Z"), Rules{}),
            RenderResume(s, Ts("2026-03-02T00:00:00Z"), Rules{}));
  EXPECT_EQ(EncodeResumeState(d), EncodeResumeState(s));
}

TEST(ResumeCodecTest, EmptyStateRoundTrips) {
  ResumeState s;
  ResumeState d;
  ASSERT_TRUE(DecodeResumeState(EncodeResumeState(s), &d));
  EXPECT_EQ(RenderResume(d, Ts("2026-03-01T00:00:00Z"), Rules{}),
            RenderResume(s, Ts("2026-03-01T00:00:00Z"), Rules{}));
}

TEST(ResumeCodecTest, RejectsBadInput) {
  std::string bytes = EncodeResumeState(RichState());
  ResumeState d;
  // Every proper prefix is truncated.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeResumeState(std::string_view(bytes).substr(0, n), &d)) << n;
  }
  EXPECT_FALSE(DecodeResumeState(bytes + "x", &d));
  std::string wrong_version = bytes;
  wrong_version[0] = 9;
  EXPECT_FALSE(DecodeResumeState(wrong_version, &d));
  // A huge count does not allocate: it is rejected. In an empty state every field is one byte
  // (integers are varints), and the conversation count follows version, customer_id, seq,
  // has_last_contact, last_contact (at, channel, type, summary) and actor.
  std::string empty = EncodeResumeState(ResumeState());
  constexpr size_t kConversationsAt = 9;
  ASSERT_TRUE(DecodeResumeState(empty, &d));
  ASSERT_EQ(empty[kConversationsAt], '\0');
  std::string huge = empty;
  huge.replace(kConversationsAt, 1, std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9));
  EXPECT_FALSE(DecodeResumeState(huge, &d));
  huge = empty;
  huge.replace(kConversationsAt, 1, std::string("\x80\x80\x80\x80\x10", 5));  // 2^32
  EXPECT_FALSE(DecodeResumeState(huge, &d));
  // An out-of-range channel in last_contact: version, customer_id, seq, has_last_contact, at,
  // then the channel.
  ResumeState one;
  ApplyResume(&one, MakeTouch(testing::EventJson("visit", "2026-03-01T00:00:00Z"), 1, 1), Rules{});
  std::string b = EncodeResumeState(one);
  std::string at;
  StateWriter(&at).I64(one.last_contact.at.micros);
  size_t channel_at = 1 + 1 + one.customer_id.size() + 1 + 1 + at.size();
  ASSERT_TRUE(DecodeResumeState(b, &d));
  b[channel_at] = static_cast<char>(ledger::kNumChannels);
  EXPECT_FALSE(DecodeResumeState(b, &d));
}

}  // namespace
}  // namespace rapport::projections
