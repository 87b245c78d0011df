#pragma once
// Upstream HTTP/1.1 client: per-worker pool of keep-alive connections (plain or TLS), keyed
// by the exact peer identity, and one Exchange per proxied request.
//
// The server drives an Exchange as: start() (checkout or connect, TLS, send the request,
// read the response head) -> read_some() until it returns an empty view -> release(). A
// connection goes back to the pool only when the whole response was read cleanly and the
// upstream keeps it alive; an Exchange destroyed early (error, client gone, cancellation)
// closes its connection.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "zgate/config/config.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/upstream/endpoint.hpp"

namespace boost::asio::ssl { class context; }
namespace zgate::io {
struct Warm;
class Watchdog;
}  // namespace zgate::io

namespace zgate::upstream {

struct PoolStats {
  uint64_t connects = 0;   // new connections made
  uint64_t reuses = 0;     // requests served on a pooled connection
  uint64_t retries = 0;    // stale pooled connection replaced before any response byte
  uint64_t idle = 0;       // connections idle in the pool now
  uint64_t open = 0;       // connections open now: idle, or in use by an exchange
};

class Connection;

// One per worker thread; not thread-safe.
class Pool {
 public:
  // Connections' I/O deadlines are kept by `watchdog` (the worker's).
  Pool(boost::asio::any_io_executor ex, const Limits& limits, io::Watchdog& watchdog);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Takes an idle, healthy connection for `ep`, or nullptr.
  std::unique_ptr<Connection> checkout(const Endpoint& ep);
  void checkin(std::unique_ptr<Connection> c);
  // Closes connections idle too long or closed by the peer (called by a per-worker timer).
  void sweep();
  PoolStats stats() const;
  PoolStats& counters() { return stats_; }
  // Counts the open connections (each connection holds it: one may outlive the pool at shutdown).
  const std::shared_ptr<uint64_t>& open_counter() const;
  boost::asio::any_io_executor executor() const { return ex_; }
  io::Watchdog& watchdog() { return watchdog_; }

 private:
  struct Impl;
  boost::asio::any_io_executor ex_;
  Limits limits_;
  io::Watchdog& watchdog_;
  std::unique_ptr<Impl> impl_;
  PoolStats stats_;
};

struct Timings {
  int64_t connect_us = 0;       // time to obtain a ready connection (0 when reused)
  int64_t first_byte_us = -1;   // request start -> response head
  bool reused = false;
};

enum class Failure : unsigned char { none, connect, tls, write, timeout, protocol, closed, cancelled, too_large };

class Exchange {
 public:
  Exchange(Pool& pool, boost::asio::ssl::context* tls_ctx, const Endpoint& ep, const Timeouts& t,
           const Limits& l);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Sends `req` and reads the response head. On failure returns a Failure (and the message
  // in error_message()); a stale pooled connection is replaced once, transparently.
  boost::asio::awaitable<Failure> start(const UpstreamRequest& req);

  int status() const;
  // The response's Retry-After in seconds, -1 when it has none (or gives a date).
  int retry_after() const;
  std::string_view content_type() const;  // of the response; valid until the next read
  bool is_event_stream() const;

  // Next piece of the response body (timeout: upstream_stream_idle). An empty view with
  // Failure::none = the body is complete. Bytes already buffered are parsed in place; only a
  // read that must wait goes through the event loop.
  boost::asio::awaitable<Failure> read_some(std::string_view& out);
  // read_some() in its parts, for a loop that reads a stream chunk by chunk: read_some() is a
  // coroutine of its own, and a frame made, resumed and freed for every chunk is a cost the
  // caller's frame need not pay. Used as
  //   if (!ex.read_now(piece, f)) {
  //     for (;;) {
  //       auto [rec, n] = co_await ex.wait_read();
  //       if (ex.read_done(rec, n, piece, f)) break;
  //     }
  //   }
  // A piece is valid until the next read or release(): a chunked body's pieces are views into
  // the read buffer.
  // read_now(): the part that needs no waiting; true when `out` and `f` hold the result (bytes
  // already buffered, the end of the body, or an error). wait_read(): arms the deadline and
  // reads from the socket once. read_done(): accounts for that read; true when `out` and `f`
  // hold the result, false when another wait_read() is needed.
  bool read_now(std::string_view& out, Failure& f);
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> wait_read();
  bool read_done(boost::system::error_code rec, std::size_t n, std::string_view& out, Failure& f);
  // Reads the whole remaining body into `out` (bounded by limits.max_upstream_body).
  boost::asio::awaitable<Failure> read_all(std::string& out);

  // The lines the connection's reads prefetch as they return (io::Warm), cleared first with
  // `clear`; null without a connection. Cleared again when the connection goes back to the pool.
  io::Warm* warm(bool clear);
  // Returns the connection to the pool if the response was complete and keep-alive.
  void release();
  const Timings& timings() const { return timings_; }
  const std::string& error_message() const { return error_; }

 private:
  // read_now() for read_all().
  bool read_all_now(std::string& out, Failure& f);
  // The rest of read_now() / read_done() for a chunked body (decoded in the read buffer).
  bool dechunk(std::string_view& out, Failure& f);
  boost::asio::awaitable<Failure> connect();
  void build_head(const UpstreamRequest& req);  // the request head, into the connection's buffer
  static void make_body_room(Connection& c);  // a body of known length is read in large pieces
  Failure write_failure(const boost::system::error_code& ec);
  Failure head_failure(const boost::system::error_code& ec);
  bool append_piece(std::string& out, std::string_view piece, Failure& f);
  Pool& pool_;
  boost::asio::ssl::context* tls_ctx_;
  const Endpoint& ep_;
  const Timeouts& t_;
  const Limits& l_;
  std::unique_ptr<Connection> conn_;
  Timings timings_;
  std::string error_;
};

// Builds the TLS client context for an endpoint: system CA store plus the configured CA file,
// peer verification unless disabled.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const Endpoint& ep);

}  // namespace zgate::upstream
