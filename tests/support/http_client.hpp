#pragma once
// A small blocking HTTP/1.1 client for integration tests (plain or TLS). Every operation has a
// deadline, so a failing test cannot hang; failures are reported in HttpResult::error, never
// thrown. Body pieces keep their arrival time so tests can check pacing and incremental relay.
// Plain POSIX sockets + OpenSSL: no Boost, cheap to compile.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zgate::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  int status = 0;
  HeaderList headers;
  std::string body;  // decoded (de-chunked) body
  // Body pieces with their arrival time since the request started: one per HTTP chunk for a
  // chunked body, one per socket read otherwise.
  std::vector<std::pair<std::chrono::milliseconds, std::string>> chunks;
  std::string error;          // empty = the response was read completely
  bool complete = false;      // the body ended as its framing announced
  bool keep_alive = false;    // the connection may carry another request
  std::chrono::milliseconds head_at{0};  // when the response head was complete

  std::string header(std::string_view name) const;  // case-insensitive; "" if absent
  bool ok() const { return error.empty(); }
};

// When to give up on a response on purpose and close the socket (cancel tests).
struct AbortWhen {
  std::size_t body_bytes = std::numeric_limits<std::size_t>::max();  // after this many body bytes (0 = right after the head)
  std::chrono::milliseconds after{0};  // after this long since the request started; 0 = no time trigger
};

// One connection carrying any number of requests (keep-alive).
class HttpConnection {
 public:
  // Connects (and handshakes, verifying the server against `ca_file`, or the system store
  // when empty). Check is_open() / error().
  HttpConnection(const std::string& host, uint16_t port, std::chrono::milliseconds timeout, bool tls = false,
                 const std::string& ca_file = {});
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool is_open() const;
  const std::string& error() const;

  // Sends one request and reads its response within `timeout`. Adds Host and Content-Length
  // (unless given). After an error or a non-keep-alive response the connection is closed.
  HttpResult request(const std::string& method, const std::string& target, const HeaderList& headers,
                     const std::string& body, std::chrono::milliseconds timeout, AbortWhen abort = {});

  // Writes raw bytes (e.g. a hand-made request); false on error or timeout.
  bool send_raw(std::string_view bytes, std::chrono::milliseconds timeout);
  // Waits up to `timeout` for the peer to close the connection; true if it did.
  bool wait_closed_by_peer(std::chrono::milliseconds timeout);
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
HttpResult http_request(const std::string& host, uint16_t port, const std::string& method, const std::string& target,
                        const HeaderList& headers, const std::string& body, std::chrono::milliseconds timeout,
                        bool tls = false, const std::string& ca_file = {});

// Like http_request, but closes the socket once `abort_after_bytes` body bytes arrived or
// `abort_after` elapsed (0 = no time trigger). The result then has error "aborted by client".
HttpResult http_request_abort_after(const std::string& host, uint16_t port, const std::string& method,
                                    const std::string& target, const HeaderList& headers, const std::string& body,
                                    std::size_t abort_after_bytes, std::chrono::milliseconds abort_after,
                                    std::chrono::milliseconds timeout, bool tls = false,
                                    const std::string& ca_file = {});

// The `data:` payloads of an SSE body, in order (one optional space after the colon removed;
// multi-line data joined with '\n').
std::vector<std::string> sse_payloads(std::string_view body);

}  // namespace zgate::testing
