#pragma once
// zgate-mock's I/O executor: a real HTTP/1.1 server (plain or TLS) that plays the Plans of the
// pure engine (plan.hpp) on sockets. Used in-process by the integration tests and by the
// zgate-mock binary. No Boost in this header, so including it costs nothing.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/mock/plan.hpp"

namespace zgate::mock {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port; see MockServer::port()
  unsigned threads = 1;
  std::string tls_cert_file, tls_key_file;  // TLS when both are set
  std::vector<std::string> api_keys;        // empty = accept any non-empty bearer
  int concurrency_limit = 0;                // per (key, model); 0 = unlimited
  bool quiet = true;                        // false = one log line per request on stderr
  bool fast = false;  // benchmark upstream: no recording or logging, cached plans, coalesced writes
  int default_chunks = 8;
  Millis default_delay{0};
  std::string zai_signing_secret;
  Millis idle_timeout{75000};  // a keep-alive connection idle this long is closed
};

struct Stats {
  uint64_t connections_accepted = 0;
  uint64_t connections_closed = 0;
  uint64_t requests = 0;
  uint64_t aborted_responses = 0;  // the peer went away before the response was complete
  std::chrono::steady_clock::time_point last_abort_at{};
  int64_t max_in_flight = 0;  // the most requests being answered at once (since reset_stats)
  // When each request was read in full, in order (not recorded in fast mode).
  std::vector<std::chrono::steady_clock::time_point> request_times;
};

class MockServer {
 public:
  // Binds and starts serving on construction; throws std::runtime_error if it cannot
  // (bad address, port in use, unreadable certificate).
  explicit MockServer(Options options);
  ~MockServer();  // stops, closes every connection and joins the threads
  MockServer(const MockServer&) = delete;
  MockServer& operator=(const MockServer&) = delete;

  uint16_t port() const;
  bool tls() const;
  std::string base_url() const;  // "http(s)://host:port"
  Stats stats() const;
  void reset_stats();

  // The last complete request received (not recorded in fast mode).
  std::string last_request_body() const;
  std::string last_request_header(std::string_view name) const;  // case-insensitive; "" if absent
  std::string last_request_target() const;
  std::string last_request_method() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zgate::mock
