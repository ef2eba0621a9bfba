// The resume-from-last-conversation projection (CONTRACT §4.3): what an agent on any channel needs
// to continue a customer's conversation without asking again what is already known.
//
// ApplyResume is a pure reducer over a customer's visible events in (occurred_at, seq) order;
// RenderResume turns the state into the contract JSON as of a time at or after the last applied
// event. Only the time-relative field (`commitments[].overdue`) depends on `as_of`, so one state
// serves every such time.
//
// Where the contract is silent, the choices are (each one is also stated where it is made):
// - `last_contact` and `recent` take every event type, not only conversational ones.
// - Conversations: an event that names an open conversation (conversation_opened included) adds
//   to it — channel, last_at, topic, message — and never resets it; `conversation_closed` for a
//   conversation that is not open opens and closes it at once, so it leaves nothing. A closed
//   conversation is forgotten: a reopen starts fresh.
// - `pending_asks`: a key is answered when it is a key of `data.answers` of an outbound message
//   of the same conversation applied after it was asked; a key asked again while pending keeps its
//   place, and a key asked again after being answered is pending again, at the end. Inbound
//   answers and messages outside the conversation answer nothing (they still become facts).
// - Commitments: a repeated `commitment_made` for an open id replaces its action and due_at and
//   counts as made at the new event; fulfilling an unknown or already fulfilled id does nothing;
//   `commitment_made` after fulfilment opens it again. Order: due_at ascending, no due_at last,
//   ties in the order made (earliest first). `overdue` is false without a due_at.
// - `known_facts`: facts named `last_order_id`/`last_order_at`/`last_order_items` show until the
//   first purchase, which hides them; `last_order_items` lists the purchase's skus in item order
//   ([] when it has no items). Purchases count whatever their currency.
// - Orders: the event that starts an order gives `placed_at` and `channel`; a later purchase of
//   an open order changes neither. A closed order (delivered, cancelled, returned) stays closed:
//   later status or purchase events for its id are ignored, so its id is remembered.
// - Cases: `complaint_opened` for an open case takes the new category and severity and keeps
//   `opened_at`; for a resolved case it opens it again, fresh. Resolving an unknown case does
//   nothing.
// - `do_not_ask`: a `preference_retracted` removes the key from stated preferences only; a fact
//   of the same key stays known. Observed preferences are not "stated".
// - Ties in "newest first"/"latest first" orders are broken by apply order (later first).
#ifndef RAPPORT_PROJECTIONS_RESUME_H_
#define RAPPORT_PROJECTIONS_RESUME_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/event.h"
#include "ledger/timestamp.h"
#include "projections/rules.h"
#include "projections/touch.h"

namespace rapport::projections {

// A text that may be absent (rendered null). Clearing keeps the buffer, so the hot fields that
// are rewritten on every event (last_contact, recent) do not allocate once warm.
struct MaybeText {
  bool present = false;
  std::string text;

  void Set(std::string_view s) {
    present = true;
    text.assign(s.data(), s.size());
  }
  void Clear() { present = false; }
};

// The fields of an event that `recent` and `last_contact` show.
struct ResumeEventRef {
  ledger::Timestamp at;
  ledger::Channel channel = ledger::Channel::kOther;
  ledger::EventType type = ledger::EventType::kVisit;
  MaybeText summary;
};

struct ResumeConversation {
  std::string conversation_id;
  MaybeText topic;
  ledger::Timestamp opened_at;
  ledger::Timestamp last_at;
  // Channels in order of first use; at most one of each.
  std::array<ledger::Channel, ledger::kNumChannels> channels{};
  uint8_t num_channels = 0;
  // The latest message; meaningful when has_message.
  bool has_message = false;
  bool message_inbound = false;
  MaybeText message_summary;
  ledger::Timestamp message_at;
  ledger::Channel message_channel = ledger::Channel::kOther;
  // In order of first asking.
  std::vector<std::string> pending_asks;
};

struct ResumeCommitment {
  std::string commitment_id;
  std::string action;
  bool has_due_at = false;
  ledger::Timestamp due_at;
};

struct ResumeOrder {
  std::string order_id;
  std::string status;  // the latest order_status, else "placed"
  ledger::Timestamp placed_at;
  ledger::Channel channel = ledger::Channel::kOther;
};

struct ResumeCase {
  std::string case_id;
  std::string category;
  std::string severity;
  ledger::Timestamp opened_at;
};

// Everything needed to render the projection as of any time at or after the last applied event.
// A value type; not thread-safe to mutate while read.
struct ResumeState {
  static constexpr size_t kRecentSize = 10;

  std::string customer_id;
  uint64_t max_seq = 0;
  bool has_last_contact = false;  // false until the first event
  ResumeEventRef last_contact;
  MaybeText last_contact_actor;

  // Open conversations, least recently touched first (so ascending (last_at, seq) of their
  // latest event); rendered in reverse.
  std::vector<ResumeConversation> conversations;
  // Open commitments in the order made (earliest first).
  std::vector<ResumeCommitment> commitments;
  // fact_recorded and message answers, sorted by key (bytewise), the latest value per key.
  std::vector<std::pair<std::string, std::string>> facts;
  bool has_last_order = false;
  std::string last_order_id;
  ledger::Timestamp last_order_at;
  std::vector<std::string> last_order_items;
  // Open orders and cases in the order they started; rendered in reverse (newest first).
  std::vector<ResumeOrder> open_orders;
  std::vector<std::string> closed_order_ids;  // sorted
  std::vector<ResumeCase> open_cases;
  std::vector<std::string> stated_preference_keys;  // sorted

  // A ring of the latest events: recent[recent_next - 1] is the newest.
  std::array<ResumeEventRef, kRecentSize> recent;
  uint8_t recent_count = 0;
  uint8_t recent_next = 0;
};

// Applies one event. Events arrive in (occurred_at, seq) order. Pure: no wall clock, no I/O.
void ApplyResume(ResumeState* state, const Touch& touch, const Rules& rules);

// CONTRACT §4.3 JSON as of `as_of` (>= every applied event's occurred_at). A state with no event
// renders `customer_id`, `seq` and `last_contact` as null (the runner never stores one).
std::string RenderResume(const ResumeState& state, ledger::Timestamp as_of, const Rules& rules);

// Binary state for storage (state_codec.h), versioned. Decode resets *state and returns false on
// truncated, trailing or out-of-range input.
std::string EncodeResumeState(const ResumeState& state);
bool DecodeResumeState(std::string_view bytes, ResumeState* state);

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_RESUME_H_
