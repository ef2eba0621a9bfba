#include "projections/stored_event.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "ledger/json.h"
#include "ledger/timestamp.h"

namespace rapport::projections {
namespace {

using ledger::DataField;
using F = ledger::DataField;

// A cursor over JCS text. Every method returns false on anything the ledger does not write
// (whitespace, an escape in a key, an unexpected character), which sends the event to the strict
// parser.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool AtEnd() const { return p_ == end_; }
  bool Eat(char c) {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool PeekIs(char c) const { return p_ < end_ && *p_ == c; }

  // `"name":` where the name has no escape.
  bool Key(std::string_view* key) {
    if (!PlainString(key)) return false;
    return Eat(':');
  }

  // A string without escapes, as a view into the text.
  bool PlainString(std::string_view* out) {
    if (!Eat('"')) return false;
    const char* q = p_;
    while (q < end_ && *q != '"') {
      if (*q == '\\' || static_cast<unsigned char>(*q) < 0x20) return false;
      ++q;
    }
    if (q == end_) return false;
    *out = std::string_view(p_, static_cast<size_t>(q - p_));
    p_ = q + 1;
    return true;
  }

  // A string, unescaped as json::Reader::ReadString does for the escapes JCS writes (and `\/`);
  // a surrogate escape is left to the strict parser. UTF-8 is not re-checked.
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    out->clear();
    const char* run = p_;
    for (const char* q = p_; q < end_; ++q) {
      auto c = static_cast<unsigned char>(*q);
      if (c == '"') {
        out->append(run, q);
        p_ = q + 1;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') continue;
      out->append(run, q);
      if (++q == end_) return false;
      if (char plain = ledger::json::SimpleEscape(*q)) {
        out->push_back(plain);
      } else if (*q == 'u') {
        if (end_ - q < 5) return false;
        uint32_t cp = 0;
        for (int i = 1; i <= 4; ++i) {
          int v = ledger::json::HexValue(q[i]);
          if (v < 0) return false;
          cp = (cp << 4) | static_cast<uint32_t>(v);
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;
        ledger::json::AppendUtf8(out, cp);
        q += 4;
      } else {
        return false;
      }
      run = q + 1;
    }
    return false;
  }

  // An integer as json::Reader::ReadInt64 accepts it (no fraction, exponent or leading zero).
  bool Int(int64_t* out) {
    const char* start = p_;
    const char* q = p_;
    if (q < end_ && *q == '-') ++q;
    if (q == end_ || *q < '0' || *q > '9') return false;
    if (*q == '0' && q + 1 < end_ && q[1] >= '0' && q[1] <= '9') return false;
    auto r = std::from_chars(start, end_, *out);
    if (r.ec != std::errc()) return false;
    p_ = r.ptr;
    return p_ == end_ || (*p_ != '.' && *p_ != 'e' && *p_ != 'E' && (*p_ < '0' || *p_ > '9'));
  }

  // A number as json::Reader::ReadDouble reads it: the JSON number text through from_chars.
  bool Double(double* out) {
    const char* q = p_;
    auto digits = [&] {
      const char* s = q;
      while (q < end_ && *q >= '0' && *q <= '9') ++q;
      return q != s;
    };
    if (q < end_ && *q == '-') ++q;
    if (q == end_ || *q < '0' || *q > '9') return false;
    if (*q == '0') {
      ++q;
      if (q < end_ && *q >= '0' && *q <= '9') return false;
    } else {
      digits();
    }
    if (q < end_ && *q == '.') {
      ++q;
      if (!digits()) return false;
    }
    if (q < end_ && (*q == 'e' || *q == 'E')) {
      ++q;
      if (q < end_ && (*q == '+' || *q == '-')) ++q;
      if (!digits()) return false;
    }
    auto r = std::from_chars(p_, q, *out);
    if (r.ec != std::errc() || r.ptr != q || !std::isfinite(*out)) return false;
    p_ = q;
    return true;
  }

  bool Bool(bool* out) {
    if (end_ - p_ >= 4 && std::memcmp(p_, "true", 4) == 0) {
      p_ += 4;
      *out = true;
      return true;
    }
    if (end_ - p_ >= 5 && std::memcmp(p_, "false", 5) == 0) {
      p_ += 5;
      *out = false;
      return true;
    }
    return false;
  }

  bool Time(ledger::Timestamp* out) {
    std::string_view text;
    if (!PlainString(&text)) return false;
    auto t = ledger::ParseRfc3339(text);
    if (!t) return false;
    *out = *t;
    return true;
  }

  // Iterates the members of an object (the cursor is on its `{`): calls `member(key)` with the
  // cursor on each value, which must consume it. Duplicate keys are left to `member`.
  template <typename Fn>
  bool Object(Fn&& member) {
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    do {
      std::string_view key;
      if (!Key(&key) || !member(key)) return false;
    } while (Eat(','));
    return Eat('}');
  }

  template <typename Fn>
  bool Array(Fn&& element) {
    if (!Eat('[')) return false;
    if (Eat(']')) return true;
    do {
      if (!element()) return false;
    } while (Eat(','));
    return Eat(']');
  }

 private:
  const char* p_;
  const char* end_;
};

bool ParseIdentity(Cursor& c, ledger::Identity* out) {
  bool has_kind = false, has_value = false;
  bool ok = c.Object([&](std::string_view key) {
    if (key == "kind" && !has_kind) {
      has_kind = true;
      std::string_view name;
      if (!c.PlainString(&name)) return false;
      auto k = ledger::IdentityKindFromName(name);
      if (!k) return false;
      out->kind = *k;
      return true;
    }
    if (key == "value" && !has_value) {
      has_value = true;
      return c.String(&out->value);
    }
    return false;
  });
  return ok && has_kind && has_value;
}

bool ParseItems(Cursor& c, std::vector<ledger::Item>* items) {
  return c.Array([&] {
    ledger::Item& item = items->emplace_back();
    uint32_t seen = 0;
    bool ok = c.Object([&](std::string_view key) {
      uint32_t bit = key == "sku"                ? 1
                     : key == "category"         ? 2
                     : key == "quantity"         ? 4
                     : key == "unit_price_minor" ? 8
                                                 : 0;
      if (bit == 0 || (seen & bit)) return false;
      seen |= bit;
      int64_t v = 0;
      switch (bit) {
        case 1:
          return c.String(&item.sku);
        case 2:
          return c.String(&item.category.emplace());
        case 4:
          if (!c.Int(&v)) return false;
          item.quantity = v;
          return true;
        default:
          if (!c.Int(&v)) return false;
          item.unit_price_minor = v;
          return true;
      }
    });
    return ok && (seen & 1);
  });
}

bool ParseDataField(Cursor& c, DataField f, ledger::EventData* d) {
  if (std::string* s = ledger::StringMember(d, f)) return c.String(s);
  switch (f) {
    case F::kAmountMinor:
      return c.Int(&d->amount_minor);
    case F::kCsat:
      return c.Int(&d->csat);
    case F::kNps:
      return c.Int(&d->nps);
    case F::kPointsDelta:
    case F::kPointsRedeemed:
      return c.Int(&d->points);
    case F::kSatisfied:
      return c.Bool(&d->satisfied);
    case F::kDueAt:
      return c.Time(&d->due_at);
    case F::kUntil:
      return c.Time(&d->until);
    case F::kWeight:
      return c.Double(&d->weight);
    case F::kAsks:
      return c.Array([&] { return c.String(&d->asks.emplace_back()); });
    case F::kAnswers: {
      bool ok = c.Object([&](std::string_view key) {
        auto& [k, v] = d->answers.emplace_back();
        k.assign(key);
        return c.String(&v);
      });
      if (!ok) return false;
      // Canonical order is already the UTF-16 order the codec sorts by; keep its exact result.
      std::stable_sort(d->answers.begin(), d->answers.end(), [](const auto& a, const auto& b) {
        return ledger::json::Utf16Less(a.first, b.first);
      });
      for (size_t i = 1; i < d->answers.size(); ++i) {
        if (d->answers[i].first == d->answers[i - 1].first) return false;
      }
      return true;
    }
    case F::kItems:
      return ParseItems(c, &d->items);
    case F::kIdentity:
      return ParseIdentity(c, &d->identity);
    default:
      return false;
  }
}

bool ParseData(Cursor& c, ledger::EventType type, ledger::EventData* d) {
  auto fields = ledger::DataFieldsOf(type);
  return c.Object([&](std::string_view key) {
    const ledger::DataFieldSpec* spec = nullptr;
    for (const auto& s : fields) {
      if (ledger::DataFieldName(s.field) == key) spec = &s;
    }
    if (spec == nullptr || d->Has(spec->field)) return false;
    d->Set(spec->field);
    return ParseDataField(c, spec->field, d);
  });
}

}  // namespace

bool ParseCanonicalEventFast(std::string_view json, ledger::Event* ev) {
  // JCS sorts members, and `type` (always present) sorts last: read it first, since `data`
  // (which needs it) comes before it.
  constexpr std::string_view kTypeKey = ",\"type\":\"";
  if (json.size() < kTypeKey.size() + 3 || json.back() != '}' || json[json.size() - 2] != '"') {
    return false;
  }
  size_t name_end = json.size() - 2;
  size_t name_start = json.rfind('"', name_end - 1) + 1;
  if (name_start == 0 || name_start < kTypeKey.size() + 1 ||
      json.substr(name_start - kTypeKey.size(), kTypeKey.size()) != kTypeKey) {
    return false;
  }
  auto type = ledger::EventTypeFromName(json.substr(name_start, name_end - name_start));
  if (!type) return false;
  ev->type = *type;

  // The members before `type`, as an object of their own.
  Cursor c(json.substr(0, name_start - kTypeKey.size()));
  enum : uint32_t {
    kActor = 1 << 0,
    kChannel = 1 << 1,
    kConversation = 1 << 2,
    kCustomer = 1 << 3,
    kData = 1 << 4,
    kEventId = 1 << 5,
    kExpectedVersion = 1 << 6,
    kIdentity = 1 << 7,
    kOccurredAt = 1 << 8,
    kSource = 1 << 9,
  };
  uint32_t seen = 0;
  if (!c.Eat('{')) return false;
  if (!c.AtEnd()) {
    do {
      std::string_view key;
      if (!c.Key(&key)) return false;
      uint32_t bit = 0;
      bool ok = false;
      // In canonical order; the first letter tells most apart.
      switch (key.empty() ? '\0' : key[0]) {
        case 'a':
          if (key == "actor") bit = kActor, ok = c.String(&ev->actor.emplace());
          break;
        case 'c':
          if (key == "channel") {
            bit = kChannel;
            std::string_view name;
            if (c.PlainString(&name)) {
              auto ch = ledger::ChannelFromName(name);
              if (ch) ev->channel = *ch, ok = true;
            }
          } else if (key == "conversation_id") {
            bit = kConversation, ok = c.String(&ev->conversation_id.emplace());
          } else if (key == "customer_id") {
            bit = kCustomer, ok = c.String(&ev->customer_id);
          }
          break;
        case 'd':
          if (key == "data") bit = kData, ok = c.PeekIs('{') && ParseData(c, ev->type, &ev->data);
          break;
        case 'e':
          if (key == "event_id") {
            bit = kEventId, ok = c.String(&ev->event_id);
          } else if (key == "expected_version") {
            int64_t v = 0;
            bit = kExpectedVersion, ok = c.Int(&v);
            ev->expected_version = v;
          }
          break;
        case 'i':
          if (key == "identity") {
            bit = kIdentity, ok = c.PeekIs('{') && ParseIdentity(c, &ev->identity.emplace());
          }
          break;
        case 'o':
          if (key == "occurred_at") bit = kOccurredAt, ok = c.Time(&ev->occurred_at);
          break;
        case 's':
          if (key == "source") bit = kSource, ok = c.String(&ev->source);
          break;
        default:
          break;
      }
      if (!ok || (seen & bit)) return false;
      seen |= bit;
    } while (c.Eat(','));
  }
  // The closing brace went with `type`: the text must end here.
  if (!c.AtEnd()) return false;
  constexpr uint32_t kRequired = kChannel | kEventId | kOccurredAt | kSource;
  return (seen & kRequired) == kRequired && (seen & (kCustomer | kIdentity)) != 0;
}

std::string_view CanonicalEventJson(std::string_view c) {
  constexpr std::string_view kPrefix = "{\"customer_id\":\"";
  constexpr std::string_view kEvent = ",\"event\":";
  if (!c.starts_with(kPrefix)) return {};
  size_t i = kPrefix.size();
  while (i < c.size() && c[i] != '"') i += c[i] == '\\' ? 2 : 1;
  if (i >= c.size()) return {};
  ++i;
  if (c.substr(i, kEvent.size()) != kEvent) return {};
  size_t start = i + kEvent.size();
  // `,"event_id":` with bare quotes cannot occur inside a JSON string: the last one is ours. It
  // is ~100 bytes from the end: a plain backward scan finds it sooner than a generic search.
  constexpr std::string_view kTail = ",\"event_id\":";
  for (size_t at = c.size() - kTail.size(); at > start; --at) {
    if (c[at] == ',' && c[at + 2] == 'e' && c.compare(at, kTail.size(), kTail) == 0) {
      return c.substr(start, at - start);
    }
  }
  return {};
}

}  // namespace rapport::projections
