// The append path, readers and Verify against a real RocksDB in a temp dir.
#include "ledger/ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "ledger/errors.h"
#include "ledger/identity.h"
#include "ledger/json.h"
#include "ledger/record.h"
#include "rocksdb/db.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace rapport::ledger {
namespace {

using ::rapport::testing::InquiryJson;
using ::rapport::testing::Prepared;
using ::testing::HasSubstr;

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(LedgerOptions options = {}) {
    ledger_.reset();
    ASSERT_OK(Ledger::Open(dir_.str(), options, &ledger_));
  }

  AppendResult AppendOne(const std::string& json) {
    std::vector<PreparedEvent> events;
    events.push_back(Prepared(json));
    auto r = ledger_->Append(std::move(events));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)[0] : AppendResult{};
  }

  absl::Status AppendStatus(const std::string& json) {
    std::vector<PreparedEvent> events;
    events.push_back(Prepared(json));
    return ledger_->Append(std::move(events)).status();
  }

  uint64_t Version(const std::string& customer) {
    auto v = ledger_->CustomerVersion(customer);
    EXPECT_TRUE(v.ok());
    return v.ok() ? v->value() : 0;
  }

  // Rewrites storage directly through RocksDB, with the ledger closed. `fn` gets the database and
  // the records column family of `partition`.
  void WithRawDb(PartitionId partition,
                 const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& fn) {
    ledger_.reset();
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_.str(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& name : names) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir_.str(), cfs, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* records = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == RecordsCfName(partition.value())) records = h;
    }
    ASSERT_NE(records, nullptr);
    fn(db, records);
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }

  testing::TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerTest, AppendAssignsSeqPartitionPositionAndHash) {
  AppendResult a = AppendOne(InquiryJson("e1", "C-1"));
  AppendResult b = AppendOne(InquiryJson("e2", "C-1"));
  EXPECT_EQ(a.customer_id, "C-1");
  EXPECT_EQ(a.seq, Seq(1));
  EXPECT_EQ(b.seq, Seq(2));
  EXPECT_EQ(a.partition, PartitionId(PartitionFor("C-1", 4)));
  EXPECT_EQ(b.position.value(), a.position.value() + 1);
  EXPECT_FALSE(a.duplicate);
  EXPECT_NE(a.hash, b.hash);

  ASSERT_OK_AND_ASSIGN(auto records, ledger_->ReadCustomer("C-1", Seq(0), 100));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].event_id, "e1");
  EXPECT_EQ(records[1].chain_hash, b.hash);
  // The first record chains from 32 zero bytes (CONTRACT §7).
  EXPECT_EQ(records[0].chain_hash, ChainHash(kZeroDigest, Sha256(records[0].canonical)));
  EXPECT_EQ(records[1].customer_hash,
            ChainHash(records[0].customer_hash, Sha256(records[1].canonical)));
  std::string history = HistoryEventJson(records[0]);
  EXPECT_THAT(history, HasSubstr("\"customer_id\":\"C-1\""));
  EXPECT_THAT(history, HasSubstr("\"seq\":1,\"partition\":"));
  EXPECT_THAT(history, HasSubstr("\"hash\":\"" + json::Hex(AsBytes(a.hash)) + "\""));
}

TEST_F(LedgerTest, CanonicalBytesAreTheContractForm) {
  AppendResult r = AppendOne(InquiryJson("e1", "C-1"));
  ASSERT_OK_AND_ASSIGN(auto rec, ledger_->ReadRecord(r.partition, r.position));
  std::string expected_prefix =
      "{\"customer_id\":\"C-1\",\"event\":{\"channel\":\"chat\",\"customer_id\":\"C-1\","
      "\"data\":{\"topic\":\"delivery\"},\"event_id\":\"e1\",\"occurred_at\":"
      "\"2026-11-20T10:15:00Z\",\"source\":\"test\",\"type\":\"inquiry\"},\"event_id\":\"e1\","
      "\"partition\":";
  EXPECT_EQ(rec.canonical.substr(0, expected_prefix.size()), expected_prefix);
  EXPECT_THAT(rec.canonical, HasSubstr(",\"position\":1,\"recorded_at\":\""));
  EXPECT_THAT(rec.canonical, ::testing::EndsWith(",\"seq\":1}"));
}

TEST_F(LedgerTest, IdenticalRetryIsADuplicateWithTheFirstResult) {
  AppendResult first = AppendOne(InquiryJson("e1", "C-1"));
  AppendResult again = AppendOne(InquiryJson("e1", "C-1"));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, first.seq);
  EXPECT_EQ(again.position, first.position);
  EXPECT_EQ(again.hash, first.hash);
  EXPECT_EQ(Version("C-1"), 1u);
}

TEST_F(LedgerTest, SameEventIdWithOtherContentIsAMismatchAndStoresNothing) {
  AppendOne(InquiryJson("e1", "C-1"));
  absl::Status s = AppendStatus(InquiryJson("e1", "C-2"));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorCode(s), "duplicate_mismatch");
  EXPECT_EQ(Version("C-2"), 0u);
}

TEST_F(LedgerTest, DuplicatesSurviveReopen) {
  AppendResult first = AppendOne(InquiryJson("e1", "C-1"));
  Reopen();
  AppendResult again = AppendOne(InquiryJson("e1", "C-1"));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.position, first.position);
  EXPECT_EQ(AppendStatus(InquiryJson("e1", "C-1", "\"actor\":\"someone\"")).code(),
            absl::StatusCode::kAlreadyExists);
  AppendResult next = AppendOne(InquiryJson("e2", "C-1"));
  EXPECT_EQ(next.seq, Seq(2));
}

TEST_F(LedgerTest, RepeatInsideOneBatchIsADuplicate) {
  std::vector<PreparedEvent> batch;
  batch.push_back(Prepared(InquiryJson("e1", "C-1")));
  batch.push_back(Prepared(InquiryJson("e1", "C-1")));
  ASSERT_OK_AND_ASSIGN(auto results, ledger_->Append(std::move(batch)));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[0].duplicate);
  EXPECT_TRUE(results[1].duplicate);
  EXPECT_EQ(results[1].position, results[0].position);
  EXPECT_EQ(Version("C-1"), 1u);
}

TEST_F(LedgerTest, BatchIsAtomic) {
  std::vector<PreparedEvent> batch;
  batch.push_back(Prepared(InquiryJson("e1", "C-1")));
  batch.push_back(Prepared(InquiryJson("e2", "C-2")));
  batch.push_back(Prepared(InquiryJson("e3", "C-1", "\"expected_version\":5")));
  absl::Status s = ledger_->Append(std::move(batch)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CurrentVersion(s), 1);  // e1 came first in the batch
  EXPECT_EQ(Version("C-1"), 0u);
  EXPECT_EQ(Version("C-2"), 0u);
  for (const auto& head : ledger_->Heads()) EXPECT_EQ(head.position, Position(0));
  // Nothing of the failed batch was remembered: e1 is new, not a duplicate.
  EXPECT_FALSE(AppendOne(InquiryJson("e1", "C-1")).duplicate);
  ASSERT_OK_AND_ASSIGN(auto report, ledger_->Verify());
  EXPECT_TRUE(report.ok) << report.reason;
}

TEST_F(LedgerTest, ExpectedVersionConflictNamesTheActualVersion) {
  AppendOne(InquiryJson("e1", "C-1", "\"expected_version\":0"));
  AppendOne(InquiryJson("e2", "C-1", "\"expected_version\":1"));
  absl::Status s = AppendStatus(InquiryJson("e3", "C-1", "\"expected_version\":1"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(s), "version_conflict");
  EXPECT_EQ(CurrentVersion(s), 2);
  // A duplicate is answered before expected_version is looked at.
  EXPECT_TRUE(AppendOne(InquiryJson("e1", "C-1", "\"expected_version\":0")).duplicate);
}

TEST_F(LedgerTest, AppendEachFailsOnlyTheBadEvent) {
  std::vector<PreparedEvent> events;
  events.push_back(Prepared(InquiryJson("e1", "C-1")));
  events.push_back(Prepared(InquiryJson("e2", "C-1", "\"expected_version\":7")));
  events.push_back(Prepared(InquiryJson("e3", "C-1", "\"expected_version\":1")));
  auto results = ledger_->AppendEach(std::move(events));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_EQ(results[2]->seq, Seq(2));
}

TEST_F(LedgerTest, ExpectedVersionRaceBetweenThreads) {
  constexpr int kThreads = 8;
  constexpr int kAttempts = 50;
  std::atomic<int> successes{0}, conflicts{0};
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> seqs;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        uint64_t v = ledger_->CustomerVersion("C-race")->value();
        std::vector<PreparedEvent> events;
        events.push_back(Prepared(
            InquiryJson(StrCat("r", t, "-", i), "C-race", StrCat("\"expected_version\":", v))));
        auto r = ledger_->Append(std::move(events));
        if (r.ok()) {
          ++successes;
          EXPECT_EQ((*r)[0].seq.value(), v + 1);
          std::lock_guard<std::mutex> lock(mu);
          EXPECT_TRUE(seqs.insert((*r)[0].seq.value()).second);
        } else {
          ++conflicts;
          EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
          EXPECT_GT(*CurrentVersion(r.status()), static_cast<int64_t>(v));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(successes + conflicts, kThreads * kAttempts);
  EXPECT_EQ(Version("C-race"), static_cast<uint64_t>(successes.load()));
  EXPECT_GT(successes.load(), 0);
  ASSERT_OK_AND_ASSIGN(auto report, ledger_->Verify());
  EXPECT_TRUE(report.ok) << report.reason;
}

TEST_F(LedgerTest, ConcurrentAppendersStoreEveryEventOnce) {
  constexpr int kThreads = 6;
  constexpr int kBatches = 40;
  constexpr int kPerBatch = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<PreparedEvent> events;
        for (int i = 0; i < kPerBatch; ++i) {
          // Overlapping ids across threads: each id is stored once, by whoever comes first.
          int n = (b * kPerBatch + i) * 2 + (t % 2);
          events.push_back(Prepared(InquiryJson(StrCat("id-", n), StrCat("C-", n % 37))));
        }
        ASSERT_OK(ledger_->Append(std::move(events)).status());
      }
    });
  }
  for (auto& t : threads) t.join();
  uint64_t total = 0;
  for (const auto& head : ledger_->Heads()) total += head.position.value();
  EXPECT_EQ(total, static_cast<uint64_t>(2 * kBatches * kPerBatch));
  ASSERT_OK_AND_ASSIGN(auto report, ledger_->Verify());
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, total);
  EXPECT_EQ(report.customers, 37u);
}

std::string IdentityJson(const std::string& id, const std::string& customer,
                         const std::string& kind, const std::string& value) {
  return InquiryJson(id, customer,
                     StrCat("\"identity\":{\"kind\":\"", kind, "\",\"value\":\"", value, "\"}"));
}

TEST_F(LedgerTest, IdentityOnlyCreatesAnAnonymousCustomer) {
  AppendResult a = AppendOne(IdentityJson("e1", "", "email", " Li.Wei@Example.com "));
  EXPECT_EQ(a.customer_id, AnonymousCustomerId("email:li.wei@example.com"));
  EXPECT_TRUE(a.customer_id.starts_with("anon-"));
  EXPECT_EQ(a.customer_id.size(), 21u);
  AppendResult b = AppendOne(IdentityJson("e2", "", "email", "li.wei@example.com"));
  EXPECT_EQ(b.customer_id, a.customer_id);
  EXPECT_EQ(b.seq, Seq(2));
}

TEST_F(LedgerTest, NamedCustomerTakesOverAnAnonymousLinkButNotANamedOne) {
  AppendResult anon = AppendOne(IdentityJson("e1", "", "phone", "+86 138-0000"));
  AppendOne(IdentityJson("e2", "C-1", "phone", "860138 0000"));  // same digits
  ASSERT_OK_AND_ASSIGN(auto linked, ledger_->LookupIdentity({IdentityKind::kPhone, "8601380000"}));
  EXPECT_EQ(linked, "C-1");
  EXPECT_EQ(AppendOne(IdentityJson("e3", "", "phone", "86-0138-0000")).customer_id, "C-1");
  // History is not merged.
  EXPECT_EQ(Version(anon.customer_id), 1u);
  // Another named customer using the identity does not take it.
  AppendOne(IdentityJson("e4", "C-2", "phone", "8601380000"));
  EXPECT_EQ(*ledger_->LookupIdentity({IdentityKind::kPhone, "8601380000"}).value(), "C-1");
  // identity_linked always moves it.
  AppendOne(R"({"event_id":"e5","type":"identity_linked","customer_id":"C-2",)"
            R"("occurred_at":"2026-11-20T10:15:00Z","channel":"web","source":"crm",)"
            R"("data":{"identity":{"kind":"phone","value":"8601380000"}}})");
  EXPECT_EQ(*ledger_->LookupIdentity({IdentityKind::kPhone, "8601380000"}).value(), "C-2");
  EXPECT_EQ(AppendOne(IdentityJson("e6", "", "phone", "8601380000")).customer_id, "C-2");
}

TEST_F(LedgerTest, LinksTakeEffectInBatchOrderAndAreRecorded) {
  std::vector<PreparedEvent> batch;
  batch.push_back(Prepared(IdentityJson("e1", "C-9", "loyalty_card", "LC-1")));
  batch.push_back(Prepared(IdentityJson("e2", "", "loyalty_card", "LC-1")));
  ASSERT_OK_AND_ASSIGN(auto results, ledger_->Append(std::move(batch)));
  EXPECT_EQ(results[1].customer_id, "C-9");
  ASSERT_OK_AND_ASSIGN(auto rec, ledger_->ReadRecord(results[0].partition, results[0].position));
  EXPECT_EQ(rec.links, std::vector<std::string>{"loyalty_card:LC-1"});
}

TEST_F(LedgerTest, RollbackOfAFailedUnitUndoesItsLinks) {
  std::vector<PreparedEvent> batch;
  batch.push_back(Prepared(IdentityJson("e1", "C-1", "account", "acct-1")));
  batch.push_back(Prepared(InquiryJson("e2", "C-1", "\"expected_version\":9")));
  EXPECT_FALSE(ledger_->Append(std::move(batch)).ok());
  ASSERT_OK_AND_ASSIGN(auto linked, ledger_->LookupIdentity({IdentityKind::kAccount, "acct-1"}));
  EXPECT_FALSE(linked.has_value());
  EXPECT_TRUE(
      AppendOne(IdentityJson("e3", "", "account", "acct-1")).customer_id.starts_with("anon-"));
}

TEST_F(LedgerTest, AsOfFiltersByOccurredAt) {
  AppendOne(InquiryJson("e1", "C-1", "", "2026-01-01T00:00:00Z"));
  AppendOne(InquiryJson("e2", "C-1", "", "2026-03-01T00:00:00Z"));
  AppendOne(InquiryJson("e3", "C-1", "", "2026-02-01T00:00:00Z"));  // late arrival
  ASSERT_OK_AND_ASSIGN(auto records, ledger_->ReadCustomer("C-1", Seq(0), 100,
                                                           ParseRfc3339("2026-02-15T00:00:00Z")));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].event_id, "e1");
  EXPECT_EQ(records[1].event_id, "e3");
  ASSERT_OK_AND_ASSIGN(auto after, ledger_->ReadCustomer("C-1", Seq(1), 1));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].event_id, "e2");
}

// A record's views hold what its decoded form does.
void ExpectViewOf(const RecordView& v, const StoredRecord& r) {
  EXPECT_EQ(v.partition, r.partition);
  EXPECT_EQ(v.position, r.position);
  EXPECT_EQ(v.seq, r.seq);
  EXPECT_EQ(v.occurred_at, r.occurred_at);
  EXPECT_EQ(v.customer_id, r.customer_id);
  EXPECT_EQ(v.canonical, r.canonical);
}

TEST_F(LedgerTest, ScanPartitionViewsSeesWhatScanPartitionDecodes) {
  for (int i = 0; i < 40; ++i) {
    AppendOne(InquiryJson("e" + std::to_string(i), "C-" + std::to_string(i % 7)));
  }
  size_t total = 0;
  size_t expected = 0;  // every partition is scanned from position 2
  for (const PartitionHead& head : ledger_->Heads()) {
    if (head.position.value() > 1) expected += head.position.value() - 1;
  }
  for (uint32_t p = 0; p < ledger_->Heads().size(); ++p) {
    std::vector<StoredRecord> decoded;
    ASSERT_OK(ledger_->ScanPartition(PartitionId(p), Position(2), [&](StoredRecord& r) {
      decoded.push_back(std::move(r));
      return true;
    }));
    size_t i = 0;
    ASSERT_OK(ledger_->ScanPartitionViews(PartitionId(p), Position(2), [&](const RecordView& v) {
      EXPECT_LT(i, decoded.size());
      if (i >= decoded.size()) return false;
      ExpectViewOf(v, decoded[i++]);
      return true;
    }));
    EXPECT_EQ(i, decoded.size());
    total += decoded.size();
  }
  EXPECT_EQ(total, expected);
  // Stopping early (C-1 has six records).
  size_t seen = 0;
  ASSERT_OK(ledger_->ScanPartitionViews(PartitionId(PartitionFor("C-1", 4)), Position(1),
                                        [&](const RecordView&) { return ++seen < 2; }));
  EXPECT_EQ(seen, 2u);
}

TEST(RecordViewTest, MisalignedBytesAreCopiedAndCorruptOnesRefused) {
  StoredRecord record;
  record.partition = PartitionId(3);
  record.position = Position(17);
  record.seq = Seq(5);
  record.occurred_at = *ParseRfc3339("2026-02-01T00:00:00Z");
  record.customer_id = "C-9";
  record.event_id = "e9";
  record.canonical = std::string(600, 'x');
  std::string encoded = EncodeRecord(record);
  // One byte in: the FlatBuffers scalars are misaligned and must be read from a copy.
  std::string shifted = "." + encoded;
  std::string scratch;
  ASSERT_OK_AND_ASSIGN(RecordView v,
                       DecodeRecordView(std::string_view(shifted).substr(1), &scratch));
  EXPECT_EQ(scratch, encoded);
  ExpectViewOf(v, record);
  EXPECT_THAT(
      DecodeRecordView(encoded.substr(0, encoded.size() / 2), &scratch),
      testing::StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not a valid LedgerRecord")));
}

TEST_F(LedgerTest, PartitionCountIsFixedAtCreation) {
  LedgerOptions options;
  options.expect_partitions = 8;
  ledger_.reset();
  std::unique_ptr<Ledger> other;
  absl::Status s = Ledger::Open(dir_.str(), options, &other);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("4 partitions"));
  options.expect_partitions = 4;
  EXPECT_OK(Ledger::Open(dir_.str(), options, &other));
}

TEST_F(LedgerTest, SecondWriterIsRefusedButReadersAreNot) {
  std::unique_ptr<Ledger> second;
  absl::Status s = Ledger::Open(dir_.str(), LedgerOptions(), &second);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  AppendOne(InquiryJson("e1", "C-1"));
  LedgerOptions ro;
  ro.read_only = true;
  ASSERT_OK(Ledger::Open(dir_.str(), ro, &second));
  EXPECT_EQ(second->CustomerVersion("C-1")->value(), 1u);
}

class VerifyTest : public LedgerTest {
 protected:
  void SetUp() override {
    LedgerTest::SetUp();
    // 30 events over 3 customers; all in one partition's chain interleaved with others.
    for (int i = 0; i < 30; ++i) AppendOne(InquiryJson(StrCat("v", i), StrCat("C-", i % 3)));
    target_ = PartitionId(PartitionFor("C-0", 4));
  }

  VerifyReport VerifyAll() {
    LedgerOptions ro;
    ro.read_only = true;
    std::unique_ptr<Ledger> reader;
    EXPECT_OK(Ledger::Open(dir_.str(), ro, &reader));
    auto report = reader->Verify();
    EXPECT_TRUE(report.ok()) << report.status();
    return *report;
  }

  std::string RawGet(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t position) {
    std::string value;
    EXPECT_TRUE(
        db->Get(rocksdb::ReadOptions(), cf, RecordKey(target_, Position(position)), &value).ok());
    return value;
  }

  PartitionId target_;
};

TEST_F(VerifyTest, IntactLedgerVerifies) {
  VerifyReport report = VerifyAll();
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, 30u);
  ASSERT_OK_AND_ASSIGN(auto one, ledger_->Verify("C-0"));
  EXPECT_TRUE(one.ok) << one.reason;
  EXPECT_EQ(one.records, 10u);
}

TEST_F(VerifyTest, CatchesChangedBytes) {
  WithRawDb(target_, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* records) {
    std::string value = RawGet(db, records, 4);
    size_t at = value.find("delivery");
    ASSERT_NE(at, std::string::npos);
    value[at] = 'D';  // one byte of the canonical event
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), records, RecordKey(target_, Position(4)), value).ok());
  });
  VerifyReport report = VerifyAll();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_partition, target_);
  EXPECT_EQ(report.bad_position, Position(4));
  EXPECT_THAT(report.reason, HasSubstr("chain_hash"));
  Reopen();
  ASSERT_OK_AND_ASSIGN(auto one, ledger_->Verify("C-0"));
  EXPECT_FALSE(one.ok);
  EXPECT_EQ(one.bad_position, Position(4));
}

TEST_F(VerifyTest, CatchesARemovedRecord) {
  WithRawDb(target_, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* records) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), records, RecordKey(target_, Position(3))).ok());
  });
  VerifyReport report = VerifyAll();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_partition, target_);
  EXPECT_EQ(report.bad_position, Position(3));
  EXPECT_THAT(report.reason, HasSubstr("missing"));
}

TEST_F(VerifyTest, CatchesTheLastRecordRemoved) {
  uint64_t last = 0;
  for (const auto& h : ledger_->Heads()) {
    if (h.partition == target_) last = h.position.value();
  }
  WithRawDb(target_, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* records) {
    ASSERT_TRUE(
        db->Delete(rocksdb::WriteOptions(), records, RecordKey(target_, Position(last))).ok());
  });
  VerifyReport report = VerifyAll();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_position, Position(last));
}

TEST_F(VerifyTest, CatchesSwappedRecords) {
  WithRawDb(target_, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* records) {
    std::string a = RawGet(db, records, 5), b = RawGet(db, records, 6);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), records, RecordKey(target_, Position(5)), b).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), records, RecordKey(target_, Position(6)), a).ok());
  });
  VerifyReport report = VerifyAll();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.bad_partition, target_);
  EXPECT_EQ(report.bad_position, Position(5));
}

}  // namespace
}  // namespace rapport::ledger
