// Event builders for tests: small valid CONTRACT §1 events as JSON.
#ifndef RAPPORT_TESTS_TESTING_EVENTS_H_
#define RAPPORT_TESTS_TESTING_EVENTS_H_

#include <string>

#include "ledger/ledger.h"
#include "ledger/strings.h"

namespace rapport::testing {

// `{"event_id": id, "type": "inquiry", "customer_id": customer, ...}` with the extra top-level
// members `extra` (JSON text without braces, e.g. `"expected_version":0`).
inline std::string InquiryJson(const std::string& id, const std::string& customer,
                               const std::string& extra = "",
                               const std::string& occurred_at = "2026-11-20T10:15:00Z") {
  std::string out = StrCat("{\"event_id\":\"", id, "\",\"type\":\"inquiry\",");
  if (!customer.empty()) out += StrCat("\"customer_id\":\"", customer, "\",");
  out += StrCat("\"occurred_at\":\"", occurred_at,
                "\",\"channel\":\"chat\",\"source\":\"test\",\"data\":{\"topic\":\"delivery\"}");
  if (!extra.empty()) out += "," + extra;
  out += "}";
  return out;
}

// Parses and prepares `json`; aborts the test binary on a bad event (a test bug).
inline ledger::PreparedEvent Prepared(const std::string& json) {
  auto p = ledger::ParseAndPrepare(json, ledger::CodecOptions{});
  if (!p.ok()) {
    std::fprintf(stderr, "bad test event %s: %s\n", json.c_str(),
                 std::string(p.status().message()).c_str());
    std::abort();
  }
  return *std::move(p);
}

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_EVENTS_H_
