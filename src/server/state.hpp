#pragma once
// The gateway's runtime state, shared by the server's files (private to src/server): the
// configuration generations, the workers and the process-wide part (Gateway::Impl).
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "providers.hpp"
#include "shaping.hpp"
#include "zgate/alert/alert.hpp"
#include "zgate/cache/store.hpp"
#include "zgate/auth/auth.hpp"
#include "zgate/config/config.hpp"
#include "zgate/io/watchdog.hpp"
#include "zgate/obs/capture.hpp"
#include "zgate/obs/recorder.hpp"
#include "zgate/obs/ticker.hpp"
#include "zgate/report/report.hpp"
#include "zgate/obs/tail.hpp"
#include "zgate/policy/limit_store.hpp"
#include "zgate/route/router.hpp"
#include "zgate/server/gateway.hpp"
#include "zgate/upstream/client.hpp"

namespace zgate {

namespace obs {
class Metrics;
class UpstreamHealth;
}
class UsageStore;

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// The response cache's settings of the routes and keys of one configuration.
struct CacheRules {
  explicit CacheRules(const Config& cfg) {
    wanted = cfg.cache.enabled || cfg.key_defaults.cache == 1;
    for (const auto& m : cfg.models) wanted = wanted || m.cache.value_or(false);
    for (const auto& k : cfg.api_keys) {
      if (k.policy.cache >= 0) keys.emplace(k.label, k.policy.cache == 1);
      wanted = wanted || k.policy.cache == 1;
    }
  }
  // Some route or key turns the cache on, or [cache] enabled does.
  bool wanted = false;
  std::map<std::string, bool, std::less<>> keys;  // client keys with a `cache` of their own
};

// Everything derived from one configuration: routes, client keys, providers. A reload builds a
// new generation and hands it to every worker; a request keeps the generation it started with
// until it ends, so a reload never changes a request midway.
struct Generation {
  Generation(std::shared_ptr<const Config> c, uint64_t n, policy::LimitStore& limits)
      : cfg(std::move(c)),
        router(*cfg),
        auth(cfg->api_keys, cfg->allow_no_auth, cfg->admin_key),
        policies(*cfg, limits),
        cache_rules(*cfg),
        id(n) {
    providers.init(*cfg);
  }
  std::shared_ptr<const Config> cfg;
  Router router;
  Authenticator auth;
  policy::Policies policies;  // per-key limits and budgets, counted in Gateway::Impl::limits
  Providers providers;
  CacheRules cache_rules;
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

// The watchdog's tick: fine enough for the shortest timeout configured.
inline Clock::duration shortest_timeout(const Timeouts& t) {
  return std::min({t.client_header_read, t.client_body_read, t.client_write, t.client_keepalive_idle,
                   t.upstream_connect, t.upstream_tls_handshake, t.upstream_write, t.upstream_first_byte,
                   t.upstream_stream_idle, t.lingering_timeout});
}

// One worker: an io_context on its own thread, with its connections, deadlines and upstream pool.
//
// The io_context is told that only its own thread does I/O on its sockets (UNSAFE_IO): Asio then
// takes no per-socket lock when it starts or completes a read, two lock and unlock pairs per
// relayed chunk. That holds here: a socket is used only by the thread of the worker it was
// accepted for or connected by. The acceptor's thread registers an accepted socket with the
// worker's reactor (registration keeps its lock) and hands it over through the scheduler (which
// keeps its lock too); a live tail releases its socket here before the tails' thread adopts it;
// stop() and reload reach a worker's connections only through posts to that worker.
struct Worker {
  explicit Worker(const Config& c)
      : ioc(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
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
  // Where every stream on this worker encodes its next chunk: empty between the steps of a
  // stream's pump (a chunk is written, or copied by the ResponseWriter when the socket cannot
  // take it, before the pump waits again), so one buffer, warm in the cache, serves them all
  // instead of one per open stream.
  std::string stream_out;
  std::thread thread;
  // Gauges of this worker for /metrics (chat requests being answered, streams open): written
  // only by this worker's thread with a relaxed load and store (no read-modify-write), on a
  // cache line of their own, and summed by a scrape. The shared counters of Gateway::Impl count
  // the same only while an admission limit needs a process-wide figure.
  alignas(64) std::atomic<int64_t> chats_open{0};
  std::atomic<int64_t> streams_open{0};
  std::atomic<int64_t> parked{0};  // client connections parked while idle (session.hpp)
};

// One unit of a Worker gauge for its lifetime; only the worker's own thread may hold one.
struct WorkerCount {
  explicit WorkerCount(std::atomic<int64_t>& c) : n(c) { n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  ~WorkerCount() { n.store(n.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed); }
  WorkerCount(const WorkerCount&) = delete;
  WorkerCount& operator=(const WorkerCount&) = delete;
  std::atomic<int64_t>& n;
};

// The admin endpoints' queries over the usage store (admin.cpp). SQLite never runs on a worker:
// one background thread runs the queries in turn, on a store it opens once; a worker awaits the
// result. At most kMaxQueries are running or waiting; more are answered 503.
struct AdminQueries {
  static constexpr int kMaxQueries = 4;
  AdminQueries() {
    // Named for top -H and perf; background priority like the other background threads, so a
    // long report yields the core to the workers.
    net::post(pool, [] {
      pthread_setname_np(pthread_self(), "zgate-admin");
      obs::lower_this_thread();
    });
  }
  net::thread_pool pool{1};
  std::atomic<int> queued{0};            // admin requests only, never the chat path
  std::unique_ptr<report::Store> store;  // the pool thread's
};

// The live tails' I/O (GET /admin/requests/stream): once a tail's response head is written on
// its worker, the connection moves to this io_context's thread, which writes it every finished
// request from then on. A tail that follows every request at full load writes megabytes a second;
// here that never takes a request worker's time (admin.cpp).
struct TailIo {
  TailIo() : guard(net::make_work_guard(ioc)) {}
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> guard;
  std::thread thread;
  std::atomic<int> open{0};  // tails running here
};

struct Gateway::Impl {
  explicit Impl(std::shared_ptr<const Config> c)
      : cfg(std::move(c)), tail(obs::TailLimits{.max_queued_bytes = cfg->limits.tail_buffer}), acceptor(accept_ioc) {}

  // The configuration zgate started with: what only a restart changes (listen address, workers,
  // logging, the usage store, pool sizes) is read from here; everything else from the
  // generation a request runs in.
  std::shared_ptr<const Config> cfg;
  // The counters of per-key limits and budgets, by key label: they outlive every generation, so
  // a reload keeps them (the limits themselves come from a request's generation).
  policy::LocalLimitStore limits;
  // The live tail's subscribers (/admin/requests/stream); declared before the recorder, which
  // feeds it, so it outlives it.
  obs::TailHub tail;
  // The alert rules ([[alerts]]; null when there are none): one of the recorder's consumers
  // feeds it, so it is declared before the recorder and outlives it.
  std::unique_ptr<alert::Engine> alerts;
  // Hands finished requests to the metrics, the live tail, the access-log writer and the usage
  // store (the last two when on). Always there: the metrics need every record.
  std::unique_ptr<obs::Recorder> recorder;
  obs::Metrics* metrics = nullptr;  // a consumer of `recorder`, which owns it
  obs::UpstreamHealth* health = nullptr;  // likewise (GET /health/upstream, zgate_upstream_*)
  UsageStore* usage = nullptr;      // likewise; null when the usage store is off
  double start_time = 0;            // Unix time, seconds (process_start_time_seconds)
  std::unique_ptr<obs::Capture> capture;  // [capture] enabled only
  std::mutex reload_mu;                 // reloads one at a time
  std::shared_ptr<Generation> gen;      // the newest generation (under reload_mu)
  // Upstream shaping's gates, shared by the workers and kept across reloads (a credential's
  // running requests stay counted); declared before the workers so that it outlives them.
  std::unique_ptr<ShapingStore> shaping = std::make_unique<LocalShapingStore>();
  // The response cache (docs/cache.md): the disk copy (when on), then the memory store written
  // through to it; both kept across reloads. The store is always there (empty when unused).
  std::unique_ptr<cache::DiskCache> cache_disk;
  std::unique_ptr<cache::LocalCacheStore> cache;
  cache::Flights flights;  // coalescing: identical cacheable requests in flight
  std::vector<std::unique_ptr<Worker>> workers;
  net::io_context accept_ioc{1};
  tcp::acceptor acceptor;
  // metrics_listen: its acceptor (on accept_ioc too) and the worker its connections run on,
  // so that a scrape never waits behind chat requests (null / closed when not set).
  tcp::acceptor metrics_acceptor{accept_ioc};
  std::unique_ptr<Worker> metrics_worker;
  uint16_t metrics_port = 0;
  std::thread accept_thread;
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> chats{0};    // chat requests in flight (admission control)
  std::atomic<int64_t> streams{0};  // open streams (admission control)
  std::atomic<uint64_t> requests{0};
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};
  std::function<void()> housekeeping;  // on each worker's thread after its pool sweep
  Gateway::Reloader reloader;          // POST /admin/reload (set before start)
  // Declared after the workers, so destroyed (its thread joined) before them.
  AdminQueries admin;
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;
  // Where the live tails' connections go once their head is written. Last, so destroyed first:
  // a tail still open then unsubscribes from `tail` and uncounts itself from `connections`.
  TailIo tail_io;
};

// Per-connection cancellation: the session coroutine is spawned bound to `signal`, so a
// terminal emit cancels whatever operation it is awaiting (an upstream read, a write, ...).
// The worker's watchdog emits it when the client hangs up during an exchange.
struct ConnCancel {
  net::cancellation_signal signal;
};

// Client connections parked now, over every worker (each counts its own; session.hpp).
inline int64_t parked_connections(const Gateway::Impl& g) {
  int64_t n = g.metrics_worker ? g.metrics_worker->parked.load(std::memory_order_relaxed) : 0;
  for (const auto& w : g.workers) n += w->parked.load(std::memory_order_relaxed);
  return n;
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

}  // namespace zgate
