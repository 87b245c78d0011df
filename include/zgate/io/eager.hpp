#pragma once
// Finishing an I/O step at once when nothing has to be waited for.
//
// An Asio operation that completes immediately (a send the kernel takes whole, a body already
// in the buffer with its head) still posts its completion: the coroutine suspends, the
// scheduler polls epoll (a non-blocking epoll_wait) before it runs the completion, and the
// coroutine resumes. A proxied request had four such round trips: at concurrency 1 zgate made
// six epoll_wait calls per request where nginx makes two. These helpers do the step
// synchronously when it cannot block and leave only the rest to the asynchronous operation.
#include <algorithm>
#include <array>
#include <cstddef>
#include <tuple>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "zgate/io/drain.hpp"

namespace zgate::io {

namespace net = boost::asio;
using boost::system::error_code;

// `bufs` without its first `n` bytes.
template <std::size_t N>
std::array<net::const_buffer, N> skip(std::array<net::const_buffer, N> bufs, std::size_t n) {
  for (auto& b : bufs) {
    const std::size_t k = std::min(n, b.size());
    b += k;
    n -= k;
  }
  return bufs;
}

// The result of a write that may have finished without waiting: the error, the bytes written,
// and whether it is over (all written, or failed).
struct Written {
  error_code ec;
  std::size_t n = 0;
  bool complete = false;
};

// Writes as much of `bufs` as the socket takes now, without blocking (the socket must be in
// non-blocking mode, else nothing is written here). When the result is not complete the caller
// co_awaits write_rest() with the same buffers. Split this way so that the usual case (the
// kernel takes the whole response) costs no coroutine frame: each co_await of an awaitable
// function allocates one, and a proxied request made fifteen.
template <std::size_t N>
Written try_write(net::ip::tcp::socket& s, const std::array<net::const_buffer, N>& bufs) {
  const std::size_t total = net::buffer_size(bufs);
  Written w;
  if (!s.non_blocking()) return w;
  while (w.n < total) {
    const std::size_t n = s.write_some(skip(bufs, w.n), w.ec);
    w.n += n;
    if (w.ec == net::error::would_block || w.ec == net::error::try_again) {
      w.ec = {};
      return w;
    }
    if (w.ec) break;
    if (n == 0) return w;
  }
  w.complete = true;
  return w;
}

// Writes what try_write() left of `bufs` (`w` is its result), waiting for the socket.
template <std::size_t N>
net::awaitable<Written> write_rest(net::ip::tcp::socket& s, std::array<net::const_buffer, N> bufs, Written w) {
  auto [ec, n] = co_await net::async_write(s, skip(bufs, w.n), net::as_tuple(net::use_awaitable));
  co_return Written{ec, w.n + n, true};
}

// Writes all of `bufs`: try_write(), then write_rest() if needed. Returns the error and the
// bytes written in all.
template <std::size_t N>
net::awaitable<std::tuple<error_code, std::size_t>> write_all(net::ip::tcp::socket& s,
                                                              const std::array<net::const_buffer, N>& bufs) {
  Written w = try_write(s, bufs);
  if (!w.complete) w = co_await write_rest(s, bufs, w);
  co_return std::tuple{w.ec, w.n};
}

namespace detail {
// Feeds the bytes `buf` holds to `p`, consuming what it parses, until `done(p)`. Returns true
// then, or when the parser failed (`ec` says why); false when more bytes must be read first.
template <bool isRequest, class Done>
bool parse_buffered_until(boost::beast::http::basic_parser<isRequest>& p, boost::beast::flat_buffer& buf,
                          error_code& ec, Done done) {
  ec = {};
  while (!done(p)) {
    if (buf.size() == 0) return false;
    const std::size_t n = p.put(buf.data(), ec);
    buf.consume(n);
    if (ec == boost::beast::http::error::need_more) {
      ec = {};
      return false;
    }
    if (ec) return true;
    if (n == 0) return false;
  }
  return true;
}
}  // namespace detail

// Feeds the bytes `buf` already holds to `p`, consuming what it parses. Returns true when the
// message is complete or the parser failed (then `ec` says why); false when more bytes must be
// read first.
template <bool isRequest>
bool parse_buffered(boost::beast::http::basic_parser<isRequest>& p, boost::beast::flat_buffer& buf, error_code& ec) {
  return detail::parse_buffered_until(p, buf, ec, [](const auto& q) { return q.is_done(); });
}

// Reading a message head or body with the socket's own async_read_some() and the parser fed
// here, rather than through Beast's http::async_read_header / async_read_some: those wrap the
// socket read in two composed operations (each copying the type-erased executor with work
// tracking and re-dispatching its completion), about a tenth of a proxied request's
// instructions for its two head reads and each body read. Used as
//   while (!io::parse_head_buffered(p, buf, ec)) {
//     auto [rec, n] = co_await stream.async_read_some(io::read_buffer(buf), ...);
//     if ((ec = io::after_read(p, buf, rec, n))) break;
//   }
// with the same errors as Beast's reads (end_of_stream, partial_message, the parser's own).

// Feeds the bytes `buf` holds to `p` until its head is complete. Returns true when it is, or
// when the parser failed (`ec` says why); false when more bytes must be read first.
template <bool isRequest>
bool parse_head_buffered(boost::beast::http::basic_parser<isRequest>& p, boost::beast::flat_buffer& buf,
                         error_code& ec) {
  return detail::parse_buffered_until(p, buf, ec, [](const auto& q) { return q.is_header_done(); });
}

// Where the next read into `buf` goes: as Beast sizes its reads, the free capacity but at
// least 512 bytes and at most 64 KiB.
inline net::mutable_buffer read_buffer(boost::beast::flat_buffer& buf) {
  return buf.prepare(std::clamp<std::size_t>(buf.capacity() - buf.size(), 512, 65536));
}
// The same, for a socket with drain_hints() on: a read that empties the socket leaves the next
// one to wait for readiness (drain.hpp).
inline DrainingBuffer draining_read_buffer(boost::beast::flat_buffer& buf, const Warm* w = nullptr) {
  return DrainingBuffer(read_buffer(buf), w);
}

// Accounts for a read into read_buffer(buf) that returned `n` bytes and `ec`: commits the
// bytes and maps the end of the stream as Beast does. A parser that has seen nothing of a
// message gets end_of_stream; one that has is told of the end (a body delimited by the close
// completes, anything else is partial_message). Returns the error to report, if any.
template <bool isRequest>
error_code after_read(boost::beast::http::basic_parser<isRequest>& p, boost::beast::flat_buffer& buf, error_code ec,
                      std::size_t n) {
  buf.commit(n);
  if (ec != net::error::eof) return ec;
  if (!p.got_some()) return boost::beast::http::error::end_of_stream;
  error_code eof_ec;
  p.put_eof(eof_ec);
  return eof_ec;
}

}  // namespace zgate::io
