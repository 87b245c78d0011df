#pragma once
// The response cache on the request path (docs/cache.md): whether a request may use it, a hit
// answered from an entry (stream or whole), a complete answer stored. Private to src/server.
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "conn.hpp"
#include "zgate/cache/entry.hpp"
#include "zgate/cache/store.hpp"
#include "zgate/route/router.hpp"

namespace zgate {

// What the cache does for one request.
struct CachePlan {
  bool read = false;   // look the answer up
  bool write = false;  // store a complete answer
  cache::Key key;
  const ModelRoute* route = nullptr;  // the route the key was made for (a fallback's answer is not stored)
  // Coalescing: the flight this request leads (its answer's events are published to it).
  std::shared_ptr<cache::Flight> flight;
  bool flight_complete = false;  // the leader's answer was whole
  bool finished = false;         // finish_cache() ran
};

// Waits on the flight an identical request leads and answers from its events as they come
// (a stream waiter gets each event as the leader reads it). nullopt when the flight failed
// before anything was sent: the caller then goes upstream itself. Else true to keep the
// connection.
net::awaitable<std::optional<bool>> serve_waiter(Request& c, ResponseWriter& out, const ChatRequest& creq,
                                                 std::shared_ptr<cache::Flight> f);

// Decides for the request (sets info.cache: "" when the cache is off for it, else "miss" or
// "bypass"); nullopt when the cache is off for it.
std::optional<CachePlan> plan_cache(Request& c, const ChatRequest& creq, const Router::Target& t);

// Answers the request from `e` (a stream at once or paced, or one body); true to keep the
// connection.
net::awaitable<bool> serve_hit(Request& c, ResponseWriter& out, const ChatRequest& creq, const cache::Entry& e);

// The answer the builder recorded has ended (before its last bytes go to the client): stored
// under the plan's key when it is complete and the client is still there, and the flight this
// request leads ended (complete or failed) and removed. Once per request.
void finish_cache(Request& c, cache::EntryBuilder& b, bool client_left = false);

// GET /admin/cache (the store's figures) and DELETE /admin/cache[?model=...&key_prefix=...].
net::awaitable<bool> admin_cache(Request& c, ResponseWriter& out);

// The store's gauges for /metrics (zgate_cache_bytes, zgate_cache_entries).
void write_cache_metrics(std::string& out, const cache::CacheStore& store);

// Unix milliseconds.
int64_t unix_ms();

}  // namespace zgate
