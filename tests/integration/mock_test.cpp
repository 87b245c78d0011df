// zgate-mock on loopback port 0, driven by the blocking test client: the v4 dialect's
// scenarios, auth, pacing, hang-up detection, TLS and keep-alive.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.hpp"
#include "zgate/core/encoding.hpp"
#include "zgate/mock/mock_server.hpp"
#include "zgate/mock/plan.hpp"
#include "zgate/mock/util.hpp"

using namespace std::chrono_literals;
using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kPath = "/api/paas/v4/chat/completions";
constexpr const char* kKey = "test-key";

HeaderList auth_headers(const std::string& key = kKey, HeaderList extra = {}) {
  HeaderList h{{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}};
  for (auto& kv : extra) h.push_back(kv);
  return h;
}

std::string chat(const std::string& user_text, bool stream = false, const std::string& extra = {},
                 const std::string& model = "glm-4.5-air") {
  std::string s = R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + user_text + R"("}])";
  if (stream) s += R"(,"stream":true)";
  if (!extra.empty()) s += "," + extra;
  return s + "}";
}

HttpResult post(const mock::MockServer& m, const std::string& body, HeaderList headers = auth_headers(),
                std::chrono::milliseconds timeout = 5s, const std::string& path = kPath) {
  return http_request("127.0.0.1", m.port(), "POST", path, headers, body, timeout);
}

HttpResult post_scenario(const mock::MockServer& m, const std::string& scenario, bool stream,
                         const std::string& extra = {}) {
  return post(m, chat("hi", stream, extra), auth_headers(kKey, {{"x-mock-scenario", scenario}}));
}

const std::string kWeatherTool =
    R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}}])";
const std::string kTwoTools =
    R"("tools":[{"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}}},{"type":"function","function":{"name":"multiply","parameters":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}}}}}])";

// A decoded v4 stream.
struct Streamed {
  std::vector<std::string> payloads;  // every data: payload
  std::string content, reasoning;
  std::vector<std::string> tool_deltas;  // raw JSON of each delta.tool_calls[*]
  std::string finish;
  std::string final_chunk;  // raw JSON of the chunk carrying finish_reason
  bool done = false;        // ended with [DONE]
  bool all_json = true;
  std::string last_payload;
};

Streamed decode(const std::string& body) {
  Streamed s;
  simdjson::dom::parser parser;
  s.payloads = sse_payloads(body);
  for (const auto& p : s.payloads) {
    s.last_payload = p;
    if (p == "[DONE]") {
      s.done = true;
      continue;
    }
    simdjson::dom::element doc;
    if (parser.parse(p).get(doc)) {
      s.all_json = false;
      continue;
    }
    simdjson::dom::array choices;
    if (doc["choices"].get(choices)) continue;
    for (simdjson::dom::element c : choices) {
      simdjson::dom::element delta = c["delta"];
      std::string_view v;
      if (!delta["content"].get(v)) s.content.append(v);
      if (!delta["reasoning_content"].get(v)) s.reasoning.append(v);
      simdjson::dom::array calls;
      if (!delta["tool_calls"].get(calls))
        for (simdjson::dom::element tc : calls) s.tool_deltas.push_back(simdjson::minify(tc));
      if (!c["finish_reason"].get(v)) {
        s.finish.assign(v);
        s.final_chunk = p;
      }
    }
  }
  return s;
}

std::string field(const std::string& json, const char* pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return "<invalid json>";
  simdjson::dom::element e;
  if (doc.at_pointer(pointer).get(e)) return "<missing>";
  std::string_view s;
  if (!e.get(s)) return std::string(s);
  return simdjson::minify(e);
}

// A v4 error answer: this HTTP status and this error.code in the body.
void check_error(const HttpResult& r, int status, const char* code) {
  CHECK(r.status == status);
  CHECK(field(r.body, "/error/code") == code);
}

// The stream a mock with default options answers `body` with, decoded.
Streamed stream_from_mock(const std::string& body) {
  mock::MockServer m({});
  return decode(post(m, body).body);
}

// Polls `cond` every millisecond for up to `limit`.
template <class F>
bool eventually(F cond, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::string make_jwt(const std::string& id, const std::string& secret, int64_t exp_ms) {
  const std::string header = encoding::base64url_encode(R"({"alg":"HS256","sign_type":"SIGN"})");
  const std::string payload = encoding::base64url_encode(R"({"api_key":")" + id + R"(","exp":)" + std::to_string(exp_ms) +
                                                     R"(,"timestamp":)" + std::to_string(mock::unix_millis()) + "}");
  const std::string input = header + "." + payload;
  return input + "." + encoding::base64url_encode(mock::hmac_sha256(secret, input));
}

}  // namespace

TEST_CASE("mock: non-stream plain answer echoes the user and the model", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("2+2?"));
  REQUIRE(r.ok());
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json; charset=UTF-8");
  CHECK(field(r.body, "/choices/0/message/content") == "Hello from zgate-mock! You said: 2+2?");
  CHECK(field(r.body, "/choices/0/finish_reason") == "stop");
  CHECK(field(r.body, "/model") == "glm-4.5-air");
  CHECK(field(r.body, "/id").size() == 30);
  CHECK(field(r.body, "/request_id") == field(r.body, "/id"));
  CHECK(field(r.body, "/object") == "<missing>");  // 2025 format
  CHECK(field(r.body, "/usage/prompt_tokens_details/cached_tokens") == "0");
}

TEST_CASE("mock: streamed plain answer comes in several SSE chunks", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("hello there", true));
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/event-stream;charset=UTF-8");
  CHECK(r.header("Transfer-Encoding") == "chunked");
  const Streamed s = decode(r.body);
  CHECK(s.all_json);
  CHECK(s.done);
  CHECK(s.content == "Hello from zgate-mock! You said: hello there");
  CHECK(s.payloads.size() == 8 + 2);  // default 8 content pieces, the finish chunk, [DONE]
  CHECK(s.finish == "stop");
  CHECK(field(s.final_chunk, "/usage/total_tokens") != "<missing>");
  CHECK(r.chunks.size() == s.payloads.size());  // one HTTP chunk per event
}

TEST_CASE("mock: reasoning stream is valid SSE, reasoning before content, ends with [DONE]", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("Say hi", true, R"("thinking":{"type":"enabled"})", "glm-4.5"));
  REQUIRE(r.status == 200);
  const Streamed s = decode(r.body);
  CHECK(s.all_json);
  CHECK(s.done);
  CHECK(s.last_payload == "[DONE]");
  CHECK(s.reasoning.rfind("\n", 0) == 0);
  CHECK(s.reasoning.find("Say hi") != std::string::npos);
  CHECK(s.content == "\nHello from zgate-mock! You said: Say hi");
  CHECK(r.body.find("reasoning_content") < r.body.find("Hello from"));
  // Every non-final chunk has no finish_reason key at all; every chunk carries role.
  for (std::size_t i = 0; i + 2 < s.payloads.size(); ++i) {
    CHECK(s.payloads[i].find("finish_reason") == std::string::npos);
    CHECK(s.payloads[i].find(R"("role":"assistant")") != std::string::npos);
  }
}

TEST_CASE("mock: non-stream reasoning answer carries reasoning_content", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("Bom dia?", false, R"("thinking":{"type":"enabled"})", "glm-4.5"));
  REQUIRE(r.status == 200);
  CHECK(field(r.body, "/choices/0/message/reasoning_content").find("Bom dia?") != std::string::npos);
  CHECK(field(r.body, "/choices/0/message/content") == "\nHello from zgate-mock! You said: Bom dia?");
}

TEST_CASE("mock: tools in the request produce a call to the first tool (non-stream)", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("Weather in Lisbon?", false, kWeatherTool, "glm-4.6"));
  REQUIRE(r.status == 200);
  CHECK(field(r.body, "/choices/0/finish_reason") == "tool_calls");
  CHECK(field(r.body, "/choices/0/message/tool_calls/0/function/name") == "get_weather");
  CHECK(field(r.body, "/choices/0/message/tool_calls/0/function/arguments") == R"({"location":"Lisbon"})");
  CHECK(field(r.body, "/choices/0/message/tool_calls/0/id").rfind("call_-", 0) == 0);
  CHECK(field(r.body, "/choices/0/message/tool_calls/0/index") == "0");
}

TEST_CASE("mock: streamed tool call arrives whole in one chunk", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("Weather?", true, kWeatherTool, "glm-4.6"));
  REQUIRE(r.status == 200);
  const Streamed s = decode(r.body);
  REQUIRE(s.tool_deltas.size() == 1);
  CHECK(field(s.tool_deltas[0], "/function/name") == "get_weather");
  CHECK(field(s.tool_deltas[0], "/function/arguments") == R"({"location":"Lisbon"})");
  CHECK(field(s.tool_deltas[0], "/id").size() == 5 + 24);
  CHECK(s.finish == "tool_calls");
  CHECK(s.done);
}

TEST_CASE("mock: after a tool result the answer mentions it", "[integration]") {
  mock::MockServer m({});
  const std::string body =
      R"({"model":"glm-4.6","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":"\n","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"21 C and sunny"}],)" +
      kWeatherTool + "}";
  auto r = post(m, body);
  REQUIRE(r.status == 200);
  CHECK(field(r.body, "/choices/0/finish_reason") == "stop");
  CHECK(field(r.body, "/choices/0/message/content").find("21 C and sunny") != std::string::npos);
}

TEST_CASE("mock: tools_parallel calls two tools with indexes 0 and 1", "[integration]") {
  const Streamed s = stream_from_mock(chat("[scenario:tools_parallel]", true, kTwoTools));
  REQUIRE(s.tool_deltas.size() == 2);
  CHECK(field(s.tool_deltas[0], "/function/name") == "add");
  CHECK(field(s.tool_deltas[0], "/function/arguments") == R"({"a":2,"b":3})");
  CHECK(field(s.tool_deltas[1], "/function/name") == "multiply");
  CHECK(field(s.tool_deltas[1], "/index") == "1");
}

TEST_CASE("mock: tool_stream fragments join into the arguments by index", "[integration]") {
  const Streamed s = stream_from_mock(chat("[scenario:tool_stream]", true, kWeatherTool, "glm-4.6"));
  REQUIRE(s.tool_deltas.size() >= 3);
  CHECK(field(s.tool_deltas[0], "/function/arguments").empty());
  CHECK(field(s.tool_deltas[0], "/function/name") == "get_weather");
  std::string args;
  for (std::size_t i = 1; i < s.tool_deltas.size(); ++i) {
    CHECK(field(s.tool_deltas[i], "/id") == "<missing>");
    CHECK(field(s.tool_deltas[i], "/index") == "0");
    args += field(s.tool_deltas[i], "/function/arguments");
  }
  CHECK(args == R"({"location":"Lisbon"})");
}

TEST_CASE("mock: tool_stream_repeat repeats id and name on continuations", "[integration]") {
  const Streamed s = stream_from_mock(chat("[scenario:tool_stream_repeat]", true, kWeatherTool));
  REQUIRE(s.tool_deltas.size() >= 3);
  for (const auto& d : s.tool_deltas) {
    CHECK(field(d, "/id") == field(s.tool_deltas[0], "/id"));
    CHECK(field(d, "/function/name") == "get_weather");
  }
}

TEST_CASE("mock: tool_stream_finish_args puts the last fragment on the finish chunk", "[integration]") {
  const Streamed s = stream_from_mock(chat("[scenario:tool_stream_finish_args]", true, kWeatherTool));
  CHECK(s.finish == "tool_calls");
  CHECK(field(s.final_chunk, "/choices/0/delta/tool_calls/0/function/arguments").size() > 0);
  std::string args;
  for (const auto& d : s.tool_deltas) args += field(d, "/function/arguments");
  CHECK(args == R"({"location":"Lisbon"})");
}

TEST_CASE("mock: tool_index_missing sends index -1", "[integration]") {
  const Streamed s = stream_from_mock(chat("[scenario:tool_index_missing]", true, kWeatherTool));
  REQUIRE(s.tool_deltas.size() == 1);
  CHECK(field(s.tool_deltas[0], "/index") == "-1");
}

TEST_CASE("mock: content_filter ends the stream with sensitive and content_filter", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "content_filter", true);
  const Streamed s = decode(r.body);
  CHECK(s.content == "Sure, here is");
  CHECK(s.finish == "sensitive");
  CHECK(field(s.final_chunk, "/content_filter/0/role") == "assistant");
  CHECK(s.done);
}

TEST_CASE("mock: length reports max_tokens as completion tokens", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "length", true, R"("max_tokens":17)");
  const Streamed s = decode(r.body);
  CHECK(s.finish == "length");
  CHECK(field(s.final_chunk, "/usage/completion_tokens") == "17");
}

TEST_CASE("mock: network_error finish reason", "[integration]") {
  mock::MockServer m({});
  const Streamed s = decode(post_scenario(m, "network_error", true).body);
  CHECK(s.finish == "network_error");
  CHECK(s.done);
}

TEST_CASE("mock: error_frame sends an error object and no [DONE]", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "error_frame", true);
  REQUIRE(r.status == 200);
  const Streamed s = decode(r.body);
  CHECK_FALSE(s.done);
  CHECK(field(s.last_payload, "/error/code") == "1234");
  CHECK(s.finish.empty());
  CHECK_FALSE(r.keep_alive);
}

TEST_CASE("mock: format2026 adds object and reasoning_tokens", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "format2026", true);
  const Streamed s = decode(r.body);
  for (std::size_t i = 0; i + 1 < s.payloads.size(); ++i)
    CHECK(field(s.payloads[i], "/object") == "chat.completion.chunk");
  CHECK(field(s.final_chunk, "/usage/completion_tokens_details/reasoning_tokens") != "<missing>");
  CHECK_FALSE(s.reasoning.empty());
  auto nr = post_scenario(m, "format2026", false);
  CHECK(field(nr.body, "/object") == "chat.completion");
}

TEST_CASE("mock: multibyte text is cut inside UTF-8 sequences across writes", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "multibyte", true);
  REQUIRE(r.ok());
  const Streamed s = decode(r.body);
  CHECK(s.all_json);
  CHECK(s.content == "你好，世界！ 🌍 Grüße aus zgate-mock — 日本語のテキスト、한국어 텍스트 emoji 👋🏽🚀 ∑ €uro ½ 完了。");
  int cut_inside = 0;
  for (const auto& [at, piece] : r.chunks)
    if (!piece.empty() && (static_cast<unsigned char>(piece[0]) & 0xC0) == 0x80) ++cut_inside;
  CHECK(cut_inside >= 5);
}

TEST_CASE("mock: long answer is about 256 KiB in many chunks", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "long", true);
  const Streamed s = decode(r.body);
  CHECK(s.content.size() == 256 * 1024);
  CHECK(s.payloads.size() > 500);
  CHECK(s.done);
}

TEST_CASE("mock: echo returns the raw request body as content", "[integration]") {
  mock::MockServer m({});
  const std::string body = chat("echo \\\"me\\\" [scenario:echo]", false, R"("temperature":0.5)");
  auto r = post(m, body);
  REQUIRE(r.status == 200);
  CHECK(field(r.body, "/choices/0/message/content") == body);
  auto rs = post(m, chat("[scenario:echo]", true));
  CHECK(decode(rs.body).content == chat("[scenario:echo]", true));
}

TEST_CASE("mock: scenario marker in the last user message selects the scenario", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("please [scenario:err_1113] thanks"));
  check_error(r, 429, "1113");
}

TEST_CASE("mock: HTTP error scenarios have the transcript status and code", "[integration]") {
  mock::MockServer m({});
  struct Case {
    const char* scenario;
    int status;
    const char* code;
  };
  const Case cases[] = {{"err_401", 401, "401"},   {"err_1002", 401, "1002"},  {"err_1113", 429, "1113"},
                        {"err_1302", 429, "1302"}, {"err_1303", 429, "1303"},  {"err_1305", 429, "1305"},
                        {"err_1305_503", 503, "1305"}, {"err_1301", 400, "1301"}, {"err_1211", 400, "1211"},
                        {"err_1214", 400, "1214"}, {"err_500", 500, "500"},    {"err_503", 503, "503"}};
  for (const auto& c : cases) {
    INFO(c.scenario);
    auto r = post_scenario(m, c.scenario, true);
    CHECK(r.status == c.status);
    CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
    CHECK(field(r.body, "/error/code") == c.code);
    CHECK_FALSE(field(r.body, "/error/message").empty());
  }
  auto cf = post_scenario(m, "err_1301", false);
  CHECK(field(cf.body, "/contentFilter/0/role") == "user");
}

TEST_CASE("mock: err_html is a 502 with an HTML body", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "err_html", false);
  CHECK(r.status == 502);
  CHECK(r.header("Content-Type") == "text/html");
  CHECK(r.body.find("<h1>502 Bad Gateway</h1>") != std::string::npos);
}

TEST_CASE("mock: a request without a user message is rejected with 1214", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, R"({"model":"glm-4.6","messages":[{"role":"system","content":"be nice"}]})");
  check_error(r, 400, "1214");
}

TEST_CASE("mock: invalid JSON is rejected with 1210", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, R"({"model":"glm-4.6","messages":[)");
  check_error(r, 400, "1210");
}

TEST_CASE("mock: missing Authorization is 401", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("hi"), {{"Content-Type", "application/json"}});
  check_error(r, 401, "1001");
}

TEST_CASE("mock: only configured keys are accepted when a list is given", "[integration]") {
  mock::Options o;
  o.api_keys = {"good.key"};
  mock::MockServer m(o);
  CHECK(post(m, chat("hi"), auth_headers("good.key")).status == 200);
  auto bad = post(m, chat("hi"), auth_headers("bad.key"));
  check_error(bad, 401, "401");
}

TEST_CASE("mock: a JWT signed with the key's secret is accepted until it expires", "[integration]") {
  mock::Options o;
  o.api_keys = {"myid.mysecret"};
  mock::MockServer m(o);
  const int64_t now = mock::unix_millis();
  CHECK(post(m, chat("hi"), auth_headers(make_jwt("myid", "mysecret", now + 60'000))).status == 200);
  auto expired = post(m, chat("hi"), auth_headers(make_jwt("myid", "mysecret", now - 1000)));
  check_error(expired, 401, "1003");
  // exp in seconds instead of milliseconds is long past.
  CHECK(post(m, chat("hi"), auth_headers(make_jwt("myid", "mysecret", now / 1000 + 3600))).status == 401);
  CHECK(post(m, chat("hi"), auth_headers(make_jwt("myid", "wrong", now + 60'000))).status == 401);
  // A bare JWT (no "Bearer") is accepted too.
  CHECK(post(m, chat("hi"), {{"Authorization", make_jwt("myid", "mysecret", now + 60'000)}}).status == 200);
}

TEST_CASE("mock: the per-(key, model) concurrency limit answers 429/1302", "[integration]") {
  mock::Options o;
  o.concurrency_limit = 1;
  mock::MockServer m(o);
  auto first = std::async(std::launch::async, [&] { return post(m, chat("[scenario:slow chunks=6 delay_ms=60]", true)); });
  REQUIRE(eventually([&] { return m.stats().requests == 1; }, 2s));
  auto second = post(m, chat("hi"));
  check_error(second, 429, "1302");
  CHECK(post(m, chat("hi", false, {}, "other-model")).status == 200);  // another model has its own slot
  CHECK(first.get().status == 200);
  CHECK(post(m, chat("hi")).status == 200);  // the slot was released
}

TEST_CASE("mock: slow paces chunks delay_ms apart", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("[scenario:slow chunks=5 delay_ms=100]", true));
  REQUIRE(r.status == 200);
  REQUIRE(r.chunks.size() == 5 + 2);
  for (std::size_t i = 1; i < 5; ++i) {
    const auto gap = r.chunks[i].first - r.chunks[i - 1].first;
    CHECK(gap >= 80ms);
    CHECK(gap <= 250ms);
  }
  CHECK(decode(r.body).done);
}

TEST_CASE("mock: a client closing mid-stream is counted as aborted promptly", "[integration]") {
  mock::MockServer m({});
  auto r = http_request_abort_after("127.0.0.1", m.port(), "POST", kPath, auth_headers(),
                                    chat("[scenario:slow chunks=100 delay_ms=20]", true), 300, 0ms, 5s);
  const auto closed_at = std::chrono::steady_clock::now();
  CHECK(r.error == "aborted by client");
  CHECK(r.status == 200);
  REQUIRE(eventually([&] { return m.stats().aborted_responses == 1; }, 200ms));
  CHECK(m.stats().last_abort_at - closed_at < 200ms);
  CHECK(eventually([&] { return m.stats().connections_closed == 1; }, 1s));
}

TEST_CASE("mock: a client leaving a hanging request is counted as aborted", "[integration]") {
  mock::MockServer m({});
  auto r = http_request_abort_after("127.0.0.1", m.port(), "POST", kPath,
                                    auth_headers(kKey, {{"x-mock-scenario", "hang"}}), chat("hi"), 0, 150ms, 5s);
  const auto closed_at = std::chrono::steady_clock::now();
  CHECK(r.error == "aborted by client");
  CHECK(r.status == 0);
  REQUIRE(eventually([&] { return m.stats().aborted_responses == 1; }, 200ms));
  CHECK(m.stats().last_abort_at - closed_at < 200ms);
}

TEST_CASE("mock: hang_mid_stream sends two chunks and then nothing", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("[scenario:hang_mid_stream]", true), auth_headers(), 400ms);
  CHECK(r.status == 200);
  CHECK(r.error.find("timeout") != std::string::npos);
  CHECK(r.chunks.size() == 2);
}

TEST_CASE("mock: drop closes the connection after two chunks", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("[scenario:drop]", true));
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  CHECK(r.error.find("closed") != std::string::npos);
  CHECK(r.chunks.size() == 2);
  CHECK(m.stats().aborted_responses == 0);  // the mock closed, not the peer
}

TEST_CASE("mock: drop on a non-streamed answer cuts the body short", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "drop", false);
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  CHECK(std::stoul(r.header("Content-Length")) > r.body.size());
}

TEST_CASE("mock: drop_before_headers closes without answering", "[integration]") {
  mock::MockServer m({});
  auto r = post_scenario(m, "drop_before_headers", true);
  CHECK(r.status == 0);
  CHECK(r.error.find("closed before the response head") != std::string::npos);
}

TEST_CASE("mock: slow_headers waits before the response head", "[integration]") {
  mock::MockServer m({});
  auto r = post(m, chat("hi"), auth_headers(kKey, {{"x-mock-scenario", "slow_headers delay_ms=250"}}));
  CHECK(r.status == 200);
  CHECK(r.head_at >= 240ms);
  CHECK(field(r.body, "/choices/0/message/content").find("Hello from zgate-mock!") == 0);
}

TEST_CASE("mock: two requests on one kept-alive connection", "[integration]") {
  mock::MockServer m({});
  HttpConnection c("127.0.0.1", m.port(), 2s);
  REQUIRE(c.is_open());
  auto a = c.request("POST", kPath, auth_headers(), chat("one", true), 5s);
  auto b = c.request("POST", kPath, auth_headers(), chat("two"), 5s);
  CHECK(a.status == 200);
  CHECK(a.keep_alive);
  CHECK(decode(a.body).content.find("one") != std::string::npos);
  CHECK(b.status == 200);
  CHECK(field(b.body, "/choices/0/message/content").find("two") != std::string::npos);
  CHECK(m.stats().connections_accepted == 1);
  CHECK(m.stats().requests == 2);
}

TEST_CASE("mock: TLS with the test CA", "[integration]") {
  mock::Options o;
  o.tls_cert_file = ZGATE_FIXTURES "/tls/server.pem";
  o.tls_key_file = ZGATE_FIXTURES "/tls/server.key";
  mock::MockServer m(o);
  CHECK(m.tls());
  CHECK(m.base_url().rfind("https://", 0) == 0);
  auto r = http_request("127.0.0.1", m.port(), "POST", kPath, auth_headers(), chat("secure", true), 5s, true,
                        ZGATE_FIXTURES "/tls/ca.pem");
  REQUIRE(r.error.empty());
  CHECK(decode(r.body).content.find("secure") != std::string::npos);
  auto byname = http_request("localhost", m.port(), "POST", kPath, auth_headers(), chat("x"), 5s, true,
                             ZGATE_FIXTURES "/tls/ca.pem");
  CHECK(byname.status == 200);
  // Without the test CA the certificate is not trusted.
  auto untrusted = http_request("127.0.0.1", m.port(), "POST", kPath, auth_headers(), chat("x"), 5s, true);
  CHECK(untrusted.status == 0);
  CHECK(untrusted.error.find("TLS handshake") != std::string::npos);
}

TEST_CASE("mock: the request is recorded for tests", "[integration]") {
  mock::MockServer m({});
  const std::string body = chat("record me");
  post(m, body, auth_headers(kKey, {{"X-Custom", "v1"}}), 5s, "/api/coding/paas/v4/chat/completions?x=1");
  CHECK(m.last_request_body() == body);
  CHECK(m.last_request_header("x-custom") == "v1");
  CHECK(m.last_request_target() == "/api/coding/paas/v4/chat/completions?x=1");
  CHECK(m.last_request_method() == "POST");
}

TEST_CASE("mock: health and unknown paths", "[integration]") {
  mock::MockServer m({});
  auto h = http_request("127.0.0.1", m.port(), "GET", "/health", {}, "", 2s);
  CHECK(h.status == 200);
  CHECK(field(h.body, "/status") == "ok");
  auto nf = http_request("127.0.0.1", m.port(), "GET", "/nothing/here", {}, "", 2s);
  CHECK(nf.status == 404);
  auto v4 = post(m, chat("hi"), auth_headers(), 2s, "/v4/chat/completions");
  CHECK(v4.status == 200);
}

TEST_CASE("mock: fast mode serves identical requests from the rendered cache", "[integration]") {
  mock::Options o;
  o.fast = true;
  o.default_chunks = 3;
  mock::MockServer m(o);
  auto a = post(m, chat("bench", true));
  auto b = post(m, chat("bench", true));
  REQUIRE(a.status == 200);
  CHECK(a.body == b.body);  // same pre-rendered plan, ids included
  CHECK(decode(a.body).payloads.size() == 3 + 2);
  CHECK(m.last_request_body().empty());  // no recording in fast mode
}

TEST_CASE("mock: routing prefers exact, then longest prefix, then suffix", "[integration]") {
  mock::Registry r;
  auto h1 = +[](const mock::MockRequest&, mock::MockContext&) -> mock::PlanPtr { return nullptr; };
  auto h2 = +[](const mock::MockRequest&, mock::MockContext&) -> mock::PlanPtr { return nullptr; };
  auto h3 = +[](const mock::MockRequest&, mock::MockContext&) -> mock::PlanPtr { return nullptr; };
  r.add({"", mock::Match::suffix, "/chat/completions", h1});
  r.add({"", mock::Match::prefix, "/api/", h2});
  r.add({"POST", mock::Match::exact, "/api/chat/completions", h3});
  CHECK(r.find("POST", "/api/chat/completions") == h3);
  CHECK(r.find("GET", "/api/chat/completions") == h2);
  CHECK(r.find("POST", "/x/chat/completions") == h1);
  CHECK(r.find("POST", "/other") == nullptr);
}

TEST_CASE("mock: split_pieces keeps the text and cuts at words, then code points", "[integration]") {
  const std::string text = "Hello from zgate-mock! 你好";
  for (std::size_t n : {1, 3, 4, 8, 40}) {
    const auto pieces = mock::split_pieces(text, n);
    std::string joined;
    for (auto p : pieces) {
      CHECK_FALSE(p.empty());
      CHECK(mock::utf8_boundary(text, static_cast<std::size_t>(p.data() - text.data())));
      joined += p;
    }
    CHECK(joined == text);
    CHECK(pieces.size() == std::min<std::size_t>(n, 25));  // 25 code points in the text
  }
  CHECK(mock::split_pieces(text, 3).front() == "Hello ");
}

TEST_CASE("mock: the zai-web transcripts t01..t18 are the fixture files, byte for byte", "[integration][zaiweb]") {
  mock::MockServer m({});
  const std::string token = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9." +
                            encoding::base64url_encode(R"({"id":"u1","email":"u1@example.com"})") + ".c2ln";
  const HeaderList h{{"Authorization", "Bearer " + token},
                     {"Origin", "https://chat.z.ai"},
                     {"Referer", "https://chat.z.ai/"},
                     {"X-FE-Version", "prod-fe-1.1.95"},
                     {"Content-Type", "application/json"}};
  for (int i = 1; i <= 18; ++i) {
    if (i == 16) continue;  // cut off mid-answer by design
    char name[8];
    std::snprintf(name, sizeof name, "T%02d", i);
    const std::string body = R"({"model":"glm-4.5","stream":true,"messages":[{"role":"user","content":"[scenario:t)" +
                             std::string(name + 1) + R"(]"}]})";
    const auto r = http_request("127.0.0.1", m.port(), "POST", "/api/chat/completions", h, body, 5s);
    std::ifstream f(std::string(ZGATE_FIXTURES "/zaiweb/transcripts/") + name + ".sse", std::ios::binary);
    std::stringstream want;
    want << f.rdbuf();
    INFO(name);
    REQUIRE(r.ok());
    CHECK(r.status == 200);
    CHECK(r.body == want.str());
  }
}
