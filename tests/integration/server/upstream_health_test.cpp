// Upstream health (GET /health/upstream, zgate_upstream_* metrics) and zai-web token pools,
// against zgate-mock.
#include <set>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "integration/gateway_harness.hpp"
#include "zgate/config/default_models.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kAdminKey = "zgate-admin-health-test-key";

// /health/upstream until `done` holds for its body (the recorder hands records over every
// 100 ms), bounded at 5 s; the last body either way.
std::string health_until(Harness& h, const std::function<bool(const std::string&)>& done, Headers auth = {}) {
  return h.get_until("/health/upstream", done, std::move(auth));
}

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

// Two zai-web users, JWT-shaped as the frontend issues them (the mock reads the id).
const std::string kTokenA = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InVzZXItNDMiLCJlbWFpbCI6ImFAZXhhbXBsZS5vcmcifQ.c2ln";
const std::string kTokenB = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InVzZXItNDQiLCJlbWFpbCI6ImJAZXhhbXBsZS5vcmcifQ.c2ln";

GatewayOptions zai_tokens(std::function<void(Config&)> more = {}) {
  GatewayOptions o;
  o.tweak = [more](Config& c) {
    auto& p = c.providers[0];
    p.kind = ProviderKind::zai_web;
    p.base_url = p.base_url.substr(0, p.base_url.find("/api/paas/v4"));
    p.api_key.clear();
    p.api_keys.clear();
    p.tokens = {kTokenA, kTokenB};
    c.models = default_models(ProviderKind::zai_web, p.name);
    if (more) more(c);
  };
  return o;
}

// Two upstream keys, the first revoked upstream; `more` adjusts the config further.
GatewayOptions first_key_revoked(std::function<void(Config&)> more) {
  GatewayOptions o;
  o.mock.api_keys = {"upstream-key-good"};
  o.tweak = [more = std::move(more)](Config& c) {
    c.providers[0].api_key.clear();
    c.providers[0].api_keys = {"upstream-key-revoked", "upstream-key-good"};
    more(c);
  };
  return o;
}

// The provider's upstream is `refusing`, tried once a request, and down after `failures`.
GatewayOptions refused_upstream(const RefusingPort& refusing, int failures) {
  GatewayOptions o;
  o.tweak = [url = refusing.v4_url(), failures](Config& c) {
    c.providers[0].base_url = url;
    c.retry.attempts = 1;
    c.health.down_after_failures = failures;
  };
  return o;
}

}  // namespace

// ---- passive health ----------------------------------------------------------------------------

TEST_CASE("upstream health: each key's results and its pool state, by number and fingerprint only",
          "[integration][health]") {
  Harness h(first_key_revoked([](Config& c) {
    c.health.degraded_error_rate = 0.5;  // one failure in four attempts stays healthy
  }));
  for (int i = 0; i < 3; ++i) REQUIRE(h.post_chat(chat_body("health")).status == 200);
  const std::string body = health_until(h, [](const std::string& b) {
    return has(b, R"("credential":"2")") && has(b, R"("requests":3,"errors":0)");
  });
  INFO(body);
  CHECK(has(body, R"("provider":"default","kind":"zhipu","state":"healthy")"));
  CHECK(has(body, R"("credential":"1","fingerprint":"sha256:)"));
  CHECK(has(body, R"("state":"rejected")"));
  CHECK(has(body, R"("last_error":"http_401@key1")"));
  CHECK(has(body, R"("credential":"2","fingerprint":"sha256:)"));
  CHECK(has(body, R"("state":"healthy","resting_ms":0,"requests":3,"errors":0)"));
  CHECK_FALSE(has(body, "upstream-key"));  // never a key
}

TEST_CASE("upstream health: an unreachable upstream is down while /ready stays 200", "[integration][health]") {
  const RefusingPort refusing;
  Harness h(refused_upstream(refusing, 2));
  REQUIRE(h.post_chat(chat_body("one")).status == 502);
  REQUIRE(h.post_chat(chat_body("two")).status == 502);
  const std::string body =
      health_until(h, [](const std::string& b) { return has(b, R"("consecutive_failures":2)"); });
  INFO(body);
  CHECK(has(body, R"("provider":"default","kind":"zhipu","state":"down")"));
  CHECK(has(body, R"("last_error":"upstream_connect_failed")"));
  CHECK(has(body, R"("error_rate":1)"));
  CHECK(h.get("/ready").status == 200);  // an upstream outage is not zgate's
}

TEST_CASE("upstream health: a retried failure counts against the attempt that failed", "[integration][health]") {
  Harness h({[](Config& c) { c.retry.base_delay = 1ms; }, {}});
  REQUIRE(h.post_chat(chat_body("[scenario:flaky times=1 code=1302 tag=hh1]")).status == 200);
  const std::string body = health_until(h, [](const std::string& b) { return has(b, R"("requests":2)"); });
  INFO(body);
  CHECK(has(body, R"("requests":2,"errors":1,"error_rate":0.5,"consecutive_failures":0)"));
  CHECK(has(body, R"("last_error":"http_429")"));
}

TEST_CASE("upstream health: with an admin key only that key reads it", "[integration][health]") {
  Harness h({[](Config& c) { c.admin_key = kAdminKey; }, {}});
  CHECK(h.get("/health/upstream").status == 401);
  CHECK(h.get("/health/upstream", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 401);
  const auto r = h.get("/health/upstream", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  CHECK(r.status == 200);
  CHECK(has(r.body, R"("object":"upstream_health")"));
}

TEST_CASE("upstream health: the metrics carry each credential's health", "[integration][health]") {
  const RefusingPort refusing;
  Harness h(refused_upstream(refusing, 1));
  REQUIRE(h.post_chat(chat_body("one")).status == 502);
  std::string t;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    t = h.get("/metrics").body;
    if (has(t, R"(zgate_upstream_consecutive_failures{provider="default",credential="1"} 1)")) break;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < deadline);
  INFO(t);
  CHECK(has(t, R"(zgate_upstream_consecutive_failures{provider="default",credential="1"} 1)"));
  CHECK(has(t, R"(zgate_upstream_healthy{provider="default",credential="1"} 0)"));
  CHECK(has(t, R"(zgate_upstream_state{provider="default",credential="1",state="down"} 1)"));
}

// ---- zai-web token pools -----------------------------------------------------------------------

TEST_CASE("zai-web tokens: requests rotate among the configured tokens", "[integration][zaiweb][keys]") {
  Harness h(zai_tokens());
  std::set<std::string> used;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(h.post_chat(chat_body("rotate")).status == 200);
    used.insert(h.mock().last_request_header("Authorization"));
  }
  CHECK(used == std::set<std::string>{"Bearer " + kTokenA, "Bearer " + kTokenB});
}

TEST_CASE("zai-web tokens: a revoked token leaves the rotation, the other serves", "[integration][zaiweb][keys]") {
  Harness h(zai_tokens([](Config& c) { c.retry.attempts = 1; }));
  // Whichever token this request uses is revoked upstream and answered as such.
  const auto revoked = h.post_chat(chat_body("[scenario:revoke]"));
  CHECK(revoked.status == 502);
  const std::string gone = h.mock().last_request_header("Authorization");
  for (int i = 0; i < 4; ++i) {
    REQUIRE(h.post_chat(chat_body("after")).status == 200);
    CHECK(h.mock().last_request_header("Authorization") != gone);
  }
  const std::string body = health_until(h, [](const std::string& b) { return has(b, R"("state":"rejected")"); });
  INFO(body);
  CHECK(has(body, R"("kind":"zai-web")"));
  CHECK(has(body, R"("state":"rejected")"));
  CHECK_FALSE(has(body, kTokenA));
}

TEST_CASE("zai-web tokens: with every token busy the client gets 429 with Retry-After", "[integration][zaiweb][keys]") {
  Harness h(zai_tokens([](Config& c) {
    c.providers[0].key_cooldown = 7000ms;
    c.retry.base_delay = 10ms;
  }));
  const auto r = h.post_chat(chat_body("[scenario:http_429]"));
  CHECK(r.status == 429);
  const auto again = h.post_chat(chat_body("busy again"));
  CHECK(again.status == 429);
  CHECK(has(again.body, "token"));
  const int retry_after = std::atoi(again.header("Retry-After").c_str());
  CHECK(retry_after >= 5);
  CHECK(retry_after <= 7);
}

TEST_CASE("zai-web tokens: a guest provider's identity is one credential named guest", "[integration][zaiweb][health]") {
  Harness h(zai_tokens([](Config& c) {
    c.providers[0].tokens.clear();
    c.providers[0].zai.token.clear();
  }));
  REQUIRE(h.post_chat(chat_body("guest")).status == 200);
  const std::string body = health_until(h, [](const std::string& b) { return has(b, R"("requests":1)"); });
  INFO(body);
  CHECK(has(body, R"("credential":"guest","fingerprint":null,"state":"healthy")"));
}

// ---- active check ------------------------------------------------------------------------------

TEST_CASE("upstream health: the active check asks each key with a one-token request, no client needed",
          "[integration][health]") {
  Harness h(first_key_revoked([](Config& c) {
    c.providers[0].health_check_interval = std::chrono::seconds(1);
    c.providers[0].health_check_model = "glm-4.5-flash";
  }));
  // The second key's part of the report (it comes last).
  const auto second = [](const std::string& b) {
    const std::size_t p = b.find(R"("credential":"2")");
    return p == std::string::npos ? std::string() : b.substr(p);
  };
  const std::string body = health_until(h, [&](const std::string& b) {
    return has(b, R"("last_error":"http_401")") && has(second(b), R"("last_success":")");
  });
  INFO(body);
  CHECK(has(body, R"("credential":"1","fingerprint":"sha256:)"));
  CHECK(has(body, R"("last_error":"http_401")"));
  CHECK(has(second(body), R"("state":"healthy")"));
  CHECK(has(second(body), R"("errors":0)"));
  const std::string asked = h.mock().last_request_body();
  CHECK(has(asked, R"("max_tokens":1)"));
  CHECK(has(asked, R"("model":"glm-4.5-flash")"));
}

TEST_CASE("upstream health: without health_check_interval_s no check is sent", "[integration][health]") {
  Harness h;
  REQUIRE(h.post_chat(chat_body("one")).status == 200);  // the only upstream request
  health_until(h, [](const std::string& b) { return has(b, R"("requests":1)"); });
  CHECK(h.mock().stats().requests == 1);
}
