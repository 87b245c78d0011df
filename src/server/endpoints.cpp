// The endpoint table and the small handlers; the chat endpoint is the proxy (proxy.cpp).
#include "endpoints.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "cache.hpp"
#include "proxy.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/obs/metrics.hpp"
#include "zgate/obs/upstream_health.hpp"
#include "zgate/obs/usage_store.hpp"
#include "zgate/obs/tail.hpp"

namespace zgate {
namespace {

using Handler = net::awaitable<bool> (*)(Request&, ResponseWriter&);

struct Endpoint {
  std::string_view path;
  bool prefix;           // `path` is a prefix (e.g. "/v1/models/" + id)
  http::verb method;     // the one method served (others get 405); unknown: the handler checks
  bool recorded;         // goes to the access log and usage store
  Handler handler;
};

net::awaitable<bool> health(Request& c, ResponseWriter& out) {
  co_return co_await out.send(200, R"({"status":"ok"})", "application/json") && c.keep_alive;
}

// About zgate itself: 503 once it is draining, so a load balancer stops sending.
net::awaitable<bool> ready(Request& c, ResponseWriter& out) {
  const bool ready = !c.conn.g.stopping.load();
  co_return co_await out.send(ready ? 200 : 503, ready ? R"({"status":"ready"})" : R"({"status":"stopping"})",
                              "application/json") &&
      c.keep_alive;
}

// The client's key, checked on the head.
Result<void> authenticate(Request& c) {
  const auto who = c.gen.auth.check(c.req.authorization, c.req.api_key, c.conn.auth_memo);
  if (!who) return who.error();
  if (const policy::KeyRules* k = c.gen.policies.find(*who); k && k->disabled) return policy::key_disabled();
  c.info.key_label = *who;
  return {};
}

}  // namespace

Result<void> authenticate_admin(Request& c) {
  if (auto ok = c.gen.auth.check_admin(c.req.authorization, c.req.api_key); !ok) return ok.error();
  c.info.key_label = "admin";
  return {};
}

namespace {

net::awaitable<bool> models(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  std::string body;
  c.gen.router.write_models_list(body);
  co_return co_await out.send(200, std::move(body), "application/json") && c.keep_alive;
}

net::awaitable<bool> model(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  const std::string_view target = c.req.target;
  const std::string_view id = target.substr(0, target.find('?')).substr(std::string_view("/v1/models/").size());
  std::string body;
  if (!c.gen.router.write_model(body, id)) {
    co_return co_await out.send_error(not_found("The model '" + std::string(id) + "' does not exist.",
                                                "model_not_found")) &&
        c.keep_alive;
  }
  co_return co_await out.send(200, std::move(body), "application/json") && c.keep_alive;
}

net::awaitable<bool> chat(Request& c, ResponseWriter& out) { return handle_chat(c, out); }

// Each worker's upstream pool, read on that worker's thread (a pool is not thread-safe): a
// snapshot is posted to every worker, and each answer is posted back to this coroutine's
// thread, which waits (without blocking its worker) for all of them or one second.
net::awaitable<std::vector<obs::LiveGauges::Pool>> gather_pools(Gateway::Impl& g) {
  struct Gather {
    explicit Gather(net::any_io_executor ex, std::size_t n) : pools(n), left(n), done(ex) {}
    std::vector<obs::LiveGauges::Pool> pools;
    std::size_t left;
    net::steady_timer done;
  };
  auto st = std::make_shared<Gather>(co_await net::this_coro::executor, g.workers.size());
  st->done.expires_after(std::chrono::seconds(1));
  for (std::size_t i = 0; i < g.workers.size(); ++i) {
    net::post(g.workers[i]->ioc, [st, i, w = g.workers[i].get()] {
      const upstream::PoolStats s = w->pool.stats();
      net::post(st->done.get_executor(), [st, i, s] {
        st->pools[i] = {s.idle, s.open > s.idle ? s.open - s.idle : 0};
        if (--st->left == 0) st->done.cancel();
      });
    });
  }
  if (st->left > 0) co_await st->done.async_wait(net::as_tuple(net::use_awaitable));
  co_return st->pools;
}

// Every provider's credentials as the upstream health shows them: a number and a fingerprint
// (as the logs name them), never the key; the pool's state read now.
std::vector<obs::CredentialInfo> upstream_credentials(Generation& gen) {
  std::vector<obs::CredentialInfo> out;
  const auto now = CredentialPool::Clock::now();
  for (ProviderRuntime& rt : gen.providers.all()) {
    const ProviderConfig& p = *rt.cfg;
    const std::vector<std::string>& secrets = p.kind == ProviderKind::zai_web ? p.tokens : p.api_keys;
    obs::CredentialInfo base;
    base.provider = p.name;
    base.kind = std::string(to_string(p.kind));
    if (!rt.keys) {
      base.label = p.kind == ProviderKind::zai_web && p.zai.token.empty() ? "guest" : secrets.empty() ? "none" : "1";
      if (!secrets.empty()) base.fingerprint = mask_secret(secrets.front());
      out.push_back(std::move(base));
      continue;
    }
    for (std::size_t i = 0; i < rt.keys->size(); ++i) {
      obs::CredentialInfo c = base;
      c.index = static_cast<int>(i);
      c.label = std::to_string(i + 1);
      if (i < secrets.size()) c.fingerprint = mask_secret(secrets[i]);
      const CredentialPool::KeyState st = rt.keys->state(c.index, now);
      c.rejected = st.rejected;
      c.resting_ms = st.resting.count();
      out.push_back(std::move(c));
    }
  }
  return out;
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// GET /health/upstream: the passive health of every provider and credential. Like /metrics it
// needs the admin key when one is configured, and is open otherwise (it shows key numbers and
// fingerprints, never a key).
net::awaitable<bool> upstream_health(Request& c, ResponseWriter& out) {
  if (c.req.method != http::verb::get) {
    co_return co_await out.send_error(method_not_allowed("Use GET for /health/upstream.")) && c.keep_alive;
  }
  if (!c.cfg.admin_key.empty()) {
    if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  }
  std::string body = obs::health_json(*c.conn.g.health, upstream_credentials(c.gen), c.cfg.health, unix_ms());
  co_return co_await out.send(200, std::move(body), "application/json") && c.keep_alive;
}

// Prometheus metrics. With an admin key configured, only that key may scrape; without one
// /metrics is open (like /health), so keep it off public networks then (metrics_listen).
net::awaitable<bool> metrics(Request& c, ResponseWriter& out) {
  if (c.req.method != http::verb::get) {
    co_return co_await out.send_error(method_not_allowed("Use GET for /metrics.")) && c.keep_alive;
  }
  if (!c.cfg.admin_key.empty()) {
    if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  }
  Gateway::Impl& g = c.conn.g;
  obs::LiveGauges live;
  live.in_flight = g.in_flight.load(std::memory_order_relaxed);
  for (const auto& w : g.workers) {
    live.chats_in_flight += w->chats_open.load(std::memory_order_relaxed);
    live.streams += w->streams_open.load(std::memory_order_relaxed);
  }
  live.parked = parked_connections(g);
  live.connections = g.connections.load(std::memory_order_relaxed);
  const obs::RecorderStats rs = g.recorder->stats();
  live.recorded = rs.recorded;
  live.dropped = rs.dropped;
  live.recorder_worker_passes = rs.worker_passes;
  if (g.usage) {
    const UsageStoreStats us = g.usage->stats();
    live.usage_store = true;
    live.usage_written = us.written;
    live.usage_failed = us.failed;
  }
  const obs::TailStats ts = g.tail.stats();
  live.tails_open = ts.subscribers;
  live.tail_lines = ts.sent;
  live.tails_dropped = ts.dropped;
  if (g.capture) {
    const obs::CaptureStats cs = g.capture->stats();
    live.capture = true;
    live.capture_written = cs.written;
    live.capture_dropped = cs.dropped;
  }
  live.start_time_seconds = g.start_time;
  live.queue_waiting = g.shaping->waiting();
  live.queue_refused = g.shaping->refused();
  live.pools = co_await gather_pools(g);
  std::string body;
  body.reserve(32 * 1024);
  g.metrics->write(body);
  obs::write_health_metrics(body, *g.health, upstream_credentials(c.gen), c.cfg.health, unix_ms());
  write_cache_metrics(body, *g.cache);
  obs::write_live(body, live, obs::read_process_stats());
  if (g.alerts) g.alerts->write_metrics(body);
  co_return co_await out.send(200, std::move(body), obs::prom::kContentType) && c.keep_alive;
}

// GET /admin/config: the configuration this request runs in, secrets masked.
net::awaitable<bool> admin_config(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  co_return co_await out.send(200, describe_json(c.cfg), "application/json") && c.keep_alive;
}

// GET /admin/alerts: the alerts firing now (an empty list when no rule holds or none is set).
net::awaitable<bool> admin_alerts(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  const auto& engine = c.conn.g.alerts;
  std::string body = engine ? engine->active_json() : std::string(R"({"object":"list","data":[]})");
  co_return co_await out.send(200, std::move(body), "application/json") && c.keep_alive;
}

// GET /admin/keys: every client key's policy and use (labels only), and the global budgets'.
net::awaitable<bool> admin_keys(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  const policy::Policies& p = c.gen.policies;
  co_return co_await out.send(200, policy::keys_json(p, p.store().now_ms()), "application/json") && c.keep_alive;
}

constexpr std::array kEndpoints{
    Endpoint{"/v1/chat/completions", false, http::verb::post, true, chat},
    Endpoint{"/chat/completions", false, http::verb::post, true, chat},
    Endpoint{"/v1/models", false, http::verb::get, true, models},
    Endpoint{"/models", false, http::verb::get, true, models},
    Endpoint{"/v1/models/", true, http::verb::get, true, model},
    Endpoint{"/health", false, http::verb::unknown, false, health},
    Endpoint{"/health/upstream", false, http::verb::get, false, upstream_health},
    Endpoint{"/healthz", false, http::verb::unknown, false, health},
    Endpoint{"/ready", false, http::verb::unknown, false, ready},
    Endpoint{"/readyz", false, http::verb::unknown, false, ready},
    Endpoint{"/admin/usage", false, http::verb::get, true, admin_usage},
    Endpoint{"/admin/requests", false, http::verb::get, true, admin_requests},
    Endpoint{"/metrics", false, http::verb::get, false, metrics},
    Endpoint{"/admin/config", false, http::verb::get, true, admin_config},
    Endpoint{"/admin/alerts", false, http::verb::get, true, admin_alerts},
    Endpoint{"/admin/keys", false, http::verb::get, true, admin_keys},
    Endpoint{"/admin/requests/stream", false, http::verb::get, false, requests_stream},
    Endpoint{"/admin/reload", false, http::verb::post, true, admin_reload},
    Endpoint{"/admin/cache", false, http::verb::unknown, true, admin_cache},
};

const Endpoint* find_endpoint(std::string_view path) {
  for (const Endpoint& e : kEndpoints) {
    if (e.prefix ? path.starts_with(e.path) && path.size() > e.path.size() : path == e.path) return &e;
  }
  return nullptr;
}

// CORS preflight: any path.
net::awaitable<bool> preflight(Request& c, ResponseWriter& out) {
  out.begin(204);
  h1::field(out.head(), "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  const std::string_view asked = c.req.cors_request_headers;
  h1::field(out.head(), "Access-Control-Allow-Headers",
            asked.empty() ? std::string_view("Authorization, Content-Type, X-Api-Key, X-Request-Id") : asked);
  h1::field(out.head(), "Access-Control-Max-Age", "86400");
  co_return co_await out.send_head() && c.keep_alive;
}

// The target without its query string.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// 404 for a path zgate does not serve, 405 for a method its endpoint does not take. A coroutine
// of its own: its error and strings would otherwise hold slots in handle()'s frame, which lives
// as long as the request (a stream: minutes).
net::awaitable<bool> refuse_unrouted(Request& c, ResponseWriter& out, const Endpoint* e) {
  const std::string_view path = path_of(c.req.target);
  std::optional<ApiError> err;
  if (!e) {
    err = not_found("Unknown path '" + std::string(path) +
                        (c.conn.metrics_only
                             ? "'. This address (metrics_listen) serves GET /metrics, /health and /health/upstream."
                             : "'. zgate serves POST /v1/chat/completions and GET /v1/models."),
                    "unknown_url");
  } else {
    err = method_not_allowed("Use " + std::string(http::to_string(e->method)) + " for " + std::string(path) + ".");
  }
  co_return co_await out.send_error(*err) && c.keep_alive;
}

}  // namespace

net::awaitable<bool> handle(Conn& conn, RequestParser& parser, WorkerGeneration& wg) {
  Request c(conn, parser, wg);
  const RequestHead& req = c.req;
  c.info.request_id = request_id_from(req.request_id);
  c.keep_alive = c.parser.keep_alive() && !c.conn.g.stopping.load(std::memory_order_relaxed);
  const Endpoint* e = find_endpoint(path_of(req.target));
  // metrics_listen serves /metrics and the health checks only.
  if (e && c.conn.metrics_only && e->recorded) e = nullptr;
  // Only the chat endpoint reads a body; anything else with a body closes the connection after
  // answering rather than desynchronising the keep-alive stream.
  if ((!e || e->handler != chat) && !c.parser.is_done()) c.keep_alive = false;
  ResponseWriter out(c);
  if (req.method == http::verb::options) co_return co_await preflight(c, out);
  if (e && !e->recorded) co_return co_await e->handler(c, out);

  const Counted in_flight(c.conn.g.in_flight);
  c.conn.g.requests.fetch_add(1, std::memory_order_relaxed);
  c.info.recorded = true;
  bool keep;
  if (!e || (e->method != http::verb::unknown && req.method != e->method)) {
    keep = co_await refuse_unrouted(c, out, e);
  } else {
    keep = co_await e->handler(c, out);
  }
  record(c);
  co_return keep;
}

void record(Request& c) {
  if (!c.info.recorded) return;
  const AccessRecord r = to_record(c.info, c.req.method_string, c.req.target, c.conn.client_ip);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  c.conn.g.recorder->record(r, ms);
  if (c.info.capture) {
    c.conn.g.capture->submit({r.request_id, r.key_label, r.model, r.status, r.stream, ms}, c.req.body,
                             c.info.captured, c.info.captured_truncated);
  }
}

}  // namespace zgate
