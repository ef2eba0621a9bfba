// The HTTP API of `rapport serve` (CONTRACT §6) against the real server: tools::HttpServer on a
// free loopback port over a consumers::Service without Kafka, RocksDB in a temp dir, spoken to over
// real TCP by cpp-httplib's client and, for what no client would send, by raw sockets. Response
// bodies are read with simdjson, a parser independent of the ledger's own.
#include "tools/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "consumers/service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/hashing.h"
#include "ledger/ledger.h"
#include "tests/testing/events.h"
#include "tests/testing/kafka.h"  // WaitFor
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tools/config.h"

namespace rapport::tools {
namespace {

using ::rapport::testing::InquiryJson;
using ::rapport::testing::TempDir;
using ::rapport::testing::WriteFile;
using ::testing::AllOf;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::Lt;
using ::testing::StartsWith;

constexpr char kJson[] = "application/json";
constexpr char kNdjson[] = "application/x-ndjson";
const std::string kZeroHash(64, '0');

// A response body parsed once and read with JSON pointers ("/results/0/seq"). A member that is
// missing or of another type reads as a sentinel, so that a failed expectation shows the body.
class Json {
 public:
  explicit Json(std::string_view text) : parser_(std::make_unique<simdjson::dom::parser>()) {
    auto parsed = parser_->parse(text.data(), text.size());
    ok_ = parsed.error() == simdjson::SUCCESS;
    if (ok_) root_ = parsed.value_unsafe();
  }
  bool ok() const { return ok_; }
  bool Has(std::string_view pointer) const {
    return ok_ && root_.at_pointer(pointer).error() == simdjson::SUCCESS;
  }
  std::string Str(std::string_view pointer) const {
    std::string_view v;
    if (!ok_ || root_.at_pointer(pointer).get(v) != simdjson::SUCCESS) {
      return StrCat("<no string at ", pointer, ">");
    }
    return std::string(v);
  }
  int64_t Int(std::string_view pointer) const {
    int64_t v;
    if (!ok_ || root_.at_pointer(pointer).get(v) != simdjson::SUCCESS) return INT64_MIN;
    return v;
  }
  // 1 for true, 0 for false, -1 when not a boolean.
  int Bool(std::string_view pointer) const {
    bool v;
    if (!ok_ || root_.at_pointer(pointer).get(v) != simdjson::SUCCESS) return -1;
    return v ? 1 : 0;
  }
  bool IsNull(std::string_view pointer) const {
    if (!ok_) return false;
    auto e = root_.at_pointer(pointer);
    return e.error() == simdjson::SUCCESS && e.value_unsafe().is_null();
  }
  // Elements of an array or members of an object; -1 for anything else.
  int64_t Size(std::string_view pointer) const {
    if (!ok_) return -1;
    auto e = root_.at_pointer(pointer);
    if (e.error() != simdjson::SUCCESS) return -1;
    simdjson::dom::array array;
    if (e.get(array) == simdjson::SUCCESS) return static_cast<int64_t>(array.size());
    simdjson::dom::object object;
    if (e.get(object) == simdjson::SUCCESS) return static_cast<int64_t>(object.size());
    return -1;
  }
  // Member names of an object, in document order.
  std::vector<std::string> Keys(std::string_view pointer) const {
    std::vector<std::string> keys;
    simdjson::dom::object object;
    if (ok_ && root_.at_pointer(pointer).get(object) == simdjson::SUCCESS) {
      for (auto field : object) keys.emplace_back(field.key);
    }
    return keys;
  }

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
  bool ok_ = false;
};

// One HTTP response; status 0 when none came (connection refused, reset or timed out).
struct Reply {
  int status = 0;
  httplib::Headers headers;
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);  // case-insensitive map
    return it == headers.end() ? "" : it->second;
  }
  Json json() const { return Json(body); }
};

std::ostream& operator<<(std::ostream& os, const Reply& r) {
  return os << "HTTP " << r.status << " " << r.body;
}

// Whether `r` is the contract's error: status, `{"error": {"code", "message", ...}}` as JSON, and,
// when given, `field`.
::testing::AssertionResult IsError(const Reply& r, int status, std::string_view code,
                                   std::string_view field = "") {
  Json j = r.json();
  if (r.status != status) return ::testing::AssertionFailure() << "status of " << r;
  if (!absl::StartsWith(AbslView(r.Header("Content-Type")), "application/json")) {
    return ::testing::AssertionFailure() << "Content-Type " << r.Header("Content-Type");
  }
  if (!j.ok() || j.Keys("").size() != 1 || j.Str("/error/code") != code ||
      j.Str("/error/message").empty() || j.Str("/error/message").starts_with("<no string")) {
    return ::testing::AssertionFailure() << "error body of " << r;
  }
  if (!field.empty() && j.Str("/error/field") != field) {
    return ::testing::AssertionFailure() << "field of " << r;
  }
  return ::testing::AssertionSuccess();
}

// A raw TCP connection, for requests that no HTTP client sends.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Close();
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False when the peer has closed or reset the connection.
  bool Send(std::string_view bytes) {
    while (!bytes.empty() && fd_ >= 0) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return fd_ >= 0;
  }
  // Reads one response (status line, headers, a Content-Length body). Waits at most
  // `timeout_ms` for each read, a bound against hanging, not a measurement.
  Reply ReadResponse(int timeout_ms = 15000) {
    Reply r;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout_ms)) return r;
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::istringstream lines(head);
    std::string line;
    std::getline(lines, line);
    if (!line.starts_with("HTTP/1.")) return r;
    int status = std::atoi(line.c_str() + 9);
    size_t length = 0;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      if (absl::EqualsIgnoreCase(name, "Content-Length")) length = std::stoul(value);
      r.headers.emplace(name, value);
    }
    while (buffer_.size() < length) {
      if (!Fill(timeout_ms)) return r;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    r.status = status;
    return r;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool Fill(int timeout_ms) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buffer_;
};

// An inquiry whose data.summary makes it `bytes` long or a little more.
std::string LargeInquiryJson(const std::string& id, const std::string& customer, size_t bytes) {
  std::string event = InquiryJson(id, customer);
  std::string data = "{\"topic\":\"delivery\"}";
  size_t at = event.find(data);
  size_t pad = bytes > event.size() + 14 ? bytes - event.size() - 14 : 1;
  return event.replace(
      at, data.size(),
      StrCat("{\"topic\":\"delivery\",\"summary\":\"", std::string(pad, 's'), "\"}"));
}

std::string Ndjson(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// The service (no Kafka, RocksDB in a temp dir) and the HTTP server in front of it.
class HttpTest : public ::testing::Test {
 protected:
  void StartServer(HttpOptions options = {}) {
    consumers::ServiceOptions service_options;
    service_options.data_dir = dir_.Sub("data");
    service_options.kafka_mode = "none";
    ASSERT_OK(consumers::Service::Start(service_options, &service_));
    if (options.listen == HttpOptions().listen) options.listen = "127.0.0.1:0";
    options.threads = 32;
    ASSERT_OK(HttpServer::Start(options, service_.get(), &server_));
    const std::string& address = server_->address();
    port_ = std::stoi(address.substr(address.rfind(':') + 1));
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (service_) service_->Stop();
  }

  // One request on a new connection; `token`, when given, as a bearer token.
  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& content_type = "", const std::string& token = "") {
    httplib::Client client("127.0.0.1", port_);
    client.set_url_encode(false);  // paths are sent as written here
    client.set_read_timeout(15, 0);
    httplib::Request req;
    req.method = method;
    req.path = path;
    if (!token.empty()) req.set_header("Authorization", "Bearer " + token);
    if (!content_type.empty()) req.set_header("Content-Type", content_type);
    req.body = body;
    Reply reply;
    if (auto res = client.send(req)) {
      reply.status = res->status;
      reply.headers = res->headers;
      reply.body = res->body;
    }
    return reply;
  }
  Reply Get(const std::string& path, const std::string& token = "") {
    return Call("GET", path, "", "", token);
  }
  Reply Post(const std::string& body, const std::string& content_type = kJson,
             const std::string& token = "") {
    return Call("POST", "/v1/events", body, content_type, token);
  }

  // Total records over all partitions, from the server's digest.
  int64_t RecordsInDigest() {
    Json d = Get("/v1/ledger/digest", admin_token_).json();
    int64_t total = 0;
    for (int64_t p = 0; p < d.Size("/partitions"); ++p) {
      total += d.Int(StrCat("/partitions/", p, "/position"));
    }
    return total;
  }

  TempDir dir_;
  std::unique_ptr<consumers::Service> service_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::string admin_token_;  // set by fixtures with auth
};

class HttpServerTest : public HttpTest {
 protected:
  void SetUp() override { StartServer(); }
};

// ---- POST /v1/events ---------------------------------------------------------------------------

TEST_F(HttpServerTest, OneEventAnswersItsAppendResult) {
  Reply r = Post(InquiryJson("e1", "C-1"));
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_THAT(r.Header("Content-Type"), StartsWith("application/json"));
  Json j = r.json();
  ASSERT_EQ(j.Size("/results"), 1) << r;
  EXPECT_EQ(j.Keys("/results/0"),
            (std::vector<std::string>{"event_id", "customer_id", "partition", "seq", "position",
                                      "hash", "duplicate"}));
  EXPECT_EQ(j.Str("/results/0/event_id"), "e1");
  EXPECT_EQ(j.Str("/results/0/customer_id"), "C-1");
  const int64_t partition = ledger::PartitionFor("C-1", 4);
  EXPECT_EQ(j.Int("/results/0/partition"), partition);
  EXPECT_EQ(j.Int("/results/0/seq"), 1);
  EXPECT_EQ(j.Int("/results/0/position"), 1);
  EXPECT_TRUE(std::regex_match(j.Str("/results/0/hash"), std::regex("[0-9a-f]{64}"))) << r;
  EXPECT_EQ(j.Bool("/results/0/duplicate"), 0);

  // The hash is the partition's chain head.
  Json d = Get("/v1/ledger/digest").json();
  EXPECT_EQ(d.Int(StrCat("/partitions/", partition, "/position")), 1);
  EXPECT_EQ(d.Str(StrCat("/partitions/", partition, "/hash")), j.Str("/results/0/hash"));

  // A media type parameter is allowed.
  Reply charset = Post(InquiryJson("e2", "C-1"), "application/json; charset=utf-8");
  ASSERT_EQ(charset.status, 200) << charset;
  EXPECT_EQ(charset.json().Int("/results/0/seq"), 2);
}

TEST_F(HttpServerTest, NdjsonBatchSkipsBlankLinesAndKeepsOrder) {
  std::string body = InquiryJson("b1", "C-1") + "\n\n   \r\n" + InquiryJson("b2", "C-2") +
                     "\r\n\t\n" + InquiryJson("b3", "C-1");  // no final newline
  Reply r = Post(body, kNdjson);
  ASSERT_EQ(r.status, 200) << r;
  Json j = r.json();
  ASSERT_EQ(j.Size("/results"), 3) << r;
  EXPECT_EQ(j.Str("/results/0/event_id"), "b1");
  EXPECT_EQ(j.Str("/results/1/event_id"), "b2");
  EXPECT_EQ(j.Str("/results/2/event_id"), "b3");
  EXPECT_EQ(j.Int("/results/0/seq"), 1);
  EXPECT_EQ(j.Int("/results/1/seq"), 1);
  EXPECT_EQ(j.Int("/results/2/seq"), 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(j.Bool(StrCat("/results/", i, "/duplicate")), 0);
}

TEST_F(HttpServerTest, EmptyBatchAnswersEmptyResults) {
  for (std::string body : {"", "\n", "\n  \n\r\n"}) {
    Reply r = Post(body, kNdjson);
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.json().Size("/results"), 0) << r;
    EXPECT_EQ(r.json().Keys(""), std::vector<std::string>{"results"});
  }
  EXPECT_EQ(RecordsInDigest(), 0);
}

TEST_F(HttpServerTest, BadLineNamesItsPhysicalLineAndTheBatchStoresNothing) {
  std::string missing_type = InquiryJson("b4", "C-1");
  missing_type.replace(missing_type.find("\"type\":\"inquiry\","), 17, "");
  std::string body =
      InquiryJson("b1", "C-1") + "\n\n  \n" + missing_type + "\n" + InquiryJson("b5", "C-2") + "\n";
  Reply r = Post(body, kNdjson);
  EXPECT_TRUE(IsError(r, 400, "invalid_field", "type"));
  EXPECT_EQ(r.json().Int("/error/line"), 4) << r;

  Reply bad_json = Post(InquiryJson("b1", "C-1") + "\n{\"event_id\": \n", kNdjson);
  EXPECT_TRUE(IsError(bad_json, 400, "invalid_json"));
  EXPECT_EQ(bad_json.json().Int("/error/line"), 2) << bad_json;

  // Atomic: the good lines before and after were not stored.
  EXPECT_TRUE(IsError(Get("/v1/customers/C-1/events"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/v1/customers/C-2/events"), 404, "not_found"));
  EXPECT_EQ(RecordsInDigest(), 0);
  EXPECT_EQ(service_->ledger()->stats().events_appended, 0u);
}

TEST_F(HttpServerTest, VersionConflictIn409WithCurrentVersionAndNothingStored) {
  ASSERT_EQ(Post(InquiryJson("e0", "C-2")).status, 200);
  // Single event: expected 0, but C-2 has 1.
  Reply single = Post(InquiryJson("e1", "C-2", "\"expected_version\":0"));
  EXPECT_TRUE(IsError(single, 409, "version_conflict", "expected_version"));
  EXPECT_EQ(single.json().Int("/error/current_version"), 1) << single;
  EXPECT_FALSE(single.json().Has("/error/line"));

  // In a batch, the whole batch fails and the error names the line.
  Reply batch =
      Post(Ndjson({InquiryJson("b1", "C-1"), InquiryJson("b2", "C-2", "\"expected_version\":0")}),
           kNdjson);
  EXPECT_TRUE(IsError(batch, 409, "version_conflict", "expected_version"));
  EXPECT_EQ(batch.json().Int("/error/current_version"), 1) << batch;
  EXPECT_EQ(batch.json().Int("/error/line"), 2) << batch;
  EXPECT_TRUE(IsError(Get("/v1/customers/C-1/events"), 404, "not_found"));
  EXPECT_EQ(RecordsInDigest(), 1);

  // The right version succeeds.
  Reply ok = Post(InquiryJson("e1", "C-2", "\"expected_version\":1"));
  ASSERT_EQ(ok.status, 200) << ok;
  EXPECT_EQ(ok.json().Int("/results/0/seq"), 2);
}

TEST_F(HttpServerTest, ConflictLineIsTheEventThatConflicted) {
  // Both lines expect a new customer: the first would pass, the second cannot.
  Reply r = Post(InquiryJson("c1", "C-3", "\"expected_version\":0") + "\n\n" +
                     InquiryJson("c2", "C-3", "\"expected_version\":0") + "\n",
                 kNdjson);
  EXPECT_TRUE(IsError(r, 409, "version_conflict"));
  EXPECT_EQ(r.json().Int("/error/line"), 3) << r;
  EXPECT_EQ(r.json().Int("/error/current_version"), 1) << r;
  EXPECT_TRUE(IsError(Get("/v1/customers/C-3/events"), 404, "not_found"));

  // A chain of expectations that is right throughout is stored.
  Reply chain = Post(Ndjson({InquiryJson("c1", "C-3", "\"expected_version\":0"),
                             InquiryJson("c2", "C-3", "\"expected_version\":1")}),
                     kNdjson);
  ASSERT_EQ(chain.status, 200) << chain;
  EXPECT_EQ(chain.json().Int("/results/1/seq"), 2);
}

TEST_F(HttpServerTest, ResubmissionIsADuplicateWithTheFirstResult) {
  Reply first = Post(InquiryJson("e1", "C-1"));
  ASSERT_EQ(first.status, 200) << first;
  Reply again = Post(InquiryJson("e1", "C-1"));
  ASSERT_EQ(again.status, 200) << again;
  Json a = first.json(), b = again.json();
  EXPECT_EQ(b.Bool("/results/0/duplicate"), 1);
  for (const char* f : {"/results/0/seq", "/results/0/position", "/results/0/partition"}) {
    EXPECT_EQ(a.Int(f), b.Int(f)) << f;
  }
  EXPECT_EQ(a.Str("/results/0/hash"), b.Str("/results/0/hash"));

  // A repeat inside one batch, and a stored event inside a batch, are duplicates too.
  Reply batch =
      Post(Ndjson({InquiryJson("e2", "C-1"), InquiryJson("e2", "C-1"), InquiryJson("e1", "C-1")}),
           kNdjson);
  ASSERT_EQ(batch.status, 200) << batch;
  Json c = batch.json();
  EXPECT_EQ(c.Bool("/results/0/duplicate"), 0);
  EXPECT_EQ(c.Bool("/results/1/duplicate"), 1);
  EXPECT_EQ(c.Int("/results/1/seq"), 2);
  EXPECT_EQ(c.Bool("/results/2/duplicate"), 1);
  EXPECT_EQ(c.Int("/results/2/seq"), 1);

  Json history = Get("/v1/customers/C-1/events").json();
  EXPECT_EQ(history.Size("/events"), 2);
  EXPECT_EQ(RecordsInDigest(), 2);
}

TEST_F(HttpServerTest, SameEventIdWithOtherContentIsDuplicateMismatch) {
  ASSERT_EQ(Post(InquiryJson("e1", "C-1")).status, 200);
  Reply single = Post(InquiryJson("e1", "C-1", "\"actor\":\"someone-else\""));
  EXPECT_TRUE(IsError(single, 409, "duplicate_mismatch", "event_id"));

  Reply stored = Post(Ndjson({InquiryJson("e2", "C-1"), InquiryJson("e1", "C-2")}), kNdjson);
  EXPECT_TRUE(IsError(stored, 409, "duplicate_mismatch", "event_id"));
  EXPECT_EQ(stored.json().Int("/error/line"), 2) << stored;

  // Inside one batch: the second, different, occurrence is the one refused.
  Reply inside = Post(Ndjson({InquiryJson("e3", "C-1"), "", InquiryJson("e3", "C-9")}), kNdjson);
  EXPECT_TRUE(IsError(inside, 409, "duplicate_mismatch", "event_id"));
  EXPECT_EQ(inside.json().Int("/error/line"), 3) << inside;

  EXPECT_EQ(RecordsInDigest(), 1);
}

TEST_F(HttpServerTest, OtherMediaTypesAre415) {
  for (std::string type : {"text/plain", "application/xml", "application/jsonx"}) {
    EXPECT_TRUE(IsError(Post(InquiryJson("e1", "C-1"), type), 415, "unsupported_media_type"))
        << type;
  }
  EXPECT_TRUE(IsError(Post(InquiryJson("e1", "C-1"), ""), 415, "unsupported_media_type"));
  EXPECT_EQ(RecordsInDigest(), 0);
}

TEST_F(HttpServerTest, WrongMethodsAre405WithAllow) {
  for (std::string method : {"PUT", "DELETE", "PATCH", "GET"}) {
    Reply r = Call(method, "/v1/events", method == "GET" ? "" : InquiryJson("e1", "C-1"), kJson);
    EXPECT_TRUE(IsError(r, 405, "method_not_allowed")) << method;
    EXPECT_EQ(r.Header("Allow"), "POST") << method;
  }
  for (std::string path : {"/healthz", "/metrics", "/v1/ledger/digest", "/v1/customers/C-1/events",
                           "/v1/customers/C-1/profile", "/v1/identities/email/a@b.c"}) {
    Reply r = Call("POST", path, "{}", kJson);
    EXPECT_TRUE(IsError(r, 405, "method_not_allowed")) << path;
    EXPECT_EQ(r.Header("Allow"), "GET, HEAD") << path;
  }
  EXPECT_EQ(Call("DELETE", "/v1/customers/C-1/loyalty").Header("Allow"), "GET, HEAD");
  EXPECT_EQ(RecordsInDigest(), 0);
}

TEST_F(HttpServerTest, UnknownRoutesAre404) {
  for (std::string path : {"/", "/v1", "/v2/events", "/v1/customers/C-1", "/v1/customers/C-1/x",
                           "/v1/customers//events", "/v1/identities/email/", "/healthz/x"}) {
    EXPECT_TRUE(IsError(Get(path), 404, "not_found")) << path;
  }
  EXPECT_TRUE(IsError(Call("POST", "/v1/event", "{}", kJson), 404, "not_found"));
}

// ---- Reads ---------------------------------------------------------------------------------

TEST_F(HttpServerTest, HistoryPagesWithAfterSeqAndLimit) {
  std::vector<std::string> lines;
  for (int i = 1; i <= 150; ++i) lines.push_back(InquiryJson(StrCat("h", i), "C-1"));
  ASSERT_EQ(Post(Ndjson(lines), kNdjson).status, 200);

  auto seqs = [](const Json& j) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < j.Size("/events"); ++i)
      out.push_back(j.Int(StrCat("/events/", i, "/seq")));
    return out;
  };
  auto range = [](int64_t from, int64_t to) {
    std::vector<int64_t> out;
    for (int64_t s = from; s <= to; ++s) out.push_back(s);
    return out;
  };
  Reply first = Get("/v1/customers/C-1/events");
  ASSERT_EQ(first.status, 200) << first;
  EXPECT_EQ(seqs(first.json()), range(1, 100));  // limit defaults to 100
  EXPECT_EQ(seqs(Get("/v1/customers/C-1/events?after_seq=100").json()), range(101, 150));
  EXPECT_EQ(seqs(Get("/v1/customers/C-1/events?after_seq=3&limit=2").json()), range(4, 5));
  EXPECT_EQ(seqs(Get("/v1/customers/C-1/events?limit=1000").json()), range(1, 150));
  EXPECT_EQ(seqs(Get("/v1/customers/C-1/events?after_seq=150").json()), range(1, 0));

  // Each event as accepted plus where and when it was stored.
  Json j = first.json();
  EXPECT_EQ(j.Str("/events/0/event_id"), "h1");
  EXPECT_EQ(j.Str("/events/0/type"), "inquiry");
  EXPECT_EQ(j.Str("/events/0/customer_id"), "C-1");
  EXPECT_EQ(j.Str("/events/0/occurred_at"), "2026-11-20T10:15:00Z");
  EXPECT_EQ(j.Str("/events/0/data/topic"), "delivery");
  EXPECT_EQ(j.Int("/events/0/partition"), ledger::PartitionFor("C-1", 4));
  EXPECT_EQ(j.Int("/events/0/position"), 1);
  EXPECT_TRUE(std::regex_match(j.Str("/events/0/recorded_at"),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z)")))
      << j.Str("/events/0/recorded_at");
  EXPECT_TRUE(std::regex_match(j.Str("/events/0/hash"), std::regex("[0-9a-f]{64}")));
  EXPECT_TRUE(std::regex_match(j.Str("/events/0/customer_hash"), std::regex("[0-9a-f]{64}")));
}

TEST_F(HttpServerTest, HistoryRejectsBadParametersNamingThem) {
  ASSERT_EQ(Post(InquiryJson("e1", "C-1")).status, 200);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"limit=0", "limit"},
      {"limit=1001", "limit"},
      {"limit=abc", "limit"},
      {"limit=-1", "limit"},
      {"limit=", "limit"},
      {"limit=99999999999999999999999", "limit"},
      {"after_seq=x", "after_seq"},
      {"after_seq=-1", "after_seq"},
      {"after_seq=1.5", "after_seq"},
      {"as_of=yesterday", "as_of"},
      {"as_of=2026-13-01T00:00:00Z", "as_of"}};
  for (const auto& [query, field] : cases) {
    EXPECT_TRUE(IsError(Get("/v1/customers/C-1/events?" + query), 400, "invalid_field", field))
        << query;
  }
  EXPECT_EQ(Get("/v1/customers/C-1/events?limit=1000").status, 200);
  EXPECT_EQ(Get("/v1/customers/C-1/events?limit=1").status, 200);
}

TEST_F(HttpServerTest, HistoryAsOfShowsTheEventsThatHadOccurred) {
  ASSERT_EQ(Post(Ndjson({InquiryJson("e1", "C-1", "", "2026-01-01T00:00:00Z"),
                         InquiryJson("e2", "C-1", "", "2026-09-01T00:00:00Z"),
                         InquiryJson("e3", "C-1", "", "2026-06-01T00:00:00+08:00")}),
                 kNdjson)
                .status,
            200);
  Json j = Get("/v1/customers/C-1/events?as_of=2026-07-01T00:00:00Z").json();
  ASSERT_EQ(j.Size("/events"), 2) << Get("/v1/customers/C-1/events?as_of=2026-07-01T00:00:00Z");
  EXPECT_EQ(j.Str("/events/0/event_id"), "e1");
  EXPECT_EQ(j.Str("/events/1/event_id"), "e3");
  EXPECT_EQ(j.Str("/events/1/occurred_at"), "2026-05-31T16:00:00Z");
  // An offset in the query must be percent-encoded ('+' is a space there).
  EXPECT_EQ(
      Get("/v1/customers/C-1/events?as_of=2026-05-31T23:59:59%2B08:00").json().Size("/events"), 1);
  // A known customer with nothing visible yet has an empty history; an unknown one is 404.
  Reply before = Get("/v1/customers/C-1/events?as_of=2025-01-01T00:00:00Z");
  EXPECT_EQ(before.status, 200) << before;
  EXPECT_EQ(before.json().Size("/events"), 0);
  EXPECT_TRUE(IsError(Get("/v1/customers/C-404/events"), 404, "not_found"));
}

TEST_F(HttpServerTest, ProjectionsAnswerAsOfAnd404ForUnknownCustomers) {
  ASSERT_EQ(Post(Ndjson({InquiryJson("e1", "C-1", "", "2026-01-01T00:00:00Z"),
                         InquiryJson("e2", "C-1", "", "2026-06-01T00:00:00Z")}),
                 kNdjson)
                .status,
            200);
  for (std::string kind : {"profile", "loyalty", "resume"}) {
    SCOPED_TRACE(kind);
    Reply now = Get("/v1/customers/C-1/" + kind);
    ASSERT_EQ(now.status, 200) << now;
    Json j = now.json();
    std::vector<std::string> keys = j.Keys("");
    ASSERT_GE(keys.size(), 3u) << now;
    EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 3),
              (std::vector<std::string>{"customer_id", "as_of", "seq"}));
    EXPECT_EQ(j.Str("/customer_id"), "C-1");
    EXPECT_EQ(j.Int("/seq"), 2);

    Json then = Get("/v1/customers/C-1/" + kind + "?as_of=2026-03-01T00:00:00Z").json();
    EXPECT_EQ(then.Str("/as_of"), "2026-03-01T00:00:00Z");
    EXPECT_EQ(then.Int("/seq"), 1);

    EXPECT_TRUE(IsError(Get("/v1/customers/C-1/" + kind + "?as_of=2025-01-01T00:00:00Z"), 404,
                        "not_found"));
    EXPECT_TRUE(IsError(Get("/v1/customers/C-404/" + kind), 404, "not_found"));
    EXPECT_TRUE(
        IsError(Get("/v1/customers/C-1/" + kind + "?as_of=soon"), 400, "invalid_field", "as_of"));
  }
  Json resume = Get("/v1/customers/C-1/resume?as_of=2026-03-01T00:00:00Z").json();
  EXPECT_EQ(resume.Str("/last_contact/at"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(resume.Str("/last_contact/channel"), "chat");
  EXPECT_EQ(Get("/v1/customers/C-1/loyalty").json().Str("/tier"), "member");
  EXPECT_EQ(Get("/v1/customers/C-1/loyalty").json().Str("/relationship"), "prospect");
}

TEST_F(HttpServerTest, CustomerIdsWithASlashCanBeRead) {
  ASSERT_EQ(Post(InquiryJson("e1", "shop/7")).status, 200);
  Reply history = Get("/v1/customers/shop%2F7/events");
  ASSERT_EQ(history.status, 200) << history;
  EXPECT_EQ(history.json().Str("/events/0/customer_id"), "shop/7");
  Reply profile = Get("/v1/customers/shop%2F7/profile");
  ASSERT_EQ(profile.status, 200) << profile;
  EXPECT_EQ(profile.json().Str("/customer_id"), "shop/7");
}

TEST_F(HttpServerTest, IdentityLookupNormalisesTheValue) {
  ASSERT_EQ(
      Post(Ndjson({InquiryJson("e1", "C-1",
                               R"("identity":{"kind":"email","value":" Li.Wei@Example.com "})"),
                   InquiryJson("e2", "C-2",
                               R"("identity":{"kind":"phone","value":"+86 138-0000-0000"})"),
                   InquiryJson("e3", "", R"("identity":{"kind":"loyalty_card","value":"LC/1"})")}),
           kNdjson)
          .status,
      200);
  for (std::string path :
       {"/v1/identities/email/li.wei@example.com", "/v1/identities/email/LI.WEI%40EXAMPLE.COM",
        "/v1/identities/email/%20%20Li.Wei@example.com%20"}) {
    Reply r = Get(path);
    ASSERT_EQ(r.status, 200) << path << " " << r;
    EXPECT_EQ(r.json().Str("/customer_id"), "C-1");
    EXPECT_EQ(r.json().Keys(""), std::vector<std::string>{"customer_id"});
  }
  EXPECT_EQ(Get("/v1/identities/phone/8613800000000").json().Str("/customer_id"), "C-2");
  EXPECT_EQ(Get("/v1/identities/phone/+86%20(138)%200000-0000").json().Str("/customer_id"), "C-2");

  // Only an identity: an anon- customer, the same one the append reported.
  Reply anon = Get("/v1/identities/loyalty_card/LC/1");
  ASSERT_EQ(anon.status, 200) << anon;
  EXPECT_THAT(anon.json().Str("/customer_id"), StartsWith("anon-"));
  EXPECT_EQ(Get("/v1/customers/" + anon.json().Str("/customer_id") + "/events").status, 200);
  // Other kinds are exact.
  EXPECT_TRUE(IsError(Get("/v1/identities/loyalty_card/lc/1"), 404, "not_found"));

  EXPECT_TRUE(IsError(Get("/v1/identities/email/nobody@example.com"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/v1/identities/fax/123"), 400, "invalid_field", "kind"));
  EXPECT_TRUE(IsError(Get("/v1/identities/phone/no-digits"), 400, "invalid_field", "value"));
}

TEST_F(HttpServerTest, DigestListsEveryPartition) {
  Reply empty = Get("/v1/ledger/digest");
  ASSERT_EQ(empty.status, 200) << empty;
  Json e = empty.json();
  EXPECT_EQ(e.Keys(""), std::vector<std::string>{"partitions"});
  ASSERT_EQ(e.Size("/partitions"), 4);
  for (int p = 0; p < 4; ++p) {
    std::string at = StrCat("/partitions/", p);
    EXPECT_EQ(e.Keys(at), (std::vector<std::string>{"partition", "position", "hash"}));
    EXPECT_EQ(e.Int(at + "/partition"), p);
    EXPECT_EQ(e.Int(at + "/position"), 0);
    EXPECT_EQ(e.Str(at + "/hash"), kZeroHash);
  }
  Json r = Post(Ndjson({InquiryJson("e1", "C-1"), InquiryJson("e2", "C-1")}), kNdjson).json();
  Json d = Get("/v1/ledger/digest").json();
  std::string at = StrCat("/partitions/", r.Int("/results/1/partition"));
  EXPECT_EQ(d.Int(at + "/position"), 2);
  EXPECT_EQ(d.Str(at + "/hash"), r.Str("/results/1/hash"));
}

TEST_F(HttpServerTest, HealthzIsReadyAndVerboseSaysWhy) {
  ASSERT_EQ(Post(InquiryJson("e1", "C-1")).status, 200);
  Reply plain = Get("/healthz");
  ASSERT_EQ(plain.status, 200) << plain;
  EXPECT_EQ(plain.json().Keys(""), std::vector<std::string>{"status"});
  EXPECT_EQ(plain.json().Str("/status"), "ready");

  Reply verbose = Get("/healthz?verbose=1");
  ASSERT_EQ(verbose.status, 200) << verbose;
  Json v = verbose.json();
  EXPECT_EQ(v.Keys(""),
            (std::vector<std::string>{"status", "reasons", "ledger", "projections", "kafka"}));
  EXPECT_EQ(v.Str("/status"), "ready");
  EXPECT_EQ(v.Size("/reasons"), 0);
  EXPECT_EQ(v.Bool("/ledger/open"), 1);
  EXPECT_EQ(v.Int("/ledger/partitions"), 4);
  EXPECT_EQ(v.Int("/ledger/records"), 1);
  ASSERT_EQ(v.Size("/projections"), 3) << verbose;
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    std::string at = StrCat("/projections/", i);
    names.push_back(v.Str(at + "/name"));
    EXPECT_GE(v.Int(at + "/version"), 1);
    EXPECT_GE(v.Int(at + "/applied"), 0);
    EXPECT_GE(v.Int(at + "/behind"), 0);
    EXPECT_EQ(v.Bool(at + "/rules_match"), 1);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"profile", "loyalty", "resume"}));
  EXPECT_TRUE(v.IsNull("/kafka"));
  EXPECT_EQ(Call("HEAD", "/healthz").status, 200);
}

// Every sample line of a Prometheus text exposition, by name: the metric must have been
// declared with # TYPE before its samples, and each line must parse.
::testing::AssertionResult ParsePrometheus(const std::string& text,
                                           std::multimap<std::string, std::string>* samples) {
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? (-?[0-9.]+(e[-+]?[0-9]+)?|[-+]Inf|NaN))");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  std::set<std::string> typed;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.starts_with("# HELP ")) continue;
    if (std::regex_match(line, m, kType)) {
      typed.insert(m[1]);
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      return ::testing::AssertionFailure() << "not a sample line: " << line;
    }
    std::string name = m[1];
    std::string base = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed.count(base) && name.ends_with(suffix)) {
        base = name.substr(0, name.size() - std::strlen(suffix));
      }
    }
    if (!typed.count(base)) return ::testing::AssertionFailure() << "no # TYPE before " << line;
    samples->emplace(name, line);
  }
  return ::testing::AssertionSuccess();
}

TEST_F(HttpServerTest, MetricsExposeTheDocumentedSeries) {
  ASSERT_EQ(Post(InquiryJson("e1", "C-1")).status, 200);
  ASSERT_EQ(Post(InquiryJson("e1", "C-1")).status, 200);  // a duplicate
  ASSERT_EQ(Post("{not json").status, 400);
  ASSERT_EQ(Post(InquiryJson("e2", "C-1"), "text/plain").status, 415);
  ASSERT_EQ(Get("/v1/customers/C-1/profile").status, 200);

  // Each request is counted before its response is written, so a client that has its answer
  // finds it counted: one read of /metrics, no waiting.
  const std::string last_counted =
      R"(rapport_http_requests_total{route="GET /v1/customers/{id}/profile",code="200"} 1)";
  Reply r = Get("/metrics");
  ASSERT_NE(r.body.find(last_counted + "\n"), std::string::npos) << r;
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_THAT(r.Header("Content-Type"), StartsWith("text/plain"));
  std::multimap<std::string, std::string> samples;
  ASSERT_TRUE(ParsePrometheus(r.body, &samples)) << r.body;
  auto has = [&](const std::string& line) {
    for (const auto& [name, l] : samples) {
      if (l == line) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("rapport_appends_total 1")) << r.body;
  EXPECT_TRUE(has("rapport_duplicates_total 1")) << r.body;
  EXPECT_TRUE(has(R"(rapport_http_requests_total{route="POST /v1/events",code="200"} 2)"));
  EXPECT_TRUE(has(R"(rapport_http_requests_total{route="POST /v1/events",code="400"} 1)"));
  EXPECT_TRUE(has(R"(rapport_http_requests_total{route="POST /v1/events",code="415"} 1)"));
  EXPECT_TRUE(
      has(R"(rapport_http_requests_total{route="GET /v1/customers/{id}/profile",code="200"} 1)"));
  EXPECT_TRUE(has(R"(rapport_rejects_total{source="http",code="invalid_json"} 1)")) << r.body;
  EXPECT_TRUE(has(R"(rapport_rejects_total{source="http",code="unsupported_media_type"} 1)"));
  EXPECT_TRUE(has(R"(rapport_append_latency_seconds_bucket{le="+Inf"} 2)")) << r.body;
  EXPECT_TRUE(has("rapport_append_latency_seconds_count 2"));
  for (const char* name :
       {"rapport_group_commit_events_bucket", "rapport_group_commit_events_count",
        "rapport_rocksdb_block_cache_hit_ratio", "process_resident_memory_bytes",
        "rapport_projection_lag_records", "rapport_ledger_head_position",
        "rapport_http_request_duration_seconds_bucket"}) {
    EXPECT_TRUE(samples.count(name)) << name;
  }
  EXPECT_EQ(samples.count("rapport_projection_lag_records"), 3u);
  EXPECT_EQ(samples.count("rapport_ledger_head_position"), 4u);
  // No Kafka: no Kafka series.
  EXPECT_EQ(samples.count("rapport_inbox_lag_messages"), 0u);
}

// ---- Limits ----------------------------------------------------------------------------------

class HttpLimitsTest : public HttpTest {
 protected:
  void SetUp() override {
    HttpOptions options;
    options.max_batch_bytes = 4096;
    options.codec.max_event_bytes = 1024;
    StartServer(options);
  }
};

TEST_F(HttpLimitsTest, EventOverMaxEventBytesIs413) {
  Reply single = Post(LargeInquiryJson("e1", "C-1", 1500));
  EXPECT_TRUE(IsError(single, 413, "too_large"));
  Reply batch =
      Post(Ndjson({InquiryJson("e2", "C-1"), "", LargeInquiryJson("e3", "C-1", 1500)}), kNdjson);
  EXPECT_TRUE(IsError(batch, 413, "too_large"));
  EXPECT_EQ(batch.json().Int("/error/line"), 3) << batch;
  // At the limit is fine.
  std::string at_limit = LargeInquiryJson("e4", "C-1", 1000);
  ASSERT_LE(at_limit.size(), 1024u);
  EXPECT_EQ(Post(at_limit).status, 200);
  EXPECT_EQ(RecordsInDigest(), 1);
}

TEST_F(HttpLimitsTest, BodyOverMaxBatchBytesIs413WhateverItsFraming) {
  std::vector<std::string> lines;
  for (int i = 0; i < 40; ++i) lines.push_back(InquiryJson(StrCat("b", i), "C-1"));
  std::string body = Ndjson(lines);
  ASSERT_GT(body.size(), 4096u);
  EXPECT_TRUE(IsError(Post(body, kNdjson), 413, "too_large"));

  // Chunked: no Content-Length to check up front.
  httplib::Client client("127.0.0.1", port_);
  client.set_keep_alive(true);
  auto chunked = client.Post(
      "/v1/events",
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset < body.size()) {
          sink.write(body.data() + offset, std::min<size_t>(1000, body.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      kNdjson);
  ASSERT_TRUE(chunked);
  Reply r{chunked->status, chunked->headers, chunked->body};
  EXPECT_TRUE(IsError(r, 413, "too_large"));
  // The connection stayed in step: the same client is answered next.
  auto next = client.Get("/healthz");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);

  EXPECT_EQ(RecordsInDigest(), 0);
  lines.resize(10);
  EXPECT_EQ(Post(Ndjson(lines), kNdjson).status, 200);
}

TEST_F(HttpLimitsTest, EndlessChunkedBodyIsCutOffWith413AndClose) {
  RawConnection c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(
      c.Send("POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"));
  // 64 KiB chunks for as long as the server reads them (at most 64 MiB): it must stop reading
  // about 1 MiB past the limit and answer, instead of draining forever.
  const std::string chunk = StrCat("10000\r\n", std::string(65536, 'a'), "\r\n");
  size_t sent = 0;
  Reply r;
  for (int i = 0; i < 1024 && r.status == 0; ++i) {
    if (!c.Send(chunk)) break;
    sent += 65536;
    if (sent >= (2u << 20)) r = c.ReadResponse(100);
  }
  if (r.status == 0) r = c.ReadResponse();
  EXPECT_TRUE(IsError(r, 413, "too_large")) << r;
  EXPECT_EQ(r.Header("Connection"), "close");
  EXPECT_LT(sent, size_t{64} << 20);
  EXPECT_EQ(Get("/healthz").status, 200);
}

// ---- Auth ------------------------------------------------------------------------------------

constexpr char kPublisher[] = "publisher-token-0001";
constexpr char kReader[] = "reader-token-000000002";
constexpr char kAuditor[] = "auditor-token-00000003";
constexpr char kAdmin[] = "admin-token-00000000004";

class HttpAuthTest : public HttpTest {
 protected:
  void SetUp() override {
    WriteFile(dir_.Sub("tokens.toml"), StrCat(R"([[token]]
name = "pos"
token = ")",
                                              kPublisher, R"("
roles = ["publisher"]

[[token]]
name = "agent-desk"
token = ")",
                                              kReader, R"("
roles = ["reader"]

[[token]]
name = "audit"
token = ")",
                                              kAuditor, R"("
roles = ["auditor"]

[[token]]
name = "ops"
token = ")",
                                              kAdmin, R"("
roles = ["admin"]
)"));
    HttpOptions options;
    options.tokens_file = dir_.Sub("tokens.toml");
    StartServer(options);
    admin_token_ = kAdmin;
    ASSERT_TRUE(server_->auth_enabled());
    ASSERT_EQ(
        Post(InquiryJson("e0", "C-1", R"("identity":{"kind":"email","value":"a@example.com"})"),
             kJson, kPublisher)
            .status,
        200);
  }

  // Every route, with the role it needs ("" for any valid token).
  struct Route {
    std::string method, path, role;
  };
  std::vector<Route> Routes() {
    return {{"POST", "/v1/events", "publisher"},
            {"GET", "/v1/customers/C-1/events", "auditor"},
            {"GET", "/v1/customers/C-1/profile", "reader"},
            {"GET", "/v1/customers/C-1/loyalty", "reader"},
            {"GET", "/v1/customers/C-1/resume", "reader"},
            {"GET", "/v1/identities/email/a@example.com", "reader"},
            {"GET", "/v1/ledger/digest", "auditor"},
            {"GET", "/metrics", ""}};
  }
  Reply CallRoute(const Route& route, const std::string& token) {
    static std::atomic<int> n{0};
    std::string body = route.method == "POST" ? InquiryJson(StrCat("a", n++), "C-1") : "";
    return Call(route.method, route.path, body, route.method == "POST" ? kJson : "", token);
  }
};

TEST_F(HttpAuthTest, MissingOrWrongTokenIs401WithAChallenge) {
  for (const auto& route : Routes()) {
    for (const std::string& token :
         std::vector<std::string>{"", "not-a-token-at-all-000", StrCat(kAdmin, "x")}) {
      Reply r = CallRoute(route, token);
      EXPECT_TRUE(IsError(r, 401, "unauthorized")) << route.path << " token " << token;
      EXPECT_THAT(r.Header("WWW-Authenticate"), StartsWith("Bearer")) << route.path;
    }
  }
  // Another scheme, or a token without its scheme.
  httplib::Client client("127.0.0.1", port_);
  for (const std::string& header :
       std::vector<std::string>{StrCat("Basic ", kAdmin), kAdmin, "Bearer "}) {
    auto r = client.Get("/v1/ledger/digest", {{"Authorization", header}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << header;
  }
  // The scheme is case-insensitive (RFC 7235).
  auto lower = client.Get("/v1/ledger/digest", {{"Authorization", StrCat("bearer ", kAdmin)}});
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->status, 200);
  // Unknown routes need a token too.
  EXPECT_TRUE(IsError(Get("/v2/x"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(Get("/v2/x", kReader), 404, "not_found"));
  EXPECT_EQ(RecordsInDigest(), 1);
}

TEST_F(HttpAuthTest, EachRoleReachesItsRoutesAndOnlyThem) {
  const std::map<std::string, std::string> tokens = {
      {"publisher", kPublisher}, {"reader", kReader}, {"auditor", kAuditor}};
  for (const auto& route : Routes()) {
    for (const auto& [role, token] : tokens) {
      Reply r = CallRoute(route, token);
      if (route.role.empty() || route.role == role) {
        EXPECT_EQ(r.status, 200) << route.path << " as " << role << ": " << r;
      } else {
        EXPECT_TRUE(IsError(r, 403, "forbidden")) << route.path << " as " << role;
        EXPECT_THAT(r.json().Str("/error/message"), HasSubstr(route.role)) << r;
      }
    }
    Reply admin = CallRoute(route, kAdmin);
    EXPECT_EQ(admin.status, 200) << route.path << " as admin: " << admin;
  }
  // Publisher calls above stored one event each (publisher and admin).
  EXPECT_EQ(RecordsInDigest(), 3);
}

TEST_F(HttpAuthTest, HealthzNeedsNoToken) {
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/healthz?verbose=1").json().Str("/status"), "ready");
  EXPECT_EQ(Get("/healthz", "wrong-token-0000000000").status, 200);
}

TEST_F(HttpAuthTest, RefusedRequestWithABodyLeavesTheConnectionInStep) {
  // The refused body is itself a request; were it left unread, it would be answered next.
  std::string smuggled =
      StrCat("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ", kAdmin, "\r\n\r\n");
  for (std::string auth : {std::string(), StrCat("Authorization: Bearer ", kReader, "\r\n")}) {
    RawConnection c(port_);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.Send(StrCat("POST /v1/events HTTP/1.1\r\nHost: t\r\n", auth,
                              "Content-Type: application/json\r\nContent-Length: ", smuggled.size(),
                              "\r\n\r\n", smuggled)));
    Reply refused = c.ReadResponse();
    EXPECT_EQ(refused.status, auth.empty() ? 401 : 403) << refused;
    // (cpp-httplib does not serve pipelined requests, so the next one follows the answer.)
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    Reply next = c.ReadResponse();
    EXPECT_EQ(next.status, 200) << next;
    EXPECT_EQ(next.body, "{\"status\":\"ready\"}\n");
  }
  // Chunked too.
  httplib::Client client("127.0.0.1", port_);
  client.set_keep_alive(true);
  std::string body = InquiryJson("e9", "C-1");
  auto chunked = client.Post(
      "/v1/events", {{"Authorization", StrCat("Bearer ", kReader)}},
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset < body.size()) {
          sink.write(body.data() + offset, std::min<size_t>(7, body.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      kJson);
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 403);
  auto next = client.Get("/healthz");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(RecordsInDigest(), 1);
}

TEST_F(HttpAuthTest, ATokenMayHoldSeveralRoles) {
  WriteFile(dir_.Sub("two.toml"), R"([[token]]
name = "desk"
token = "reader-and-auditor-0005"
roles = ["reader", "auditor"]
)");
  HttpOptions options;
  options.tokens_file = dir_.Sub("two.toml");
  options.listen = "127.0.0.1:0";
  std::unique_ptr<HttpServer> second;
  ASSERT_OK(HttpServer::Start(options, service_.get(), &second));
  port_ = std::stoi(second->address().substr(second->address().rfind(':') + 1));
  const std::string token = "reader-and-auditor-0005";
  EXPECT_EQ(Get("/v1/customers/C-1/events", token).status, 200);
  EXPECT_EQ(Get("/v1/customers/C-1/profile", token).status, 200);
  EXPECT_TRUE(IsError(Post(InquiryJson("x1", "C-1"), kJson, token), 403, "forbidden"));
  // The first server's tokens mean nothing here.
  EXPECT_TRUE(IsError(Get("/v1/customers/C-1/events", kAdmin), 401, "unauthorized"));
  second->Stop();
}

class HttpStartTest : public HttpTest {
 protected:
  void SetUp() override {
    consumers::ServiceOptions options;
    options.data_dir = dir_.Sub("data");
    options.kafka_mode = "none";
    ASSERT_OK(consumers::Service::Start(options, &service_));
  }
  absl::Status StartWith(const std::string& listen, const std::string& tokens_toml,
                         bool insecure = false) {
    HttpOptions options;
    options.listen = listen;
    options.insecure = insecure;
    if (!tokens_toml.empty()) {
      options.tokens_file = dir_.Sub("tokens.toml");
      WriteFile(options.tokens_file, tokens_toml);
    }
    if (server_) server_->Stop();
    server_.reset();
    return HttpServer::Start(options, service_.get(), &server_);
  }
};

TEST_F(HttpStartTest, BadTokensFileFailsNamingTheKey) {
  const std::string good =
      "[[token]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nroles = [\"admin\"]\n";
  struct Case {
    std::string toml, key;
  };
  const std::vector<Case> cases = {
      {"[[token]]\nname = \"a\"\ntoken = \"short\"\nroles = [\"admin\"]\n", "token[0].token"},
      {good + "[[token]]\nname = \"b\"\ntoken = \"0123456789abcdefX\"\nroles = [\"root\"]\n",
       "token[1].roles"},
      {"[[token]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nroles = []\n", "token[0].roles"},
      {"[[token]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n", "token[0].roles"},
      {"[[token]]\ntoken = \"0123456789abcdef\"\nroles = [\"admin\"]\n", "token[0].name"},
      {good + "[[token]]\nname = \"b\"\ntoken = \"0123456789abcdef\"\nroles = [\"reader\"]\n",
       "token[1].token"},
      {"[[token]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nroles = [\"admin\"]\nrole = 1\n",
       "token[0].role"},
      {"[[tokens]]\nname = \"a\"\n", "tokens: unknown key"},
      {"token = [", "line 1"}};
  for (const auto& c : cases) {
    absl::Status s = StartWith("127.0.0.1:0", c.toml);
    EXPECT_THAT(s, testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.key)))
        << c.toml;
    // The message must never quote a token.
    EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("0123456789abcdef")));
  }
  HttpOptions missing;
  missing.listen = "127.0.0.1:0";
  missing.tokens_file = dir_.Sub("no-such-file.toml");
  EXPECT_THAT(HttpServer::Start(missing, service_.get(), &server_),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no-such-file")));
  EXPECT_OK(StartWith("127.0.0.1:0", good));
}

TEST_F(HttpStartTest, NonLoopbackNeedsAuthOrInsecure) {
  for (std::string listen : {"0.0.0.0:0", "127.example.invalid:0", "[::]:0"}) {
    EXPECT_THAT(StartWith(listen, ""),
                testing::StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("without auth")))
        << listen;
  }
  ASSERT_OK(StartWith("0.0.0.0:0", "", /*insecure=*/true));
  EXPECT_FALSE(server_->auth_enabled());
  port_ = std::stoi(server_->address().substr(server_->address().rfind(':') + 1));
  EXPECT_EQ(Get("/healthz").status, 200);

  ASSERT_OK(StartWith(
      "0.0.0.0:0", "[[token]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nroles = [\"admin\"]\n"));
  EXPECT_TRUE(server_->auth_enabled());
  port_ = std::stoi(server_->address().substr(server_->address().rfind(':') + 1));
  EXPECT_EQ(Get("/v1/ledger/digest").status, 401);
  EXPECT_EQ(Get("/v1/ledger/digest", "0123456789abcdef").status, 200);

  // Loopback needs neither.
  for (std::string listen : {"127.0.0.1:0", "127.0.0.2:0", "localhost:0"}) {
    EXPECT_OK(StartWith(listen, "")) << listen;
  }
  EXPECT_THAT(StartWith("127.0.0.1", ""), testing::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(StartWith("127.0.0.1:99999", ""),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpConfigTest, HttpKeysLoadAndListenMayBeNone) {
  TempDir dir;
  WriteFile(dir.Sub("rapport.toml"), R"([http]
listen = "none"
threads = 8
read_timeout_ms = 1500
[limits]
max_batch_bytes = 2048
max_event_bytes = 1024
[auth]
tokens_file = "secrets/tokens.toml"
[health]
max_projection_lag = 7
)");
  auto config = LoadConfig(dir.Sub("rapport.toml"));
  ASSERT_OK(config);
  EXPECT_EQ(config->http.listen, "none");
  EXPECT_EQ(config->http.threads, 8);
  EXPECT_EQ(config->http.read_timeout_ms, 1500);
  EXPECT_EQ(config->http.max_batch_bytes, 2048u);
  EXPECT_EQ(config->codec.max_event_bytes, 1024u);
  EXPECT_EQ(config->http.tokens_file, dir.Sub("secrets/tokens.toml"));
  EXPECT_EQ(config->http.max_projection_lag, 7u);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"[http]\nlisten = \"8080\"\n", "http.listen"},
      {"[limits]\nmax_batch_bytes = 100\n", "limits.max_batch_bytes"},
      {"[http]\nthreads = 0\n", "http.threads"},
      {"[auth]\ntokens = \"x\"\n", "auth.tokens"}};
  for (const auto& [toml, key] : bad) {
    WriteFile(dir.Sub("bad.toml"), toml);
    EXPECT_THAT(LoadConfig(dir.Sub("bad.toml")).status(),
                testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(key)))
        << toml;
  }
}

// ---- Concurrent publishers ---------------------------------------------------------------------

TEST_F(HttpServerTest, ConcurrentPublishersStoreEveryEventExactlyOnce) {
  constexpr int kThreads = 16;
  constexpr int kRequestsPerThread = 24;
  const std::vector<std::string> customers = {"K-0", "K-1", "K-2", "K-3", "K-4", "K-5"};

  struct Stored {
    std::string customer;
    int64_t seq, position, partition;
  };
  std::mutex mu;
  std::map<std::string, Stored> first_results;  // event_id -> the result it got when new
  std::vector<std::tuple<std::string, Stored, bool>> retries;  // event_id, result, duplicate
  std::atomic<int> failures{0};

  auto publisher = [&](int t) {
    httplib::Client client("127.0.0.1", port_);
    client.set_keep_alive(true);
    client.set_read_timeout(30, 0);
    std::vector<std::string> mine;  // JSON of the events this thread stored
    int n = 0;
    for (int r = 0; r < kRequestsPerThread; ++r) {
      std::vector<std::string> events;
      int count = r % 3 == 0 ? 1 : 1 + (r % 5);
      for (int i = 0; i < count; ++i, ++n) {
        events.push_back(
            InquiryJson(StrCat("t", t, "-", n), customers[(t + n) % customers.size()]));
      }
      // Every fourth request also resends one earlier event (a producer retry).
      bool retry = r % 4 == 3 && !mine.empty();
      if (retry) events.push_back(mine[(r * 7) % mine.size()]);
      std::string body = count == 1 && !retry ? events[0] : Ndjson(events);
      auto res = client.Post("/v1/events", body, count == 1 && !retry ? kJson : kNdjson);
      if (!res || res->status != 200) {
        ++failures;
        continue;
      }
      Json j(res->body);
      if (j.Size("/results") != static_cast<int64_t>(events.size())) {
        ++failures;
        continue;
      }
      std::lock_guard lock(mu);
      for (size_t i = 0; i < events.size(); ++i) {
        std::string at = StrCat("/results/", i);
        Stored s{j.Str(at + "/customer_id"), j.Int(at + "/seq"), j.Int(at + "/position"),
                 j.Int(at + "/partition")};
        bool duplicate = j.Bool(at + "/duplicate") == 1;
        std::string id = j.Str(at + "/event_id");
        if (retry && i + 1 == events.size()) {
          retries.emplace_back(id, s, duplicate);
        } else if (duplicate || !first_results.emplace(id, s).second) {
          ++failures;  // a new event reported as a duplicate, or twice
        } else {
          mine.push_back(events[i]);
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(publisher, t);
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_FALSE(retries.empty());

  // Retries: duplicates, answered with the first append's result.
  for (const auto& [id, s, duplicate] : retries) {
    EXPECT_TRUE(duplicate) << id;
    const Stored& original = first_results.at(id);
    EXPECT_EQ(s.seq, original.seq) << id;
    EXPECT_EQ(s.position, original.position) << id;
  }

  // Each customer's stream is gapless 1..n and holds each event once.
  std::set<std::string> seen;
  size_t total = 0;
  for (const auto& customer : customers) {
    Reply r = Get("/v1/customers/" + customer + "/events?limit=1000");
    ASSERT_EQ(r.status, 200) << r;
    Json j = r.json();
    int64_t n = j.Size("/events");
    total += static_cast<size_t>(n);
    for (int64_t i = 0; i < n; ++i) {
      std::string at = StrCat("/events/", i);
      EXPECT_EQ(j.Int(at + "/seq"), i + 1) << customer;
      std::string id = j.Str(at + "/event_id");
      EXPECT_TRUE(seen.insert(id).second) << id << " stored twice";
      auto it = first_results.find(id);
      ASSERT_NE(it, first_results.end()) << id;
      EXPECT_EQ(it->second.customer, customer);
      EXPECT_EQ(it->second.seq, i + 1) << id;
      EXPECT_EQ(it->second.position, j.Int(at + "/position")) << id;
    }
  }
  EXPECT_EQ(total, first_results.size());
  EXPECT_EQ(seen.size(), first_results.size());
  EXPECT_EQ(RecordsInDigest(), static_cast<int64_t>(first_results.size()));
  EXPECT_EQ(service_->ledger()->stats().events_appended, first_results.size());

  // Positions are gapless per partition too, and the chains verify.
  std::map<int64_t, std::set<int64_t>> positions;
  for (const auto& [id, s] : first_results) positions[s.partition].insert(s.position);
  for (const auto& [partition, ps] : positions) {
    EXPECT_EQ(*ps.begin(), 1) << partition;
    EXPECT_EQ(*ps.rbegin(), static_cast<int64_t>(ps.size())) << partition;
  }
  auto report = service_->ledger()->Verify();
  ASSERT_OK(report);
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->records, first_results.size());
}

// ---- Malformed requests over raw sockets -------------------------------------------------------

class HttpMalformedTest : public HttpTest {
 protected:
  void SetUp() override {
    HttpOptions options;
    options.max_batch_bytes = 4096;
    options.codec.max_event_bytes = 1024;
    // A client that stops sending is dropped after this (bounds the tests that make one).
    options.read_timeout_ms = 1000;
    StartServer(options);
  }

  // Sends `request` on a new connection and reads the answer.
  Reply Raw(const std::string& request) {
    RawConnection c(port_);
    EXPECT_TRUE(c.connected());
    c.Send(request);
    return c.ReadResponse();
  }

  // The server still answers, and stores, normally.
  void ExpectServing() {
    Reply health = Get("/healthz");
    EXPECT_EQ(health.status, 200) << health;
    static int n = 0;
    Reply post = Post(InquiryJson(StrCat("alive-", n++), "C-alive"));
    EXPECT_EQ(post.status, 200) << post;
  }
};

TEST_F(HttpMalformedTest, GarbageRequestLinesAre400) {
  for (std::string request :
       {std::string("GARBAGE\r\n\r\n"), std::string("\x00\x01\x02\xff lalala\r\n\r\n", 15),
        std::string("GET\r\n\r\n"), std::string("GET /healthz HTTP/9.9\r\n\r\n"),
        std::string("BREW /v1/events HTTP/1.1\r\nHost: t\r\n\r\n")}) {
    Reply r = Raw(request);
    EXPECT_THAT(r.status, AllOf(Ge(400), Lt(500))) << request;
    if (r.status == 400) {
      EXPECT_TRUE(IsError(r, 400, "bad_request")) << r;
    }
    ExpectServing();
  }
}

TEST_F(HttpMalformedTest, BadJsonIs400InvalidJson) {
  for (std::string body : {"{not json", "", "[]", "{\"event_id\":\"e1\"", "\xff\xfe{}",
                           "{\"event_id\":\"e1\"}{\"event_id\":\"e2\"}"}) {
    std::string request =
        StrCat("POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: ",
               "application/json\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
    Reply r = Raw(request);
    EXPECT_EQ(r.status, 400) << body << " -> " << r;
    EXPECT_THAT(r.json().Str("/error/code"), ::testing::AnyOf("invalid_json", "invalid_field"))
        << r;
  }
  EXPECT_TRUE(IsError(Raw("POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
                          "application/json\r\nContent-Length: 9\r\n\r\n{not json"),
                      400, "invalid_json"));
  ExpectServing();
}

TEST_F(HttpMalformedTest, TruncatedBodyIsNotStored) {
  std::string event = InquiryJson("trunc-1", "C-trunc");
  {
    RawConnection c(port_);
    ASSERT_TRUE(
        c.Send(StrCat("POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
                      "application/json\r\nContent-Length: ",
                      event.size() + 100, "\r\n\r\n", event)));
    // Then the client goes away.
  }
  {
    // Or stays, sending nothing more: dropped after the read timeout with a 400.
    RawConnection c(port_);
    ASSERT_TRUE(
        c.Send(StrCat("POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
                      "application/json\r\nContent-Length: ",
                      event.size() + 100, "\r\n\r\n", event)));
    Reply r = c.ReadResponse();
    EXPECT_TRUE(IsError(r, 400, "bad_request")) << r;
  }
  ExpectServing();
  EXPECT_TRUE(IsError(Get("/v1/customers/C-trunc/events"), 404, "not_found"));
}

TEST_F(HttpMalformedTest, HugeAndManyHeaders) {
  Reply huge = Raw("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(100 * 1024, 'a') +
                   "\r\n\r\n");
  EXPECT_THAT(huge.status, AllOf(Ge(400), Lt(500))) << huge;
  ExpectServing();

  std::string many = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 5000; ++i) many += StrCat("X-Header-", i, ": value\r\n");
  Reply r = Raw(many + "\r\n");
  EXPECT_TRUE(r.status == 200 || (r.status >= 400 && r.status < 500)) << r;
  ExpectServing();

  Reply long_uri =
      Raw("GET /v1/customers/" + std::string(20000, 'c') + "/events HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(IsError(long_uri, 414, "uri_too_long")) << long_uri;
  ExpectServing();
}

TEST_F(HttpMalformedTest, SlowClientsDoNotHoldUpOthers) {
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: slow-client\r\n\r\n";
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 8; ++i) slow.push_back(std::make_unique<RawConnection>(port_));
  // Eight clients send their request a byte at a time; between two bytes, others are served.
  // (Each gap is one request long, well inside the read timeout that would drop them.)
  for (size_t b = 0; b < request.size(); ++b) {
    for (auto& c : slow) ASSERT_TRUE(c->Send(request.substr(b, 1)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (b + 1 == request.size()) break;
    Reply other = Get(b % 2 == 0 ? "/healthz" : "/v1/ledger/digest");
    EXPECT_EQ(other.status, 200) << other;
    if (b % 8 == 0) {
      Reply post = Post(InquiryJson(StrCat("slow-", b), "C-slow"));
      EXPECT_EQ(post.status, 200) << post;
    }
  }
  for (auto& c : slow) {
    Reply r = c->ReadResponse();
    EXPECT_EQ(r.status, 200) << r;
    EXPECT_EQ(r.json().Str("/status"), "ready");
  }
}

TEST_F(HttpMalformedTest, WrongMethodsUnknownRoutesAndMediaTypes) {
  // No body and no Content-Length: answered at once, not after waiting for a body.
  for (std::string method : {"PUT", "DELETE", "PATCH"}) {
    Reply r = Raw(method + " /v1/events HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_TRUE(IsError(r, 405, "method_not_allowed")) << method << " " << r;
    EXPECT_EQ(r.Header("Allow"), "POST");
    Reply with_body = Raw(method + " /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: " +
                          "application/json\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_TRUE(IsError(with_body, 405, "method_not_allowed")) << method << " " << with_body;
  }
  EXPECT_TRUE(IsError(Raw("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"), 404, "not_found"));
  EXPECT_TRUE(IsError(Raw("POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"), 404,
                      "not_found"));
  // A POST without a body and without Content-Length has an empty body.
  EXPECT_TRUE(
      IsError(Raw("POST /v1/events HTTP/1.1\r\nHost: t\r\n\r\n"), 415, "unsupported_media_type"));
  Reply empty_batch =
      Raw("POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\n\r\n");
  EXPECT_EQ(empty_batch.status, 200) << empty_batch;
  EXPECT_EQ(empty_batch.json().Size("/results"), 0);

  std::string event = InquiryJson("m1", "C-m");
  auto post = [&](const std::string& headers, const std::string& body) {
    return Raw(StrCat("POST /v1/events HTTP/1.1\r\nHost: t\r\n", headers,
                      "Content-Length: ", body.size(), "\r\n\r\n", body));
  };
  EXPECT_TRUE(IsError(post("Content-Type: text/plain\r\n", event), 415, "unsupported_media_type"));
  EXPECT_TRUE(IsError(post("", event), 415, "unsupported_media_type"));
  EXPECT_TRUE(
      IsError(post("Content-Type: application/json\r\n", LargeInquiryJson("m2", "C-m", 2000)), 413,
              "too_large"));
  std::string big(5000, '\n');
  EXPECT_TRUE(IsError(post("Content-Type: application/x-ndjson\r\n", big), 413, "too_large"));
  {
    // The refused body is read to its end: the connection serves the next request.
    RawConnection c(port_);
    ASSERT_TRUE(
        c.Send(StrCat("POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: ",
                      "application/x-ndjson\r\nContent-Length: ", big.size(), "\r\n\r\n", big)));
    EXPECT_TRUE(IsError(c.ReadResponse(), 413, "too_large"));
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_EQ(c.ReadResponse().status, 200);
  }
  // Chunked, over the limit.
  std::string chunked =
      "POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
      "application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked += "3e8\r\n" + std::string(1000, '\n') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_TRUE(IsError(Raw(chunked), 413, "too_large"));
  // Header names are case-insensitive; the media type too.
  Reply lower = post("content-type: Application/JSON\r\n", event);
  EXPECT_EQ(lower.status, 200) << lower;
  EXPECT_EQ(RecordsInDigest(), 1);
  ExpectServing();
}

}  // namespace
}  // namespace rapport::tools
