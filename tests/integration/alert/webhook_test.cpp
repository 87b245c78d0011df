// Alerts end to end: zgate and the mock in process, and a webhook receiver on 127.0.0.1 port 0
// started by the test. An error-rate rule fires on the mock's errors and posts, then posts the
// resolve; /admin/alerts lists what fires; a receiver that accepts and never answers delays no
// chat request nor the notifications' order, is given up after the timeout and one retry, and
// does not hold up a stop.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <atomic>
#include <condition_variable>
#include <optional>

#include "integration/gateway_harness.hpp"
#include "support/loopback_server.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kAdminKey = "sk-admin-alert-test-0001";

// A tiny HTTP server for webhook posts: records each request body (and when its connection came),
// and answers 200, or never answers (`hang`).
class Receiver {
 public:
  explicit Receiver(bool hang) : hang_(hang), server_(std::in_place, [this](int c) { answer(c); }) {}
  ~Receiver() {
    server_.reset();
    for (int c : held_) ::close(c);
  }
  std::string url() const { return server_->url("/hook/secret-token-123"); }

  // Waits (bounded) until `n` connections came; returns the bodies read so far.
  std::vector<std::string> wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return arrivals().size() >= n && (hang_ || bodies_.size() >= n); });
    return bodies_;
  }
  std::vector<std::chrono::steady_clock::time_point> arrivals() const { return server_->arrivals(); }

 private:
  void answer(int c) {
    { std::lock_guard lock(mu_); }  // a waiter between its check and its wait gets this wake-up
    cv_.notify_all();
    if (hang_) {  // accepted, read, never answered
      held_.push_back(c);
      return;
    }
    const std::string req = read_http_request(c, 2s);
    const std::size_t at = req.find("\r\n\r\n");
    {
      std::lock_guard lock(mu_);
      bodies_.push_back(at == std::string::npos ? std::string() : req.substr(at + 4));
    }
    const std::string_view ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    ::send(c, ok.data(), ok.size(), MSG_NOSIGNAL);
    ::close(c);
    cv_.notify_all();
  }

  bool hang_;
  std::vector<int> held_;  // the server thread's until it stops
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> bodies_;
  // Last: stops before the members its handler uses go; reset first by the destructor.
  std::optional<LoopbackServer> server_;
};

std::string field(const std::string& body, const char* name) {
  simdjson::dom::parser p;
  auto v = p.parse(body)[name];
  if (v.error()) return "(missing)";
  if (v.is_string()) return std::string(v.get_string().value());
  return simdjson::to_string(v.value());
}

// Alerts evaluated every 50 ms, each chat request tried once upstream; `more` adds the rules.
GatewayOptions alerting(std::function<void(Config&)> more) {
  GatewayOptions o;
  o.tweak = [more = std::move(more)](Config& c) {
    c.retry.attempts = 1;
    c.alerting.interval = 50ms;
    more(c);
  };
  return o;
}

// The rule that fires on the first upstream failure, posting to `hook`.
AlertRule upstream_down(const Receiver& hook, std::optional<AlertFormat> format = {}) {
  AlertRule a;
  a.name = "upstream-down";
  a.kind = AlertKind::upstream_failures;
  a.threshold = 1;
  a.webhook = hook.url();
  if (format) a.format = *format;
  return a;
}

std::string error_request() { return chat_body("[scenario:err_500]"); }

// The first sample of `name{labels}` in a scrape, or -1.
double metric(const std::string& scrape, const std::string& series) {
  const std::size_t at = scrape.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(scrape.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("an error-rate rule posts when it fires and when it resolves", "[alert][integration]") {
  Receiver hook(false);
  Harness h(alerting([&](Config& c) {
    c.admin_key = kAdminKey;
    AlertRule a;
    a.name = "chat-errors";
    a.kind = AlertKind::error_rate;
    a.threshold = 0.5;
    a.min_requests = 3;
    a.window = std::chrono::seconds(300);
    a.webhook = hook.url();
    c.alerts.push_back(a);
  }));
  for (int i = 0; i < 3; ++i) CHECK(h.post_chat(error_request()).status >= 500);
  auto bodies = hook.wait_for(1);
  REQUIRE(bodies.size() == 1);
  CHECK(field(bodies[0], "name") == "chat-errors");
  CHECK(field(bodies[0], "state") == "firing");
  CHECK(std::stod(field(bodies[0], "value")) == 1.0);
  CHECK(field(bodies[0], "kind") == "error_rate");

  const auto listed = h.get("/admin/alerts", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  CHECK(listed.status == 200);
  CHECK(listed.body.find(R"("name":"chat-errors")") != std::string::npos);
  CHECK(listed.body.find("secret-token-123") == std::string::npos);
  CHECK(h.get("/admin/alerts").status == 401);

  for (int i = 0; i < 4; ++i) CHECK(h.post_chat(chat_body("fine")).status == 200);  // 3 of 7: under 50%
  bodies = hook.wait_for(2);
  REQUIRE(bodies.size() == 2);
  CHECK(field(bodies[1], "state") == "resolved");
  CHECK(field(bodies[1], "started_at") == field(bodies[0], "started_at"));
  const auto after = h.get("/admin/alerts", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  CHECK(after.body.find(R"("data":[])") != std::string::npos);
  // The receiver read the body before it answered: the webhook thread counts the post a moment later.
  std::string scrape;
  for (int i = 0; i < 100; ++i) {
    scrape = h.get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}}).body;
    if (metric(scrape, R"(zgate_alert_notifications_total{result="sent"})") >= 2) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(metric(scrape, R"(zgate_alerts_active{rule="chat-errors"})") == 0);
  CHECK(metric(scrape, R"(zgate_alert_notifications_total{result="sent"})") == 2);
}

TEST_CASE("a webhook that never answers delays no request and is given up after one retry", "[alert][integration]") {
  Receiver hook(true);
  Harness h(alerting([&](Config& c) {
    c.admin_key = kAdminKey;
    c.alerting.webhook_timeout = 400ms;
    c.alerting.webhook_retry_delay = 100ms;
    c.alerts.push_back(upstream_down(hook, AlertFormat::slack));
  }));
  CHECK(h.post_chat(error_request()).status >= 500);
  REQUIRE(hook.wait_for(1).empty());  // the post came, and hangs
  REQUIRE(hook.arrivals().size() == 1);
  // While the webhook hangs, chat requests are answered as fast as ever (the first success also
  // resolves the alert, whose notification queues behind the hanging one).
  for (int i = 0; i < 10; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(h.post_chat(chat_body("fast")).status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 < 300ms);
  }
  // The attempt times out, the retry comes after the retry delay, then nothing more.
  hook.wait_for(2);
  const auto at = hook.arrivals();
  REQUIRE(at.size() == 2);
  CHECK(at[1] - at[0] >= 400ms);
  CHECK(at[1] - at[0] < 2s);
  // The give-up is counted once the retry's timeout passed (bounded wait).
  double failed = -1;
  for (int i = 0; i < 100 && failed < 1; ++i) {
    failed = metric(h.get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}}).body,
                    R"(zgate_alert_notifications_total{result="failed"})");
    if (failed < 1) std::this_thread::sleep_for(20ms);
  }
  CHECK(failed == 1);
  // The successes above resolved the alert: that notification waited behind the hanging one and
  // is posted only once the first was given up.
  hook.wait_for(3);
  const auto all = hook.arrivals();
  REQUIRE(all.size() == 3);
  // Arrivals are stamped when the receiver sees a post, a connect after the sender started it;
  // the retry's 400 ms run from the sender's start, so allow that connect's jitter (a post that
  // did not wait would arrive within milliseconds).
  CHECK(all[2] - all[1] >= 400ms - 50ms);
}

TEST_CASE("stopping zgate does not wait for a webhook that hangs", "[alert][integration]") {
  Receiver hook(true);
  Harness h(alerting([&](Config& c) {
    c.alerting.webhook_timeout = 60s;
    c.alerts.push_back(upstream_down(hook));
  }));
  CHECK(h.post_chat(error_request()).status >= 500);
  hook.wait_for(1);
  REQUIRE(hook.arrivals().size() == 1);
  const auto t0 = std::chrono::steady_clock::now();
  h.gateway().stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("a budget rule fires from the limit counters when a key has spent its share", "[alert][integration]") {
  Receiver hook(false);
  Harness h({[&](Config& c) {
               c.admin_key = kAdminKey;
               c.alerting.interval = 50ms;
               c.api_keys[0].policy.budget_day_usd = 1e-6;  // one answer of the mock spends it
               AlertRule a;
               a.name = "day-budget";
               a.kind = AlertKind::budget;
               a.threshold = 0.8;
               a.webhook = hook.url();
               c.alerts.push_back(a);
             },
             {}});
  REQUIRE(h.post_chat(chat_body("spend")).status == 200);
  const auto bodies = hook.wait_for(1);
  REQUIRE(bodies.size() == 1);
  CHECK(field(bodies[0], "name") == "day-budget");
  CHECK(field(bodies[0], "state") == "firing");
  CHECK(field(bodies[0], "kind") == "budget");
  CHECK(std::stod(field(bodies[0], "value")) >= 1.0);
  CHECK(field(bodies[0], "message").find("itest") != std::string::npos);
}
