// The HTTP API of `rapport serve` (CONTRACT §6): thin adapters from cpp-httplib requests to the
// ledger and the projection runner, with bearer-token auth, the contract's JSON errors,
// Prometheus metrics and a health check.
#ifndef RAPPORT_TOOLS_HTTP_SERVER_H_
#define RAPPORT_TOOLS_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "consumers/service.h"
#include "ledger/codec.h"

namespace rapport::tools {

struct HttpOptions {
  // host:port (IPv4, a name, or [IPv6]); port 0 picks a free port (see HttpServer::address).
  std::string listen = "127.0.0.1:8080";
  // Connections served at once; each keep-alive connection holds one thread while it is open.
  int threads = 64;
  // A client that sends nothing (or reads nothing) for this long is disconnected.
  int read_timeout_ms = 5000;
  int write_timeout_ms = 5000;
  // An idle keep-alive connection is closed after this long.
  int keep_alive_timeout_s = 5;
  // limits.max_batch_bytes: the largest request body (413 beyond).
  size_t max_batch_bytes = 16 << 20;
  ledger::CodecOptions codec;  // limits.max_event_bytes, tiers
  // auth.tokens_file: when set, every route but /healthz needs a bearer token.
  std::string tokens_file;
  // Allow a non-loopback address without auth.
  bool insecure = false;
  // /healthz answers 503 while any projection is more than this many records behind.
  uint64_t max_projection_lag = 10000;
};

// What HttpServer::Start would refuse before it binds (a bad address or tokens file, a
// non-loopback address without auth), so that `serve` can say so before it opens anything.
absl::Status ValidateHttpOptions(const HttpOptions& options);

// Owns the listening socket and a pool of `threads` request threads. Start..Stop from one thread;
// `service` must outlive the server. Stop (or destruction) stops accepting, finishes the requests
// in progress and closes the connections.
class HttpServer {
 public:
  // InvalidArgument for a bad address or tokens file; FailedPrecondition when a non-loopback
  // address is asked for without auth and without `insecure`; Unavailable when the address
  // cannot be bound.
  static absl::Status Start(const HttpOptions& options, consumers::Service* service,
                            std::unique_ptr<HttpServer>* server);
  ~HttpServer();
  void Stop();
  // The address actually bound, host:port.
  const std::string& address() const;
  bool auth_enabled() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rapport::tools

#endif  // RAPPORT_TOOLS_HTTP_SERVER_H_
