#include "ledger/codec.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "ledger/errors.h"
#include "ledger/identity.h"
#include "ledger/json.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace rapport::ledger {
namespace {

using F = DataField;

// How the value of a data field is checked.
enum class Kind {
  kStr256,
  kText,
  kEnum,
  kInt,
  kBool,
  kTime,
  kPositiveNumber,
  kCurrency,
  kTier,
  kChannel,
  kStrList,
  kAnswers,
  kItems,
  kIdentity,
};

struct Rule {
  Kind kind;
  // The allowed values (kEnum). Not an initializer_list, whose backing array would die with the
  // temporary Rule that RuleOf copies from and leave the stored copy dangling.
  std::vector<std::string_view> values = {};
  int64_t min = std::numeric_limits<int64_t>::min();  // kInt
  int64_t max = std::numeric_limits<int64_t>::max();
  bool nonzero = false;
};

const Rule& RuleOf(DataField f) {
  static const auto* rules = [] {
    auto* r = new std::array<Rule, kNumDataFields>();
    auto set = [&](F f, Rule rule) { (*r)[static_cast<int>(f)] = rule; };
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    set(F::kAction, {Kind::kText});
    set(F::kAmountMinor, {Kind::kInt, {}, 1, kMax});
    set(F::kAnswers, {Kind::kAnswers});
    set(F::kAsks, {Kind::kStrList});
    set(F::kCaseId, {Kind::kStr256});
    set(F::kCategory, {Kind::kStr256});
    set(F::kConsentChannel, {Kind::kChannel});
    set(F::kComment, {Kind::kText});
    set(F::kCommitmentId, {Kind::kStr256});
    set(F::kConsentStatus, {Kind::kEnum, {"granted", "revoked"}});
    set(F::kCsat, {Kind::kInt, {}, 1, 5});
    set(F::kCurrency, {Kind::kCurrency});
    set(F::kDirection, {Kind::kEnum, {"inbound", "outbound"}});
    set(F::kDueAt, {Kind::kTime});
    set(F::kIdentity, {Kind::kIdentity});
    set(F::kItems, {Kind::kItems});
    set(F::kKey, {Kind::kStr256});
    set(F::kLocation, {Kind::kStr256});
    set(F::kNps, {Kind::kInt, {}, 0, 10});
    set(F::kOrderId, {Kind::kStr256});
    set(F::kOrderStatus,
        {Kind::kEnum, {"placed", "confirmed", "shipped", "delivered", "cancelled", "returned"}});
    set(F::kOutcome, {Kind::kEnum, {"resolved", "unresolved", "abandoned"}});
    set(F::kPointsDelta, {Kind::kInt, {}, std::numeric_limits<int64_t>::min(), kMax, true});
    set(F::kPointsRedeemed, {Kind::kInt, {}, 1, kMax});
    set(F::kPurpose, {Kind::kStr256});
    set(F::kReason, {Kind::kText});
    set(F::kResolution, {Kind::kText});
    set(F::kReward, {Kind::kStr256});
    set(F::kSatisfied, {Kind::kBool});
    set(F::kSeverity, {Kind::kEnum, {"low", "medium", "high"}});
    set(F::kSummary, {Kind::kText});
    set(F::kSurvey, {Kind::kStr256});
    set(F::kTag, {Kind::kStr256});
    set(F::kTier, {Kind::kTier});
    set(F::kTopic, {Kind::kStr256});
    set(F::kUntil, {Kind::kTime});
    set(F::kValue, {Kind::kStr256});
    set(F::kWeight, {Kind::kPositiveNumber});
    return r;
  }();
  return (*rules)[static_cast<int>(f)];
}

// Active ISO 4217 codes, sorted.
constexpr std::string_view kCurrencies[] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR",
    "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
    "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG",
    "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG",
    "ZWL"};

bool IsCurrency(std::string_view c) {
  return std::binary_search(std::begin(kCurrencies), std::end(kCurrencies), c);
}

int64_t* IntMember(EventData* d, DataField f) {
  switch (f) {
    case F::kAmountMinor:
      return &d->amount_minor;
    case F::kCsat:
      return &d->csat;
    case F::kNps:
      return &d->nps;
    case F::kPointsDelta:
    case F::kPointsRedeemed:
      return &d->points;
    default:
      return nullptr;
  }
}

Timestamp* TimeMember(EventData* d, DataField f) {
  return f == F::kDueAt ? &d->due_at : f == F::kUntil ? &d->until : nullptr;
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

absl::Status CheckAsciiId(std::string_view field, std::string_view v) {
  if (v.empty() || v.size() > 128 || !IsPrintableAscii(v)) {
    return InvalidField(field, "must be 1-128 printable ASCII characters (0x21-0x7E)");
  }
  return absl::OkStatus();
}

absl::Status CheckLength(std::string_view field, std::string_view v, size_t max) {
  if (v.empty() || (v.size() > max && json::CodePoints(v) > max)) {
    return InvalidField(field, StrCat("must be 1-", max, " characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckIdentity(std::string_view field, const Identity& id) {
  std::string value_field = StrCat(field, ".value");
  RETURN_IF_ERROR(CheckLength(value_field, id.value, 256));
  if (!NormalizeIdentityValue(id.kind, id.value)) {
    return InvalidField(value_field, id.kind == IdentityKind::kPhone
                                         ? "a phone identity must contain at least one digit"
                                         : "must not be blank");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Parsing

class Parser {
 public:
  Parser(std::string_view json, const CodecOptions& options) : r_(json), options_(options) {}

  absl::Status Parse(Event* ev);

 private:
  absl::Status ReaderError(std::string_view field) {
    return InvalidJson(field, r_.error().empty() ? "invalid JSON" : r_.error());
  }
  // Checks the next value is not null and has JSON type `want`.
  absl::Status ExpectType(std::string_view field, json::Reader::Type want, const char* what) {
    auto t = r_.Peek();
    if (t == json::Reader::Type::kNumber || t == json::Reader::Type::kBool ||
        t == json::Reader::Type::kNull) {
      // A malformed literal (`012`, `1.`, `tru`, `nul`) is not JSON: say so, rather than that
      // it has the wrong type or range.
      json::Reader probe = r_;
      if (!probe.SkipValue(nullptr)) {
        r_ = std::move(probe);
        return ReaderError(field);
      }
    }
    if (t == want) return absl::OkStatus();
    if (t == json::Reader::Type::kNull) return InvalidField(field, "must not be null");
    if (t == json::Reader::Type::kInvalid) {
      r_.SkipValue(nullptr);
      return ReaderError(field);
    }
    return InvalidField(field, StrCat("must be ", what));
  }
  absl::Status String(std::string_view field, std::string* out) {
    RETURN_IF_ERROR(ExpectType(field, json::Reader::Type::kString, "a string"));
    if (!r_.ReadString(out)) return ReaderError(field);
    return absl::OkStatus();
  }
  absl::Status Integer(std::string_view field, int64_t* out) {
    RETURN_IF_ERROR(ExpectType(field, json::Reader::Type::kNumber, "an integer"));
    if (!r_.ReadInt64(out)) return InvalidField(field, r_.error());
    return absl::OkStatus();
  }
  absl::Status Time(std::string_view field, Timestamp* out) {
    std::string text, why;
    RETURN_IF_ERROR(String(field, &text));
    auto t = ParseRfc3339(text, &why);
    if (!t) return InvalidField(field, why);
    *out = *t;
    return absl::OkStatus();
  }
  absl::Status ParseIdentity(std::string_view field, Identity* out);
  absl::Status ParseData(EventType type, EventData* d);
  absl::Status ParseDataField(std::string_view path, DataField f, EventData* d);
  absl::Status ParseItems(std::string_view path, std::vector<Item>* items);

  json::Reader r_;
  const CodecOptions& options_;
};

enum TopField : uint32_t {
  kTopEventId = 1 << 0,
  kTopType = 1 << 1,
  kTopCustomerId = 1 << 2,
  kTopIdentity = 1 << 3,
  kTopOccurredAt = 1 << 4,
  kTopChannel = 1 << 5,
  kTopSource = 1 << 6,
  kTopActor = 1 << 7,
  kTopConversationId = 1 << 8,
  kTopExpectedVersion = 1 << 9,
  kTopData = 1 << 10,
};

uint32_t TopFieldOf(std::string_view key) {
  static constexpr std::pair<std::string_view, uint32_t> kFields[] = {
      {"event_id", kTopEventId},
      {"type", kTopType},
      {"customer_id", kTopCustomerId},
      {"identity", kTopIdentity},
      {"occurred_at", kTopOccurredAt},
      {"channel", kTopChannel},
      {"source", kTopSource},
      {"actor", kTopActor},
      {"conversation_id", kTopConversationId},
      {"expected_version", kTopExpectedVersion},
      {"data", kTopData}};
  for (const auto& [name, bit] : kFields) {
    if (name == key) return bit;
  }
  return 0;
}

absl::Status Parser::Parse(Event* ev) {
  if (r_.Peek() != json::Reader::Type::kObject) {
    if (r_.Peek() == json::Reader::Type::kInvalid) {
      r_.SkipValue(nullptr);
      return ReaderError("");
    }
    return InvalidJson("", "an event must be a JSON object");
  }
  r_.BeginObject();
  uint32_t seen = 0;
  std::string key;
  std::string_view deferred_data;  // `data` seen before `type`
  bool done = false;
  while (true) {
    if (!r_.NextMember(&key, &done)) return ReaderError("");
    if (done) break;
    uint32_t bit = TopFieldOf(key);
    if (bit == 0) return InvalidField(key, "unknown field");
    if (seen & bit) return InvalidField(key, "duplicate field");
    seen |= bit;
    switch (bit) {
      case kTopEventId:
        RETURN_IF_ERROR(String(key, &ev->event_id));
        break;
      case kTopType: {
        std::string name;
        RETURN_IF_ERROR(String(key, &name));
        auto t = EventTypeFromName(name);
        if (!t) return InvalidField(key, StrCat("unknown event type \"", name, "\""));
        ev->type = *t;
        break;
      }
      case kTopCustomerId:
        RETURN_IF_ERROR(String(key, &ev->customer_id));
        RETURN_IF_ERROR(CheckAsciiId(key, ev->customer_id));
        break;
      case kTopIdentity:
        RETURN_IF_ERROR(ParseIdentity(key, &ev->identity.emplace()));
        break;
      case kTopOccurredAt:
        RETURN_IF_ERROR(Time(key, &ev->occurred_at));
        break;
      case kTopChannel: {
        std::string name;
        RETURN_IF_ERROR(String(key, &name));
        auto c = ChannelFromName(name);
        if (!c) return InvalidField(key, StrCat("unknown channel \"", name, "\""));
        ev->channel = *c;
        break;
      }
      case kTopSource:
        RETURN_IF_ERROR(String(key, &ev->source));
        break;
      case kTopActor:
        RETURN_IF_ERROR(String(key, &ev->actor.emplace()));
        break;
      case kTopConversationId:
        RETURN_IF_ERROR(String(key, &ev->conversation_id.emplace()));
        break;
      case kTopExpectedVersion: {
        int64_t v;
        RETURN_IF_ERROR(Integer(key, &v));
        ev->expected_version = v;
        break;
      }
      case kTopData:
        RETURN_IF_ERROR(ExpectType(key, json::Reader::Type::kObject, "an object"));
        if (seen & kTopType) {
          RETURN_IF_ERROR(ParseData(ev->type, &ev->data));
        } else if (!r_.SkipValue(&deferred_data)) {
          return ReaderError(key);
        }
        break;
    }
  }
  if (!r_.AtEnd()) return InvalidJson("", "unexpected text after the event object");
  if (!(seen & kTopEventId)) return InvalidField("event_id", "required");
  if (!(seen & kTopType)) return InvalidField("type", "required");
  if (!(seen & (kTopCustomerId | kTopIdentity))) {
    return InvalidField("customer_id", "customer_id or identity is required");
  }
  if (!(seen & kTopOccurredAt)) return InvalidField("occurred_at", "required");
  if (!(seen & kTopChannel)) return InvalidField("channel", "required");
  if (!(seen & kTopSource)) return InvalidField("source", "required");
  if (!deferred_data.empty()) {
    Parser sub(deferred_data, options_);
    RETURN_IF_ERROR(sub.ParseData(ev->type, &ev->data));
  }
  return ValidateEvent(*ev, options_);
}

absl::Status Parser::ParseIdentity(std::string_view field, Identity* out) {
  RETURN_IF_ERROR(ExpectType(field, json::Reader::Type::kObject, "an object"));
  r_.BeginObject();
  bool has_kind = false, has_value = false, done = false;
  std::string key;
  while (true) {
    if (!r_.NextMember(&key, &done)) return ReaderError(field);
    if (done) break;
    std::string path = StrCat(field, ".", key);
    if (key == "kind") {
      if (has_kind) return InvalidField(path, "duplicate field");
      has_kind = true;
      std::string name;
      RETURN_IF_ERROR(String(path, &name));
      auto k = IdentityKindFromName(name);
      if (!k) return InvalidField(path, StrCat("unknown identity kind \"", name, "\""));
      out->kind = *k;
    } else if (key == "value") {
      if (has_value) return InvalidField(path, "duplicate field");
      has_value = true;
      RETURN_IF_ERROR(String(path, &out->value));
    } else {
      return InvalidField(path, "unknown field");
    }
  }
  if (!has_kind) return InvalidField(StrCat(field, ".kind"), "required");
  if (!has_value) return InvalidField(StrCat(field, ".value"), "required");
  return absl::OkStatus();
}

absl::Status Parser::ParseData(EventType type, EventData* d) {
  r_.BeginObject();
  auto fields = DataFieldsOf(type);
  std::string key;
  bool done = false;
  while (true) {
    if (!r_.NextMember(&key, &done)) return ReaderError("data");
    if (done) break;
    std::string path = StrCat("data.", key);
    const DataFieldSpec* spec = nullptr;
    for (const auto& s : fields) {
      if (DataFieldName(s.field) == key) spec = &s;
    }
    if (spec == nullptr) {
      return InvalidField(path, StrCat("unknown field for type ", EventTypeName(type)));
    }
    if (d->Has(spec->field)) return InvalidField(path, "duplicate field");
    d->Set(spec->field);
    RETURN_IF_ERROR(ParseDataField(path, spec->field, d));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseDataField(std::string_view path, DataField f, EventData* d) {
  const Rule& rule = RuleOf(f);
  switch (rule.kind) {
    case Kind::kStr256:
    case Kind::kText:
    case Kind::kEnum:
    case Kind::kCurrency:
    case Kind::kTier:
    case Kind::kChannel:
      return String(path, StringMember(d, f));
    case Kind::kInt:
      return Integer(path, IntMember(d, f));
    case Kind::kBool:
      RETURN_IF_ERROR(ExpectType(path, json::Reader::Type::kBool, "true or false"));
      r_.ReadBool(&d->satisfied);
      return absl::OkStatus();
    case Kind::kTime:
      return Time(path, TimeMember(d, f));
    case Kind::kPositiveNumber:
      RETURN_IF_ERROR(ExpectType(path, json::Reader::Type::kNumber, "a number"));
      if (!r_.ReadDouble(&d->weight)) return InvalidField(path, r_.error());
      return absl::OkStatus();
    case Kind::kStrList: {
      RETURN_IF_ERROR(ExpectType(path, json::Reader::Type::kArray, "an array of strings"));
      r_.BeginArray();
      bool done = false;
      for (size_t i = 0;; ++i) {
        if (!r_.NextElement(&done)) return ReaderError(path);
        if (done) break;
        RETURN_IF_ERROR(String(StrCat(path, "[", i, "]"), &d->asks.emplace_back()));
      }
      return absl::OkStatus();
    }
    case Kind::kAnswers: {
      RETURN_IF_ERROR(ExpectType(path, json::Reader::Type::kObject, "an object of strings"));
      r_.BeginObject();
      bool done = false;
      std::string key;
      while (true) {
        if (!r_.NextMember(&key, &done)) return ReaderError(path);
        if (done) break;
        std::string sub = StrCat(path, ".", key);
        std::string text;
        RETURN_IF_ERROR(String(sub, &text));
        d->answers.emplace_back(key, std::move(text));
      }
      std::stable_sort(d->answers.begin(), d->answers.end(), [](const auto& a, const auto& b) {
        return json::Utf16Less(a.first, b.first);
      });
      for (size_t i = 1; i < d->answers.size(); ++i) {
        if (d->answers[i].first == d->answers[i - 1].first) {
          return InvalidField(StrCat(path, ".", d->answers[i].first), "duplicate key");
        }
      }
      return absl::OkStatus();
    }
    case Kind::kItems:
      return ParseItems(path, &d->items);
    case Kind::kIdentity:
      return ParseIdentity(path, &d->identity);
  }
  return absl::InternalError("unhandled data field kind");
}

absl::Status Parser::ParseItems(std::string_view path, std::vector<Item>* items) {
  RETURN_IF_ERROR(ExpectType(path, json::Reader::Type::kArray, "an array of objects"));
  r_.BeginArray();
  bool done = false;
  for (size_t i = 0;; ++i) {
    if (!r_.NextElement(&done)) return ReaderError(path);
    if (done) break;
    std::string item_path = StrCat(path, "[", i, "]");
    RETURN_IF_ERROR(ExpectType(item_path, json::Reader::Type::kObject, "an object"));
    Item& item = items->emplace_back();
    r_.BeginObject();
    bool has_sku = false, item_done = false;
    uint32_t seen = 0;
    std::string key;
    while (true) {
      if (!r_.NextMember(&key, &item_done)) return ReaderError(item_path);
      if (item_done) break;
      std::string field = StrCat(item_path, ".", key);
      uint32_t bit = key == "sku"                ? 1
                     : key == "category"         ? 2
                     : key == "quantity"         ? 4
                     : key == "unit_price_minor" ? 8
                                                 : 0;
      if (bit == 0) return InvalidField(field, "unknown field");
      if (seen & bit) return InvalidField(field, "duplicate field");
      seen |= bit;
      int64_t v;
      switch (bit) {
        case 1:
          has_sku = true;
          RETURN_IF_ERROR(String(field, &item.sku));
          break;
        case 2:
          RETURN_IF_ERROR(String(field, &item.category.emplace()));
          break;
        case 4:
          RETURN_IF_ERROR(Integer(field, &v));
          item.quantity = v;
          break;
        case 8:
          RETURN_IF_ERROR(Integer(field, &v));
          item.unit_price_minor = v;
          break;
      }
    }
    if (!has_sku) return InvalidField(StrCat(item_path, ".sku"), "required");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Validation

absl::Status ValidateDataField(const Event& ev, DataField f, const CodecOptions& options) {
  const EventData& d = ev.data;
  std::string path = StrCat("data.", DataFieldName(f));
  const Rule& rule = RuleOf(f);
  switch (rule.kind) {
    case Kind::kStr256:
      return CheckLength(path, *StringMember(d, f), 256);
    case Kind::kText:
      return CheckLength(path, *StringMember(d, f), 4096);
    case Kind::kEnum: {
      const std::string& v = *StringMember(d, f);
      for (auto allowed : rule.values) {
        if (allowed == v) return absl::OkStatus();
      }
      std::string list;
      for (auto allowed : rule.values) StrAppend(&list, list.empty() ? "" : ", ", allowed);
      return InvalidField(path, StrCat("must be one of ", list));
    }
    case Kind::kCurrency:
      if (!IsCurrency(*StringMember(d, f))) {
        return InvalidField(path, "must be an ISO 4217 currency code such as CNY");
      }
      return absl::OkStatus();
    case Kind::kTier: {
      const std::string& v = *StringMember(d, f);
      if (v.empty() || json::CodePoints(v) > 256)
        return InvalidField(path, "must be 1-256 characters");
      if (!options.tiers.empty() &&
          std::find(options.tiers.begin(), options.tiers.end(), v) == options.tiers.end()) {
        std::string list;
        for (const auto& t : options.tiers) StrAppend(&list, list.empty() ? "" : ", ", t);
        return InvalidField(path, StrCat("must be a configured tier: ", list));
      }
      return absl::OkStatus();
    }
    case Kind::kChannel:
      if (!ChannelFromName(*StringMember(d, f))) {
        return InvalidField(path,
                            "must be one of phone, email, web, store, chat, app, social, "
                            "mail, other");
      }
      return absl::OkStatus();
    case Kind::kInt: {
      int64_t v = *IntMember(const_cast<EventData*>(&d), f);
      if (v < rule.min || v > rule.max || (rule.nonzero && v == 0)) {
        if (rule.nonzero) return InvalidField(path, "must be a non-zero integer");
        if (rule.max == std::numeric_limits<int64_t>::max()) {
          return InvalidField(path, StrCat("must be an integer >= ", rule.min));
        }
        return InvalidField(path, StrCat("must be an integer from ", rule.min, " to ", rule.max));
      }
      return absl::OkStatus();
    }
    case Kind::kPositiveNumber:
      if (!(d.weight > 0) || !std::isfinite(d.weight)) {
        return InvalidField(path, "must be a number > 0");
      }
      return absl::OkStatus();
    case Kind::kBool:
    case Kind::kTime:
      return absl::OkStatus();
    case Kind::kStrList:
      for (size_t i = 0; i < d.asks.size(); ++i) {
        RETURN_IF_ERROR(CheckLength(StrCat(path, "[", i, "]"), d.asks[i], 256));
      }
      return absl::OkStatus();
    case Kind::kAnswers:
      for (const auto& [k, text] : d.answers) {
        std::string sub = StrCat(path, ".", k);
        if (k.empty() || json::CodePoints(k) > 256) {
          return InvalidField(sub, "keys must be 1-256 characters");
        }
        RETURN_IF_ERROR(CheckLength(sub, text, 4096));
      }
      return absl::OkStatus();
    case Kind::kItems:
      for (size_t i = 0; i < d.items.size(); ++i) {
        const Item& item = d.items[i];
        std::string p = StrCat(path, "[", i, "]");
        RETURN_IF_ERROR(CheckLength(StrCat(p, ".sku"), item.sku, 256));
        if (item.category) {
          RETURN_IF_ERROR(CheckLength(StrCat(p, ".category"), *item.category, 256));
        }
        if (item.quantity && *item.quantity <= 0) {
          return InvalidField(StrCat(p, ".quantity"), "must be an integer >= 1");
        }
        if (item.unit_price_minor && *item.unit_price_minor < 0) {
          return InvalidField(StrCat(p, ".unit_price_minor"), "must be an integer >= 0");
        }
      }
      return absl::OkStatus();
    case Kind::kIdentity:
      return CheckIdentity(path, d.identity);
  }
  return absl::OkStatus();
}

void RenderDataField(std::string* out, const EventData& d, DataField f) {
  const Rule& rule = RuleOf(f);
  switch (rule.kind) {
    case Kind::kStr256:
    case Kind::kText:
    case Kind::kEnum:
    case Kind::kCurrency:
    case Kind::kTier:
    case Kind::kChannel:
      json::AppendString(out, *StringMember(d, f));
      return;
    case Kind::kInt:
      json::AppendInt(out, *IntMember(const_cast<EventData*>(&d), f));
      return;
    case Kind::kBool:
      out->append(d.satisfied ? "true" : "false");
      return;
    case Kind::kTime:
      out->push_back('"');
      AppendTimestamp(out, f == F::kDueAt ? d.due_at : d.until);
      out->push_back('"');
      return;
    case Kind::kPositiveNumber:
      json::AppendDouble(out, d.weight);
      return;
    case Kind::kStrList:
      out->push_back('[');
      for (size_t i = 0; i < d.asks.size(); ++i) {
        if (i) out->push_back(',');
        json::AppendString(out, d.asks[i]);
      }
      out->push_back(']');
      return;
    case Kind::kAnswers:
      out->push_back('{');
      for (size_t i = 0; i < d.answers.size(); ++i) {
        if (i) out->push_back(',');
        json::AppendString(out, d.answers[i].first);
        out->push_back(':');
        json::AppendString(out, d.answers[i].second);
      }
      out->push_back('}');
      return;
    case Kind::kItems:
      out->push_back('[');
      for (size_t i = 0; i < d.items.size(); ++i) {
        const Item& item = d.items[i];
        if (i) out->push_back(',');
        out->push_back('{');
        if (item.category) {
          out->append("\"category\":");
          json::AppendString(out, *item.category);
          out->push_back(',');
        }
        if (item.quantity) {
          out->append("\"quantity\":");
          json::AppendInt(out, *item.quantity);
          out->push_back(',');
        }
        out->append("\"sku\":");
        json::AppendString(out, item.sku);
        if (item.unit_price_minor) {
          out->append(",\"unit_price_minor\":");
          json::AppendInt(out, *item.unit_price_minor);
        }
        out->push_back('}');
      }
      out->push_back(']');
      return;
    case Kind::kIdentity:
      out->append("{\"kind\":");
      json::AppendString(out, IdentityKindName(d.identity.kind));
      out->append(",\"value\":");
      json::AppendString(out, d.identity.value);
      out->push_back('}');
      return;
  }
}

}  // namespace

absl::StatusOr<Event> ParseEventJson(std::string_view json, const CodecOptions& options) {
  if (json.size() > options.max_event_bytes) {
    return TooLarge(StrCat("the event is ", json.size(), " bytes, over limits.max_event_bytes (",
                           options.max_event_bytes, ")"));
  }
  Event ev;
  Parser parser(json, options);
  RETURN_IF_ERROR(parser.Parse(&ev));
  return ev;
}

absl::Status ValidateEvent(const Event& ev, const CodecOptions& options) {
  RETURN_IF_ERROR(CheckAsciiId("event_id", ev.event_id));
  if (!ev.customer_id.empty()) RETURN_IF_ERROR(CheckAsciiId("customer_id", ev.customer_id));
  if (ev.customer_id.empty() && !ev.identity) {
    return InvalidField("customer_id", "customer_id or identity is required");
  }
  if (ev.identity) RETURN_IF_ERROR(CheckIdentity("identity", *ev.identity));
  RETURN_IF_ERROR(CheckLength("source", ev.source, 64));
  if (ev.actor) RETURN_IF_ERROR(CheckLength("actor", *ev.actor, 128));
  if (ev.conversation_id) {
    RETURN_IF_ERROR(CheckLength("conversation_id", *ev.conversation_id, 128));
  } else if (RequiresConversationId(ev.type)) {
    return InvalidField("conversation_id", StrCat("required for type ", EventTypeName(ev.type)));
  }
  if (ev.expected_version && *ev.expected_version < 0) {
    return InvalidField("expected_version", "must be an integer >= 0");
  }
  uint64_t allowed = 0;
  for (const auto& spec : DataFieldsOf(ev.type)) {
    allowed |= uint64_t{1} << static_cast<int>(spec.field);
    if (!ev.data.Has(spec.field)) {
      if (spec.required) {
        return InvalidField(StrCat("data.", DataFieldName(spec.field)),
                            StrCat("required for type ", EventTypeName(ev.type)));
      }
      continue;
    }
    RETURN_IF_ERROR(ValidateDataField(ev, spec.field, options));
  }
  if (ev.data.present & ~allowed) {
    for (int i = 0; i < kNumDataFields; ++i) {
      if ((ev.data.present & ~allowed) >> i & 1) {
        return InvalidField(StrCat("data.", DataFieldName(static_cast<DataField>(i))),
                            StrCat("unknown field for type ", EventTypeName(ev.type)));
      }
    }
  }
  if (ev.type == EventType::kSurveyResponse && !ev.data.Has(F::kCsat) && !ev.data.Has(F::kNps)) {
    return InvalidField("data.csat", "a survey_response needs at least one score (csat or nps)");
  }
  return absl::OkStatus();
}

CanonicalEventParts RenderCanonicalParts(const Event& ev) {
  CanonicalEventParts parts;
  std::string& h = parts.head;
  h.reserve(128);
  h.push_back('{');
  if (ev.actor) {
    h.append("\"actor\":");
    json::AppendString(&h, *ev.actor);
    h.push_back(',');
  }
  h.append("\"channel\":");
  json::AppendString(&h, ChannelName(ev.channel));
  h.push_back(',');
  if (ev.conversation_id) {
    h.append("\"conversation_id\":");
    json::AppendString(&h, *ev.conversation_id);
    h.push_back(',');
  }
  std::string& t = parts.tail;
  t.reserve(384);
  t.append("\"data\":{");
  bool first = true;
  for (const auto& spec : DataFieldsOf(ev.type)) {
    if (!ev.data.Has(spec.field)) continue;
    if (!first) t.push_back(',');
    first = false;
    json::AppendString(&t, DataFieldName(spec.field));
    t.push_back(':');
    RenderDataField(&t, ev.data, spec.field);
  }
  t.append("},\"event_id\":");
  json::AppendString(&t, ev.event_id);
  if (ev.expected_version) {
    t.append(",\"expected_version\":");
    json::AppendInt(&t, *ev.expected_version);
  }
  if (ev.identity) {
    t.append(",\"identity\":{\"kind\":");
    json::AppendString(&t, IdentityKindName(ev.identity->kind));
    t.append(",\"value\":");
    json::AppendString(&t, ev.identity->value);
    t.push_back('}');
  }
  t.append(",\"occurred_at\":\"");
  AppendTimestamp(&t, ev.occurred_at);
  t.append("\",\"source\":");
  json::AppendString(&t, ev.source);
  t.append(",\"type\":");
  json::AppendString(&t, EventTypeName(ev.type));
  t.push_back('}');
  return parts;
}

std::string RenderCanonicalEvent(const Event& event, std::string_view customer_id) {
  CanonicalEventParts parts = RenderCanonicalParts(event);
  std::string out = std::move(parts.head);
  if (!customer_id.empty()) {
    out.append("\"customer_id\":");
    json::AppendString(&out, customer_id);
    out.push_back(',');
  }
  out.append(parts.tail);
  return out;
}

}  // namespace rapport::ledger
