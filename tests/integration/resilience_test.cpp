// Defects a hostile-input probe found, each pinned by a test: request framing that RFC 9112
// says must be refused, errors answered before the body is read, what is recorded when a
// request fails, and requests still running when the shutdown grace ends.
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "integration/gateway_harness.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

std::string auth_header() { return std::string("Authorization: Bearer ") + kClientKey + "\r\n"; }

// Access lines that arrive after `before` (the recorder writes every 100 ms) until one contains
// `needle`; bounded at 5 s.
std::string wait_access_line(std::size_t before, std::string_view needle) {
  for (int i = 0; i < 250; ++i) {
    const auto lines = access_lines().snapshot();
    for (std::size_t j = before; j < lines.size(); ++j) {
      if (lines[j].find(needle) != std::string::npos) return lines[j];
    }
    std::this_thread::sleep_for(20ms);
  }
  return {};
}

// Sends `raw` on a fresh connection and reads until the server closes it (bounded).
std::string exchange_raw(uint16_t port, const std::string& raw) {
  RawConn conn(port);
  REQUIRE(conn.connected());
  REQUIRE(conn.send(raw));
  return conn.read_until(std::string_view("\x01never\x02"), std::chrono::seconds(5));
}

int count(std::string_view hay, std::string_view needle) {
  int n = 0;
  for (std::size_t p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

// ---- framing ---------------------------------------------------------------------------------

TEST_CASE("a final transfer coding other than chunked is a 400 and the body is never read as a request",
          "[integration][h1]") {
  Harness h;
  for (const std::string te : {"gzip", "chunked, identity", "identity"}) {
    INFO(te);
    // The "body" is a second request: were it parsed as one, a 200 from /health would follow.
    const std::string got = exchange_raw(h.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() +
                                                       "Transfer-Encoding: " + te +
                                                       "\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(got.rfind("HTTP/1.1 400 ", 0) == 0);
    CHECK(got.find("Connection: close") != std::string::npos);
    CHECK(got.find("transfer coding") != std::string::npos);
    CHECK(count(got, "HTTP/1.1 ") == 1);
  }
}

TEST_CASE("a transfer coding besides chunked is a 501", "[integration][h1]") {
  Harness h;
  const std::string got = exchange_raw(h.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() +
                                                     "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 501 ", 0) == 0);
  CHECK(count(got, "HTTP/1.1 ") == 1);
}

TEST_CASE("Transfer-Encoding split over two field lines is judged as one list", "[integration][h1]") {
  Harness h;
  const std::string got = exchange_raw(h.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() +
                                                     "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
                                                     "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(count(got, "HTTP/1.1 ") == 1);
}

TEST_CASE("a malformed chunk size is a 400 naming the body", "[integration][h1]") {
  Harness h;
  const std::size_t before = access_lines().snapshot().size();
  const std::string got = exchange_raw(h.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() +
                                                     "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(got.find("Malformed request body") != std::string::npos);
  // Recorded as what the client got (it was once a 499).
  const std::string line = wait_access_line(before, "\"path\":\"/v1/chat/completions\"");
  CHECK(line.find("\"status\":400") != std::string::npos);
}

TEST_CASE("an HTTP/1.1 request without Host, or with two, is a 400", "[integration][h1]") {
  Harness h;
  std::string got = exchange_raw(h.port(), "GET /health HTTP/1.1\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(got.find("Host") != std::string::npos);
  got = exchange_raw(h.port(), "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 400 ", 0) == 0);
  // HTTP/1.0 may omit it.
  got = exchange_raw(h.port(), "GET /health HTTP/1.0\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 200 ", 0) == 0);
}

TEST_CASE("obs-fold in a request head is a 400", "[integration][h1]") {
  Harness h;
  const std::string got =
      exchange_raw(h.port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\nGET /health HTTP/1.1\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(got.find("folding") != std::string::npos);
  CHECK(count(got, "HTTP/1.1 ") == 1);
}

TEST_CASE("absolute-form request targets are served like origin-form", "[integration][h1]") {
  Harness h;
  std::string got = exchange_raw(h.port(), "GET http://gateway.example/health HTTP/1.1\r\nHost: gateway.example\r\n"
                                           "Connection: close\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 200 ", 0) == 0);
  const std::string body = chat_body("absolute");
  got = exchange_raw(h.port(), "POST HTTP://gateway.example/v1/chat/completions HTTP/1.1\r\nHost: gateway.example\r\n" +
                                   auth_header() + "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
                                   "\r\n\r\n" + body);
  CHECK(got.rfind("HTTP/1.1 200 ", 0) == 0);
  CHECK(got.find("You said: absolute") != std::string::npos);
}

TEST_CASE("100 Continue is sent to HTTP/1.1 clients only", "[integration][h1]") {
  Harness h;
  const std::string body = chat_body("continue");
  const std::string head_tail = "Host: x\r\n" + auth_header() + "Expect: 100-continue\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  std::string got = exchange_raw(h.port(), "POST /v1/chat/completions HTTP/1.0\r\n" + head_tail + body);
  CHECK(got.find("100 Continue") == std::string::npos);
  CHECK(got.find("You said: continue") != std::string::npos);
  got = exchange_raw(h.port(), "POST /v1/chat/completions HTTP/1.1\r\n" + head_tail + body);
  CHECK(got.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
  CHECK(got.find("You said: continue") != std::string::npos);
}

TEST_CASE("a malformed request head is answered and recorded", "[integration][h1]") {
  Harness h;
  const std::size_t before = access_lines().snapshot().size();
  const std::string got = exchange_raw(h.port(), "GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 400 ", 0) == 0);
  const std::string line = wait_access_line(before, "\"status\":400");
  CHECK_FALSE(line.empty());
  CHECK(line.find("bad_request") != std::string::npos);
}

TEST_CASE("oversized request headers are answered with 431 and recorded", "[integration][h1]") {
  Harness h({[](Config& c) { c.limits.header_limit = 1024; }, {}});
  const std::size_t before = access_lines().snapshot().size();
  const std::string got =
      exchange_raw(h.port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 431 ", 0) == 0);
  CHECK_FALSE(wait_access_line(before, "\"status\":431").empty());
}

// ---- errors answered before the body is read: lingering close ----------------------------

namespace {

// Sends a request head announcing `body_size` bytes, then the body from a second thread while
// this one reads the answer; returns what was read (the connection closes after the answer).
// `sent_all` says whether the whole body went out without an error (EPIPE or a reset means zgate
// closed while the client was still sending).
std::string answer_while_sending(uint16_t port, const std::string& head, std::size_t body_size, bool& sent_all) {
  RawConn conn(port);
  REQUIRE(conn.connected());
  REQUIRE(conn.send(head));
  std::atomic<bool> all{false};
  std::thread sender([&] {
    const std::string piece(64 * 1024, 'x');
    std::size_t sent = 0;
    while (sent < body_size) {
      if (!conn.send(std::string_view(piece).substr(0, std::min(piece.size(), body_size - sent)))) break;
      sent += piece.size();
    }
    all = sent >= body_size;
  });
  std::string got = conn.read_until("\"error\"", std::chrono::seconds(5));
  got += conn.read_until("}}", std::chrono::seconds(2));
  if (got.find("}}") == std::string::npos) conn.shutdown();  // no answer: end a blocked send
  sender.join();
  sent_all = all.load();
  conn.close();
  return got;
}

}  // namespace

TEST_CASE("a 401 sent before a large body is read reaches a client that is still sending", "[integration][h1]") {
  Harness h;
  const std::size_t size = 16 * 1024 * 1024;
  bool sent_all = false;
  const std::string got = answer_while_sending(
      h.port(),
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-key\r\nContent-Length: " +
          std::to_string(size) + "\r\n\r\n",
      size, sent_all);
  CHECK(sent_all);  // zgate read and discarded the body instead of resetting the connection
  CHECK(got.rfind("HTTP/1.1 401 ", 0) == 0);
  CHECK(got.find("invalid_api_key") != std::string::npos);
}

TEST_CASE("a 413 sent before the body is read reaches a client that is still sending", "[integration][h1]") {
  Harness h({[](Config& c) { c.limits.body_limit = 1024 * 1024; }, {}});
  const std::size_t size = 3 * 1024 * 1024;
  bool sent_all = false;
  const std::string got = answer_while_sending(h.port(),
                                               "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() +
                                                   "Content-Length: " + std::to_string(size) + "\r\n\r\n",
                                               size, sent_all);
  CHECK(sent_all);
  CHECK(got.rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(got.find("request_too_large") != std::string::npos);
}

// ---- what is recorded when a request fails --------------------------------------------------

namespace {

// The access line of a stream request for `text` with the request id `id` (answered 200).
std::string streamed_access_line(const std::string& text, const std::string& id) {
  Harness h;
  const std::size_t before = access_lines().snapshot().size();
  REQUIRE(h.post_chat(chat_body(text, true), {{"X-Request-Id", id}}).status == 200);
  const std::string line = wait_access_line(before, id);
  REQUIRE_FALSE(line.empty());
  return line;
}

}  // namespace

TEST_CASE("a stream that ends with an in-band upstream error is recorded with its error type", "[integration]") {
  const std::string line = streamed_access_line("[scenario:error_frame]", "inband-error-1");
  CHECK(line.find("\"status\":200") != std::string::npos);
  CHECK(line.find("\"error_type\":\"\"") == std::string::npos);
  CHECK(line.find("\"error_type\":\"") != std::string::npos);
}

TEST_CASE("a stream whose upstream connection breaks is recorded with its error type", "[integration]") {
  const std::string line = streamed_access_line("[scenario:drop]", "broken-stream-1");
  CHECK(line.find("\"error_type\":\"\"") == std::string::npos);
}

// ---- shutdown ---------------------------------------------------------------------------------

TEST_CASE("a stream still open when the shutdown grace ends gets an error event, [DONE] and a record",
          "[integration][shutdown]") {
  auto h = std::make_unique<Harness>(GatewayOptions{[](Config& c) { c.timeouts.shutdown_grace = 300ms; }, {}});
  const std::size_t before = access_lines().snapshot().size();
  RawConn conn(h->port());
  const std::string body = chat_body("[scenario:slow chunks=400 delay_ms=25]", true);
  REQUIRE(conn.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() +
                    "X-Request-Id: cut-at-shutdown\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                    body));
  std::string got = conn.read_until("chat.completion.chunk", std::chrono::seconds(5));
  REQUIRE(got.find("200") != std::string::npos);
  std::thread stopper([&] { h->gateway().stop(); });
  got += conn.read_until("\r\n0\r\n\r\n", std::chrono::seconds(5));
  stopper.join();
  CHECK(got.find("server_shutting_down") != std::string::npos);
  CHECK(got.find("data: [DONE]") != std::string::npos);
  CHECK(got.find("\r\n0\r\n\r\n") != std::string::npos);  // the chunked body ends properly
  const std::string line = wait_access_line(before, "cut-at-shutdown");
  REQUIRE_FALSE(line.empty());
  CHECK(line.find("server_shutting_down") != std::string::npos);
}

TEST_CASE("a non-stream request still waiting when the shutdown grace ends gets a 503 and a record",
          "[integration][shutdown]") {
  auto h = std::make_unique<Harness>(GatewayOptions{[](Config& c) { c.timeouts.shutdown_grace = 300ms; }, {}});
  const std::size_t before = access_lines().snapshot().size();
  RawConn conn(h->port());
  const std::string body = chat_body("[scenario:hang]");
  REQUIRE(conn.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() +
                    "X-Request-Id: cut-waiting\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  for (int i = 0; i < 250 && h->mock().stats().requests == 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(h->mock().stats().requests == 1);
  std::thread stopper([&] { h->gateway().stop(); });
  const std::string got = conn.read_until("}}", std::chrono::seconds(5));
  stopper.join();
  CHECK(got.rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(got.find("Retry-After: 1") != std::string::npos);
  const std::string line = wait_access_line(before, "cut-waiting");
  REQUIRE_FALSE(line.empty());
  CHECK(line.find("\"status\":503") != std::string::npos);
}

// ---- listen address ---------------------------------------------------------------------------

TEST_CASE("a listen host name such as localhost is resolved", "[integration]") {
  Harness h({[](Config& c) { c.listen_host = "localhost"; }, {}});
  CHECK(h.port() != 0);
  auto r = h.get("/health");
  CHECK(r.status == 200);
}

// ---- reload -----------------------------------------------------------------------------------

TEST_CASE("reload applies new client keys and routes to new requests", "[integration][reload]") {
  Harness h;
  auto next = std::make_shared<Config>(h.config());
  next->api_keys = {ApiKey{"new", "sk-reloaded-key-000000000001"}};
  ModelRoute alias;
  alias.name = "reloaded-alias";
  alias.provider = "default";
  alias.upstream_model = "glm-4.5";
  next->models.push_back(alias);
  next->allow_unlisted_models = false;
  validate(*next);
  const auto r = h.gateway().reload(next);
  REQUIRE(r.applied);
  CHECK(r.generation == 2);
  CHECK(r.restart_needed.empty());
  // The workers take the new generation from their queues: a request a moment later sees it.
  HttpResult ok;
  for (int i = 0; i < 100; ++i) {
    ok = http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions",
                      {{"Authorization", "Bearer sk-reloaded-key-000000000001"}}, chat_body("hi", false, "", "reloaded-alias"),
                      5000ms);
    if (ok.status == 200) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(ok.status == 200);
  CHECK(h.post_chat(chat_body("old key")).status == 401);
  auto unlisted = http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions",
                               {{"Authorization", "Bearer sk-reloaded-key-000000000001"}},
                               chat_body("hi", false, "", "not-a-route"), 5000ms);
  CHECK(unlisted.status == 404);
}

TEST_CASE("a reload whose providers cannot be built is refused and changes nothing", "[integration][reload]") {
  Harness h;
  auto next = std::make_shared<Config>(h.config());
  next->api_keys = {ApiKey{"new", "sk-reloaded-key-000000000002"}};
  next->providers[0].base_url = "https://127.0.0.1:1/api/paas/v4";
  next->providers[0].ca_file = "/nonexistent/ca.pem";
  const auto r = h.gateway().reload(next);
  CHECK_FALSE(r.applied);
  CHECK_FALSE(r.error.empty());
  CHECK(h.post_chat(chat_body("still the old key")).status == 200);
}

TEST_CASE("a reload reports the settings that need a restart", "[integration][reload]") {
  Harness h;
  auto next = std::make_shared<Config>(h.config());
  next->listen_port = 1;
  next->workers = 7;
  const auto r = h.gateway().reload(next);
  CHECK(r.applied);
  CHECK(r.restart_needed == std::vector<std::string>{"listen", "workers"});
  CHECK(h.get("/health").status == 200);
}

// ---- admission control and drain ---------------------------------------------------------------

namespace {

// Starts a slow stream on `conn` and waits for its first chunk.
void open_slow_stream(RawConn& conn, const std::string& id) {
  const std::string body = chat_body("[scenario:slow chunks=200 delay_ms=25]", true);
  REQUIRE(conn.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() + "X-Request-Id: " + id +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  REQUIRE(conn.read_until("chat.completion.chunk", std::chrono::seconds(5)).find("200") != std::string::npos);
}

}  // namespace

TEST_CASE("over limits.max_in_flight a chat request gets 503 server_overloaded with Retry-After",
          "[integration][admission]") {
  Harness h({[](Config& c) { c.limits.max_in_flight = 1; }, {}});
  RawConn busy(h.port());
  open_slow_stream(busy, "admission-busy");
  auto r = h.post_chat(chat_body("one too many"));
  CHECK(r.status == 503);
  CHECK(r.header("Retry-After") == "1");
  CHECK(r.body.find("server_overloaded") != std::string::npos);
  CHECK(r.body.find("limits.max_in_flight") != std::string::npos);
  CHECK(h.get("/health").status == 200);  // only chat requests are admitted or refused
  busy.close();
  HttpResult later;
  for (int i = 0; i < 200; ++i) {  // the slot frees once zgate sees the hang-up (one watchdog tick)
    later = h.post_chat(chat_body("after"));
    if (later.status == 200) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(later.status == 200);
}

TEST_CASE("over limits.max_streams a stream gets 503 while a non-stream request is served", "[integration][admission]") {
  Harness h({[](Config& c) { c.limits.max_streams = 1; }, {}});
  RawConn busy(h.port());
  open_slow_stream(busy, "stream-busy");
  auto s = h.post_chat(chat_body("second stream", true));
  CHECK(s.status == 503);
  CHECK(s.body.find("limits.max_streams") != std::string::npos);
  CHECK(h.post_chat(chat_body("not a stream")).status == 200);
}

TEST_CASE("during the drain delay /ready is 503 and new connections are still served", "[integration][shutdown]") {
  auto h = std::make_unique<Harness>(GatewayOptions{[](Config& c) { c.timeouts.drain_delay = 1500ms; }, {}});
  const uint16_t port = h->port();
  CHECK(h->get("/ready").status == 200);
  std::thread stopper([&] { h->gateway().stop(); });
  HttpResult ready;
  for (int i = 0; i < 100; ++i) {
    ready = h->get("/ready");
    if (ready.status == 503) break;
    std::this_thread::sleep_for(5ms);
  }
  CHECK(ready.status == 503);
  auto chat = h->post_chat(chat_body("while draining"));
  CHECK(chat.status == 200);
  CHECK(chat.header("Connection") == "close");
  stopper.join();
  RawConn after(port);
  CHECK_FALSE(after.connected());
}

// ---- heartbeats ---------------------------------------------------------------------------------

TEST_CASE("a stream silent for longer than stream_heartbeat gets SSE keep-alive comments and stays whole",
          "[integration][heartbeat]") {
  Harness h({[](Config& c) { c.timeouts.stream_heartbeat = 100ms; }, {}});
  auto r = h.post_chat(chat_body("[scenario:slow chunks=3 delay_ms=450]", true));
  REQUIRE(r.status == 200);
  REQUIRE(r.complete);
  CHECK(r.body.find(": keep-alive\n\n") != std::string::npos);
  const auto events = sse_payloads(r.body);  // a real SSE parser skips the comments
  REQUIRE_FALSE(events.empty());
  CHECK(events.back() == "[DONE]");
  CHECK(r.body.find("\"finish_reason\":\"stop\"") != std::string::npos);
  CHECK(r.body.rfind(": keep-alive") < r.body.find("[DONE]"));  // nothing after the end
}

TEST_CASE("without stream_heartbeat a silent stream gets no comments", "[integration][heartbeat]") {
  Harness h;
  auto r = h.post_chat(chat_body("[scenario:slow chunks=2 delay_ms=300]", true));
  REQUIRE(r.status == 200);
  CHECK(r.body.find(": keep-alive") == std::string::npos);
}

// ---- retries ----------------------------------------------------------------------------------

namespace {
void fast_retries(Config& c) {
  c.retry.base_delay = 20ms;
  c.retry.max_delay = 100ms;
}

// fast_retries, then `more`.
GatewayOptions fast_retries_and(std::function<void(Config&)> more) {
  GatewayOptions o;
  o.tweak = [more = std::move(more)](Config& c) {
    fast_retries(c);
    more(c);
  };
  return o;
}
}  // namespace

TEST_CASE("a 429 the upstream marks as passing is retried until it succeeds, and the record says so",
          "[integration][retry]") {
  Harness h({fast_retries, {}});
  const std::size_t before = access_lines().snapshot().size();
  auto r = h.post_chat(chat_body("[scenario:flaky times=2 code=1302 tag=r429]"), {{"X-Request-Id", "retry-429"}});
  CHECK(r.status == 200);
  CHECK(h.mock().stats().requests == 3);
  const std::string line = wait_access_line(before, "retry-429");
  CHECK(line.find("\"attempts\":3") != std::string::npos);
  CHECK(line.find("\"retries\":\"http_429,http_429\"") != std::string::npos);
}

TEST_CASE("a streamed request is retried too while nothing has reached the client", "[integration][retry]") {
  Harness h({fast_retries, {}});
  auto r = h.post_chat(chat_body("[scenario:flaky times=1 code=1305 tag=rstream]", true));
  CHECK(r.status == 200);
  CHECK(r.body.find("data: [DONE]") != std::string::npos);
  CHECK(h.mock().stats().requests == 2);
}

TEST_CASE("a connection the upstream drops before answering is retried", "[integration][retry]") {
  Harness h({fast_retries, {}});
  auto r = h.post_chat(chat_body("[scenario:flaky times=1 code=drop tag=rdrop]"));
  CHECK(r.status == 200);
}

TEST_CASE("an upstream 5xx is retried", "[integration][retry]") {
  Harness h({fast_retries, {}});
  auto r = h.post_chat(chat_body("[scenario:flaky times=1 code=500 tag=r500]"));
  CHECK(r.status == 200);
  CHECK(h.mock().stats().requests == 2);
}

TEST_CASE("a spent balance (1113) is never retried", "[integration][retry]") {
  Harness h({fast_retries, {}});
  auto r = h.post_chat(chat_body("[scenario:flaky times=5 code=1113 tag=r1113]"));
  CHECK(r.status == 429);
  CHECK(r.body.find("insufficient_quota") != std::string::npos);
  CHECK(h.mock().stats().requests == 1);
}

TEST_CASE("the last failure is answered once the attempts are used up", "[integration][retry]") {
  Harness h(fast_retries_and([](Config& c) { c.retry.attempts = 2; }));
  auto r = h.post_chat(chat_body("[scenario:flaky times=5 code=1302 tag=rmax]"));
  CHECK(r.status == 429);
  CHECK(r.body.find("rate_limit_exceeded") != std::string::npos);
  CHECK(h.mock().stats().requests == 2);
}

TEST_CASE("no attempt starts after the retry budget", "[integration][retry]") {
  Harness h(fast_retries_and([](Config& c) { c.retry.budget = 0ms; }));
  auto r = h.post_chat(chat_body("[scenario:flaky times=5 code=1302 tag=rbudget]"));
  CHECK(r.status == 429);
  CHECK(h.mock().stats().requests == 1);
}

// ---- upstream key pools ------------------------------------------------------------------------

TEST_CASE("requests rotate among a provider's upstream keys", "[integration][keys]") {
  mock::Options mo;
  mo.api_keys = {"upstream-key-a", "upstream-key-b"};
  Harness h({[](Config& c) {
               c.providers[0].api_key.clear();
               c.providers[0].api_keys = {"upstream-key-a", "upstream-key-b"};
             },
             mo});
  std::set<std::string> used;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(h.post_chat(chat_body("rotate")).status == 200);
    used.insert(h.mock().last_request_header("Authorization"));
  }
  CHECK(used == std::set<std::string>{"Bearer upstream-key-a", "Bearer upstream-key-b"});
}

TEST_CASE("a key the upstream rejects leaves the rotation and the request goes to the next key at once",
          "[integration][keys]") {
  mock::Options mo;
  mo.api_keys = {"upstream-key-good"};  // the other key is revoked
  Harness h({[](Config& c) {
               c.providers[0].api_key.clear();
               c.providers[0].api_keys = {"upstream-key-revoked", "upstream-key-good"};
               c.retry.base_delay = 5000ms;  // a wait would show: switching keys does not wait
             },
             mo});
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) CHECK(h.post_chat(chat_body("revoked")).status == 200);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  // The revoked key was tried once at most: four requests, at most five upstream calls.
  CHECK(h.mock().stats().requests <= 5);
  CHECK(h.mock().last_request_header("Authorization") == "Bearer upstream-key-good");
}

TEST_CASE("with every key rate limited the client gets 429 with Retry-After of the soonest recovery",
          "[integration][keys]") {
  Harness h({[](Config& c) {
               c.providers[0].api_key.clear();
               c.providers[0].api_keys = {"upstream-key-a", "upstream-key-b"};
               c.providers[0].key_cooldown = 7000ms;
               c.retry.base_delay = 10ms;
             },
             {}});
  auto r = h.post_chat(chat_body("[scenario:err_1302]"));
  // Both keys got 429 and rest; the next attempt finds none usable.
  CHECK(r.status == 429);
  CHECK(h.mock().stats().requests == 2);
  auto again = h.post_chat(chat_body("busy again"));
  CHECK(again.status == 429);
  CHECK(again.body.find("rate limited") != std::string::npos);
  const int retry_after = std::atoi(again.header("Retry-After").c_str());
  CHECK(retry_after >= 5);
  CHECK(retry_after <= 7);
  CHECK(h.mock().stats().requests == 2);  // no upstream call while every key rests
}
