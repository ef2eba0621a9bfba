// The workload model of `rapport gen`.
//
// A retail-and-hospitality brand with `customers` named customers, from 2025-01-01 over about 18
// months. Sessions arrive at a rate that follows the time of day in China (UTC+8) and is scaled
// so that the requested number of events spans the whole period, whatever that number is. A
// session belongs to a customer drawn from a Zipf distribution (s = 1.125; ranks are scattered
// over the ids by a fixed permutation so that hot customers are not all C-000001…) or, for a few,
// to an anonymous visitor, and is a short script of related events a few minutes apart: browsing
// with observed preferences, a purchase, a support conversation, a complaint, stated or retracted
// preferences, facts, surveys, loyalty operations, consent and tag changes, identity updates.
//
// Consequences are scheduled as follow-up tasks hours or days ahead: order status progression
// (placed → confirmed → shipped → delivered, some cancelled or returned) with full and partial
// refunds that never exceed what is left of the order; conversations opened on chat that continue
// by email, phone or app (inbound `asks`, later outbound `answers`) until closed, and sometimes
// reopen; complaints resolved; commitments fulfilled around their due date; surveys after
// deliveries and support. Anonymous browsing carries only a web cookie, and a later login links it
// to the customer with `identity_linked`; some events carry an identity next to `customer_id`,
// written the way producers do (mixed-case emails with spaces, phones with punctuation).
//
// Every task sits in one min-heap keyed by event time, so the output is in event-time order and
// each decision is taken when its event is rendered. An order or a conversation is owned by one
// chain of tasks that hands its state on, so it progresses consistently however many a customer
// has in flight; refunds follow from the order's own amount and never exceed it. About 1% of
// rendered events are held back and released 1-12 hours later, as late arrivals.
//
// Memory: a 28-byte record and an 8-byte Zipf entry per customer, pending tasks capped at
// 2^20 + 16 per customer (far above what chains lasting days need), late events capped at 4096.
// Determinism across platforms: integer arithmetic and correctly rounded IEEE operations (+ - * /
// sqrt) only, no libm transcendental functions or <random> distributions (implementation-defined),
// unique heap keys, and never two random draws in one expression (see Generator::Soon).
#include "tools/gen.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <queue>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ledger/event.h"
#include "ledger/json.h"
#include "ledger/strings.h"
#include "ledger/timestamp.h"

namespace rapport::tools {
namespace {

using ledger::Channel;
using ledger::EventType;
using ledger::IdentityKind;
namespace json = ledger::json;

// ---------------------------------------------------------------------------------------------
// Randomness

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A stateless hash, for per-customer traits that must not depend on the order of generation.
uint64_t Mix(uint64_t x) { return SplitMix64(&x); }

// xoshiro256** (Blackman & Vigna): a few cycles per number, and every mapping to a range below is
// spelled out here, because the <random> distributions differ between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) s = SplitMix64(&seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) for 1 <= n < 2^32: Lemire's multiply-shift on the top 32 bits. Its bias
  // (below n / 2^32) is invisible in a workload, and it needs no division.
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(((Next() >> 32) * n) >> 32); }
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(uint32_t per_mille) { return Below(1000) < per_mille; }
  // Uniform in [0, 1): 53 random bits scaled by a power of two, which is exact.
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1p-53; }

  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(static_cast<uint32_t>(N))];
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Ranks 0..n-1 with P(rank k) proportional to (k+1)^-1.125, by binary search in a cumulative
// table: 8 bytes per customer and about 20 probes for a million customers.
class ZipfSampler {
 public:
  explicit ZipfSampler(uint32_t n) {
    cdf_.reserve(n);
    double sum = 0;
    for (uint32_t k = 1; k <= n; ++k) {
      const double x = k;
      // x^-1.125 = 1 / (x * x^(1/8)). IEEE 754 rounds sqrt, * and / exactly, unlike std::pow, so
      // the table is bit-identical everywhere; 1.125 is the exponent nearest the customary 1.1
      // that square roots reach.
      const double root8 = std::sqrt(std::sqrt(std::sqrt(x)));
      sum += 1.0 / (x * root8);
      cdf_.push_back(sum);
    }
  }

  uint32_t Sample(Rng& rng) const {
    const double u = rng.Unit() * cdf_.back();
    auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    if (it == cdf_.end()) --it;
    return static_cast<uint32_t>(it - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

// ---------------------------------------------------------------------------------------------
// Time

constexpr int64_t kSecond = ledger::kMicrosPerSecond;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = ledger::kMicrosPerDay;
constexpr int64_t kStart = 1'735'689'600 * kSecond;  // 2025-01-01T00:00:00Z
constexpr int64_t kSpan = 546 * kDay;                // to 2026-07-01: about 18 months

// Relative session rate per local hour (UTC+8): quiet nights, busy evenings. All non-zero.
constexpr int64_t kHourlyActivity[24] = {3,  2,  1,  1,  1,  2,  4,  8,  12, 14, 15, 16,
                                         16, 15, 15, 15, 16, 17, 19, 21, 21, 18, 12, 6};

// Events per session, follow-ups included, as measured on this model; it sets the initial session
// rate, which a feedback loop then corrects.
constexpr int64_t kEventsPerSessionX100 = 304;

// How producers stamp times: most systems to the second, analytics to the millisecond, the POS
// to the microsecond (the "some timestamps with fractional seconds").
enum class Precision { kSeconds, kMillis, kMicros };

int64_t Truncate(int64_t at, Precision p) {
  switch (p) {
    case Precision::kSeconds:
      return at - at % kSecond;
    case Precision::kMillis:
      return at - at % 1000;
    case Precision::kMicros:
      return at;
  }
  return at;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary. Small tables combined at random, so texts look real without being large.

struct Category {
  std::string_view name;
  std::string_view sku_prefix;
  int64_t base_price;  // CNY fen
  uint32_t max_quantity;
  std::string_view display;
};
constexpr Category kCategories[] = {
    {"computers", "PC", 599900, 1, "laptops"}, {"phones", "PH", 399900, 1, "phones"},
    {"audio", "AU", 99900, 2, "headphones"},   {"home", "HM", 29900, 3, "home textiles"},
    {"kitchen", "KT", 39900, 2, "cookware"},   {"beauty", "BT", 15900, 3, "skincare"},
    {"apparel", "AP", 39900, 3, "jackets"},    {"shoes", "SH", 69900, 2, "sneakers"},
    {"books", "BK", 6900, 3, "books"},         {"toys", "TY", 12900, 2, "building sets"},
    {"grocery", "GR", 4900, 6, "snacks"},      {"sports", "SP", 29900, 2, "running gear"},
    {"wine", "WN", 29800, 6, "Riesling"},      {"coffee", "CF", 8800, 4, "coffee beans"},
};
constexpr uint32_t kNumCategories = std::size(kCategories);
constexpr uint32_t kSkusPerCategory = 8;

constexpr std::string_view kCurrencies[] = {"CNY", "USD", "EUR"};

constexpr std::string_view kStores[] = {
    "Shanghai Jing'an",  "Beijing Sanlitun", "Shenzhen Futian", "Hangzhou West Lake",
    "Chengdu Taikoo Li", "Guangzhou Tianhe", "上海徐汇店",      "Hong Kong Causeway Bay",
};

constexpr std::string_view kGivenNames[] = {
    "wei",  "fang", "na",   "min",   "jing",  "lei",  "yang",  "jun",  "tao",  "hui",
    "ling", "xin",  "anna", "david", "lucas", "emma", "sofia", "omar", "yuki", "marco",
};
constexpr std::string_view kFamilyNames[] = {
    "wang", "li",  "zhang", "liu", "chen", "yang",  "huang",  "zhao",   "wu",    "zhou",
    "xu",   "sun", "ma",    "zhu", "lin",  "smith", "muller", "garcia", "rossi", "kim",
};
constexpr std::string_view kEmailDomains[] = {"example.com", "mail.example.cn", "example.org",
                                              "corp.example.net"};

// Preference keys and their values.
constexpr std::string_view kDeliveryTimes[] = {"morning", "afternoon", "evening", "weekend"};
constexpr std::string_view kContactChannels[] = {"email", "phone", "app", "wechat", "sms"};
constexpr std::string_view kLanguages[] = {"zh-CN", "en", "zh-HK", "ja"};
constexpr std::string_view kWineServings[] = {"one ice cube", "chilled", "room temperature",
                                              "decanted"};
constexpr std::string_view kPillows[] = {"firm", "soft", "buckwheat"};
constexpr std::string_view kApparelSizes[] = {"XS", "S", "M", "L", "XL"};
constexpr std::string_view kShoeSizes[] = {"36", "37", "38", "39", "40", "41", "42", "43", "44"};
constexpr std::string_view kYesNo[] = {"yes", "no"};
constexpr std::string_view kNewsletters[] = {"weekly", "monthly", "never"};
constexpr std::string_view kPaymentMethods[] = {"alipay", "wechat_pay", "card", "cash"};
constexpr std::string_view kColors[] = {"black", "white", "navy", "red", "green", "beige"};

enum PrefKeyId : uint32_t {
  kPrefDeliveryTime,
  kPrefContactChannel,
  kPrefLanguage,
  kPrefWineServing,
  kPrefPillow,
  kPrefApparelSize,
  kPrefShoeSize,
  kPrefGiftWrap,
  kPrefNewsletter,
  kPrefPaymentMethod,
  kPrefColor,
  kPrefFavoriteCategory,  // values: category names
  kPrefHomeStore,         // values: store names
};
struct PrefKey {
  std::string_view key;
  std::span<const std::string_view> values;
};
constexpr PrefKey kPrefKeys[] = {
    {"delivery_time", kDeliveryTimes},
    {"contact_channel", kContactChannels},
    {"language", kLanguages},
    {"wine_serving", kWineServings},
    {"pillow", kPillows},
    {"apparel_size", kApparelSizes},
    {"shoe_size", kShoeSizes},
    {"gift_wrap", kYesNo},
    {"newsletter", kNewsletters},
    {"payment_method", kPaymentMethods},
    {"color", kColors},
    {"favorite_category", {}},
    {"home_store", {}},
};
constexpr uint32_t kNumPrefKeys = std::size(kPrefKeys);
// The keys behaviour reveals (preference_observed), favourite category the most.
constexpr PrefKeyId kObservableKeys[] = {
    kPrefDeliveryTime, kPrefApparelSize,      kPrefShoeSize,         kPrefPaymentMethod,
    kPrefColor,        kPrefFavoriteCategory, kPrefFavoriteCategory, kPrefFavoriteCategory,
    kPrefHomeStore};

constexpr std::string_view kWeights[] = {"0.25", "0.5", "1", "1", "1.5", "2", "3"};

// Questions a customer asks (inbound `asks`) and what an agent answers (outbound `answers`).
enum AskId : uint32_t {
  kAskDeliveryEta,
  kAskReturnPolicy,
  kAskWarrantyPeriod,
  kAskStoreHours,
  kAskStockStatus,
  kAskRefundStatus,
  kAskPriceMatch,
  kAskInvoice,
  kAskPointsBalance,
  kAskSizeAdvice,
  kAskPairingAdvice,
  kAskAppointmentSlot,
};
struct AskKey {
  std::string_view key;
  std::string_view phrase;
  std::string_view answers[3];
};
constexpr AskKey kAskKeys[] = {
    {"delivery_eta",
     "when the parcel will arrive",
     {"Arrives Thursday between 18:00 and 21:00", "Out for delivery today",
      "Ships within 48 hours"}},
    {"return_policy",
     "how returns work",
     {"30-day free returns with the receipt", "Unworn items can be returned within 30 days",
      "Returns accepted in any store"}},
    {"warranty_period",
     "how long the warranty lasts",
     {"Two years, parts and labour", "One year, extendable to three", "Covered until 2027-03"}},
    {"store_hours",
     "the opening hours",
     {"10:00-22:00 every day", "Until 21:30 on weekdays", "Closed on Spring Festival eve"}},
    {"stock_status",
     "whether the item is in stock",
     {"In stock at the Jing'an store", "Back in stock next week", "Two left online"}},
    {"refund_status",
     "where the refund is",
     {"Refund issued; 3-5 working days to reach the card", "Refund approved today",
      "Waiting for the courier scan"}},
    {"price_match",
     "whether we match a lower price",
     {"We match verified online prices within 14 days", "Difference credited as points",
      "Not eligible: marketplace seller"}},
    {"invoice",
     "how to get a VAT invoice",
     {"VAT invoice emailed", "Invoice available under My Orders", "Paper invoice posted today"}},
    {"points_balance",
     "the points balance",
     {"Balance shown in the app under Rewards", "Points post 24 hours after delivery",
      "Expiring points listed under Rewards"}},
    {"size_advice",
     "which size to take",
     {"Runs small: take one size up", "True to size", "A wide fit is available"}},
    {"pairing_advice",
     "what to serve with dinner",
     {"A chilled Riesling with one ice cube, as you like it", "Pinot Noir at 16 C",
      "A dry sherry with the starters"}},
    {"appointment_slot",
     "a slot with a stylist",
     {"Saturday 15:00 confirmed", "Tomorrow 11:30 with Mei", "Next Monday 19:00"}},
};
constexpr uint32_t kNumAskKeys = std::size(kAskKeys);

// What a customer tells an agent (inbound `answers`); they become known facts.
struct InfoKey {
  std::string_view key;
  std::string_view phrase;
  std::string_view values[4];
};
constexpr InfoKey kInfoKeys[] = {
    {"delivery_address",
     "a delivery address",
     {"Room 1203, 88 Century Avenue, Shanghai", "Building 5, 16 Sanlitun Road, Beijing",
      "Flat 7B, 3 Harbour Road, Hong Kong", "12 Wenyi West Road, Hangzhou"}},
    {"preferred_contact_time",
     "the best time to call",
     {"after 19:00", "weekday mornings", "lunch time only", "any time"}},
    {"device_model", "the phone model", {"iPhone 15", "Mate 60 Pro", "Galaxy S24", "Xiaomi 14"}},
    {"delivery_instructions",
     "delivery instructions",
     {"Leave with the concierge", "Call before arriving", "Parcel locker at the gate",
      "Do not ring: baby sleeping"}},
};

constexpr uint16_t AskBits(std::initializer_list<AskId> ids) {
  uint16_t bits = 0;
  for (AskId id : ids) bits = static_cast<uint16_t>(bits | 1u << id);
  return bits;
}

// Conversation topics, the questions that come with them, and what customers say about them.
enum TopicId : uint8_t {
  kTopicDeliveryDelay,
  kTopicProductQuestion,
  kTopicWarrantyClaim,
  kTopicBillingQuestion,
  kTopicMembershipBenefits,
  kTopicReturnRequest,
  kTopicStoreAppointment,
  kTopicGiftRecommendation,
  kTopicAppLoginProblem,
  kTopicWinePairing,
  kTopicServiceComplaint,
};
struct Topic {
  std::string_view name;
  uint16_t asks;  // AskBits a customer may ask about
  std::string_view details[3];
};
constexpr Topic kTopics[] = {
    {"delivery delay",
     AskBits({kAskDeliveryEta, kAskRefundStatus}),
     {"the courier app shows no movement", "it was promised for Monday",
      "the tracking number does not work"}},
    {"product question",
     AskBits({kAskWarrantyPeriod, kAskStockStatus, kAskSizeAdvice}),
     {"comparing two models", "the colour looks different online", "needs it before a trip"}},
    {"warranty claim",
     AskBits({kAskWarrantyPeriod, kAskInvoice}),
     {"the hinge cracked", "the battery drains overnight", "the left earbud stopped charging"}},
    {"billing question",
     AskBits({kAskRefundStatus, kAskPriceMatch, kAskInvoice}),
     {"charged twice", "the coupon was not applied", "the invoice shows the wrong company name"}},
    {"membership benefits",
     AskBits({kAskPriceMatch, kAskPointsBalance}),
     {"points from last order missing", "asks about the gold tier", "wants to merge two accounts"}},
    {"return request",
     AskBits({kAskReturnPolicy, kAskRefundStatus}),
     {"the size does not fit", "changed their mind", "the box arrived damaged"}},
    {"store appointment",
     AskBits({kAskStoreHours, kAskAppointmentSlot}),
     {"a fitting before a wedding", "a personal shopping session", "a laptop set-up appointment"}},
    {"gift recommendation",
     AskBits({kAskStockStatus, kAskPairingAdvice}),
     {"an anniversary present", "a gift for a colleague", "something for a ten-year-old"}},
    {"app login problem",
     AskBits({kAskPointsBalance}),
     {"the verification SMS never arrives", "logged out after every update",
      "cannot bind the card"}},
    {"wine pairing",
     AskBits({kAskPairingAdvice}),
     {"a dinner for six on Saturday", "a hotpot evening", "a birthday with spicy food"}},
    {"service complaint",
     AskBits({kAskStoreHours, kAskRefundStatus}),
     {"wants to speak to a manager", "was kept waiting for an hour",
      "was given wrong information"}},
};
constexpr uint32_t kNumTopics = std::size(kTopics);

constexpr std::string_view kAgentLeads[] = {"Agent replied", "Agent confirmed", "Agent followed up",
                                            "Agent explained"};
constexpr std::string_view kAgentPending[] = {
    "checking with the warehouse before promising a date",
    "waiting for the customer to send photos",
    "asked the store team to call the customer",
    "needs the order number to look it up",
};
constexpr std::string_view kAgentNext[] = {
    " Will follow up by phone tomorrow.",
    " Shared the courier hotline 400-820-0000.",
    " Offered 200 points for the trouble.",
    " Sent a link to the returns form.",
    " Noted that the customer prefers evening calls.",
    " Apologised for the wait and thanked the customer for their patience.",
    " Added a note to the customer profile.",
    " Confirmed the contact number on file.",
};
constexpr std::string_view kInboundContext[] = {
    " Second time asking this week.",
    " Prefers a reply by email.",
    " Polite, in no hurry.",
    " Sounds frustrated.",
    " Writing in English.",
    " Needs it before the weekend.",
    " Has been a member for years.",
    " Shared a screenshot.",
    "",
};
constexpr std::string_view kInboundFollowUps[] = {
    "Customer thanks the agent and asks to keep the case open",
    "Customer says the problem persists",
    "Customer confirms the details",
    "Customer asks for an update",
    "Customer says \"still waiting\"",
};
constexpr std::string_view kCloseSummaries[] = {
    "Issue solved on first contact; the customer thanked the agent",
    "Customer satisfied with the answer and the follow-up",
    "No reply from the customer for 7 days; closed automatically",
    "Handed over to the store team, who will contact the customer directly",
    "Closed after the customer confirmed nothing else was needed"};

constexpr std::string_view kCommitmentActions[] = {"Call back with a delivery update",
                                                   "Send a replacement unit",
                                                   "Email the VAT invoice",
                                                   "Arrange a courier pickup for the return",
                                                   "Reserve the item at the store",
                                                   "Credit 500 points after verification",
                                                   "Escalate to the warehouse team"};

struct ComplaintCategory {
  std::string_view name;
  TopicId topic;  // of the conversation around it
  std::string_view summaries[3];
  std::string_view resolutions[3];
};
constexpr ComplaintCategory kComplaintCategories[] = {
    {"delivery",
     kTopicDeliveryDelay,
     {"Parcel left in the rain", "Delivered a week late", "Courier was rude"},
     {"Refunded the shipping fee", "Courier company warned", "Apology and coupon issued"}},
    {"product_quality",
     kTopicWarrantyClaim,
     {"Stitching came apart after one wash", "Screen has a dead pixel", "Wine was corked"},
     {"Replacement sent", "Refund issued", "Repaired under warranty"}},
    {"billing",
     kTopicBillingQuestion,
     {"Charged twice for one order", "Promotion price not applied", "Invoice never arrived"},
     {"Duplicate charge reversed", "Difference refunded", "Invoice re-sent"}},
    {"staff",
     kTopicServiceComplaint,
     {"Associate ignored the customer", "Hotline agent hung up", "Pushy upselling in store"},
     {"Store manager apologised", "Agent coached", "Explained the policy"}},
    {"app",
     kTopicAppLoginProblem,
     {"App crashes at checkout", "Points not shown in the app", "Cannot change the address"},
     {"Fixed in app version 5.2", "Points re-synced", "Address changed by the agent"}},
};

constexpr std::string_view kSeverities[] = {"low", "medium", "medium", "high"};
constexpr std::string_view kComplaintWants[] = {
    "; wants a replacement before Saturday",       "; asks for a full refund",
    "; expects an apology from the manager",       "; threatens to post a review",
    "; first complaint in five years as a member", ""};

struct Fact {
  std::string_view key;
  std::string_view values[4];
};
constexpr Fact kFactKeys[] = {
    {"birthday", {"03-14", "07-22", "11-05", "01-30"}},
    {"anniversary", {"05-20", "10-01", "02-14", "08-08"}},
    {"household_size", {"1", "2", "3", "4"}},
    {"pet", {"dog", "cat", "none", "rabbit"}},
    {"car", {"BYD Han", "Tesla Model 3", "none", "NIO ET5"}},
    {"allergy", {"peanuts", "none", "lactose", "shellfish"}},
    {"employer", {"Example Bank", "a hospital", "self-employed", "a design studio"}},
    {"children", {"0", "1", "2", "twins, age 4"}},
};

constexpr std::string_view kSurveyComments[] = {
    "Fast delivery, well packed, and the courier called ahead as I asked",
    "The agent was very helpful and did not make me repeat my order number",
    "Too long on hold, but the problem was solved in the end",
    "很满意，会再来。店员记得我的尺码。",
    "Checkout was confusing: the coupon field is hidden behind the payment step",
    "Great wine selection, and the sommelier remembered the one ice cube",
    "The app keeps logging me out whenever I switch to WeChat",
    "Store staff remembered my size and had the jacket ready in the fitting room",
};

constexpr std::string_view kPositivePointReasons[] = {
    "Birthday bonus", "Double points weekend", "Welcome bonus", "Review reward", "Referral bonus"};
constexpr std::string_view kNegativePointReasons[] = {"Correction of a duplicate credit",
                                                      "Reversal after order cancellation",
                                                      "Manual adjustment after audit"};
constexpr std::string_view kRewards[] = {"Coffee voucher", "Free shipping coupon", "¥50 gift card",
                                         "Wine tasting ticket", "Extended warranty"};

constexpr std::string_view kConsentPurposes[] = {"marketing", "analytics", "personalization",
                                                 "third_party_sharing", "product_research"};
constexpr Channel kConsentChannels[] = {Channel::kEmail, Channel::kPhone,  Channel::kApp,
                                        Channel::kMail,  Channel::kSocial, Channel::kWeb};

constexpr std::string_view kTagNames[] = {
    "vip",           "price_sensitive", "frequent_returner", "gift_buyer",
    "early_adopter", "wine_lover",      "new_parent",        "b2b",
    "at_risk",       "influencer"};
constexpr uint32_t kNumTags = std::size(kTagNames);

struct Subject {
  std::string_view topic;
  std::string_view summaries[2];
};
constexpr Subject kInquiries[] = {
    {"store hours",
     {"Asked whether the store opens on the public holiday", "Asked about late opening"}},
    {"stock availability",
     {"Asked if the size is available in another store", "Asked when the new colour arrives"}},
    {"price match", {"Saw a lower price on a marketplace", "Asked about the price guarantee"}},
    {"delivery options",
     {"Asked about same-day delivery", "Asked if delivery to Macau is possible"}},
    {"gift cards", {"Asked how to top up a gift card", "Asked if gift cards expire"}},
    {"corporate orders", {"Wants 40 gift boxes for staff", "Asked for a company invoice"}},
    {"wine tasting events", {"Asked for the next tasting date", "Asked to bring a guest"}},
    {"repair service", {"Asked how long a screen repair takes", "Asked about a repair quote"}},
};
constexpr Subject kSuggestions[] = {
    {"app", {"Add a dark mode", "Show points next to each product"}},
    {"stores", {"Open earlier on weekends", "Add more fitting rooms"}},
    {"delivery", {"Offer evening delivery slots", "Use less plastic in the packaging"}},
    {"loyalty", {"Let family members share points", "Make points last longer"}},
    {"assortment", {"Stock more natural wines", "Bring back the old coffee blend"}},
};

constexpr std::string_view kVisitSummaries[] = {
    "Browsed with an associate",        "Tried on two sizes", "Picked up a click-and-collect order",
    "Compared prices with the website", "Asked for a demo",   "Looked at the new collection"};
constexpr std::string_view kVisitOutcomes[] = {
    "left without buying", "will come back at the weekend", "asked to be told when it is on sale",
    "took a brochure",     "bought nothing today",          "reserved one for Saturday"};
constexpr std::string_view kUtmSources[] = {"wechat", "baidu",       "newsletter",
                                            "weibo",  "xiaohongshu", "douyin"};
constexpr std::string_view kUtmMediums[] = {"social", "cpc", "email", "referral"};
constexpr std::string_view kCampaigns[] = {"spring-sale",  "618-festival", "double-11",
                                           "new-arrivals", "members-week", "mid-autumn-gifts"};
constexpr std::string_view kBrowseDetails[] = {
    "sorted by price",      "filtered by size M",        "read the reviews",
    "compared two models",  "watched the product video", "checked delivery to the home address",
    "opened the size guide"};
constexpr std::string_view kAppRefs[] = {"home_feed", "search", "push", "wishlist", "banner"};

// ---------------------------------------------------------------------------------------------
// Per-customer state: fixed size, so memory is bounded by the number of customers. Orders and
// conversations in progress are not here: each is carried by its own chain of tasks.

enum OrderStatus : uint8_t { kPlaced, kConfirmed, kShipped, kDelivered, kCancelled, kReturned };
constexpr std::string_view kOrderStatusNames[] = {"placed",    "confirmed", "shipped",
                                                  "delivered", "cancelled", "returned"};

// The latest order, which customers and agents mention in messages.
struct RecentOrder {
  uint32_t no = 0;  // 0: none yet
  int32_t amount = 0;
  uint8_t status = kPlaced;
  uint8_t currency = 0;  // index in kCurrencies
  Channel channel = Channel::kWeb;
};

struct CustomerState {
  RecentOrder last_order;
  uint32_t next_ref = 0;   // numbers the customer's orders, conversations, cases and commitments
  int32_t points = 0;      // a rough balance, so that redemptions look plausible
  uint16_t tags = 0;       // assigned tags (bits of kTagNames)
  uint16_t stated = 0;     // stated preference keys (bits of kPrefKeys)
  uint8_t cookie_gen = 0;  // the browser cookie in use; a new device bumps it
  uint8_t card_gen = 0;    // loyalty cards issued after the first
  bool cookie_linked = false;  // whether the ledger already resolves the cookie to the customer
};

// ---------------------------------------------------------------------------------------------
// Tasks

enum class Scenario : uint8_t {
  // Sessions, started at the session arrival rate.
  kBrowse,
  kAnonymousBrowse,
  kVisitor,
  kPurchase,
  kSupport,
  kComplaint,
  kPreferences,
  kFacts,
  kSurvey,
  kLoyalty,
  kConsent,
  kTags,
  kInquiry,
  kSuggestion,
  kIdentityUpdate,
  // Follow-ups, scheduled by other tasks.
  kOrderUpdate,
  kRefund,
  kConversationFollowUp,
  kConversationReopen,
  kCaseResolution,
  kCommitmentDue,
  kFeedbackSurvey,
};

// Session mix, per mille of customer sessions.
constexpr std::pair<Scenario, uint32_t> kSessionMix[] = {
    {Scenario::kBrowse, 210},    {Scenario::kAnonymousBrowse, 70},
    {Scenario::kPurchase, 150},  {Scenario::kSupport, 130},
    {Scenario::kComplaint, 35},  {Scenario::kPreferences, 60},
    {Scenario::kFacts, 30},      {Scenario::kSurvey, 35},
    {Scenario::kLoyalty, 45},    {Scenario::kConsent, 30},
    {Scenario::kTags, 30},       {Scenario::kInquiry, 90},
    {Scenario::kSuggestion, 20}, {Scenario::kIdentityUpdate, 15},
};
constexpr uint32_t kVisitorSessionsPerMille = 40;

// kFeedbackSurvey kinds (Task::aux).
enum SurveyKind : uint32_t { kPostPurchase, kSupportCsat };

// Task::flags of order tasks.
constexpr uint8_t kReturnComing = 1;  // kOrderUpdate: the delivered order will be sent back
constexpr uint8_t kPartial = 2;       // kRefund: part of the order, not what is left of it

// One step of a scenario. An order or a conversation is owned by a single chain of tasks, each
// handing its state to the next, so that it progresses consistently however many the customer
// has in flight.
struct Task {
  int64_t at;      // when its next event occurs
  uint64_t seq;    // insertion order: breaks ties deterministically
  uint32_t who;    // customer index, or visitor number for kVisitor
  uint32_t ref;    // the order, conversation, case or commitment number
  uint32_t aux;    // survey kind, complaint category, an order's smallest line amount
  int32_t amount;  // orders: the amount in minor units
  Scenario scenario;
  uint8_t step;      // position in the scenario's script
  Channel channel;   // of the next event; an order's sales channel
  uint8_t status;    // orders: OrderStatus
  uint8_t currency;  // orders: index in kCurrencies
  uint8_t topic;     // conversations: index in kTopics
  uint8_t rounds;    // conversations: follow-up rounds so far, so that they end
  uint8_t flags;     // orders: kReturnComing, kPartial
  uint16_t asks;     // conversations: pending inbound asks (bits of kAskKeys)
};

struct LaterFirst {
  bool operator()(const Task& a, const Task& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

// An event rendered on time but delivered late.
struct Delayed {
  int64_t release;
  uint64_t seq;
  std::string line;
};
struct LaterRelease {
  bool operator()(const Delayed& a, const Delayed& b) const {
    return a.release != b.release ? a.release > b.release : a.seq > b.seq;
  }
};
// Bounds the memory of late arrivals; beyond it events are delivered on time.
constexpr size_t kMaxDelayed = 4096;

constexpr int64_t kDone = -1;

void AppendPadded(std::string* out, uint64_t v, int width) {
  char buf[20];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int i = n; i < width; ++i) out->push_back('0');
  while (n > 0) out->push_back(buf[--n]);
}

std::string_view SourceOf(Channel c) {
  switch (c) {
    case Channel::kPhone:
      return "callcenter";
    case Channel::kEmail:
      return "helpdesk";
    case Channel::kWeb:
      return "web";
    case Channel::kStore:
      return "store-crm";
    case Channel::kChat:
      return "livechat";
    case Channel::kApp:
      return "app";
    case Channel::kSocial:
      return "wechat";
    case Channel::kMail:
      return "mailroom";
    case Channel::kOther:
      return "crm-console";
  }
  return "crm-console";
}

// ---------------------------------------------------------------------------------------------
// The generator

// Owns the whole workload state for one GenerateWorkload call. Not thread-safe.
class Generator {
 public:
  Generator(const GenOptions& options, const std::function<void(std::string_view)>& sink);
  void Run();

 private:
  // ---- Scheduling
  void StartSession(int64_t at);
  void AdvanceSessionClock();
  static int64_t AddActiveTime(int64_t at, int64_t active);
  void Schedule(Task t);
  // Schedules scenario `s` at `at`, carrying `t`'s state (conversation, order) along.
  void FollowUp(Task t, Scenario s, int64_t at);
  void RunTask(Task t);
  void Deliver(int64_t at);
  int64_t Step(Task& t);
  // NOTE: C++ leaves the order of function arguments and of operands such as `+` unspecified,
  // and compilers differ, so an expression never draws twice from rng_; draws go to locals or
  // separate statements, which keeps the output identical everywhere.
  int64_t Soon() { return Seconds(20, 300); }
  int64_t Hours(int64_t lo, int64_t hi) { return Seconds(lo * 3600, hi * 3600); }
  // [lo, hi] seconds with a random fraction.
  int64_t Seconds(int64_t lo, int64_t hi) {
    const int64_t whole = rng_.Range(lo, hi) * kSecond;
    return whole + rng_.Below(1'000'000);
  }
  uint32_t CustomerAt(uint32_t rank) const {
    return static_cast<uint32_t>((rank * perm_mul_ + perm_add_) % customers_);
  }
  uint64_t Trait(uint32_t c, uint64_t salt) const {
    return Mix(world_ ^ (uint64_t{c} * 0x9E3779B97F4A7C15ULL) ^ salt);
  }

  // ---- Scenarios: each renders the event of `t.step` (or nothing) and returns the delay to its
  // next step, or kDone.
  int64_t Browse(Task& t);
  int64_t AnonymousBrowse(Task& t);
  int64_t Visitor(Task& t);
  int64_t Purchase(Task& t);
  int64_t Support(Task& t);
  int64_t Complaint(Task& t);
  int64_t Preferences(Task& t);
  int64_t Facts(Task& t);
  int64_t Survey(Task& t);
  int64_t Loyalty(Task& t);
  int64_t Consent(Task& t);
  int64_t Tags(Task& t);
  int64_t Inquiry(Task& t);
  int64_t Suggestion(Task& t);
  int64_t IdentityUpdate(Task& t);
  int64_t OrderUpdate(Task& t);
  int64_t Refund(Task& t);
  int64_t ConversationFollowUp(Task& t);
  int64_t ConversationReopen(Task& t);
  int64_t CaseResolution(Task& t);
  int64_t CommitmentDue(Task& t);
  int64_t FeedbackSurvey(Task& t);

  // ---- Event pieces shared by scenarios
  void VisitEvent(const Task& t, bool with_customer, bool with_cookie, bool visitor);
  void ObservedPreferenceEvent(const Task& t, bool with_customer, bool visitor);
  void PointsAdjustedEvent(const Task& t, int64_t points, std::string_view reason);
  void SurveyEvent(const Task& t, std::string_view survey, bool csat, bool nps, Channel channel);
  // Conversation events: the conversation is `t.ref` on `t.channel`, its state in `t`.
  void ConversationOpenedEvent(Task& t, bool reopened);
  void InboundAsks(Task& t);
  void OutboundMessage(Task& t);
  void InboundInfo(Task& t);
  void CloseConversation(Task& t);
  // Makes `t` a new conversation of the customer about `topic`.
  void StartConversation(Task& t, TopicId topic);
  // Often appends " Order O-…-n (status, channel, CNY 1234.00)." about the latest order to
  // text_, the way agents and customers refer to it.
  void AppendOrderMention(uint32_t c);
  void OrderStatusEvent(const Task& t, int64_t at, OrderStatus status);
  std::string_view PreferenceValue(uint32_t c, uint32_t key, bool truthful);
  Channel OtherChannel(Channel current);

  // ---- Rendering. Fields follow the order of the CONTRACT §1 example.
  void Begin(EventType type);
  void CustomerField(uint32_t c);
  // customer_id, and with `identity_per_mille` chance the identity that `channel` reveals.
  void Customer(uint32_t c, Channel channel, uint32_t identity_per_mille);
  void IdentityField(IdentityKind kind, uint32_t c, bool visitor);
  void AppendIdentity(IdentityKind kind, uint32_t c, bool visitor);
  void IdentityValue(std::string* out, IdentityKind kind, uint32_t c, bool visitor);
  void When(int64_t at, Channel channel, std::string_view source,
            Precision precision = Precision::kSeconds);
  void Actor(std::string_view prefix, uint32_t max);
  void ConversationField(uint32_t c, uint32_t no);
  void BeginData() {
    line_.append(",\"data\":{");
    in_data_ = true;
    first_field_ = true;
  }
  void Key(std::string_view key);
  void Str(std::string_view key, std::string_view value) {
    Key(key);
    json::AppendString(&line_, value);
  }
  void Int(std::string_view key, int64_t value) {
    Key(key);
    json::AppendInt(&line_, value);
  }
  void Ref(std::string_view key, std::string_view prefix, uint32_t c, uint32_t no);
  void Time(std::string_view key, int64_t at);
  void End() { line_.append(in_data_ ? "}}" : "}"); }

  const GenOptions options_;
  const std::function<void(std::string_view)>& sink_;
  const uint32_t customers_;
  const uint32_t visitors_;
  Rng rng_;
  const uint64_t world_;  // salts per-customer traits, so each seed is a different population
  ZipfSampler zipf_;
  uint64_t perm_mul_ = 1;
  uint64_t perm_add_ = 0;
  std::vector<CustomerState> state_;
  std::priority_queue<Task, std::vector<Task>, LaterFirst> tasks_;
  size_t max_follow_ups_;         // bounds tasks_, hence memory, by the number of customers
  std::vector<Delayed> delayed_;  // a heap by LaterRelease
  uint64_t task_seq_ = 0;
  uint64_t produced_ = 0;  // events rendered (and numbered) so far
  int64_t next_session_at_ = kStart;
  int64_t micros_per_event_;
  int id_width_;
  std::string event_id_prefix_;
  std::string line_;
  std::string text_;
  bool in_data_ = false;
  bool first_field_ = true;
};

Generator::Generator(const GenOptions& options, const std::function<void(std::string_view)>& sink)
    : options_(options),
      sink_(sink),
      customers_(static_cast<uint32_t>(
          std::min<uint64_t>(options.customers, std::numeric_limits<uint32_t>::max()))),
      visitors_(std::max<uint32_t>(64, customers_ / 2)),
      rng_(options.seed),
      world_(Mix(options.seed ^ 0x5EEDC0FFEE123457ULL)),
      zipf_(customers_),
      state_(customers_) {
  if (customers_ > 0) {
    // rank -> (rank * a + b) mod n is a bijection when gcd(a, n) = 1.
    perm_mul_ = 2654435761ULL % customers_;
    if (perm_mul_ == 0) perm_mul_ = 1;
    while (std::gcd(perm_mul_, uint64_t{customers_}) != 1) ++perm_mul_;
    perm_add_ = world_ % customers_;
  }
  // Far more than ever pend (chains last days), unless events per day are extreme; then some
  // follow-ups are skipped rather than memory growing without bound.
  max_follow_ups_ = (size_t{1} << 20) + size_t{16} * customers_;
  micros_per_event_ = std::max<int64_t>(
      1, kSpan / static_cast<int64_t>(std::min<uint64_t>(options.events, uint64_t{kSpan})));
  id_width_ = 6;
  for (uint64_t n = 1'000'000; n <= customers_ && id_width_ < 10; n *= 10) ++id_width_;
  event_id_prefix_ = StrCat("g", options.seed, "-");
  line_.reserve(2048);
  text_.reserve(512);
}

void Generator::Run() {
  const int64_t kNever = std::numeric_limits<int64_t>::max();
  while (produced_ < options_.events) {
    const int64_t task_at = tasks_.empty() ? kNever : tasks_.top().at;
    if (!delayed_.empty() && delayed_.front().release <= std::min(task_at, next_session_at_)) {
      std::pop_heap(delayed_.begin(), delayed_.end(), LaterRelease());
      sink_(delayed_.back().line);
      delayed_.pop_back();
      continue;
    }
    if (next_session_at_ <= task_at) {
      StartSession(next_session_at_);
      AdvanceSessionClock();
      continue;
    }
    Task t = tasks_.top();
    tasks_.pop();
    RunTask(t);
  }
  while (!delayed_.empty()) {
    std::pop_heap(delayed_.begin(), delayed_.end(), LaterRelease());
    sink_(delayed_.back().line);
    delayed_.pop_back();
  }
}

void Generator::AdvanceSessionClock() {
  // Where the clock should be for the events produced so far to span kSpan evenly. The gap
  // stretches while the clock lags that and shrinks while it leads, so the span holds whatever the
  // mix of scenarios yields; the 34-day window keeps the daily rhythm intact.
  const int64_t ideal = kStart + micros_per_event_ * static_cast<int64_t>(produced_);
  const int64_t window = kSpan / 16;
  int64_t correction = 256 + (ideal - next_session_at_) / (window / 256);
  correction = std::clamp<int64_t>(correction, 64, 1024);
  int64_t gap = std::min(kSpan, micros_per_event_ * kEventsPerSessionX100 / 100);
  gap = gap * correction / 256;
  gap = gap * (256 + rng_.Below(1536)) / 1024;  // uniform, 0.25 to 1.75 of the mean
  next_session_at_ = AddActiveTime(next_session_at_, std::max<int64_t>(1, gap));
}

// The gap is measured in "active time": an hour of the clock counts kHourlyActivity[h] / mean of
// it. Walking hour by hour keeps the overall rate exact whether gaps are seconds or weeks long
// (scaling each gap by the activity of its starting hour would not be).
int64_t Generator::AddActiveTime(int64_t at, int64_t active) {
  constexpr int64_t kActivitySum = [] {
    int64_t sum = 0;
    for (int64_t a : kHourlyActivity) sum += a;
    return sum;
  }();
  while (true) {
    const int64_t activity = kHourlyActivity[(at / kHour + 8) % 24];
    const int64_t hour_end = (at / kHour + 1) * kHour;
    // Active time left in this hour: wall time × activity ÷ (kActivitySum / 24).
    const int64_t available = (hour_end - at) * activity * 24 / kActivitySum;
    if (active < available) return at + active * kActivitySum / (activity * 24);
    active -= available;
    at = hour_end;
  }
}

void Generator::StartSession(int64_t at) {
  Task t{};
  t.at = at;
  if (customers_ == 0 || rng_.Chance(kVisitorSessionsPerMille)) {
    t.scenario = Scenario::kVisitor;
    t.who = rng_.Below(visitors_);
    t.channel = rng_.Chance(550) ? Channel::kWeb : Channel::kApp;
    Schedule(t);
    return;
  }
  t.who = CustomerAt(zipf_.Sample(rng_));
  static constexpr uint32_t kTotal = [] {
    uint32_t sum = 0;
    for (const auto& [s, w] : kSessionMix) sum += w;
    return sum;
  }();
  uint32_t r = rng_.Below(kTotal);
  for (const auto& [s, w] : kSessionMix) {
    if (r < w) {
      t.scenario = s;
      break;
    }
    r -= w;
  }
  // The session's channel; scenarios may move to another one.
  static constexpr Channel kBrowseChannels[] = {Channel::kWeb, Channel::kWeb, Channel::kApp,
                                                Channel::kApp, Channel::kStore};
  static constexpr Channel kPurchaseChannels[] = {Channel::kStore, Channel::kStore, Channel::kWeb,
                                                  Channel::kWeb,   Channel::kApp,   Channel::kApp,
                                                  Channel::kStore};
  static constexpr Channel kSupportChannels[] = {
      Channel::kChat, Channel::kChat,  Channel::kChat,  Channel::kChat, Channel::kChat,
      Channel::kChat, Channel::kPhone, Channel::kEmail, Channel::kApp,  Channel::kSocial};
  static constexpr Channel kComplaintChannels[] = {Channel::kPhone,  Channel::kEmail,
                                                   Channel::kChat,   Channel::kStore,
                                                   Channel::kSocial, Channel::kMail};
  static constexpr Channel kAnyChannels[] = {Channel::kApp,   Channel::kWeb,  Channel::kStore,
                                             Channel::kPhone, Channel::kChat, Channel::kEmail};
  static constexpr Channel kInquiryChannels[] = {
      Channel::kPhone, Channel::kPhone, Channel::kPhone,  Channel::kChat,  Channel::kChat,
      Channel::kStore, Channel::kStore, Channel::kSocial, Channel::kEmail, Channel::kEmail};
  switch (t.scenario) {
    case Scenario::kBrowse:
      t.channel = rng_.Pick(kBrowseChannels);
      break;
    case Scenario::kAnonymousBrowse:
      t.channel = rng_.Chance(600) ? Channel::kWeb : Channel::kApp;
      break;
    case Scenario::kPurchase:
      t.channel = rng_.Pick(kPurchaseChannels);
      break;
    case Scenario::kSupport:
      t.channel = rng_.Pick(kSupportChannels);
      break;
    case Scenario::kComplaint:
      t.channel = rng_.Pick(kComplaintChannels);
      break;
    case Scenario::kInquiry:
      t.channel = rng_.Pick(kInquiryChannels);
      break;
    case Scenario::kSuggestion:
      t.channel = rng_.Chance(500)   ? Channel::kApp
                  : rng_.Chance(500) ? Channel::kSocial
                                     : Channel::kEmail;
      break;
    default:
      t.channel = rng_.Pick(kAnyChannels);
      break;
  }
  Schedule(t);
}

void Generator::Schedule(Task t) {
  t.seq = task_seq_++;
  tasks_.push(t);
}

void Generator::FollowUp(Task t, Scenario s, int64_t at) {
  if (tasks_.size() >= max_follow_ups_) return;
  t.scenario = s;
  t.at = at;
  t.step = 0;
  Schedule(t);
}

void Generator::RunTask(Task t) {
  line_.clear();
  in_data_ = false;
  const int64_t next = Step(t);
  if (!line_.empty()) Deliver(t.at);
  if (next != kDone) {
    t.at += next;
    ++t.step;
    Schedule(t);
  }
}

void Generator::Deliver(int64_t at) {
  if (rng_.Chance(10) && delayed_.size() < kMaxDelayed) {
    delayed_.push_back({at + Hours(1, 12), task_seq_++, line_});
    std::push_heap(delayed_.begin(), delayed_.end(), LaterRelease());
    return;
  }
  sink_(line_);
}

int64_t Generator::Step(Task& t) {
  switch (t.scenario) {
    case Scenario::kBrowse:
      return Browse(t);
    case Scenario::kAnonymousBrowse:
      return AnonymousBrowse(t);
    case Scenario::kVisitor:
      return Visitor(t);
    case Scenario::kPurchase:
      return Purchase(t);
    case Scenario::kSupport:
      return Support(t);
    case Scenario::kComplaint:
      return Complaint(t);
    case Scenario::kPreferences:
      return Preferences(t);
    case Scenario::kFacts:
      return Facts(t);
    case Scenario::kSurvey:
      return Survey(t);
    case Scenario::kLoyalty:
      return Loyalty(t);
    case Scenario::kConsent:
      return Consent(t);
    case Scenario::kTags:
      return Tags(t);
    case Scenario::kInquiry:
      return Inquiry(t);
    case Scenario::kSuggestion:
      return Suggestion(t);
    case Scenario::kIdentityUpdate:
      return IdentityUpdate(t);
    case Scenario::kOrderUpdate:
      return OrderUpdate(t);
    case Scenario::kRefund:
      return Refund(t);
    case Scenario::kConversationFollowUp:
      return ConversationFollowUp(t);
    case Scenario::kConversationReopen:
      return ConversationReopen(t);
    case Scenario::kCaseResolution:
      return CaseResolution(t);
    case Scenario::kCommitmentDue:
      return CommitmentDue(t);
    case Scenario::kFeedbackSurvey:
      return FeedbackSurvey(t);
  }
  return kDone;
}

// ---------------------------------------------------------------------------------------------
// Rendering

void Generator::Begin(EventType type) {
  ++produced_;
  line_.clear();
  in_data_ = false;
  line_.append("{\"event_id\":\"");
  line_.append(event_id_prefix_);
  json::AppendUint(&line_, produced_);
  line_.append("\",\"type\":\"");
  line_.append(ledger::EventTypeName(type));
  line_.push_back('"');
}

void Generator::CustomerField(uint32_t c) {
  line_.append(",\"customer_id\":\"C-");
  AppendPadded(&line_, uint64_t{c} + 1, id_width_);
  line_.push_back('"');
}

void Generator::Customer(uint32_t c, Channel channel, uint32_t identity_per_mille) {
  CustomerField(c);
  if (!rng_.Chance(identity_per_mille)) return;
  switch (channel) {
    case Channel::kEmail:
      IdentityField(IdentityKind::kEmail, c, false);
      break;
    case Channel::kPhone:
      IdentityField(IdentityKind::kPhone, c, false);
      break;
    case Channel::kStore:
      IdentityField(IdentityKind::kLoyaltyCard, c, false);
      break;
    case Channel::kWeb:
    case Channel::kApp:
    case Channel::kChat:
      IdentityField(IdentityKind::kWebCookie, c, false);
      // An event with both links the identity (CONTRACT §1).
      state_[c].cookie_linked = true;
      break;
    default:
      break;
  }
}

void Generator::IdentityField(IdentityKind kind, uint32_t c, bool visitor) {
  line_.append(",\"identity\":");
  AppendIdentity(kind, c, visitor);
}

void Generator::AppendIdentity(IdentityKind kind, uint32_t c, bool visitor) {
  line_.append("{\"kind\":\"");
  line_.append(ledger::IdentityKindName(kind));
  line_.append("\",\"value\":");
  text_.clear();
  IdentityValue(&text_, kind, c, visitor);
  json::AppendString(&line_, text_);
  line_.push_back('}');
}

// Identity values are injective in the customer index, so no two customers share one; they are
// written in the varied ways producers send them, which normalise to the same value (§1).
void Generator::IdentityValue(std::string* out, IdentityKind kind, uint32_t c, bool visitor) {
  switch (kind) {
    case IdentityKind::kEmail: {
      const uint64_t h = Trait(c, 1);
      std::string_view given = kGivenNames[h % std::size(kGivenNames)];
      std::string_view family = kFamilyNames[(h >> 8) % std::size(kFamilyNames)];
      std::string_view domain = kEmailDomains[(h >> 16) % std::size(kEmailDomains)];
      const uint32_t style = rng_.Below(8);
      const size_t start = out->size();
      if (style == 2) out->push_back(' ');
      StrAppend(out, given, ".", family, uint64_t{c} + 1, "@", domain);
      if (style == 1) {  // "Li.Wei42@example.com"
        (*out)[start] = static_cast<char>((*out)[start] - 32);
        (*out)[start + given.size() + 1] = static_cast<char>((*out)[start + given.size() + 1] - 32);
      } else if (style == 2) {
        out->append("  ");
      } else if (style == 3) {  // upper-case domain
        for (size_t i = out->size() - domain.size(); i < out->size(); ++i) {
          if ((*out)[i] >= 'a' && (*out)[i] <= 'z') (*out)[i] = static_cast<char>((*out)[i] - 32);
        }
      }
      return;
    }
    case IdentityKind::kPhone: {
      // 11-digit mobile 13xxxxxxxxx; 3^18 is coprime to 10^9, so the map is injective.
      const uint64_t local = (uint64_t{c} * 387420489ULL + 123456789ULL) % 1'000'000'000ULL;
      char d[11];
      d[0] = '1';
      d[1] = '3';
      uint64_t v = local;
      for (int i = 10; i >= 2; --i) {
        d[i] = static_cast<char>('0' + v % 10);
        v /= 10;
      }
      const std::string_view a(d, 3), b(d + 3, 4), e(d + 7, 4);
      switch (rng_.Below(5)) {
        case 0:
          StrAppend(out, "+86 ", a, " ", b, " ", e);
          break;
        case 1:
          StrAppend(out, "+86-", a, "-", b, "-", e);
          break;
        case 2:
          StrAppend(out, "(+86) ", a, b, e);
          break;
        case 3:
          StrAppend(out, "86 ", a, ".", b, ".", e);
          break;
        default:
          StrAppend(out, "+86", a, b, e);
          break;
      }
      return;
    }
    case IdentityKind::kLoyaltyCard: {
      // 48271 is a prime coprime to 9e9: distinct (customer, card) pairs get distinct numbers.
      const uint64_t n = uint64_t{c} * 4 + state_[c].card_gen % 4;
      StrAppend(out, "LC", 1'000'000'000ULL + n * 48271ULL % 9'000'000'000ULL);
      return;
    }
    default: {  // kWebCookie
      const uint64_t h = visitor ? Mix(world_ ^ 0x7A11E5ULL ^ (uint64_t{c} << 20))
                                 : Trait(c, 0xC00C1E00ULL + state_[c].cookie_gen);
      // Hex digits from the value, not its bytes, so that byte order does not matter.
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("ck_");
      for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kHex[(h >> shift) & 15]);
      return;
    }
  }
}

void Generator::When(int64_t at, Channel channel, std::string_view source, Precision precision) {
  line_.append(",\"occurred_at\":\"");
  ledger::AppendTimestamp(&line_, ledger::Timestamp{Truncate(at, precision)});
  line_.append("\",\"channel\":\"");
  line_.append(ledger::ChannelName(channel));
  line_.append("\",\"source\":");
  json::AppendString(&line_, source);
}

void Generator::Actor(std::string_view prefix, uint32_t max) {
  line_.append(",\"actor\":\"");
  line_.append(prefix);
  json::AppendUint(&line_, 1 + rng_.Below(max));
  line_.push_back('"');
}

void Generator::ConversationField(uint32_t c, uint32_t no) {
  line_.append(",\"conversation_id\":\"conv-");
  json::AppendUint(&line_, uint64_t{c} + 1);
  line_.push_back('-');
  json::AppendUint(&line_, no);
  line_.push_back('"');
}

void Generator::Key(std::string_view key) {
  if (!first_field_) line_.push_back(',');
  first_field_ = false;
  line_.push_back('"');
  line_.append(key);
  line_.append("\":");
}

void Generator::Ref(std::string_view key, std::string_view prefix, uint32_t c, uint32_t no) {
  Key(key);
  line_.push_back('"');
  line_.append(prefix);
  json::AppendUint(&line_, uint64_t{c} + 1);
  line_.push_back('-');
  json::AppendUint(&line_, no);
  line_.push_back('"');
}

void Generator::Time(std::string_view key, int64_t at) {
  Key(key);
  line_.push_back('"');
  ledger::AppendTimestamp(&line_, ledger::Timestamp{at});
  line_.push_back('"');
}

// ---------------------------------------------------------------------------------------------
// Helpers over customer state

std::string_view Generator::PreferenceValue(uint32_t c, uint32_t key, bool truthful) {
  // Each customer has a true value per key; behaviour and statements mostly agree with it.
  const uint64_t h = truthful ? Trait(c, 0x9E3F0000ULL + key) : rng_.Next();
  if (key == kPrefFavoriteCategory) {
    return kCategories[h % kNumCategories].name;
  }
  if (key == kPrefHomeStore) return kStores[h % std::size(kStores)];
  const std::span<const std::string_view> values = kPrefKeys[key].values;
  return values[h % values.size()];
}

Channel Generator::OtherChannel(Channel current) {
  static constexpr Channel kFollowUpChannels[] = {Channel::kEmail, Channel::kEmail, Channel::kPhone,
                                                  Channel::kApp};
  Channel c = rng_.Pick(kFollowUpChannels);
  if (c == current) c = current == Channel::kEmail ? Channel::kPhone : Channel::kEmail;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Shared events

void Generator::VisitEvent(const Task& t, bool with_customer, bool with_cookie, bool visitor) {
  const uint32_t c = t.who;
  Begin(EventType::kVisit);
  if (with_customer) CustomerField(c);
  if (with_cookie) IdentityField(IdentityKind::kWebCookie, c, visitor);
  if (with_customer && !with_cookie && !visitor) {
    // Store visits are often recognised by the loyalty card.
    if (t.channel == Channel::kStore && rng_.Chance(300)) {
      IdentityField(IdentityKind::kLoyaltyCard, c, false);
    }
  }
  const bool store = t.channel == Channel::kStore;
  When(t.at, t.channel,
       store                        ? "store-crm"
       : t.channel == Channel::kApp ? "app-analytics"
                                    : "web-analytics",
       store ? Precision::kSeconds : Precision::kMillis);
  if (store && rng_.Chance(400)) Actor("assoc-", 80);
  if (rng_.Chance(80)) {  // `data` may be omitted: visit has no required field
    End();
    return;
  }
  BeginData();
  const uint64_t h = visitor ? rng_.Next() : Trait(c, 7);
  const Category& cat =
      kCategories[rng_.Chance(600) ? h % kNumCategories : rng_.Below(kNumCategories)];
  text_.clear();
  if (store) {
    text_.append(rng_.Chance(700) ? kStores[(h >> 20) % std::size(kStores)] : rng_.Pick(kStores));
  } else if (t.channel == Channel::kApp) {
    StrAppend(&text_, "app://product/", cat.sku_prefix, "-", 1001 + rng_.Below(kSkusPerCategory));
    StrAppend(&text_, "?ref=", rng_.Pick(kAppRefs));
    StrAppend(&text_, "&screen_session=", rng_.Next() >> 24);
  } else {
    StrAppend(&text_, "https://shop.example.com/p/", cat.sku_prefix, "-",
              1001 + rng_.Below(kSkusPerCategory));
    if (rng_.Chance(450)) {  // landing pages carry the campaign
      StrAppend(&text_, "?utm_source=", rng_.Pick(kUtmSources));
      StrAppend(&text_, "&utm_medium=", rng_.Pick(kUtmMediums));
      StrAppend(&text_, "&utm_campaign=", rng_.Pick(kCampaigns));
    }
  }
  Str("location", text_);
  if (rng_.Chance(900)) {
    text_.clear();
    if (store) {
      StrAppend(&text_, rng_.Pick(kVisitSummaries), " in ", cat.display, ", ");
      text_.append(rng_.Pick(kVisitOutcomes));
    } else {
      StrAppend(&text_, "Viewed ", 2 + rng_.Below(12), " ", cat.display, " pages in ");
      StrAppend(&text_, 1 + rng_.Below(20), " minutes (");
      StrAppend(&text_, rng_.Pick(kBrowseDetails), "), ");
      text_.append(rng_.Chance(300) ? "added one to the cart" : rng_.Pick(kVisitOutcomes));
    }
    Str("summary", text_);
  }
  End();
}

void Generator::ObservedPreferenceEvent(const Task& t, bool with_customer, bool visitor) {
  const uint32_t c = t.who;
  const uint32_t key = rng_.Pick(kObservableKeys);
  Begin(EventType::kPreferenceObserved);
  if (with_customer) {
    Customer(c, t.channel, 550);  // analytics usually know the device
  } else {
    IdentityField(IdentityKind::kWebCookie, c, visitor);
  }
  When(t.at, t.channel,
       t.channel == Channel::kStore ? "clienteling"
       : t.channel == Channel::kApp ? "app-analytics"
                                    : "web-analytics",
       Precision::kMillis);
  BeginData();
  Str("key", kPrefKeys[key].key);
  Str("value", PreferenceValue(c, key, !visitor && rng_.Chance(750)));
  if (rng_.Chance(650)) {
    Key("weight");
    line_.append(rng_.Pick(kWeights));
  }
  End();
}

void Generator::PointsAdjustedEvent(const Task& t, int64_t points, std::string_view reason) {
  CustomerState& cs = state_[t.who];
  Begin(EventType::kPointsAdjusted);
  CustomerField(t.who);
  When(t.at, Channel::kOther, "loyalty-engine");
  if (rng_.Chance(500)) Actor("agent-", 60);
  BeginData();
  Int("points", points);
  Str("reason", reason);
  End();
  cs.points = static_cast<int32_t>(std::max<int64_t>(0, cs.points + points));
}

void Generator::SurveyEvent(const Task& t, std::string_view survey, bool csat, bool nps,
                            Channel channel) {
  // Skewed to the happy end, as real responses are.
  static constexpr int64_t kCsat[] = {1, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5};
  static constexpr int64_t kNps[] = {0, 3, 5, 6, 7, 7, 8, 8, 9, 9, 9, 10, 10, 10};
  Begin(EventType::kSurveyResponse);
  Customer(t.who, channel, 250);
  When(t.at, channel, "survey-platform");
  BeginData();
  if (rng_.Chance(550)) Str("comment", rng_.Pick(kSurveyComments));
  if (csat) Int("csat", rng_.Pick(kCsat));
  if (nps) Int("nps", rng_.Pick(kNps));
  Str("survey", survey);
  End();
}

void Generator::StartConversation(Task& t, TopicId topic) {
  t.ref = ++state_[t.who].next_ref;
  t.topic = topic;
  t.asks = 0;
  t.rounds = 0;
}

void Generator::ConversationOpenedEvent(Task& t, bool reopened) {
  const Topic& topic = kTopics[t.topic];
  Begin(EventType::kConversationOpened);
  Customer(t.who, t.channel, 380);
  When(t.at, t.channel, SourceOf(t.channel));
  if (t.channel == Channel::kChat && rng_.Chance(300)) {
    line_.append(",\"actor\":\"bot-faq\"");
  } else if (t.channel != Channel::kChat) {
    Actor("agent-", 60);
  }
  ConversationField(t.who, t.ref);
  BeginData();
  if (reopened || rng_.Chance(850)) {
    text_.clear();
    if (reopened) {
      StrAppend(&text_, "Customer reopened the ", topic.name, " conversation by ",
                ledger::ChannelName(t.channel), ": ", rng_.Pick(kInboundFollowUps), ".");
    } else {
      StrAppend(&text_, "New ", ledger::ChannelName(t.channel), " contact about a ", topic.name,
                ": ", rng_.Pick(topic.details), ".");
      text_.append(rng_.Pick(kInboundContext));
    }
    Str("summary", text_);
  }
  Str("topic", topic.name);
  End();
}

void Generator::InboundAsks(Task& t) {
  const Topic& topic = kTopics[t.topic];
  // One or two of the questions that go with the topic.
  uint32_t candidates[kNumAskKeys];
  uint32_t n = 0;
  for (uint32_t i = 0; i < kNumAskKeys; ++i) {
    if (topic.asks >> i & 1) candidates[n++] = i;
  }
  uint16_t asked = 0;
  if (n > 0) {
    asked = static_cast<uint16_t>(1u << candidates[rng_.Below(n)]);
    if (rng_.Chance(400)) asked |= static_cast<uint16_t>(1u << candidates[rng_.Below(n)]);
  }
  Begin(EventType::kMessage);
  Customer(t.who, t.channel, 380);
  When(t.at, t.channel, SourceOf(t.channel));
  ConversationField(t.who, t.ref);
  BeginData();
  if (asked != 0) {
    Key("asks");
    line_.push_back('[');
    bool first = true;
    for (uint32_t i = 0; i < kNumAskKeys; ++i) {
      if (!(asked >> i & 1)) continue;
      if (!first) line_.push_back(',');
      first = false;
      json::AppendString(&line_, kAskKeys[i].key);
    }
    line_.push_back(']');
  }
  Str("direction", "inbound");
  text_.clear();
  StrAppend(&text_, rng_.Chance(500) ? "Customer asks " : "Customer wants to know ");
  bool first = true;
  for (uint32_t i = 0; i < kNumAskKeys; ++i) {
    if (!(asked >> i & 1)) continue;
    StrAppend(&text_, first ? "" : " and ", kAskKeys[i].phrase);
    first = false;
  }
  if (asked == 0) text_.append("for help");
  StrAppend(&text_, "; ", rng_.Pick(topic.details), ".");
  text_.append(rng_.Pick(kInboundContext));
  if (rng_.Chance(500)) text_.append(rng_.Pick(kInboundContext));
  AppendOrderMention(t.who);
  Str("summary", text_);
  End();
  t.asks |= asked;
}

void Generator::OutboundMessage(Task& t) {
  const Topic& topic = kTopics[t.topic];
  const bool answer = t.asks != 0 && rng_.Chance(800);
  Begin(EventType::kMessage);
  CustomerField(t.who);
  When(t.at, t.channel, SourceOf(t.channel));
  Actor("agent-", 60);
  ConversationField(t.who, t.ref);
  BeginData();
  if (answer) {
    Key("answers");
    line_.push_back('{');
    bool first = true;
    for (uint32_t i = 0; i < kNumAskKeys; ++i) {
      if (!(t.asks >> i & 1)) continue;
      if (!first) line_.push_back(',');
      first = false;
      json::AppendString(&line_, kAskKeys[i].key);
      line_.push_back(':');
      json::AppendString(&line_, rng_.Pick(kAskKeys[i].answers));
    }
    line_.push_back('}');
  } else if (rng_.Chance(250)) {
    // The agent asks for something; outbound asks do not count as pending (§4.3).
    Key("asks");
    line_.append("[\"order_number\"]");
  }
  Str("direction", "outbound");
  text_.clear();
  StrAppend(&text_, rng_.Pick(kAgentLeads), t.channel == Channel::kEmail ? " by email" : "",
            " on the ", topic.name, answer ? " with the details requested." : ": ");
  if (!answer) StrAppend(&text_, rng_.Pick(kAgentPending), ".");
  text_.append(rng_.Pick(kAgentNext));
  AppendOrderMention(t.who);
  Str("summary", text_);
  End();
  if (answer) t.asks = 0;
}

void Generator::InboundInfo(Task& t) {
  const uint32_t c = t.who;
  const InfoKey& info = rng_.Pick(kInfoKeys);
  const RecentOrder& order = state_[c].last_order;
  Begin(EventType::kMessage);
  Customer(c, t.channel, 380);
  When(t.at, t.channel, SourceOf(t.channel));
  ConversationField(c, t.ref);
  BeginData();
  Key("answers");
  line_.push_back('{');
  json::AppendString(&line_, info.key);
  line_.push_back(':');
  json::AppendString(&line_, info.values[Trait(c, 0x1F0) % 4]);
  if (order.no != 0 && rng_.Chance(500)) {
    line_.append(",\"order_number\":\"O-");
    json::AppendUint(&line_, uint64_t{c} + 1);
    line_.push_back('-');
    json::AppendUint(&line_, order.no);
    line_.push_back('"');
  }
  line_.push_back('}');
  Str("direction", "inbound");
  text_.clear();
  StrAppend(&text_, "Customer gave ", info.phrase, " for the ", kTopics[t.topic].name, ".");
  Str("summary", text_);
  End();
}

void Generator::AppendOrderMention(uint32_t c) {
  const RecentOrder& order = state_[c].last_order;
  if (order.no == 0 || !rng_.Chance(700)) return;
  StrAppend(&text_, " Order O-", uint64_t{c} + 1, "-", order.no, " (",
            kOrderStatusNames[order.status], ", ", ledger::ChannelName(order.channel), ", ",
            kCurrencies[order.currency], " ");
  const int64_t major = order.amount / 100;
  const int64_t minor = order.amount % 100;
  StrAppend(&text_, major, ".", minor < 10 ? "0" : "", minor, ").");
}

void Generator::CloseConversation(Task& t) {
  const uint32_t r = rng_.Below(100);
  const std::string_view outcome = r < 75 ? "resolved" : r < 90 ? "unresolved" : "abandoned";
  Begin(EventType::kConversationClosed);
  CustomerField(t.who);
  When(t.at, t.channel, SourceOf(t.channel));
  if (t.channel != Channel::kChat || rng_.Chance(500)) Actor("agent-", 60);
  ConversationField(t.who, t.ref);
  BeginData();
  Str("outcome", outcome);
  if (rng_.Chance(900)) {
    text_.clear();
    StrAppend(&text_,
              r < 75   ? kCloseSummaries[rng_.Below(2)]
              : r < 90 ? kCloseSummaries[3 + rng_.Below(2)]
                       : kCloseSummaries[2],
              " (", kTopics[t.topic].name, ", ", 1 + t.rounds, t.rounds == 0 ? " round" : " rounds",
              ", last on ", ledger::ChannelName(t.channel), ").");
    Str("summary", text_);
  }
  End();
  t.asks = 0;
  if (rng_.Chance(250)) {
    Task survey = t;
    survey.aux = kSupportCsat;
    survey.channel = rng_.Chance(500) ? Channel::kEmail : Channel::kApp;
    FollowUp(survey, Scenario::kFeedbackSurvey, t.at + Hours(1, 30));
  }
  if (rng_.Chance(100)) {  // the customer comes back to it days later
    Task reopen = t;
    reopen.channel = rng_.Chance(500) ? Channel::kPhone : Channel::kApp;
    FollowUp(reopen, Scenario::kConversationReopen, t.at + Hours(24, 20 * 24));
  }
}

// ---------------------------------------------------------------------------------------------
// Sessions

int64_t Generator::Browse(Task& t) {
  if (t.step == 0) {
    const bool with_cookie = t.channel != Channel::kStore && rng_.Chance(450);
    VisitEvent(t, true, with_cookie, false);
    if (with_cookie) state_[t.who].cookie_linked = true;  // customer_id + identity links it
    t.aux = rng_.Chance(700) ? 1 : 2;
    return Soon();
  }
  if (t.step <= t.aux) {
    ObservedPreferenceEvent(t, true, false);
    return t.step < t.aux ? Soon() : kDone;
  }
  return kDone;
}

int64_t Generator::AnonymousBrowse(Task& t) {
  CustomerState& cs = state_[t.who];
  if (t.step == 0) {
    if (cs.cookie_linked && rng_.Chance(500)) {  // a new device or cleared cookies
      ++cs.cookie_gen;
      cs.cookie_linked = false;
    }
    VisitEvent(t, false, true, false);
    t.aux = 1 + rng_.Below(3);  // anonymous events before a possible login
    return Soon();
  }
  if (t.step < t.aux) {
    ObservedPreferenceEvent(t, false, false);
    return Soon();
  }
  if (t.step == t.aux) {
    if (!rng_.Chance(550)) return kDone;  // never logs in this time
    // Login: the cookie seen so far now resolves to the customer.
    Begin(EventType::kIdentityLinked);
    CustomerField(t.who);
    When(t.at, t.channel, t.channel == Channel::kApp ? "app" : "web");
    BeginData();
    Key("identity");
    AppendIdentity(IdentityKind::kWebCookie, t.who, false);
    End();
    cs.cookie_linked = true;
    return Soon();
  }
  VisitEvent(t, true, true, false);
  return kDone;
}

int64_t Generator::Visitor(Task& t) {
  if (t.step == 0) {
    VisitEvent(t, false, true, true);
    t.aux = rng_.Below(3);
    return Soon();
  }
  if (t.step > t.aux) return kDone;
  if (rng_.Chance(850)) {
    ObservedPreferenceEvent(t, false, true);
  } else {
    const Subject& s = rng_.Pick(kInquiries);
    Begin(EventType::kInquiry);
    IdentityField(IdentityKind::kWebCookie, t.who, true);
    When(t.at, Channel::kChat, "livechat");
    BeginData();
    Str("summary", rng_.Pick(s.summaries));
    Str("topic", s.topic);
    End();
  }
  return t.step < t.aux ? Soon() : kDone;
}

int64_t Generator::Purchase(Task& t) {
  const uint32_t c = t.who;
  CustomerState& cs = state_[c];
  const bool store = t.channel == Channel::kStore;
  switch (t.step) {
    case 0:
      if (rng_.Chance(650)) VisitEvent(t, true, !store && rng_.Chance(200), false);
      return Soon();
    case 1: {
      t.ref = ++cs.next_ref;
      // Mostly CNY; one customer in 16 shops cross-border and pays mostly USD or EUR.
      const bool cross_border = (Trait(c, 3) & 15) == 0;
      const uint32_t r = rng_.Below(100);
      t.currency = static_cast<uint8_t>(cross_border ? (r < 30   ? 0
                                                        : r < 70 ? 1
                                                                 : 2)
                                                     : (r < 93   ? 0
                                                        : r < 97 ? 1
                                                                 : 2));
      Begin(EventType::kPurchase);
      Customer(c, t.channel, 300);
      When(t.at, t.channel,
           store                        ? "pos"
           : t.channel == Channel::kApp ? "app"
                                        : "web",
           store ? Precision::kMicros : Precision::kSeconds);
      if (store) Actor("assoc-", 80);
      BeginData();
      // Items first, into text_, so that the amount (their sum) can precede them.
      static constexpr uint32_t kItemCounts[] = {1, 1, 1, 1, 2, 2, 2, 3, 3, 4};
      const uint32_t n = rng_.Pick(kItemCounts);
      const uint64_t fav = Trait(c, 7);
      int64_t total = 0;
      int64_t smallest = std::numeric_limits<int64_t>::max();
      uint32_t chosen[4];  // category * kSkusPerCategory + sku: an order lists each SKU once
      text_.clear();
      text_.push_back('[');
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t ci = rng_.Chance(650)
                                ? static_cast<uint32_t>((fav >> (8 * (i & 1))) % kNumCategories)
                                : rng_.Below(kNumCategories);
        const Category& cat = kCategories[ci];
        // Cheaper models sell more.
        uint32_t sku = std::min(rng_.Below(kSkusPerCategory), rng_.Below(kSkusPerCategory));
        while (std::find(chosen, chosen + i, ci * kSkusPerCategory + sku) != chosen + i) {
          sku = (sku + 1) % kSkusPerCategory;
        }
        chosen[i] = ci * kSkusPerCategory + sku;
        const int64_t quantity = 1 + (rng_.Chance(250) ? rng_.Below(cat.max_quantity) : 0);
        int64_t price = cat.base_price * (5 + 2 * sku) / 9 / 1000 * 1000 - 100;
        if (t.currency != 0) {  // about 7 CNY to the USD or EUR, and prices ending in 99
          price = price * (t.currency == 1 ? 14 : 13) / 10000 * 100 + 99;
        }
        total += price * quantity;
        smallest = std::min(smallest, price * quantity);
        if (i > 0) text_.push_back(',');
        text_.append("{\"sku\":\"");
        StrAppend(&text_, cat.sku_prefix, "-", 1001 + sku, "\"");
        if (rng_.Chance(920)) StrAppend(&text_, ",\"category\":\"", cat.name, "\"");
        if (quantity > 1 || rng_.Chance(500)) StrAppend(&text_, ",\"quantity\":", quantity);
        if (rng_.Chance(950)) StrAppend(&text_, ",\"unit_price_minor\":", price);
        text_.push_back('}');
      }
      text_.push_back(']');
      if (rng_.Chance(120)) total = std::max<int64_t>(1, total * 9 / 10);  // a coupon
      t.amount = static_cast<int32_t>(total);
      t.aux = static_cast<uint32_t>(std::min(smallest, total));
      t.status = kPlaced;
      Ref("order_id", "O-", c, t.ref);
      Int("amount_minor", total);
      Str("currency", kCurrencies[t.currency]);
      Key("items");
      line_.append(text_);
      End();
      cs.last_order = {t.ref, t.amount, kPlaced, t.currency, t.channel};
      if (t.currency == 0) cs.points += static_cast<int32_t>(total / 100);
      return Soon();
    }
    case 2:
      // In store the goods leave with the customer; online the order service confirms.
      t.status = store ? kDelivered : kConfirmed;
      OrderStatusEvent(t, t.at, static_cast<OrderStatus>(t.status));
      if (!store) {
        FollowUp(t, Scenario::kOrderUpdate, t.at + Hours(4, 30));
      } else {
        if (rng_.Chance(40)) {  // one item brought back to the store
          Task refund = t;
          refund.flags = kPartial;
          FollowUp(refund, Scenario::kRefund, t.at + Hours(24, 10 * 24));
        }
        if (rng_.Chance(150)) {
          Task survey = t;
          survey.aux = kPostPurchase;
          survey.channel = Channel::kEmail;
          FollowUp(survey, Scenario::kFeedbackSurvey, t.at + Hours(2, 48));
        }
      }
      return rng_.Chance(200) ? Soon() : kDone;
    case 3:
      if (cs.points >= 1000 && rng_.Chance(600)) {
        static constexpr int64_t kRedeem[] = {500, 1000, 1000, 2000, 5000};
        const int64_t points = std::min<int64_t>(rng_.Pick(kRedeem), cs.points);
        Begin(EventType::kPointsRedeemed);
        Customer(c, t.channel, 300);
        When(t.at, t.channel, "loyalty-engine");
        BeginData();
        Int("points", points);
        Str("reward", rng_.Pick(kRewards));
        End();
        cs.points -= static_cast<int32_t>(points);
      } else {
        const uint32_t key = rng_.Chance(500) ? kPrefGiftWrap : kPrefDeliveryTime;
        Begin(EventType::kPreferenceStated);
        Customer(c, t.channel, 300);
        When(t.at, t.channel, store ? "clienteling" : SourceOf(t.channel));
        BeginData();
        Str("key", kPrefKeys[key].key);
        Str("value", PreferenceValue(c, key, rng_.Chance(800)));
        End();
        cs.stated |= static_cast<uint16_t>(1u << key);
      }
      return kDone;
  }
  return kDone;
}

void Generator::OrderStatusEvent(const Task& t, int64_t at, OrderStatus status) {
  static constexpr std::string_view kCarriers[] = {"sf-express", "jd-logistics", "zto-express",
                                                   "ems", "cainiao"};
  const bool store = t.channel == Channel::kStore;
  const bool carrier = status == kShipped || (status == kDelivered && !store);
  Begin(EventType::kOrderStatus);
  if (store) {
    CustomerField(t.who);
    When(at, Channel::kStore, "pos", Precision::kMicros);
  } else {
    Customer(t.who, Channel::kEmail, 300);  // the address the notification went to
    When(at, Channel::kOther, carrier ? "logistics-tracking" : "order-service");
  }
  if (carrier) {
    line_.append(",\"actor\":");
    json::AppendString(&line_, kCarriers[(uint64_t{t.who} + t.ref) % std::size(kCarriers)]);
  }
  BeginData();
  Ref("order_id", "O-", t.who, t.ref);
  Str("status", kOrderStatusNames[status]);
  End();
  RecentOrder& last = state_[t.who].last_order;
  if (last.no == t.ref) last.status = status;
}

int64_t Generator::Support(Task& t) {
  const uint32_t c = t.who;
  switch (t.step) {
    case 0:
      StartConversation(t, static_cast<TopicId>(rng_.Below(kNumTopics)));
      ConversationOpenedEvent(t, false);
      return Soon();
    case 1:
      InboundAsks(t);
      return Soon();
    case 2:
      OutboundMessage(t);
      return Soon();
    case 3:
      if (rng_.Chance(350)) {
        InboundInfo(t);
      } else if (rng_.Chance(250)) {
        const Fact& fact = rng_.Pick(kFactKeys);
        Begin(EventType::kFactRecorded);
        CustomerField(c);
        When(t.at, t.channel, SourceOf(t.channel));
        Actor("agent-", 60);
        ConversationField(c, t.ref);
        BeginData();
        Str("key", fact.key);
        Str("value", fact.values[Trait(c, 0xFAC7) % 4]);
        End();
      }
      return Soon();
    case 4:
      if (rng_.Chance(280)) {
        const uint32_t no = ++state_[c].next_ref;
        const bool has_due = rng_.Chance(800);
        const int64_t due = (t.at + Hours(24, 5 * 24)) / kHour * kHour;  // on the hour
        Begin(EventType::kCommitmentMade);
        CustomerField(c);
        When(t.at, t.channel, SourceOf(t.channel));
        Actor("agent-", 60);
        ConversationField(c, t.ref);
        BeginData();
        Str("action", rng_.Pick(kCommitmentActions));
        Ref("commitment_id", "cm-", c, no);
        if (has_due) Time("due_at", due);
        End();
        if (rng_.Chance(870)) {  // some promises are broken, and stay overdue
          const int64_t when = has_due ? due + Hours(0, 36) - 24 * kHour : t.at + Hours(20, 96);
          Task fulfil = t;
          fulfil.ref = no;
          fulfil.channel = rng_.Chance(500) ? Channel::kPhone : Channel::kOther;
          FollowUp(fulfil, Scenario::kCommitmentDue, std::max(when, t.at + kHour));
        }
      }
      return Soon();
    default:
      if (rng_.Chance(450)) {
        CloseConversation(t);
      } else {
        // Left open: it continues later on another channel.
        Task next = t;
        next.channel = OtherChannel(t.channel);
        FollowUp(next, Scenario::kConversationFollowUp, t.at + Hours(2, 72));
      }
      return kDone;
  }
}

int64_t Generator::ConversationFollowUp(Task& t) {
  switch (t.step) {
    case 0:
      if (t.asks != 0 || rng_.Chance(400)) {
        OutboundMessage(t);
      } else {
        InboundAsks(t);
      }
      return Soon();
    case 1:
      if (rng_.Chance(300)) {
        InboundInfo(t);
      } else if (rng_.Chance(200)) {
        InboundAsks(t);
      } else {
        Begin(EventType::kMessage);
        Customer(t.who, t.channel, 380);
        When(t.at, t.channel, SourceOf(t.channel));
        ConversationField(t.who, t.ref);
        BeginData();
        Str("direction", "inbound");
        text_.clear();
        StrAppend(&text_, rng_.Pick(kInboundFollowUps), ".");
        text_.append(rng_.Pick(kInboundContext));
        AppendOrderMention(t.who);
        Str("summary", text_);
        End();
      }
      return Soon();
    default:
      if (t.asks != 0 && rng_.Chance(500)) {
        OutboundMessage(t);
        return Soon();  // answered: the next step decides again
      }
      ++t.rounds;
      if (rng_.Chance(650) || t.rounds >= 4) {
        CloseConversation(t);
      } else {
        Task next = t;
        next.channel = OtherChannel(t.channel);
        FollowUp(next, Scenario::kConversationFollowUp, t.at + Hours(6, 96));
      }
      return kDone;
  }
}

int64_t Generator::ConversationReopen(Task& t) {
  // Any event naming a closed conversation reopens it (§4.3); half the time the channel says so
  // with conversation_opened.
  t.rounds = 0;
  if (rng_.Chance(500)) {
    ConversationOpenedEvent(t, true);
  } else {
    InboundAsks(t);
  }
  Task next = t;
  next.channel = OtherChannel(t.channel);
  FollowUp(next, Scenario::kConversationFollowUp, t.at + Hours(1, 48));
  return kDone;
}

int64_t Generator::Complaint(Task& t) {
  const uint32_t c = t.who;
  switch (t.step) {
    case 0:
      t.aux = rng_.Below(static_cast<uint32_t>(std::size(kComplaintCategories)));
      if (t.channel != Channel::kStore && t.channel != Channel::kMail && rng_.Chance(500)) {
        StartConversation(t, kComplaintCategories[t.aux].topic);
        ConversationOpenedEvent(t, false);
      }
      return Soon();
    case 1: {
      const ComplaintCategory& cat = kComplaintCategories[t.aux];
      const uint32_t case_no = ++state_[c].next_ref;
      Begin(EventType::kComplaintOpened);
      Customer(c, t.channel, 300);
      When(t.at, t.channel, SourceOf(t.channel));
      if (t.channel != Channel::kMail) Actor("agent-", 60);
      if (t.ref != 0) ConversationField(c, t.ref);
      BeginData();
      Ref("case_id", "CASE-", c, case_no);
      Str("category", cat.name);
      Str("severity", rng_.Pick(kSeverities));
      if (rng_.Chance(850)) {
        text_.clear();
        StrAppend(&text_, rng_.Pick(cat.summaries));
        StrAppend(&text_, rng_.Pick(kComplaintWants), ".");
        Str("summary", text_);
      }
      End();
      if (rng_.Chance(900)) {  // the rest stay open
        Task resolution = t;
        resolution.ref = case_no;
        resolution.channel = rng_.Chance(500) ? Channel::kPhone : Channel::kEmail;
        FollowUp(resolution, Scenario::kCaseResolution, t.at + Hours(3, 10 * 24));
      }
      return t.ref != 0 ? Soon() : kDone;
    }
    default: {
      OutboundMessage(t);
      Task next = t;
      next.channel = OtherChannel(t.channel);
      FollowUp(next, Scenario::kConversationFollowUp, t.at + Hours(2, 48));
      return kDone;
    }
  }
}

int64_t Generator::CaseResolution(Task& t) {
  const ComplaintCategory& cat = kComplaintCategories[t.aux];
  switch (t.step) {
    case 0: {
      Begin(EventType::kComplaintResolved);
      CustomerField(t.who);
      When(t.at, t.channel, SourceOf(t.channel));
      Actor("agent-", 60);
      BeginData();
      Ref("case_id", "CASE-", t.who, t.ref);
      if (rng_.Chance(850)) Str("resolution", rng_.Pick(cat.resolutions));
      if (rng_.Chance(800)) {
        Key("satisfied");
        line_.append(rng_.Chance(720) ? "true" : "false");
      }
      End();
      return rng_.Chance(350) ? Soon() : kDone;
    }
    default: {
      text_.clear();
      StrAppend(&text_, "Goodwill for CASE-", uint64_t{t.who} + 1, "-", t.ref);
      static constexpr int64_t kGoodwill[] = {200, 500, 500, 1000, 2000};
      PointsAdjustedEvent(t, rng_.Pick(kGoodwill), text_);
      if (rng_.Chance(300)) {
        Task survey = t;
        survey.aux = kSupportCsat;
        survey.channel = Channel::kEmail;
        FollowUp(survey, Scenario::kFeedbackSurvey, t.at + Hours(2, 48));
      }
      return kDone;
    }
  }
}

int64_t Generator::CommitmentDue(Task& t) {
  Begin(EventType::kCommitmentFulfilled);
  CustomerField(t.who);
  When(t.at, t.channel, t.channel == Channel::kPhone ? "callcenter" : "crm-console");
  Actor("agent-", 60);
  BeginData();
  Ref("commitment_id", "cm-", t.who, t.ref);
  End();
  return kDone;
}

int64_t Generator::OrderUpdate(Task& t) {
  OrderStatus next;
  switch (t.status) {
    case kPlaced:
    case kConfirmed:
      next = rng_.Chance(60) ? kCancelled : kShipped;
      break;
    case kShipped:
      next = kDelivered;
      break;
    case kDelivered:
      if (!(t.flags & kReturnComing)) return kDone;
      next = kReturned;
      break;
    default:
      return kDone;
  }
  t.status = next;
  OrderStatusEvent(t, t.at, next);
  switch (next) {
    case kShipped:
      FollowUp(t, Scenario::kOrderUpdate, t.at + Hours(18, 96));
      break;
    case kDelivered:
      // Either sent back, or part of it refunded, or kept; never both, so that refunds of an
      // order never exceed its amount.
      if (rng_.Chance(45)) {
        Task ret = t;
        ret.flags = kReturnComing;
        FollowUp(ret, Scenario::kOrderUpdate, t.at + Hours(3 * 24, 14 * 24));
      } else if (rng_.Chance(65)) {
        Task refund = t;
        refund.flags = kPartial;
        FollowUp(refund, Scenario::kRefund, t.at + Hours(2 * 24, 20 * 24));
      }
      if (rng_.Chance(250)) {
        Task survey = t;
        survey.aux = kPostPurchase;
        survey.channel = rng_.Chance(500) ? Channel::kEmail : Channel::kApp;
        FollowUp(survey, Scenario::kFeedbackSurvey, t.at + Hours(12, 72));
      }
      break;
    case kCancelled:
    case kReturned: {
      Task refund = t;
      refund.flags = 0;
      FollowUp(refund, Scenario::kRefund, t.at + Hours(1, 48));
      break;
    }
    default:
      break;
  }
  return kDone;
}

int64_t Generator::Refund(Task& t) {
  // All of it after a cancellation or return; part of it: one item, or a price adjustment.
  int64_t amount = t.amount;
  if (t.flags & kPartial) {
    amount = rng_.Chance(600) && t.aux < static_cast<uint32_t>(t.amount)
                 ? int64_t{t.aux}
                 : std::max<int64_t>(1, int64_t{t.amount} * (5 + rng_.Below(26)) / 100);
  }
  Begin(EventType::kRefund);
  CustomerField(t.who);
  When(t.at, t.channel, "payment-gateway");
  BeginData();
  Ref("order_id", "O-", t.who, t.ref);
  Int("amount_minor", amount);
  Str("currency", kCurrencies[t.currency]);
  End();
  if (t.currency == 0) {
    int32_t& points = state_[t.who].points;
    points = static_cast<int32_t>(std::max<int64_t>(0, points - amount / 100));
  }
  return kDone;
}

int64_t Generator::FeedbackSurvey(Task& t) {
  if (t.aux == kPostPurchase) {
    SurveyEvent(t, "post_purchase_csat", true, rng_.Chance(200), t.channel);
  } else {
    SurveyEvent(t, "support_csat", true, false, t.channel);
  }
  return kDone;
}

int64_t Generator::Preferences(Task& t) {
  const uint32_t c = t.who;
  CustomerState& cs = state_[c];
  if (t.step == 0 && cs.stated != 0 && rng_.Chance(160)) {
    uint32_t key = rng_.Below(kNumPrefKeys);
    while (!(cs.stated >> key & 1)) key = (key + 1) % kNumPrefKeys;
    Begin(EventType::kPreferenceRetracted);
    Customer(c, t.channel, 150);
    When(t.at, t.channel, SourceOf(t.channel));
    BeginData();
    Str("key", kPrefKeys[key].key);
    End();
    cs.stated &= static_cast<uint16_t>(~(1u << key));
    return kDone;
  }
  const uint32_t key = rng_.Below(kNumPrefKeys);
  Begin(EventType::kPreferenceStated);
  Customer(c, t.channel, 300);
  When(t.at, t.channel, t.channel == Channel::kStore ? "clienteling" : SourceOf(t.channel));
  if (t.channel == Channel::kStore || t.channel == Channel::kPhone) Actor("assoc-", 80);
  BeginData();
  Str("key", kPrefKeys[key].key);
  Str("value", PreferenceValue(c, key, rng_.Chance(850)));
  End();
  cs.stated |= static_cast<uint16_t>(1u << key);
  return t.step == 0 && rng_.Chance(400) ? Soon() : kDone;
}

int64_t Generator::Facts(Task& t) {
  const uint32_t c = t.who;
  const Fact& fact = rng_.Pick(kFactKeys);
  Begin(EventType::kFactRecorded);
  Customer(c, t.channel, 150);
  When(t.at, t.channel, t.channel == Channel::kStore ? "clienteling" : SourceOf(t.channel));
  if (t.channel == Channel::kStore) {
    Actor("assoc-", 80);
  } else if (t.channel == Channel::kPhone || t.channel == Channel::kChat) {
    Actor("agent-", 60);
  }
  BeginData();
  Str("key", fact.key);
  // Facts are stable, with the odd correction.
  Str("value", fact.values[(rng_.Chance(900) ? Trait(c, 0xFAC7) : rng_.Next()) % 4]);
  End();
  return t.step == 0 && rng_.Chance(350) ? Soon() : kDone;
}

int64_t Generator::Survey(Task& t) {
  const bool nps = rng_.Chance(600);
  const bool csat = !nps || rng_.Chance(300);
  const Channel channel = rng_.Chance(500) ? Channel::kEmail : t.channel;
  SurveyEvent(t, nps ? "relationship_nps" : "store_visit_csat", csat, nps, channel);
  return kDone;
}

int64_t Generator::Loyalty(Task& t) {
  const uint32_t c = t.who;
  CustomerState& cs = state_[c];
  const uint32_t r = rng_.Below(100);
  if (r < 45 || (r < 80 && cs.points < 500)) {
    if (rng_.Chance(250) && cs.points > 0) {
      const int64_t points = -rng_.Range(50, std::min<int64_t>(2000, cs.points + 50));
      PointsAdjustedEvent(t, points, rng_.Pick(kNegativePointReasons));
    } else {
      static constexpr int64_t kBonus[] = {100, 200, 500, 500, 1000, 2000};
      const int64_t points = rng_.Pick(kBonus);
      PointsAdjustedEvent(t, points, rng_.Pick(kPositivePointReasons));
    }
  } else if (r < 80) {
    static constexpr int64_t kRedeem[] = {500, 1000, 1000, 2000, 5000};
    const int64_t points = std::min<int64_t>(rng_.Pick(kRedeem), cs.points);
    Begin(EventType::kPointsRedeemed);
    Customer(c, t.channel, 300);
    When(t.at, t.channel, "loyalty-engine");
    BeginData();
    Int("points", points);
    Str("reward", rng_.Pick(kRewards));
    End();
    cs.points -= static_cast<int32_t>(points);
  } else {
    static constexpr std::string_view kOverrideTiers[] = {"silver", "silver",   "gold",  "gold",
                                                          "gold",   "platinum", "member"};
    Begin(EventType::kTierOverride);
    CustomerField(c);
    When(t.at, Channel::kOther, "crm-console");
    Actor("mgr-", 12);
    BeginData();
    Str("tier", rng_.Pick(kOverrideTiers));
    if (rng_.Chance(600)) Time("until", (t.at + rng_.Range(90, 365) * kDay) / kDay * kDay);
    End();
  }
  return kDone;
}

int64_t Generator::Consent(Task& t) {
  Begin(EventType::kConsentChanged);
  Customer(t.who, t.channel, 300);
  When(t.at, t.channel, "preference-center");
  BeginData();
  if (rng_.Chance(500)) Str("channel", ledger::ChannelName(rng_.Pick(kConsentChannels)));
  Str("purpose", rng_.Pick(kConsentPurposes));
  Str("status", rng_.Chance(650) ? "granted" : "revoked");
  End();
  return t.step == 0 && rng_.Chance(300) ? Soon() : kDone;
}

int64_t Generator::Tags(Task& t) {
  CustomerState& cs = state_[t.who];
  const bool remove = cs.tags != 0 && rng_.Chance(350);
  uint32_t tag = rng_.Below(kNumTags);
  if (remove) {
    while (!(cs.tags >> tag & 1)) tag = (tag + 1) % kNumTags;
    cs.tags &= static_cast<uint16_t>(~(1u << tag));
  } else {
    cs.tags |= static_cast<uint16_t>(1u << tag);
  }
  Begin(remove ? EventType::kTagRemoved : EventType::kTagAssigned);
  CustomerField(t.who);
  When(t.at, Channel::kOther, "crm-console");
  Actor("agent-", 60);
  BeginData();
  Str("tag", kTagNames[tag]);
  End();
  return kDone;
}

int64_t Generator::Inquiry(Task& t) {
  const Subject& s = rng_.Pick(kInquiries);
  Begin(EventType::kInquiry);
  if (t.channel == Channel::kPhone && rng_.Chance(300)) {
    // Caller ID only: resolves to the customer once the number has been seen with their id.
    IdentityField(IdentityKind::kPhone, t.who, false);
  } else {
    Customer(t.who, t.channel, 300);
  }
  When(t.at, t.channel, SourceOf(t.channel));
  if (t.channel == Channel::kPhone || t.channel == Channel::kChat) Actor("agent-", 60);
  if (t.channel == Channel::kStore) Actor("assoc-", 80);
  BeginData();
  if (rng_.Chance(850)) {
    text_.clear();
    StrAppend(&text_, rng_.Pick(s.summaries), ".");
    text_.append(rng_.Pick(kInboundContext));
    Str("summary", text_);
  }
  Str("topic", s.topic);
  End();
  return kDone;
}

int64_t Generator::Suggestion(Task& t) {
  const Subject& s = rng_.Pick(kSuggestions);
  Begin(EventType::kSuggestion);
  Customer(t.who, t.channel, 300);
  When(t.at, t.channel, t.channel == Channel::kApp ? "app" : SourceOf(t.channel));
  BeginData();
  Str("summary", rng_.Pick(s.summaries));
  Str("topic", s.topic);
  End();
  return kDone;
}

int64_t Generator::IdentityUpdate(Task& t) {
  CustomerState& cs = state_[t.who];
  if (t.step > 0) {
    VisitEvent(t, true, false, false);
    return kDone;
  }
  IdentityKind kind;
  const uint32_t r = rng_.Below(100);
  if (r < 30) {
    kind = IdentityKind::kEmail;
  } else if (r < 55) {
    kind = IdentityKind::kPhone;
  } else if (r < 80) {
    kind = IdentityKind::kLoyaltyCard;
    ++cs.card_gen;  // a replacement or second card
  } else {
    kind = IdentityKind::kWebCookie;
    cs.cookie_linked = true;
  }
  Begin(EventType::kIdentityLinked);
  CustomerField(t.who);
  When(t.at, t.channel, kind == IdentityKind::kLoyaltyCard ? "loyalty-engine" : "identity-service");
  BeginData();
  Key("identity");
  AppendIdentity(kind, t.who, false);
  End();
  return t.channel == Channel::kStore && rng_.Chance(500) ? Soon() : kDone;
}

}  // namespace

void GenerateWorkload(const GenOptions& options,
                      const std::function<void(std::string_view)>& sink) {
  if (options.events == 0) return;
  Generator generator(options, sink);
  generator.Run();
}

}  // namespace rapport::tools
