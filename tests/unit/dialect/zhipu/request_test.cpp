// The zhipu v4 request builder: golden bodies for whole requests (tests/fixtures/requests) and
// targeted checks of each translation rule (docs/protocols/zhipu-v4.md).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "zgate/model/request.hpp"
#include "zgate/front/openai/request.hpp"
#include "zgate/dialect/zhipu/request.hpp"
#include "support/chat_helpers.hpp"

using namespace zgate;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string minify(const std::string& json) {
  std::string out(json.size(), '\0');
  std::size_t len = 0;
  if (simdjson::minify(json.data(), json.size(), out.data(), len) != simdjson::SUCCESS) return "<invalid JSON>";
  out.resize(len);
  return out;
}

ChatRequest parse_ok(std::string body) { return test::parse_chat(std::move(body)); }

ModelRoute route(std::string name, std::string upstream) {
  ModelRoute r;
  r.name = std::move(name);
  r.provider = "zhipu";
  r.upstream_model = std::move(upstream);
  return r;
}

// Builds the v4 body for an OpenAI body on a route; fails the test on an error.
std::string build(const std::string& openai_body, const ModelRoute& rt) {
  const ChatRequest req = parse_ok(openai_body);
  std::string out;
  const Result<void> built = zhipu::build_request(req, rt, rt.upstream_model, out);
  INFO((built.ok() ? std::string() : built.error().message));
  REQUIRE(built.ok());
  return out;
}

bool has(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

const ModelRoute kText = route("glm-4.6", "glm-4.6");

}  // namespace

TEST_CASE("zhipu request: golden bodies for the request fixtures", "[unit][zhipu][request]") {
  ModelRoute vision = route("glm-4.5v", "glm-4.5v");
  vision.vision = true;
  vision.max_output_tokens = 16384;
  ModelRoute capped = route("glm-4.5", "glm-4.5");
  capped.max_output_tokens = 98304;
  ModelRoute thinking = route("glm-4.6-thinking", "glm-4.6");
  thinking.thinking = true;
  ModelRoute search = route("glm-4.6-search", "glm-4.6");
  search.web_search = true;

  const std::pair<const char*, const ModelRoute*> cases[] = {
      {"basic", &kText},
      {"developer_role", &kText},
      {"vision_multimodal", &vision},
      {"flatten_text_route", &kText},
      {"max_tokens_clamp", &capped},
      {"stop_string", &kText},
      {"temperature_zero", &kText},
      {"temperature_high", &kText},
      {"top_p", &kText},
      {"tools_required", &kText},
      {"tool_choice_none", &kText},
      {"json_schema", &kText},
      {"reasoning_effort_minimal", &capped},
      {"thinking_alias", &thinking},
      {"search_alias", &search},
      {"tool_round_trip", &kText},
      {"unknown_fields", &kText},
  };
  const std::string dir = std::string(ZGATE_FIXTURES) + "/requests/";
  const bool update = std::getenv("ZGATE_UPDATE_GOLDENS") != nullptr;
  for (const auto& [name, rt] : cases) {
    SECTION(name) {
      const std::string input = read_file(dir + name + ".json");
      REQUIRE_FALSE(input.empty());
      const std::string out = build(input, *rt);
      const std::string golden_path = dir + name + ".zhipu.json";
      if (update) std::ofstream(golden_path, std::ios::binary) << out << '\n';
      const std::string golden = read_file(golden_path);
      REQUIRE_FALSE(golden.empty());
      // Goldens are pretty-printed for review; compare the minified forms.
      CHECK(minify(out) == minify(golden));
    }
  }
}

TEST_CASE("zhipu request: no user message is a 400 naming messages", "[unit][zhipu][request]") {
  const ChatRequest req = parse_ok(R"({"model":"m","messages":[{"role":"system","content":"s"},
    {"role":"assistant","content":"a"}]})");
  std::string out;
  const Result<void> built = zhipu::build_request(req, kText, "glm-4.6", out);
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().status == 400);
  CHECK(built.error().type == "invalid_request_error");
  CHECK(built.error().param == "messages");
  CHECK(built.error().message == "'messages' must contain at least one user message");
}

TEST_CASE("zhipu request: the upstream model replaces the client's model", "[unit][zhipu][request]") {
  const ChatRequest req = parse_ok(R"({"model":"my-alias","messages":[{"role":"user","content":"hi"}]})");
  std::string out;
  REQUIRE(zhipu::build_request(req, kText, "glm-4.5-air", out).ok());
  CHECK(has(out, R"("model":"glm-4.5-air")"));
  CHECK_FALSE(has(out, "my-alias"));
}

TEST_CASE("zhipu request: data URLs become bare base64 on vision routes", "[unit][zhipu][request]") {
  ModelRoute vision = route("v", "glm-4.5v");
  vision.vision = true;
  const std::string out = build(R"({"model":"v","messages":[{"role":"user","content":[
    {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
    {"type":"image_url","image_url":{"url":"http://example.com/a.png"}}]}]})", vision);
  CHECK(has(out, R"({"type":"image_url","image_url":{"url":"/9j/4AAQSkZJRg=="}})"));
  CHECK(has(out, R"({"url":"http://example.com/a.png"})"));
  CHECK_FALSE(has(out, "data:image"));
}

TEST_CASE("zhipu request: parts are flattened to text on text routes", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":[
    {"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},
    {"type":"text","text":"b"}]}]})", kText);
  CHECK(has(out, R"({"role":"user","content":"a\nb"})"));
  CHECK_FALSE(has(out, "image_url"));
}

TEST_CASE("zhipu request: message names are removed", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","name":"alice","content":"hi"}]})", kText);
  CHECK_FALSE(has(out, "alice"));
  CHECK_FALSE(has(out, R"("name")"));
}

TEST_CASE("zhipu request: temperature 0 becomes do_sample false without temperature", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0})", kText);
  CHECK(has(out, R"("do_sample":false)"));
  CHECK_FALSE(has(out, "temperature"));
}

TEST_CASE("zhipu request: temperature above 1 is clamped to 1", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1.7})", kText);
  CHECK(has(out, R"("temperature":1})"));
  CHECK_FALSE(has(out, "do_sample"));
}

TEST_CASE("zhipu request: temperature inside 0..1 passes unchanged", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.35})", kText);
  CHECK(has(out, R"("temperature":0.35)"));
}

TEST_CASE("zhipu request: top_p is clamped to at least 0.01", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0})", kText);
  CHECK(has(out, R"("top_p":0.01)"));
}

TEST_CASE("zhipu request: max_tokens is clamped to the route's output cap", "[unit][zhipu][request]") {
  ModelRoute capped = route("m", "glm-4.5v");
  capped.max_output_tokens = 16384;
  CHECK(has(build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":100000})", capped),
            R"("max_tokens":16384)"));
  CHECK(has(build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1000})", capped),
            R"("max_tokens":1000)"));
}

TEST_CASE("zhipu request: max_tokens is not clamped without a route cap", "[unit][zhipu][request]") {
  CHECK(has(build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":300000})",
                  kText),
            R"("max_tokens":300000)"));
}

TEST_CASE("zhipu request: no max_tokens is sent when the client sent none", "[unit][zhipu][request]") {
  ModelRoute capped = route("m", "glm-4.5");
  capped.max_output_tokens = 98304;
  CHECK_FALSE(has(build(R"({"model":"m","messages":[{"role":"user","content":"x"}]})", capped), "max_tokens"));
}

TEST_CASE("zhipu request: only the first stop word is sent", "[unit][zhipu][request]") {
  const std::string out =
      build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":["END","STOP"]})", kText);
  CHECK(has(out, R"("stop":["END"])"));
  CHECK_FALSE(has(out, "STOP"));
}

TEST_CASE("zhipu request: user becomes user_id only with 6 to 128 characters", "[unit][zhipu][request]") {
  auto with_user = [](const std::string& user) {
    return build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"user":")" + user + "\"}", kText);
  };
  CHECK_FALSE(has(with_user("abcde"), "user_id"));
  CHECK(has(with_user("abcdef"), R"("user_id":"abcdef")"));
  CHECK(has(with_user(std::string(128, 'u')), "user_id"));
  CHECK_FALSE(has(with_user(std::string(129, 'u')), "user_id"));
}

TEST_CASE("zhipu request: a client user_id wins over user", "[unit][zhipu][request]") {
  const std::string out = build(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"user":"openai-user","user_id":"v4-user-id"})",
      kText);
  CHECK(has(out, R"("user_id":"v4-user-id")"));
  CHECK_FALSE(has(out, "openai-user"));
}

TEST_CASE("zhipu request: temperature 0 decides do_sample over a client do_sample", "[unit][zhipu][request]") {
  const std::string out =
      build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0,"do_sample":true})", kText);
  CHECK(has(out, R"("do_sample":false)"));
  CHECK_FALSE(has(out, R"("do_sample":true)"));
}

TEST_CASE("zhipu request: function tools drop strict and keep name, description, parameters",
          "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
    {"type":"function","function":{"name":"f","description":"d","strict":true,"parameters":{"type":"object"}}}]})",
                                kText);
  CHECK(has(out, R"("tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"}}}])"));
  CHECK_FALSE(has(out, "strict"));
  CHECK_FALSE(has(out, "tool_choice"));  // the client sent none
}

TEST_CASE("zhipu request: required and named tool_choice are sent as auto", "[unit][zhipu][request]") {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}])";
  CHECK(has(build(R"({"model":"m","messages":[{"role":"user","content":"x"}],)" + tools +
                      R"(,"tool_choice":"required"})",
                  kText),
            R"("tool_choice":"auto")"));
  const std::string named = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],)" + tools +
                                      R"(,"tool_choice":{"type":"function","function":{"name":"f"}}})",
                                  kText);
  CHECK(has(named, R"("tool_choice":"auto")"));
}

TEST_CASE("zhipu request: tool_choice none drops the client's tools", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"})", kText);
  CHECK_FALSE(has(out, "tools"));
  CHECK_FALSE(has(out, "tool_choice"));
}

TEST_CASE("zhipu request: a search alias keeps web search when tool_choice is none", "[unit][zhipu][request]") {
  ModelRoute search = route("s", "glm-4.6");
  search.web_search = true;
  const std::string out = build(R"({"model":"s","messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"})", search);
  CHECK(has(out, R"("tools":[{"type":"web_search","web_search":{"enable":true,"search_engine":"search_pro_jina","search_result":true}}])"));
  CHECK_FALSE(has(out, R"("name":"f")"));
  CHECK_FALSE(has(out, "tool_choice"));
}

TEST_CASE("zhipu request: a client web_search tool is not doubled on a search alias", "[unit][zhipu][request]") {
  ModelRoute search = route("s", "glm-4.6");
  search.web_search = true;
  const std::string out = build(R"({"model":"s","messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"web_search","web_search":{"enable":true,"search_engine":"search_std"}}]})", search);
  CHECK(has(out, "search_std"));
  CHECK_FALSE(has(out, "search_pro_jina"));
}

TEST_CASE("zhipu request: tool_stream is sent only when streaming", "[unit][zhipu][request]") {
  const std::string base = R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_stream":true)";
  CHECK(has(build(base + R"(,"stream":true})", kText), R"("tool_stream":true)"));
  CHECK_FALSE(has(build(base + "}", kText), "tool_stream"));
}

TEST_CASE("zhipu request: json_schema is appended to an existing system message", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"u"},
    {"role":"system","content":"Be brief."}],
    "response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type": "object"}}}})", kText);
  CHECK(has(out, R"({"role":"system","content":"Be brief.\n\nRespond with JSON that matches this JSON schema: {\"type\":\"object\"}"})"));
  CHECK(has(out, R"("response_format":{"type":"json_object"})"));
  // No extra system message was added in front.
  CHECK(has(out, R"("messages":[{"role":"user","content":"u"})"));
}

TEST_CASE("zhipu request: text and json_object response formats pass", "[unit][zhipu][request]") {
  const std::string base = R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":)";
  CHECK(has(build(base + R"({"type":"json_object"}})", kText), R"("response_format":{"type":"json_object"})"));
  CHECK(has(build(base + R"({"type":"text"}})", kText), R"("response_format":{"type":"text"})"));
}

TEST_CASE("zhipu request: thinking follows the request when the route does not force it",
          "[unit][zhipu][request]") {
  const std::string base = R"({"model":"m","messages":[{"role":"user","content":"x"}])";
  CHECK(has(build(base + R"(,"thinking":{"type":"enabled"}})", kText), R"("thinking":{"type":"enabled"})"));
  CHECK(has(build(base + R"(,"reasoning_effort":"none"})", kText), R"("thinking":{"type":"disabled"})"));
  CHECK(has(build(base + R"(,"reasoning_effort":"high"})", kText), R"("thinking":{"type":"enabled"})"));
  CHECK_FALSE(has(build(base + "}", kText), "thinking"));
}

TEST_CASE("zhipu request: a route's forced thinking wins over the request", "[unit][zhipu][request]") {
  ModelRoute off = route("fast", "glm-4.6");
  off.thinking = false;
  CHECK(has(build(R"({"model":"m","messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled"}})", off),
            R"("thinking":{"type":"disabled"})"));
}

TEST_CASE("zhipu request: assistant history passes reasoning_content and tool_calls without index",
          "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"u"},
    {"role":"assistant","content":"\n","reasoning_content":"think","tool_calls":[{"id":"c1","index":3,
      "type":"function","function":{"name":"f","arguments":{"a":1}}}]},
    {"role":"tool","tool_call_id":"c1","content":"r"}]})", kText);
  CHECK(has(out, R"({"role":"assistant","content":"\n","reasoning_content":"think","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]})"));
  CHECK(has(out, R"({"role":"tool","content":"r","tool_call_id":"c1"})"));
  CHECK_FALSE(has(out, "index"));
}

TEST_CASE("zhipu request: OpenAI-only and unknown fields are dropped, v4 fields pass", "[unit][zhipu][request]") {
  const std::string out = build(R"({"model":"m","messages":[{"role":"user","content":"x"}],
    "presence_penalty":1,"logprobs":true,"parallel_tool_calls":true,"metadata":{"k":"v"},"audio":{"voice":"x"},
    "made_up":1,"request_id":"r-1","watermark_enabled":false,"meta":{"user_info":"u"},"extra":{"k":1}})", kText);
  CHECK(has(out, R"("request_id":"r-1")"));
  CHECK(has(out, R"("watermark_enabled":false)"));
  CHECK(has(out, R"("meta":{"user_info":"u"})"));
  CHECK(has(out, R"("extra":{"k":1})"));
  for (const char* dropped : {"presence_penalty", "logprobs", "parallel_tool_calls", "metadata", "audio", "made_up"}) {
    INFO(dropped);
    CHECK_FALSE(has(out, dropped));
  }
}

TEST_CASE("zhipu request: the body is valid JSON with stream set", "[unit][zhipu][request]") {
  const std::string out =
      build(R"({"model":"m","messages":[{"role":"user","content":"tab\there \"quoted\""}],"stream":true})", kText);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(p.parse(out).get(doc) == simdjson::SUCCESS);
  bool stream = false;
  REQUIRE(doc["stream"].get(stream) == simdjson::SUCCESS);
  CHECK(stream);
  std::string_view content;
  REQUIRE(doc.at_pointer("/messages/0/content").get(content) == simdjson::SUCCESS);
  CHECK(content == "tab\there \"quoted\"");
}

TEST_CASE("zhipu request: make_upstream_request targets chat/completions with JSON headers",
          "[unit][zhipu][request]") {
  const UpstreamRequest stream = zhipu::make_upstream_request("/api/paas/v4/", "{}", true);
  CHECK(stream.method == "POST");
  CHECK(stream.target == "/api/paas/v4/chat/completions");
  CHECK(stream.body == "{}");
  const std::vector<std::pair<std::string, std::string>> want_stream = {
      {"Content-Type", "application/json"}, {"Accept", "text/event-stream"}};
  CHECK(stream.headers == want_stream);

  const UpstreamRequest plain = zhipu::make_upstream_request("/api/coding/paas/v4", "{\"a\":1}", false);
  CHECK(plain.target == "/api/coding/paas/v4/chat/completions");
  const std::vector<std::pair<std::string, std::string>> want_plain = {
      {"Content-Type", "application/json"}, {"Accept", "application/json"}};
  CHECK(plain.headers == want_plain);
}
