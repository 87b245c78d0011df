// One upstream attempt of a chat request: send it, judge the answer's head, and pump the body
// through the dialect's decoder into the client's answer (a stream or one JSON body).
#include <variant>

#include <spdlog/spdlog.h>

#include "cache.hpp"
#include "proxy.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/io/drain.hpp"
#include "zgate/sse/parser.hpp"

namespace zgate {
namespace {

using upstream::Failure;

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

// A stream's heartbeat: one chunk holding the SSE comment line ": keep-alive" (clients skip
// comment lines).
constexpr std::string_view kHeartbeatChunk = "e\r\n: keep-alive\n\n\r\n";

// Where pump() delivers the decoded answer: the client's stream, or a buffer answered whole.
class Answer {
 public:
  virtual ~Answer() = default;
  virtual EventSink& sink() = 0;
  // An error after the answer began.
  virtual void fail(const ApiError& e) = 0;
  // The answer says it is complete (the encoder saw the end).
  virtual bool ended() const = 0;
  // After each upstream read: sends what is ready (`last`: and ends the answer).
  virtual Step flush(bool last) = 0;
  virtual net::awaitable<Step> flush_rest() = 0;
  // After each upstream read once the client has left: drops what was encoded for it.
  virtual void discard() {}
  // Adds what flush() touches to the lines a stream's read prefetches as it returns.
  virtual void warm(io::Warm&) const {}
};

// Encodes into the worker's shared stream output (Worker::stream_out), which holds bytes only
// between an upstream read and the flush after it: an open stream keeps no output buffer of its
// own, and the one it writes into is warm in the cache.
class StreamAnswer final : public Answer {
 public:
  StreamAnswer(Request& c, ResponseWriter& w, const openai::StreamOptions& so)
      : c_(c), w_(w), enc_(c.conn.w.stream_out, so) {}
  // However the answer ends, nothing of it is left for the next stream on this worker.
  ~StreamAnswer() override { c_.conn.w.stream_out.clear(); }
  StreamAnswer(const StreamAnswer&) = delete;
  StreamAnswer& operator=(const StreamAnswer&) = delete;
  EventSink& sink() override { return enc_; }
  void fail(const ApiError& e) override { enc_.fail(e); }
  bool ended() const override { return enc_.finished(); }
  Step flush(bool last) override {
    if (last) enc_.finish();
    if (c_.info.first_token_us < 0 && enc_.outcome().saw_first_token) c_.info.first_token_us = c_.info.micros();
    return w_.chunk(c_.conn.w.stream_out, last);
  }
  net::awaitable<Step> flush_rest() override { return w_.chunk_rest(); }
  void discard() override { c_.conn.w.stream_out.clear(); }
  const openai::Outcome& outcome() const { return enc_.outcome(); }
  void warm(io::Warm& w) const override {
    w.add(this);
    w.add(reinterpret_cast<const char*>(this) + 64);
    w.add(&w_);
  }

 private:
  Request& c_;
  ResponseWriter& w_;
  openai::StreamEncoder enc_;
};

class BufferedAnswer final : public Answer {
 public:
  explicit BufferedAnswer(const openai::StreamOptions& so) : agg(so) {}
  EventSink& sink() override { return agg; }
  void fail(const ApiError& e) override { agg.on_event(Event::failed(e)); }
  bool ended() const override { return false; }
  Step flush(bool) override { return Step::done; }
  net::awaitable<Step> flush_rest() override { co_return Step::done; }
  openai::ResponseAggregator agg;
};

// The answer's events to the client's encoder and to the cache's recorder.
// (and to the requests waiting on this one's flight, when it leads one).
class Tee final : public EventSink {
 public:
  Tee(EventSink& a, EventSink& b, cache::Flight* f) : a_(a), b_(b), f_(f) {}
  void on_event(const Event& e) override {
    b_.on_event(e);
    if (f_) f_->publish(e);
    a_.on_event(e);
  }
  cache::Flight* flight() const { return f_; }

 private:
  EventSink& a_;
  EventSink& b_;
  cache::Flight* f_;
};

// An error after the answer began: recorded, and told to the client in the answer's shape.
void fail(Request& c, Answer& a, const ApiError& e) {
  c.info.note_error(e);
  a.fail(e);
}

// A whole JSON answer through the dialect into `sink`; false when it cannot be decoded (`a` then
// has the error). Not in pump(): its result would take a slot in pump's frame, which lives as
// long as the stream.
bool decode_whole(Request& c, const Dialect& d, std::string_view body, EventSink& sink, Answer& a) {
  if (auto decoded = d.decode_json(body, sink); !decoded) {
    const ApiError e = decoded.error().message.empty() ? bad_gateway("the upstream sent an unexpected response body")
                                                       : decoded.error();
    fail(c, a, e);
    return false;
  }
  return true;
}

// The lines a stream's chunk touches once its read returns, for the read to prefetch (io::Warm):
// the request and its connection, the downstream deadline and socket, the decoder, the SSE parser,
// the answer and its writer. pump() adds its own frame and the bottom of its coroutine stack.
void warm_stream(Request& c, upstream::Exchange& ex, const StreamDecoder* dec, const Answer& a,
                 const sse::Parser& parser) {
  io::Warm* w = ex.warm(true);
  if (!w) return;
  w->add(&c);
  w->add(&c.info.first_token_us);
  w->add(&c.conn);
  w->add(&c.conn.sock);
  w->add(&c.conn.dl);
  w->add(reinterpret_cast<const char*>(&c.conn.dl) + 64);
  w->add(dec);
  w->add(&parser);  // in pump's frame
  a.warm(*w);
}

// Reads the upstream body and feeds it through the dialect into `a`, flushing after each read so
// that nothing that could stream is held. Once the client has its whole answer the rest of the
// upstream body is drained, so the upstream connection can be reused. False when the client
// left (or a write to it failed): nothing more is sent.
net::awaitable<bool> pump(Request& c, upstream::Exchange& ex, const Dialect& d, StreamDecoder* dec, Answer& a,
                          cache::EntryBuilder* rec) {
  // (The cache's flight is asked of the tee where needed, not kept in a variable: see below.)
  std::optional<Tee> tee;
  if (rec) tee.emplace(a.sink(), *rec, c.cache ? c.cache->flight.get() : nullptr);
  EventSink& sink = rec ? static_cast<EventSink&>(*tee) : a.sink();
  sse::Parser parser(c.cfg.limits.max_sse_event);
  auto on_event = [&](const sse::Event& e) {
    if (!dec->done()) dec->on_data(e.data, e.event, sink);
  };
  bool complete = false;  // the client has its whole answer
  bool client_gone = false;  // the client left; the answer goes on for a flight's waiters
  // A JSON answer (non-stream request, or an upstream that ignored `stream`). Declared with the
  // flags above, as `reading` is: GCC lays out a coroutine's frame in declaration order, and
  // this keeps pump's under 512 bytes (the frame lives as long as the stream).
  const bool json = !ex.is_event_stream();
  bool reading = true;
  if (!json) {
    warm_stream(c, ex, dec, a, parser);
#if defined(ZGATE_DRAINING_READS)
    co_await io::warm_frames(ex.warm(false));  // pump's frame, and the bottom of its stack
#endif
  }
  while (reading) {
    std::string_view piece;
    std::string body;
    Failure f;
    if (json) {
      f = co_await ex.read_all(body);
    } else if (!ex.read_now(piece, f)) {
      for (;;) {  // ex.read_some(), without a frame of its own for every chunk
        const auto r = co_await ex.wait_read();
        if (ex.read_done(std::get<0>(r), std::get<1>(r), piece, f)) break;
      }
    }
    if (f == Failure::cancelled && (!c.conn.dl.aborted() || c.conn.dl.hung_up())) co_return false;  // the client left
    bool end = false;
    if (f != Failure::none) {
      reading = false;
      end = true;
      if (f == Failure::cancelled) c.conn.dl.unwatch();  // the shutdown grace passed: the error still goes out
      if (!complete) fail(c, a, f == Failure::cancelled ? shutdown_error() : failure_error(f, ex.error_message()));
    } else if (json) {
      reading = false;
      end = true;
      decode_whole(c, d, body, sink, a);
      ex.release();
    } else if (piece.empty()) {  // the upstream body is complete
      reading = false;
      end = true;
      if (!complete) {
        parser.finish(on_event);
        dec->on_end(sink);
      }
      ex.release();
    } else if (!complete) {
      if (parser.feed(piece, on_event) == sse::Parser::Status::too_large) {
        reading = false;
        end = true;
        fail(c, a, bad_gateway("the upstream sent an SSE event larger than limits.max_sse_event"));
      } else if (dec->done()) {
        dec->on_end(sink);
        end = true;
      } else {
        end = a.ended();
      }
    }
    if (complete) continue;  // draining
    if (tee && tee->flight()) tee->flight()->notify();
    // The answer is whole (or failed): stored and the flight ended before the client's last
    // bytes, so a request sent once this client has its answer finds the entry, not the flight.
    if (end && rec) finish_cache(c, *rec, client_gone);
    if (!client_gone) {
      Step s = a.flush(end);
      if (s == Step::pending) s = co_await a.flush_rest();
      if (s == Step::failed) {
        // The client of a request leading a flight left: the upstream answer goes on for the
        // requests waiting on it, and stops when none is left.
        if (!tee || !tee->flight() || tee->flight()->waiters() == 0) co_return false;
        client_gone = true;
      }
    } else {
      a.discard();
      if (tee->flight()->waiters() == 0) co_return false;
    }
    complete = end;
  }
  co_return !client_gone;
}

// Answered 200: no retry or fallback sends this request again, and the answer may take minutes (a
// stream, or a long think before one JSON body). What only sending it needed is freed now, so an
// answer under way holds no copy of its conversation: the upstream body, the parsed request's
// content (its prompt-token estimate is kept, for billing an answer without usage) and the
// client's body (kept when the body capture wants it).
void release_request(Request& c, ChatRequest& creq, PreparedRequest& prep) {
  std::string().swap(prep.request.body);
  c.info.prompt_estimate = policy::estimate_prompt_tokens(creq);
  release_content(creq);
  if (!c.info.capture) std::string().swap(c.conn.req.body);
}

void note_timings(RequestInfo& info, const upstream::Timings& t) {
  info.connect_us = t.connect_us;
  info.upstream_first_byte_us = t.first_byte_us;
  info.upstream_reused = t.reused;
}

}  // namespace

net::awaitable<Next> exchange(Request& c, ResponseWriter& out, ChatRequest& creq, ProviderRuntime& prt,
                              PreparedRequest& prep, bool may_retry, Backoff* backoff,
                              KeyLease& lease) {
  const Config& cfg = c.cfg;
  // The errors answered here are built into this one variable, outside the expressions that
  // await, and the two kinds of answer share one slot: this frame lives as long as the stream,
  // and GCC gives each local and each such temporary a slot of its own (see handle_chat()).
  std::optional<ApiError> err;
  std::variant<std::monostate, StreamAnswer, BufferedAnswer> answers;
  upstream::Exchange ex(c.conn.w.pool, prt.tls.get(), prt.endpoint, cfg.timeouts, cfg.limits);
  // The upstream's share of the request's time, for zgate_overhead_seconds and Server-Timing:
  // from here until the answer has been read (ended early below where zgate answers itself).
  struct UpstreamTime {
    RequestInfo& i;
    ~UpstreamTime() { i.upstream_end(); }
  } upstream_time{c.info};
  c.info.upstream_begin();
  const Failure f = co_await ex.start(prep.request);
  note_timings(c.info, ex.timings());
  if (f == Failure::cancelled && c.cut_by_shutdown()) {
    err = shutdown_error();
    co_await out.send_error(*err);
    co_return Next::close;
  }
  if (f == Failure::cancelled) co_return Next::close;
  if (f != Failure::none) {
    c.info.upstream_end();
    spdlog::warn("[{}] upstream {} failed: {}", c.info.request_id, prt.cfg->name, ex.error_message());
    err = failure_error(f, ex.error_message());
    // Nothing reached the upstream's model (or it never answered a byte): worth another try.
    const bool transient = f == Failure::connect || f == Failure::tls || f == Failure::closed || f == Failure::write;
    if (transient && backoff) {
      backoff->reason = err->code;
      backoff->error = std::move(*err);
      backoff->retry_after = -1;
      co_return Next::backoff;
    }
    co_return next_of(co_await out.send_error(*err) && c.keep_alive);
  }

  const int status = ex.status();
  if (status != 200) {
    std::string body;
    const Failure bf = co_await ex.read_all(body);
    c.info.upstream_end();
    if (bf == Failure::cancelled && c.cut_by_shutdown()) {
      err = shutdown_error();
      co_await out.send_error(*err);
      co_return Next::close;
    }
    if (bf == Failure::cancelled) co_return Next::close;
    // What the head said, read before the connection goes back to the pool (release() forgets it).
    const int retry_after = ex.retry_after();
    const std::string content_type(ex.content_type());
    if (bf == Failure::none) ex.release();
    spdlog::debug("[{}] upstream {} answered HTTP {}: {}", c.info.request_id, prt.cfg->name, status,
                  std::string_view(body).substr(0, 512));
    const bool retry = prt.dialect->on_upstream_error(prep, status, body);
    if (retry && may_retry) co_return Next::retry;
    err = prt.dialect->map_error(status, content_type, body);
    judge_key(lease, *err, retry_after);
    // A failure of this key, with another key usable: try that one at once.
    const bool other_key = lease.result != CredentialPool::Outcome::ok &&
                           lease.pool->other_usable(lease.index, CredentialPool::Clock::now());
    if ((err->retryable || other_key) && backoff) {
      backoff->reason = "http_" + std::to_string(status);
      if (lease.pool && lease.pool->size() > 1) backoff->reason += "@key" + std::to_string(lease.index + 1);
      backoff->retry_after = retry_after;
      backoff->now = other_key;
      backoff->error = std::move(*err);
      co_return Next::backoff;
    }
    co_return next_of(co_await out.send_error(*err) && c.keep_alive);
  }

  c.info.upstream_ok = true;
  release_request(c, creq, prep);
  // The answer's events recorded for the cache (only when it may store this answer).
  std::optional<cache::EntryBuilder> rec;
  if (c.cache && c.cache->write && c.info.route == c.cache->route) [[unlikely]] {
    rec.emplace([&info = c.info] { return info.micros(); }, cfg.cache.max_entry_bytes);
  }
  openai::StreamOptions so;
  so.model = creq.model;
  so.include_usage = creq.include_usage;
  if (creq.stream) {
    if (!co_await out.start_stream()) co_return Next::close;
    StreamAnswer& answer = answers.emplace<StreamAnswer>(c, out, so);
    if (cfg.timeouts.stream_heartbeat.count() > 0) c.conn.dl.heartbeat(cfg.timeouts.stream_heartbeat, kHeartbeatChunk);
    const bool ok = co_await pump(c, ex, *prt.dialect, prep.decoder.get(), answer, rec ? &*rec : nullptr);
    c.info.upstream_end();
    c.conn.dl.heartbeat({});
    c.info.outcome = answer.outcome();
    // An error the upstream sent in-band reached the client as an error event: say so.
    if (c.info.error_type.empty() && c.info.outcome.error) c.info.error_type = c.info.outcome.error_type;
    if (rec) finish_cache(c, *rec, !ok);  // when pump() did not (the client left)
    co_return next_of(ok && c.keep_alive);
  }

  BufferedAnswer& answer = answers.emplace<BufferedAnswer>(so);
  const bool pumped = co_await pump(c, ex, *prt.dialect, prep.decoder.get(), answer, rec ? &*rec : nullptr);
  c.info.upstream_end();
  c.info.outcome = answer.agg.outcome();  // also when cut: the text seen is billed (estimate_usage)
  if (!pumped) {
    if (rec) finish_cache(c, *rec, /*client_left=*/true);
    co_return Next::close;
  }
  if (answer.agg.failed()) co_return next_of(co_await out.send_error(answer.agg.error()) && c.keep_alive);
  std::string json;
  json.reserve(1024);
  answer.agg.write(json);
  if (c.info.first_token_us < 0 && c.info.outcome.saw_first_token) c.info.first_token_us = c.info.micros();
  if (rec) finish_cache(c, *rec);
  const bool sent = co_await out.send(200, std::move(json), "application/json");
  co_return next_of(sent && c.keep_alive);
}

}  // namespace zgate
