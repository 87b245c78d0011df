// The OpenAI front: `messages` (roles, content and parts, tool calls and results).
#include <string>

#include <catch2/catch.hpp>

#include "support.hpp"

using namespace zgate;
using namespace zgate::openai::test;

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
