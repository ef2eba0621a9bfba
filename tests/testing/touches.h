// Builders for projection tests: a customer's events as Touches, and folding them.
#ifndef RAPPORT_TESTS_TESTING_TOUCHES_H_
#define RAPPORT_TESTS_TESTING_TOUCHES_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ledger/codec.h"
#include "ledger/strings.h"
#include "projections/touch.h"

namespace rapport::testing {

// A Touch from one CONTRACT §1 event in JSON (which must carry customer_id); aborts the test
// binary on a bad event (a test bug).
inline projections::Touch MakeTouch(const std::string& json, uint64_t seq, uint64_t position) {
  auto ev = ledger::ParseEventJson(json, ledger::CodecOptions{});
  if (!ev.ok()) {
    std::fprintf(stderr, "bad test event %s: %s\n", json.c_str(),
                 std::string(ev.status().message()).c_str());
    std::abort();
  }
  projections::Touch t;
  t.event = *std::move(ev);
  t.seq = seq;
  t.position = position;
  return t;
}

// `{"event_id":"<type>-<seq>","type":type,"customer_id":customer,"occurred_at":at,
//   "channel":channel,"source":"test","data":data}` plus `extra` top-level members.
inline std::string EventJson(const std::string& type, const std::string& at,
                             const std::string& data = "{}", const std::string& channel = "web",
                             const std::string& extra = "", const std::string& customer = "C-1",
                             const std::string& event_id = "") {
  static int n = 0;
  std::string id = event_id.empty() ? StrCat(type, "-", n++) : event_id;
  std::string out = StrCat("{\"event_id\":\"", id, "\",\"type\":\"", type, "\",\"customer_id\":\"",
                           customer, "\",\"occurred_at\":\"", at, "\",\"channel\":\"", channel,
                           "\",\"source\":\"test\",\"data\":", data);
  if (!extra.empty()) out += "," + extra;
  out += "}";
  return out;
}

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_TOUCHES_H_
