#pragma once
// The mock upstream as a pure "response plan" engine. A dialect turns a request into a Plan
// (status, headers, timed byte steps and how the response ends); the I/O executor
// (mock_server.cpp) only plays plans on sockets. Keeping dialects free of Asio means a new
// upstream dialect is a few plain .cpp files that compile quickly and can be tested with no
// socket at all.
//
// Adding a dialect (as src/mock/v4/ and src/mock/zai/ do):
//   1. write a folder src/mock/<dir>/ with a function
//        void zgate::mock::register_<name>_dialect(Registry& r) { r.add({...}); ... }
//   2. append X(<name>) to ZGATE_MOCK_DIALECTS below (the ONE line).
// register_all_dialects() calls every listed registration function by name, so the static
// library cannot drop the dialect's object file the way it drops unreferenced self-registering
// globals.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#define ZGATE_MOCK_DIALECTS(X) X(v4) X(zai_web)

namespace zgate::mock {

using Millis = std::chrono::milliseconds;
using Headers = std::vector<std::pair<std::string, std::string>>;

// One received request. Views into the executor's buffers, valid during the handler call only.
struct MockRequest {
  std::string_view method;
  std::string_view target;  // path + query
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  // Bytes readable at body.data(); when >= body.size() + simdjson padding the body can be
  // parsed in place (the executor reserves it), otherwise the dialect copies.
  std::size_t body_capacity = 0;

  std::string_view path() const;                          // target without the query
  std::string_view query() const;                         // after '?', empty if none
  std::string_view header(std::string_view name) const;   // case-insensitive; "" if absent
  bool has_header(std::string_view name) const;
};

// A piece of the response body, written after waiting `delay`. With a chunked plan each
// non-empty step is one HTTP chunk (and one write); otherwise the raw bytes are written.
struct Step {
  Millis delay{0};
  std::string bytes;
};

enum class End : unsigned char {
  complete,        // finish the body (last chunk) and keep the connection if allowed
  close_abruptly,  // close the TCP connection right after the last step (no last chunk)
  hang,            // send nothing more, hold the connection until the peer leaves
};

struct Plan {
  int status = 200;
  // Content-Type etc.; the executor adds framing and Connection. A "Content-Length" here
  // overrides the computed one (to announce a body that is then cut short).
  Headers headers;
  bool chunked = false;  // false: Content-Length = total size of all steps
  std::vector<Step> steps;
  End end = End::complete;
  Millis delay_headers{0};            // wait before the response head
  bool close_before_headers = false;  // read the request, then close without answering
  bool hang_before_headers = false;   // read the request, then never answer
  // Released when the executor is done with the response (e.g. a concurrency slot).
  std::shared_ptr<void> hold;
  const char* label = "";  // scenario name, for logs

  std::size_t body_size() const;
};
using PlanPtr = std::shared_ptr<const Plan>;

// Options every dialect may read.
struct DialectOptions {
  std::vector<std::string> api_keys;  // accepted keys; empty = any non-empty bearer
  int concurrency_limit = 0;          // per (key, model) in-flight requests; 0 = unlimited
  bool fast = false;                  // benchmark upstream: cache rendered plans, no extras
  int default_chunks = 8;             // content pieces of a default streamed answer
  Millis default_delay{0};            // delay between streamed pieces by default
  std::string zai_signing_secret;     // chat.z.ai web dialect: X-Signature secret
};

// Shared, thread-safe state of one mock instance, handed to every handler.
class MockContext {
 public:
  explicit MockContext(DialectOptions options);
  const DialectOptions& options() const { return options_; }

  // A process-unique sequence number (ids, names).
  uint64_t next_seq();

  // Takes an in-flight slot for `key` when the concurrency limit allows it. `ok` is false
  // when the limit is reached; otherwise `hold` releases the slot when destroyed (put it in
  // Plan::hold). With no limit, ok is true and hold is empty.
  struct Slot {
    bool ok = true;
    std::shared_ptr<void> hold;
  };
  Slot try_acquire(const std::string& key);

  // One T per context, created on first use (thread-safe creation; T guards its own data).
  template <class T>
  T& dialect_state() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    auto& slot = states_[std::type_index(typeid(T))];
    if (!slot) slot = std::make_shared<T>();
    return *static_cast<T*>(slot.get());
  }

 private:
  struct Inflight;
  DialectOptions options_;
  std::shared_ptr<Inflight> inflight_;
  std::mutex state_mutex_;
  std::unordered_map<std::type_index, std::shared_ptr<void>> states_;
};

using Handler = PlanPtr (*)(const MockRequest&, MockContext&);

enum class Match : unsigned char { exact, prefix, suffix };

struct Route {
  std::string method;  // empty = any method (the handler answers 405 itself if it cares)
  Match match = Match::prefix;
  std::string path;
  Handler handler = nullptr;
};

// Path routing between dialects: an exact path wins, then the longest prefix, then the
// longest suffix. Read-only after setup, so lookups need no lock.
class Registry {
 public:
  void add(Route r);
  Handler find(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

#define ZGATE_MOCK_DECLARE_DIALECT(name) void register_##name##_dialect(Registry& r);
ZGATE_MOCK_DIALECTS(ZGATE_MOCK_DECLARE_DIALECT)
#undef ZGATE_MOCK_DECLARE_DIALECT

// Built-in routes (GET /health) plus every dialect in ZGATE_MOCK_DIALECTS.
void register_all_dialects(Registry& r);

// The whole pure engine: routing plus shared state. handle() is thread-safe.
class Engine {
 public:
  explicit Engine(DialectOptions options);
  PlanPtr handle(const MockRequest& req);
  MockContext& context() { return ctx_; }

 private:
  MockContext ctx_;
  Registry registry_;
};

// ---- Plan building helpers shared by dialects ----

// A complete (non-streamed) response with one body step.
PlanPtr simple_plan(int status, std::string content_type, std::string body, const char* label = "");
// {"error":{"code":"<code>","message":"<message>"}} with `status`, as the v4 API shapes errors.
PlanPtr v4_error_plan(int status, std::string_view code, std::string_view message, const char* label = "");
// Appends "data: <payload>\n\n".
void append_sse(std::string& out, std::string_view payload);

}  // namespace zgate::mock
