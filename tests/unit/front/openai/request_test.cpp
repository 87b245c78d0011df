// Parsing and validation of OpenAI chat completion requests (parse_chat_request).
#include <string>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "zgate/model/request.hpp"

using namespace zgate;

namespace {

ParseResult parse(std::string body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);  // the parser's padding contract
  return parse_chat_request(body);
}

ChatRequest parse_ok(const std::string& body) {
  ParseResult r = parse(body);
  INFO(r.error.message);
  REQUIRE(r.ok);
  return std::move(r.request);
}

// A minimal valid request with `fields` added at the top level.
std::string with(const std::string& fields) {
  return R"({"model":"glm-4.6","messages":[{"role":"user","content":"hi"}])" +
         (fields.empty() ? std::string() : "," + fields) + "}";
}

// A request whose messages array is `messages`.
std::string msgs(const std::string& messages) { return R"({"model":"glm-4.6","messages":)" + messages + "}"; }

void expect_error(const std::string& body, const std::string& param, const std::string& message) {
  const ParseResult r = parse(body);
  INFO(body);
  REQUIRE_FALSE(r.ok);
  CHECK(r.error.status == 400);
  CHECK(r.error.type == "invalid_request_error");
  CHECK(r.error.param == param);
  CHECK(r.error.message == message);
  CHECK(r.error.source == ErrorSource::downstream);
}

void expect_json_error(const std::string& body) {
  const ParseResult r = parse(body);
  INFO(body);
  REQUIRE_FALSE(r.ok);
  CHECK(r.error.status == 400);
  CHECK(r.error.type == "invalid_request_error");
  CHECK(r.error.message.rfind("We could not parse the JSON body of your request: ", 0) == 0);
}

}  // namespace

// ---- malformed bodies -------------------------------------------------------------------------

TEST_CASE("chat request: malformed JSON is a parse error", "[unit][chat_request]") {
  expect_json_error(R"({"model":"glm-4.6","messages":[)");
  expect_json_error(R"({"model":"glm-4.6" "messages":[]})");
  expect_json_error("{\"model\":\"a\x01\"}");
  expect_json_error("");
}

TEST_CASE("chat request: a body that is not an object is a parse error", "[unit][chat_request]") {
  expect_json_error(R"([{"model":"glm-4.6"}])");
  expect_json_error(R"("hello")");
  expect_json_error("42");
}

TEST_CASE("chat request: content after the object is a parse error", "[unit][chat_request]") {
  expect_json_error(with("") + " {}");
  expect_json_error(with("") + "}");
}

TEST_CASE("chat request: duplicate known keys are rejected", "[unit][chat_request]") {
  expect_error(R"({"model":"a","messages":[{"role":"user","content":"hi"}],"model":"b"})", "model",
               "duplicate key 'model'");
  expect_error(with(R"("stream":true,"stream":false)"), "stream", "duplicate key 'stream'");
}

TEST_CASE("chat request: duplicate unknown keys are rejected", "[unit][chat_request]") {
  expect_error(with(R"("request_id":"a","request_id":"b")"), "request_id", "duplicate key 'request_id'");
}

TEST_CASE("chat request: malformed values that would be forwarded verbatim are parse errors",
          "[unit][chat_request]") {
  expect_json_error(with(R"("request_id":tru)"));
  expect_json_error(with(R"("meta":{"a":[1,nul]})"));
  expect_json_error(with(R"("x_vendor":[1.2.3])"));
  expect_json_error(with(R"("tools":[{"type":"retrieval","retrieval":{"knowledge_id":fals}}])"));
  expect_json_error(msgs(R"([{"role":"user","content":[{"type":"video_url","video_url":{"url":"\q"}}]}])"));
  expect_json_error(with(R"("response_format":{"type":"json_schema","json_schema":{"schema":{"x":-}}})"));
}

// ---- model and messages -----------------------------------------------------------------------

TEST_CASE("chat request: model is required and must be a string", "[unit][chat_request]") {
  expect_error(R"({"messages":[{"role":"user","content":"hi"}]})", "model", "'model' is required");
  expect_error(R"({"model":"","messages":[{"role":"user","content":"hi"}]})", "model", "'model' is required");
  expect_error(R"({"model":7,"messages":[{"role":"user","content":"hi"}]})", "model", "'model' must be a string");
}

TEST_CASE("chat request: messages must be a non-empty array", "[unit][chat_request]") {
  expect_error(R"({"model":"m"})", "messages", "'messages' is required");
  expect_error(msgs("[]"), "messages", "'messages' must be a non-empty array");
  expect_error(msgs(R"({"role":"user"})"), "messages", "'messages' must be a non-empty array");
}

TEST_CASE("chat request: each message must be an object with a role", "[unit][chat_request]") {
  expect_error(msgs(R"(["hi"])"), "messages[0]", "'messages[0]' must be an object");
  expect_error(msgs(R"([{"role":"user","content":"a"},{"content":"b"}])"), "messages[1].role",
               "'messages[1].role' is required");
  expect_error(msgs(R"([{"role":5,"content":"a"}])"), "messages[0].role", "'messages[0].role' must be a string");
}

TEST_CASE("chat request: unsupported roles are named", "[unit][chat_request]") {
  expect_error(msgs(R"([{"role":"function","name":"f","content":"x"}])"), "messages[0].role",
               "Unsupported role 'function' in 'messages[0].role'");
}

TEST_CASE("chat request: content of the wrong type names the message", "[unit][chat_request]") {
  expect_error(msgs(R"([{"role":"system","content":"s"},{"role":"user","content":"a"},{"role":"user","content":5}])"),
               "messages[2].content", "'messages[2].content' must be a string, an array of content parts, or null");
  expect_error(msgs(R"([{"role":"user","content":{"text":"a"}}])"), "messages[0].content",
               "'messages[0].content' must be a string, an array of content parts, or null");
}

TEST_CASE("chat request: null content is rejected for user, system and tool messages", "[unit][chat_request]") {
  expect_error(msgs(R"([{"role":"user","content":null}])"), "messages[0].content",
               "'messages[0].content' is required for messages with role 'user'");
  expect_error(msgs(R"([{"role":"system"},{"role":"user","content":"x"}])"), "messages[0].content",
               "'messages[0].content' is required for messages with role 'system'");
  expect_error(msgs(R"([{"role":"user","content":"x"},{"role":"tool","tool_call_id":"c"}])"), "messages[1].content",
               "'messages[1].content' is required for messages with role 'tool'");
}

TEST_CASE("chat request: null assistant content needs tool_calls", "[unit][chat_request]") {
  expect_error(msgs(R"([{"role":"user","content":"x"},{"role":"assistant","content":null}])"), "messages[1].content",
               "'messages[1].content' must not be null unless the assistant message has 'tool_calls'");
  const ChatRequest r = parse_ok(msgs(R"([{"role":"user","content":"x"},{"role":"assistant","content":null,
    "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}])"));
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[1].content_null);
  CHECK(r.messages[1].tool_calls.size() == 1);
}

TEST_CASE("chat request: tool messages need tool_call_id", "[unit][chat_request]") {
  expect_error(msgs(R"([{"role":"user","content":"x"},{"role":"tool","content":"r"}])"), "messages[1].tool_call_id",
               "'messages[1].tool_call_id' is required for messages with role 'tool'");
}

TEST_CASE("chat request: tool_calls only on assistant messages", "[unit][chat_request]") {
  expect_error(msgs(R"([{"role":"user","content":"x","tool_calls":[{"id":"c","function":{"name":"f"}}]}])"),
               "messages[0].tool_calls", "'messages[0].tool_calls' is only allowed on messages with role 'assistant'");
}

TEST_CASE("chat request: content parts are validated", "[unit][chat_request]") {
  expect_error(msgs(R"([{"role":"user","content":["a"]}])"), "messages[0].content[0]",
               "'messages[0].content[0]' must be an object");
  expect_error(msgs(R"([{"role":"user","content":[{"text":"a"}]}])"), "messages[0].content[0].type",
               "'messages[0].content[0].type' is required");
  expect_error(msgs(R"([{"role":"user","content":[{"type":"text"}]}])"), "messages[0].content[0].text",
               "'messages[0].content[0].text' is required for text parts");
  expect_error(msgs(R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}}]}])"),
               "messages[0].content[1].image_url.url", "'messages[0].content[1].image_url.url' is required");
  expect_error(msgs(R"([{"role":"user","content":[{"type":"image_url"}]}])"), "messages[0].content[0].image_url",
               "'messages[0].content[0].image_url' is required for image_url parts");
}

TEST_CASE("chat request: assistant tool_calls are validated", "[unit][chat_request]") {
  const std::string pre = R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":)";
  expect_error(msgs(pre + R"([{"type":"function","function":{"name":"f"}}]}])"), "messages[1].tool_calls[0].id",
               "'messages[1].tool_calls[0].id' is required");
  expect_error(msgs(pre + R"([{"id":"c","function":{"arguments":"{}"}}]}])"), "messages[1].tool_calls[0].function.name",
               "'messages[1].tool_calls[0].function.name' is required");
  expect_error(msgs(pre + R"([{"id":"c"}]}])"), "messages[1].tool_calls[0].function",
               "'messages[1].tool_calls[0].function' is required");
  expect_error(msgs(pre + R"({"id":"c"}}])"), "messages[1].tool_calls", "'messages[1].tool_calls' must be an array");
  expect_error(msgs(pre + R"([{"id":"c","function":{"name":"f","arguments":5}}]}])"),
               "messages[1].tool_calls[0].function.arguments",
               "'messages[1].tool_calls[0].function.arguments' must be a string");
}

// ---- sampling and limits ----------------------------------------------------------------------

TEST_CASE("chat request: n greater than 1 is not supported", "[unit][chat_request]") {
  expect_error(with(R"("n":2)"), "n", "'n' greater than 1 is not supported");
  expect_error(with(R"("n":0)"), "n", "'n' must be a positive integer");
  expect_error(with(R"("n":"1")"), "n", "'n' must be a positive integer");
  CHECK(parse(with(R"("n":1)")).ok);
}

TEST_CASE("chat request: temperature must be a number between 0 and 2", "[unit][chat_request]") {
  const std::string msg = "'temperature' must be a number between 0 and 2";
  expect_error(with(R"("temperature":2.5)"), "temperature", msg);
  expect_error(with(R"("temperature":-0.1)"), "temperature", msg);
  expect_error(with(R"("temperature":"hot")"), "temperature", msg);
  CHECK(parse_ok(with(R"("temperature":2)")).temperature == Approx(2.0));
}

TEST_CASE("chat request: top_p must be a number between 0 and 1", "[unit][chat_request]") {
  expect_error(with(R"("top_p":1.5)"), "top_p", "'top_p' must be a number between 0 and 1");
  expect_error(with(R"("top_p":true)"), "top_p", "'top_p' must be a number between 0 and 1");
}

TEST_CASE("chat request: max_tokens and max_completion_tokens must be positive integers", "[unit][chat_request]") {
  expect_error(with(R"("max_tokens":0)"), "max_tokens", "'max_tokens' must be a positive integer");
  expect_error(with(R"("max_tokens":-5)"), "max_tokens", "'max_tokens' must be a positive integer");
  expect_error(with(R"("max_tokens":10.5)"), "max_tokens", "'max_tokens' must be a positive integer");
  expect_error(with(R"("max_completion_tokens":"100")"), "max_completion_tokens",
               "'max_completion_tokens' must be a positive integer");
}

TEST_CASE("chat request: max_completion_tokens wins over max_tokens in either order", "[unit][chat_request]") {
  CHECK(parse_ok(with(R"("max_tokens":10,"max_completion_tokens":20)")).max_tokens == 20);
  CHECK(parse_ok(with(R"("max_completion_tokens":20,"max_tokens":10)")).max_tokens == 20);
  CHECK(parse_ok(with(R"("max_tokens":10)")).max_tokens == 10);
  CHECK_FALSE(parse_ok(with("")).max_tokens.has_value());
}

TEST_CASE("chat request: stop must be a string or an array of strings", "[unit][chat_request]") {
  expect_error(with(R"("stop":5)"), "stop", "'stop' must be a string or an array of strings");
  expect_error(with(R"("stop":["a",1])"), "stop", "'stop' must be a string or an array of strings");
  CHECK(parse_ok(with(R"("stop":"END")")).stop == std::vector<std::string>{"END"});
  CHECK(parse_ok(with(R"("stop":["a","b"])")).stop == std::vector<std::string>{"a", "b"});
}

TEST_CASE("chat request: scalar options are type-checked", "[unit][chat_request]") {
  expect_error(with(R"("stream":"yes")"), "stream", "'stream' must be a boolean");
  expect_error(with(R"("tool_stream":1)"), "tool_stream", "'tool_stream' must be a boolean");
  expect_error(with(R"("seed":1.5)"), "seed", "'seed' must be an integer");
  expect_error(with(R"("user":42)"), "user", "'user' must be a string");
  expect_error(with(R"("stream_options":true)"), "stream_options", "'stream_options' must be an object");
  expect_error(with(R"("stream_options":{"include_usage":"yes"})"), "stream_options.include_usage",
               "'stream_options.include_usage' must be a boolean");
}

TEST_CASE("chat request: null optional fields count as absent", "[unit][chat_request]") {
  const ChatRequest r = parse_ok(with(R"("temperature":null,"top_p":null,"max_tokens":null,"stop":null,"n":null,
    "seed":null,"user":null,"tools":null,"tool_choice":null,"response_format":null,"stream":null,
    "stream_options":null,"thinking":null,"reasoning_effort":null)"));
  CHECK_FALSE(r.temperature);
  CHECK_FALSE(r.top_p);
  CHECK_FALSE(r.max_tokens);
  CHECK(r.stop.empty());
  CHECK_FALSE(r.stream);
  CHECK(r.tool_choice == ToolChoice::unset);
  CHECK_FALSE(r.thinking);
  CHECK(r.extra.empty());
}

// ---- tools and structured options -------------------------------------------------------------

TEST_CASE("chat request: tools must be objects with a string type", "[unit][chat_request]") {
  expect_error(with(R"("tools":{})"), "tools", "'tools' must be an array");
  expect_error(with(R"("tools":[1])"), "tools[0]", "'tools[0]' must be an object");
  expect_error(with(R"("tools":[{"function":{"name":"f"}}])"), "tools[0].type", "'tools[0].type' is required");
  expect_error(with(R"("tools":[{"type":3}])"), "tools[0].type", "'tools[0].type' must be a string");
}

TEST_CASE("chat request: function tools need a valid name", "[unit][chat_request]") {
  expect_error(with(R"("tools":[{"type":"function"}])"), "tools[0].function",
               "'tools[0].function' is required for function tools");
  expect_error(with(R"("tools":[{"type":"function","function":{"description":"d"}}])"), "tools[0].function.name",
               "'tools[0].function.name' is required");
  expect_error(with(R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"get weather"}}])"),
               "tools[1].function.name", "'tools[1].function.name' must match ^[a-zA-Z0-9_-]{1,64}$");
  expect_error(with(R"("tools":[{"type":"function","function":{"name":")" + std::string(65, 'a') + R"("}}])"),
               "tools[0].function.name", "'tools[0].function.name' must match ^[a-zA-Z0-9_-]{1,64}$");
  expect_error(with(R"("tools":[{"function":{"name":"f","parameters":[]},"type":"function"}])"),
               "tools[0].function.parameters", "'tools[0].function.parameters' must be a JSON schema object");
}

TEST_CASE("chat request: tool_choice accepts auto, none, required and a named function", "[unit][chat_request]") {
  CHECK(parse_ok(with(R"("tool_choice":"auto")")).tool_choice == ToolChoice::auto_);
  CHECK(parse_ok(with(R"("tool_choice":"none")")).tool_choice == ToolChoice::none);
  CHECK(parse_ok(with(R"("tool_choice":"required")")).tool_choice == ToolChoice::required);
  const ChatRequest named = parse_ok(with(R"("tool_choice":{"type":"function","function":{"name":"f"}})"));
  CHECK(named.tool_choice == ToolChoice::named);
  CHECK(named.tool_choice_name == "f");
}

TEST_CASE("chat request: invalid tool_choice values are rejected", "[unit][chat_request]") {
  const std::string msg =
      R"('tool_choice' must be 'auto', 'none', 'required' or {"type":"function","function":{"name":...}})";
  expect_error(with(R"("tool_choice":"any")"), "tool_choice", msg);
  expect_error(with(R"("tool_choice":5)"), "tool_choice", msg);
  expect_error(with(R"("tool_choice":{"type":"allowed_tools"})"), "tool_choice", msg);
  expect_error(with(R"("tool_choice":{"type":"function","function":{}})"), "tool_choice.function.name",
               "'tool_choice.function.name' is required");
}

TEST_CASE("chat request: response_format is validated", "[unit][chat_request]") {
  expect_error(with(R"("response_format":"json")"), "response_format", "'response_format' must be an object");
  expect_error(with(R"("response_format":{"type":"xml"})"), "response_format.type",
               "'response_format.type' must be one of 'text', 'json_object', 'json_schema'");
  expect_error(with(R"("response_format":{})"), "response_format.type", "'response_format.type' is required");
  expect_error(with(R"("response_format":{"type":"json_schema"})"), "response_format.json_schema",
               "'response_format.json_schema' is required when 'response_format.type' is 'json_schema'");
}

TEST_CASE("chat request: thinking and reasoning_effort are validated", "[unit][chat_request]") {
  expect_error(with(R"("thinking":{"type":"auto"})"), "thinking.type",
               "'thinking.type' must be 'enabled' or 'disabled'");
  expect_error(with(R"("thinking":{})"), "thinking.type", "'thinking.type' is required");
  expect_error(with(R"("reasoning_effort":"max")"), "reasoning_effort",
               "'reasoning_effort' must be one of 'none', 'minimal', 'low', 'medium', 'high'");
}

TEST_CASE("chat request: reasoning_effort maps to thinking", "[unit][chat_request]") {
  CHECK(parse_ok(with(R"("reasoning_effort":"none")")).thinking == false);
  CHECK(parse_ok(with(R"("reasoning_effort":"minimal")")).thinking == false);
  CHECK(parse_ok(with(R"("reasoning_effort":"low")")).thinking == true);
  CHECK(parse_ok(with(R"("reasoning_effort":"medium")")).thinking == true);
  CHECK(parse_ok(with(R"("reasoning_effort":"high")")).thinking == true);
  CHECK_FALSE(parse_ok(with("")).thinking.has_value());
}

TEST_CASE("chat request: explicit thinking wins over reasoning_effort", "[unit][chat_request]") {
  const ChatRequest a = parse_ok(with(R"("reasoning_effort":"high","thinking":{"type":"disabled"})"));
  CHECK(a.thinking == false);
  CHECK(a.reasoning_effort == "high");
  CHECK(parse_ok(with(R"("thinking":{"type":"enabled","clear_thinking":false},"reasoning_effort":"none")")).thinking ==
        true);
}

// ---- a valid request with every field -----------------------------------------------------------

TEST_CASE("chat request: every field of a valid request is parsed", "[unit][chat_request]") {
  const ChatRequest r = parse_ok(R"({
    "model": "glm-4.6",
    "messages": [
      {"role": "developer", "content": "Be terse."},
      {"role": "user", "name": "alice", "content": [
        {"type": "text", "text": "Look:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
        {"type": "video_url", "video_url": {"url": "https://v/x.mp4"}},
        {"type": "text", "text": "What is it?"}]},
      {"role": "assistant", "content": "\n", "reasoning_content": "hmm",
       "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": [1, 2]}}},
                      {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{\"b\":\"\\u00e9\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "ok"}
    ],
    "stream": true,
    "stream_options": {"include_usage": true},
    "temperature": 0.7,
    "top_p": 0.9,
    "max_tokens": 100,
    "stop": ["END"],
    "n": 1,
    "seed": 1234,
    "user": "user-123",
    "tools": [
      {"type": "function", "function": {"name": "f", "description": "does f", "strict": true,
                                        "parameters": {"type": "object"}}},
      {"type": "web_search", "web_search": {"enable": true}}
    ],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "tool_stream": true,
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    "thinking": {"type": "enabled"},
    "reasoning_effort": "low",
    "presence_penalty": 0.5,
    "request_id": "r-1",
    "we\u0069rd": {"a": [1, {"b": null}]}
  })");

  CHECK(r.model == "glm-4.6");
  REQUIRE(r.messages.size() == 4);
  CHECK(r.messages[0].role == Role::system);
  CHECK(r.messages[0].content == "Be terse.");
  CHECK_FALSE(r.messages[0].has_parts);

  const Message& u = r.messages[1];
  CHECK(u.role == Role::user);
  CHECK(u.name == "alice");
  REQUIRE(u.has_parts);
  REQUIRE(u.parts.size() == 4);
  CHECK(u.parts[0].kind == ContentPart::Kind::text);
  CHECK(u.parts[0].text == "Look:");
  CHECK(u.parts[1].kind == ContentPart::Kind::image_url);
  CHECK(u.parts[1].text == "data:image/png;base64,AAAA");
  CHECK(u.parts[1].detail == "low");
  CHECK(u.parts[2].kind == ContentPart::Kind::other);
  CHECK(u.parts[2].raw == R"({"type": "video_url", "video_url": {"url": "https://v/x.mp4"}})");
  CHECK(u.content == "Look:\nWhat is it?");

  const Message& a = r.messages[2];
  CHECK(a.role == Role::assistant);
  CHECK(a.content == "\n");
  CHECK(a.reasoning_content == "hmm");
  REQUIRE(a.tool_calls.size() == 2);
  CHECK(a.tool_calls[0].id == "c1");
  CHECK(a.tool_calls[0].name == "f");
  CHECK(a.tool_calls[0].arguments == R"({"a": [1, 2]})");
  // The arguments are JSON text: their own escapes stay as written.
  CHECK(a.tool_calls[1].arguments == R"({"b":"\u00e9"})");

  CHECK(r.messages[3].role == Role::tool);
  CHECK(r.messages[3].tool_call_id == "c1");
  CHECK(r.messages[3].content == "ok");

  CHECK(r.stream);
  CHECK(r.include_usage);
  CHECK(r.temperature == Approx(0.7));
  CHECK(r.top_p == Approx(0.9));
  CHECK(r.max_tokens == 100);
  CHECK(r.stop == std::vector<std::string>{"END"});
  CHECK(r.seed == 1234);
  CHECK(r.user == "user-123");

  REQUIRE(r.tools.size() == 2);
  CHECK(r.tools[0].type == "function");
  CHECK(r.tools[0].name == "f");
  CHECK(r.tools[0].description == "does f");
  CHECK(r.tools[0].parameters == R"({"type": "object"})");
  CHECK(r.tools[1].type == "web_search");
  CHECK(r.tools[1].raw == R"({"type": "web_search", "web_search": {"enable": true}})");
  CHECK(r.tool_choice == ToolChoice::named);
  CHECK(r.tool_choice_name == "f");
  CHECK(r.tool_stream);

  CHECK(r.response_format == "json_schema");
  CHECK(r.json_schema == R"({"name": "x", "schema": {"type": "object"}})");
  CHECK(r.thinking == true);
  CHECK(r.reasoning_effort == "low");

  REQUIRE(r.extra.size() == 3);
  CHECK(r.extra[0] == std::pair<std::string, std::string>{"presence_penalty", "0.5"});
  CHECK(r.extra[1] == std::pair<std::string, std::string>{"request_id", R"("r-1")"});
  // Keys are unescaped; values are the raw JSON as written.
  CHECK(r.extra[2] == std::pair<std::string, std::string>{"weird", R"({"a": [1, {"b": null}]})"});
}

TEST_CASE("chat request: image_url given as a bare string is accepted", "[unit][chat_request]") {
  const ChatRequest r = parse_ok(msgs(R"([{"role":"user","content":[{"type":"image_url","image_url":"https://x/y.png"}]}])"));
  REQUIRE(r.messages[0].parts.size() == 1);
  CHECK(r.messages[0].parts[0].kind == ContentPart::Kind::image_url);
  CHECK(r.messages[0].parts[0].text == "https://x/y.png");
}

TEST_CASE("chat request: tool call arguments default to an empty object", "[unit][chat_request]") {
  const ChatRequest r = parse_ok(msgs(R"([{"role":"user","content":"x"},{"role":"assistant","content":"",
    "tool_calls":[{"id":"c","function":{"name":"f"}}]}])"));
  CHECK(r.messages[1].tool_calls.at(0).arguments == "{}");
}

TEST_CASE("chat request: strings are unescaped", "[unit][chat_request]") {
  const ChatRequest r = parse_ok(msgs(R"([{"role":"user","content":"line\nnext \"q\" \u00e9 \ud83d\ude00"}])"));
  CHECK(r.messages[0].content == "line\nnext \"q\" \xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_CASE("chat request: the parser can be reused for many requests on one thread", "[unit][chat_request]") {
  for (int i = 0; i < 3; ++i) {
    const ChatRequest r = parse_ok(with(R"("seed":)" + std::to_string(i)));
    CHECK(r.seed == i);
    CHECK(r.messages.at(0).content == "hi");
  }
}

TEST_CASE("chat request: a truncated body is reported as truncated, with where it ends", "[unit][chat]") {
  const std::string full = with("");
  for (const std::size_t cut : {std::size_t{1}, std::size_t{20}, full.size() - 10, full.size() - 1}) {
    const std::string body = full.substr(0, cut);
    const ParseResult r = parse(body);
    INFO(body);
    REQUIRE_FALSE(r.ok);
    CHECK(r.error.status == 400);
    CHECK(r.error.code == "json_truncated");
    CHECK(r.error.message.find("truncated") != std::string::npos);
    CHECK(r.error.message.find("byte " + std::to_string(cut)) != std::string::npos);
  }
}

TEST_CASE("chat request: a body that is not an object is still told so", "[unit][chat]") {
  const ParseResult r = parse("[1,2]");
  REQUIRE_FALSE(r.ok);
  CHECK(r.error.message.find("must be a JSON object") != std::string::npos);
  CHECK(r.error.code.empty());
}
