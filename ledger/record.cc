#include "ledger/record.h"

#include <cstring>
#include <limits>

#include "flatbuffers/flatbuffers.h"
#include "ledger/codec.h"
#include "ledger/errors.h"
#include "ledger/json.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/touchpoint_fb.h"
#include "schemas/ledger_record_generated.h"

namespace rapport::ledger {

void PutFixed32BE(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out->append(b, 4);
}

void PutFixed64BE(std::string* out, uint64_t v) {
  PutFixed32BE(out, static_cast<uint32_t>(v >> 32));
  PutFixed32BE(out, static_cast<uint32_t>(v));
}

uint32_t GetFixed32BE(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} << 24 | uint32_t{u[1]} << 16 | uint32_t{u[2]} << 8 | uint32_t{u[3]};
}

uint64_t GetFixed64BE(const char* p) {
  return uint64_t{GetFixed32BE(p)} << 32 | GetFixed32BE(p + 4);
}

std::string RecordKey(PartitionId partition, Position position) {
  std::string key;
  key.reserve(12);
  PutFixed32BE(&key, partition.value());
  PutFixed64BE(&key, position.value());
  return key;
}

bool ParseRecordKey(std::string_view key, PartitionId* partition, Position* position) {
  if (key.size() != 12) return false;
  *partition = PartitionId(GetFixed32BE(key.data()));
  *position = Position(GetFixed64BE(key.data() + 4));
  return true;
}

std::string CustomerIndexPrefix(std::string_view customer_id) {
  std::string key(customer_id);
  key.push_back('\0');
  return key;
}

std::string CustomerIndexKey(std::string_view customer_id, Seq seq) {
  std::string key = CustomerIndexPrefix(customer_id);
  PutFixed64BE(&key, seq.value());
  return key;
}

std::string PartitionHeadKey(PartitionId partition) {
  std::string key = "p";
  PutFixed32BE(&key, partition.value());
  return key;
}

std::string RecordsCfName(uint32_t partition) { return StrCat(kRecordsCfPrefix, partition); }

std::string EncodeCustomerIndexEntry(const CustomerIndexEntry& e) {
  std::string v;
  v.reserve(48);
  PutFixed64BE(&v, e.position.value());
  PutFixed64BE(&v, static_cast<uint64_t>(e.occurred_at.micros));
  v.append(AsBytes(e.customer_hash));
  return v;
}

bool DecodeCustomerIndexEntry(std::string_view b, CustomerIndexEntry* e) {
  if (b.size() != 48) return false;
  e->position = Position(GetFixed64BE(b.data()));
  e->occurred_at = Timestamp{static_cast<int64_t>(GetFixed64BE(b.data() + 8))};
  std::memcpy(e->customer_hash.data(), b.data() + 16, 32);
  return true;
}

std::string EncodeRecord(const StoredRecord& r, const Event* touchpoint) {
  return std::string(EncodeRecordView(r, touchpoint));
}

std::string_view EncodeRecordView(const StoredRecord& r, const Event* touchpoint) {
  thread_local flatbuffers::FlatBufferBuilder fbb(2048);
  fbb.Clear();
  auto customer_id = fbb.CreateString(r.customer_id);
  auto event_id = fbb.CreateString(r.event_id);
  auto chain = fbb.CreateVector(r.chain_hash.data(), r.chain_hash.size());
  auto customer_hash = fbb.CreateVector(r.customer_hash.data(), r.customer_hash.size());
  auto canonical =
      fbb.CreateVector(reinterpret_cast<const uint8_t*>(r.canonical.data()), r.canonical.size());
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<schemas::LinkedIdentity>>> links;
  if (!r.links.empty()) {
    std::vector<flatbuffers::Offset<schemas::LinkedIdentity>> v;
    for (const auto& key : r.links) {
      size_t colon = key.find(':');
      auto kind = IdentityKindFromName(std::string_view(key).substr(0, colon));
      auto value = fbb.CreateString(key.substr(colon + 1));
      v.push_back(schemas::CreateLinkedIdentity(
          fbb, static_cast<schemas::IdentityKind>(kind.value_or(IdentityKind::kExternal)), value));
    }
    links = fbb.CreateVector(v);
  }
  flatbuffers::Offset<schemas::Touchpoint> typed;
  if (touchpoint != nullptr) typed = BuildTouchpoint(fbb, *touchpoint);
  schemas::LedgerRecordBuilder b(fbb);
  b.add_partition(r.partition.value());
  b.add_position(r.position.value());
  b.add_customer_id(customer_id);
  b.add_seq(r.seq.value());
  b.add_recorded_at(r.recorded_at.micros);
  b.add_occurred_at(r.occurred_at.micros);
  b.add_event_id(event_id);
  b.add_chain_hash(chain);
  b.add_customer_hash(customer_hash);
  b.add_canonical(canonical);
  if (!r.links.empty()) b.add_links(links);
  if (touchpoint != nullptr) b.add_touchpoint(typed);
  fbb.Finish(b.Finish(), schemas::LedgerRecordIdentifier());
  return std::string_view(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

namespace {

// The verified LedgerRecord in `bytes` (copied to `scratch` when misaligned), with its hashes
// and canonical bytes present; null when it is not one.
const schemas::LedgerRecord* VerifiedRecord(std::string_view bytes, std::string* scratch) {
  // FlatBuffers reads scalars in place and needs them aligned; RocksDB values need not be.
  if (reinterpret_cast<uintptr_t>(bytes.data()) % 8 != 0) {
    scratch->assign(bytes);  // heap storage (records exceed the small-string buffer): 16-aligned
    bytes = *scratch;
  }
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!schemas::LedgerRecordBufferHasIdentifier(bytes.data()) ||
      !schemas::VerifyLedgerRecordBuffer(verifier)) {
    return nullptr;
  }
  const auto* fb = schemas::GetLedgerRecord(bytes.data());
  if (!fb->chain_hash() || fb->chain_hash()->size() != 32 || !fb->customer_hash() ||
      fb->customer_hash()->size() != 32 || !fb->canonical()) {
    return nullptr;
  }
  return fb;
}

std::string_view ViewOf(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->data(), s->size());
}

}  // namespace

absl::StatusOr<RecordView> DecodeRecordView(std::string_view bytes, std::string* scratch) {
  const schemas::LedgerRecord* fb = VerifiedRecord(bytes, scratch);
  if (fb == nullptr) return absl::DataLossError("stored record is not a valid LedgerRecord");
  RecordView r;
  r.partition = PartitionId(fb->partition());
  r.position = Position(fb->position());
  r.seq = Seq(fb->seq());
  r.occurred_at = Timestamp{fb->occurred_at()};
  r.customer_id = ViewOf(fb->customer_id());
  r.canonical = std::string_view(reinterpret_cast<const char*>(fb->canonical()->data()),
                                 fb->canonical()->size());
  return r;
}

RecordView RecordViewOf(const StoredRecord& record) {
  RecordView v;
  v.partition = record.partition;
  v.position = record.position;
  v.seq = record.seq;
  v.occurred_at = record.occurred_at;
  v.customer_id = record.customer_id;
  v.canonical = record.canonical;
  return v;
}

absl::StatusOr<StoredRecord> DecodeRecord(std::string_view bytes) {
  thread_local std::string aligned;
  const schemas::LedgerRecord* fb = VerifiedRecord(bytes, &aligned);
  if (fb == nullptr) return absl::DataLossError("stored record is not a valid LedgerRecord");
  StoredRecord r;
  r.partition = PartitionId(fb->partition());
  r.position = Position(fb->position());
  r.customer_id = ViewOf(fb->customer_id());
  r.seq = Seq(fb->seq());
  r.recorded_at = Timestamp{fb->recorded_at()};
  r.occurred_at = Timestamp{fb->occurred_at()};
  r.event_id = ViewOf(fb->event_id());
  std::memcpy(r.chain_hash.data(), fb->chain_hash()->data(), 32);
  std::memcpy(r.customer_hash.data(), fb->customer_hash()->data(), 32);
  r.canonical.assign(reinterpret_cast<const char*>(fb->canonical()->data()),
                     fb->canonical()->size());
  if (fb->links()) {
    for (const auto* link : *fb->links()) {
      std::string key(IdentityKindName(static_cast<IdentityKind>(link->kind())));
      key.push_back(':');
      if (link->value()) key.append(link->value()->str());
      r.links.push_back(std::move(key));
    }
  }
  return r;
}

void AppendCanonicalRecordPrefix(std::string* out, std::string_view customer_id,
                                 std::string_view event_head, std::string_view event_tail) {
  out->append("{\"customer_id\":");
  size_t id_start = out->size();
  json::AppendString(out, customer_id);
  size_t id_end = out->size();
  out->append(",\"event\":");
  out->append(event_head);
  out->append("\"customer_id\":");
  out->append(*out, id_start, id_end - id_start);
  out->push_back(',');
  out->append(event_tail);
}

void AppendCanonicalRecordSuffix(std::string* out, std::string_view event_id, PartitionId partition,
                                 Position position, Timestamp recorded_at, Seq seq) {
  out->append(",\"event_id\":");
  json::AppendString(out, event_id);
  out->append(",\"partition\":");
  json::AppendUint(out, partition.value());
  out->append(",\"position\":");
  json::AppendUint(out, position.value());
  out->append(",\"recorded_at\":\"");
  AppendTimestamp(out, recorded_at);
  out->append("\",\"seq\":");
  json::AppendUint(out, seq.value());
  out->push_back('}');
}

void AppendCanonicalRecord(std::string* out, std::string_view customer_id,
                           std::string_view event_head, std::string_view event_tail,
                           std::string_view event_id, PartitionId partition, Position position,
                           Timestamp recorded_at, Seq seq) {
  AppendCanonicalRecordPrefix(out, customer_id, event_head, event_tail);
  AppendCanonicalRecordSuffix(out, event_id, partition, position, recorded_at, seq);
}

absl::StatusOr<CanonicalEnvelope> ParseCanonical(std::string_view c) {
  auto bad = [](std::string_view why) {
    return absl::DataLossError(AbslView(StrCat("malformed canonical record: ", why)));
  };
  CanonicalEnvelope env;
  // The event sits between the leading customer_id member and the trailing event_id member; a
  // `,"event_id":` with a bare quote cannot occur inside a JSON string, so the last one is ours.
  constexpr std::string_view kPrefix = "{\"customer_id\":";
  if (!c.starts_with(kPrefix)) return bad("no customer_id");
  json::Reader r(c);
  std::string key;
  bool done = false;
  if (!r.BeginObject() || !r.NextMember(&key, &done) || key != "customer_id" ||
      !r.ReadString(&env.customer_id) || !r.NextMember(&key, &done) || key != "event") {
    return bad("no customer_id/event");
  }
  size_t event_start = r.offset();
  while (event_start < c.size() && c[event_start] == ' ') ++event_start;
  size_t tail = c.rfind(",\"event_id\":");
  if (tail == std::string_view::npos || tail <= event_start) return bad("no event_id");
  env.event_json = c.substr(event_start, tail - event_start);
  // The tail is `,"event_id":…,"partition":…,"position":…,"recorded_at":…,"seq":…}`; parse it
  // as the continuation of an object.
  thread_local std::string tail_obj;
  tail_obj.assign("{");
  tail_obj.append(c.substr(tail + 1));
  json::Reader tr(tail_obj);
  if (!tr.BeginObject()) return bad("tail");
  while (true) {
    if (!tr.NextMember(&key, &done)) return bad(tr.error());
    if (done) break;
    bool ok = true;
    if (key == "event_id") {
      ok = tr.ReadString(&env.event_id);
    } else if (key == "partition") {
      ok = tr.ReadInt64(&env.partition);
    } else if (key == "position") {
      ok = tr.ReadInt64(&env.position);
    } else if (key == "recorded_at") {
      ok = tr.ReadString(&env.recorded_at);
    } else if (key == "seq") {
      ok = tr.ReadInt64(&env.seq);
    } else {
      return bad(StrCat("unexpected member ", key));
    }
    if (!ok) return bad(tr.error());
  }
  if (!tr.AtEnd()) return bad("trailing bytes");
  return env;
}

std::string HistoryEventJson(const StoredRecord& record) {
  std::string out;
  auto env = ParseCanonical(record.canonical);
  std::string_view event = env.ok() ? env->event_json : std::string_view("{}");
  out.reserve(event.size() + 256);
  out.append(event.substr(0, event.size() - 1));  // drop the closing brace
  out.append(",\"seq\":");
  json::AppendUint(&out, record.seq.value());
  out.append(",\"partition\":");
  json::AppendUint(&out, record.partition.value());
  out.append(",\"position\":");
  json::AppendUint(&out, record.position.value());
  out.append(",\"recorded_at\":\"");
  AppendTimestamp(&out, record.recorded_at);
  out.append("\",\"hash\":\"");
  json::AppendHex(&out, AsBytes(record.chain_hash));
  out.append("\",\"customer_hash\":\"");
  json::AppendHex(&out, AsBytes(record.customer_hash));
  out.append("\"}");
  return out;
}

std::string EncodeEventIdEntry(const EventIdEntry& e) {
  std::string out;
  out.reserve(28);
  PutFixed32BE(&out, e.partition.value());
  PutFixed64BE(&out, e.position.value());
  out.append(e.content_digest);
  return out;
}

bool DecodeEventIdEntry(std::string_view b, EventIdEntry* e) {
  if (b.size() != 28) return false;
  e->partition = PartitionId(GetFixed32BE(b.data()));
  e->position = Position(GetFixed64BE(b.data() + 4));
  e->content_digest.assign(b.data() + 12, 16);
  return true;
}

}  // namespace rapport::ledger
