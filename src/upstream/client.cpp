// Upstream HTTP/1.1 client: connect (plain or TLS), per-worker keep-alive pool, one Exchange
// per proxied request. Both stream types share each operation through with_stream().
#include "zgate/upstream/client.hpp"

#include <poll.h>

#include <array>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "zgate/core/text.hpp"
#include "zgate/h1/head.hpp"
#include "zgate/io/eager.hpp"
#include "zgate/io/net.hpp"
#include "zgate/io/watchdog.hpp"
#include "connection.hpp"
#include "response_parser.hpp"

namespace zgate::upstream {

using namespace io::names;
using Clock = std::chrono::steady_clock;

namespace {
// A connection's body buffer larger than this (a big non-stream read) is released after use.
constexpr std::size_t kKeepBodyCapacity = 256 * 1024;
constexpr std::size_t kKeepIdleCapacity = 4 * 1024;  // what a connection idle in the pool keeps (a stream may take it next)
constexpr std::size_t kMaxReadRoom = 64 * 1024;

int64_t micros_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}
}  // namespace

std::unique_ptr<ssl::context> make_tls_context(const Endpoint& ep) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_default_verify_paths();
  if (!ep.ca_file.empty()) {
    boost::system::error_code ec;
    ctx->load_verify_file(ep.ca_file, ec);
    if (ec) throw ConfigError("upstream CA file '" + ep.ca_file + "': " + ec.message());
  }
  ctx->set_verify_mode(ep.verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

// ---- Pool -------------------------------------------------------------------------------

struct Pool::Impl {
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
  std::shared_ptr<uint64_t> open = std::make_shared<uint64_t>(0);
};

Pool::Pool(net::any_io_executor ex, const Limits& limits, io::Watchdog& watchdog)
    : ex_(std::move(ex)), limits_(limits), watchdog_(watchdog), impl_(std::make_unique<Impl>()) {}
Pool::~Pool() = default;

namespace {

// An idle keep-alive connection must have nothing to read: data means a protocol error,
// and POLLRDHUP/POLLHUP means the upstream closed it.
bool idle_healthy(Connection& c) {
  pollfd p{c.fd(), static_cast<short>(POLLIN | POLLRDHUP), 0};
  const int r = ::poll(&p, 1, 0);
  return r == 0;
}
}  // namespace

std::unique_ptr<Connection> Pool::checkout(const Endpoint& ep) {
  auto it = impl_->idle.find(ep.key);
  if (it == impl_->idle.end()) return nullptr;
  auto& v = it->second;
  const auto now = Clock::now();
  while (!v.empty()) {
    auto c = std::move(v.back());
    v.pop_back();
    --stats_.idle;
    const auto idle = now - c->idle_since_;
    if (idle < limits_.pool_idle_timeout && (idle < limits_.pool_check_idle || idle_healthy(*c))) return c;
  }
  return nullptr;
}

void Pool::checkin(std::unique_ptr<Connection> c) {
  auto& v = impl_->idle[c->key_];
  if (v.size() >= limits_.pool_max_idle_per_host) return;  // dropped: closes
  c->idle_since_ = Clock::now();
  c->dl_.disarm();
  c->parser_.reset();
  c->dechunk_ = false;
  v.push_back(std::move(c));
  ++stats_.idle;
}

void Pool::sweep() {
  const auto now = Clock::now();
  for (auto& [key, v] : impl_->idle) {
    std::erase_if(v, [&](std::unique_ptr<Connection>& c) {
      const bool drop = now - c->idle_since_ >= limits_.pool_idle_timeout || !idle_healthy(*c);
      if (drop) --stats_.idle;
      return drop;
    });
  }
}

PoolStats Pool::stats() const {
  PoolStats s = stats_;
  s.open = *impl_->open;
  return s;
}

const std::shared_ptr<uint64_t>& Pool::open_counter() const { return impl_->open; }

// ---- Exchange ---------------------------------------------------------------------------

Exchange::Exchange(Pool& pool, ssl::context* tls_ctx, const Endpoint& ep, const Timeouts& t, const Limits& l)
    : pool_(pool), tls_ctx_(tls_ctx), ep_(ep), t_(t), l_(l) {}
Exchange::~Exchange() = default;

net::awaitable<Failure> Exchange::connect() {
  const auto t0 = Clock::now();
  auto ex = pool_.executor();
  auto c = std::make_unique<Connection>(ex, pool_.watchdog(), pool_.open_counter());
  c->key_ = ep_.key;
  boost::system::error_code cec;
  boost::system::error_code not_ip;
  const auto address = net::ip::make_address(ep_.host, not_ip);
  if (!not_ip) {
    // An IP literal needs no resolver round trip (a hand-off to the resolver thread).
    c->dl_.arm(t_.upstream_connect);
    std::tie(cec) = co_await c->tcp_.async_connect(tcp::endpoint(address, ep_.port), nothrow);
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(ep_.host, std::to_string(ep_.port), nothrow);
    if (rec) {
      error_ = "cannot resolve upstream host '" + ep_.host + "': " + rec.message();
      co_return rec == net::error::operation_aborted ? Failure::cancelled : Failure::connect;
    }
    c->dl_.arm(t_.upstream_connect);
    std::tie(cec, std::ignore) = co_await net::async_connect(c->tcp_, results, nothrow);
  }
  if (cec) {
    error_ = "cannot connect to upstream " + ep_.host + ":" + std::to_string(ep_.port) + ": " + cec.message();
    if (c->dl_.expired()) co_return Failure::timeout;
    co_return cec == net::error::operation_aborted ? Failure::cancelled : Failure::connect;
  }
  boost::system::error_code ignored;
  c->tcp_.set_option(tcp::no_delay(true), ignored);
  // Plain connections write requests straight away when the socket takes them (io::write_all).
  if (!ep_.tls) {
    c->tcp_.non_blocking(true, ignored);
    io::drain_hints(c->tcp_.native_handle());  // see Connection::begin_read()
  }
  if (ep_.tls) {
    c->tls_ = std::make_unique<ssl::stream<tcp::socket>>(std::move(c->tcp_), *tls_ctx_);
    c->dl_.set_socket(&c->tls_->next_layer());
    if (!is_ip_literal(ep_.host)) SSL_set_tlsext_host_name(c->tls_->native_handle(), ep_.host.c_str());
    if (ep_.verify) {
      c->tls_->set_verify_mode(ssl::verify_peer);
      c->tls_->set_verify_callback(ssl::host_name_verification(ep_.host));
    }
    c->dl_.arm(t_.upstream_tls_handshake);
    auto [hec] = co_await c->tls_->async_handshake(ssl::stream_base::client, nothrow);
    if (hec) {
      error_ = "TLS handshake with upstream " + ep_.host + " failed: " + hec.message();
      if (c->dl_.expired()) co_return Failure::timeout;
      co_return hec == net::error::operation_aborted ? Failure::cancelled : Failure::tls;
    }
  }
  ++pool_.counters().connects;
  timings_.connect_us = micros_since(t0);
  conn_ = std::move(c);
  co_return Failure::none;
}

void Exchange::build_head(const UpstreamRequest& req) {
  std::string& h = conn_->head_;
  h.clear();
  h1::request_line(h, req.method, req.target);
  h.append("Host: ", 6);
  h.append(ep_.host);
  if (!((ep_.tls && ep_.port == 443) || (!ep_.tls && ep_.port == 80))) {
    h.push_back(':');
    h.append(std::to_string(ep_.port));
  }
  h.append("\r\n", 2);
  // A later header of the same name replaces an earlier one (configured headers override the
  // dialect's); Host and Content-Length are zgate's own.
  const auto& hs = req.headers;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    const std::string_view name = hs[i].first;
    if (text::iequals(name, "Host") || text::iequals(name, "Content-Length") || text::iequals(name, "Transfer-Encoding")) continue;
    bool replaced = false;
    for (std::size_t j = i + 1; j < hs.size() && !replaced; ++j) replaced = text::iequals(name, hs[j].first);
    if (!replaced) h1::field(h, name, hs[i].second);
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    h1::field(h, "Content-Length", static_cast<uint64_t>(req.body.size()));
  }
  h1::end(h);
}

Failure Exchange::write_failure(const boost::system::error_code& ec) {
  error_ = "writing the request upstream failed: " + ec.message();
  if (conn_->dl_.expired()) return Failure::timeout;
  return ec == net::error::operation_aborted ? Failure::cancelled : Failure::write;
}

Failure Exchange::head_failure(const boost::system::error_code& ec) {
  if (conn_->dl_.expired()) {
    error_ = "the upstream did not answer within " + std::to_string(t_.upstream_first_byte.count()) + " ms";
    return Failure::timeout;
  }
  if (ec == net::error::operation_aborted) return Failure::cancelled;
  error_ = "reading the upstream response head failed: " + ec.message();
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
      ec == http::error::partial_message || ec == ssl::error::stream_truncated) {
    return Failure::closed;
  }
  return Failure::protocol;
}

// Sending the request and reading the response head are written out here rather than in a
// coroutine of their own: each co_await of an awaitable function allocates a frame.
net::awaitable<Failure> Exchange::start(const UpstreamRequest& req) {
  const auto t0 = Clock::now();
  conn_ = pool_.checkout(ep_);
  if (conn_) {
    timings_.reused = true;
    ++pool_.counters().reuses;
  }
  for (;;) {
    if (!conn_) {
      const Failure cf = co_await connect();
      if (cf != Failure::none) co_return cf;
    }
    Connection& c = *conn_;
    build_head(req);
    c.dl_.arm(t_.upstream_write);
    const std::array<net::const_buffer, 2> bufs{net::buffer(c.head_), net::buffer(req.body)};
    boost::system::error_code ec;
    if (c.tls_) {
      std::tie(ec, std::ignore) = co_await net::async_write(*c.tls_, bufs, nothrow);
    } else {
      io::Written w = io::try_write(c.tcp_, bufs);
      if (!w.complete) w = co_await io::write_rest(c.tcp_, bufs, w);
      ec = w.ec;
    }
    Failure f = Failure::none;
    if (ec) {
      f = write_failure(ec);
    } else {
      c.parser_.emplace(c.content_type_);
      c.parser_->header_limit(64 * 1024);
      c.parser_->body_limit(boost::none);  // bounded by read_all / the SSE event limit instead
      c.dl_.arm(t_.upstream_first_byte);
      while (!io::parse_head_buffered(*c.parser_, c.buf_, ec)) {
        auto [rec, n] = co_await c.with_stream([&](auto& s) { return s.async_read_some(c.begin_read(), nothrow); });
        c.end_read(rec, n);
        if ((ec = io::after_read(*c.parser_, c.buf_, rec, n))) break;
      }
      if (ec) f = head_failure(ec);
    }
    if (f == Failure::none) {
      c.dechunk_ = c.parser_->chunked();
      c.chunks_.reset();
      c.held_ = 0;
      make_body_room(c);
      timings_.first_byte_us = micros_since(t0);
      co_return f;
    }
    // A pooled connection the upstream closed meanwhile: nothing of the response was read, so
    // sending the request again on a fresh connection is safe (once).
    if (!timings_.reused || (f != Failure::closed && f != Failure::write)) co_return f;
    conn_.reset();
    timings_.reused = false;
    ++pool_.counters().retries;
  }
}

// Reads go into whatever room the buffer has, at least 512 bytes, and the parser empties it as
// it goes: a 300 KB answer took 587 receives. A body of known length gets room for up to 64 KiB
// of it (given back before the connection idles in the pool); a stream's events, small and
// spaced, keep the 512 bytes.
void Exchange::make_body_room(Connection& c) {
  const auto left = c.parser_->content_length_remaining();
  if (!left || *left <= c.buf_.capacity() - c.buf_.size()) return;
  c.buf_.reserve(c.buf_.size() + static_cast<std::size_t>(std::min<uint64_t>(*left, kMaxReadRoom)));
}

int Exchange::status() const { return conn_ && conn_->parser_ ? conn_->parser_->status : 0; }

int Exchange::retry_after() const { return conn_ && conn_->parser_ ? conn_->parser_->retry_after : -1; }

std::string_view Exchange::content_type() const {
  return conn_ && conn_->parser_ ? std::string_view(conn_->content_type_) : std::string_view();
}

bool Exchange::is_event_stream() const {
  const auto ct = content_type();
  return ct.size() >= 17 && text::iequals(ct.substr(0, 17), "text/event-stream");
}

bool Exchange::read_now(std::string_view& out, Failure& f) {
  out = {};
  f = Failure::none;
  if (!conn_ || !conn_->parser_) {
    f = Failure::protocol;
    return true;
  }
  Connection& c = *conn_;
  if (c.dechunk_) {
    c.drop_held();
    return c.buf_.size() > 0 ? dechunk(out, f) : c.chunks_.done();
  }
  auto& p = *c.parser_;
  c.body_.clear();
  if (c.body_.capacity() > kKeepBodyCapacity) std::string().swap(c.body_);
  p.sink = &c.body_;
  // Bytes already buffered (usually the whole body of a JSON answer, read with the head) are
  // parsed here, without a round trip through the event loop.
  if (c.buf_.size() > 0) {
    boost::system::error_code ec;
    io::parse_buffered(p, c.buf_, ec);
    if (ec) {
      error_ = "the upstream response is malformed: " + ec.message();
      f = Failure::protocol;
      return true;
    }
    if (!c.body_.empty()) {
      out = c.body_;
      return true;
    }
  }
  return p.is_done();
}

net::awaitable<std::tuple<boost::system::error_code, std::size_t>> Exchange::wait_read() {
  Connection& c = *conn_;
  c.dl_.arm(t_.upstream_stream_idle);
  return c.with_stream([&](auto& s) { return s.async_read_some(c.begin_read(), nothrow); });
}

// The chunked body's bytes in the buffer, decoded: `out` gets the data they hold (a view into
// the buffer, kept there until the next read). True when there was data, the body ended or it
// is malformed (`f`); false when the bytes held only framing and more must be read.
bool Exchange::dechunk(std::string_view& out, Failure& f) {
  Connection& c = *conn_;
  const auto bytes = c.buf_.data();
  const h1::ChunkedDecoder::Step s = c.chunks_.decode(static_cast<char*>(bytes.data()), bytes.size());
  if (!s.error.empty()) {
    error_ = "the upstream response is malformed: ";
    error_.append(s.error);
    f = Failure::protocol;
    return true;
  }
  if (s.data.empty()) {
    c.buf_.consume(s.used);
    return c.chunks_.done();
  }
  c.held_ = s.used;
  out = s.data;
  return true;
}

bool Exchange::read_done(boost::system::error_code rec, std::size_t n, std::string_view& out, Failure& f) {
  Connection& c = *conn_;
  auto& p = *c.parser_;
  out = {};
  f = Failure::none;
  c.end_read(rec, n);
  boost::system::error_code ec;
  if (!c.dechunk_) {
    ec = io::after_read(p, c.buf_, rec, n);
  } else {
    c.buf_.commit(n);
    // The connection closed before the last chunk: Beast's error for the same.
    ec = rec == net::error::eof ? boost::system::error_code(beast::http::error::partial_message) : rec;
  }
  if (ec) {
    if (c.dl_.expired()) {
      error_ = "the upstream sent nothing for " + std::to_string(t_.upstream_stream_idle.count()) + " ms";
      f = Failure::timeout;
    } else if (ec == net::error::operation_aborted) {
      f = Failure::cancelled;
    } else {
      error_ = "the upstream connection broke mid-response: " + ec.message();
      f = Failure::closed;
    }
    return true;
  }
  // Chunk framing completes reads with zero body bytes: read on until bytes or the end.
  if (c.dechunk_) return dechunk(out, f);
  io::parse_buffered(p, c.buf_, ec);
  if (ec) {
    error_ = "the upstream response is malformed: " + ec.message();
    f = Failure::protocol;
    return true;
  }
  if (!c.body_.empty()) out = c.body_;
  return !out.empty() || p.is_done();
}

net::awaitable<Failure> Exchange::read_some(std::string_view& out) {
  Failure f;
  if (read_now(out, f)) co_return f;
  for (;;) {
    auto [rec, n] = co_await wait_read();
    if (read_done(rec, n, out, f)) co_return f;
  }
}

bool Exchange::append_piece(std::string& out, std::string_view piece, Failure& f) {
  if (out.size() + piece.size() > l_.max_upstream_body) {
    error_ = "the upstream response is larger than limits.max_upstream_body";
    f = Failure::too_large;
    return false;
  }
  out.append(piece);
  return true;
}

bool Exchange::read_all_now(std::string& out, Failure& f) {
  for (;;) {
    std::string_view piece;
    if (!read_now(piece, f)) return false;
    if (f != Failure::none || piece.empty()) return true;
    if (!append_piece(out, piece, f)) return true;
  }
}

net::awaitable<Failure> Exchange::read_all(std::string& out) {
  for (;;) {
    Failure f;
    if (read_all_now(out, f)) co_return f;
    std::string_view piece;
    f = co_await read_some(piece);
    if (f != Failure::none) co_return f;
    if (piece.empty()) co_return Failure::none;
    if (!append_piece(out, piece, f)) co_return f;
  }
}

io::Warm* Exchange::warm(bool clear) {
  if (!conn_) return nullptr;
  if (clear) conn_->warm_.clear();
  return &conn_->warm_;
}

void Exchange::release() {
  if (conn_) conn_->warm_.clear();
  if (!conn_ || !conn_->parser_) return;
  auto& p = *conn_->parser_;
  conn_->drop_held();
  if (conn_->body_done() && p.keep_alive()) {
    // An idle connection keeps no large buffer (a big answer grew them).
    if (conn_->buf_.size() == 0 && conn_->buf_.capacity() > kKeepIdleCapacity) conn_->buf_ = beast::flat_buffer();
    if (conn_->body_.capacity() > kKeepIdleCapacity) std::string().swap(conn_->body_);
    pool_.checkin(std::move(conn_));
  } else {
    conn_.reset();
  }
}

}  // namespace zgate::upstream
