// GET /admin/usage and GET /admin/requests: the report module's queries over the usage store,
// for the operator (admin key). The worker parses and checks the request, the admin query
// thread runs SQLite, the worker writes the answer. POST /admin/reload runs the configuration
// reload on the same thread. GET /admin/requests/stream, the live tail: the worker answers the
// request's head, then the connection moves to the tails' own thread (TailIo).
#include <chrono>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "endpoints.hpp"
#include "zgate/h1/head.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/obs/tail.hpp"
#include "zgate/report/report.hpp"

namespace zgate {
namespace {

struct Answer {
  int status = 200;
  std::string body;       // JSON when status is 200
  std::optional<ApiError> error;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// On the admin query thread: opens the store once, then runs `query` on it.
template <class F>
Answer on_store(AdminQueries& q, const std::string& path, F&& query) {
  std::string error;
  if (!q.store) q.store = report::Store::open(path, error);
  if (!q.store) return {0, {}, service_unavailable("The usage store cannot be read: " + error, "usage_store_unavailable", 5)};
  Answer a;
  if (!query(*q.store, a.body, error)) {
    q.store.reset();  // opened again by the next query
    return {0, {}, internal_error("The usage store query failed: " + error)};
  }
  return a;
}

// Checks the store, bounds the queries waiting, runs `query` on the admin thread. `query` is
// taken by reference (a coroutine's by-value parameter of class type is miscompiled by GCC 12)
// and copied into the job, which outlives this frame if the connection goes away.
template <class F>
net::awaitable<bool> run_admin_query(Request& c, ResponseWriter& out, const F& query) {
  const Config& boot = *c.conn.g.cfg;  // the usage store is a restart setting
  if (!boot.usage_store) {
    co_return co_await out.send_error(
        not_found("The usage store is off (usage_store = false / ZGATE_USAGE_STORE=false).", "usage_store_off")) &&
        c.keep_alive;
  }
  AdminQueries& q = c.conn.g.admin;
  if (q.queued.fetch_add(1, std::memory_order_relaxed) >= AdminQueries::kMaxQueries) {
    q.queued.fetch_sub(1, std::memory_order_relaxed);
    co_return co_await out.send_error(service_unavailable(
               "Too many admin queries are running; retry shortly.", "admin_queries_busy", 1)) &&
        c.keep_alive;
  }
  // A named job: GCC 12 mishandles a temporary with a destructor that lives across a co_await.
  auto job = [&q, path = usage_db_path(boot), query]() -> net::awaitable<Answer> {
    Answer r = on_store(q, path, query);
    q.queued.fetch_sub(1, std::memory_order_relaxed);
    co_return r;
  };
  Answer a = co_await net::co_spawn(q.pool, std::move(job), net::use_awaitable);
  if (a.error) co_return co_await out.send_error(*a.error) && c.keep_alive;
  co_return co_await out.send(200, std::move(a.body), "application/json") && c.keep_alive;
}

std::string_view query_string(const Request& c) {
  const std::string_view target = c.req.target;
  const size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// A report over the usage store: the admin key first (parameters are checked only for the
// operator), then the query string read by `parse` (report::usage_query, requests_query), then
// `answer(store, parsed query, body, error)` on the admin query thread.
template <class Parse, class Respond>
net::awaitable<bool> admin_report(Request& c, ResponseWriter& out, const Parse& parse, const Respond& answer) {
  if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  auto parsed = parse(query_string(c), now_ms());
  if (!parsed) co_return co_await out.send_error(parsed.error()) && c.keep_alive;
  const auto query = [q = std::move(*parsed), answer](report::Store& s, std::string& body, std::string& error) {
    return answer(s, q, body, error);
  };
  co_return co_await run_admin_query(c, out, query);
}

// How often an idle live tail sends a comment, so that proxies keep it open and a client that
// left is noticed: timeouts.stream_heartbeat when set, else this.
constexpr Millis kTailKeepAlive = std::chrono::seconds(15);

// One live tail. The worker that answered its head creates it and hands it over; from then on
// it lives on the tails' thread, which creates the socket (from the worker's descriptor) and the
// timers: the worker never holds an object of the tails' io_context.
struct TailStream {
  TailStream(Gateway::Impl& gw, Millis beat, Millis write_limit) : g(gw), heartbeat(beat), write_timeout(write_limit) {}
  ~TailStream() {
    if (fd >= 0) ::close(fd);  // handed over, but the tails' thread stopped before it ran
    if (sub) g.tail.unsubscribe(sub);
    if (counted) {
      g.tail_io.open.fetch_sub(1, std::memory_order_relaxed);
      g.connections.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  TailStream(const TailStream&) = delete;
  TailStream& operator=(const TailStream&) = delete;

  // The recorder thread's wake-up, posted to the tails' thread: it ends the wait for lines, and
  // when the subscription was dropped (its client did not read) it also cancels a write stuck on
  // the client's full socket. Before tail_run() has started there is nothing to end.
  void wake() {
    pending = true;
    if (!sock) return;
    timer->cancel();
    if (sub->dropped()) {
      boost::system::error_code ec;
      sock->cancel(ec);
    }
  }

  Gateway::Impl& g;
  const Millis heartbeat, write_timeout;
  std::shared_ptr<obs::TailSubscription> sub;
  // Set by the worker at the handover.
  tcp protocol = tcp::v4();
  int fd = -1;
  bool counted = false;
  // The tails' thread's (tail_run).
  std::optional<tcp::socket> sock;
  std::optional<net::steady_timer> timer;        // the wait for lines (and the heartbeat)
  std::optional<net::steady_timer> write_timer;  // a write's deadline (timeouts.client_write)
  uint64_t writes = 0;   // writes started
  bool writing = false;  // one is running
  bool late = false;     // one missed its deadline
  bool pending = false;  // woken while not waiting: do not wait
  bool hung_up = false;
};

// Writes `data` as one chunk of the response (`last`: the last chunk follows; an empty `data`
// with `last` is only the last chunk), within the write deadline; false when it failed.
net::awaitable<bool> tail_write(const std::shared_ptr<TailStream>& t, std::string_view data, bool last) {
  const h1::ChunkSize size = h1::chunk_size(data.size());
  const std::string_view end = last ? h1::kChunkEndAndLast : h1::kChunkEnd;
  std::array<net::const_buffer, 3> bufs{net::buffer(size.bytes, size.size), net::buffer(data.data(), data.size()),
                                        net::buffer(end.data(), end.size())};
  if (data.empty()) bufs = {net::buffer(h1::kLastChunk.data(), h1::kLastChunk.size()), {}, {}};
  // The deadline's handler may run after the write has ended (both completed in one turn):
  // it acts only on the write it was set for.
  const uint64_t write = ++t->writes;
  t->write_timer->expires_after(t->write_timeout);
  t->write_timer->async_wait([w = std::weak_ptr(t), write](boost::system::error_code ec) {
    auto s = w.lock();
    if (ec || !s || s->writes != write || !s->writing) return;
    s->late = true;
    s->sock->cancel(ec);
  });
  t->writing = true;
  auto [ec, n] = co_await net::async_write(*t->sock, bufs, net::as_tuple(net::use_awaitable));
  t->writing = false;
  t->write_timer->cancel();
  co_return !ec && !t->late;
}

// Reads (and ignores) whatever the client sends, until it hangs up: then the tail ends.
net::awaitable<void> tail_watch(std::shared_ptr<TailStream> t) {
  char scrap[256];
  for (;;) {
    auto [ec, n] = co_await t->sock->async_read_some(net::buffer(scrap), net::as_tuple(net::use_awaitable));
    if (!ec) continue;
    if (ec != net::error::operation_aborted && !t->hung_up) {
      t->hung_up = true;
      t->timer->cancel();
      t->sock->cancel(ec);
    }
    co_return;
  }
}

// The tail's life on the tails' thread: take what the hub queued, write it, wait for more.
net::awaitable<void> tail_run(std::shared_ptr<TailStream> t) {
  net::io_context& ioc = t->g.tail_io.ioc;
  t->timer.emplace(ioc);
  t->write_timer.emplace(ioc);
  boost::system::error_code ec;
  tcp::socket& sock = t->sock.emplace(ioc);
  sock.assign(t->protocol, t->fd, ec);
  if (ec) co_return;  // the destructor closes the descriptor
  t->fd = -1;
  net::co_spawn(ioc, tail_watch(t), net::detached);
  std::string chunk;  // the events of one pass, as the hub framed them (swapped, never copied)
  bool ok = true;
  while (ok) {
    t->pending = false;
    const bool live = t->sub->take(chunk);
    if (t->sub->dropped()) break;
    if (!chunk.empty()) ok = co_await tail_write(t, chunk, false);
    if (!ok || !live || t->hung_up) break;
    if (t->pending) continue;
    t->timer->expires_after(t->heartbeat);
    auto [wait_ec] = co_await t->timer->async_wait(net::as_tuple(net::use_awaitable));
    if (t->hung_up) break;
    if (!wait_ec) ok = co_await tail_write(t, ": keep-alive\n\n", false);
  }
  if (ok && !t->sub->dropped() && !t->hung_up) co_await tail_write(t, {}, true);
  t->g.tail.unsubscribe(t->sub);
  sock.shutdown(tcp::socket::shutdown_send, ec);
  sock.close(ec);  // ends tail_watch
}

}  // namespace

// GET /admin/requests/stream: finished requests as Server-Sent Events, one JSON access line each.
// Not recorded and not counted in flight: a tail lasts as long as its client wants, and neither
// the shutdown grace nor the drain waits for it (stop() ends every tail first).
net::awaitable<bool> requests_stream(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  if (c.req.method != http::verb::get)
    co_return co_await out.send_error(method_not_allowed("Use GET for /admin/requests/stream.")) && c.keep_alive;
  auto filter = obs::parse_tail_filter(query_string(c));
  if (!filter) co_return co_await out.send_error(filter.error()) && c.keep_alive;
  Gateway::Impl& g = c.conn.g;
  const Millis beat = c.cfg.timeouts.stream_heartbeat.count() > 0 ? c.cfg.timeouts.stream_heartbeat : kTailKeepAlive;
  auto t = std::make_shared<TailStream>(g, beat, c.cfg.timeouts.client_write);
  t->sub = g.tail.subscribe(std::move(*filter), [w = std::weak_ptr(t), ex = g.tail_io.ioc.get_executor()] {
    net::post(ex, [w] {
      if (auto s = w.lock()) s->wake();
    });
  });
  if (!t->sub) {
    co_return co_await out.send_error(service_unavailable(
               g.stopping.load() ? "zgate is shutting down." : "Too many live tails are open; try again later.",
               "tail_unavailable", 5)) &&
        c.keep_alive;
  }
  c.keep_alive = false;  // the stream ends with the connection
  // A fixed, small kernel buffer: the subscriber's queue is what bounds a slow client, not a
  // send buffer the kernel would grow to megabytes.
  boost::system::error_code ec;
  c.conn.sock.set_option(net::socket_base::send_buffer_size(64 * 1024), ec);
  if (!co_await out.start_stream()) co_return false;  // t's destructor unsubscribes
  // The connection moves to the tails' thread; the session ends without touching it again.
  t->protocol = c.conn.sock.local_endpoint(ec).protocol();
  if (ec) co_return false;
  t->fd = c.conn.sock.release(ec);
  if (ec) co_return false;
  t->counted = true;
  g.tail_io.open.fetch_add(1, std::memory_order_relaxed);
  g.connections.fetch_add(1, std::memory_order_relaxed);  // still open, now on the tails' thread
  net::co_spawn(g.tail_io.ioc, tail_run(std::move(t)), net::detached);
  co_return false;
}

net::awaitable<bool> admin_usage(Request& c, ResponseWriter& out) {
  co_return co_await admin_report(
      c, out, report::usage_query,
      [](report::Store& s, const report::UsageQuery& uq, std::string& body, std::string& error) {
        report::Report r;
        if (!s.usage(uq.filter, uq.by, r, error)) return false;
        body = report::to_json(r);
        return true;
      });
}

net::awaitable<bool> admin_requests(Request& c, ResponseWriter& out) {
  co_return co_await admin_report(
      c, out, report::requests_query,
      [](report::Store& s, const report::RequestFilter& rf, std::string& body, std::string& error) {
        report::RequestPage page;
        if (!s.requests(rf, page, error)) return false;
        body = report::to_json(page);
        return true;
      });
}

// POST /admin/reload: what SIGHUP does, answered. The configuration is read again (files are
// read and checked: never on a worker) on the admin thread; 200 with the new generation and the
// settings that need a restart, or 422 naming why the new configuration was refused (the running
// one stays).
net::awaitable<bool> admin_reload(Request& c, ResponseWriter& out) {
  if (auto auth = authenticate_admin(c); !auth) co_return co_await out.send_error(auth.error()) && c.keep_alive;
  Gateway::Impl& g = c.conn.g;
  if (!g.reloader) {
    co_return co_await out.send_error(not_found("This zgate has no configuration source to reload from.",
                                                "reload_unavailable")) &&
        c.keep_alive;
  }
  AdminQueries& q = g.admin;
  if (q.queued.fetch_add(1, std::memory_order_relaxed) >= AdminQueries::kMaxQueries) {
    q.queued.fetch_sub(1, std::memory_order_relaxed);
    co_return co_await out.send_error(
               service_unavailable("Too many admin requests are running; retry shortly.", "admin_queries_busy", 1)) &&
        c.keep_alive;
  }
  auto job = [&q, &g]() -> net::awaitable<Gateway::ReloadResult> {
    Gateway::ReloadResult r = g.reloader();
    q.queued.fetch_sub(1, std::memory_order_relaxed);
    co_return r;
  };
  const Gateway::ReloadResult r = co_await net::co_spawn(q.pool, std::move(job), net::use_awaitable);
  if (!r.applied) {
    ApiError e;
    e.status = 422;
    e.type = "invalid_request_error";
    e.code = "config_rejected";
    e.message = "Configuration reload refused: " + r.error + "; the running configuration stays.";
    co_return co_await out.send_error(e) && c.keep_alive;
  }
  std::string body;
  json::Writer w(body);
  w.begin_object();
  w.key("reloaded").boolean(true);
  w.key("generation").number(static_cast<int64_t>(r.generation));
  w.key("restart_needed").begin_array();
  for (const auto& name : r.restart_needed) w.string(name);
  w.end_array();
  w.end_object();
  co_return co_await out.send(200, std::move(body), "application/json") && c.keep_alive;
}

}  // namespace zgate
