// The mock's I/O executor: accepts connections (plain or TLS), reads requests with Beast, asks
// the pure Engine for a Plan and plays it: head, timed steps, then the planned ending. This is
// the mock's only Boost-heavy translation unit (they are slow to compile).
#include "zgate/mock/mock_server.hpp"

#include <poll.h>
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "zgate/core/text.hpp"
#include "zgate/io/net.hpp"

namespace zgate::mock {

using namespace io::names;
using namespace std::chrono_literals;

namespace {

constexpr auto kReadTimeout = 60s;       // request body
constexpr auto kWriteTimeout = 30s;      // each write
constexpr auto kHandshakeTimeout = 10s;
constexpr auto kWatchSlice = 10ms;       // hang-up polling period while waiting
constexpr std::size_t kCoalesceLimit = 64 * 1024;

// True once the peer has closed or reset: POLLRDHUP reports the FIN even behind unread bytes
// (a pipelined request, a TLS close_notify), which a plain readability wait cannot tell apart.
bool peer_gone(int fd) {
  pollfd p{fd, static_cast<short>(POLLRDHUP), 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void append_head(std::string& out, const Plan& p, bool keep_alive, std::size_t content_length) {
  const auto status = http::int_to_status(static_cast<unsigned>(p.status));
  out += "HTTP/1.1 ";
  out += fmt::format_int(p.status).c_str();
  out += ' ';
  const auto reason = http::obsolete_reason(status);
  out.append(reason.data(), reason.size());
  out += "\r\n";
  bool has_length = false;
  for (const auto& [k, v] : p.headers) {
    if (text::iequals(k, "content-length")) {
      if (p.chunked) continue;
      has_length = true;
    }
    if (text::iequals(k, "connection")) continue;  // decided below
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (p.chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (!has_length) {
    out += "Content-Length: ";
    out += fmt::format_int(content_length).c_str();
    out += "\r\n";
  }
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
}

void append_chunk(std::string& out, std::string_view bytes) {
  if (bytes.empty()) return;  // a zero-length chunk would end the body
  fmt::format_to(std::back_inserter(out), "{:x}\r\n", bytes.size());
  out.append(bytes);
  out += "\r\n";
}

bool wants_close(const Plan& p) {
  for (const auto& [k, v] : p.headers)
    if (text::iequals(k, "connection") && text::iequals(v, "close")) return true;
  return false;
}

enum class Outcome : unsigned char { keep, close, drop };

}  // namespace

struct MockServer::Impl {
  Options opt;
  Engine engine;
  bool tls = false;
  uint16_t port = 0;

  std::atomic<uint64_t> accepted{0}, closed{0}, requests{0}, aborted{0};
  std::atomic<int64_t> last_abort_ns{0};
  // Requests being answered now, and the most seen at once (for shaping tests).
  std::atomic<int64_t> playing{0}, max_playing{0};

  mutable std::mutex rec_mutex;
  std::string rec_body, rec_target, rec_method;
  std::vector<std::pair<std::string, std::string>> rec_headers;
  std::vector<std::chrono::steady_clock::time_point> rec_times;  // when each request was read

  std::unique_ptr<ssl::context> tls_ctx;
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;

  explicit Impl(Options o)
      : opt(std::move(o)),
        engine(DialectOptions{opt.api_keys, opt.concurrency_limit, opt.fast, opt.default_chunks, opt.default_delay,
                              opt.zai_signing_secret}) {}

  void note_abort() {
    aborted.fetch_add(1, std::memory_order_relaxed);
    last_abort_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }

  net::awaitable<void> accept_loop();
  net::awaitable<void> run_connection(tcp::socket sock);
  template <class Stream>
  net::awaitable<void> serve(Stream& stream);
  template <class Stream>
  net::awaitable<Outcome> play(Stream& stream, const Plan& plan, bool keep_alive, std::string& out,
                               net::steady_timer& timer);
  template <class Stream>
  net::awaitable<bool> flush(Stream& stream, std::string& out);
  net::awaitable<bool> wait_watching(int fd, net::steady_timer& timer, std::chrono::steady_clock::duration d,
                                     bool forever);
  void record(const http::request<http::string_body>& req);
};

namespace {

struct ClosedCounter {
  std::atomic<uint64_t>& closed;
  ~ClosedCounter() { closed.fetch_add(1, std::memory_order_relaxed); }
};

void report_exception(std::exception_ptr e) {
  if (!e) return;  // (1.81's example rethrows a null pointer here: undefined behaviour)
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "zgate-mock: connection error: %s\n", ex.what());
  }
}

}  // namespace

net::awaitable<void> MockServer::Impl::accept_loop() {
  std::size_t next = 0;
  net::steady_timer backoff(acceptor->get_executor());
  for (;;) {
    net::io_context& ioc = *iocs[next++ % iocs.size()];
    auto [ec, sock] = co_await acceptor->async_accept(net::any_io_executor(ioc.get_executor()), nothrow);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) co_return;
      // EMFILE and friends: back off instead of spinning.
      backoff.expires_after(100ms);
      co_await backoff.async_wait(nothrow);
      continue;
    }
    accepted.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(ioc, run_connection(std::move(sock)), report_exception);
  }
}

net::awaitable<void> MockServer::Impl::run_connection(tcp::socket sock) {
  ClosedCounter counter{closed};
  beast::tcp_stream stream(std::move(sock));
  if (!tls_ctx) {
    co_await serve(stream);
    co_return;
  }
  ssl::stream<beast::tcp_stream> ts(std::move(stream), *tls_ctx);
  beast::get_lowest_layer(ts).expires_after(kHandshakeTimeout);
  auto [ec] = co_await ts.async_handshake(ssl::stream_base::server, nothrow);
  if (ec) co_return;
  co_await serve(ts);
}

void MockServer::Impl::record(const http::request<http::string_body>& req) {
  std::lock_guard<std::mutex> lock(rec_mutex);
  rec_body = req.body();
  rec_times.push_back(std::chrono::steady_clock::now());
  rec_target.assign(req.target());
  rec_method.assign(req.method_string());
  rec_headers.clear();
  for (const auto& f : req) rec_headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
}

template <class Stream>
net::awaitable<void> MockServer::Impl::serve(Stream& stream) {
  constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;
  beast::flat_buffer buf;
  std::string out;  // response bytes, reused across writes and requests
  net::steady_timer timer(stream.get_executor());
  Outcome outcome = Outcome::close;
  for (;;) {
    http::request_parser<http::string_body> parser;  // one per message: no state leaks
    parser.header_limit(1024 * 1024);
    parser.body_limit(256ull * 1024 * 1024);
    beast::get_lowest_layer(stream).expires_after(opt.idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buf, parser, nothrow);
    if (ec) break;  // end_of_stream, timeout, garbage: nothing to answer
    if (const auto len = parser.content_length()) {
      // Room for simdjson's padding, so the dialect can parse the body in place.
      parser.get().body().reserve(static_cast<std::size_t>(*len) + simdjson::SIMDJSON_PADDING);
    }
    if (text::iequals(parser.get()[http::field::expect], "100-continue")) {
      out.assign("HTTP/1.1 100 Continue\r\n\r\n");
      if (!co_await flush(stream, out)) break;
    }
    beast::get_lowest_layer(stream).expires_after(kReadTimeout);
    std::tie(ec, n) = co_await http::async_read(stream, buf, parser, nothrow);
    if (ec) break;
    const auto& req = parser.get();
    requests.fetch_add(1, std::memory_order_relaxed);
    if (!opt.fast) record(req);

    MockRequest mr;
    mr.method = req.method_string();
    mr.target = req.target();
    mr.headers.reserve(16);
    for (const auto& f : req) mr.headers.emplace_back(f.name_string(), f.value());
    mr.body = req.body();
    mr.body_capacity = req.body().capacity();
    PlanPtr plan = engine.handle(mr);
    if (!opt.quiet && !opt.fast)
      fmt::print(stderr, "zgate-mock: {} {} -> {} {}\n", mr.method, mr.target, plan->status, plan->label);

    const int64_t now_playing = playing.fetch_add(1, std::memory_order_relaxed) + 1;
    for (int64_t m = max_playing.load(std::memory_order_relaxed);
         now_playing > m && !max_playing.compare_exchange_weak(m, now_playing, std::memory_order_relaxed);) {
    }
    outcome = co_await play(stream, *plan, req.keep_alive(), out, timer);
    playing.fetch_sub(1, std::memory_order_relaxed);
    if (outcome != Outcome::keep) break;
  }
  auto& lowest = beast::get_lowest_layer(stream);
  if (outcome == Outcome::drop) {
    lowest.close();  // no TLS close_notify, no last chunk: an abrupt end
    co_return;
  }
  if constexpr (is_tls) {
    lowest.expires_after(2s);
    co_await stream.async_shutdown(nothrow);
  } else {
    boost::system::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
  lowest.close();
}

template <class Stream>
net::awaitable<bool> MockServer::Impl::flush(Stream& stream, std::string& out) {
  if (out.empty()) co_return true;
  beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
  auto [ec, n] = co_await net::async_write(stream, net::buffer(out), nothrow);
  out.clear();
  co_return !ec;
}

net::awaitable<bool> MockServer::Impl::wait_watching(int fd, net::steady_timer& timer,
                                                      std::chrono::steady_clock::duration d, bool forever) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  for (;;) {
    if (peer_gone(fd)) co_return false;
    std::chrono::steady_clock::duration slice = kWatchSlice;
    if (!forever) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) co_return true;
      // Fast (benchmark) mode sleeps through a pacing delay in one timer wait: polling every
      // slice would cost thousands of wake-ups per second at thousands of paced streams; a
      // client that left is then noticed at the next write instead.
      slice = opt.fast ? deadline - now : std::min(slice, deadline - now);
    }
    timer.expires_after(slice);
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec) co_return false;
  }
}

template <class Stream>
net::awaitable<Outcome> MockServer::Impl::play(Stream& stream, const Plan& p, bool keep_alive, std::string& out,
                                               net::steady_timer& timer) {
  const int fd = beast::get_lowest_layer(stream).socket().native_handle();
  if (p.close_before_headers) co_return Outcome::drop;
  if (p.hang_before_headers) {
    co_await wait_watching(fd, timer, {}, true);
    note_abort();  // only a hang-up (or shutdown) ends a hang
    co_return Outcome::drop;
  }
  if (p.delay_headers.count() > 0 && !co_await wait_watching(fd, timer, p.delay_headers, false)) {
    note_abort();
    co_return Outcome::drop;
  }

  const bool keep = keep_alive && p.end == End::complete && !wants_close(p);
  out.clear();
  append_head(out, p, keep, p.body_size());
  for (const Step& st : p.steps) {
    if (st.delay.count() > 0) {
      if (!co_await flush(stream, out) || !co_await wait_watching(fd, timer, st.delay, false)) {
        note_abort();
        co_return Outcome::drop;
      }
    }
    if (p.chunked) append_chunk(out, st.bytes);
    else out += st.bytes;
    // Fast mode coalesces steps that are due at the same moment into one write (fewer
    // syscalls for the benchmark); otherwise every step is its own write, like the upstream.
    if (!opt.fast || out.size() >= kCoalesceLimit) {
      if (!co_await flush(stream, out)) {
        note_abort();
        co_return Outcome::drop;
      }
    }
  }
  switch (p.end) {
    case End::complete:
      if (p.chunked) out += "0\r\n\r\n";
      if (!co_await flush(stream, out)) {
        note_abort();
        co_return Outcome::drop;
      }
      co_return keep ? Outcome::keep : Outcome::close;
    case End::close_abruptly:
      co_await flush(stream, out);
      co_return Outcome::drop;
    case End::hang:
      if (co_await flush(stream, out)) co_await wait_watching(fd, timer, {}, true);
      note_abort();
      co_return Outcome::drop;
  }
  co_return Outcome::drop;
}

MockServer::MockServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& s = *impl_;
  if (!s.opt.tls_cert_file.empty() && !s.opt.tls_key_file.empty()) {
    s.tls = true;
    s.tls_ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    s.tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    s.tls_ctx->use_certificate_chain_file(s.opt.tls_cert_file);
    s.tls_ctx->use_private_key_file(s.opt.tls_key_file, ssl::context::pem);
  }
  const unsigned n = std::max(1u, s.opt.threads);
  for (unsigned i = 0; i < n; ++i) {
    s.iocs.push_back(std::make_unique<net::io_context>(1));
    s.guards.push_back(net::make_work_guard(*s.iocs.back()));
  }

  boost::system::error_code ec;
  tcp::endpoint ep(net::ip::make_address(s.opt.host, ec), s.opt.port);
  if (ec) {  // a host name such as "localhost"
    tcp::resolver resolver(*s.iocs[0]);
    auto results = resolver.resolve(s.opt.host, std::to_string(s.opt.port), ec);
    if (ec || results.empty()) throw std::runtime_error("zgate-mock: cannot resolve " + s.opt.host);
    ep = results.begin()->endpoint();
  }
  s.acceptor = std::make_unique<tcp::acceptor>(*s.iocs[0]);
  s.acceptor->open(ep.protocol());
  s.acceptor->set_option(net::socket_base::reuse_address(true));
  s.acceptor->bind(ep, ec);
  if (ec) throw std::runtime_error("zgate-mock: cannot listen on " + s.opt.host + ":" + std::to_string(s.opt.port) +
                                   ": " + ec.message());
  s.acceptor->listen(net::socket_base::max_listen_connections);
  s.port = s.acceptor->local_endpoint().port();

  net::co_spawn(*s.iocs[0], s.accept_loop(), report_exception);
  for (auto& ioc : s.iocs) {
    s.threads.emplace_back([&ioc] { ioc->run(); });
    pthread_setname_np(s.threads.back().native_handle(), "zgate-mock");
  }
}

MockServer::~MockServer() {
  Impl& s = *impl_;
  for (auto& ioc : s.iocs) ioc->stop();
  for (auto& t : s.threads) t.join();
  s.guards.clear();
  s.acceptor.reset();
  // Destroying the contexts destroys the suspended connection coroutines (closing their
  // sockets) while the engine, the stats and the TLS context they refer to are still alive.
  for (auto& ioc : s.iocs) ioc.reset();
}

uint16_t MockServer::port() const { return impl_->port; }
bool MockServer::tls() const { return impl_->tls; }

std::string MockServer::base_url() const {
  return fmt::format("{}://{}:{}", impl_->tls ? "https" : "http", impl_->opt.host, impl_->port);
}

Stats MockServer::stats() const {
  const Impl& s = *impl_;
  Stats st;
  st.connections_accepted = s.accepted.load(std::memory_order_relaxed);
  st.connections_closed = s.closed.load(std::memory_order_relaxed);
  st.requests = s.requests.load(std::memory_order_relaxed);
  st.aborted_responses = s.aborted.load(std::memory_order_relaxed);
  st.max_in_flight = s.max_playing.load(std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(s.rec_mutex);
    st.request_times = s.rec_times;
  }
  st.last_abort_at = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(s.last_abort_ns.load(std::memory_order_relaxed)));
  return st;
}

void MockServer::reset_stats() {
  Impl& s = *impl_;
  s.accepted = 0;
  s.closed = 0;
  s.requests = 0;
  s.aborted = 0;
  s.last_abort_ns = 0;
  s.max_playing = s.playing.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(s.rec_mutex);
  s.rec_times.clear();
}

std::string MockServer::last_request_body() const {
  std::lock_guard<std::mutex> lock(impl_->rec_mutex);
  return impl_->rec_body;
}

std::string MockServer::last_request_header(std::string_view name) const {
  std::lock_guard<std::mutex> lock(impl_->rec_mutex);
  for (const auto& [k, v] : impl_->rec_headers)
    if (text::iequals(k, name)) return v;
  return {};
}

std::string MockServer::last_request_target() const {
  std::lock_guard<std::mutex> lock(impl_->rec_mutex);
  return impl_->rec_target;
}

std::string MockServer::last_request_method() const {
  std::lock_guard<std::mutex> lock(impl_->rec_mutex);
  return impl_->rec_method;
}

}  // namespace zgate::mock
