#include "tools/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "ledger/errors.h"
#include "ledger/identity.h"
#include "ledger/json.h"
#include "ledger/ledger.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "projections/fold.h"
#include "projections/runner.h"
#include "spdlog/spdlog.h"
#include "tools/auth.h"
#include "tools/metrics.h"

namespace rapport::tools {
namespace {

constexpr char kJson[] = "application/json";
constexpr std::string_view kCodeUnsupportedMediaType = "unsupported_media_type";

// What the thread serving a request knows of it between the pre-routing handler and the logger
// (cpp-httplib runs both, and the handler, on the connection's thread).
struct RequestContext {
  bool routed = false;
  Route route = Route::kOther;
  std::chrono::steady_clock::time_point start;
  const std::string* principal = nullptr;  // token name when authenticated
  double seconds = 0;                      // routing to response, for the log
  // A 401 or 403 that Authorize put in the response of a request with a body: the handler sends
  // it once the body is read, so that the body is not taken for the connection's next request.
  int denied_status = 0;
};
thread_local RequestContext t_request;

absl::Status HttpError(absl::StatusCode code, std::string_view error_code, std::string_view message,
                       std::string_view field = "") {
  return ledger::MakeError(code, error_code, message, field);
}

void SendJson(httplib::Response& res, int status, std::string body) {
  res.status = status;
  body.push_back('\n');
  res.set_content(std::move(body), kJson);
}

// The HTTP status for an error of the ledger, the codec or the runner.
int StatusFor(const absl::Status& s) {
  std::string code = ledger::ErrorCode(s);
  if (code == ledger::kCodeTooLarge) return 413;
  if (code == kCodeUnsupportedMediaType) return 415;
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
      return 503;
    default:
      return 500;
  }
}

void SendError(httplib::Response& res, const absl::Status& s,
               std::optional<int64_t> line = std::nullopt) {
  int status = StatusFor(s);
  if (status >= 500) spdlog::error("http: {}", s.ToString());
  SendJson(res, status, ledger::ErrorJson(s, line));
}

// The route a method and path belong to (for auth and metrics); kOther when none.
Route Classify(std::string_view method, std::string_view path) {
  if (path == "/v1/events") return method == "POST" ? Route::kPostEvents : Route::kOther;
  bool get = method == "GET" || method == "HEAD";
  if (!get) return Route::kOther;
  if (path == "/healthz") return Route::kHealth;
  if (path == "/metrics") return Route::kMetrics;
  if (path == "/v1/ledger/digest") return Route::kDigest;
  if (path.starts_with("/v1/identities/")) return Route::kIdentity;
  if (path.starts_with("/v1/customers/")) {
    if (path.ends_with("/events")) return Route::kHistory;
    if (path.ends_with("/profile")) return Route::kProfile;
    if (path.ends_with("/loyalty")) return Route::kLoyalty;
    if (path.ends_with("/resume")) return Route::kResume;
  }
  return Route::kOther;
}

// The role a route needs; 0 when any authenticated caller may use it.
uint8_t RoleFor(Route route) {
  switch (route) {
    case Route::kPostEvents:
      return kRolePublisher;
    case Route::kProfile:
    case Route::kLoyalty:
    case Route::kResume:
    case Route::kIdentity:
      return kRoleReader;
    case Route::kHistory:
    case Route::kDigest:
      return kRoleAuditor;
    default:
      return 0;
  }
}

std::string_view RoleName(uint8_t role) {
  switch (role) {
    case kRolePublisher:
      return "publisher";
    case kRoleReader:
      return "reader";
    case kRoleAuditor:
      return "auditor";
    default:
      return "admin";
  }
}

// The methods a known path answers, for 405 and `Allow`; empty for an unknown path.
std::string AllowedMethods(std::string_view path) {
  if (path == "/v1/events") return "POST";
  for (std::string_view method : {"GET"}) {
    if (Classify(method, path) != Route::kOther) return "GET, HEAD";
  }
  return "";
}

// A name such as 127.example.com is not loopback: only an IPv4 address in 127/8 is.
bool IsLoopback(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr addr;
  return inet_pton(AF_INET, std::string(host).c_str(), &addr) == 1 &&
         (ntohl(addr.s_addr) >> 24) == 127;
}

// Splits host:port or [v6]:port.
absl::Status ParseListen(std::string_view listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        AbslView(StrCat("http.listen ", listen, ": must be host:port, e.g. 127.0.0.1:8080")));
  }
  std::string_view h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p;
  if (!absl::SimpleAtoi(AbslView(listen.substr(colon + 1)), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        AbslView(StrCat("http.listen ", listen, ": the port must be from 0 to 65535")));
  }
  *host = std::string(h);
  *port = p;
  return absl::OkStatus();
}

// A query parameter as an unsigned integer; nullopt when absent.
absl::StatusOr<std::optional<uint64_t>> UintParam(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::optional<uint64_t>();
  std::string text = req.get_param_value(name);
  uint64_t v;
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(text, &v)) {
    return HttpError(absl::StatusCode::kInvalidArgument, ledger::kCodeInvalidField,
                     StrCat(name, " must be a non-negative integer, not \"", text, "\""), name);
  }
  return std::optional<uint64_t>(v);
}

absl::StatusOr<std::optional<ledger::Timestamp>> AsOfParam(const httplib::Request& req) {
  if (!req.has_param("as_of")) return std::optional<ledger::Timestamp>();
  std::string why;
  auto t = ledger::ParseRfc3339(req.get_param_value("as_of"), &why);
  if (!t) {
    return HttpError(absl::StatusCode::kInvalidArgument, ledger::kCodeInvalidField,
                     StrCat("as_of: ", why), "as_of");
  }
  return std::optional<ledger::Timestamp>(*t);
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Whether the request has a body to read (RFC 9112 §6.3: none without Content-Length or
// Transfer-Encoding; cpp-httplib 0.11 would wait for the peer to close instead).
bool HasBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  return req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0";
}

// The methods whose body cpp-httplib reads only when a handler asks (content-reader handlers).
bool ReadsBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

enum class BodyRead { kOk, kTooLarge, kFailed };

// Reads the request body into *body, keeping at most `limit` bytes, so that memory stays bounded
// whatever the framing (cpp-httplib checks its payload limit only against Content-Length, not for
// a chunked body). A larger body is read on and dropped, so that the connection stays in step
// with the client — up to 1 MiB more; past that the answer closes the connection.
BodyRead ReadBody(const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader, size_t limit, std::string* body) {
  if (!HasBody(req)) return BodyRead::kOk;
  // Past this much beyond the limit, reading stops and the connection is closed after the
  // answer: a client streaming an endless body must not hold a request thread.
  constexpr size_t kDrainAtMost = size_t{1} << 20;
  bool over = false;
  size_t seen = 0;
  bool ok = reader([&](const char* data, size_t n) {
    seen += n;
    if (!over && body->size() + n <= limit) {
      body->append(data, n);
      return true;
    }
    if (!over) {
      over = true;
      std::string().swap(*body);
    }
    return seen <= limit + kDrainAtMost;
  });
  if (!ok) res.set_header("Connection", "close");
  if (over || (!ok && res.status == 413)) return BodyRead::kTooLarge;
  return ok ? BodyRead::kOk : BodyRead::kFailed;
}

// What locates an event of a batch when the ledger refuses the batch.
struct BatchEntry {
  std::string event_id;
  std::string customer_id;  // empty when only an identity was given
  std::string content_digest;
  std::optional<int64_t> expected_version;
  int64_t line = 0;
};

// The line of the event a refused batch failed on. The ledger's error names the event_id
// (duplicate_mismatch) or the customer (version_conflict) but not the event's index, and several
// events of a batch may share either, so replay what the ledger checks, in batch order.
std::optional<int64_t> FailedLine(const absl::Status& s, const std::vector<BatchEntry>& batch,
                                  const ledger::Ledger& ledger) {
  std::string code = ledger::ErrorCode(s);
  std::string_view message = StdView(s.message());
  if (code == ledger::kCodeDuplicateMismatch) {
    // Against an earlier event of the batch with the same id, else against the stored one.
    const BatchEntry* first = nullptr;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!message.starts_with(StrCat("event_id ", batch[i].event_id, " "))) continue;
      if (first == nullptr) {
        first = &batch[i];
      } else if (first->content_digest != batch[i].content_digest) {
        return batch[i].line;
      }
    }
    if (first != nullptr) return first->line;
  } else if (code == ledger::kCodeVersionConflict) {
    const BatchEntry* named = nullptr;
    for (const auto& e : batch) {
      if (!e.customer_id.empty() && e.expected_version &&
          message.find(StrCat(" customer ", e.customer_id, " has ")) != std::string_view::npos) {
        named = &e;
        break;
      }
    }
    if (named == nullptr) return std::nullopt;
    // Nothing of the batch was stored, so the stream is still at its version before the batch.
    auto base = ledger.CustomerVersion(named->customer_id);
    if (base.ok()) {
      int64_t version = static_cast<int64_t>(base->value());
      std::set<std::string_view> ids;
      for (const auto& e : batch) {
        if (!ids.insert(e.event_id).second) continue;  // a repeat inside the batch: a duplicate
        if (e.customer_id != named->customer_id) continue;
        if (e.expected_version && *e.expected_version != version) return e.line;
        ++version;
      }
    }
    return named->line;
  }
  return std::nullopt;
}

// The media type of a Content-Type header, lowercased, without parameters.
std::string MediaType(const httplib::Request& req) {
  std::string ct = req.get_header_value("Content-Type");
  size_t semi = ct.find(';');
  if (semi != std::string::npos) ct.resize(semi);
  absl::AsciiStrToLower(&ct);
  return std::string(absl::StripAsciiWhitespace(ct));
}

}  // namespace

struct HttpServer::Impl {
  HttpOptions options;
  consumers::Service* service = nullptr;
  std::optional<TokenSet> tokens;
  HttpMetrics metrics;
  httplib::Server server;
  std::thread thread;
  std::string address;
  int listen_fd = -1;
  bool stopped = false;

  void Register();
  httplib::Server::HandlerResponse Authorize(const httplib::Request& req, httplib::Response& res);
  // Reads the body of a POST/PUT/PATCH/DELETE, then answers with `handle` — or with the 401/403
  // that Authorize decided, or 413 for a body over max_batch_bytes.
  void WithBody(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& reader,
                void (Impl::*handle)(const httplib::Request&, std::string_view,
                                     httplib::Response&));
  void PostEvents(const httplib::Request& req, std::string_view body, httplib::Response& res);
  void NoRouteWithBody(const httplib::Request& req, std::string_view, httplib::Response& res) {
    NoRoute(req, res);
  }
  void History(const httplib::Request& req, httplib::Response& res);
  void Projection(const httplib::Request& req, httplib::Response& res);
  void Identity(const httplib::Request& req, httplib::Response& res);
  void Health(const httplib::Request& req, httplib::Response& res);
  void NoRoute(const httplib::Request& req, httplib::Response& res);
};

httplib::Server::HandlerResponse HttpServer::Impl::Authorize(const httplib::Request& req,
                                                             httplib::Response& res) {
  t_request = RequestContext{true, Classify(req.method, req.path), std::chrono::steady_clock::now(),
                             nullptr};
  if (!tokens || t_request.route == Route::kHealth)
    return httplib::Server::HandlerResponse::Unhandled;
  std::string header = req.get_header_value("Authorization");
  std::optional<Principal> who;
  if (header.size() > 7 && absl::StartsWithIgnoreCase(header, "Bearer ")) {
    who = tokens->Authenticate(std::string_view(header).substr(7));
  }
  // A request with a body is answered after its body is read (WithBody): answering now would
  // leave the body on the connection, where cpp-httplib would parse it as the next request.
  auto deny = [&req, &res] {
    if (ReadsBody(req.method) && HasBody(req)) {
      t_request.denied_status = res.status;
      return httplib::Server::HandlerResponse::Unhandled;
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  if (!who) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"rapport\"");
    SendJson(res, 401,
             ledger::ErrorJson(HttpError(absl::StatusCode::kUnauthenticated, "unauthorized",
                                         header.empty()
                                             ? "this server needs an Authorization: Bearer token"
                                             : "the bearer token is not valid")));
    return deny();
  }
  // Token names are configuration, so a pointer into the token set stays valid.
  static thread_local std::string name;
  name = who->name;
  t_request.principal = &name;
  uint8_t role = RoleFor(t_request.route);
  if (role != 0 && !who->Has(static_cast<Role>(role))) {
    SendJson(res, 403,
             ledger::ErrorJson(HttpError(absl::StatusCode::kPermissionDenied, "forbidden",
                                         StrCat("token ", who->name, " lacks the role ",
                                                RoleName(role), " that this route needs"))));
    return deny();
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

void HttpServer::Impl::WithBody(const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader,
                                void (Impl::*handle)(const httplib::Request&, std::string_view,
                                                     httplib::Response&)) {
  const int denied = t_request.denied_status;
  std::string body;
  // A denied request's body is read only to be dropped.
  BodyRead read = ReadBody(req, res, reader, denied != 0 ? 0 : options.max_batch_bytes, &body);
  if (denied != 0) {
    res.status = denied;  // the body and headers Authorize set
    return;
  }
  if (read == BodyRead::kTooLarge) {
    absl::Status s = ledger::TooLarge(
        StrCat("the body is over limits.max_batch_bytes (", options.max_batch_bytes, " bytes)"));
    if (t_request.route == Route::kPostEvents) metrics.RecordReject(ledger::ErrorCode(s));
    return SendError(res, s);
  }
  if (read == BodyRead::kFailed) {
    return SendError(res, HttpError(absl::StatusCode::kInvalidArgument, "bad_request",
                                    "the request body could not be read"));
  }
  (this->*handle)(req, body, res);
}

void HttpServer::Impl::PostEvents(const httplib::Request& req, std::string_view body,
                                  httplib::Response& res) {
  std::string media = MediaType(req);
  const size_t max_event = options.codec.max_event_bytes;
  std::vector<ledger::PreparedEvent> events;
  std::vector<int64_t> lines;
  auto reject = [&](const absl::Status& s, std::optional<int64_t> line = std::nullopt) {
    metrics.RecordReject(ledger::ErrorCode(s));
    SendError(res, s, line);
  };
  if (media == "application/json") {
    if (body.size() > max_event) {
      return reject(ledger::TooLarge(
          StrCat("the event is ", body.size(), " bytes; limits.max_event_bytes is ", max_event)));
    }
    auto prepared = ledger::ParseAndPrepare(body, options.codec);
    if (!prepared.ok()) return reject(prepared.status());
    events.push_back(*std::move(prepared));
    lines.push_back(1);
  } else if (media == "application/x-ndjson") {
    int64_t line_number = 0;
    size_t start = 0;
    while (start < body.size()) {
      size_t end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = body.substr(start, end - start);
      start = end + 1;
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (IsBlank(line)) continue;
      if (line.size() > max_event) {
        return reject(ledger::TooLarge(StrCat("the event is ", line.size(),
                                              " bytes; limits.max_event_bytes is ", max_event)),
                      line_number);
      }
      auto prepared = ledger::ParseAndPrepare(line, options.codec);
      if (!prepared.ok()) return reject(prepared.status(), line_number);
      events.push_back(*std::move(prepared));
      lines.push_back(line_number);
    }
  } else {
    return reject(HttpError(
        absl::StatusCode::kInvalidArgument, kCodeUnsupportedMediaType,
        StrCat("Content-Type ", media.empty() ? "(none)" : media,
               " is not accepted: application/json for one event, application/x-ndjson for "
               "a batch")));
  }
  // Keep what locates a failing event before the events move into the ledger.
  std::vector<BatchEntry> batch;
  if (media == "application/x-ndjson") {
    batch.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      batch.push_back({e.event_id, e.customer_id, e.content_digest, e.expected_version, lines[i]});
    }
  }
  auto results = service->ledger()->Append(std::move(events));
  if (!results.ok()) {
    std::optional<int64_t> line;
    if (!batch.empty()) line = FailedLine(results.status(), batch, *service->ledger());
    if (StatusFor(results.status()) < 500)
      metrics.RecordReject(ledger::ErrorCode(results.status()));
    return SendError(res, results.status(), line);
  }
  std::string out = "{\"results\":[";
  for (size_t i = 0; i < results->size(); ++i) {
    if (i) out.push_back(',');
    out.append(ledger::AppendResultJson((*results)[i]));
  }
  out.append("]}");
  SendJson(res, 200, std::move(out));
}

void HttpServer::Impl::History(const httplib::Request& req, httplib::Response& res) {
  std::string customer = req.matches[1];
  auto after = UintParam(req, "after_seq");
  if (!after.ok()) return SendError(res, after.status());
  auto limit = UintParam(req, "limit");
  if (!limit.ok()) return SendError(res, limit.status());
  if (*limit && (**limit < 1 || **limit > 1000)) {
    return SendError(res, HttpError(absl::StatusCode::kInvalidArgument, ledger::kCodeInvalidField,
                                    "limit must be from 1 to 1000", "limit"));
  }
  auto as_of = AsOfParam(req);
  if (!as_of.ok()) return SendError(res, as_of.status());
  const ledger::Ledger& ledger = *service->ledger();
  auto records =
      ledger.ReadCustomer(customer, ledger::Seq(after->value_or(0)), limit->value_or(100), *as_of);
  if (!records.ok()) return SendError(res, records.status());
  if (records->empty()) {
    auto version = ledger.CustomerVersion(customer);
    if (!version.ok()) return SendError(res, version.status());
    if (version->value() == 0) {
      return SendError(res, HttpError(absl::StatusCode::kNotFound, ledger::kCodeNotFound,
                                      StrCat("no customer ", customer)));
    }
  }
  SendJson(res, 200, ledger::HistoryJson(*records));
}

void HttpServer::Impl::Projection(const httplib::Request& req, httplib::Response& res) {
  std::string customer = req.matches[1];
  auto kind = projections::ProjectionFromName(std::string(req.matches[2]));
  auto as_of = AsOfParam(req);
  if (!as_of.ok()) return SendError(res, as_of.status());
  auto json = service->runner()->Query(*kind, customer, as_of->value_or(ledger::Now()));
  if (!json.ok()) {
    if (json.status().code() == absl::StatusCode::kNotFound) {
      return SendError(res,
                       HttpError(absl::StatusCode::kNotFound, ledger::kCodeNotFound,
                                 StrCat("no customer ", customer,
                                        as_of->has_value() ? " with events visible then" : "")));
    }
    return SendError(res, json.status());
  }
  SendJson(res, 200, *std::move(json));
}

void HttpServer::Impl::Identity(const httplib::Request& req, httplib::Response& res) {
  std::string kind_name = req.matches[1];
  auto kind = ledger::IdentityKindFromName(kind_name);
  if (!kind) {
    return SendError(
        res, HttpError(absl::StatusCode::kInvalidArgument, ledger::kCodeInvalidField,
                       StrCat("unknown identity kind ", kind_name,
                              " (email, phone, loyalty_card, web_cookie, account, external)"),
                       "kind"));
  }
  ledger::Identity identity{*kind, std::string(req.matches[2])};
  if (!ledger::NormalizeIdentityValue(identity.kind, identity.value)) {
    return SendError(res, HttpError(absl::StatusCode::kInvalidArgument, ledger::kCodeInvalidField,
                                    StrCat("not a valid ", kind_name, " value"), "value"));
  }
  auto customer = service->ledger()->LookupIdentity(identity);
  if (!customer.ok()) return SendError(res, customer.status());
  if (!*customer) {
    return SendError(res,
                     HttpError(absl::StatusCode::kNotFound, ledger::kCodeNotFound,
                               StrCat("no customer has the ", kind_name, " ", identity.value)));
  }
  std::string out = "{\"customer_id\":";
  ledger::json::AppendString(&out, **customer);
  out.push_back('}');
  SendJson(res, 200, std::move(out));
}

void HttpServer::Impl::Health(const httplib::Request& req, httplib::Response& res) {
  std::vector<std::string> reasons;
  if (absl::Status f = service->failure(); !f.ok()) {
    reasons.push_back(StrCat("stopped on a failure: ", StdView(f.message())));
  }
  auto projections = service->runner()->Status();
  for (const auto& p : projections) {
    if (!p.rules_match) {
      reasons.push_back(StrCat(projections::ProjectionName(p.kind), " was built with other rules"));
    } else if (p.behind > options.max_projection_lag) {
      reasons.push_back(StrCat(projections::ProjectionName(p.kind), " is ", p.behind,
                               " records behind (bound ", options.max_projection_lag, ")"));
    }
  }
  bool ready = reasons.empty();
  std::string out = StrCat("{\"status\":\"", ready ? "ready" : "not_ready", "\"");
  std::string verbose = req.get_param_value("verbose");
  if (verbose == "1" || verbose == "true") {
    out.append(",\"reasons\":[");
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (i) out.push_back(',');
      ledger::json::AppendString(&out, reasons[i]);
    }
    uint64_t records = 0;
    for (const auto& h : service->ledger()->Heads()) records += h.position.value();
    out.append(
        StrCat("],\"ledger\":{\"open\":true,\"partitions\":", service->ledger()->partitions(),
               ",\"records\":", records, "},\"projections\":["));
    for (size_t i = 0; i < projections.size(); ++i) {
      const auto& p = projections[i];
      out.append(StrCat(i ? "," : "", "{\"name\":\"", projections::ProjectionName(p.kind),
                        "\",\"version\":", p.version, ",\"applied\":", p.applied, ",\"behind\":",
                        p.behind, ",\"rules_match\":", p.rules_match ? "true" : "false", "}"));
    }
    out.append("],\"kafka\":");
    consumers::ServiceStatus st = service->status();
    if (!st.kafka) {
      out.append("null");
    } else {
      out.append(StrCat("{\"bootstrap\":"));
      ledger::json::AppendString(&out, service->bootstrap());
      out.append(StrCat(",\"inbox_lag\":", st.inbox.lag,
                        ",\"inbox_assigned_partitions\":", st.inbox.assigned_partitions,
                        ",\"relay_lag\":", st.relay.lag, ",\"changelog_lag\":", st.changelog.lag,
                        ",\"rejected_waiting\":", st.rejected_waiting, "}"));
    }
  }
  out.push_back('}');
  SendJson(res, ready ? 200 : 503, std::move(out));
}

void HttpServer::Impl::NoRoute(const httplib::Request& req, httplib::Response& res) {
  if (t_request.denied_status != 0) {  // a body cpp-httplib did not hand to a content reader
    res.status = t_request.denied_status;
    return;
  }
  std::string allowed = AllowedMethods(req.path);
  // A known route whose parameters did not match (an empty customer id) is not a method error.
  if (allowed.empty() || Classify(req.method, req.path) != Route::kOther) {
    return SendError(res, HttpError(absl::StatusCode::kNotFound, ledger::kCodeNotFound,
                                    StrCat("no route ", req.path)));
  }
  res.set_header("Allow", allowed);
  SendJson(res, 405,
           ledger::ErrorJson(HttpError(
               absl::StatusCode::kInvalidArgument, "method_not_allowed",
               StrCat(req.method, " is not allowed on ", req.path, "; allowed: ", allowed))));
}

void HttpServer::Impl::Register() {
  using httplib::Request;
  using httplib::Response;
  server.set_pre_routing_handler(
      [this](const Request& req, Response& res) { return Authorize(req, res); });
  // Bodies are read by the handlers (WithBody), not by cpp-httplib beforehand.
  using httplib::ContentReader;
  using BodyHandler = httplib::Server::HandlerWithContentReader;
  server.Post("/v1/events",
              BodyHandler([this](const Request& req, Response& res, const ContentReader& reader) {
                WithBody(req, res, reader, &Impl::PostEvents);
              }));
  // Customer ids may hold '/' (sent as %2F, which cpp-httplib decodes before matching).
  server.Get(R"(/v1/customers/(.+)/events)",
             [this](const Request& req, Response& res) { History(req, res); });
  server.Get(R"(/v1/customers/(.+)/(profile|loyalty|resume))",
             [this](const Request& req, Response& res) { Projection(req, res); });
  server.Get(R"(/v1/identities/([^/]+)/(.+))",
             [this](const Request& req, Response& res) { Identity(req, res); });
  server.Get("/v1/ledger/digest", [this](const Request&, Response& res) {
    SendJson(res, 200, ledger::DigestJson(service->ledger()->Heads()));
  });
  server.Get("/healthz", [this](const Request& req, Response& res) { Health(req, res); });
  server.Get("/metrics", [this](const Request&, Response& res) {
    res.set_content(RenderMetrics(*service, &metrics), "text/plain; version=0.0.4");
  });
  auto no_route = [this](const Request& req, Response& res) { NoRoute(req, res); };
  auto no_route_with_body =
      BodyHandler([this](const Request& req, Response& res, const ContentReader& reader) {
        WithBody(req, res, reader, &Impl::NoRouteWithBody);
      });
  server.Get(".*", no_route);
  server.Post(".*", no_route_with_body);
  server.Put(".*", no_route_with_body);
  server.Patch(".*", no_route_with_body);
  server.Delete(".*", no_route_with_body);
  server.Delete(".*", no_route);  // a DELETE that cpp-httplib does not expect a body for
  server.Options(".*", no_route);

  // Errors cpp-httplib answers by itself (a malformed request, a body over the limit, a URI too
  // long) get the contract's JSON body too.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const Request&, Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        absl::Status s;
        switch (res.status) {
          case 413:
            s = ledger::TooLarge(StrCat("the body is over limits.max_batch_bytes (",
                                        options.max_batch_bytes, " bytes)"));
            break;
          case 414:
            s = HttpError(absl::StatusCode::kInvalidArgument, "uri_too_long",
                          "the request line is too long");
            break;
          case 404:
            s = HttpError(absl::StatusCode::kNotFound, ledger::kCodeNotFound, "no such route");
            break;
          default:
            s = HttpError(absl::StatusCode::kInvalidArgument,
                          res.status >= 500 ? std::string(ledger::kCodeInternal) : "bad_request",
                          res.status >= 500 ? "internal error" : "malformed HTTP request");
        }
        res.set_content(ledger::ErrorJson(s) + "\n", kJson);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http: {} {}: {}", req.method, req.path, what);
    SendJson(res, 500,
             ledger::ErrorJson(
                 HttpError(absl::StatusCode::kInternal, ledger::kCodeInternal, "internal error")));
  });
  // Counted before the response is written (cpp-httplib runs this just before), so that a
  // client that has its answer finds it counted in /metrics.
  server.set_post_routing_handler([this](const Request&, Response& res) {
    RequestContext& ctx = t_request;
    ctx.seconds =
        ctx.routed
            ? std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.start).count()
            : 0.0;
    metrics.RecordRequest(ctx.routed ? ctx.route : Route::kOther, res.status, ctx.seconds);
  });
  server.set_logger([](const Request& req, const Response& res) {
    RequestContext& ctx = t_request;
    if (spdlog::should_log(spdlog::level::debug)) {
      // Never the Authorization header: only the token's name.
      spdlog::debug("http: {} {} {} {:.3f} ms{}", req.method, req.path, res.status,
                    ctx.seconds * 1000, ctx.principal ? StrCat(" token=", *ctx.principal) : "");
    }
    ctx = RequestContext{};
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

namespace {

// What Start needs from the options once checked: the address and the tokens (when auth is on).
struct CheckedHttpOptions {
  std::string host;
  int port = 0;
  std::optional<TokenSet> tokens;
};

absl::StatusOr<CheckedHttpOptions> CheckHttpOptions(const HttpOptions& options) {
  CheckedHttpOptions checked;
  RETURN_IF_ERROR(ParseListen(options.listen, &checked.host, &checked.port));
  if (!options.tokens_file.empty()) {
    auto tokens = TokenSet::Load(options.tokens_file);
    if (!tokens.ok()) return absl::InvalidArgumentError(tokens.status().message());
    checked.tokens = *std::move(tokens);
  } else if (!IsLoopback(checked.host) && !options.insecure) {
    return absl::FailedPreconditionError(AbslView(StrCat(
        "refusing to listen on ", options.listen,
        " without auth: anyone who can reach it could read and write every customer's ledger. "
        "Set auth.tokens_file in the config, or pass --insecure to serve it unauthenticated")));
  }
  return checked;
}

}  // namespace

absl::Status ValidateHttpOptions(const HttpOptions& options) {
  return CheckHttpOptions(options).status();
}

absl::Status HttpServer::Start(const HttpOptions& options, consumers::Service* service,
                               std::unique_ptr<HttpServer>* out) {
  ASSIGN_OR_RETURN(CheckedHttpOptions checked, CheckHttpOptions(options));
  const std::string& host = checked.host;
  const int port = checked.port;
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->service = service;
  impl->tokens = std::move(checked.tokens);
  httplib::Server& s = impl->server;
  int threads = std::max(1, options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(options.keep_alive_timeout_s);
  s.set_read_timeout(std::chrono::milliseconds(options.read_timeout_ms));
  s.set_write_timeout(std::chrono::milliseconds(options.write_timeout_ms));
  s.set_payload_max_length(options.max_batch_bytes);
  Impl* raw = impl.get();
  s.set_socket_options([raw](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    raw->listen_fd = sock;
  });
  impl->Register();
  int bound = port;
  if (port == 0) {
    bound = s.bind_to_any_port(host);
    if (bound < 0) bound = 0;
  } else if (!s.bind_to_port(host, port)) {
    bound = 0;
  }
  if (bound == 0) {
    return absl::UnavailableError(
        AbslView(StrCat("cannot listen on ", options.listen, ": ", std::strerror(errno))));
  }
  // cpp-httplib listens with a backlog of 5; a burst of connecting clients needs more.
  if (raw->listen_fd >= 0) ::listen(raw->listen_fd, 1024);
  impl->address =
      StrCat(host.find(':') != std::string::npos ? StrCat("[", host, "]") : host, ":", bound);
  impl->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "http");
    raw->server.listen_after_bind();
  });
  // Stop before the accept loop runs would not stop it: wait until it does.
  for (int i = 0; i < 5000 && !s.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  out->reset(new HttpServer(std::move(impl)));
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

const std::string& HttpServer::address() const { return impl_->address; }

bool HttpServer::auth_enabled() const { return impl_->tokens.has_value(); }

}  // namespace rapport::tools
