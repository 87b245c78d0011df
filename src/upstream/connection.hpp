// One pooled upstream connection of upstream/client.cpp (its only user): the socket (plain or
// TLS), its deadline, the read buffer and the parsing state of the response being read.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "response_parser.hpp"
#include "zgate/h1/chunked.hpp"
#include "zgate/io/eager.hpp"
#include "zgate/io/net.hpp"
#include "zgate/io/watchdog.hpp"

namespace zgate::upstream {

using namespace io::names;

class Connection {
 public:
  Connection(net::any_io_executor ex, io::Watchdog& wd, std::shared_ptr<uint64_t> open)
      : tcp_(std::move(ex)), dl_(wd, &tcp_), open_(std::move(open)) {
    ++*open_;
  }
  ~Connection() { --*open_; }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : tcp_; }
  int fd() { return lowest().native_handle(); }

  // Runs `f(stream)` on whichever stream this connection uses.
  template <class F>
  auto with_stream(F&& f) {
    if (tls_) return f(*tls_);
    return f(tcp_);
  }

  // Where a response read goes, around `co_await async_read_some(begin_read())`. On a plain
  // connection a read that empties the socket leaves the next to wait for readiness (drain.hpp)
  // rather than try a receive that cannot succeed (one system call fewer per stream chunk and per
  // response). A reset that came right behind the last bytes read raises no readiness: the
  // watchdog looks for it while such a read waits, and end_read() then reads what the socket
  // says at once (its error or its end).
  io::DrainingBuffer begin_read() {
    dl_.probe_peer(!tls_);
    return io::draining_read_buffer(buf_, warm_.size() ? &warm_ : nullptr);
  }
  void end_read(boost::system::error_code& ec, std::size_t& n) {
    dl_.probe_peer(false);
    if (ec != net::error::operation_aborted || !dl_.peer_closed() || dl_.expired() || tls_) return;
    ec = {};
    n = tcp_.read_some(io::read_buffer(buf_), ec);
    if (ec == net::error::would_block) ec = {};
  }

  tcp::socket tcp_;
  std::unique_ptr<ssl::stream<tcp::socket>> tls_;
  io::Deadline dl_;  // of the pending operation; disarmed while idle in the pool
  beast::flat_buffer buf_;
  std::optional<ResponseParser> parser_;
  // A chunked body is decoded in buf_ itself (h1/chunked.hpp), not by parser_, which then has
  // read only the head. `held_`: bytes at the front of buf_ decoded into the last piece read,
  // dropped at the next read (the piece points into them).
  h1::ChunkedDecoder chunks_;
  bool dechunk_ = false;
  std::size_t held_ = 0;
  // The body is complete (so the connection may carry another request).
  bool body_done() const { return dechunk_ ? chunks_.done() : parser_->is_done(); }
  void drop_held() {
    buf_.consume(held_);
    held_ = 0;
  }
  // Kept with the connection so that their capacity is reused by every request it carries.
  std::string head_;          // the request head being sent
  std::string content_type_;  // of the current response
  std::string body_;          // a body of known length: the bytes of the last read (a chunked
                              // body is decoded in buf_)
  std::string key_;
  io::Warm warm_;
  std::chrono::steady_clock::time_point idle_since_;
  std::shared_ptr<uint64_t> open_;  // the pool's count of open connections
};

}  // namespace zgate::upstream
