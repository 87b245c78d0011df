// The OpenAI front, top level (openai::parse_chat_request): malformed and truncated bodies,
// duplicate keys, a valid request with every field.
#include <string>

#include <catch2/catch.hpp>

#include "support.hpp"

using namespace zgate;
using namespace zgate::openai::test;

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
    const Result<ChatRequest> r = parse(body);
    INFO(body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().status == 400);
    CHECK(r.error().code == "json_truncated");
    CHECK(r.error().message.find("truncated") != std::string::npos);
    CHECK(r.error().message.find("byte " + std::to_string(cut)) != std::string::npos);
  }
}

TEST_CASE("chat request: a body that is not an object is still told so", "[unit][chat]") {
  const Result<ChatRequest> r = parse("[1,2]");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("must be a JSON object") != std::string::npos);
  CHECK(r.error().code.empty());
}

TEST_CASE("chat request: release_content frees the conversation and keeps the model and flags", "[unit][chat]") {
  ChatRequest r = parse_ok(
      R"({"model":"glm-4.6","stream":true,"stream_options":{"include_usage":true},"temperature":0.5,)"
      R"("messages":[{"role":"system","content":"be brief"},{"role":"user","content":"a question long enough to leave the small-string buffer"}],)"
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"stop":["x"],"user":"u-1","seed":7,)"
      R"("response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{}}},"logprobs":true})");
  REQUIRE(r.messages.size() == 2);
  REQUIRE_FALSE(r.tools.empty());
  REQUIRE_FALSE(r.extra.empty());
  REQUIRE_FALSE(r.json_schema.empty());
  release_content(r);
  CHECK(r.messages.capacity() == 0);
  CHECK(r.tools.capacity() == 0);
  CHECK(r.stop.capacity() == 0);
  CHECK(r.extra.capacity() == 0);
  CHECK(r.json_schema.empty());
  CHECK(r.user.empty());
  CHECK(r.model == "glm-4.6");
  CHECK(r.stream);
  CHECK(r.include_usage);
  CHECK(r.temperature == 0.5);
  CHECK(r.seed == 7);
  CHECK(r.response_format == "json_schema");
}
