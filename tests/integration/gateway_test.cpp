// zgate end to end, in process: a real client, zgate and zgate-mock on loopback port 0.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <pthread.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include <simdjson.h>

#include "integration/gateway_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/usage_db.hpp"
#include "zgate/h1/chunked.hpp"

using namespace zgate;
using namespace zgate::testing;

TEST_CASE("non-stream chat completion is translated to chat.completion", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("Hello gateway"));
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type").find("application/json") == 0);
  CHECK(r.body.find(R"("object":"chat.completion")") != std::string::npos);
  CHECK(r.body.find(R"("model":"glm-4.5")") != std::string::npos);
  CHECK(r.body.find("You said: Hello gateway") != std::string::npos);
  CHECK(r.body.find(R"("finish_reason":"stop")") != std::string::npos);
  CHECK(r.body.find(R"("prompt_tokens":)") != std::string::npos);
}

TEST_CASE("a non-stream answer larger than one socket read arrives whole", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("[scenario:long bytes=300000]"));
  REQUIRE(r.status == 200);
  CHECK(r.body.size() > 300000);
  CHECK(r.body.find("Line 00001: the quick brown fox") != std::string::npos);
  // The last whole line of the 300000 bytes (57 bytes a line).
  CHECK(r.body.find("Line 05263: the quick brown fox") != std::string::npos);
  CHECK(r.body.find(R"("finish_reason":"stop")") != std::string::npos);
}

TEST_CASE("a non-stream upstream answer over limits.max_upstream_body is a 502 naming the limit", "[integration]") {
  GatewayOptions o;
  o.tweak = [](Config& c) { c.limits.max_upstream_body = 64 * 1024; };
  Harness h(o);
  auto r = h.post_chat(chat_body("[scenario:long bytes=200000]"));
  CHECK(r.status == 502);
  CHECK(r.body.find("upstream_response_too_large") != std::string::npos);
  CHECK(r.body.find("max_upstream_body") != std::string::npos);
  // A small answer on the same gateway is unaffected.
  CHECK(h.post_chat(chat_body("small")).status == 200);
}

TEST_CASE("stream is rewritten to OpenAI chunks with SSE headers and [DONE]", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("Stream me", true));
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/event-stream");
  CHECK(r.header("Cache-Control") == "no-cache");
  CHECK(r.header("X-Accel-Buffering") == "no");
  const auto events = sse_data(r.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  CHECK(events.front().find(R"("role":"assistant")") != std::string::npos);
  for (std::size_t i = 1; i + 1 < events.size(); ++i) {
    CHECK(events[i].find(R"("role")") == std::string::npos);
    CHECK(events[i].find(R"("object":"chat.completion.chunk")") != std::string::npos);
  }
  CHECK(events[events.size() - 2].find(R"("finish_reason":"stop")") != std::string::npos);
  std::string text;
  for (auto& e : events) {
    auto p = e.find(R"("content":")");
    if (p != std::string::npos) text += e.substr(p + 11, e.find('"', p + 11) - p - 11);
  }
  CHECK(text.find("You said: Stream me") != std::string::npos);
}

TEST_CASE("stream arrives incrementally, not buffered", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("[scenario:slow chunks=5 delay_ms=150]", true));
  REQUIRE(r.status == 200);
  REQUIRE(r.chunks.size() >= 4);
  // The last piece arrives ~600 ms after the first; a buffering proxy would deliver all at once.
  const auto spread = r.chunks.back().first - r.chunks.front().first;
  CHECK(spread >= std::chrono::milliseconds(400));
}

namespace {
// The text of the mock's "long" scenario: numbered lines, cut at `bytes`.
std::string long_text(std::size_t bytes) {
  std::string text;
  for (int line = 1; text.size() < bytes; ++line) {
    char buf[96];
    const int n = std::snprintf(buf, sizeof buf, "Line %05d: the quick brown fox jumps over the lazy dog.\n", line);
    text.append(buf, static_cast<std::size_t>(n));
  }
  text.resize(bytes);
  return text;
}

// The content deltas of an OpenAI SSE body, joined.
std::string streamed_content(const std::string& sse) {
  std::string text;
  simdjson::dom::parser p;
  for (const auto& d : sse_data(sse)) {
    if (d == "[DONE]") continue;
    simdjson::dom::element e;
    if (p.parse(d).get(e)) continue;
    std::string_view piece;
    if (!e.at_pointer("/choices/0/delta/content").get(piece)) text.append(piece);
  }
  return text;
}
}  // namespace

TEST_CASE("a stream its client reads late arrives whole while another stream on the same worker goes on",
          "[integration]") {
  GatewayOptions o;
  o.tweak = [](Config& c) { c.workers = 1; };
  Harness h(o);
  RawConn late(h.port());
  REQUIRE(late.connected());
  // 8 MB: more than the socket buffers hold while nobody reads (a send buffer grows to 4 MiB at
  // most, the receive window stays small), so zgate's writes to `late` wait (pending) while the
  // other stream's chunks are encoded on the same worker.
  constexpr std::size_t kBytes = 8'000'000;
  REQUIRE(late.send(raw_chat_request(chat_body("[scenario:long bytes=8000000 chunks=64]", true))));
  std::string got = late.read_until("\r\n\r\n", 5s);
  REQUIRE(got.find("HTTP/1.1 200") == 0);
  const auto other = h.post_chat(chat_body("[scenario:slow chunks=16 delay_ms=2] meanwhile", true));
  REQUIRE(other.status == 200);
  CHECK(sse_data(other.body).back() == "[DONE]");
  CHECK(other.body.find("Line 0") == std::string::npos);  // nothing of the other stream
  got += late.read_until("data: [DONE]", 30s);
  const std::size_t body_at = got.find("\r\n\r\n") + 4;
  h1::ChunkedDecoder d;
  const auto step = d.decode(got.data() + body_at, got.size() - body_at);
  REQUIRE(step.error.empty());
  const std::string sse(step.data);
  CHECK(sse_data(sse).back() == "[DONE]");
  const std::string text = streamed_content(sse);
  CHECK(text.size() == kBytes);
  CHECK(text == long_text(kBytes));
}

TEST_CASE("an upstream that answers a streamed request with JSON still ends the stream", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("[scenario:json_answer] hi", true), {}, 3s);
  REQUIRE(r.status == 200);
  CHECK(r.complete);  // the chunked body is terminated, the client does not wait for more
  CHECK(r.keep_alive);
  const auto events = sse_data(r.body);
  REQUIRE(events.size() >= 2);
  CHECK(events.back() == "[DONE]");
  CHECK(r.body.find(R"("finish_reason":"stop")") != std::string::npos);
}

TEST_CASE("a stream whose upstream goes silent is cut after upstream_stream_idle", "[integration]") {
  Harness h({[](Config& c) { c.timeouts.upstream_stream_idle = std::chrono::milliseconds(300); }, {}});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = h.post_chat(chat_body("[scenario:hang_mid_stream]", true), {}, 5s);
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(r.status == 200);
  CHECK(r.complete);
  CHECK(r.body.find("upstream_timeout") != std::string::npos);
  CHECK(sse_data(r.body).back() == "[DONE]");
  CHECK(took >= std::chrono::milliseconds(300));
  CHECK(took < std::chrono::seconds(2));
}

TEST_CASE("the upstream request carries Host, Content-Length and configured headers, which override the dialect's", "[integration]") {
  Harness h({[](Config& c) {
               c.providers[0].headers["X-Extra"] = "one";
               c.providers[0].headers["accept"] = "application/x-override";
             },
             {}});
  const std::string body = chat_body("headers");
  auto r = h.post_chat(body);
  REQUIRE(r.status == 200);
  auto& m = h.mock();
  CHECK(m.last_request_header("x-extra") == "one");
  CHECK(m.last_request_header("accept") == "application/x-override");  // one Accept, the configured one
  CHECK(m.last_request_header("content-type") == "application/json");
  CHECK(m.last_request_header("host").rfind("127.0.0.1:", 0) == 0);
  CHECK(m.last_request_header("content-length") == std::to_string(m.last_request_body().size()));
  CHECK(m.last_request_header("authorization").rfind("Bearer ", 0) == 0);
}

TEST_CASE("reasoning_content deltas come before content", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("think", true, "", "glm-4.5-thinking"));
  REQUIRE(r.status == 200);
  const auto first_reasoning = r.body.find(R"("reasoning_content")");
  const auto first_content = r.body.find(R"("content":"\n)");
  REQUIRE(first_reasoning != std::string::npos);
  CHECK((first_content == std::string::npos || first_reasoning < first_content));
  // The alias turned thinking on upstream.
  CHECK(h.mock().last_request_body().find(R"("thinking":{"type":"enabled"})") != std::string::npos);
  CHECK(h.mock().last_request_body().find(R"("model":"glm-4.5")") != std::string::npos);
}

TEST_CASE("tool calls come back in OpenAI shape (non-stream)", "[integration]") {
  Harness h;
  const std::string tools = one_tool("get_weather");
  auto r = h.post_chat(chat_body("Weather? [scenario:tools]", false, tools, "glm-4.6"));
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"("finish_reason":"tool_calls")") != std::string::npos);
  CHECK(r.body.find(R"("name":"get_weather")") != std::string::npos);
  CHECK(r.body.find(R"("type":"function")") != std::string::npos);
  // The upstream's non-standard `index` on non-stream tool calls is removed.
  CHECK(r.body.find(R"("index")", r.body.find(R"("tool_calls")")) == std::string::npos);
}

TEST_CASE("fragmented streamed tool call: index always, id and name once", "[integration]") {
  Harness h;
  const std::string tools = one_tool("write_file");
  auto r = h.post_chat(chat_body("[scenario:tool_stream_repeat]", true, tools, "glm-4.6"));
  REQUIRE(r.status == 200);
  int with_id = 0, with_index = 0;
  for (auto& e : sse_data(r.body)) {
    if (e.find(R"("tool_calls")") == std::string::npos) continue;
    if (e.find(R"("id":"call_)") != std::string::npos) ++with_id;
    if (e.find(R"("index":0)") != std::string::npos) ++with_index;
  }
  CHECK(with_id == 1);
  CHECK(with_index >= 2);
  CHECK(r.body.find(R"("finish_reason":"tool_calls")") != std::string::npos);
}

TEST_CASE("usage chunk only when stream_options.include_usage", "[integration]") {
  Harness h;
  auto with = h.post_chat(chat_body("u", true, R"("stream_options":{"include_usage":true})"));
  REQUIRE(with.status == 200);
  CHECK(with.body.find(R"("choices":[],"usage":)") != std::string::npos);
  auto without = h.post_chat(chat_body("u", true));
  REQUIRE(without.status == 200);
  CHECK(without.body.find(R"("usage")") == std::string::npos);
}

TEST_CASE("upstream errors map to OpenAI statuses and types", "[integration]") {
  Harness h;
  struct Case {
    const char* scenario;
    int status;
    const char* needle;
  };
  const Case cases[] = {
      {"err_401", 401, "invalid_api_key"},
      {"err_1113", 429, "insufficient_quota"},
      {"err_1302", 429, "rate_limit_exceeded"},
      {"err_1305", 429, "rate_limit_exceeded"},
      {"err_1301", 400, "content_policy_violation"},
      {"err_1211", 404, "model_not_found"},
      {"err_1214", 400, "invalid_request_error"},
      {"err_500", 502, "upstream"},
  };
  for (const auto& c : cases) {
    INFO(c.scenario);
    auto r = h.post_chat(chat_body(std::string("[scenario:") + c.scenario + "]"));
    CHECK(r.status == c.status);
    CHECK(r.body.find(c.needle) != std::string::npos);
    CHECK(r.body.find(R"({"error":{)") == 0);
  }
}

TEST_CASE("rate-limit errors carry Retry-After and keep the upstream message", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("[scenario:err_1302]"));
  REQUIRE(r.status == 429);
  CHECK(r.header("Retry-After") == "1");
  CHECK(r.body.find("High concurrency") != std::string::npos);
}

TEST_CASE("an error after streaming began becomes an in-band error event, then [DONE]", "[integration]") {
  Harness h;
  auto r = h.post_chat(chat_body("[scenario:error_frame]", true));
  REQUIRE(r.status == 200);
  const auto events = sse_data(r.body);
  REQUIRE(events.size() >= 2);
  CHECK(events.back() == "[DONE]");
  CHECK(events[events.size() - 2].find(R"({"error":{)") == 0);
}

TEST_CASE("unreachable upstream is a 502", "[integration]") {
  const RefusingPort refusing;
  REQUIRE(refusing.port() != 0);
  Harness h({[&](Config& c) { c.providers[0].base_url = refusing.v4_url(); }, {}});
  auto r = h.post_chat(chat_body("x"));
  CHECK(r.status == 502);
  CHECK(r.body.find("upstream_connect_failed") != std::string::npos);
}

TEST_CASE("an upstream that never answers is a 504 after upstream_first_byte", "[integration]") {
  Harness h({[](Config& c) { c.timeouts.upstream_first_byte = std::chrono::milliseconds(300); }, {}});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = h.post_chat(chat_body("[scenario:hang]"));
  CHECK(r.status == 504);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("client disconnect mid-stream cancels the upstream request at once", "[integration]") {
  Harness h;
  RawConn conn(h.port());
  REQUIRE(conn.connected());
  const std::string body = chat_body("[scenario:slow chunks=200 delay_ms=50]", true);
  REQUIRE(conn.send(raw_chat_request(body)));
  REQUIRE(conn.read_until("chat.completion.chunk", std::chrono::seconds(5)).find("200") != std::string::npos);
  const auto before = h.mock().stats().aborted_responses;
  const auto closed_at = std::chrono::steady_clock::now();
  conn.close();
  auto deadline = closed_at + std::chrono::seconds(2);
  while (h.mock().stats().aborted_responses == before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto s = h.mock().stats();
  REQUIRE(s.aborted_responses == before + 1);
  CHECK(s.last_abort_at - closed_at < std::chrono::milliseconds(300));
}

TEST_CASE("client disconnect while waiting for the upstream's headers cancels it", "[integration]") {
  Harness h;
  RawConn conn(h.port());
  const std::string body = chat_body("[scenario:hang]");
  REQUIRE(conn.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kClientKey) +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  const auto deadline0 = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (h.mock().stats().requests == 0 && std::chrono::steady_clock::now() < deadline0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(h.mock().stats().requests == 1);
  const auto closed_at = std::chrono::steady_clock::now();
  conn.close();
  const auto deadline = closed_at + std::chrono::seconds(2);
  while (h.mock().stats().aborted_responses == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(h.mock().stats().aborted_responses == 1);
  CHECK(h.mock().stats().last_abort_at - closed_at < std::chrono::milliseconds(300));
}

TEST_CASE("TLS upstream verified against a test CA", "[integration]") {
  mock::Options mo;
  mo.tls_cert_file = std::string(ZGATE_FIXTURES) + "/tls/server.pem";
  mo.tls_key_file = std::string(ZGATE_FIXTURES) + "/tls/server.key";
  Harness h({[](Config& c) { c.providers[0].ca_file = std::string(ZGATE_FIXTURES) + "/tls/ca.pem"; }, mo});
  REQUIRE(h.mock().tls());
  auto r = h.post_chat(chat_body("over tls"));
  CHECK(r.status == 200);
  CHECK(r.body.find("You said: over tls") != std::string::npos);
}

TEST_CASE("TLS upstream with an untrusted certificate is refused", "[integration]") {
  mock::Options mo;
  mo.tls_cert_file = std::string(ZGATE_FIXTURES) + "/tls/server.pem";
  mo.tls_key_file = std::string(ZGATE_FIXTURES) + "/tls/server.key";
  Harness h({{}, mo});  // no CA configured: the system store does not know the test CA
  auto r = h.post_chat(chat_body("x"));
  CHECK(r.status == 502);
  CHECK(r.body.find("upstream_tls_failed") != std::string::npos);
}

TEST_CASE("a body over the limit is refused with 413 before it is read", "[integration]") {
  Harness h({[](Config& c) { c.limits.body_limit = 1024; }, {}});
  auto r = h.post_chat(chat_body(std::string(4096, 'a')));
  CHECK(r.status == 413);
  CHECK(r.body.find("limit") != std::string::npos);
  CHECK(h.mock().stats().requests == 0);
}

TEST_CASE("slow request headers are cut off by client_header_read", "[integration]") {
  Harness h({[](Config& c) { c.timeouts.client_header_read = std::chrono::milliseconds(300); }, {}});
  RawConn conn(h.port());
  REQUIRE(conn.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"));  // never finishes
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(conn.wait_closed(std::chrono::seconds(3)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("upstream connections are kept alive and reused", "[integration]") {
  Harness h({[](Config& c) { c.workers = 1; }, {}});
  REQUIRE(h.post_chat(chat_body("one")).status == 200);
  REQUIRE(h.post_chat(chat_body("two", true)).status == 200);
  // The stream's client has its last chunk before zgate has read the upstream's end of body (they
  // may come in separate packets); the connection returns to the pool only then, when the
  // request is no longer in flight. Wait for that (bounded), or request three may race it.
  for (int i = 0; i < 500 && h.gateway().stats().in_flight > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(h.post_chat(chat_body("three")).status == 200);
  const auto s = h.gateway().stats();
  CHECK(s.upstream_connects == 1);
  CHECK(s.upstream_reuses == 2);
  CHECK(h.mock().stats().connections_accepted == 1);
}

namespace {
// One gateway worker, and an upstream that closes keep-alive connections idle for 100 ms.
// The upstream closes connections idle for 100 ms; zgate checks a pooled connection idle for
// longer than `check_idle` before it reuses it.
GatewayOptions one_worker_idle_closing_upstream(std::chrono::milliseconds check_idle) {
  mock::Options mo;
  mo.idle_timeout = mock::Millis(100);
  return {[check_idle](Config& c) {
            c.workers = 1;
            c.limits.pool_check_idle = check_idle;
          },
          mo};
}
}  // namespace

// The upstream closes keep-alive connections idle for 100 ms (as real upstreams do after their
// idle timeout). A connection idle for less than limits.pool_check_idle is reused without a
// health check: the request fails before any response byte and is resent on a fresh connection.
TEST_CASE("a recently idle pooled connection the upstream closed is retried on a fresh one", "[integration]") {
  Harness h(one_worker_idle_closing_upstream(std::chrono::seconds(10)));
  REQUIRE(h.post_chat(chat_body("one")).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // closed by the upstream, yet "recent"
  const auto r = h.post_chat(chat_body("two"));
  CHECK(r.status == 200);
  CHECK(r.body.find("chat.completion") != std::string::npos);
  const auto s = h.gateway().stats();
  CHECK(s.upstream_reuses == 1);
  CHECK(s.upstream_retries == 1);
  CHECK(s.upstream_connects == 2);
}

// Idle longer than limits.pool_check_idle, the pool checks the connection before reusing it and
// opens a fresh one instead of sending into a closed socket.
TEST_CASE("a long idle pooled connection the upstream closed is replaced before sending", "[integration]") {
  Harness h(one_worker_idle_closing_upstream(std::chrono::milliseconds(200)));
  REQUIRE(h.post_chat(chat_body("one")).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // past both the upstream's 100 ms and the 200 ms
  CHECK(h.post_chat(chat_body("two")).status == 200);
  const auto s = h.gateway().stats();
  CHECK(s.upstream_reuses == 0);
  CHECK(s.upstream_retries == 0);
  CHECK(s.upstream_connects == 2);
}

TEST_CASE("usage store: each authenticated chat request leaves one row with its tokens and cost", "[integration]") {
  const TempDir tmp("itest");
  const std::string& dir = tmp.path;
  {
    Harness h({[&dir](Config& c) {
      c.usage_store = true;
      c.data_dir = dir;
    }, {}});
    REQUIRE(h.post_chat(chat_body("plain")).status == 200);
    REQUIRE(h.post_chat(chat_body("streamed", true)).status == 200);
    REQUIRE(http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions", {{"Authorization", "Bearer wrong"}},
                         chat_body("x"), 5s).status == 401);  // not a customer's request: no row
    h.gateway().stop();  // writes the queued rows
  }
  int rows = 0;
  const char* select =
      "SELECT key_label, model, stream, status, prompt_tokens, completion_tokens, cost_usd FROM requests ORDER BY stream";
  const int n = each_usage_row(dir, select, [&](sqlite3_stmt* st) {
    INFO("row " << rows);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "itest");
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))) == "glm-4.5");
    CHECK(sqlite3_column_int(st, 2) == rows);  // one plain request, one stream
    CHECK(sqlite3_column_int(st, 3) == 200);
    CHECK(sqlite3_column_int64(st, 4) > 0);
    CHECK(sqlite3_column_int64(st, 5) > 0);
    CHECK(sqlite3_column_double(st, 6) > 0);
    ++rows;
  });
  CHECK(n == 2);
}

TEST_CASE("a stream cut by the client is never returned to the pool", "[integration]") {
  Harness h({[](Config& c) { c.workers = 1; }, {}});
  {
    RawConn conn(h.port());
    const std::string body = chat_body("[scenario:slow chunks=100 delay_ms=20]", true);
    conn.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kClientKey) +
              "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    conn.read_until("chat.completion.chunk", std::chrono::seconds(5));
  }
  // The cut stream has ended once nothing is in flight (bounded wait).
  for (int i = 0; i < 500 && h.gateway().stats().in_flight > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(h.post_chat(chat_body("after")).status == 200);
  CHECK(h.gateway().stats().upstream_connects == 2);
}

TEST_CASE("client auth: missing or wrong key is 401, x-api-key works", "[integration]") {
  Harness h;
  auto none = http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions", {}, chat_body("x"), std::chrono::seconds(5));
  CHECK(none.status == 401);
  CHECK(none.body.find("authentication_error") != std::string::npos);
  auto wrong = http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions",
                            {{"Authorization", "Bearer sk-wrong"}}, chat_body("x"), std::chrono::seconds(5));
  CHECK(wrong.status == 401);
  auto xkey = http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions", {{"x-api-key", kClientKey}},
                           chat_body("x"), std::chrono::seconds(5));
  CHECK(xkey.status == 200);
  CHECK(h.mock().stats().requests == 1);
}

TEST_CASE("bad requests get a 400 that names the problem", "[integration]") {
  Harness h;
  auto bad_json = h.post_chat("{\"model\":");
  CHECK(bad_json.status == 400);
  CHECK(bad_json.body.find("JSON") != std::string::npos);
  auto no_messages = h.post_chat(R"({"model":"glm-4.5"})");
  CHECK(no_messages.status == 400);
  CHECK(no_messages.body.find("messages") != std::string::npos);
  auto n2 = h.post_chat(chat_body("x", false, R"("n":2)"));
  CHECK(n2.status == 400);
  CHECK(n2.body.find("'n'") != std::string::npos);
  CHECK(h.mock().stats().requests == 0);
}

TEST_CASE("unknown model is 404 when unlisted models are not allowed", "[integration]") {
  Harness h({[](Config& c) { c.allow_unlisted_models = false; }, {}});
  auto r = h.post_chat(chat_body("x", false, "", "gpt-4o"));
  CHECK(r.status == 404);
  CHECK(r.body.find("model_not_found") != std::string::npos);
}

TEST_CASE("health, ready, models, unknown path and CORS preflight", "[integration]") {
  Harness h;
  CHECK(h.get("/health").status == 200);
  CHECK(h.get("/ready").status == 200);
  auto models = h.get("/v1/models", {{"Authorization", std::string("Bearer ") + kClientKey}});
  CHECK(models.status == 200);
  CHECK(models.body.find(R"("object":"list")") != std::string::npos);
  CHECK(models.body.find(R"("id":"glm-4.5-thinking")") != std::string::npos);
  CHECK(h.get("/v1/models").status == 401);
  auto unknown = h.get("/v2/whatever");
  CHECK(unknown.status == 404);
  CHECK(unknown.body.find(R"({"error":)") == 0);
  auto pre = http_request("127.0.0.1", h.port(), "OPTIONS", "/v1/chat/completions",
                          {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}}, "",
                          std::chrono::seconds(5));
  CHECK(pre.status == 204);
  CHECK(pre.header("Access-Control-Allow-Origin") == "*");
  CHECK(pre.header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
}

TEST_CASE("X-Request-Id is echoed or generated", "[integration]") {
  Harness h;
  auto given = h.post_chat(chat_body("x"), {{"X-Request-Id", "abc-123"}});
  CHECK(given.header("X-Request-Id") == "abc-123");
  auto generated = h.post_chat(chat_body("x"));
  const std::string id = generated.header("X-Request-Id");
  CHECK(id.size() == 28);
  CHECK(id.rfind("req_", 0) == 0);
  CHECK(id.find_first_not_of("0123456789abcdef", 4) == std::string::npos);
}

TEST_CASE("one access-log line per request, with timing and tokens, never the key", "[integration]") {
  Harness h;
  const auto before = access_lines().snapshot().size();
  auto r = h.post_chat(chat_body("log me", true, R"("stream_options":{"include_usage":true})"),
                       {{"X-Request-Id", "log-test-1"}});
  REQUIRE(r.status == 200);
  // The request is recorded once its answer is written, which may be just after the client has
  // it: wait for its line (bounded), then hand over anything else recorded to see that no second
  // line follows.
  for (int i = 0; i < 100 && access_lines().snapshot().size() == before; ++i) std::this_thread::sleep_for(20ms);
  h.gateway().flush_records();
  const auto lines = access_lines().snapshot();
  REQUIRE(lines.size() == before + 1);
  const auto& l = lines.back();
  CHECK(l.find("log-test-1") != std::string::npos);
  CHECK(l.find("\"key\":\"itest\"") != std::string::npos);
  CHECK(l.find("\"prompt_tokens\":") != std::string::npos);
  CHECK(l.find("\"first_token_us\":") != std::string::npos);
  CHECK(l.find("\"status\":200") != std::string::npos);
  CHECK(l.find(kClientKey) == std::string::npos);
  CHECK(l.find("upstream-key") == std::string::npos);
}

TEST_CASE("housekeeping runs every 5 s on each worker's own thread", "[integration]") {
  std::mutex mu;
  std::set<std::string> threads;
  const auto record = [&] {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    std::lock_guard lock(mu);
    threads.insert(name);
  };
  Harness h({}, record);  // two workers
  const auto seen = [&] {
    std::lock_guard lock(mu);
    return threads;
  };
  for (int i = 0; i < 130 && seen().size() < 2; ++i) std::this_thread::sleep_for(100ms);  // bounded: 13 s
  CHECK(seen() == std::set<std::string>{"zgate-worker-0", "zgate-worker-1"});
}
