// The listener: the workers (one io_context and thread each), the acceptor handing connections
// round-robin to them, and the process lifecycle (start, reload, drain and stop, signals).
#include <pthread.h>

#include <filesystem>
#include <future>
#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "session.hpp"
#include "state.hpp"
#include "zgate/obs/log.hpp"
#include "zgate/obs/metrics.hpp"
#include "zgate/obs/upstream_health.hpp"
#include "zgate/obs/usage_store.hpp"
#include "zgate/policy/limit_store.hpp"
#include "zgate/report/report.hpp"

namespace zgate {
namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// Accepts on `acc`: the main listener (connections round-robin to the workers) or, with
// `metrics_only`, metrics_listen (connections to the metrics worker).
net::awaitable<void> accept_loop(Gateway::Impl& g, tcp::acceptor& acc, bool metrics_only) {
  std::size_t next = 0;
  net::steady_timer backoff(g.accept_ioc);
  for (;;) {
    Worker& w = metrics_only ? *g.metrics_worker : *g.workers[next++ % g.workers.size()];
    auto [ec, sock] = co_await acc.async_accept(w.ioc, nothrow);
    if (ec) {
      if (ec == net::error::operation_aborted || !acc.is_open()) co_return;
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
    ConnState st;
    st.metrics_only = metrics_only;
    start_session(g, w, std::move(sock), std::move(st));
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

// The active upstream health check (providers with health_check_interval_s, zhipu only): on one
// worker, each due provider's keys are asked in turn, with the worker's current generation, and
// the results go to the upstream health as attempts of those keys. Nothing is recorded or billed.
net::awaitable<void> health_check_loop(Gateway::Impl& g, Worker& w) {
  net::steady_timer t(w.ioc);
  std::map<std::string, Clock::time_point, std::less<>> next_due;  // by provider name
  for (;;) {
    if (g.stopping.load()) co_return;
    const std::shared_ptr<WorkerGeneration> wg = w.current;
    for (ProviderRuntime& rt : wg->gen->providers.all()) {
      const ProviderConfig& p = *rt.cfg;
      if (p.health_check_interval.count() <= 0 || p.kind != ProviderKind::zhipu) continue;
      auto due = next_due.find(p.name);
      if (due != next_due.end() && Clock::now() < due->second) continue;
      next_due[p.name] = Clock::now() + p.health_check_interval;
      const int keys = rt.keys ? static_cast<int>(rt.keys->size()) : 0;
      for (int k = keys > 0 ? 0 : -1; k < keys; ++k) {
        const HealthProbe r = co_await zhipu_health_probe(rt, wg->providers, w.pool, k);
        if (g.stopping.load()) co_return;
        const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        g.health->add(p.name, k, r.ok, r.reason, ms);
        if (!r.ok) spdlog::warn("upstream {} key #{}: health check failed ({})", p.name, k + 1, r.reason);
      }
    }
    t.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await t.async_wait(nothrow);
    if (ec) co_return;
  }
}

}  // namespace

namespace {
// How long requests cut at the end of the shutdown grace have to send their last bytes and be
// recorded (a client that does not read by then loses the end of its answer).
constexpr Clock::duration kAbortWait = std::chrono::seconds(2);

// The address to listen on: an IP address as given, or a host name (`localhost`) resolved, the
// first address it has (IPv4 first, as most clients try it first).
tcp::endpoint listen_endpoint(net::io_context& ioc, const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  const auto addr = net::ip::make_address(host, ec);
  if (!ec) return {addr, port};
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, std::to_string(port),
                                        tcp::resolver::passive | tcp::resolver::address_configured, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot listen on '" + host + "': not an IP address, and it does not resolve (" +
                             (ec ? ec.message() : std::string("no address")) + ")");
  }
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) return r.endpoint();
  }
  return results.begin()->endpoint();
}

// reuse_port: SO_REUSEPORT, so that other zgates (same user) can bind the same port and the kernel
// spreads new connections over every listening socket.
uint16_t bind_listen(tcp::acceptor& acc, const tcp::endpoint& ep, bool reuse_port = false) {
  acc.open(ep.protocol());
  acc.set_option(tcp::acceptor::reuse_address(true));
  if (reuse_port) acc.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  acc.bind(ep);
  acc.listen(net::socket_base::max_listen_connections);
  return acc.local_endpoint().port();
}

// The spend of the current hour, day and month and the tokens and requests of the current minute,
// per key label and in all, read back from the usage store into the limit counters, so a restart
// does not reset a budget. Whole hours come from the hourly rollup (report::Store).
void restore_limits(Gateway::Impl& g, const Config& cfg) {
  std::string err;
  auto store = report::Store::open(usage_db_path(cfg), err);
  if (!store) {
    spdlog::warn("limits: could not read the usage store to restore budgets: {}", err);
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t now = g.limits.now_ms();
  const policy::Windows w = policy::windows_at(now);
  std::map<std::string, policy::Restored, std::less<>> keys;
  policy::Restored all;
  using Apply = void (*)(policy::Restored&, const report::Totals&);
  auto read = [&](int64_t since, Apply apply) {
    report::Filter f;
    f.since_ms = since;
    report::Report rep;
    if (!store->usage(f, {report::Dim::key}, rep, err)) {
      spdlog::warn("limits: could not read the usage store to restore budgets: {}", err);
      return false;
    }
    for (const auto& grp : rep.groups) apply(keys[grp.key.at(0)], grp.totals);
    apply(all, rep.totals);
    return true;
  };
  if (!read(policy::month_start_ms(w.month), [](policy::Restored& r, const report::Totals& t) { r.spent_month = t.cost_usd; }) ||
      !read(w.day * policy::kDayMs, [](policy::Restored& r, const report::Totals& t) { r.spent_day = t.cost_usd; }) ||
      !read(w.hour * policy::kHourMs, [](policy::Restored& r, const report::Totals& t) { r.spent_hour = t.cost_usd; }) ||
      !read(w.minute * policy::kMinuteMs, [](policy::Restored& r, const report::Totals& t) {
        r.tokens_minute = t.prompt_tokens + t.completion_tokens;
        r.requests_minute = t.requests;
      })) {
    return;
  }
  for (auto& [label, r] : keys) {
    r.at_ms = now;
    g.limits.restore(g.limits.key(label), r);
  }
  all.at_ms = now;
  g.limits.restore(g.limits.global(), all);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("limits: restored this month's spend of {} key(s) from the usage store (${:.6f} in all) in {} ms",
               keys.size(), all.spent_month, ms);
}

// The response cache's store; its disk copy (<data_dir>/cache.db, loaded at once) when [cache]
// disk is on and some route or key uses the cache. A disk store that cannot be opened leaves the
// cache in memory only.
void open_cache(Gateway::Impl& g, const Config& cfg) {
  if (cfg.cache.disk && !cfg.data_dir.empty() && g.gen->cache_rules.wanted) {
    const std::string path = cache_db_path(cfg);
    try {
      std::error_code ec;
      std::filesystem::create_directories(cfg.data_dir, ec);
      g.cache_disk = std::make_unique<cache::DiskCache>(path);
    } catch (const std::exception& e) {
      spdlog::warn("cache: {}; the cache stays in memory only", e.what());
    }
  }
  g.cache = std::make_unique<cache::LocalCacheStore>(cfg.cache.max_bytes, g.cache_disk.get());
  if (g.cache_disk) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t n = g.cache_disk->load(
        *g.cache, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                      .count());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    spdlog::info("cache: {} entr{} loaded from {} in {} ms", n, n == 1 ? "y" : "ies", cache_db_path(cfg), ms);
  }
}

std::vector<std::string> model_names(const Config& cfg) {
  std::vector<std::string> names;
  for (const auto& m : cfg.models) names.push_back(m.name);
  return names;
}

}  // namespace

Gateway::Gateway(std::shared_ptr<const Config> cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

Gateway::~Gateway() { stop(); }

void Gateway::set_housekeeping(std::function<void()> f) { impl_->housekeeping = std::move(f); }
void Gateway::set_reloader(Reloader f) { impl_->reloader = std::move(f); }

uint16_t Gateway::start() {
  Impl& g = *impl_;
  const Config& cfg = *g.cfg;
  g.gen = std::make_shared<Generation>(g.cfg, 1, g.limits);
  const unsigned n = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  // Before any background thread starts (main sets it earlier still, for the log writer).
  obs::set_background_priority(cfg.background_priority == "nice" ? obs::BackgroundPriority::nice
                                                                 : obs::BackgroundPriority::idle);
  std::vector<std::unique_ptr<obs::RecordConsumer>> consumers;
  {
    auto m = std::make_unique<obs::Metrics>();
    m->set_models(model_names(cfg));
    g.metrics = m.get();
    consumers.push_back(std::move(m));
  }
  {
    auto h = std::make_unique<obs::UpstreamHealth>();
    g.health = h.get();
    consumers.push_back(std::move(h));
  }
  if (access_log_enabled()) consumers.push_back(make_access_log_writer());
  if (cfg.usage_store) {
    UsageStoreOptions uo;
    uo.path = usage_db_path(cfg);
    uo.retention_days = cfg.usage_retention_days;
    auto u = std::make_unique<UsageStore>(std::move(uo));
    g.usage = u.get();
    consumers.push_back(std::move(u));
    restore_limits(g, cfg);
  }
  open_cache(g, cfg);
  if (cfg.capture.enabled) {
    g.capture = std::make_unique<obs::Capture>(cfg.capture, config_secrets(cfg), capture_path(cfg));
    spdlog::warn("body capture is on: request and response bodies go to {}", capture_path(cfg));
  }
  consumers.push_back(g.tail.consumer());
  if (!cfg.alerts.empty()) {
    alert::EngineOptions ao;
    ao.settings = cfg.alerting;
    ao.rules = cfg.alerts;
    // Read on the alert thread; the recorder outlives the engine's threads (stop() ends them first).
    ao.dropped = [&g] { return g.recorder ? g.recorder->stats().dropped : 0; };
    // The budgets' use, from the limit counters under the newest generation's policies.
    ao.budgets = [this] {
      std::vector<alert::BudgetUse> out;
      for (const auto& b : budget_use()) {
        out.push_back({b.label, std::string(policy::to_string(b.window)), b.spent_usd, b.limit_usd});
      }
      return out;
    };
    g.alerts = std::make_unique<alert::Engine>(std::move(ao));
    consumers.push_back(g.alerts->consumer());
  }
  obs::RecorderOptions ro;
  ro.ring_bytes = obs::ring_bytes_for(n);
  // At SCHED_IDLE the recorder thread may not run while the workers keep the CPUs busy: a
  // worker whose ring fills then drains the rings itself rather than drop records.
  ro.worker_fallback = cfg.background_priority != "nice";
  g.recorder = std::make_unique<obs::Recorder>(std::move(consumers), ro);
  g.start_time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(cfg);
    w->current = std::make_shared<WorkerGeneration>(g.gen);
    g.workers.push_back(std::move(w));
  }
  g.port = bind_listen(g.acceptor, listen_endpoint(g.accept_ioc, cfg.listen_host, cfg.listen_port), cfg.reuse_port);
  if (!cfg.metrics_listen_host.empty()) {
    try {
      g.metrics_port = bind_listen(g.metrics_acceptor,
                                   listen_endpoint(g.accept_ioc, cfg.metrics_listen_host, cfg.metrics_listen_port));
    } catch (const std::exception& e) {
      throw std::runtime_error("metrics_listen " + cfg.metrics_listen_host + ":" +
                               std::to_string(cfg.metrics_listen_port) + ": " + e.what());
    }
    g.metrics_worker = std::make_unique<Worker>(cfg);
    g.metrics_worker->current = std::make_shared<WorkerGeneration>(g.gen);
  }
  for (std::size_t i = 0; i < g.workers.size(); ++i) {
    Worker& w = *g.workers[i];
    net::co_spawn(w.ioc, sweep_loop(w, g.housekeeping), net::detached);
    if (i == 0) net::co_spawn(w.ioc, health_check_loop(g, w), net::detached);
    w.thread = std::thread([&w] { w.ioc.run(); });
    // Named for top -H, perf and gdb (at most 15 characters).
    pthread_setname_np(w.thread.native_handle(), ("zgate-worker-" + std::to_string(i)).substr(0, 15).c_str());
  }
  if (g.metrics_worker) {
    Worker& w = *g.metrics_worker;
    w.thread = std::thread([&w] { w.ioc.run(); });
    pthread_setname_np(w.thread.native_handle(), "zgate-metrics");
    net::co_spawn(g.accept_ioc, accept_loop(g, g.metrics_acceptor, true), net::detached);
  }
  g.tail_io.thread = std::thread([&g] {
    obs::lower_this_thread();  // background work, like the recorder's
    g.tail_io.ioc.run();
  });
  pthread_setname_np(g.tail_io.thread.native_handle(), "zgate-tail");
  net::co_spawn(g.accept_ioc, accept_loop(g, g.acceptor, false), net::detached);
  g.accept_thread = std::thread([&g] { g.accept_ioc.run(); });
  pthread_setname_np(g.accept_thread.native_handle(), "zgate-accept");
  if (g.alerts) g.alerts->start();  // last: a start that failed above leaves no thread behind
  g.started = true;
  return g.port;
}

void Gateway::flush_records() {
  if (impl_->recorder) impl_->recorder->flush();
}

void Gateway::stop() {
  Impl& g = *impl_;
  if (!g.started || g.stopped) return;
  g.stopped = true;
  g.stopping = true;  // /ready answers 503 from now on; responses say Connection: close
  // Live tails are long-lived and hold no request: they end now, not at the end of the grace.
  g.tail.close_all();
  // Go on accepting for the drain delay, so that a load balancer polling /ready sees the 503
  // and stops sending before the listener closes.
  if (g.cfg->timeouts.drain_delay.count() > 0) std::this_thread::sleep_for(g.cfg->timeouts.drain_delay);
  net::post(g.accept_ioc, [&g] {
    boost::system::error_code ec;
    g.acceptor.close(ec);
    g.metrics_acceptor.close(ec);
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
  if (g.metrics_worker) net::post(g.metrics_worker->ioc, [wp = g.metrics_worker.get()] { wp->watchdog.abort_all(); });
  // Parked connections close when their cut wait completes, on their worker: waited for too, so
  // that none is left open once the workers stop.
  const auto cut = Clock::now() + kAbortWait;
  while ((g.in_flight.load() > 0 || parked_connections(g) > 0) && Clock::now() < cut) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (const int64_t left = g.in_flight.load(); left > 0) {
    spdlog::error("{} request(s) did not end within {} ms of being cut and are not recorded", left,
                  std::chrono::duration_cast<std::chrono::milliseconds>(kAbortWait).count());
  }
  for (auto& w : g.workers) {
    w->guard.reset();
    w->ioc.stop();
  }
  if (g.metrics_worker) {
    g.metrics_worker->guard.reset();
    g.metrics_worker->ioc.stop();
    if (g.metrics_worker->thread.joinable()) g.metrics_worker->thread.join();
  }
  for (auto& w : g.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  // The tails ended at close_all() above; one whose client does not take its last chunk is cut.
  g.tail_io.guard.reset();
  const auto tails_cut = Clock::now() + kAbortWait;
  while (g.tail_io.open.load() > 0 && Clock::now() < tails_cut) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  g.tail_io.ioc.stop();
  if (g.tail_io.thread.joinable()) g.tail_io.thread.join();
  if (g.recorder) g.recorder->flush();  // every finished request is logged and its row is on disk
  if (g.capture) g.capture->flush();
  // After the last records: nothing is evaluated or posted from here on.
  if (g.alerts) g.alerts->stop();
}

void Gateway::run_until_signal(const std::function<void()>& on_reload) {
  net::io_context sig_ioc(1);
  net::signal_set signals(sig_ioc, SIGINT, SIGTERM, SIGHUP);
  signals.add(SIGUSR1);
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
    if (sig == SIGUSR1) {
      // logrotate renamed the log files: the next lines go to new files at their paths.
      reopen_log_files();
      spdlog::info("signal SIGUSR1 received: the log files were reopened");
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
    gen = std::make_shared<Generation>(next, g.gen->id + 1, g.limits);
  } catch (const std::exception& e) {  // e.g. a CA file that cannot be read
    r.error = e.what();
    return r;
  }
  // A provider the running generation also has may keep state worth keeping (a zai-web
  // guest token: no new one is fetched for nothing).
  for (auto& rt : gen->providers.all()) {
    for (auto& old : g.gen->providers.all()) {
      if (old.cfg->name == rt.cfg->name && old.cfg->kind == rt.cfg->kind) rt.dialect->carry_over(*old.dialect);
    }
  }
  g.gen = gen;
  g.metrics->set_models(model_names(*next));
  g.cache->set_max_bytes(next->cache.max_bytes);
  if (g.metrics_worker) {
    net::post(g.metrics_worker->ioc, [wp = g.metrics_worker.get(), wg = std::make_shared<WorkerGeneration>(gen)]() mutable {
      wp->current = std::move(wg);
    });
  }
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
policy::LocalLimitStore& Gateway::limit_store() { return impl_->limits; }

std::vector<policy::BudgetUse> Gateway::budget_use() const {
  std::shared_ptr<Generation> gen;
  {
    std::lock_guard lock(impl_->reload_mu);
    gen = impl_->gen;
  }
  if (!gen) return {};
  return policy::budget_use(gen->policies, impl_->limits.now_ms());
}
uint16_t Gateway::metrics_port() const { return impl_->metrics_port; }

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
