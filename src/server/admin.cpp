// GET /admin/usage and GET /admin/requests: the report module's queries over the usage store,
// for the operator (admin key). The worker parses and checks the request, the admin query
// thread runs SQLite, the worker writes the answer. POST /admin/reload runs the configuration
// reload on the same thread.
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "endpoints.hpp"
#include "zgate/json/writer.hpp"
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

}  // namespace

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
