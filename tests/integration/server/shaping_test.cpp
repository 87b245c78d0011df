// Upstream shaping through a real gateway against the mock: a per-credential and per-model cap
// on concurrent upstream requests, the minimum interval between starts, the FIFO queue and its
// bounds, and a waiting client that leaves.
#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "../gateway_harness.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

// A request the mock holds for about chunks * delay_ms before it answers.
std::string held_body(int chunks, int delay_ms, bool stream = false) {
  return chat_body("[scenario:slow chunks=" + std::to_string(chunks) + " delay_ms=" + std::to_string(delay_ms) + "]",
                   stream);
}

GatewayOptions shaped(unsigned max_concurrent, Millis min_interval, std::size_t queue_max = 100,
                      Millis queue_timeout = Millis(30'000)) {
  GatewayOptions o;
  o.tweak = [=](Config& c) {
    auto& s = c.providers[0].shaping;
    s.max_concurrent = max_concurrent;
    s.min_interval = min_interval;
    s.queue_max = queue_max;
    s.queue_timeout = queue_timeout;
  };
  return o;
}

// The access line of request `id`, waited for (the recorder writes every 100 ms); bounded at 5 s.
std::string access_line_of(const std::string& id) {
  const std::string needle = "\"request_id\":\"" + id + "\"";
  for (int i = 0; i < 250; ++i) {
    for (const auto& l : access_lines().snapshot()) {
      if (l.find(needle) != std::string::npos) return l;
    }
    std::this_thread::sleep_for(20ms);
  }
  return {};
}

// The number after `"key":` in a JSON line (-2 when absent, -1 for null).
int64_t field(const std::string& line, const std::string& key) {
  const auto p = line.find("\"" + key + "\":");
  if (p == std::string::npos) return -2;
  const std::string rest = line.substr(p + key.size() + 3);
  if (rest.rfind("null", 0) == 0) return -1;
  return std::stoll(rest);
}

// zgate_upstream_queue_waiting as /metrics says now.
int64_t waiting(Harness& h) {
  const HttpResult r = h.get("/metrics");
  const auto p = r.body.find("\nzgate_upstream_queue_waiting ");
  if (p == std::string::npos) return -1;
  return std::stoll(r.body.substr(p + 30));
}

// Waits until `n` requests wait at the gate; bounded at 5 s.
bool wait_for_waiting(Harness& h, int64_t n) {
  for (int i = 0; i < 250; ++i) {
    if (waiting(h) == n) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::future<HttpResult> post_async(Harness& h, std::string body, std::string id) {
  return std::async(std::launch::async, [&h, body = std::move(body), id = std::move(id)] {
    return h.post_chat(body, {{"X-Request-Id", id}}, 20s);
  });
}

}  // namespace

TEST_CASE("shaping: N+k requests against a cap of N all succeed, the upstream never sees more than N",
          "[integration][shaping]") {
  Harness h(shaped(2, Millis(0)));
  std::vector<std::future<HttpResult>> rs;
  // Streams hold their slot until their last byte, like whole answers.
  for (int i = 0; i < 5; ++i) {
    rs.push_back(post_async(h, held_body(4, 50, i % 2 == 1), "shape-cap-" + std::to_string(i)));
  }
  int timed = 0;
  for (auto& f : rs) {
    const HttpResult r = f.get();
    CHECK(r.status == 200);
    CHECK(r.complete);
    if (r.header("Server-Timing").find("upstream-queue;dur=") != std::string::npos) ++timed;
  }
  CHECK(timed >= 3);  // the waits are in Server-Timing
  CHECK(h.mock().stats().max_in_flight == 2);
  CHECK(h.mock().stats().requests == 5);
  // Three of them waited for a slot, and their records say so.
  int queued = 0;
  for (int i = 0; i < 5; ++i) {
    const std::string line = access_line_of("shape-cap-" + std::to_string(i));
    REQUIRE(!line.empty());
    CHECK(field(line, "queue_wait_us") >= 0);
    if (field(line, "queue_wait_us") > 50'000) ++queued;
  }
  CHECK(queued >= 3);
}

TEST_CASE("shaping: requests start at least min_interval apart", "[integration][shaping]") {
  Harness h(shaped(0, Millis(150)));
  std::vector<std::future<HttpResult>> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(post_async(h, chat_body("hi"), "shape-interval-" + std::to_string(i)));
  for (auto& f : rs) CHECK(f.get().status == 200);
  auto times = h.mock().stats().request_times;
  REQUIRE(times.size() == 4);
  std::sort(times.begin(), times.end());
  for (std::size_t i = 1; i < times.size(); ++i) {
    // The gate spaces the starts by 150 ms; the mock reads each a little after its start.
    CHECK(times[i] - times[i - 1] >= 120ms);
  }
}

TEST_CASE("shaping: a waiting client that hangs up leaves the queue at once and is recorded as 499",
          "[integration][shaping]") {
  Harness h(shaped(1, Millis(0)));
  auto first = post_async(h, held_body(20, 100), "shape-hold");  // holds the one slot for ~2 s
  REQUIRE(wait_for_waiting(h, 0));
  for (int i = 0; i < 250 && h.mock().stats().requests == 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(h.mock().stats().requests == 1);

  const std::string body = chat_body("gone");
  RawConn gone(h.port());
  REQUIRE(gone.connected());
  REQUIRE(gone.send("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + std::string(kClientKey) +
                    "\r\nContent-Type: application/json\r\nX-Request-Id: shape-gone\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body));
  REQUIRE(wait_for_waiting(h, 1));
  auto next = post_async(h, chat_body("next"), "shape-next");
  REQUIRE(wait_for_waiting(h, 2));

  gone.close();
  // It leaves at once: the queue shrinks and its record says 499 while the first request still
  // holds the slot.
  CHECK(wait_for_waiting(h, 1));
  const std::string line = access_line_of("shape-gone");
  CHECK(field(line, "status") == 499);
  CHECK(line.find("client_closed_request") != std::string::npos);
  CHECK(first.wait_for(0s) != std::future_status::ready);

  CHECK(first.get().status == 200);
  CHECK(next.get().status == 200);
  CHECK(h.mock().stats().requests == 2);  // the upstream never saw the one that left
  CHECK(field(access_line_of("shape-next"), "queue_depth") == 1);
}

TEST_CASE("shaping: past queue_max a request gets 429 rate_limit_exceeded with Retry-After",
          "[integration][shaping]") {
  Harness h(shaped(1, Millis(0), 1));
  auto first = post_async(h, held_body(10, 100), "shape-full-0");
  for (int i = 0; i < 250 && h.mock().stats().requests == 0; ++i) std::this_thread::sleep_for(10ms);
  auto second = post_async(h, chat_body("second"), "shape-full-1");
  REQUIRE(wait_for_waiting(h, 1));
  const auto t = std::chrono::steady_clock::now();
  const HttpResult r = h.post_chat(chat_body("third"), {{"X-Request-Id", "shape-full-2"}});
  CHECK(std::chrono::steady_clock::now() - t < 500ms);  // refused at once, not after a wait
  CHECK(r.status == 429);
  CHECK(r.body.find("rate_limit_exceeded") != std::string::npos);
  CHECK(r.body.find("'default'") != std::string::npos);
  CHECK(r.body.find("glm-4.5") != std::string::npos);
  CHECK(r.body.find("queue_max = 1") != std::string::npos);
  CHECK(std::stoi(r.header("Retry-After")) >= 1);
  CHECK(first.get().status == 200);
  CHECK(second.get().status == 200);
  const std::string line = access_line_of("shape-full-2");
  CHECK(field(line, "status") == 429);
  CHECK(field(line, "attempts") == 0);  // the upstream was not called
  CHECK(h.get("/metrics").body.find("\nzgate_upstream_queue_refused_total 1\n") != std::string::npos);
}

TEST_CASE("shaping: a request that waits past queue_timeout gets 429", "[integration][shaping]") {
  Harness h(shaped(1, Millis(0), 10, Millis(300)));
  auto first = post_async(h, held_body(20, 100), "shape-timeout-0");
  for (int i = 0; i < 250 && h.mock().stats().requests == 0; ++i) std::this_thread::sleep_for(10ms);
  const auto t = std::chrono::steady_clock::now();
  const HttpResult r = h.post_chat(chat_body("late"), {{"X-Request-Id", "shape-timeout-1"}});
  const auto took = std::chrono::steady_clock::now() - t;
  CHECK(r.status == 429);
  CHECK(r.body.find("queue_timeout_ms") != std::string::npos);
  CHECK(!r.header("Retry-After").empty());
  CHECK(took >= 300ms);
  CHECK(took < 1500ms);
  CHECK(first.get().status == 200);
  CHECK(field(access_line_of("shape-timeout-1"), "queue_wait_us") >= 300'000);
}

TEST_CASE("shaping: a per-model rule applies to its models only; unshaped requests are not held",
          "[integration][shaping]") {
  GatewayOptions o;
  o.tweak = [](Config& c) {
    ShapingRule rule;
    rule.model = "glm-4.6*";
    rule.limits.max_concurrent = 1;
    c.providers[0].shaping_rules.push_back(rule);
  };
  Harness h(o);
  std::vector<std::future<HttpResult>> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(post_async(h, held_body(4, 100), "shape-free-" + std::to_string(i)));
  for (auto& f : rs) CHECK(f.get().status == 200);
  CHECK(h.mock().stats().max_in_flight == 4);
  CHECK(field(access_line_of("shape-free-0"), "queue_wait_us") == -1);  // null: not shaped
}

TEST_CASE("shaping: each upstream key has its own gate, and a request refused at one hands its key back",
          "[integration][shaping]") {
  GatewayOptions o;
  o.tweak = [](Config& c) {
    auto& p = c.providers[0];
    p.api_key = "key-one";
    p.api_keys = {"key-one", "key-two"};
    p.key_strategy = "least_loaded";
    p.shaping.max_concurrent = 1;
    p.shaping.queue_max = 0;
  };
  Harness h(o);
  auto wait_requests = [&h](uint64_t n) {
    for (int i = 0; i < 250 && h.mock().stats().requests < n; ++i) std::this_thread::sleep_for(10ms);
    return h.mock().stats().requests == n;
  };
  // One request per key: both run at once, as each key has its own allowance.
  auto a = post_async(h, held_body(10, 100), "shape-keys-a");
  REQUIRE(wait_requests(1));
  auto b = post_async(h, held_body(10, 100), "shape-keys-b");
  REQUIRE(wait_requests(2));
  // A third finds both keys at their cap and no queue: refused.
  CHECK(h.post_chat(chat_body("third")).status == 429);
  CHECK(a.get().status == 200);
  CHECK(b.get().status == 200);
  CHECK(h.mock().stats().max_in_flight == 2);
  // Both keys are idle again: the least loaded strategy keeps using both (a key the refused
  // request still counted as busy would be skipped every time).
  std::set<std::string> used;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(h.post_chat(chat_body("after")).status == 200);
    used.insert(h.mock().last_request_header("authorization"));
  }
  CHECK(used.size() == 2);
}
