// The OpenAI front: `tools` and `tool_choice`.
#include <string>

#include <catch2/catch.hpp>

#include "support.hpp"

using namespace zgate;
using namespace zgate::openai::test;

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
