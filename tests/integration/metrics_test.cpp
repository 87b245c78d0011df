// GET /metrics (Prometheus), metrics_listen and Server-Timing, through a real gateway against
// the mock.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>

#include "gateway_harness.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kAdminKey = "zgate-admin-key-for-metrics-tests-01";

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

// The value of the sample `series` (name and labels as written), or -1 when absent.
double value_of(const std::string& text, const std::string& series) {
  const auto p = text.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::stod(text.substr(p + series.size() + 2));
}

// Scrapes until `records` finished requests have reached the metrics (the recorder hands them
// over within its flush interval), or 5 s.
std::string scrape_after(Harness& h, int records, Headers auth = {}) {
  return h.get_until(
      "/metrics", [&](const std::string& body) { return value_of(body, "zgate_recorder_records_total") >= records; },
      std::move(auth));
}

// /metrics and /health also on a port of their own (metrics_listen, port 0).
GatewayOptions own_metrics_port() {
  return {.tweak = [](Config& c) {
            c.metrics_listen_host = "127.0.0.1";
            c.metrics_listen_port = 0;
          },
          .mock = {}};
}

}  // namespace

TEST_CASE("metrics: known traffic is counted in the scrape") {
  // A cap no request reaches: upstream shaping's series appear (for promtool) without waits.
  GatewayOptions o;
  o.tweak = [](Config& c) { c.providers[0].shaping.max_concurrent = 100; };
  Harness h(o);
  // Two answers, a stream and an upstream error (a 429, tried three times).
  REQUIRE(h.post_chat(chat_body("one")).status == 200);
  REQUIRE(h.post_chat(chat_body("two")).status == 200);
  REQUIRE(h.post_chat(chat_body("three", true)).status == 200);
  REQUIRE(h.post_chat(chat_body("four [scenario:err_1302]")).status == 429);
  const std::string t = scrape_after(h, 4);
  INFO(t);
  CHECK(has_line(t, R"(zgate_requests_total{model="glm-4.5",provider="default",status="200",stream="false"} 2)"));
  CHECK(has_line(t, R"(zgate_requests_total{model="glm-4.5",provider="default",status="200",stream="true"} 1)"));
  CHECK(has_line(t, R"(zgate_requests_total{model="glm-4.5",provider="default",status="429",stream="false"} 1)"));
  CHECK(value_of(t, R"(zgate_tokens_total{model="glm-4.5",key="itest",kind="prompt"})") > 0);
  CHECK(value_of(t, R"(zgate_tokens_total{model="glm-4.5",key="itest",kind="completion"})") > 0);
  CHECK(has_line(t, R"(zgate_upstream_errors_total{provider="default",type="rate_limit_exceeded"} 1)"));
  CHECK(has_line(t, "zgate_upstream_attempts_total 6"));
  CHECK(has_line(t, "zgate_upstream_retries_total 2"));
  CHECK(has_line(t, R"(zgate_request_duration_seconds_count{provider="default"} 4)"));
  CHECK(has_line(t, R"(zgate_time_to_first_token_seconds_count{provider="default"} 3)"));
  CHECK(has_line(t, "zgate_overhead_seconds_count 4"));
  CHECK(has_line(t, R"(zgate_upstream_queue_wait_seconds_count{provider="default"} 4)"));
  CHECK(has_line(t, "zgate_upstream_queue_waiting 0"));
  CHECK(has_line(t, "zgate_upstream_queue_refused_total 0"));
  CHECK(has_line(t, "zgate_recorder_dropped_total 0"));
  CHECK(has_line(t, "zgate_admin_tails_open 0"));
  CHECK(has_line(t, "zgate_admin_tails_dropped_total 0"));
  CHECK(t.find("zgate_capture_written_total") == std::string::npos);  // capture is off
  CHECK(has_line(t, "zgate_requests_in_flight 0"));
  CHECK(value_of(t, R"(zgate_upstream_pool_connections{worker="0",state="idle"})") >= 0);
  CHECK(value_of(t, R"(zgate_upstream_pool_connections{worker="1",state="in_use"})") == 0);
  CHECK(value_of(t, "process_resident_memory_bytes") > 0);
  CHECK(value_of(t, "process_start_time_seconds") > 1.7e9);
  // For `promtool check metrics` (tests/metrics/promtool.cmake).
  if (const char* dump = std::getenv("ZGATE_METRICS_DUMP")) std::ofstream(dump) << t;
}

TEST_CASE("metrics: the scrape has the exposition format's content type") {
  Harness h;
  const HttpResult r = h.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("metrics: a model outside the routes is counted as other") {
  Harness h;
  REQUIRE(h.post_chat(chat_body("x", false, "", "some-unlisted-model")).status == 200);
  const std::string t = scrape_after(h, 1);
  INFO(t);
  CHECK(has_line(t, R"(zgate_requests_total{model="other",provider="default",status="200",stream="false"} 1)"));
  CHECK(t.find("some-unlisted-model") == std::string::npos);
}

TEST_CASE("metrics: with an admin key, a client key is refused") {
  Harness h({.tweak = [](Config& c) { c.admin_key = kAdminKey; }, .mock = {}});
  CHECK(h.get("/metrics", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 401);
}

TEST_CASE("metrics: with an admin key, a scrape without a key is refused") {
  Harness h({.tweak = [](Config& c) { c.admin_key = kAdminKey; }, .mock = {}});
  CHECK(h.get("/metrics").status == 401);
}

TEST_CASE("metrics: with an admin key, the admin key scrapes") {
  Harness h({.tweak = [](Config& c) { c.admin_key = kAdminKey; }, .mock = {}});
  const HttpResult r = h.get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  CHECK(r.status == 200);
  CHECK(r.body.find("# TYPE zgate_requests_total counter") != std::string::npos);
}

TEST_CASE("metrics: without an admin key, /metrics is open") {
  Harness h;
  CHECK(h.get("/metrics").status == 200);
}

TEST_CASE("metrics: metrics_listen serves /metrics and /health on its own port, and nothing else") {
  Harness h(own_metrics_port());
  const uint16_t mp = h.gateway().metrics_port();
  REQUIRE(mp != 0);
  REQUIRE(mp != h.port());
  const HttpResult m = http_request("127.0.0.1", mp, "GET", "/metrics", {}, "", 5000ms);
  CHECK(m.status == 200);
  CHECK(m.body.find("zgate_build_info") != std::string::npos);
  CHECK(http_request("127.0.0.1", mp, "GET", "/health", {}, "", 5000ms).status == 200);
  CHECK(http_request("127.0.0.1", mp, "GET", "/v1/models",
                     {{"Authorization", std::string("Bearer ") + kClientKey}}, "", 5000ms)
            .status == 404);
  CHECK(h.get("/metrics").status == 200);  // the main listener serves it too
}

TEST_CASE("metrics: without metrics_listen, no second port is bound") {
  Harness h;
  CHECK(h.gateway().metrics_port() == 0);
}

TEST_CASE("server-timing: a chat answer carries the upstream phases and zgate's own time") {
  Harness h;
  const HttpResult r = h.post_chat(chat_body("hi"));
  REQUIRE(r.status == 200);
  const std::string st = r.header("Server-Timing");
  INFO(st);
  CHECK(st.starts_with("upstream-connect;dur="));
  CHECK(st.find(", upstream-first-byte;dur=") != std::string::npos);
  CHECK(st.find(", zgate;dur=") != std::string::npos);
  // Each duration is milliseconds with three decimals, the entries separated by ", ".
  CHECK(std::regex_match(st, std::regex(R"(upstream-connect;dur=\d+\.\d{3}, upstream-first-byte;dur=\d+\.\d{3}, zgate;dur=\d+\.\d{3})")));
}

TEST_CASE("server-timing: a stream's head carries what is known when it starts") {
  Harness h;
  const HttpResult r = h.post_chat(chat_body("hi", true));
  REQUIRE(r.status == 200);
  const std::string st = r.header("Server-Timing");
  INFO(st);
  CHECK(st.find("upstream-first-byte;dur=") != std::string::npos);
  CHECK(st.find("zgate;dur=") != std::string::npos);
}

TEST_CASE("server-timing: an error answered before the upstream carries zgate's time only") {
  Harness h;
  const HttpResult r = h.post_chat("{not json");
  REQUIRE(r.status == 400);
  const std::string st = r.header("Server-Timing");
  CHECK(st.starts_with("zgate;dur="));
}

TEST_CASE("server-timing: exposed to browsers and absent from other endpoints") {
  Harness h;
  const HttpResult chat = h.post_chat(chat_body("hi"));
  CHECK(chat.header("Access-Control-Expose-Headers").find("Server-Timing") != std::string::npos);
  CHECK(h.get("/health").header("Server-Timing").empty());
}

TEST_CASE("metrics: a route added by a reload is counted under its own name") {
  Harness h;
  auto next = std::make_shared<Config>(h.config());
  ModelRoute alias;
  alias.name = "reloaded-metrics-alias";
  alias.provider = "default";
  alias.upstream_model = "glm-4.5";
  next->models.push_back(alias);
  validate(*next);
  REQUIRE(h.gateway().reload(next).applied);
  // The workers take the new generation from their queues: wait (bounded) until one answers it.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int answered = 0;
  while (answered == 0 && std::chrono::steady_clock::now() < deadline) {
    if (h.post_chat(chat_body("x", false, "", "reloaded-metrics-alias")).status == 200) ++answered;
  }
  REQUIRE(answered == 1);
  const std::string t = scrape_after(h, 1);
  INFO(t);
  CHECK(has_line(t,
                 R"(zgate_requests_total{model="reloaded-metrics-alias",provider="default",status="200",stream="false"} 1)"));
}

TEST_CASE("metrics: a metrics_listen port in use stops the start with a message naming the setting") {
  Harness first(own_metrics_port());
  const uint16_t taken = first.gateway().metrics_port();
  auto c = std::make_shared<Config>(first.config());
  c->metrics_listen_port = taken;
  c->listen_port = 0;
  Gateway second(c);
  std::string error;
  try {
    second.start();
  } catch (const std::exception& e) {
    error = e.what();
  }
  CHECK_THAT(error, Catch::Contains("metrics_listen") && Catch::Contains(std::to_string(taken)));
}

TEST_CASE("metrics: an open stream is counted in the gauges without any admission limit") {
  Harness h;  // no limits.max_in_flight / max_streams
  std::thread client([&] { h.post_chat(chat_body("hold [scenario:slow chunks=100 delay_ms=20]", true)); });
  // Scrape until the stream shows (bounded: 5 s); it lasts about 2 s.
  std::string t;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    t = h.get("/metrics").body;
    if (has_line(t, "zgate_streams_open 1")) break;
    std::this_thread::sleep_for(5ms);
  } while (std::chrono::steady_clock::now() < deadline);
  INFO(t);
  CHECK(has_line(t, "zgate_streams_open 1"));
  CHECK(has_line(t, "zgate_chat_requests_in_flight 1"));
  client.join();
  // The client has the whole stream a moment before its worker leaves the request: scrape
  // until the gauges are back (bounded: 5 s).
  std::string after;
  const auto until = std::chrono::steady_clock::now() + 5s;
  do {
    after = h.get("/metrics").body;
    if (has_line(after, "zgate_streams_open 0") && has_line(after, "zgate_chat_requests_in_flight 0")) break;
    std::this_thread::sleep_for(5ms);
  } while (std::chrono::steady_clock::now() < until);
  CHECK(has_line(after, "zgate_streams_open 0"));
  CHECK(has_line(after, "zgate_chat_requests_in_flight 0"));
}
