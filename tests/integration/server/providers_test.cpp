// The providers' request preparation, without a network: each provider kind's Dialect turns a
// normalised request into the upstream request (the v4 API's without any I/O), with the right
// key from the provider's pool.
#include <catch2/catch.hpp>

#include "server/providers.hpp"
#include "zgate/config/config.hpp"
#include "zgate/model/request.hpp"

using namespace zgate;

namespace {

Config zhipu_config(std::vector<std::string> keys) {
  Config cfg;
  ProviderConfig p;
  p.name = "zhipu";
  p.kind = ProviderKind::zhipu;
  p.base_url = "http://127.0.0.1:9/api/paas/v4";
  p.api_key = keys.front();
  p.api_keys = std::move(keys);
  p.headers["X-Extra"] = "1";
  cfg.providers.push_back(p);
  ModelRoute m;
  m.name = "glm-4.5";
  m.provider = "zhipu";
  m.upstream_model = "glm-4.5";
  cfg.models.push_back(m);
  return cfg;
}

ChatRequest chat(bool stream) {
  ChatRequest r;
  r.model = "glm-4.5";
  r.stream = stream;
  Message m;
  m.content = "hello";
  r.messages.push_back(m);
  return r;
}

std::string header(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

struct Prepared {
  bool now = false;
  Result<void> result;
  PreparedRequest prep;
};

Prepared prepare(ProviderRuntime& rt, ProviderWorkerState& ws, const Config& cfg, ChatRequest req) {
  Prepared p;
  Router::Target t{&cfg.models.front(), rt.cfg, "glm-4.5", true};
  p.now = rt.dialect->prepare_now(req, t, ws, p.prep, p.result);
  return p;
}

// The providers of a configuration and one worker's state for them.
struct Rig {
  const Config& cfg;
  Providers providers;
  ProviderWorkerState ws;
  explicit Rig(const Config& c) : cfg(c) {
    providers.init(cfg);
    ws.init(providers);
  }
  ProviderRuntime& first() { return providers.runtime(cfg.providers.front()); }
};

}  // namespace

TEST_CASE("zhipu dialect: the request is built without I/O, with the key, the path and the provider's headers",
          "[providers]") {
  const Config cfg = zhipu_config({"upstream-key-1"});
  Rig rig(cfg);
  ProviderRuntime& rt = rig.first();
  ProviderWorkerState& ws = rig.ws;
  Prepared p = prepare(rt, ws, cfg, chat(true));
  REQUIRE(p.now);
  REQUIRE(p.result.ok());
  CHECK(p.prep.request.target == "/api/paas/v4/chat/completions");
  CHECK(header(p.prep.request, "Authorization") == "Bearer upstream-key-1");
  CHECK(header(p.prep.request, "X-Extra") == "1");
  CHECK(p.prep.request.body.find(R"("stream":true)") != std::string::npos);
  CHECK(p.prep.decoder != nullptr);
  CHECK(p.prep.key == 0);
}

TEST_CASE("zhipu dialect: two keys are used in turn, and every key resting gives 429 with Retry-After",
          "[providers]") {
  Config cfg = zhipu_config({"key-a", "key-b"});
  Rig rig(cfg);
  ProviderRuntime& rt = rig.first();
  ProviderWorkerState& ws = rig.ws;
  Prepared a = prepare(rt, ws, cfg, chat(false));
  Prepared b = prepare(rt, ws, cfg, chat(false));
  REQUIRE(a.result.ok());
  REQUIRE(b.result.ok());
  CHECK(header(a.prep.request, "Authorization") == "Bearer key-a");
  CHECK(header(b.prep.request, "Authorization") == "Bearer key-b");
  const auto now = CredentialPool::Clock::now();
  rt.keys->release(a.prep.key, CredentialPool::Outcome::rate_limited, std::chrono::seconds(30), now);
  rt.keys->release(b.prep.key, CredentialPool::Outcome::rate_limited, std::chrono::seconds(5), now);
  Prepared c = prepare(rt, ws, cfg, chat(false));
  REQUIRE_FALSE(c.result.ok());
  CHECK(c.result.error().status == 429);
  CHECK(c.result.error().code == "rate_limit_exceeded");
  CHECK(c.result.error().retry_after >= 4);
  CHECK(c.result.error().retry_after <= 5);
}

TEST_CASE("zhipu dialect: upstream errors map to OpenAI errors, throttling ones retryable", "[providers]") {
  const Config cfg = zhipu_config({"k"});
  Providers providers;
  providers.init(cfg);
  const Dialect& d = *providers.runtime(cfg.providers.front()).dialect;
  const ApiError busy = d.map_error(429, "application/json", R"({"error":{"code":"1302","message":"busy"}})");
  CHECK(busy.status == 429);
  CHECK(busy.retryable);
  const ApiError quota = d.map_error(429, "application/json", R"({"error":{"code":"1113","message":"no balance"}})");
  CHECK_FALSE(quota.retryable);
}

TEST_CASE("zai-web dialect: the request needs I/O first (identity), so it is never prepared at once",
          "[providers]") {
  Config cfg;
  ProviderConfig p;
  p.name = "zai";
  p.kind = ProviderKind::zai_web;
  p.base_url = "http://127.0.0.1:9";
  cfg.providers.push_back(p);
  ModelRoute m;
  m.name = "glm-4.5";
  m.provider = "zai";
  cfg.models.push_back(m);
  Rig rig(cfg);
  Prepared r = prepare(rig.first(), rig.ws, cfg, chat(true));
  CHECK_FALSE(r.now);
}
