// Bad input on rapport.touchpoints (CONTRACT §5): every kind of bad message — invalid JSON,
// wrong types, an unknown type, oversize, a corrupt FlatBuffer, a FlatBuffer that verifies but
// breaks a rule, an empty value, a null key, an unsupported content-type, and the two that fail
// inside the ledger (an expected_version conflict, a duplicate_mismatch) — reaches
// rapport.rejected with its original key and bytes and the contract's headers, while the good
// messages around it are stored exactly once and ingestion goes on. Real librdkafka over TCP
// against the embedded broker; the service runs in-process on a temp data dir.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "consumers/embedded_broker.h"
#include "consumers/kafka.h"
#include "consumers/service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/codec.h"
#include "ledger/ledger.h"
#include "ledger/touchpoint_fb.h"
#include "tests/testing/events.h"
#include "tests/testing/kafka.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace rapport::consumers {
namespace {

using ::testing::Gt;
using testing::InquiryJson;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::ReadMessage;
using testing::ReadTopic;
using testing::TempDir;
using testing::TestProducer;
using testing::WaitFor;

constexpr int kPartitions = 4;
constexpr char kFlatBuffers[] = "application/x-flatbuffers";

// One message published to the inbox and what must become of it.
struct Publish {
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for a bad message: the contract's error.code and, when not nullopt, error.field.
  std::optional<std::string> code;
  std::optional<std::string> field;
  // For a good message: the event is new (stored) rather than an identical retry (duplicate).
  bool duplicate = false;
  std::string event_id;  // good messages
  std::string customer;  // good messages
};

Publish Good(const std::string& customer, const std::string& id, std::string json) {
  Publish p;
  p.key = customer;
  p.value = std::move(json);
  p.event_id = id;
  p.customer = customer;
  return p;
}

Publish Bad(std::optional<std::string> key, std::string value, std::string code,
            std::optional<std::string> field,
            std::vector<std::pair<std::string, std::string>> headers = {}) {
  Publish p;
  p.key = std::move(key);
  p.value = std::move(value);
  p.headers = std::move(headers);
  p.code = std::move(code);
  p.field = std::move(field);
  return p;
}

std::string PurchaseJson(const std::string& id, const std::string& customer,
                         const std::string& amount) {
  return StrCat(R"({"event_id":")", id, R"(","type":"purchase","customer_id":")", customer,
                R"(","occurred_at":"2026-03-01T08:00:00.25+08:00","channel":"store",)",
                R"("source":"pos","actor":"assoc-17","data":{"order_id":"O-)", id,
                R"(","amount_minor":)", amount,
                R"(,"currency":"CNY","items":[{"sku":"PC-X1","category":"computers",)",
                R"("quantity":2,"unit_price_minor":64950}]}})");
}

ledger::Event ParseOrDie(const std::string& json) {
  auto event = ledger::ParseEventJson(json, ledger::CodecOptions());
  EXPECT_TRUE(event.ok()) << event.status() << " in " << json;
  return event.ok() ? *std::move(event) : ledger::Event();
}

class InboxRejectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(EmbeddedBroker::Start({}, &broker_));
    ServiceOptions options;
    options.data_dir = dir_.Sub("data");
    options.kafka_mode = broker_->bootstrap();
    ASSERT_OK(Service::Start(options, &service_));
  }
  void TearDown() override {
    if (service_) service_->Stop();
    service_.reset();
    broker_.reset();
  }

  void Send(TestProducer& producer, const Publish& p) {
    producer.Send(topics_.touchpoints, p.key, p.value, p.headers);
  }

  uint64_t StoredRecords() const {
    uint64_t n = 0;
    for (const auto& h : service_->ledger()->Heads()) n += h.position.value();
    return n;
  }

  // Waits until the inbox consumed `consumed` messages, nothing is behind, and `rejected`
  // rejects were confirmed published.
  bool Settled(uint64_t consumed, uint64_t rejected) const {
    auto st = service_->status();
    return st.inbox.consumed == consumed && st.inbox.lag == 0 && st.relay.lag == 0 &&
           st.rejected_waiting == 0 && st.rejected_published >= rejected &&
           st.projections_behind == 0;
  }

  TempDir dir_;
  Topics topics_ = Topics::WithPrefix("rapport.");
  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<Service> service_;
};

TEST_F(InboxRejectsTest, BadMessagesGoToRejectedWithHeadersWhileGoodOnesAreStoredOnce) {
  // Good events for a few customers, with every kind of bad message between them.
  std::vector<Publish> plan;
  int next = 0;
  auto good = [&](const std::string& customer) {
    std::string id = StrCat("ok-", customer, "-", ++next);
    plan.push_back(Good(customer, id, InquiryJson(id, customer)));
  };
  for (const char* c : {"C-R1", "C-R2", "C-R3", "C-R4"}) good(c);

  plan.push_back(
      Bad("C-R1", R"({"event_id":"bad-json","type":"inquiry",)", "invalid_json", std::nullopt));
  good("C-R2");
  plan.push_back(Bad("C-R2", PurchaseJson("bad-type", "C-R2", R"("129900")"), "invalid_field",
                     "data.amount_minor"));
  good("C-R3");
  {
    std::string json = InquiryJson("bad-unknown-type", "C-R3");
    json.replace(json.find("\"inquiry\""), 9, "\"teleport\"");
    plan.push_back(Bad("C-R3", json, "invalid_field", "type"));
  }
  good("C-R1");
  plan.push_back(Bad("C-R4",
                     InquiryJson("bad-oversize", "C-R4",
                                 StrCat(R"("actor":")", std::string(70 * 1024, 'a'), "\"")),
                     "too_large", std::nullopt));
  good("C-R4");
  {
    // Not a FlatBuffer at all, but labelled as one: unreadable, so invalid_json (no field).
    std::string corrupt = ledger::EncodeTouchpoint(ParseOrDie(InquiryJson("bad-fb", "C-R1")));
    for (size_t i = 0; i < corrupt.size(); i += 3)
      corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    plan.push_back(Bad("C-R1", corrupt, "invalid_json", "", {{"content-type", kFlatBuffers}}));
  }
  good("C-R2");
  {
    // A well-formed Touchpoint whose purchase amount breaks §2 (> 0).
    ledger::Event event = ParseOrDie(PurchaseJson("bad-fb-rule", "C-R2", "100"));
    event.data.amount_minor = -5;
    plan.push_back(Bad("C-R2", ledger::EncodeTouchpoint(event), "invalid_field",
                       "data.amount_minor", {{"content-type", kFlatBuffers}}));
  }
  plan.push_back(Bad("C-R3", "", "invalid_json", std::nullopt));  // an empty value
  good("C-R3");
  // A valid event without a key: rejected, so the customer never appears.
  plan.push_back(Bad(std::nullopt, InquiryJson("bad-no-key", "C-NOKEY"), "invalid_field", "key"));
  plan.push_back(Bad("C-R4", InquiryJson("bad-content-type", "C-R4"), "invalid_field",
                     "headers.content-type", {{"content-type", "text/plain"}}));
  good("C-R4");
  // These two decode fine and fail in the ledger (AppendHooks.on_failed): C-R1 already has
  // events, and ok-C-R2-2 was stored with another topic.
  plan.push_back(Bad("C-R1", InquiryJson("bad-version", "C-R1", R"("expected_version":0)"),
                     "version_conflict", "expected_version"));
  {
    std::string json = InquiryJson("ok-C-R2-2", "C-R2");
    json.replace(json.find("delivery"), 8, "returns!");
    plan.push_back(Bad("C-R2", json, "duplicate_mismatch", "event_id"));
  }
  // An identical retry of a stored event: a duplicate, neither stored again nor rejected.
  {
    Publish retry = plan[2];
    retry.duplicate = true;
    plan.push_back(retry);
  }
  // A FlatBuffers touchpoint, then its JSON twin (same event_id): the twin is an identical retry.
  const std::string twin_json = PurchaseJson("fb-twin", "C-FB", "129900");
  {
    Publish fb = Good("C-FB", "fb-twin", ledger::EncodeTouchpoint(ParseOrDie(twin_json)));
    fb.headers = {{"content-type", kFlatBuffers}};
    plan.push_back(fb);
    Publish twin = Good("C-FB", "fb-twin", twin_json);
    twin.headers = {{"content-type", "application/json; charset=utf-8"}};
    twin.duplicate = true;
    plan.push_back(twin);
  }
  for (const char* c : {"C-R1", "C-R2", "C-R3", "C-R4"}) good(c);

  std::vector<const Publish*> bad;
  std::map<std::string, std::set<std::string>> stored_ids;  // customer → event ids
  uint64_t new_events = 0, duplicates = 0;
  for (const auto& p : plan) {
    if (p.code) {
      bad.push_back(&p);
    } else if (p.duplicate) {
      ++duplicates;
    } else {
      ++new_events;
      stored_ids[p.customer].insert(p.event_id);
    }
  }
  ASSERT_EQ(bad.size(), 11u);

  {
    TestProducer producer(broker_->bootstrap());
    for (const auto& p : plan) Send(producer, p);
    ASSERT_EQ(producer.Flush(), 0);
  }
  ASSERT_TRUE(WaitFor([&] { return Settled(plan.size(), bad.size()); }, std::chrono::seconds(90)))
      << "consumed " << service_->status().inbox.consumed << " of " << plan.size();

  // The inbox's own account.
  InboxStats stats = service_->status().inbox;
  EXPECT_EQ(stats.consumed, plan.size());
  EXPECT_EQ(stats.stored, new_events);
  EXPECT_EQ(stats.duplicates, duplicates);
  EXPECT_EQ(stats.rejected, bad.size());

  // Every good event stored exactly once, nothing else stored, and the chains verify.
  ledger::Ledger* ledger = service_->ledger();
  EXPECT_EQ(StoredRecords(), new_events);
  for (const auto& [customer, ids] : stored_ids) {
    ASSERT_OK_AND_ASSIGN(auto records, ledger->ReadCustomer(customer, ledger::Seq(0), 1000));
    std::multiset<std::string> got;
    for (const auto& r : records) got.insert(r.event_id);
    EXPECT_EQ(got, std::multiset<std::string>(ids.begin(), ids.end())) << customer;
    ASSERT_OK_AND_ASSIGN(ledger::Seq version, ledger->CustomerVersion(customer));
    EXPECT_EQ(version.value(), ids.size()) << customer;
  }
  ASSERT_OK_AND_ASSIGN(ledger::Seq nokey, ledger->CustomerVersion("C-NOKEY"));
  EXPECT_EQ(nokey.value(), 0u);
  ASSERT_OK_AND_ASSIGN(ledger::VerifyReport report, ledger->Verify());
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, new_events);

  // The FlatBuffers touchpoint was stored as its JSON twin would have been.
  ASSERT_OK_AND_ASSIGN(auto fb_records, ledger->ReadCustomer("C-FB", ledger::Seq(0), 10));
  ASSERT_EQ(fb_records.size(), 1u);
  EXPECT_THAT(fb_records[0].canonical,
              ::testing::HasSubstr(ledger::RenderCanonicalEvent(ParseOrDie(twin_json), "C-FB")));

  // Where each bad message landed on the inbox topic, found by its (key, value).
  using KeyValue = std::pair<std::optional<std::string>, std::string>;
  std::map<KeyValue, std::vector<ReadMessage>> inbox;
  for (auto& m : ReadTopic(broker_->bootstrap(), topics_.touchpoints, kPartitions)) {
    inbox[{m.key, m.value}].push_back(std::move(m));
  }
  std::map<KeyValue, std::vector<ReadMessage>> rejected;
  for (auto& m : ReadTopic(broker_->bootstrap(), topics_.rejected, kPartitions)) {
    rejected[{m.key, m.value}].push_back(std::move(m));
  }
  for (const Publish* p : bad) {
    SCOPED_TRACE(StrCat("bad message ", *p->code, " ", p->field.value_or("?"), " key ",
                        p->key.value_or("(none)")));
    const auto& sources = inbox[{p->key, p->value}];
    ASSERT_EQ(sources.size(), 1u) << "published once";
    const ReadMessage& source = sources[0];
    const auto& copies = rejected[{p->key, p->value}];
    ASSERT_THAT(copies, Not(IsEmpty())) << "not in " << topics_.rejected;
    for (const auto& r : copies) {  // at least once: any copy carries the same headers
      EXPECT_EQ(r.key, p->key);
      EXPECT_EQ(r.value, p->value);
      EXPECT_EQ(r.headers.at("error.code"), *p->code);
      EXPECT_THAT(r.headers.at("error.message").size(), Gt(0u));
      ASSERT_TRUE(r.headers.contains("error.field"));
      if (p->field) {
        EXPECT_EQ(r.headers.at("error.field"), *p->field);
      }
      EXPECT_EQ(r.headers.at("source.topic"), topics_.touchpoints);
      EXPECT_EQ(r.headers.at("source.partition"), std::to_string(source.partition));
      EXPECT_EQ(r.headers.at("source.offset"), std::to_string(source.offset));
      for (const auto& [name, value] : p->headers) EXPECT_EQ(r.headers.at(name), value);
    }
  }
  // Nothing but the bad messages was rejected.
  size_t distinct_rejected = 0;
  for (const auto& [kv, copies] : rejected) distinct_rejected += copies.empty() ? 0 : 1;
  EXPECT_EQ(distinct_rejected, bad.size());

  // Ingestion goes on after the bad messages.
  std::vector<Publish> more;
  for (int i = 0; i < 20; ++i) {
    std::string customer = StrCat("C-R", 1 + i % 5);
    std::string id = StrCat("after-", i);
    more.push_back(Good(customer, id, InquiryJson(id, customer)));
  }
  {
    TestProducer producer(broker_->bootstrap());
    for (const auto& p : more) Send(producer, p);
    ASSERT_EQ(producer.Flush(), 0);
  }
  ASSERT_TRUE(WaitFor([&] { return Settled(plan.size() + more.size(), bad.size()); },
                      std::chrono::seconds(90)));
  EXPECT_EQ(StoredRecords(), new_events + more.size());
  for (const auto& p : more) {
    ASSERT_OK_AND_ASSIGN(auto records, ledger->ReadCustomer(p.customer, ledger::Seq(0), 1000));
    int found = 0;
    for (const auto& r : records) found += r.event_id == p.event_id ? 1 : 0;
    EXPECT_EQ(found, 1) << p.event_id;
  }
  stats = service_->status().inbox;
  EXPECT_EQ(stats.stored, new_events + more.size());
  EXPECT_EQ(stats.rejected, bad.size());
}

}  // namespace
}  // namespace rapport::consumers
