#include "consumers/state.h"

#include <memory>

#include "ledger/record.h"
#include "ledger/strings.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace rapport::consumers {

std::string InboxOffsetKey(std::string_view topic, int32_t partition) {
  std::string k = StrCat("o", topic);
  k.push_back('\0');
  ledger::PutFixed32BE(&k, static_cast<uint32_t>(partition));
  return k;
}

std::string RelayCursorKey(uint32_t partition) {
  std::string k = "r";
  ledger::PutFixed32BE(&k, partition);
  return k;
}

std::string ChangelogCursorKey(int kind, uint32_t partition) {
  std::string k = "c";
  k.push_back(static_cast<char>('0' + kind));
  ledger::PutFixed32BE(&k, partition);
  return k;
}

std::string RejectKey(uint64_t id) {
  std::string k(kRejectPrefix);
  ledger::PutFixed64BE(&k, id);
  return k;
}

std::string EncodeU64(uint64_t v) {
  std::string s;
  ledger::PutFixed64BE(&s, v);
  return s;
}

std::optional<uint64_t> DecodeU64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  return ledger::GetFixed64BE(bytes.data());
}

namespace {

void PutBytes(std::string* out, std::string_view b) {
  ledger::PutFixed32BE(out, static_cast<uint32_t>(b.size()));
  out->append(b);
}

bool GetBytes(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  uint32_t n = ledger::GetFixed32BE(in->data());
  in->remove_prefix(4);
  if (in->size() < n) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

std::string EncodeRejected(const RejectedMessage& m) {
  std::string out;
  out.push_back(m.key ? 1 : 0);
  PutBytes(&out, m.key.value_or(""));
  PutBytes(&out, m.value);
  ledger::PutFixed32BE(&out, static_cast<uint32_t>(m.headers.size()));
  for (const auto& [name, value] : m.headers) {
    PutBytes(&out, name);
    PutBytes(&out, value);
  }
  return out;
}

std::optional<RejectedMessage> DecodeRejected(std::string_view in) {
  RejectedMessage m;
  if (in.empty()) return std::nullopt;
  bool has_key = in[0] == 1;
  in.remove_prefix(1);
  std::string key;
  if (!GetBytes(&in, &key) || !GetBytes(&in, &m.value) || in.size() < 4) return std::nullopt;
  if (has_key) m.key = std::move(key);
  uint32_t n = ledger::GetFixed32BE(in.data());
  in.remove_prefix(4);
  for (uint32_t i = 0; i < n; ++i) {
    std::string name, value;
    if (!GetBytes(&in, &name) || !GetBytes(&in, &value)) return std::nullopt;
    m.headers.emplace_back(std::move(name), std::move(value));
  }
  if (!in.empty()) return std::nullopt;
  return m;
}

absl::StatusOr<ConsumerState> ConsumerState::For(ledger::Ledger* ledger) {
  auto* cf = ledger->column_family(kKafkaCf);
  if (cf == nullptr) {
    return absl::FailedPreconditionError("the ledger was opened without the kafka column family");
  }
  return ConsumerState(ledger, cf);
}

absl::StatusOr<std::optional<uint64_t>> ConsumerState::Get(const std::string& key) const {
  std::string value;
  rocksdb::Status s = ledger_->db()->Get(rocksdb::ReadOptions(), cf_, key, &value);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  if (!s.ok())
    return absl::UnavailableError(AbslView(StrCat("reading Kafka state: ", s.ToString())));
  auto v = DecodeU64(value);
  if (!v) return absl::DataLossError("a Kafka state value is not 8 bytes");
  return v;
}

absl::Status ConsumerState::Put(const std::string& key, const std::string& value) {
  rocksdb::Status s = ledger_->db()->Put(rocksdb::WriteOptions(), cf_, key, value);
  if (!s.ok())
    return absl::UnavailableError(AbslView(StrCat("writing Kafka state: ", s.ToString())));
  return absl::OkStatus();
}

absl::Status ConsumerState::Delete(const std::string& key) {
  rocksdb::Status s = ledger_->db()->Delete(rocksdb::WriteOptions(), cf_, key);
  if (!s.ok())
    return absl::UnavailableError(AbslView(StrCat("writing Kafka state: ", s.ToString())));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<uint64_t, RejectedMessage>>> ConsumerState::PendingRejects(
    size_t limit) const {
  std::vector<std::pair<uint64_t, RejectedMessage>> out;
  std::unique_ptr<rocksdb::Iterator> it(ledger_->db()->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->Seek(rocksdb::Slice(kRejectPrefix.data(), kRejectPrefix.size()));
       it->Valid() && it->key().starts_with(rocksdb::Slice(kRejectPrefix.data(), 1)) &&
       out.size() < limit;
       it->Next()) {
    if (it->key().size() != 9) continue;
    uint64_t id = ledger::GetFixed64BE(it->key().data() + 1);
    auto m = DecodeRejected(std::string_view(it->value().data(), it->value().size()));
    if (!m) return absl::DataLossError(AbslView(StrCat("rejected message ", id, " is corrupt")));
    out.emplace_back(id, std::move(*m));
  }
  if (!it->status().ok()) {
    return absl::UnavailableError(AbslView(StrCat("reading rejects: ", it->status().ToString())));
  }
  return out;
}

absl::StatusOr<uint64_t> ConsumerState::NextRejectId() const {
  std::unique_ptr<rocksdb::Iterator> it(ledger_->db()->NewIterator(rocksdb::ReadOptions(), cf_));
  std::string upper(kRejectPrefix);
  upper.append(8, '\xff');
  it->SeekForPrev(upper);
  if (it->Valid() && it->key().size() == 9 && it->key()[0] == kRejectPrefix[0]) {
    return ledger::GetFixed64BE(it->key().data() + 1) + 1;
  }
  return uint64_t{1};
}

absl::Status ConsumerState::BindToCluster(const std::string& cluster_id, bool* changed) {
  static constexpr char kClusterKey[] = "k";
  *changed = false;
  std::string stored;
  rocksdb::Status s = ledger_->db()->Get(rocksdb::ReadOptions(), cf_, kClusterKey, &stored);
  if (s.ok() && stored == cluster_id) return absl::OkStatus();
  if (!s.ok() && !s.IsNotFound()) {
    return absl::UnavailableError(AbslView(StrCat("reading Kafka state: ", s.ToString())));
  }
  rocksdb::WriteBatch batch;
  if (s.ok()) {
    *changed = true;
    for (char prefix : {'o', 'r', 'c'}) {
      std::string begin(1, prefix), end(1, static_cast<char>(prefix + 1));
      batch.DeleteRange(cf_, begin, end);
    }
  }
  batch.Put(cf_, kClusterKey, cluster_id);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = ledger_->db()->Write(wo, &batch);
  if (!s.ok())
    return absl::UnavailableError(AbslView(StrCat("writing Kafka state: ", s.ToString())));
  return absl::OkStatus();
}

}  // namespace rapport::consumers
