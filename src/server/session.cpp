// The HTTP/1 session: one coroutine per downstream connection reads request heads, hands each
// request to the endpoints, keeps the connection alive between requests, and closes it
// (lingering when the client may still be sending).
#include "session.hpp"

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "endpoints.hpp"

namespace zgate {
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// What nginx calls a lingering close. An error answered before the request body was read (401,
// 413, a bad head) closes the connection; closing a socket with unread bytes makes the kernel
// send a reset, and a client still sending its body then sees EPIPE or ECONNRESET instead of the
// answer. So: stop writing (the client sees the end of the answer), read and discard for a
// bounded time and size, then close.
net::awaitable<void> linger_close(tcp::socket& sock, io::Deadline& dl, beast::flat_buffer& buf, const Config& cfg) {
  boost::system::error_code ec;
  sock.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  const auto until = Clock::now() + cfg.timeouts.lingering_time;
  // Bounded in size too, but generously: a client refused for a body over the limit may still
  // be sending well past it.
  const std::size_t max_bytes = 4 * cfg.limits.body_limit + cfg.limits.header_limit;
  std::size_t discarded = 0;
  buf.clear();
  while (discarded < max_bytes) {
    const auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) break;
    dl.arm(std::min<Clock::duration>(left, cfg.timeouts.lingering_timeout));
    auto [rec, n] = co_await sock.async_read_some(io::read_buffer(buf), nothrow);
    if (rec) break;
    discarded += n;
  }
  dl.disarm();
}

// The answer to a head that is not acceptable HTTP: 400, 431 or 501.
ApiError bad_head_error(const boost::system::error_code& rec, const RequestHead& req, const Config& cfg) {
  if (rec == http::error::header_limit) {
    return ApiError{431, "invalid_request_error", "headers_too_large",
                    "The request headers are too large (the limit is " + std::to_string(cfg.limits.header_limit) +
                        " bytes).",
                    {}, 0, ErrorSource::downstream};
  }
  if (req.reject_status != 0) {
    return ApiError{req.reject_status, "invalid_request_error", req.reject_status == 501 ? "not_implemented" : "bad_request",
                    req.reject_reason, {}, 0, ErrorSource::downstream};
  }
  return bad_request("Malformed HTTP request: " + rec.message() + ".", {}, "bad_request");
}

}  // namespace

bool parse_request_head(RequestParser& p, beast::flat_buffer& buf, RequestHead& req, boost::system::error_code& ec) {
  ec = {};
  while (!p.is_header_done()) {
    if (buf.size() == 0) return false;
    // Beast takes a complete start line at once, even while the fields are still incomplete
    // (need_more with those bytes consumed); the fields are taken whole, in a later put().
    const bool at_line_start = p.got_some();
    const auto data = buf.data();
    const std::size_t n = p.put(data, ec);
    const std::string_view taken{static_cast<const char*>(data.data()), n};
    buf.consume(n);  // also on need_more: what put() took is parsed and must not be fed again
    if (ec == http::error::need_more) {
      ec = {};
      return false;
    }
    if (!ec && p.is_header_done() &&
        (h1::has_obs_fold(taken) || (at_line_start && !taken.empty() && (taken[0] == ' ' || taken[0] == '\t')))) {
      req.reject_status = 400;
      req.reject_reason = "Obsolete line folding (a header line starting with a space or tab) is not accepted.";
      ec = http::error::bad_obs_fold;
    }
    if (ec) return true;
    if (n == 0) return false;
  }
  return true;
}

namespace {

// Answers a head that is not acceptable HTTP (400, 431, 501), recorded like any other answer.
// A coroutine of its own, so that the session's frame, which lives as long as the connection,
// does not carry a Request for this rare case.
net::awaitable<void> answer_bad_head(Conn& conn, RequestParser& parser, WorkerGeneration& wg,
                                     const boost::system::error_code& rec) {
  // Built here, not by the caller: a temporary in the session's co_await would hold a slot in the
  // session's frame, which every connection carries for its whole life.
  const ApiError e = bad_head_error(rec, conn.req, *wg.gen->cfg);
  Request c(conn, parser, wg);
  c.info.request_id = request_id_from({});
  c.info.recorded = true;
  c.keep_alive = false;
  ResponseWriter out(c);
  co_await out.send_error(e);
  record(c);
}

// The client's address, as text ("" when the socket has none).
std::string peer_address(const tcp::socket& sock) {
  boost::system::error_code ec;
  const auto ep = sock.remote_endpoint(ec);
  return ec ? std::string() : ep.address().to_string();
}

// Between two requests a keep-alive connection may wait minutes, and most of a server's
// connections are such waits: one that waits longer than kParkAfter is parked and holds no
// buffer. Before that (a client sending requests back to back) it keeps the last request's
// buffers if they are small, so that the next request does not allocate them again; large ones
// (a big body, a long head) go at once.
void shed_large_buffers(beast::flat_buffer& buf, RequestHead& req, std::string& head) {
  // What a connection keeps between back-to-back requests: a small request's head, body and
  // response head fit in this much each.
  constexpr std::size_t kKeep = 8192;
  if (buf.capacity() > kKeep) buf = beast::flat_buffer();
  if (req.body.capacity() > kKeep) std::string().swap(req.body);
  if (head.capacity() > kKeep) std::string().swap(head);
}

// Before parking: releases every buffer, then reads the bytes already sent, if any. True when
// there were none (the connection can be parked holding nothing). Otherwise `rec` is how the
// read ended.
bool release_for_idle(tcp::socket& sock, RequestParser& parser, beast::flat_buffer& buf, RequestHead& req,
                      std::string& head, boost::system::error_code& rec) {
  buf = beast::flat_buffer();
  std::string().swap(req.body);
  std::string().swap(head);
  boost::system::error_code now;
  const std::size_t n = sock.read_some(io::read_buffer(buf), now);
  if (now == net::error::would_block || now == net::error::try_again) {
    buf = beast::flat_buffer();  // read_some() took room for its read
    return true;
  }
  rec = io::after_read(parser, buf, now, n);
  return false;
}

// Counts the connection in g.connections until it closes (the acceptor counted it in).
struct ConnCount {
  explicit ConnCount(std::atomic<std::size_t>& c) : n(&c) {}
  ConnCount(ConnCount&& o) noexcept : n(std::exchange(o.n, nullptr)) {}
  ConnCount& operator=(ConnCount&&) = delete;
  ~ConnCount() {
    if (n) n->fetch_sub(1, std::memory_order_relaxed);
  }
  std::atomic<std::size_t>* n;  // null once handed on
};

// A parked connection: what outlives its session while it waits for the next request. About a
// quarter of what the waiting coroutine held (its frame, co_spawn's and the cancellation slot's).
struct Parked {
  Parked(Gateway::Impl& g, Worker& w, tcp::socket s, ConnState st, ConnCount n)
      : g(g), w(w), sock(std::move(s)), dl(w.watchdog, &sock), state(std::move(st)), count(std::move(n)) {}
  Gateway::Impl& g;
  Worker& w;
  tcp::socket sock;
  io::Deadline dl;  // the rest of the keep-alive time; cut by the watchdog at shutdown too
  ConnState state;
  ConnCount count;
  WorkerCount gauge{w.parked};
};

// Waits for the next request without a coroutine. Readiness comes from the reactor (the socket
// was just read empty, so the next bytes raise it); a deadline that passes (the keep-alive time,
// or the shutdown's cut) cancels the wait, and the connection closes.
void park(Gateway::Impl& g, Worker& w, tcp::socket sock, ConnState st, ConnCount count, Clock::duration left) {
  auto p = std::make_unique<Parked>(g, w, std::move(sock), std::move(st), std::move(count));
  p->dl.arm(left);
  tcp::socket& s = p->sock;
  s.async_wait(tcp::socket::wait_read, [p = std::move(p)](const boost::system::error_code& ec) mutable {
    if (ec || p->dl.expired() || p->dl.aborted()) {
      boost::system::error_code ignored;
      p->sock.shutdown(tcp::socket::shutdown_send, ignored);
      return;  // closes with p
    }
    p->state.resumed = true;
    p->count.n = nullptr;  // the new session counts it
    start_session(p->g, p->w, std::move(p->sock), std::move(p->state));
  });
}

net::awaitable<void> session(Gateway::Impl& g, Worker& w, tcp::socket sock, std::shared_ptr<ConnCancel> cancel,
                             ConnState st) {
  // Errors as values even after a cancel: cleanup and the access log still run.
  co_await net::this_coro::throw_if_cancelled(false);
  ConnCount count(g.connections);
  boost::system::error_code ec;
  if (!st.resumed) {
    sock.set_option(tcp::no_delay(true), ec);
    sock.non_blocking(true, ec);  // responses are written straight away when the socket takes them (io::try_write)
    st.client_ip = peer_address(sock);
  }
  io::Deadline dl(w.watchdog, &sock);
  beast::flat_buffer buf;
  RequestHead req;   // reused by every request on this connection
  std::string head;  // response heads, likewise
  // A new connection's first head, and the head that woke a parked one, are read within
  // client_header_read; later heads within client_keepalive_idle (waiting included).
  bool first = true;
  bool linger = false;
  std::shared_ptr<WorkerGeneration> wg;
  Conn conn{g, w, sock, dl, buf, req, head, st.auth_memo, st.client_ip, cancel, st.metrics_only};
  for (;;) {
    wg = w.current;  // for reading the head; taken again once it has arrived
    const Config* cfg = wg->gen->cfg.get();
    RequestParser parser(req);
    parser.header_limit(static_cast<std::uint32_t>(cfg->limits.header_limit));
    // The body limit is applied once the request is authenticated (handle_chat): Beast would
    // otherwise reject a large Content-Length while parsing the head, before a proper 413.
    parser.body_limit(boost::none);
    // A slow or silent client cannot hold the connection: the whole head must arrive in time.
    const auto idle = cfg->timeouts.client_keepalive_idle;
    boost::system::error_code rec;
    if (!first && buf.size() == 0) {
      // Waits here a while; a connection idle longer is parked, without this frame.
      shed_large_buffers(buf, req, head);
      const bool may_park = idle > kParkAfter;
      dl.arm(may_park ? kParkAfter : idle);
      // A read rather than async_wait(wait_read): Asio tries a read at once (the next request
      // may be here already) and otherwise queues it for epoll as it is, where a wait re-arms
      // the socket's epoll registration first (an epoll_ctl per request).
      auto [ec, n] = co_await sock.async_read_some(io::read_buffer(buf), nothrow);
      if (may_park && ec == net::error::operation_aborted && dl.expired() && !dl.aborted()) {
        // Bytes that came as the read was cut raise no new readiness: read them first.
        if (release_for_idle(sock, parser, buf, req, head, rec)) {
          dl.unwatch();  // out of the watchdog's epoll set before the socket moves
          // The rest of the keep-alive time (the cut came at most a tick after kParkAfter).
          park(g, w, std::move(sock), std::move(st), std::move(count), idle - kParkAfter);
          co_return;
        }
      } else {
        rec = io::after_read(parser, buf, ec, n);
      }
      if (may_park) dl.arm(idle);  // for the head (up to kParkAfter more than before the wait)
    } else {
      dl.arm(first ? cfg->timeouts.client_header_read : idle);
    }
    while (!rec && !parse_request_head(parser, buf, req, rec)) {
      auto [ec, n] = co_await sock.async_read_some(io::read_buffer(buf), nothrow);
      if ((rec = io::after_read(parser, buf, ec, n))) break;
    }
    // The request runs in the newest configuration generation, whatever it was when the
    // connection began waiting for it.
    wg = w.current;
    cfg = wg->gen->cfg.get();
    if (st.memo_gen != wg->gen->id) {  // a remembered key may be gone after a reload
      st.auth_memo = AuthMemo{};
      st.memo_gen = wg->gen->id;
    }
    if (rec) {
      // A head that is not acceptable HTTP gets its 400 (431, 501), recorded like any other
      // answer; a client that went away or timed out gets nothing.
      if (rec == http::error::header_limit || req.reject_status != 0 || is_malformed(rec)) {
        co_await answer_bad_head(conn, parser, *wg, rec);
        linger = true;
      }
      break;
    }
    const bool keep = co_await handle(conn, parser, *wg);
    if (!keep || g.stopping.load(std::memory_order_relaxed)) {
      // Closing with part of a request unread (an error answered before its body was read):
      // the client may still be sending.
      linger = !parser.is_done();
      break;
    }
    first = false;
  }
  if (linger) co_await linger_close(sock, dl, buf, *wg->gen->cfg);
  sock.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

void start_session(Gateway::Impl& g, Worker& w, tcp::socket sock, ConnState st) {
  auto cancel = std::make_shared<ConnCancel>();
  auto slot = cancel->signal.slot();
  net::co_spawn(w.ioc, session(g, w, std::move(sock), cancel, std::move(st)),
                net::bind_cancellation_slot(slot, [cancel](std::exception_ptr e) {
                  if (!e) return;
                  try {
                    std::rethrow_exception(e);
                  } catch (const std::exception& ex) {
                    spdlog::error("connection ended by an internal error: {}", ex.what());
                  }
                }));
}

}  // namespace zgate
