// Per-key limits and budgets (policy module): the TOML fields and their defaults, the windows,
// the sliding minute, concurrency, budgets, estimate and settle, restore, the headers.
#include <catch2/catch.hpp>

#include <string>

#include "zgate/config/config.hpp"
#include "../config_helpers.hpp"
#include "zgate/policy/limit_store.hpp"
#include "zgate/policy/policy.hpp"

using namespace zgate;
using namespace zgate::policy;

namespace {

Config load_toml(const std::string& text) { return test::load_toml(text); }
std::string error_of(const std::string& text) { return test::config_error(load_toml, text); }

// 2026-12-03T10:00:00Z, the start of a minute, hour and day.
constexpr int64_t kT0 = 1796292000000;

// One key "k" with `fields`, compiled against a fresh store.
struct Fixture {
  explicit Fixture(const std::string& fields, const std::string& extra = "")
      : cfg(load_toml("[[api_keys]]\nlabel = \"k\"\nkey = \"sk-1\"\n" + fields + "\n" + extra)), pol(cfg, store) {}
  std::optional<ApiError> admit(int64_t now, Ticket& t, int64_t estimate = 0) {
    h = {};
    return store.admit(pol.find("k"), pol, estimate, now, t, h);
  }
  Config cfg;
  LocalLimitStore store;
  Policies pol;
  RateHeaders h;
};

}  // namespace

TEST_CASE("policy: [key_defaults] fills what a key does not set; a key's own 0 means no limit", "[policy]") {
  const Config c = load_toml(R"(
[key_defaults]
requests_per_minute = 60
budget_day_usd = 5
models = ["glm-4.5*"]
[[api_keys]]
label = "a"
key = "sk-a"
[[api_keys]]
label = "b"
key = "sk-b"
requests_per_minute = 0
tokens_per_minute = 1000
models = []
disabled = true
[budget]
month_usd = 100
)");
  REQUIRE(c.api_keys.size() == 2);
  CHECK(c.api_keys[0].policy.requests_per_minute == 60);
  CHECK(c.api_keys[0].policy.budget_day_usd == 5);
  CHECK(c.api_keys[0].policy.models == std::vector<std::string>{"glm-4.5*"});
  CHECK(c.api_keys[0].policy.tokens_per_minute == 0);
  CHECK_FALSE(c.api_keys[0].disabled);
  CHECK(c.api_keys[1].policy.requests_per_minute == 0);
  CHECK(c.api_keys[1].policy.tokens_per_minute == 1000);
  CHECK(c.api_keys[1].policy.models.empty());
  CHECK(c.api_keys[1].disabled);
  CHECK(c.budget.month_usd == 100);
  CHECK(describe_json(c).find(R"("budget":{"hour_usd":0,"day_usd":0,"month_usd":100})") != std::string::npos);
}

TEST_CASE("policy: bad policy values name the key", "[policy]") {
  CHECK_THAT(error_of("[[api_keys]]\nkey = \"x\"\nrequests_per_minute = -1\n"),
             Catch::Contains("api_keys[0].requests_per_minute"));
  CHECK_THAT(error_of("[budget]\nday_usd = \"5\"\n"), Catch::Contains("budget.day_usd"));
  CHECK_THAT(error_of("[key_defaults]\ndisabled = true\n"), Catch::Contains("key_defaults.disabled: unknown key"));
  CHECK_THAT(error_of("[[api_keys]]\nkey = \"x\"\nmodels = \"glm\"\n"), Catch::Contains("api_keys[0].models"));
}

TEST_CASE("policy: windows are calendar windows in UTC", "[policy]") {
  const Windows w = windows_at(kT0);
  CHECK(w.minute * kMinuteMs == kT0);
  CHECK(month_start_ms(w.month) == 1796083200000);  // 2026-12-01T00:00:00Z
  CHECK(window_end_ms(Window::month, kT0) == 1798761600000);  // 2027-01-01
  CHECK(window_end_ms(Window::day, kT0) == kT0 + 14 * kHourMs);
  CHECK(window_end_ms(Window::hour, kT0 + 1) == kT0 + kHourMs);
}

TEST_CASE("policy: reset durations are written like OpenAI's", "[policy]") {
  CHECK(duration(120) == "120ms");
  CHECK(duration(1000) == "1s");
  CHECK(duration(360000) == "6m0s");
  CHECK(duration(3723000) == "1h2m3s");
  CHECK(duration(0) == "0s");
  CHECK(duration(1001) == "2s");
}

TEST_CASE("policy: model patterns are names or globs", "[policy]") {
  Fixture f(R"(models = ["glm-4.5", "glm-5*"])");
  const KeyRules* k = f.pol.find("k");
  REQUIRE(k);
  CHECK(k->model_allowed("glm-4.5"));
  CHECK(k->model_allowed("glm-5-air"));
  CHECK_FALSE(k->model_allowed("glm-4.5-air"));
  CHECK(f.pol.find("nobody") == nullptr);
}

TEST_CASE("policy: requests per minute refuse the one over the limit, with when to retry", "[policy]") {
  Fixture f("requests_per_minute = 2");
  Ticket a, b, c;
  CHECK_FALSE(f.admit(kT0, a));
  CHECK(f.h.remaining_requests == 1);
  CHECK_FALSE(f.admit(kT0 + 1000, b));
  CHECK(f.h.remaining_requests == 0);
  auto refused = f.admit(kT0 + 2000, c);
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(refused->code == "rate_limit_exceeded");
  CHECK_THAT(refused->message, Catch::Contains("requests per minute (requests_per_minute): limit 2, used 2"));
  // Both requests stay in the previous minute's bucket, weighted by what is left of the window:
  // one more fits once half of it has passed (30 s into the next minute).
  CHECK(refused->retry_after == 88);
  CHECK(f.h.limit_requests == 2);
  CHECK(f.h.remaining_requests == 0);
  Ticket d;
  CHECK(f.admit(kT0 + 60000 + 29000, d));
  CHECK_FALSE(f.admit(kT0 + 60000 + 30000, d));
}

TEST_CASE("policy: the window rolls: two minutes later the whole limit is back", "[policy]") {
  Fixture f("requests_per_minute = 1");
  Ticket a, b;
  CHECK_FALSE(f.admit(kT0, a));
  CHECK(f.admit(kT0 + 59000, b));
  CHECK_FALSE(f.admit(kT0 + 2 * kMinuteMs, b));
  CHECK(f.h.remaining_requests == 0);
}

TEST_CASE("policy: tokens count the estimate up front and settle with the real usage", "[policy]") {
  Fixture f("tokens_per_minute = 1000");
  Ticket a;
  CHECK_FALSE(f.admit(kT0, a, 600));
  CHECK(f.h.remaining_tokens == 400);
  Ticket b;
  auto refused = f.admit(kT0 + 1, b, 600);
  REQUIRE(refused);
  CHECK_THAT(refused->message, Catch::Contains("tokens per minute (tokens_per_minute): limit 1000, used 600, requested 600"));
  f.store.settle(a, 100, 0, kT0 + 2);  // the real usage was smaller
  CHECK(f.store.usage(f.pol.find("k")->slot, kT0 + 3).tokens_minute == 100);
  CHECK_FALSE(f.admit(kT0 + 4, b, 600));
  auto too_large = f.admit(kT0 + 5, b, 5000);
  REQUIRE(too_large);
  CHECK_THAT(too_large->message, Catch::Contains("Request too large"));
  CHECK(too_large->retry_after == 0);
}

TEST_CASE("policy: a request settled after its minute left the window counts in the minute it ended", "[policy]") {
  Fixture f("tokens_per_minute = 100000");
  Ticket a;
  CHECK_FALSE(f.admit(kT0, a, 10));
  f.store.settle(a, 500, 0, kT0 + 3 * kMinuteMs);
  CHECK(f.store.usage(f.pol.find("k")->slot, kT0 + 3 * kMinuteMs).tokens_minute == 500);
}

TEST_CASE("policy: concurrency is held until the request settles", "[policy]") {
  Fixture f("max_concurrent = 1");
  Ticket a, b;
  CHECK_FALSE(f.admit(kT0, a));
  auto refused = f.admit(kT0, b);
  REQUIRE(refused);
  CHECK(refused->code == "rate_limit_exceeded");
  CHECK_THAT(refused->message, Catch::Contains("max_concurrent"));
  CHECK(refused->retry_after == 1);
  f.store.settle(a, 0, 0, kT0);
  f.store.settle(a, 0, 0, kT0);  // idempotent
  CHECK_FALSE(f.admit(kT0, b));
  CHECK(f.store.usage(f.pol.find("k")->slot, kT0).in_flight == 1);
}

TEST_CASE("policy: a budget refuses once spent; the request that crosses it is not stopped", "[policy]") {
  Fixture f("budget_hour_usd = 1");
  Ticket a, b;
  CHECK_FALSE(f.admit(kT0, a));
  CHECK_FALSE(f.admit(kT0, b));  // not priced up front: both run
  f.store.settle(a, 10, 0.75, kT0 + 10);
  f.store.settle(b, 10, 0.5, kT0 + 20);
  Ticket c;
  auto refused = f.admit(kT0 + 30, c);
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(refused->type == "insufficient_quota");
  CHECK(refused->code == "insufficient_quota");
  CHECK_THAT(refused->message, Catch::Contains("hourly budget of $1 (budget_hour_usd) is spent ($1.2500)"));
  CHECK_THAT(refused->message, Catch::Contains("2026-12-03T11:00:00Z"));
  CHECK(refused->retry_after == 3600);
  CHECK_FALSE(f.admit(kT0 + kHourMs, c));  // the next hour
}

TEST_CASE("policy: the global budget counts every request, anonymous ones too", "[policy]") {
  Fixture f("", "[budget]\nday_usd = 2\n");
  Ticket a;
  CHECK_FALSE(f.store.admit(nullptr, f.pol, 0, kT0, a, f.h));
  f.store.settle(a, 0, 2.5, kT0);
  Ticket b;
  auto refused = f.admit(kT0 + 1, b);
  REQUIRE(refused);
  CHECK_THAT(refused->message, Catch::Contains("gateway's daily budget of $2 (budget.day_usd)"));
  const auto use = budget_use(f.pol, kT0 + 1);
  REQUIRE(use.size() == 1);
  CHECK(use[0].label.empty());
  CHECK(use[0].window == Window::day);
  CHECK(use[0].spent_usd == Approx(2.5));
  CHECK(use[0].limit_usd == 2);
}

TEST_CASE("policy: restored spend and tokens count against the current windows", "[policy]") {
  Fixture f("budget_month_usd = 10\ntokens_per_minute = 1000");
  Restored r;
  r.at_ms = kT0;
  r.spent_month = 10;
  r.spent_day = 1;
  r.tokens_minute = 900;
  f.store.restore(f.pol.find("k")->slot, r);
  const KeyUsage u = f.store.usage(f.pol.find("k")->slot, kT0 + 1);
  CHECK(u.spent_month == Approx(10));
  CHECK(u.spent_day == Approx(1));
  CHECK(u.tokens_minute == 900);
  Ticket t;
  auto refused = f.admit(kT0 + 1, t);
  REQUIRE(refused);
  CHECK(refused->code == "insufficient_quota");
  const std::string json = keys_json(f.pol, kT0 + 1);
  CHECK_THAT(json, Catch::Contains(R"("label":"k")"));
  CHECK_THAT(json, Catch::Contains(R"("month":{"usd":10,"limit_usd":10})"));
  CHECK_THAT(json, !Catch::Contains("sk-1"));
}

TEST_CASE("policy: the rate headers are written for the limits a key has", "[policy]") {
  RateHeaders h;
  std::string head;
  h.append(head);
  CHECK(head.empty());
  h.limit_requests = 60;
  h.remaining_requests = 59;
  h.reset_requests_ms = 1000;
  h.append(head);
  CHECK(head == "x-ratelimit-limit-requests: 60\r\nx-ratelimit-remaining-requests: 59\r\nx-ratelimit-reset-requests: 1s\r\n");
}

TEST_CASE("policy: the prompt estimate is the text's bytes / 3, rounded up, plus 4 a message", "[policy]") {
  ChatRequest r;
  r.messages.push_back(Message{});
  r.messages[0].content = std::string(10, 'a');
  CHECK(estimate_prompt_tokens(r) == 4 + 4);
}

TEST_CASE("policy: an estimated usage counts generated bytes / 3, rounded up, reasoning within completion", "[policy]") {
  const Usage u = estimated_usage(8, 10, 4);
  CHECK(u.present);
  CHECK(u.prompt_tokens == 8);
  CHECK(u.reasoning_tokens == 2);
  CHECK(u.completion_tokens == 4 + 2);
  CHECK(u.total_tokens == 14);
  CHECK(u.cached_tokens == 0);
  CHECK(estimate_text_tokens(0) == 0);
  CHECK(estimate_text_tokens(3) == 1);
}

TEST_CASE("policy: a window counter starts a new window in the same step that counts", "[policy]") {
  WindowCounter c;
  CHECK(c.add(5, 3) == 3);
  CHECK(c.add(5, -10) == 0);
  CHECK(c.add(6, 2) == 2);
  CHECK(c.get(5) == 0);
  CHECK(c.add(5, 1, true) == -1);
  CHECK(c.get(6) == 2);
}
