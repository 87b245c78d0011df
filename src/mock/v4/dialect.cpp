// The v4 route: path and method, auth, scenario selection (header, marker, default), the
// per-(key, model) concurrency limit and, with --fast, a per-thread cache of rendered plans.
#include <array>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "v4.hpp"

namespace zgate::mock {
namespace v4 {
namespace {

// ---------------------------------------------------------------------------------------
// Fast mode: identical requests get the plan rendered the first time (benchmark upstream).

struct CacheEntry {
  std::string key;
  PlanPtr plan;
};

// Requests seen per "flaky" tag (the scenario's state across requests).
struct FlakyState {
  std::mutex mu;
  std::unordered_map<std::string, int64_t> seen;
  int64_t count(const std::string& tag) {
    std::lock_guard lock(mu);
    return ++seen[tag];
  }
};

PlanPtr handle_v4(const MockRequest& req, MockContext& mc) {
  const DialectOptions& opt = mc.options();
  const std::string_view path = req.path();
  if (path.size() < 17 || path.substr(path.size() - 17) != "/chat/completions")
    return v4_error_plan(404, "404", "Not Found", "not_found");
  if (req.method != "POST") return v4_error_plan(405, "405", "Method Not Allowed", "method");

  const AuthResult auth = check_auth(req, opt.api_keys);
  if (!auth.ok) return v4_error_plan(auth.status, auth.code, auth.message, "auth");

  const std::string_view header_spec = req.header("x-mock-scenario");
  std::optional<Scenario> sc = header_spec.empty() ? std::nullopt : parse_scenario(header_spec);
  if (sc) {
    if (PlanPtr p = bodyless_plan(*sc)) return p;
  }

  const bool cache = opt.fast && opt.concurrency_limit <= 0 && req.body.size() <= 64 * 1024;
  thread_local std::array<CacheEntry, 16> entries;
  thread_local std::size_t next_entry = 0;
  thread_local std::string key;
  if (cache) {
    key.assign(header_spec);
    key.push_back('\0');
    key.append(req.body);
    for (const auto& e : entries)
      if (e.plan && e.key == key) return e.plan;
  }

  V4Request rq;
  const bool parsed = parse_request(req, rq);
  if (!sc) {
    if (!parsed) return v4_error_plan(400, "1210", "API 调用参数有误，请检查文档。", "bad_json");
    if (!rq.has_user) return v4_error_plan(400, "1214", "messages 参数非法。请检查文档。", "no_user");
    sc = find_scenario_marker(rq.last_user_text);
    if (sc) {
      if (PlanPtr p = bodyless_plan(*sc)) return p;
    }
  }
  // "flaky times=N code=C tag=T": the first N requests carrying tag T fail as error C would
  // (a GLM business code such as 1302, or 503, or "drop" to close before any header), later
  // ones are answered: a transient upstream failure for retry tests.
  if (sc && sc->name == "flaky") {
    auto& st = mc.dialect_state<FlakyState>();
    const int64_t seen = st.count(std::string(sc->param("tag")));
    if (seen <= sc->param_int("times", 1)) {
      const std::string code = sc->has("code") ? std::string(sc->param("code")) : std::string("1302");
      if (code == "drop") {
        auto p = std::make_shared<Plan>();
        p->close_before_headers = true;
        p->label = "flaky_drop";
        return p;
      }
      Scenario as_error;
      as_error.name = "err_" + code;
      if (PlanPtr p = bodyless_plan(as_error)) return p;
      return v4_error_plan(400, "1210", "flaky: unknown code " + code, "flaky");
    }
    sc->name = "plain";
  }
  if (!sc) {
    Scenario d;
    if (rq.last_role == "tool") d.name = "tool_result";
    else if (!rq.tools.empty() && rq.last_role == "user") d.name = "tools";
    else if (rq.thinking) d.name = "reasoning";
    else d.name = "plain";
    sc = std::move(d);
  }

  MockContext::Slot slot = mc.try_acquire(auth.principal + '\n' + rq.model);
  if (!slot.ok) {
    return v4_error_plan(429, "1302",
                         "High concurrency usage of this API, please reduce concurrency or contact customer service "
                         "to increase limits",
                         "concurrency");
  }

  Build b{req, rq, *sc, mc, {}, Millis{0}, 8};
  b.head.id = v4_response_id(mc.next_seq());
  b.head.created = unix_seconds();
  b.head.model = rq.model;
  b.head.request_id = rq.request_id;
  b.head.f2026 = sc->name == "format2026" || sc->param("format") == "2026";
  b.delay = Millis{std::max<int64_t>(0, sc->param_int("delay_ms", opt.default_delay.count()))};
  b.chunks = static_cast<std::size_t>(std::max<int64_t>(1, sc->param_int("chunks", opt.default_chunks)));

  PlanPtr plan = build_plan(b);
  if (!plan) {
    return v4_error_plan(400, "1210", "Unknown mock scenario: " + sc->name, "unknown_scenario");
  }
  if (slot.hold) {
    auto held = std::make_shared<Plan>(*plan);
    held->hold = std::move(slot.hold);
    return held;
  }
  if (cache) {
    entries[next_entry] = CacheEntry{key, plan};
    next_entry = (next_entry + 1) % entries.size();
  }
  return plan;
}

}  // namespace

}  // namespace v4

void register_v4_dialect(Registry& r) {
  for (const char* prefix : {"/api/paas/v4/", "/api/coding/paas/v4/", "/v4/"})
    r.add({"", Match::prefix, prefix, &v4::handle_v4});
  // Any other .../chat/completions not claimed by a more specific dialect route.
  r.add({"", Match::suffix, "/chat/completions", &v4::handle_v4});
}

}  // namespace zgate::mock
