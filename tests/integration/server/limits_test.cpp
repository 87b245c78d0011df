// Per-key limits and budgets enforced by a running gateway (through the mock): each limit's 429
// with its body, Retry-After and x-ratelimit headers; the window rolling (the limit store's
// clock is set by the test, never slept on); concurrency with parallel streams; a budget crossed
// by a request; budgets restored from the usage store on restart; disallowed, unpriced models;
// disabled keys; GET /admin/keys.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "integration/gateway_harness.hpp"
#include "zgate/policy/limit_store.hpp"
#include "support/temp_dir.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kAdminKey = "zgate-admin-limits-test-key-0001";
// 2026-12-03T10:00:00Z: the start of a minute.
constexpr int64_t kT0 = 1796292000000;

// A gateway whose client key has the policy `set` gives it, with an admin key; the limit store's
// clock is fixed at kT0.
struct Limited {
  explicit Limited(std::function<void(KeyPolicy&)> set, std::function<void(Config&)> more = {})
      : h({[&](Config& c) {
             c.admin_key = kAdminKey;
             set(c.api_keys[0].policy);
             if (more) more(c);
           },
           {}}) {
    h.gateway().limit_store().set_time_for_testing(kT0);
  }
  void at(int64_t ms) { h.gateway().limit_store().set_time_for_testing(ms); }
  // A request is settled once its handler has ended, which may be just after its client has the
  // whole answer: wait (bounded) until `done` holds for the key's counters.
  void wait_until(const std::function<bool(const policy::KeyUsage&)>& done, bool global = false) {
    policy::LocalLimitStore& s = h.gateway().limit_store();
    policy::KeySlot* slot = global ? s.global() : s.key("itest");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done(s.usage(slot, s.now_ms()))) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(5ms);
    }
  }
  std::string keys() { return h.get("/admin/keys", {{"Authorization", std::string("Bearer ") + kAdminKey}}).body; }
  Harness h;
};

}  // namespace

TEST_CASE("limits: requests per minute: the one over gets 429 with headers, allowed again when the window rolls",
          "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.requests_per_minute = 2; });
  auto a = l.h.post_chat(chat_body("hello"));
  REQUIRE(a.status == 200);
  CHECK(a.header("x-ratelimit-limit-requests") == "2");
  CHECK(a.header("x-ratelimit-remaining-requests") == "1");
  CHECK(a.header("x-ratelimit-reset-requests") == "2m0s");
  CHECK(a.header("x-ratelimit-limit-tokens").empty());
  auto s = l.h.post_chat(chat_body("hello", true));
  REQUIRE(s.status == 200);
  CHECK(s.header("x-ratelimit-remaining-requests") == "0");  // the stream's head too
  CHECK_THAT(s.header("Access-Control-Expose-Headers"), Catch::Contains("x-ratelimit-remaining-requests"));
  auto r = l.h.post_chat(chat_body("hello"));
  CHECK(r.status == 429);
  CHECK(r.header("Retry-After") == "90");
  CHECK(r.header("x-ratelimit-remaining-requests") == "0");
  CHECK_THAT(r.body, Catch::Contains(R"("code":"rate_limit_exceeded")"));
  CHECK_THAT(r.body, Catch::Contains("requests per minute (requests_per_minute): limit 2, used 2, requested 1"));
  CHECK(l.h.mock().stats().requests == 2);  // the refused one never reached the upstream
  l.at(kT0 + 2 * policy::kMinuteMs);
  CHECK(l.h.post_chat(chat_body("hello")).status == 200);
}

TEST_CASE("limits: tokens per minute count the estimate, then the real usage", "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.tokens_per_minute = 100000; });
  auto a = l.h.post_chat(chat_body("hello"));
  REQUIRE(a.status == 200);
  CHECK(a.header("x-ratelimit-limit-tokens") == "100000");
  CHECK(a.header("x-ratelimit-remaining-tokens") == std::to_string(100000 - 6));  // "hello": 2 + 4 per message
  // Settled with the usage the upstream reported.
  const auto p0 = a.body.find("\"total_tokens\":");
  REQUIRE(p0 != std::string::npos);
  const int64_t total = std::stoll(a.body.substr(p0 + 15));
  l.wait_until([&](const policy::KeyUsage& u) { return u.tokens_minute != 6; });
  CHECK_THAT(l.keys(), Catch::Contains(R"("tokens_minute":{"used":)" + std::to_string(total) + ","));
}

TEST_CASE("limits: a request larger than tokens_per_minute is refused outright", "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.tokens_per_minute = 5; });
  auto r = l.h.post_chat(chat_body("hello"));
  CHECK(r.status == 429);
  CHECK_THAT(r.body, Catch::Contains("Request too large for tokens per minute"));
  CHECK(r.header("x-ratelimit-limit-tokens") == "5");
}

TEST_CASE("limits: max_concurrent refuses a second stream while the first runs", "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.max_concurrent = 1; });
  std::atomic<int> first{0};
  std::thread t([&] { first = l.h.post_chat(chat_body("[scenario:slow chunks=40 delay_ms=50]", true)).status; });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (l.keys().find(R"("concurrent":{"in_flight":1,)") == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);
  }
  auto r = l.h.post_chat(chat_body("hello", true));
  CHECK(r.status == 429);
  CHECK(r.header("Retry-After") == "1");
  CHECK_THAT(r.body, Catch::Contains("max_concurrent"));
  t.join();
  CHECK(first == 200);
  l.wait_until([](const policy::KeyUsage& u) { return u.in_flight == 0; });
  CHECK(l.h.post_chat(chat_body("hello", true)).status == 200);
}

TEST_CASE("limits: the request that crosses a budget finishes, the next is refused until the window ends",
          "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.budget_hour_usd = 0.000001; });
  auto a = l.h.post_chat(chat_body("[scenario:slow chunks=5 delay_ms=10]", true));
  CHECK(a.status == 200);
  CHECK_THAT(a.body, Catch::Contains("[DONE]"));
  l.wait_until([](const policy::KeyUsage& u) { return u.spent_hour > 0; });
  auto r = l.h.post_chat(chat_body("hello", true));
  CHECK(r.status == 429);
  CHECK_THAT(r.body, Catch::Contains(R"("type":"insufficient_quota")"));
  CHECK_THAT(r.body, Catch::Contains(R"("code":"insufficient_quota")"));
  CHECK_THAT(r.body, Catch::Contains("budget_hour_usd"));
  CHECK_THAT(r.body, Catch::Contains("2026-12-03T11:00:00Z"));
  CHECK(r.header("Retry-After") == "3600");
  l.at(kT0 + policy::kHourMs);
  CHECK(l.h.post_chat(chat_body("hello")).status == 200);
}

TEST_CASE("limits: the global budget applies to every key", "[integration][limits]") {
  Limited l([](KeyPolicy&) {}, [](Config& c) { c.budget.day_usd = 0.000001; });
  REQUIRE(l.h.post_chat(chat_body("hello")).status == 200);
  l.wait_until([](const policy::KeyUsage& u) { return u.spent_day > 0; }, true);
  auto r = l.h.post_chat(chat_body("hello"));
  CHECK(r.status == 429);
  CHECK_THAT(r.body, Catch::Contains("budget.day_usd"));
  CHECK_THAT(l.keys(), Catch::Contains(R"("global":{"spend":{"hour":{"usd":)"));
}

TEST_CASE("limits: a restart restores the month's spend from the usage store", "[integration][limits]") {
  TempDir dir("limits");
  auto with_store = [&](Config& c) {
    c.usage_store = true;
    c.data_dir = dir.path;
    c.api_keys[0].policy.budget_month_usd = 0.000001;
  };
  {
    Harness first({with_store, {}});
    REQUIRE(first.post_chat(chat_body("hello")).status == 200);
    // Stopping the gateway ends the request (its record is written) and flushes the recorder.
  }
  Harness second({with_store, {}});
  auto r = second.post_chat(chat_body("hello"));
  CHECK(r.status == 429);
  CHECK_THAT(r.body, Catch::Contains("budget_month_usd"));
}

TEST_CASE("limits: a model the key may not use gets 403 model_not_allowed", "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.models = {"glm-4.6*"}; });
  auto r = l.h.post_chat(chat_body("hello", false, "", "glm-4.5"));
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains(R"("code":"model_not_allowed")"));
  CHECK(l.h.post_chat(chat_body("hello", false, "", "glm-4.6")).status == 200);
}

TEST_CASE("limits: an unpriced model is refused under a budget unless a default price applies",
          "[integration][limits]") {
  {
    Limited l([](KeyPolicy& p) { p.budget_day_usd = 10; });
    auto r = l.h.post_chat(chat_body("hello", false, "", "glm-unpriced-x"));
    CHECK(r.status == 403);
    CHECK_THAT(r.body, Catch::Contains(R"("code":"model_not_priced")"));
    CHECK_THAT(r.body, Catch::Contains("glm-unpriced-x"));
  }
  Limited l([](KeyPolicy& p) { p.budget_day_usd = 10; }, [](Config& c) { c.default_price = ModelPrice{1, 2, 0}; });
  CHECK(l.h.post_chat(chat_body("hello", false, "", "glm-unpriced-x")).status == 200);
}

TEST_CASE("limits: a disabled key gets 401 key_disabled", "[integration][limits]") {
  Harness h({[](Config& c) { c.api_keys[0].disabled = true; }, {}});
  auto r = h.post_chat(chat_body("hello"));
  CHECK(r.status == 401);
  CHECK_THAT(r.body, Catch::Contains(R"("code":"key_disabled")"));
  CHECK_THAT(r.body, Catch::Contains("disabled"));
  CHECK(h.get("/v1/models", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 401);
}

TEST_CASE("limits: GET /admin/keys needs the admin key and shows labels, never keys", "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.requests_per_minute = 10; });
  REQUIRE(l.h.post_chat(chat_body("hello")).status == 200);
  l.wait_until([](const policy::KeyUsage& u) { return u.requests_minute == 1; });
  CHECK(l.h.get("/admin/keys", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 401);
  const std::string body = l.keys();
  CHECK_THAT(body, Catch::Contains(R"("label":"itest")"));
  CHECK_THAT(body, Catch::Contains(R"("requests_minute":{"used":1,"limit":10})"));
  CHECK_THAT(body, !Catch::Contains(kClientKey));
}

TEST_CASE("limits: the counters survive a reload", "[integration][limits]") {
  Limited l([](KeyPolicy& p) { p.requests_per_minute = 1; });
  REQUIRE(l.h.post_chat(chat_body("hello")).status == 200);
  auto next = std::make_shared<Config>(l.h.config());
  REQUIRE(l.h.gateway().reload(next).applied);
  CHECK(l.h.post_chat(chat_body("hello")).status == 429);
}
