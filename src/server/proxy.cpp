// The proxy's front half: a chat request from its authentication to its upstream attempts.
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <spdlog/spdlog.h>

#include "cache.hpp"
#include "proxy.hpp"
#include "shaping.hpp"
#include "zgate/front/openai/request.hpp"
#include "zgate/obs/log.hpp"
#include "zgate/policy/limit_store.hpp"

namespace zgate {

namespace {
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// A request admitted under a key's limits or a global budget: when it ends (however it ends),
// its real tokens and cost replace the estimate and its concurrent slot is released. A request
// that got an answer (200) without usage, such as a stream cut short before its usage came,
// is charged the estimate of its usage (RequestInfo::estimate_usage); one that failed settles 0.
struct PolicySettle {
  PolicySettle(policy::LimitStore& s, const RequestInfo& i) : store(s), info(i) {}
  ~PolicySettle() {
    const Usage& u = info.outcome.usage;
    int64_t tokens = u.prompt_tokens + u.completion_tokens;
    if (tokens == 0 && info.status == 200 && !info.cache_hit) tokens = ticket.estimate;
    const double cost = info.route ? cost_usd(*info.route, u) : 0.0;
    store.settle(ticket, tokens, cost, store.now_ms());
  }
  PolicySettle(const PolicySettle&) = delete;
  PolicySettle& operator=(const PolicySettle&) = delete;
  policy::LimitStore& store;
  const RequestInfo& info;
  policy::Ticket ticket;
};

// The refusals handle_chat() sends, each built outside its frame (see there).

// The client key, checked on the head: the key label goes to the record, or the 401.
std::optional<ApiError> authenticate_chat(Request& c) {
  auto who = c.gen.auth.check(c.req.authorization, c.req.api_key, c.conn.auth_memo);
  if (!who) return std::move(who).error();
  c.info.key_label = *who;
  return std::nullopt;
}

// A Content-Length over limits.body_limit: 413 before the body is read.
std::optional<ApiError> declared_body_too_large(Request& c) {
  const auto len = c.parser.content_length();
  if (!len || *len <= c.cfg.limits.body_limit) return std::nullopt;
  return payload_too_large("The request body is " + std::to_string(*len) + " bytes; the limit is " +
                           std::to_string(c.cfg.limits.body_limit) + " bytes.");
}

// Why reading the body failed, as the client's answer; none (recorded as 499) when the client left.
std::optional<ApiError> body_read_error(Request& c, const boost::system::error_code& rec) {
  if (rec == http::error::body_limit) {
    return payload_too_large("The request body exceeds the limit of " + std::to_string(c.cfg.limits.body_limit) +
                             " bytes.");
  }
  if (c.conn.dl.expired()) return request_timeout("Timed out reading the request body.");
  if (is_malformed(rec)) return bad_request("Malformed request body: " + rec.message() + ".");
  c.info.status = 499;
  c.info.error_type = "client_read_failed";
  return std::nullopt;
}

// Beast reads a body into whatever room the read buffer has, at least 512 bytes, and the parser
// empties the buffer as it goes, so a 1 MB body took ~2,000 receives. Room for up to 64 KiB of
// what is still to come (16 KiB of a chunked body) is made before the read.
void make_body_room(Request& c) {
  constexpr std::size_t kMax = 64 * 1024, kChunked = 16 * 1024;
  const auto left = c.parser.content_length_remaining();
  const std::size_t want = left ? static_cast<std::size_t>(std::min<uint64_t>(*left, kMax)) : kChunked;
  beast::flat_buffer& buf = c.conn.buf;
  if (buf.capacity() - buf.size() < want) buf.reserve(buf.size() + want);
}

// Once the body is in, the read buffer is not needed until the next request (the answer may
// take minutes): an empty one is given back now rather than after the answer. Bytes of a
// pipelined request keep it.
void release_read_buffer(Request& c) {
  if (c.conn.buf.size() == 0 && c.conn.buf.capacity() != 0) c.conn.buf = beast::flat_buffer();
}

ApiError model_not_found(std::string_view model) {
  ApiError e = not_found("The model '" + std::string(model) + "' does not exist or is not served by this gateway; "
                         "GET /v1/models lists the available models.", "model_not_found");
  e.param = "model";
  return e;
}

// The wait before another attempt, on the upstream's account (not zgate's); false when it was
// cancelled. Its own coroutine: the timer would otherwise hold a slot in handle_chat()'s frame.
net::awaitable<bool> wait_backoff(Request& c, Clock::duration delay) {
  if (delay <= Clock::duration::zero()) co_return true;
  c.info.upstream_begin();
  net::steady_timer timer(c.conn.sock.get_executor(), delay);
  auto [ec] = co_await timer.async_wait(nothrow);
  c.info.upstream_end();
  co_return !ec;
}

// Waits at the upstream gate of `key` (the credential's index, -1 = the provider's only one) for
// the request's upstream model, with the client watched. Nothing, with the slot in `pass`; or
// what handle_chat returns when the request ended here: refused (answered 429), its client left
// (recorded as 499), or the shutdown grace passed (answered).
net::awaitable<std::optional<bool>> pass_gate(Request& c, ResponseWriter& out, ProviderRuntime& prt, int key,
                                              const ShapingLimits& sl, GatePass& pass) {
  c.info.upstream_begin();  // waiting on the upstream's account, not zgate's
  GateEntry e = co_await c.conn.g.shaping->enter(GateKey{prt.cfg->name, key, c.info.upstream_model}, sl);
  c.info.upstream_end();
  c.info.queue_wait_us = std::max<int64_t>(c.info.queue_wait_us, 0) + e.wait_us;
  c.info.queue_depth = std::max(c.info.queue_depth, static_cast<int>(e.depth));
  if (e.kind == GateEntry::Kind::pass && !c.conn.dl.hung_up() && !c.conn.dl.aborted()) {
    pass = std::move(e.pass);
    co_return std::nullopt;
  }
  e.pass.release();
  if (e.kind == GateEntry::Kind::refused) {
    c.conn.dl.unwatch();
    spdlog::debug("[{}] upstream {} queue: {}", c.info.request_id, prt.cfg->name, e.error.message);
    co_return co_await out.send_error(e.error) && c.keep_alive;
  }
  if (c.cut_by_shutdown()) {
    co_await out.send_error(shutdown_error());
    co_return false;
  }
  c.conn.dl.unwatch();
  c.info.note_client_gone(false);
  co_return false;
}
}  // namespace

net::awaitable<bool> handle_chat(Request& c, ResponseWriter& out) {
  const Config& cfg = c.cfg;
  const RequestHead& req = c.req;
  c.info.recorded = true;
  c.info.chat = true;
  // Every refusal is built here, in a statement of its own, and sent from here. Every local of a
  // coroutine, and every temporary of an expression that awaits, has a slot of its own in the
  // coroutine's frame (GCC does not share slots), and this frame lives as long as the stream: an
  // error built inside `co_await out.send_error(...)` would cost every stream its bytes.
  std::optional<ApiError> refusal;

  // Authenticate on the headers alone, before reading a possibly large body.
  refusal = authenticate_chat(c);
  if (refusal) {
    c.keep_alive = false;  // the body stays unread
    co_await out.send_error(*refusal);
    co_return false;
  }
  const policy::Policies& pol = c.gen.policies;
  const policy::KeyRules* rules = pol.find(c.info.key_label);
  if (rules && rules->disabled) [[unlikely]] {
    c.keep_alive = false;  // the body stays unread
    refusal = policy::key_disabled();
    co_await out.send_error(*refusal);
    co_return false;
  }
  if (obs::Capture* cap = c.conn.g.capture.get(); cap && cap->wants(c.info.key_label)) [[unlikely]] {
    c.info.capture = true;
    c.info.capture_max = cap->max_bytes();
  }

  // Admission control: the in-flight limit before the body is read, the stream limit once the
  // body says the request streams.
  // Counted only while a limit is set: the shared counters cost the request path nothing otherwise.
  const WorkerCount chat_gauge(c.conn.w.chats_open);
  std::optional<Counted> chat_slot;
  if (cfg.limits.max_in_flight) chat_slot.emplace(c.conn.g.chats);
  if (chat_slot && static_cast<std::size_t>(chat_slot->value) > cfg.limits.max_in_flight) {
    c.keep_alive = false;
    refusal = overloaded("requests in flight", cfg.limits.max_in_flight, "limits.max_in_flight");
    co_await out.send_error(*refusal);
    co_return false;
  }

  refusal = declared_body_too_large(c);
  if (refusal) {
    c.keep_alive = false;
    co_await out.send_error(*refusal);
    co_return false;
  }
  c.parser.body_limit(cfg.limits.body_limit);  // chunked bodies are checked as they arrive
  // An HTTP/1.0 client cannot know 100 Continue: its expectation is ignored (RFC 9110 10.1.1).
  if (req.version >= 11 && text::iequals(req.expect, "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    c.conn.dl.arm(cfg.timeouts.client_write);
    auto [ec, n] = co_await net::async_write(c.conn.sock, net::buffer(kContinue.data(), kContinue.size()), nothrow);
    if (ec) co_return false;
  }
  c.conn.dl.arm(cfg.timeouts.client_body_read);
  // The body usually arrived with the head: parse it from the buffer without a round trip
  // through the event loop, and read only when it did not.
  boost::system::error_code rec;
  if (!io::parse_buffered(c.parser, c.conn.buf, rec)) {
    make_body_room(c);
    std::tie(rec, std::ignore) = co_await http::async_read(c.conn.sock, c.conn.buf, c.parser, nothrow);
  }
  release_read_buffer(c);
  if (rec) {
    c.keep_alive = false;
    refusal = body_read_error(c, rec);
    if (refusal) co_await out.send_error(*refusal);
    co_return false;
  }
  std::string& body = c.conn.req.body;
  c.info.bytes_in = body.size();
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);

  Result<ChatRequest> parsed = openai::parse_chat_request(body);
  if (!parsed) co_return co_await out.send_error(parsed.error()) && c.keep_alive;  // a reference: no copy
  ChatRequest& creq = *parsed;
  c.info.model = creq.model;
  c.info.stream = creq.stream;
  std::optional<WorkerCount> stream_gauge;
  if (creq.stream) stream_gauge.emplace(c.conn.w.streams_open);
  std::optional<Counted> stream_slot;
  if (creq.stream && cfg.limits.max_streams) {
    stream_slot.emplace(c.conn.g.streams);
    if (static_cast<std::size_t>(stream_slot->value) > cfg.limits.max_streams) {
      refusal = overloaded("open streams", cfg.limits.max_streams, "limits.max_streams");
      co_return co_await out.send_error(*refusal) && c.keep_alive;
    }
  }

  std::optional<Router::Target> target = c.gen.router.find(creq.model);
  if (!target) {
    refusal = model_not_found(creq.model);
    co_return co_await out.send_error(*refusal) && c.keep_alive;
  }
  c.info.route = target->route;
  c.info.upstream_model = std::string(target->upstream_model);
  c.info.provider = target->provider->name;
  ProviderRuntime* prt = &c.gen.providers.runtime(*target->provider);

  // Per-key limits and budgets, before any upstream work.
  std::optional<PolicySettle> settle;
  const bool budgeted = (rules && rules->policy.has_budget()) || pol.global().any();
  if (rules || pol.global().any()) {
    if (rules && !rules->model_allowed(creq.model)) refusal = policy::model_not_allowed(creq.model);
    else if (budgeted && !target->route->priced()) refusal = policy::model_not_priced(creq.model);
    if (refusal) co_return co_await out.send_error(*refusal) && c.keep_alive;
    policy::LimitStore& store = pol.store();
    settle.emplace(store, c.info);
    refusal = store.admit(rules, pol, rules && rules->policy.tokens_per_minute > 0 ? policy::estimate_prompt_tokens(creq) : 0,
                          store.now_ms(), settle->ticket, c.info.rate);
    if (refusal) {
      settle.reset();
      co_return co_await out.send_error(*refusal) && c.keep_alive;
    }
  }

  // Runs before the settle above: an answer without upstream usage is billed an estimate.
  struct EstimateOnExit {
    RequestInfo& info;
    const ChatRequest& req;
    ~EstimateOnExit() { info.estimate_usage(req); }
  } estimate_on_exit{c.info, creq};

  // The response cache, after the per-key policy (a hit counts as a request, with no tokens)
  // and before any upstream work. Off for the route and key (and no X-Zgate-Cache), it costs a
  // test here.
  std::optional<CachePlan> cache_plan;
  if (c.gen.cache_rules.wanted || !req.zgate_cache.empty()) [[unlikely]] {
    cache_plan = plan_cache(c, creq, *target);
    if (cache_plan) {
      c.cache = &*cache_plan;
      if (cache_plan->read) {
        if (auto hit = c.conn.g.cache->get(cache_plan->key, unix_ms())) co_return co_await serve_hit(c, out, creq, *hit);
      }
      // Coalescing: an identical request in flight answers this one too. When its answer
      // fails before this one got anything, this request goes upstream (leading a new flight).
      for (int tries = 0; cache_plan->write && tries < 3; ++tries) {
        bool leader = false;
        auto f = c.conn.g.flights.join_or_lead(cache_plan->key, leader);
        if (leader) {
          cache_plan->flight = std::move(f);
          break;
        }
        if (auto served = co_await serve_waiter(c, out, creq, std::move(f))) co_return *served;
      }
    }
  }
  // The flight this request leads ends with it, however it ends.
  struct FlightEnd {
    Gateway::Impl& g;
    std::optional<CachePlan>& plan;
    ~FlightEnd() {
      if (!plan || !plan->flight) return;
      g.flights.remove(plan->key, plan->flight);
      plan->flight->end(plan->flight_complete);
    }
  } flight_end{c.conn.g, cache_plan};

  const RetryPolicy& policy = cfg.retry;
  bool identity_retried = false;
  Backoff held;
  // Fallback routes: the requested route's list (its fallbacks' own lists are not followed).
  const std::vector<std::string>& fallbacks = target->route->fallbacks;
  std::size_t next_fallback = 0;
  // After the current route failed (`why`), moves the request to the next fallback route; false
  // when none is left, the retry budget has passed, or the client is gone. Under a budget an
  // unpriced fallback is skipped: it would spend without being counted.
  const auto fall_back = [&](std::string_view why) {
    if (c.conn.dl.hung_up() || Clock::now() - c.info.t0 >= policy.budget) return false;
    while (next_fallback < fallbacks.size()) {
      auto next = c.gen.router.find(fallbacks[next_fallback++]);
      if (!next || (budgeted && !next->route->priced())) continue;
      spdlog::warn("[{}] route {} failed ({}); falling back to route {}", c.info.request_id, target->route->name, why,
                   next->route->name);
      if (!c.info.retries.empty()) c.info.retries += ',';
      c.info.retries.append(why).append(",fallback=").append(next->route->name);
      target = next;
      c.info.route = target->route;
      c.info.upstream_model = std::string(target->upstream_model);
      c.info.provider = target->provider->name;
      prt = &c.gen.providers.runtime(*target->provider);
      identity_retried = false;
      return true;
    }
    return false;
  };
  for (int attempt = 0;; ++attempt) {
    PreparedRequest prep;
    Result<void> prepared;
    if (!prt->dialect->prepare_now(creq, *target, c.wps, prep, prepared)) {
      prepared = co_await prt->dialect->prepare(creq, *target, c.wps, c.conn.w.pool, prep);
    }
    if (!prepared) {
      // Every key resting or rejected, or the upstream unreachable while preparing: another
      // route may do better.
      const ApiError& e = prepared.error();
      if ((e.status == 429 || e.status >= 500) && fall_back(e.code.empty() ? e.type : e.code)) {
        attempt = -1;
        continue;
      }
      co_return co_await out.send_error(e) && c.keep_alive;
    }
    // The exchange runs while the client is watched: a client that leaves cancels the upstream
    // request at once, in every phase (its connection is closed, never pooled). The watchdog
    // polls the socket for a hang-up (it never consumes bytes, so a pipelined request stays
    // unread) and, once the peer is gone, emits the cancellation at every tick until the
    // exchange ends, so a cancel that lands between two operations is not lost.
    // A request leading a coalescing flight is not watched: when its client leaves, the upstream
    // answer goes on for the requests waiting on the flight (pump() notices the client at its
    // next write and stops once no waiter is left).
    if (!cache_plan || !cache_plan->flight) c.conn.dl.watch(&c.conn.cancel->signal);
    // The key prepare() took goes back to its pool whatever ends the attempt, a wait at the
    // gate below included.
    KeyLease lease;
    if (prep.key >= 0 && prt->keys) {
      lease.pool = prt->keys.get();
      lease.index = prep.key;
      lease.provider = prt->cfg;
    }
    // Upstream shaping: wait for a slot of this credential and upstream model (docs/shaping.md).
    // Providers without it touch no shared state here.
    GatePass gate;
    if (prt->cfg->shaped()) [[unlikely]] {
      if (const ShapingLimits& sl = prt->cfg->shaping_for(target->upstream_model); sl.active()) {
        if (auto ended = co_await pass_gate(c, out, *prt, prep.key, sl, gate)) co_return *ended;
      }
    }
    const bool may_backoff = attempt + 1 < policy.attempts && Clock::now() - c.info.t0 < policy.budget;
    // A failure is held (not answered) while this route may try again or a fallback remains.
    const bool may_hold = may_backoff || next_fallback < fallbacks.size();
    ++c.info.attempts;
    // For the upstream health: which provider and credential this attempt used, and below why it
    // failed when another attempt follows (the last attempt's outcome is the record's).
    std::string& trail = c.info.upstream_trail;
    if (!trail.empty()) trail += '\n';
    trail.append(prt->cfg->name).append(1, '\t').append(std::to_string(prep.key));
    held.now = false;
    Next next = co_await exchange(c, out, creq, *prt, prep, !identity_retried, may_hold ? &held : nullptr, lease);
    lease.end();
    gate.release();
    if (next == Next::backoff) trail.append(1, '\t').append(held.reason);
    if (next == Next::retry) trail.append("\tupstream_identity_rejected");
    if (next == Next::backoff) {
      // Wait (still watching the client), unless the wait would end past the budget; a route
      // with no attempt left hands over to its next fallback, if any.
      const auto delay = held.now ? Clock::duration::zero() : backoff_delay(policy, attempt, held.retry_after);
      if (!may_backoff || Clock::now() + delay - c.info.t0 > policy.budget) {
        if (fall_back(held.reason)) {
          c.conn.dl.unwatch();
          attempt = -1;
          continue;
        }
        next = next_of(co_await out.send_error(held.error) && c.keep_alive);
      } else {
        if (!c.info.retries.empty()) c.info.retries += ',';
        c.info.retries += held.reason;
        spdlog::warn("[{}] upstream {} attempt {} of {} failed ({}); trying again in {} ms", c.info.request_id,
                     prt->cfg->name, attempt + 1, policy.attempts, held.reason,
                     std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
        if (!co_await wait_backoff(c, delay) && c.cut_by_shutdown()) {
          refusal = shutdown_error();
          co_await out.send_error(*refusal);
          co_return false;
        }
        if (!c.conn.dl.hung_up()) {
          c.conn.dl.unwatch();
          continue;
        }
      }
    }
    c.conn.dl.unwatch();
    if (c.conn.dl.hung_up()) {
      c.info.note_client_gone(false);
      co_return false;
    }
    if (next != Next::retry) co_return next == Next::keep;
    identity_retried = true;
  }
}

}  // namespace zgate
