// The response cache on the request path: the decision, hits (replayed through the same OpenAI
// encoder and aggregator as a live answer), and storing complete answers.
#include "cache.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "endpoints.hpp"
#include "zgate/core/text.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/obs/metrics.hpp"
#include "zgate/report/report.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/obs/log.hpp"

namespace zgate {

namespace {
constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// A Cache-Control directive in the request's field (comma-separated, case-insensitive).
bool has_directive(std::string_view field, std::string_view name) {
  while (!field.empty()) {
    const auto comma = field.find(',');
    std::string_view d = text::trim(field.substr(0, comma));
    if (const auto eq = d.find('='); eq != std::string_view::npos) d = text::trim(d.substr(0, eq));
    if (text::iequals(d, name)) return true;
    if (comma == std::string_view::npos) break;
    field.remove_prefix(comma + 1);
  }
  return false;
}
}  // namespace

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<CachePlan> plan_cache(Request& c, const ChatRequest& creq, const Router::Target& t) {
  const CacheConfig& cc = c.cfg.cache;
  const ModelRoute& route = *t.route;
  // The operator's settings: a route or key saying false keeps the cache off; one saying true,
  // or [cache] enabled, turns it on; the client's X-Zgate-Cache: on turns it on too.
  std::optional<bool> key_says;
  if (const auto& keys = c.gen.cache_rules.keys; !keys.empty()) {
    if (auto it = keys.find(c.info.key_label); it != keys.end()) key_says = it->second;
  }
  const std::string_view header = text::trim(c.req.zgate_cache);
  const bool header_on = text::iequals(header, "on");
  const bool header_off = text::iequals(header, "off");
  if (route.cache == false || key_says == false) return std::nullopt;
  const bool on = route.cache.value_or(false) || key_says.value_or(false) || cc.enabled || header_on;
  if (!on) return std::nullopt;
  CachePlan p;
  p.route = &route;
  const bool no_store = has_directive(c.req.cache_control, "no-store");
  const bool no_cache = has_directive(c.req.cache_control, "no-cache");
  if (header_off || no_store || (cc.deterministic_only && !cache::deterministic(creq))) {
    c.info.cache = "bypass";
    return p;
  }
  p.read = !no_cache;
  p.write = true;
  p.key = cache::make_key(creq, route, t.provider->name, t.upstream_model,
                          cc.scope == "key" ? c.info.key_label : std::string_view());
  c.info.cache = "miss";
  return p;
}

net::awaitable<bool> serve_hit(Request& c, ResponseWriter& out, const ChatRequest& creq, const cache::Entry& e) {
  RequestInfo& info = c.info;
  info.cache = "hit";
  info.cache_hit = true;
  info.upstream_model = e.upstream_model;
  // What the upstream would charge now at this route's price (the stored cost when unpriced).
  info.cost_saved_usd = info.route && info.route->priced() ? cost_usd(*info.route, e.usage) : e.cost_usd;
  openai::StreamOptions so;
  so.id = openai::new_completion_id();
  so.model = creq.model;
  so.created = unix_ms() / 1000;
  so.include_usage = creq.include_usage;
  if (!creq.stream) {
    openai::ResponseAggregator agg(so);
    cache::replay(e, agg);
    info.outcome = agg.outcome();
    info.outcome.usage = Usage{};
    std::string json;
    json.reserve(512 + e.arena.size());
    agg.write(json);
    info.first_token_us = info.micros();
    co_return co_await out.send(200, std::move(json), "application/json") && c.keep_alive;
  }
  if (!co_await out.start_stream()) co_return false;
  std::string buf;
  buf.reserve(1024 + 2 * e.arena.size());
  openai::StreamEncoder enc(buf, so);
  const CacheConfig& cc = c.cfg.cache;
  bool ok = true;
  if (cc.replay != "paced") {
    cache::replay(e, enc);
    enc.finish();
    info.first_token_us = info.micros();
    Step s = out.chunk(buf, true);
    if (s == Step::pending) s = co_await out.chunk_rest();
    ok = s == Step::done;
  } else {
    const auto delays = cache::replay_delays(
        e, cc.replay_speed, std::chrono::duration_cast<std::chrono::microseconds>(cc.replay_max_delay).count());
    net::steady_timer timer(c.conn.sock.get_executor());
    // Each wait is measured from the replay's start, so time spent writing is not added to the
    // recorded gaps.
    const auto start = std::chrono::steady_clock::now();
    auto due = start;
    for (std::size_t i = 0; i < e.events.size() && ok; ++i) {
      if (delays[i] > 0) {
        if (!buf.empty()) {
          Step s = out.chunk(buf, false);
          if (s == Step::pending) s = co_await out.chunk_rest();
          if (s != Step::done) {
            ok = false;
            break;
          }
        }
        due += std::chrono::microseconds(delays[i]);
        timer.expires_at(due);
        auto [ec] = co_await timer.async_wait(nothrow);
        if (ec) {
          ok = false;
          break;
        }
      }
      enc.on_event(e.event(e.events[i]));
      if (info.first_token_us < 0 && enc.outcome().saw_first_token) info.first_token_us = info.micros();
    }
    if (ok) {
      enc.finish();
      Step s = out.chunk(buf, true);
      if (s == Step::pending) s = co_await out.chunk_rest();
      ok = s == Step::done;
    }
  }
  info.outcome = enc.outcome();
  info.outcome.usage = Usage{};
  co_return ok && c.keep_alive;
}

net::awaitable<std::optional<bool>> serve_waiter(Request& c, ResponseWriter& out, const ChatRequest& creq,
                                                 std::shared_ptr<cache::Flight> f) {
  RequestInfo& info = c.info;
  auto exec = c.conn.sock.get_executor();
  auto timer = std::make_shared<net::steady_timer>(exec, net::steady_timer::time_point::max());
  auto woken = std::make_shared<bool>(false);
  // The leader's thread posts the wake-up to this worker; the flag covers a wake-up that lands
  // while this coroutine is not waiting.
  const uint64_t id = f->subscribe([exec, timer, woken] {
    net::post(exec, [timer, woken] {
      *woken = true;
      timer->cancel();
    });
  });
  struct Unsubscribe {
    cache::Flight& f;
    uint64_t id;
    ~Unsubscribe() { f.unsubscribe(id); }
  } unsubscribe{*f, id};
  c.conn.dl.watch(&c.conn.cancel->signal);  // a client that leaves ends the wait
  openai::StreamOptions so;
  so.id = openai::new_completion_id();
  so.model = creq.model;
  so.created = unix_ms() / 1000;
  so.include_usage = creq.include_usage;
  std::string buf;
  std::optional<openai::StreamEncoder> enc;
  std::optional<openai::ResponseAggregator> agg;
  if (creq.stream) enc.emplace(buf, so);
  else agg.emplace(so);
  EventSink& sink = creq.stream ? static_cast<EventSink&>(*enc) : static_cast<EventSink&>(*agg);
  std::size_t next = 0;
  bool started = false, ok = true;
  info.cache = "coalesced";
  info.cache_hit = true;
  for (;;) {
    *woken = false;
    const cache::Flight::State st = f->read(next, sink);
    if (st == cache::Flight::State::failed) {
      if (!started) {
        c.conn.dl.unwatch();
        info.cache = "miss";
        info.cache_hit = false;
        co_return std::nullopt;
      }
      enc->fail(bad_gateway("the upstream answer this request shared with an identical one failed",
                            "upstream_coalesced_failed"));
      Step s = out.chunk(buf, true);
      if (s == Step::pending) s = co_await out.chunk_rest();
      ok = false;
      break;
    }
    const bool done = st == cache::Flight::State::done;
    if (enc && (done || !buf.empty())) {
      if (!started) {
        if (!co_await out.start_stream()) {
          ok = false;
          break;
        }
        started = true;
      }
      if (done) enc->finish();
      if (info.first_token_us < 0 && enc->outcome().saw_first_token) info.first_token_us = info.micros();
      Step s = out.chunk(buf, done);
      if (s == Step::pending) s = co_await out.chunk_rest();
      if (s != Step::done) {
        ok = false;
        break;
      }
    }
    if (done) break;
    if (!*woken) {
      auto [ec] = co_await timer->async_wait(nothrow);
      if (ec && !*woken) {  // cancelled by the client's hang-up (or the shutdown grace)
        c.conn.dl.unwatch();
        info.note_client_gone(false);
        co_return false;
      }
    }
  }
  c.conn.dl.unwatch();
  const Usage u = f->usage();
  info.cost_saved_usd = info.route ? cost_usd(*info.route, u) : 0.0;
  if (agg) {
    info.outcome = agg->outcome();
    info.outcome.usage = Usage{};
    std::string json;
    agg->write(json);
    info.first_token_us = info.micros();
    co_return co_await out.send(200, std::move(json), "application/json") && c.keep_alive;
  }
  info.outcome = enc->outcome();
  info.outcome.usage = Usage{};
  co_return ok && c.keep_alive;
}

namespace {
void store_answer(Request& c, cache::EntryBuilder& b) {
  CachePlan* plan = c.cache;
  if (!plan || !plan->write || !b.complete() || c.info.route != plan->route || !c.info.error_type.empty()) return;
  std::shared_ptr<cache::Entry> e = b.take();
  if (!e || !e->usage.present) return;  // an answer without usage would be billed an estimate
  const CacheConfig& cc = c.cfg.cache;
  e->model = plan->route->name;
  e->upstream_model = c.info.upstream_model;
  e->key_label = std::string(c.info.key_label);
  e->stored_ms = unix_ms();
  e->expires_ms = e->stored_ms + std::chrono::duration_cast<std::chrono::milliseconds>(cc.ttl).count();
  e->cost_usd = cost_usd(*plan->route, e->usage);
  if (e->bytes() > cc.max_entry_bytes) return;
  c.conn.g.cache->put(plan->key, std::move(e));
}
}  // namespace

void finish_cache(Request& c, cache::EntryBuilder& b, bool client_left) {
  CachePlan* plan = c.cache;
  if (!plan || plan->finished) return;
  plan->finished = true;
  plan->flight_complete = b.complete();
  if (!client_left && (c.info.status == 200 || c.info.status == 0)) store_answer(c, b);
  if (plan->flight) {
    c.conn.g.flights.remove(plan->key, plan->flight);
    plan->flight->end(plan->flight_complete);
  }
}

net::awaitable<bool> admin_cache(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  Gateway::Impl& g = c.conn.g;
  const std::string_view target = c.req.target;
  const auto q = target.find('?');
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  std::string body;
  json::Writer w(body);
  if (c.req.method == http::verb::get) {
    const cache::Stats st = g.cache->stats();
    w.begin_object();
    w.kv_bool("enabled", c.gen.cache_rules.wanted);
    w.key("entries").number(st.entries).key("bytes").number(st.bytes).key("max_bytes").number(st.max_bytes);
    w.key("hits").number(st.hits).key("misses").number(st.misses).key("inserts").number(st.inserts);
    w.key("evictions").number(st.evictions).key("expirations").number(st.expirations);
    w.key("flights").number(static_cast<uint64_t>(g.flights.size()));
    w.key("waiting").number(static_cast<uint64_t>(g.flights.waiters()));
    w.kv_bool("disk", g.cache_disk != nullptr);
    if (g.cache_disk) w.kv("disk_file", cache_db_path(*g.cfg)).key("disk_dropped").number(g.cache_disk->dropped());
    w.end_object();
    co_return co_await out.send(200, std::move(body), "application/json") && c.keep_alive;
  }
  if (c.req.method != http::verb::delete_) {
    co_return co_await out.send_error(method_not_allowed("Use GET or DELETE for /admin/cache.")) && c.keep_alive;
  }
  cache::Filter f;
  for (auto& [k, v] : report::parse_query_string(query)) {
    if (k == "model") {
      f.model = std::move(v);
    } else if (k == "key_prefix") {
      f.prefix = std::move(v);
    } else {
      ApiError e = bad_request("Unknown parameter '" + k + "' for DELETE /admin/cache; use model and key_prefix.");
      e.param = k;
      co_return co_await out.send_error(e) && c.keep_alive;
    }
  }
  const std::size_t n = g.cache->erase(f);
  w.begin_object().key("deleted").number(static_cast<uint64_t>(n)).end_object();
  co_return co_await out.send(200, std::move(body), "application/json") && c.keep_alive;
}

void write_cache_metrics(std::string& out, const cache::CacheStore& store) {
  const cache::Stats st = store.stats();
  obs::prom::family(out, "zgate_cache_entries", "Answers held by the response cache (memory).", "gauge");
  obs::prom::sample(out, "zgate_cache_entries", "", st.entries);
  obs::prom::family(out, "zgate_cache_bytes", "Bytes held by the response cache (memory).", "gauge");
  obs::prom::sample(out, "zgate_cache_bytes", "", st.bytes);
}

}  // namespace zgate
