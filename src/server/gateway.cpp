// The I/O shell: workers, the acceptor, one coroutine per downstream connection, and the
// proxy phases of a chat request (authenticate -> read body -> translate -> upstream exchange
// raced against client hang-up -> stream or aggregate -> access log). Everything that is not
// I/O lives in the pure core; this file only wires it together.
#include "zgate/server/gateway.hpp"

#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "zgate/auth/auth.hpp"
#include "zgate/auth/jwt.hpp"
#include "zgate/core/error.hpp"
#include "zgate/h1/head.hpp"
#include "zgate/io/eager.hpp"
#include "zgate/io/watchdog.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/obs/log.hpp"
#include "zgate/obs/recorder.hpp"
#include "zgate/obs/usage_store.hpp"
#include "zgate/route/router.hpp"
#include "zgate/server/providers.hpp"
#include "zgate/sse/parser.hpp"
#include "zgate/model/request.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/front/openai/request.hpp"
#include "zgate/upstream/client.hpp"

// GCC 12 false positive: Asio allocates coroutine frames through its per-thread recycler
// (aligned_alloc underneath) and frees them through the same recycler; once a coroutine's ramp is
// inlined into its caller, GCC pairs the aligned_alloc with the frame's operator delete and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace zgate {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using upstream::Failure;

namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

int64_t micros_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

std::string random_hex(std::size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(n, '0');
  uint64_t bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) bits = rng();
    s[i] = hex[bits & 0xF];
    bits >>= 4;
  }
  return s;
}

// A client-supplied X-Request-Id is echoed only if it is short and plain (it ends up in logs).
std::string request_id_from(std::string_view given) {
  if (!given.empty() && given.size() <= 128) {
    bool ok = true;
    for (char ch : given) {
      const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '-' || ch == '_' || ch == '.' || ch == ':';
      if (!plain) { ok = false; break; }
    }
    if (ok) return std::string(given);
  }
  return "req_" + random_hex(24);
}

// What a request still running when the shutdown grace has passed is answered with (an
// in-band error event when its stream has begun).
ApiError shutdown_error() {
  return ApiError{503, "server_error", "server_shutting_down",
                  "zgate is shutting down and could not finish this answer in time; retry the request.", {}, 1,
                  ErrorSource::internal};
}

// Admission control's answer: the limit that was reached and when to come back.
ApiError overloaded(std::string_view what, std::size_t limit, std::string_view setting) {
  return ApiError{503, "server_error", "server_overloaded",
                  "zgate is at its limit of " + std::to_string(limit) + " " + std::string(what) + " (" +
                      std::string(setting) + "); retry shortly.",
                  {}, 1, ErrorSource::internal};
}

// Counts one unit in a shared counter for its lifetime; `value` is the count with it included.
struct Counted {
  explicit Counted(std::atomic<int64_t>& c) : n(c), value(c.fetch_add(1, std::memory_order_relaxed) + 1) {}
  ~Counted() { n.fetch_sub(1, std::memory_order_relaxed); }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  std::atomic<int64_t>& n;
  int64_t value;
};

ApiError failure_error(Failure f, const std::string& msg) {
  switch (f) {
    case Failure::timeout: return gateway_timeout(msg);
    case Failure::connect: return bad_gateway(msg, "upstream_connect_failed");
    case Failure::tls: return bad_gateway(msg, "upstream_tls_failed");
    case Failure::closed: return bad_gateway(msg, "upstream_closed");
    case Failure::too_large: return bad_gateway(msg, "upstream_response_too_large");
    default: return bad_gateway(msg.empty() ? std::string("upstream protocol error") : msg, "upstream_protocol_error");
  }
}

// A parser error that means the client sent something that is not acceptable HTTP (as opposed
// to the end of the stream, a size limit, or an I/O error).
bool is_malformed(const boost::system::error_code& ec) {
  static const auto& http_category = make_error_code(http::error::bad_target).category();
  return ec.category() == http_category && ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::body_limit && ec != http::error::header_limit;
}

}  // namespace

// ---- request head ---------------------------------------------------------------------------

// What zgate needs of a downstream request, kept per connection so that its strings keep their
// capacity from one request to the next: parsing a request allocates nothing in steady state.
// (Beast's request_parser<string_body> allocates a node per header field.)
struct RequestHead {
  http::verb method = http::verb::unknown;
  int version = 11;  // 10 or 11
  std::string method_string, target, authorization, api_key, request_id, expect, cors_request_headers;
  std::string transfer_encoding;  // every Transfer-Encoding field line, joined by ", "
  int hosts = 0;                  // Host field lines seen
  std::string body;
  // Set when the head is well-formed HTTP but must be refused (RFC 9112 MUSTs Beast does not
  // enforce): the status (400 or 501) and what is wrong. The connection closes after the answer.
  int reject_status = 0;
  std::string reject_reason;
  void reset() {
    method = http::verb::unknown;
    version = 11;
    hosts = 0;
    reject_status = 0;
    for (std::string* s : {&method_string, &target, &authorization, &api_key, &request_id, &expect,
                           &cors_request_headers, &transfer_encoding, &body, &reject_reason}) {
      s->clear();
    }
    // A large request body does not pin its buffer for the life of a keep-alive connection.
    if (body.capacity() > kKeepBodyCapacity) std::string().swap(body);
  }
  static constexpr std::size_t kKeepBodyCapacity = 256 * 1024;
};

namespace {

// A Beast parser that keeps only the fields zgate reads (the first of each) and the body.
class RequestParser final : public http::basic_parser<true> {
 public:
  explicit RequestParser(RequestHead& h) : h_(h) { h_.reset(); }

 private:
  using ec_t = boost::system::error_code;
  static void keep_first(std::string& slot, std::string_view v, bool& seen) {
    if (!seen) slot.assign(v);
    seen = true;
  }
  void on_request_impl(http::verb m, beast::string_view ms, beast::string_view target, int version,
                       ec_t&) override {
    h_.method = m;
    h_.version = version;
    h_.method_string.assign(ms);
    h_.target.assign(target);
    h1::to_origin_form(h_.target);
  }
  void on_response_impl(int, beast::string_view, int, ec_t&) override {}
  void on_field_impl(http::field f, beast::string_view name, beast::string_view value, ec_t&) override {
    switch (f) {
      case http::field::authorization: keep_first(h_.authorization, value, seen_auth_); return;
      case http::field::expect: keep_first(h_.expect, value, seen_expect_); return;
      case http::field::access_control_request_headers: keep_first(h_.cors_request_headers, value, seen_cors_); return;
      case http::field::host: ++h_.hosts; return;
      case http::field::transfer_encoding:
        seen_te_ = true;
        if (!h_.transfer_encoding.empty()) h_.transfer_encoding.append(", ");
        h_.transfer_encoding.append(value);
        return;
      case http::field::unknown:
        if (h1::iequals(name, "x-api-key")) keep_first(h_.api_key, value, seen_key_);
        else if (h1::iequals(name, "x-request-id")) keep_first(h_.request_id, value, seen_id_);
        return;
      default: return;
    }
  }
  // The RFC 9112 rules Beast leaves to the server. Beast frames a request whose final transfer
  // coding is not chunked as having no body, so its bytes would be read as the next request:
  // such a request is refused and the connection closed.
  void on_header_impl(ec_t& ec) override {
    auto reject = [&](int status, std::string reason) {
      h_.reject_status = status;
      h_.reject_reason = std::move(reason);
      ec = http::error::bad_field;  // stops the parser; the session answers from reject_*
    };
    if (h_.hosts > 1) return reject(400, "The request has more than one Host header field.");
    if (h_.hosts == 0 && h_.version >= 11) return reject(400, "An HTTP/1.1 request must have a Host header field.");
    if (!h_.transfer_encoding.empty() || seen_te_) {
      if (h_.version < 11) return reject(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request.");
      switch (h1::classify_transfer_encoding(h_.transfer_encoding)) {
        case h1::TransferCoding::chunked: break;
        case h1::TransferCoding::final_not_chunked:
          return reject(400, "The request's final transfer coding is not 'chunked', so its length cannot be "
                             "determined (Transfer-Encoding: " + h_.transfer_encoding.substr(0, 64) + ").");
        case h1::TransferCoding::unsupported:
          return reject(501, "Only the 'chunked' transfer coding is supported (Transfer-Encoding: " +
                                 h_.transfer_encoding.substr(0, 64) + ").");
      }
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& len, ec_t&) override {
    // simdjson reads SIMDJSON_PADDING bytes past the end: reserve them up front so the body is
    // parsed where it lands, without a copy. (The body limit is checked before this.)
    if (len) h_.body.reserve(static_cast<std::size_t>(*len) + simdjson::SIMDJSON_PADDING);
  }
  std::size_t on_body_impl(beast::string_view b, ec_t&) override {
    h_.body.append(b.data(), b.size());
    return b.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, ec_t&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view b, ec_t&) override {
    h_.body.append(b.data(), b.size());
    return b.size();
  }
  void on_finish_impl(ec_t&) override {}

  RequestHead& h_;
  bool seen_auth_ = false, seen_expect_ = false, seen_cors_ = false, seen_key_ = false, seen_id_ = false;
  bool seen_te_ = false;
};

}  // namespace

// ---- runtime state ------------------------------------------------------------------------

namespace {
Clock::duration shortest_timeout(const Timeouts& t) {
  return std::min({t.client_header_read, t.client_body_read, t.client_write, t.client_keepalive_idle,
                   t.upstream_connect, t.upstream_tls_handshake, t.upstream_write, t.upstream_first_byte,
                   t.upstream_stream_idle, t.lingering_timeout});
}
}  // namespace

// Everything derived from one configuration: routes, client keys, providers. A reload builds a
// new generation and hands it to every worker; a request keeps the generation it started with
// until it ends, so a reload never changes a request midway.
struct Generation {
  Generation(std::shared_ptr<const Config> c, uint64_t n)
      : cfg(std::move(c)), router(*cfg), auth(cfg->api_keys, cfg->allow_no_auth), id(n) {
    providers.init(*cfg);
  }
  std::shared_ptr<const Config> cfg;
  Router router;
  Authenticator auth;
  Providers providers;
  uint64_t id;
};

// A worker's share of a generation: the generation and the worker's own provider state for it
// (JWT caches). Only its worker touches it, so taking a reference per request costs no
// contended atomic.
struct WorkerGeneration {
  explicit WorkerGeneration(std::shared_ptr<Generation> g) : gen(std::move(g)) { providers.init(gen->providers); }
  std::shared_ptr<Generation> gen;
  ProviderWorkerState providers;
};

struct Worker {
  explicit Worker(const Config& c)
      : ioc(1),
        guard(net::make_work_guard(ioc)),
        watchdog(ioc, io::Watchdog::tick_for(shortest_timeout(c.timeouts))),
        pool(ioc.get_executor(), c.limits, watchdog) {}
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> guard;
  io::Watchdog watchdog;  // I/O deadlines and hang-up checks of this worker's sockets
  upstream::Pool pool;
  // The configuration generation new requests on this worker use (replaced by a reload, on this
  // worker's thread; a request holds the one it started with).
  std::shared_ptr<WorkerGeneration> current;
  std::thread thread;
};

struct Gateway::Impl {
  explicit Impl(std::shared_ptr<const Config> c) : cfg(std::move(c)), acceptor(accept_ioc) {}

  // The configuration zgate started with: what only a restart changes (listen address, workers,
  // logging, the usage store, pool sizes) is read from here; everything else from the
  // generation a request runs in.
  std::shared_ptr<const Config> cfg;
  // The access-log writer and the usage store; null when both are off.
  std::unique_ptr<obs::Recorder> recorder;
  std::mutex reload_mu;                 // reloads one at a time
  std::shared_ptr<Generation> gen;      // the newest generation (under reload_mu)
  std::vector<std::unique_ptr<Worker>> workers;
  net::io_context accept_ioc{1};
  tcp::acceptor acceptor;
  std::thread accept_thread;
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> chats{0};    // chat requests in flight (admission control)
  std::atomic<int64_t> streams{0};  // open streams (admission control)
  std::atomic<uint64_t> requests{0};
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};
  std::function<void()> housekeeping;  // on each worker's thread after its pool sweep
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;
};

// ---- one request ----------------------------------------------------------------------------

// Per-connection cancellation: the session coroutine is spawned bound to `signal`, so a
// terminal emit cancels whatever operation it is awaiting (an upstream read, a write, ...).
// The worker's watchdog emits it when the client hangs up during an exchange (handle_chat()).
struct ConnCancel {
  net::cancellation_signal signal;
};

struct Ctx {
  Ctx(Gateway::Impl& g_, Worker& w_, WorkerGeneration& wg, tcp::socket& d, io::Deadline& dl_, beast::flat_buffer& b,
      RequestParser& p, RequestHead& r, std::string& h, AuthMemo& am, std::string_view ip,
      const std::shared_ptr<ConnCancel>& cc)
      : g(g_), w(w_), gen(*wg.gen), cfg(*wg.gen->cfg), wps(wg.providers), down(d), dl(dl_), buf(b), parser(p), req(r),
        head(h), auth_memo(am), client_ip(ip), cancel(cc) {}
  Gateway::Impl& g;
  Worker& w;
  Generation& gen;            // the configuration generation this request runs in
  const Config& cfg;          // *gen.cfg
  ProviderWorkerState& wps;   // this worker's provider state for `gen`
  tcp::socket& down;
  io::Deadline& dl;  // of the pending downstream read or write
  beast::flat_buffer& buf;
  RequestParser& parser;
  RequestHead& req;
  std::string& head;  // response head being written (per connection, reused)
  AuthMemo& auth_memo;  // the connection's last credential
  std::string_view client_ip;
  const std::shared_ptr<ConnCancel>& cancel;
  Clock::time_point t0 = Clock::now();
  std::string request_id;
  bool keep_alive = true;  // what the next response announces

  // access log
  bool log = false;
  std::string_view key_label;
  std::string model, upstream_model;
  std::string_view provider;
  const ModelRoute* route = nullptr;
  bool stream = false;
  int status = 0;
  upstream::Timings timings;
  int64_t first_token_us = -1;
  uint64_t bytes_in = 0, bytes_out = 0;
  std::string error_type;
  openai::Outcome outcome;
  int attempts = 0;      // upstream attempts made
  std::string retries;   // why the earlier ones failed
};

namespace {

// Starts a response head in c.head with the fields every response carries.
void begin_head(Ctx& c, int status) {
  std::string& h = c.head;
  h.clear();
  h1::status_line(h, status);
  h1::field(h, "X-Request-Id", c.request_id);
  if (!c.cfg.cors_origin.empty()) {
    h1::field(h, "Access-Control-Allow-Origin", c.cfg.cors_origin);
    h1::field(h, "Access-Control-Expose-Headers", "X-Request-Id");
  }
  if (!c.keep_alive) h1::field(h, "Connection", "close");
}

// Writing c.head and `body` in one gather write. write_head() is the whole step; on the hot
// paths it is spelled out as head_now() + (only if needed) io::write_rest() + wrote(), so that
// a response the socket takes at once costs no coroutine frame.
std::array<net::const_buffer, 2> head_buffers(Ctx& c, std::string_view body) {
  return {net::buffer(c.head), net::buffer(body.data(), body.size())};
}

io::Written head_now(Ctx& c, std::string_view body) {
  c.dl.arm(c.cfg.timeouts.client_write);
  return io::try_write(c.down, head_buffers(c, body));
}

// Every write to the client ends here: a failed one is recorded as what it was.
bool wrote(Ctx& c, const io::Written& w) {
  c.bytes_out += w.n;
  if (w.ec) {
    if (c.dl.expired()) {
      c.error_type = "client_write_timeout";
    } else {
      if (c.status == 0 || c.status == 200) c.status = 499;  // nginx's "client closed request"
      c.error_type = "client_closed_request";
    }
  }
  return !w.ec;
}

net::awaitable<bool> write_head(Ctx& c, std::string_view body = {}) {
  io::Written w = head_now(c, body);
  if (!w.complete) w = co_await io::write_rest(c.down, head_buffers(c, body), w);
  co_return wrote(c, w);
}

net::awaitable<bool> send(Ctx& c, int status, std::string body, std::string_view content_type, int retry_after = 0) {
  begin_head(c, status);
  h1::field(c.head, "Content-Type", content_type);
  if (retry_after > 0) h1::field(c.head, "Retry-After", static_cast<uint64_t>(retry_after));
  h1::field(c.head, "Content-Length", static_cast<uint64_t>(body.size()));
  h1::end(c.head);
  c.status = status;
  io::Written w = head_now(c, body);
  if (!w.complete) w = co_await io::write_rest(c.down, head_buffers(c, body), w);
  co_return wrote(c, w);
}

net::awaitable<bool> send_error(Ctx& c, const ApiError& e) {
  c.error_type = e.code.empty() ? e.type : e.code;
  co_return co_await send(c, e.status, error_body(e), "application/json", e.retry_after);
}

// One chunk of the chunked body: size line, data and CRLF in one gather write; `last` also ends
// the body in the same write (with no data, only the last chunk is sent). Used as
//   io::Written w = chunk_now(c, out, last, frame);
//   if (!w.complete) w = co_await chunk_rest(c, frame, w);
//   if (!chunk_done(c, out, w)) ...
// so that a chunk the socket takes at once (nearly all of them) costs no coroutine frame.
struct ChunkFrame {
  h1::ChunkSize size;
  std::array<net::const_buffer, 3> bufs;
};

io::Written chunk_now(Ctx& c, const std::string& out, bool last, ChunkFrame& f) {
  if (out.empty() && !last) return io::Written{{}, 0, true};  // an empty chunk would end the body
  c.dl.arm(c.cfg.timeouts.client_write);
  if (last) c.dl.heartbeat({});  // nothing may follow the last chunk
  if (out.empty()) {
    f.bufs = {net::buffer(h1::kLastChunk.data(), h1::kLastChunk.size()), net::const_buffer(), net::const_buffer()};
  } else {
    f.size = h1::chunk_size(out.size());
    const std::string_view tail = last ? h1::kChunkEndAndLast : h1::kChunkEnd;
    f.bufs = {net::buffer(f.size.bytes, f.size.size), net::buffer(out), net::buffer(tail.data(), tail.size())};
  }
  return io::try_write(c.down, f.bufs);
}

// The rest of a chunk the socket did not take at once; the watchdog's heartbeats hold off
// meanwhile.
net::awaitable<io::Written> chunk_rest(Ctx& c, const ChunkFrame& f, io::Written w) {
  c.dl.writing(true);
  w = co_await io::write_rest(c.down, f.bufs, w);
  c.dl.writing(false);
  co_return w;
}

// A stream's heartbeat: one chunk holding the SSE comment line ": keep-alive" (clients skip
// comment lines).
constexpr std::string_view kHeartbeatChunk = "e\r\n: keep-alive\n\n\r\n";

// True when the request's pending operation was cancelled because the shutdown grace passed (not
// because the client left): it is then answered with shutdown_error(), and nothing cancels that
// answer; the connection closes after it.
bool cut_by_shutdown(Ctx& c) {
  if (!c.dl.aborted() || c.dl.hung_up()) return false;
  c.dl.unwatch();
  c.keep_alive = false;
  return true;
}

bool chunk_done(Ctx& c, std::string& out, const io::Written& w) {
  out.clear();
  return wrote(c, w);
}

// Reads the upstream body and feeds it through the dialect into `sink`. Streaming (enc/out
// set): after each upstream read, whatever the encoder produced goes out as one chunk, so
// nothing that could stream is held. Returns false when the downstream write failed or the
// exchange was cancelled.
net::awaitable<bool> pump(Ctx& c, upstream::Exchange& ex, DialectOps& ops, EventSink& sink,
                          openai::StreamEncoder* enc, std::string* out) {
  const Config& cfg = c.cfg;
  auto fail = [&](const ApiError& e) {
    c.error_type = e.code.empty() ? e.type : e.code;
    if (enc) {
      enc->fail(e);
    } else {
      sink.on_event(Event::failed(e));
    }
  };
  auto note_first_token = [&] {
    if (c.first_token_us < 0 && (enc ? enc->outcome().saw_first_token : false)) c.first_token_us = micros_since(c.t0);
  };
  ChunkFrame frame;

  if (!ex.is_event_stream()) {
    // A JSON answer (non-stream request, or an upstream that ignored `stream`).
    std::string body;
    Failure f;
    if (!ex.read_all_now(body, f)) f = co_await ex.read_all(body);
    if (f == Failure::cancelled && (!c.dl.aborted() || c.dl.hung_up())) co_return false;
    if (f == Failure::cancelled) {
      c.dl.unwatch();  // no further cancellation: the error goes out
      fail(shutdown_error());
    } else if (f != Failure::none) {
      fail(failure_error(f, ex.error_message()));
    } else {
      ApiError err;
      if (!ops.decode_json || !ops.decode_json(body, sink, err)) fail(err.message.empty() ? bad_gateway("the upstream sent an unexpected response body") : err);
      ex.release();
    }
    if (enc) {
      enc->finish();
      note_first_token();
      io::Written w = chunk_now(c, *out, true, frame);
      if (!w.complete) w = co_await chunk_rest(c, frame, w);
      if (!chunk_done(c, *out, w)) co_return false;
    }
    co_return true;
  }

  sse::Parser parser(cfg.limits.max_sse_event);
  StreamDecoder& dec = *ops.decoder;
  auto on_event = [&](const sse::Event& e) {
    if (!dec.done()) dec.on_data(e.data, e.event, sink);
  };
  bool finished = false;  // the answer is complete downstream-wise
  for (;;) {
    std::string_view piece;
    Failure f;
    if (!ex.read_now(piece, f)) f = co_await ex.read_some(piece);
    if (f == Failure::cancelled && (!c.dl.aborted() || c.dl.hung_up())) co_return false;
    if (f == Failure::cancelled) {
      // The shutdown grace has passed: the client gets an in-band error and [DONE].
      c.dl.unwatch();
      if (!finished) fail(shutdown_error());
      break;
    }
    if (f != Failure::none) {
      if (!finished) fail(failure_error(f, ex.error_message()));
      break;
    }
    if (piece.empty()) {  // upstream body complete
      if (!finished) {
        parser.finish(on_event);
        dec.on_end(sink);
      }
      ex.release();
      break;
    }
    if (finished) continue;  // draining after the end of the answer, so the connection can be reused
    if (parser.feed(piece, on_event) == sse::Parser::Status::too_large) {
      fail(bad_gateway("the upstream sent an SSE event larger than limits.max_sse_event"));
      break;
    }
    if (dec.done()) {
      dec.on_end(sink);
      finished = true;
    }
    if (enc) {
      if (finished || enc->finished()) {
        enc->finish();
        finished = true;
      }
      note_first_token();
      // Once the client has its whole answer the same write ends the chunked body; the
      // upstream is drained afterwards.
      io::Written w = chunk_now(c, *out, finished, frame);
      if (!w.complete) w = co_await chunk_rest(c, frame, w);
      if (!chunk_done(c, *out, w)) co_return false;
    }
  }
  if (enc && !finished) {
    enc->finish();
    note_first_token();
    io::Written w = chunk_now(c, *out, true, frame);
    if (!w.complete) w = co_await chunk_rest(c, frame, w);
    if (!chunk_done(c, *out, w)) co_return false;
  }
  co_return true;
}

// What follows a proxied request: keep the downstream connection, close it, or prepare the
// request again and retry once (the dialect said a fresh identity may fix the failure).
enum class Next : unsigned char { keep, close, retry, backoff };

// An upstream failure that may pass, held back from the client while another attempt is possible
// (the caller waits and tries again, or sends `error` when it will not).
struct Backoff {
  ApiError error;
  std::string reason;    // for the record: "upstream_connect_failed", "http_429", ...
  int retry_after = -1;  // the upstream's Retry-After in seconds; -1 = none
  bool now = false;      // the failure was the key's and another key is usable: no wait
};

// The upstream key a request attempt uses, handed back to the provider's pool with what the
// upstream said of it when the attempt ends (whatever ends it).
struct KeyLease {
  CredentialPool* pool = nullptr;
  int index = -1;
  const ProviderConfig* provider = nullptr;
  CredentialPool::Result result = CredentialPool::Result::ok;
  std::chrono::milliseconds cooldown{0};
  KeyLease() = default;
  KeyLease(const KeyLease&) = delete;
  KeyLease& operator=(const KeyLease&) = delete;
  ~KeyLease() { end(); }
  void end() {
    if (!pool || index < 0) return;
    if (pool->release(index, result, cooldown, CredentialPool::Clock::now())) {
      spdlog::error("upstream {} rejected its API key #{} ({}): it leaves the rotation until zgate is reloaded",
                    provider->name, index + 1, mask_secret(provider->api_keys[static_cast<std::size_t>(index)]));
    }
    pool = nullptr;
  }
};

// What an upstream error says about the key that got it.
void judge_key(KeyLease& lease, const ApiError& e, int retry_after_s) {
  if (!lease.pool) return;
  using R = CredentialPool::Result;
  if (e.status == 401 && e.source == ErrorSource::upstream) {
    lease.result = R::rejected;
  } else if (e.status == 429 && e.retryable) {
    lease.result = R::rate_limited;
    lease.cooldown = retry_after_s >= 0 ? std::chrono::milliseconds(retry_after_s * 1000LL) : lease.provider->key_cooldown;
  } else if (e.status == 429) {
    lease.result = R::quota_exhausted;
    lease.cooldown = lease.provider->key_quota_cooldown;
  }
}
Next next_of(bool keep) { return keep ? Next::keep : Next::close; }

// The upstream half of a chat request.
// How long to wait before attempt `attempt + 1`: the upstream's Retry-After when it gave one,
// else exponential backoff with full jitter (uniform in [0, min(max_delay, base * 2^attempt)]),
// which spreads the retries of many clients hit by the same overload.
Clock::duration backoff_delay(const RetryPolicy& p, int attempt, int retry_after_s) {
  if (retry_after_s >= 0) return std::chrono::seconds(retry_after_s);
  const int64_t base = p.base_delay.count();
  const int64_t cap = std::min<int64_t>(p.max_delay.count(), base << std::min(attempt, 20));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t ms = cap > 0 ? std::uniform_int_distribution<int64_t>(0, cap)(rng) : 0;
  return std::chrono::milliseconds(ms);
}

// `backoff` (null when no further attempt is possible): where a retryable failure before anything
// was sent to the client is held, returning Next::backoff instead of answering.
net::awaitable<Next> exchange(Ctx& c, const ChatRequest& creq, ProviderRuntime& prt, const UpstreamRequest& up,
                              DialectOps& ops, bool may_retry, Backoff* backoff, KeyLease& lease) {
  const Config& cfg = c.cfg;
  upstream::Exchange ex(c.w.pool, prt.tls.get(), prt.endpoint, cfg.timeouts, cfg.limits);
  const Failure f = co_await ex.start(up);
  c.timings = ex.timings();
  if (f == Failure::cancelled && cut_by_shutdown(c)) {
    co_await send_error(c, shutdown_error());
    co_return Next::close;
  }
  if (f == Failure::cancelled) co_return Next::close;
  if (f != Failure::none) {
    spdlog::warn("[{}] upstream {} failed: {}", c.request_id, prt.cfg->name, ex.error_message());
    ApiError e = failure_error(f, ex.error_message());
    // Nothing reached the upstream's model (or it never answered a byte): worth another try.
    const bool transient = f == Failure::connect || f == Failure::tls || f == Failure::closed || f == Failure::write;
    if (transient && backoff) {
      backoff->reason = e.code;
      backoff->error = std::move(e);
      backoff->retry_after = -1;
      co_return Next::backoff;
    }
    co_return next_of(co_await send_error(c, e) && c.keep_alive);
  }

  const int status = ex.status();
  if (status != 200) {
    std::string body;
    const Failure bf = co_await ex.read_all(body);
    if (bf == Failure::cancelled && cut_by_shutdown(c)) {
      co_await send_error(c, shutdown_error());
      co_return Next::close;
    }
    if (bf == Failure::cancelled) co_return Next::close;
    if (bf == Failure::none) ex.release();
    spdlog::debug("[{}] upstream {} answered HTTP {}: {}", c.request_id, prt.cfg->name, status,
                 std::string_view(body).substr(0, 512));
    const bool retry = ops.on_upstream_error && ops.on_upstream_error(status, body);
    if (retry && may_retry) co_return Next::retry;
    ApiError e = ops.map_error(status, ex.content_type(), body);
    judge_key(lease, e, ex.retry_after());
    // A failure of this key, with another key usable: try that one at once.
    const bool other_key = lease.result != CredentialPool::Result::ok &&
                           lease.pool->other_usable(lease.index, CredentialPool::Clock::now());
    if ((e.retryable || other_key) && backoff) {
      backoff->reason = "http_" + std::to_string(status);
      if (lease.pool && lease.pool->size() > 1) backoff->reason += "@key" + std::to_string(lease.index + 1);
      backoff->retry_after = ex.retry_after();
      backoff->now = other_key;
      backoff->error = std::move(e);
      co_return Next::backoff;
    }
    co_return next_of(co_await send_error(c, e) && c.keep_alive);
  }

  openai::StreamOptions so;
  so.model = creq.model;
  so.include_usage = creq.include_usage;
  if (creq.stream) {
    begin_head(c, 200);
    h1::field(c.head, "Content-Type", "text/event-stream");
    h1::field(c.head, "Cache-Control", "no-cache");
    h1::field(c.head, "X-Accel-Buffering", "no");
    h1::field(c.head, "Transfer-Encoding", "chunked");
    h1::end(c.head);
    c.status = 200;
    if (!co_await write_head(c)) co_return Next::close;
    std::string out;
    out.reserve(4096);
    openai::StreamEncoder enc(out, so);
    if (cfg.timeouts.stream_heartbeat.count() > 0) c.dl.heartbeat(cfg.timeouts.stream_heartbeat, kHeartbeatChunk);
    const bool ok = co_await pump(c, ex, ops, enc, &enc, &out);
    c.dl.heartbeat({});
    c.outcome = enc.outcome();
    // An error the upstream sent in-band reached the client as an error event: say so.
    if (c.error_type.empty() && c.outcome.error) c.error_type = c.outcome.error_type;
    co_return next_of(ok && c.keep_alive);
  }

  openai::ResponseAggregator agg(so);
  if (!co_await pump(c, ex, ops, agg, nullptr, nullptr)) co_return Next::close;
  c.outcome = agg.outcome();
  if (agg.failed()) co_return next_of(co_await send_error(c, agg.error()) && c.keep_alive);
  std::string json;
  json.reserve(1024);
  agg.write(json);
  if (c.first_token_us < 0 && c.outcome.saw_first_token) c.first_token_us = micros_since(c.t0);
  co_return next_of(co_await send(c, 200, std::move(json), "application/json") && c.keep_alive);
}

net::awaitable<bool> handle_chat(Ctx& c) {
  const Config& cfg = c.cfg;
  const RequestHead& req = c.req;
  c.log = true;

  // Authenticate on the headers alone, before reading a possibly large body.
  const auto who = c.gen.auth.check(req.authorization, req.api_key, c.auth_memo);
  if (!who.ok) {
    c.keep_alive = false;  // the body stays unread
    co_await send_error(c, unauthorized(req.authorization.empty() && req.api_key.empty()
                                            ? "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
                                            : "Incorrect API key provided."));
    co_return false;
  }
  c.key_label = who.label;

  // Admission control: the in-flight limit before the body is read, the stream limit once the
  // body says the request streams.
  // Counted only while a limit is set: the shared counters cost the request path nothing otherwise.
  std::optional<Counted> chat_slot;
  if (cfg.limits.max_in_flight) chat_slot.emplace(c.g.chats);
  if (chat_slot && static_cast<std::size_t>(chat_slot->value) > cfg.limits.max_in_flight) {
    c.keep_alive = false;
    co_await send_error(c, overloaded("requests in flight", cfg.limits.max_in_flight, "limits.max_in_flight"));
    co_return false;
  }

  if (auto len = c.parser.content_length(); len && *len > cfg.limits.body_limit) {
    c.keep_alive = false;
    co_await send_error(c, payload_too_large("The request body is " + std::to_string(*len) +
                                             " bytes; the limit is " + std::to_string(cfg.limits.body_limit) + " bytes."));
    co_return false;
  }
  c.parser.body_limit(cfg.limits.body_limit);  // chunked bodies are checked as they arrive
  // An HTTP/1.0 client cannot know 100 Continue: its expectation is ignored (RFC 9110 10.1.1).
  if (req.version >= 11 && h1::iequals(req.expect, "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    c.dl.arm(cfg.timeouts.client_write);
    auto [ec, n] = co_await net::async_write(c.down, net::buffer(kContinue.data(), kContinue.size()), nothrow);
    if (ec) co_return false;
  }
  c.dl.arm(cfg.timeouts.client_body_read);
  // The body usually arrived with the head: parse it from the buffer without a round trip
  // through the event loop, and read only when it did not.
  boost::system::error_code rec;
  if (!io::parse_buffered(c.parser, c.buf, rec)) {
    std::tie(rec, std::ignore) = co_await http::async_read(c.down, c.buf, c.parser, nothrow);
  }
  if (rec) {
    c.keep_alive = false;
    if (rec == http::error::body_limit) {
      co_await send_error(c, payload_too_large("The request body exceeds the limit of " +
                                               std::to_string(cfg.limits.body_limit) + " bytes."));
    } else if (c.dl.expired()) {
      co_await send_error(c, ApiError{408, "invalid_request_error", "request_timeout",
                                      "Timed out reading the request body.", {}, 0, ErrorSource::downstream});
    } else if (is_malformed(rec)) {
      co_await send_error(c, bad_request("Malformed request body: " + rec.message() + "."));
    } else {
      c.status = 499;
      c.error_type = "client_read_failed";
    }
    co_return false;
  }
  std::string& body = c.req.body;
  c.bytes_in = body.size();
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);

  Result<ChatRequest> parsed = openai::parse_chat_request(body);
  if (!parsed.ok()) co_return co_await send_error(c, parsed.error()) && c.keep_alive;
  ChatRequest& creq = *parsed;
  c.model = creq.model;
  c.stream = creq.stream;
  std::optional<Counted> stream_slot;
  if (creq.stream && cfg.limits.max_streams) {
    stream_slot.emplace(c.g.streams);
    if (static_cast<std::size_t>(stream_slot->value) > cfg.limits.max_streams) {
      co_return co_await send_error(c, overloaded("open streams", cfg.limits.max_streams, "limits.max_streams")) &&
          c.keep_alive;
    }
  }

  const auto target = c.gen.router.find(creq.model);
  if (!target) {
    ApiError e = not_found("The model '" + creq.model + "' does not exist or is not served by this gateway; "
                           "GET /v1/models lists the available models.", "model_not_found");
    e.param = "model";
    co_return co_await send_error(c, e) && c.keep_alive;
  }
  c.route = target->route;
  c.upstream_model = std::string(target->upstream_model);
  c.provider = target->provider->name;
  ProviderRuntime& prt = c.gen.providers.runtime(*target->provider);

  const RetryPolicy& policy = cfg.retry;
  bool identity_retried = false;
  Backoff held;
  for (int attempt = 0;; ++attempt) {
    PreparedRequest prep;
    std::optional<ApiError> err;
    if (!prepare_request_now(prt, c.wps, creq, *target, prep, err)) {
      err = co_await prepare_request(prt, c.wps, c.w.pool, creq, *target, prep);
    }
    if (err) co_return co_await send_error(c, *err) && c.keep_alive;
    // The exchange runs while the client is watched: a client that leaves cancels the upstream
    // request at once, in every phase (its connection is closed, never pooled). The watchdog
    // polls the socket for a hang-up (it never consumes bytes, so a pipelined request stays
    // unread) and, once the peer is gone, emits the cancellation at every tick until the
    // exchange ends, so a cancel that lands between two operations is not lost.
    c.dl.watch(&c.cancel->signal);
    const bool may_backoff = attempt + 1 < policy.attempts && Clock::now() - c.t0 < policy.budget;
    ++c.attempts;
    KeyLease lease;
    if (prep.key >= 0 && prt.keys) {
      lease.pool = prt.keys.get();
      lease.index = prep.key;
      lease.provider = prt.cfg;
    }
    held.now = false;
    Next next = co_await exchange(c, creq, prt, prep.request, prep.ops, !identity_retried,
                                  may_backoff ? &held : nullptr, lease);
    lease.end();
    if (next == Next::backoff) {
      // Wait (still watching the client), unless the wait would end past the budget.
      const auto delay = held.now ? Clock::duration::zero() : backoff_delay(policy, attempt, held.retry_after);
      if (Clock::now() + delay - c.t0 > policy.budget) {
        next = next_of(co_await send_error(c, held.error) && c.keep_alive);
      } else {
        if (!c.retries.empty()) c.retries += ',';
        c.retries += held.reason;
        spdlog::warn("[{}] upstream {} attempt {} of {} failed ({}); trying again in {} ms", c.request_id,
                     prt.cfg->name, attempt + 1, policy.attempts, held.reason,
                     std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
        boost::system::error_code ec;
        if (delay > Clock::duration::zero()) {
          net::steady_timer timer(c.down.get_executor(), delay);
          std::tie(ec) = co_await timer.async_wait(nothrow);
        }
        if (ec && cut_by_shutdown(c)) {
          co_await send_error(c, shutdown_error());
          co_return false;
        }
        if (!c.dl.hung_up()) {
          c.dl.unwatch();
          continue;
        }
      }
    }
    c.dl.unwatch();
    if (c.dl.hung_up()) {
      if (c.status == 0 || c.status == 200) c.status = 499;  // nginx's "client closed request"
      c.error_type = "client_closed_request";
      co_return false;
    }
    if (next != Next::retry) co_return next == Next::keep;
    identity_retried = true;
  }
}

void log_request(Ctx& c) {
  if (!c.log || !c.g.recorder) return;
  AccessRecord r{};
  r.request_id = c.request_id;
  r.key_label = c.key_label;
  r.method = c.req.method_string;
  const std::string_view target = c.req.target;
  r.path = target.substr(0, target.find('?'));
  r.model = c.model;
  r.upstream_model = c.upstream_model;
  r.provider = c.provider;
  r.stream = c.stream;
  r.status = c.status;
  r.connect_us = c.timings.first_byte_us < 0 && c.timings.connect_us == 0 ? -1 : c.timings.connect_us;
  r.upstream_first_byte_us = c.timings.first_byte_us;
  r.first_token_us = c.first_token_us;
  r.total_us = micros_since(c.t0);
  r.prompt_tokens = c.outcome.usage.prompt_tokens;
  r.completion_tokens = c.outcome.usage.completion_tokens;
  r.reasoning_tokens = c.outcome.usage.reasoning_tokens;
  r.cached_tokens = c.outcome.usage.cached_tokens;
  r.bytes_in = c.bytes_in;
  r.bytes_out = c.bytes_out;
  r.error_type = c.error_type;
  r.cost_usd = c.route ? cost_usd(*c.route, c.outcome.usage) : 0.0;
  r.upstream_reused = c.timings.reused;
  r.client_ip = c.client_ip;
  r.attempts = c.attempts;
  r.retries = c.retries;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  c.g.recorder->record(r, std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

net::awaitable<bool> handle(Ctx& c) {
  const RequestHead& req = c.req;
  c.request_id = request_id_from(req.request_id);
  c.keep_alive = c.parser.keep_alive() && !c.g.stopping.load(std::memory_order_relaxed);
  const std::string_view target = req.target;
  const std::string_view path = target.substr(0, target.find('?'));
  // Only the chat endpoint reads a body; anything else with a body closes the connection
  // after answering rather than desynchronising the keep-alive stream.
  const bool chat = path == "/v1/chat/completions" || path == "/chat/completions";
  if (!chat && !c.parser.is_done()) c.keep_alive = false;

  if (req.method == http::verb::options) {
    begin_head(c, 204);
    h1::field(c.head, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    const std::string_view asked = req.cors_request_headers;
    h1::field(c.head, "Access-Control-Allow-Headers",
              asked.empty() ? std::string_view("Authorization, Content-Type, X-Api-Key, X-Request-Id") : asked);
    h1::field(c.head, "Access-Control-Max-Age", "86400");
    h1::end(c.head);
    co_return co_await write_head(c) && c.keep_alive;
  }
  if (path == "/health" || path == "/healthz") {
    co_return co_await send(c, 200, R"({"status":"ok"})", "application/json") && c.keep_alive;
  }
  if (path == "/ready" || path == "/readyz") {
    const bool ready = !c.g.stopping.load();
    co_return co_await send(c, ready ? 200 : 503,
                            ready ? R"({"status":"ready"})" : R"({"status":"stopping"})", "application/json") &&
        c.keep_alive;
  }

  const Counted in_flight(c.g.in_flight);
  c.g.requests.fetch_add(1, std::memory_order_relaxed);

  bool keep = false;
  if (chat) {
    if (req.method != http::verb::post) {
      c.log = true;
      keep = co_await send_error(c, ApiError{405, "invalid_request_error", "method_not_allowed",
                                             "Use POST for " + std::string(path) + ".", {}, 0,
                                             ErrorSource::downstream}) && c.keep_alive;
    } else {
      keep = co_await handle_chat(c);
    }
  } else if (path == "/v1/models" || path == "/models" || path.starts_with("/v1/models/")) {
    c.log = true;
    const auto who = c.gen.auth.check(req.authorization, req.api_key, c.auth_memo);
    if (!who.ok) {
      keep = co_await send_error(c, unauthorized("Incorrect or missing API key.")) && c.keep_alive;
    } else if (req.method != http::verb::get) {
      keep = co_await send_error(c, ApiError{405, "invalid_request_error", "method_not_allowed", "Use GET.", {}, 0,
                                             ErrorSource::downstream}) && c.keep_alive;
    } else {
      c.key_label = who.label;
      std::string out;
      if (path.starts_with("/v1/models/")) {
        const auto id = path.substr(11);
        const auto t = c.gen.router.find(id);
        if (t && t->listed) {
          json::Writer w(out);
          w.begin_object().kv("id", id).kv("object", "model").kv("created", int64_t{1700000000});
          w.kv("owned_by", t->provider->kind == ProviderKind::zai_web ? "zai-web" : "zhipu").end_object();
          keep = co_await send(c, 200, std::move(out), "application/json") && c.keep_alive;
        } else {
          keep = co_await send_error(c, not_found("The model '" + std::string(id) + "' does not exist.",
                                                  "model_not_found")) && c.keep_alive;
        }
      } else {
        c.gen.router.write_models_list(out);
        keep = co_await send(c, 200, std::move(out), "application/json") && c.keep_alive;
      }
    }
  } else {
    c.log = true;
    keep = co_await send_error(c, not_found("Unknown path '" + std::string(path) +
                                            "'. zgate serves POST /v1/chat/completions and GET /v1/models.",
                                            "unknown_url")) && c.keep_alive;
  }
  log_request(c);
  co_return keep;
}

// io::parse_head_buffered() for a request, which also refuses obs-fold: Beast unfolds it
// silently, and RFC 9112 lets a server either do that or reject the request; zgate rejects it
// (a folded value is a classic smuggling vector between proxies that disagree).
bool parse_request_head(RequestParser& p, beast::flat_buffer& buf, RequestHead& req, boost::system::error_code& ec) {
  ec = {};
  while (!p.is_header_done()) {
    if (buf.size() == 0) return false;
    const auto data = buf.data();
    const std::size_t n = p.put(data, ec);
    if (ec == http::error::need_more) {
      ec = {};
      return false;
    }
    // put() stops after the head: its n bytes are exactly the head.
    if (!ec && p.is_header_done() && h1::has_obs_fold({static_cast<const char*>(data.data()), n})) {
      req.reject_status = 400;
      req.reject_reason = "Obsolete line folding (a header line starting with a space or tab) is not accepted.";
      ec = http::error::bad_obs_fold;
    }
    buf.consume(n);
    if (ec) return true;
    if (n == 0) return false;
  }
  return true;
}

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

net::awaitable<void> session(Gateway::Impl& g, Worker& w, tcp::socket sock, std::shared_ptr<ConnCancel> cancel) {
  // Errors as values even after a cancel: cleanup and the access log still run.
  co_await net::this_coro::throw_if_cancelled(false);
  struct Count {
    std::atomic<std::size_t>& n;
    ~Count() { n.fetch_sub(1, std::memory_order_relaxed); }
  } count{g.connections};
  boost::system::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  sock.non_blocking(true, ec);  // responses are written straight away when the socket takes them (io::try_write)
  std::string client_ip;
  if (auto ep = sock.remote_endpoint(ec); !ec) client_ip = ep.address().to_string();
  io::Deadline dl(w.watchdog, &sock);
  beast::flat_buffer buf;
  RequestHead req;   // reused by every request on this connection
  std::string head;  // response heads, likewise
  AuthMemo auth_memo;
  uint64_t memo_gen = 0;  // the generation auth_memo was filled in
  bool first = true;
  bool linger = false;
  std::shared_ptr<WorkerGeneration> wg;
  for (;;) {
    wg = w.current;  // for reading the head; taken again once it has arrived
    const Config* cfg = wg->gen->cfg.get();
    RequestParser parser(req);
    parser.header_limit(static_cast<std::uint32_t>(cfg->limits.header_limit));
    // The body limit is applied once the request is authenticated (handle_chat): Beast would
    // otherwise reject a large Content-Length while parsing the head, before a proper 413.
    parser.body_limit(boost::none);
    // A slow or silent client cannot hold the connection: the whole head must arrive in time.
    dl.arm(first ? cfg->timeouts.client_header_read : cfg->timeouts.client_keepalive_idle);
    boost::system::error_code rec;
    while (!parse_request_head(parser, buf, req, rec)) {
      auto [ec, n] = co_await sock.async_read_some(io::read_buffer(buf), nothrow);
      if ((rec = io::after_read(parser, buf, ec, n))) break;
    }
    // The request runs in the newest configuration generation, whatever it was when the
    // connection began waiting for it.
    wg = w.current;
    cfg = wg->gen->cfg.get();
    if (memo_gen != wg->gen->id) {  // a remembered key may be gone after a reload
      auth_memo = AuthMemo{};
      memo_gen = wg->gen->id;
    }
    if (rec) {
      // A head that is not acceptable HTTP gets its 400 (431, 501), recorded like any other
      // answer; a client that went away or timed out gets nothing.
      if (rec == http::error::header_limit || req.reject_status != 0 || is_malformed(rec)) {
        Ctx c{g, w, *wg, sock, dl, buf, parser, req, head, auth_memo, client_ip, cancel};
        c.request_id = request_id_from({});
        c.keep_alive = false;
        c.log = true;
        ApiError e{400, "invalid_request_error", "bad_request", {}, {}, 0, ErrorSource::downstream};
        if (rec == http::error::header_limit) {
          e.status = 431;
          e.code = "headers_too_large";
          e.message = "The request headers are too large (the limit is " + std::to_string(cfg->limits.header_limit) +
                      " bytes).";
        } else if (req.reject_status != 0) {
          e.status = req.reject_status;
          if (e.status == 501) e.code = "not_implemented";
          e.message = req.reject_reason;
        } else {
          e.message = "Malformed HTTP request: " + rec.message() + ".";
        }
        co_await send_error(c, e);
        log_request(c);
        linger = true;
      }
      break;
    }
    Ctx c{g, w, *wg, sock, dl, buf, parser, req, head, auth_memo, client_ip, cancel};
    const bool keep = co_await handle(c);
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

net::awaitable<void> accept_loop(Gateway::Impl& g) {
  std::size_t next = 0;
  net::steady_timer backoff(g.accept_ioc);
  for (;;) {
    Worker& w = *g.workers[next++ % g.workers.size()];
    auto [ec, sock] = co_await g.acceptor.async_accept(w.ioc, nothrow);
    if (ec) {
      if (ec == net::error::operation_aborted || !g.acceptor.is_open()) co_return;
      // EMFILE and friends: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(nothrow);
      continue;
    }
    if (g.connections.fetch_add(1, std::memory_order_relaxed) >= g.cfg->limits.max_connections) {
      g.connections.fetch_sub(1, std::memory_order_relaxed);
      continue;  // over the connection limit: the socket closes here
    }
    auto cancel = std::make_shared<ConnCancel>();
    auto slot = cancel->signal.slot();
    net::co_spawn(w.ioc, session(g, w, std::move(sock), cancel), net::bind_cancellation_slot(slot, [cancel](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("connection ended by an internal error: {}", ex.what());
      }
    }));
  }
}

net::awaitable<void> sweep_loop(Worker& w, std::function<void()> housekeeping) {
  net::steady_timer t(w.ioc);
  for (;;) {
    t.expires_after(std::chrono::seconds(5));
    auto [ec] = co_await t.async_wait(nothrow);
    if (ec) co_return;
    w.pool.sweep();
    if (housekeeping) housekeeping();
  }
}

}  // namespace

// ---- Gateway ------------------------------------------------------------------------------

namespace {
// How long requests cut at the end of the shutdown grace have to send their last bytes and be
// recorded (a client that does not read by then loses the end of its answer).
constexpr Clock::duration kAbortWait = std::chrono::seconds(2);
}  // namespace

// The address to listen on: an IP address as given, or a host name (`localhost`) resolved, the
// first address it has (IPv4 first, as most clients try it first).
tcp::endpoint listen_endpoint(net::io_context& ioc, const Config& cfg) {
  boost::system::error_code ec;
  const auto addr = net::ip::make_address(cfg.listen_host, ec);
  if (!ec) return {addr, cfg.listen_port};
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(cfg.listen_host, std::to_string(cfg.listen_port),
                                        tcp::resolver::passive | tcp::resolver::address_configured, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot listen on '" + cfg.listen_host + "': not an IP address, and it does not resolve (" +
                             (ec ? ec.message() : std::string("no address")) + ")");
  }
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) return r.endpoint();
  }
  return results.begin()->endpoint();
}

Gateway::Gateway(std::shared_ptr<const Config> cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

Gateway::~Gateway() { stop(); }

void Gateway::set_housekeeping(std::function<void()> f) { impl_->housekeeping = std::move(f); }

uint16_t Gateway::start() {
  Impl& g = *impl_;
  const Config& cfg = *g.cfg;
  g.gen = std::make_shared<Generation>(g.cfg, 1);
  const unsigned n = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<obs::RecordConsumer>> consumers;
  if (access_log_enabled()) consumers.push_back(make_access_log_writer());
  if (cfg.usage_store) {
    UsageStoreOptions uo;
    uo.path = usage_db_path(cfg);
    uo.retention_days = cfg.usage_retention_days;
    consumers.push_back(std::make_unique<UsageStore>(std::move(uo)));
  }
  if (!consumers.empty()) {
    obs::RecorderOptions ro;
    ro.ring_bytes = obs::ring_bytes_for(n);
    g.recorder = std::make_unique<obs::Recorder>(std::move(consumers), ro);
  }
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(cfg);
    w->current = std::make_shared<WorkerGeneration>(g.gen);
    g.workers.push_back(std::move(w));
  }
  const tcp::endpoint ep = listen_endpoint(g.accept_ioc, cfg);
  g.acceptor.open(ep.protocol());
  g.acceptor.set_option(tcp::acceptor::reuse_address(true));
  g.acceptor.bind(ep);
  g.acceptor.listen(net::socket_base::max_listen_connections);
  g.port = g.acceptor.local_endpoint().port();
  for (std::size_t i = 0; i < g.workers.size(); ++i) {
    Worker& w = *g.workers[i];
    net::co_spawn(w.ioc, sweep_loop(w, g.housekeeping), net::detached);
    w.thread = std::thread([&w] { w.ioc.run(); });
    // Named for top -H, perf and gdb (at most 15 characters).
    pthread_setname_np(w.thread.native_handle(), ("zgate-worker-" + std::to_string(i)).substr(0, 15).c_str());
  }
  net::co_spawn(g.accept_ioc, accept_loop(g), net::detached);
  g.accept_thread = std::thread([&g] { g.accept_ioc.run(); });
  pthread_setname_np(g.accept_thread.native_handle(), "zgate-accept");
  g.started = true;
  return g.port;
}

void Gateway::stop() {
  Impl& g = *impl_;
  if (!g.started || g.stopped) return;
  g.stopped = true;
  g.stopping = true;  // /ready answers 503 from now on; responses say Connection: close
  // Go on accepting for the drain delay, so that a load balancer polling /ready sees the 503
  // and stops sending before the listener closes.
  if (g.cfg->timeouts.drain_delay.count() > 0) std::this_thread::sleep_for(g.cfg->timeouts.drain_delay);
  net::post(g.accept_ioc, [&g] {
    boost::system::error_code ec;
    g.acceptor.close(ec);
  });
  if (g.accept_thread.joinable()) g.accept_thread.join();
  // Let in-flight requests finish, up to the grace period.
  const auto deadline = Clock::now() + g.cfg->timeouts.shutdown_grace;
  while (g.in_flight.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // Then cut what is left: idle connections close, and each request still running is answered
  // (a stream gets an in-band error event and [DONE]) and recorded, so none goes unbilled.
  if (const int64_t left = g.in_flight.load(); left > 0) {
    spdlog::warn("shutdown grace of {} ms passed with {} request(s) in flight: ending them",
                 g.cfg->timeouts.shutdown_grace.count(), left);
  }
  for (auto& w : g.workers) net::post(w->ioc, [wp = w.get()] { wp->watchdog.abort_all(); });
  const auto cut = Clock::now() + kAbortWait;
  while (g.in_flight.load() > 0 && Clock::now() < cut) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (const int64_t left = g.in_flight.load(); left > 0) {
    spdlog::error("{} request(s) did not end within {} ms of being cut and are not recorded", left,
                  std::chrono::duration_cast<std::chrono::milliseconds>(kAbortWait).count());
  }
  for (auto& w : g.workers) {
    w->guard.reset();
    w->ioc.stop();
  }
  for (auto& w : g.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (g.recorder) g.recorder->flush();  // every finished request is logged and its row is on disk
}

void Gateway::run_until_signal(const std::function<void()>& on_reload) {
  net::io_context sig_ioc(1);
  net::signal_set signals(sig_ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                             int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      // SIGHUP's default action ends the process: it is caught, and means "reload".
      spdlog::info("signal SIGHUP received: reloading the configuration");
      if (on_reload) on_reload();
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("signal {} received: draining in-flight requests", sig == SIGINT ? "SIGINT" : "SIGTERM");
  };
  signals.async_wait(on_signal);
  sig_ioc.run();
  stop();
}

Gateway::ReloadResult Gateway::reload(std::shared_ptr<const Config> next) {
  Impl& g = *impl_;
  ReloadResult r;
  std::lock_guard lock(g.reload_mu);
  if (!g.started || g.stopped || !g.gen) {
    r.error = "zgate is not running";
    return r;
  }
  r.restart_needed = restart_only_changes(*g.cfg, *next);
  std::shared_ptr<Generation> gen;
  try {
    gen = std::make_shared<Generation>(next, g.gen->id + 1);
  } catch (const std::exception& e) {  // e.g. a CA file that cannot be read
    r.error = e.what();
    return r;
  }
  // A chat.z.ai identity (guest or signed-in token) outlives the reload when its provider did
  // not change: no new guest token is fetched for nothing.
  for (auto& rt : gen->providers.all()) {
    if (!rt.zai) continue;
    for (auto& old : g.gen->providers.all()) {
      if (old.zai && old.cfg->name == rt.cfg->name && old.cfg->base_url == rt.cfg->base_url &&
          old.cfg->zai.token == rt.cfg->zai.token) {
        rt.zai = old.zai;
      }
    }
  }
  g.gen = gen;
  for (auto& w : g.workers) {
    net::post(w->ioc, [wp = w.get(), wg = std::make_shared<WorkerGeneration>(gen)]() mutable {
      wp->current = std::move(wg);
    });
  }
  r.applied = true;
  r.generation = gen->id;
  return r;
}

uint16_t Gateway::port() const { return impl_->port; }

GatewayStats Gateway::stats() const {
  Impl& g = *impl_;
  GatewayStats s;
  s.requests = g.requests.load();
  s.in_flight = g.in_flight.load();
  for (auto& w : g.workers) {
    auto p = std::make_shared<std::promise<upstream::PoolStats>>();
    auto fut = p->get_future();
    net::post(w->ioc, [p, wp = w.get()] { p->set_value(wp->pool.stats()); });
    if (fut.wait_for(std::chrono::seconds(2)) != std::future_status::ready) continue;
    const auto ps = fut.get();
    s.upstream_connects += ps.connects;
    s.upstream_reuses += ps.reuses;
    s.upstream_retries += ps.retries;
  }
  return s;
}

}  // namespace zgate
