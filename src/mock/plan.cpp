// The pure mock engine: request accessors, routing between dialects, shared state.
#include "zgate/mock/plan.hpp"

#include <atomic>
#include <map>

#include "zgate/json/writer.hpp"
#include "zgate/core/text.hpp"

namespace zgate::mock {

std::string_view MockRequest::path() const {
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view MockRequest::query() const {
  const auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

std::string_view MockRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (text::iequals(k, name)) return v;
  return {};
}

bool MockRequest::has_header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (text::iequals(k, name)) return true;
  return false;
}

std::size_t Plan::body_size() const {
  std::size_t n = 0;
  for (const auto& s : steps) n += s.bytes.size();
  return n;
}

// In-flight counters per key. Shared with every slot so a slot released after the context
// is gone (the executor tearing down late) still has something valid to decrement.
struct MockContext::Inflight {
  std::mutex mutex;
  std::map<std::string, int, std::less<>> counts;
};

MockContext::MockContext(DialectOptions options)
    : options_(std::move(options)), inflight_(std::make_shared<Inflight>()) {}

uint64_t MockContext::next_seq() {
  static std::atomic<uint64_t> seq{1};
  return seq.fetch_add(1, std::memory_order_relaxed);
}

MockContext::Slot MockContext::try_acquire(const std::string& key) {
  if (options_.concurrency_limit <= 0) return {};
  std::lock_guard<std::mutex> lock(inflight_->mutex);
  int& n = inflight_->counts[key];
  if (n >= options_.concurrency_limit) return Slot{false, {}};
  ++n;
  // Releasing the slot = destroying this object (held by Plan::hold until the response ends).
  struct Release {
    std::shared_ptr<Inflight> inflight;
    std::string key;
    ~Release() {
      if (!inflight) return;  // moved from
      std::lock_guard<std::mutex> l(inflight->mutex);
      auto it = inflight->counts.find(key);
      if (it != inflight->counts.end() && --it->second <= 0) inflight->counts.erase(it);
    }
  };
  auto release = std::make_shared<Release>();
  release->inflight = inflight_;
  release->key = key;
  std::shared_ptr<void> hold = std::move(release);
  return Slot{true, std::move(hold)};
}

void Registry::add(Route r) { routes_.push_back(std::move(r)); }

Handler Registry::find(std::string_view method, std::string_view path) const {
  const Route* best = nullptr;
  auto rank = [](const Route& r) { return r.match == Match::exact ? 2 : r.match == Match::prefix ? 1 : 0; };
  for (const auto& r : routes_) {
    if (!r.method.empty() && r.method != method) continue;
    bool hit = false;
    switch (r.match) {
      case Match::exact: hit = path == r.path; break;
      case Match::prefix: hit = path.substr(0, r.path.size()) == r.path; break;
      case Match::suffix:
        hit = path.size() >= r.path.size() && path.substr(path.size() - r.path.size()) == r.path;
        break;
    }
    if (!hit) continue;
    if (!best || rank(r) > rank(*best) || (rank(r) == rank(*best) && r.path.size() > best->path.size()))
      best = &r;
  }
  return best ? best->handler : nullptr;
}

namespace {

PlanPtr health(const MockRequest&, MockContext&) {
  static const PlanPtr plan = simple_plan(200, "application/json; charset=UTF-8", R"({"status":"ok"})", "health");
  return plan;
}

PlanPtr not_found_plan() {
  static const PlanPtr plan = v4_error_plan(404, "404", "Not Found", "not_found");
  return plan;
}

}  // namespace

void register_all_dialects(Registry& r) {
  r.add({"GET", Match::exact, "/health", &health});
#define ZGATE_MOCK_CALL_DIALECT(name) register_##name##_dialect(r);
  ZGATE_MOCK_DIALECTS(ZGATE_MOCK_CALL_DIALECT)
#undef ZGATE_MOCK_CALL_DIALECT
}

Engine::Engine(DialectOptions options) : ctx_(std::move(options)) { register_all_dialects(registry_); }

PlanPtr Engine::handle(const MockRequest& req) {
  const Handler h = registry_.find(req.method, req.path());
  if (!h) return not_found_plan();
  PlanPtr plan = h(req, ctx_);
  return plan ? plan : not_found_plan();
}

PlanPtr simple_plan(int status, std::string content_type, std::string body, const char* label) {
  auto p = std::make_shared<Plan>();
  p->status = status;
  p->headers.emplace_back("Content-Type", std::move(content_type));
  p->steps.push_back(Step{Millis{0}, std::move(body)});
  p->label = label;
  return p;
}

PlanPtr v4_error_plan(int status, std::string_view code, std::string_view message, const char* label) {
  std::string body;
  json::Writer w(body);
  w.begin_object().key("error").begin_object().kv("code", code).kv("message", message).end_object().end_object();
  return simple_plan(status, "application/json; charset=UTF-8", std::move(body), label);
}

void append_sse(std::string& out, std::string_view payload) {
  out.append("data: ", 6);
  out.append(payload);
  out.append("\n\n", 2);
}

}  // namespace zgate::mock
