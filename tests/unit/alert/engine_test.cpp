// The alert engine with an injected clock and a fake webhook: each rule kind fires once when its
// condition starts, repeats after repeat_s while it holds, and resolves when it ends; filters,
// min_requests, the bounded queue and the retry.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <deque>
#include <string>
#include <vector>

#include "zgate/alert/alert.hpp"

using namespace zgate;
using namespace zgate::alert;

namespace {

struct Post {
  std::string url, body;
};

// Records every post; answers with the results queued in `answers` (true when empty).
struct FakeSender final : Sender {
  std::vector<Post>* posts;
  std::deque<bool>* answers;
  FakeSender(std::vector<Post>* p, std::deque<bool>* a) : posts(p), answers(a) {}
  bool post(const std::string& url, const std::string& body, std::string& error) override {
    posts->push_back({url, body});
    if (answers->empty()) return true;
    const bool ok = answers->front();
    answers->pop_front();
    if (!ok) error = "HTTP 500";
    return ok;
  }
};

// An engine at a clock the test moves, posting to a fake; records are chat requests.
struct Fixture {
  int64_t now = 1'800'000'000'000;  // Unix ms
  std::vector<Post> posts;
  std::deque<bool> answers;
  std::vector<BudgetUse> budgets;
  uint64_t drops = 0;
  std::unique_ptr<Engine> engine;

  explicit Fixture(std::vector<AlertRule> rules, AlertingConfig settings = {}) {
    settings.webhook_retry_delay = std::chrono::milliseconds(0);
    EngineOptions o;
    o.settings = settings;
    o.rules = std::move(rules);
    o.now_ms = [this] { return now; };
    o.budgets = [this] { return budgets; };
    o.dropped = [this] { return drops; };
    o.sender = std::make_unique<FakeSender>(&posts, &answers);
    o.instance = "test-host";
    engine = std::make_unique<Engine>(std::move(o));
  }
  void request(int status, std::string_view error_type = "", int64_t total_us = 1000, std::string_view key = "k1",
               std::string_view model = "glm-4.6", int attempts = 1) {
    AccessRecord r;
    r.path = "/v1/chat/completions";
    r.method = "POST";
    r.key_label = key;
    r.model = model;
    r.status = status;
    r.error_type = error_type;
    r.total_us = total_us;
    r.first_token_us = total_us / 2;
    r.attempts = attempts;
    engine->add(r, now);
  }
  void tick(int64_t advance_ms = 0) {
    now += advance_ms;
    engine->evaluate();
    engine->deliver_pending();
  }
  // The state of each post so far ("firing" / "resolved"), from the JSON bodies.
  std::vector<std::string> states() {
    std::vector<std::string> out;
    simdjson::dom::parser p;
    for (const auto& x : posts) out.emplace_back(std::string_view(p.parse(x.body)["state"].get_string().value()));
    return out;
  }
};

AlertRule rule(AlertKind kind, double threshold) {
  AlertRule a;
  a.name = "r";
  a.kind = kind;
  a.threshold = threshold;
  a.window = std::chrono::seconds(60);
  a.repeat = std::chrono::seconds(600);
  a.min_requests = 1;
  a.webhook = "http://127.0.0.1:9/hook";
  return a;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("error_rate fires once, repeats after repeat_s, resolves when the window clears", "[alert]") {
  Fixture f({rule(AlertKind::error_rate, 0.1)});
  for (int i = 0; i < 8; ++i) f.request(200);
  f.tick();
  CHECK(f.posts.empty());
  f.request(502, "upstream_connect_failed");
  f.request(503, "server_overloaded");  // 2 of 10 = 20% > 10%
  f.tick();
  REQUIRE(f.states() == V{"firing"});
  REQUIRE(f.engine->active().size() == 1);
  CHECK(f.engine->active()[0].value == Approx(0.2));
  f.tick(1000);
  f.tick(1000);
  CHECK(f.posts.size() == 1);  // still holding, not repeated yet
  // Keep it holding past the repeat interval: 20% errors every 30 s.
  for (int t = 0; t < 20; ++t) {
    for (int i = 0; i < 4; ++i) f.request(200);
    f.request(500, "upstream_error");
    f.tick(30'000);
  }
  CHECK(f.states() == V{"firing", "firing"});  // 600 s later: one repeat
  // Only successes from now on: once the errors leave the window it resolves.
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < 10; ++i) f.request(200);
    f.tick(30'000);
  }
  CHECK(f.states() == V{"firing", "firing", "resolved"});
  CHECK(f.engine->active().empty());
}

TEST_CASE("error_rate ignores client mistakes and clients that left, and waits for min_requests", "[alert]") {
  AlertRule a = rule(AlertKind::error_rate, 0.1);
  a.min_requests = 5;
  Fixture f({a});
  f.request(500, "upstream_error");
  f.request(500, "upstream_error");
  f.tick();
  CHECK(f.posts.empty());  // 2 requests < min_requests
  f.request(400, "invalid_request_error");
  f.request(401, "invalid_api_key");
  f.request(499, "client_closed_request");
  f.request(200);
  f.tick();
  CHECK(f.states() == V{"firing"});  // 2 of 6 count as errors
  CHECK(f.engine->active()[0].value == Approx(2.0 / 6));
}

TEST_CASE("a stream that ended with an in-band error counts as an error", "[alert]") {
  Fixture f({rule(AlertKind::error_rate, 0.4)});
  f.request(200, "upstream_stream_broken");
  f.request(200);
  f.tick();
  CHECK(f.states() == V{"firing"});
}

TEST_CASE("key and model filters select the requests a rule sees", "[alert]") {
  AlertRule a = rule(AlertKind::error_rate, 0.5);
  a.key = "alice";
  a.model = "glm-4.6";
  Fixture f({a});
  f.request(500, "upstream_error", 1000, "bob");
  f.request(500, "upstream_error", 1000, "alice", "glm-4.5");
  f.tick();
  CHECK(f.posts.empty());
  f.request(500, "upstream_error", 1000, "alice", "glm-4.6");
  f.tick();
  CHECK(f.states() == V{"firing"});
}

TEST_CASE("latency avg fires above the threshold and resolves", "[alert]") {
  AlertRule a = rule(AlertKind::latency, 5000);
  Fixture f({a});
  f.request(200, "", 4'000'000);
  f.request(200, "", 5'000'000);
  f.tick();
  CHECK(f.posts.empty());  // avg 4.5 s
  f.request(200, "", 9'000'000);
  f.tick();
  CHECK(f.states() == V{"firing"});  // avg 6 s
  f.tick(61'000);                    // the window is empty: fewer than min_requests
  CHECK(f.states() == V{"firing", "resolved"});
}

TEST_CASE("latency p95 of first_token uses the histogram and skips failed requests", "[alert]") {
  AlertRule a = rule(AlertKind::latency, 1000);
  a.stat = "p95";
  a.of = "first_token";
  Fixture f({a});
  for (int i = 0; i < 19; ++i) f.request(200, "", 200'000);  // first token at 100 ms
  f.request(200, "", 8'000'000);                                // one at 4 s: the p95 is ~100 ms
  f.request(500, "upstream_error", 90'000'000);                 // not counted
  f.tick();
  CHECK(f.posts.empty());
  for (int i = 0; i < 3; ++i) f.request(200, "", 8'000'000);  // 4 of 23 slow: p95 ~4 s
  f.tick();
  REQUIRE(f.states() == V{"firing"});
  const double v = f.engine->active()[0].value;
  CHECK(v >= 4000);
  CHECK(v <= 4400);  // within one bucket (10%)
}

TEST_CASE("requests per minute fires above the threshold", "[alert]") {
  Fixture f({rule(AlertKind::requests, 5)});  // 60 s window: count = per minute
  for (int i = 0; i < 5; ++i) f.request(200);
  f.tick();
  CHECK(f.posts.empty());
  f.request(404, "model_not_found");
  f.tick();
  CHECK(f.states() == V{"firing"});
  f.tick(60'000);
  CHECK(f.states() == V{"firing", "resolved"});
}

TEST_CASE("requests below a threshold waits for a whole window, then fires on silence", "[alert]") {
  AlertRule a = rule(AlertKind::requests, 1);
  a.below = true;
  Fixture f({a});
  f.tick(30'000);
  CHECK(f.posts.empty());  // not a whole window since the start
  f.tick(31'000);
  CHECK(f.states() == V{"firing"});
  f.request(200);
  f.request(200);
  f.tick();
  CHECK(f.states() == V{"firing", "resolved"});
}

TEST_CASE("upstream_failures counts failures in a row, and a success resolves", "[alert]") {
  Fixture f({rule(AlertKind::upstream_failures, 3)});
  f.request(502, "upstream_connect_failed");
  f.request(504, "upstream_timeout");
  f.request(499, "client_closed_request");  // neither a failure nor a success
  f.request(401, "invalid_api_key", 0, "k1", "", 0);  // never reached an upstream
  f.tick();
  CHECK(f.posts.empty());
  f.request(429, "rate_limit_exceeded");
  f.tick();
  CHECK(f.states() == V{"firing"});
  CHECK(f.engine->active()[0].value == 3);
  f.request(200);
  f.tick();
  CHECK(f.states() == V{"firing", "resolved"});
}

TEST_CASE("recorder_drops fires on records lost in the window", "[alert]") {
  AlertRule a = rule(AlertKind::recorder_drops, 1);
  Fixture f({a});
  f.drops = 7;  // lost before the engine first looked: not in any window
  f.tick();
  CHECK(f.posts.empty());
  f.drops = 9;
  f.tick(1000);
  CHECK(f.states() == V{"firing"});
  CHECK(f.engine->active()[0].value == 2);
  f.tick(61'000);
  CHECK(f.states() == V{"firing", "resolved"});
}

TEST_CASE("budget rules fire per budget at the threshold and resolve", "[alert]") {
  Fixture f({rule(AlertKind::budget, 0.8)});
  f.budgets = {{"", "day", 50, 100}, {"alice", "month", 79, 100}, {"bob", "hour", 1, 0}};
  f.tick();
  CHECK(f.posts.empty());
  f.budgets[1].spent_usd = 80;
  f.tick();
  REQUIRE(f.states() == V{"firing"});
  CHECK(f.engine->active()[0].scope == "alice/month");
  f.budgets[0].spent_usd = 100;
  f.tick();
  CHECK(f.engine->active().size() == 2);
  CHECK(f.posts.size() == 2);
  // A new month: alice's use starts again.
  f.budgets[1].spent_usd = 0;
  f.tick();
  CHECK(f.states() == V{"firing", "firing", "resolved"});
  simdjson::dom::parser p;
  CHECK(std::string_view(p.parse(f.posts[2].body)["scope"].get_string().value()) == "alice/month");
}

TEST_CASE("a budget rule with key watches that key's budgets only", "[alert]") {
  AlertRule a = rule(AlertKind::budget, 1.0);
  a.key = "bob";
  Fixture f({a});
  f.budgets = {{"", "day", 100, 100}, {"bob", "day", 99, 100}};
  f.tick();
  CHECK(f.posts.empty());
  f.budgets[1].spent_usd = 100;
  f.tick();
  CHECK(f.states() == V{"firing"});
}

TEST_CASE("a failed webhook is retried once, then given up", "[alert]") {
  Fixture f({rule(AlertKind::upstream_failures, 1)});
  f.answers = {false, true};
  f.request(502, "upstream_connect_failed");
  f.tick();
  CHECK(f.posts.size() == 2);
  CHECK(f.engine->delivery().sent == 1);
  f.answers = {false, false};
  f.request(200);
  f.tick();
  CHECK(f.posts.size() == 4);
  CHECK(f.engine->delivery().failed == 1);
}

TEST_CASE("a full queue drops the oldest notification", "[alert]") {
  AlertRule a = rule(AlertKind::upstream_failures, 1), b = a;
  b.name = "r2";
  AlertingConfig s;
  s.queue = 1;
  Fixture f({a, b}, s);
  f.request(502, "upstream_connect_failed");
  f.engine->evaluate();  // two notifications, room for one
  f.engine->deliver_pending();
  REQUIRE(f.posts.size() == 1);
  CHECK(f.posts[0].body.find(R"("name":"r2")") != std::string::npos);
  CHECK(f.engine->delivery().dropped == 1);
}

TEST_CASE("a rule without a webhook only logs, and shows in active()", "[alert]") {
  AlertRule a = rule(AlertKind::upstream_failures, 1);
  a.webhook.clear();
  Fixture f({a});
  f.request(502, "upstream_connect_failed");
  f.tick();
  CHECK(f.posts.empty());
  CHECK(f.engine->active().size() == 1);
}

TEST_CASE("nothing is evaluated or posted after stop()", "[alert]") {
  Fixture f({rule(AlertKind::upstream_failures, 1)});
  f.engine->stop();
  f.request(502, "upstream_connect_failed");
  f.tick();
  CHECK(f.posts.empty());
  CHECK(f.engine->active().empty());
}

TEST_CASE("active_json and the metrics list what fires", "[alert]") {
  Fixture f({rule(AlertKind::upstream_failures, 1)});
  f.request(502, "upstream_connect_failed");
  f.tick();
  simdjson::dom::parser p;
  const std::string js = f.engine->active_json();
  auto doc = p.parse(js);
  REQUIRE(doc["data"].get_array().size() == 1);
  CHECK(std::string_view(doc["data"].at(0)["name"].get_string().value()) == "r");
  CHECK(std::string_view(doc["data"].at(0)["kind"].get_string().value()) == "upstream_failures");
  CHECK(std::string_view(doc["instance"].get_string().value()) == "test-host");
  std::string m;
  f.engine->write_metrics(m);
  CHECK(m.find("zgate_alerts_active{rule=\"r\"} 1\n") != std::string::npos);
  CHECK(m.find("zgate_alert_notifications_total{result=\"sent\"} 1\n") != std::string::npos);
}
