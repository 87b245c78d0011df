// The OpenAI front: sampling options, limits, stop, response_format, thinking.
#include <string>

#include <catch2/catch.hpp>

#include "support.hpp"

using namespace zgate;
using namespace zgate::openai::test;

// ---- sampling and limits ----------------------------------------------------------------------

TEST_CASE("chat request: n greater than 1 is not supported", "[unit][chat_request]") {
  expect_error(with(R"("n":2)"), "n", "'n' greater than 1 is not supported");
  expect_error(with(R"("n":0)"), "n", "'n' must be a positive integer");
  expect_error(with(R"("n":"1")"), "n", "'n' must be a positive integer");
  CHECK(parse(with(R"("n":1)")).ok());
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
