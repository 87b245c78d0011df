// Non-stream zhipu v4 bodies -> zhipu::decode_response -> openai::ResponseAggregator, against
// golden chat.completion bodies; and what happens to bodies that are not valid v4 responses.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../fixtures.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/dialect/zhipu/response.hpp"

namespace {

namespace fs = std::filesystem;
using namespace zgate;
using namespace zgate::test;  // slurp, updating, fixed_options

const fs::path kDir = fs::path(ZGATE_FIXTURES) / "zhipu";

// Decodes `body` and returns the chat.completion JSON (with the newline the golden files end with).
std::string convert(std::string_view body) {
  openai::ResponseAggregator agg(fixed_options());
  const Result<void> decoded = zhipu::decode_response(body, agg);
  INFO((decoded.ok() ? std::string() : decoded.error().message));
  REQUIRE(decoded.ok());
  REQUIRE_FALSE(agg.failed());
  std::string out;
  agg.write(out);
  out.push_back('\n');
  return out;
}

class CountingSink final : public EventSink {
 public:
  void on_event(const Event&) override { ++count; }
  int count = 0;
};

}  // namespace

TEST_CASE("zhipu response: non-stream bodies match their goldens", "[unit][zhipu_response]") {
  for (const char* name : {"t01_plain", "t02_reasoning", "t03_tool_call", "t20_format_2026"}) {
    INFO(name);
    const fs::path body = kDir / (std::string(name) + ".json");
    const fs::path golden = kDir / (std::string(name) + ".openai.json");
    CHECK(convert(slurp(body)) == slurp(golden));
  }
}

TEST_CASE("zhipu response: the outcome carries usage, finish and tool calls", "[unit][zhipu_response]") {
  openai::ResponseAggregator agg(fixed_options());
  const Result<void> decoded = zhipu::decode_response(slurp(kDir / "t03_tool_call.json"), agg);
  REQUIRE(decoded.ok());
  const auto& o = agg.outcome();
  CHECK(o.usage.present);
  CHECK(o.usage.prompt_tokens == 171);
  CHECK(o.usage.cached_tokens == 43);
  CHECK(o.finish == FinishReason::tool_calls);
  CHECK(o.tool_calls == 1);
  CHECK(o.saw_first_token);
}

TEST_CASE("zhipu response: malformed JSON is a 502 and emits nothing", "[unit][zhipu_response]") {
  CountingSink sink;
  const Result<void> decoded = zhipu::decode_response(R"({"choices":[{"message":{"content":"4"})", sink);
  REQUIRE_FALSE(decoded.ok());
  const ApiError& err = decoded.error();
  CHECK(err.status == 502);
  CHECK(err.type == "upstream_error");
  CHECK(err.source == ErrorSource::upstream);
  CHECK(err.message.rfind("upstream sent malformed JSON: ", 0) == 0);
  CHECK(sink.count == 0);
}

TEST_CASE("zhipu response: a body without choices is a 502", "[unit][zhipu_response]") {
  for (const char* body : {R"({"id":"x","created":1,"model":"m"})", R"({"id":"x","choices":[]})",
                           R"({"id":"x","choices":[{"index":0,"finish_reason":"stop"}]})", "[1,2]"}) {
    INFO(body);
    CountingSink sink;
    const Result<void> decoded = zhipu::decode_response(body, sink);
    REQUIRE_FALSE(decoded.ok());
    const ApiError& err = decoded.error();
    CHECK(err.status == 502);
    CHECK(sink.count == 0);
  }
}

TEST_CASE("zhipu response: an error object in a 200 body keeps the upstream message", "[unit][zhipu_response]") {
  CountingSink sink;
  const Result<void> decoded = zhipu::decode_response(R"({"error":{"code":"1305","message":"overloaded"}})", sink);
  REQUIRE_FALSE(decoded.ok());
  const ApiError& err = decoded.error();
  CHECK(err.status == 429);
  CHECK(err.type == "rate_limit_exceeded");
  CHECK(err.message == "overloaded");
  CHECK(sink.count == 0);
}

TEST_CASE("zhipu response: network_error in a non-stream body is a 502", "[unit][zhipu_response]") {
  CountingSink sink;
  const Result<void> decoded = zhipu::decode_response(
      R"({"choices":[{"finish_reason":"network_error","index":0,"message":{"content":"Par","role":"assistant"}}],)"
      R"("created":1,"id":"x","model":"glm-4.6"})",
      sink);
  REQUIRE_FALSE(decoded.ok());
  const ApiError& err = decoded.error();
  CHECK(err.status == 502);
  CHECK(err.message.find("network_error") != std::string::npos);
  CHECK(sink.count == 0);
}

TEST_CASE("zhipu response: sensitive maps to content_filter", "[unit][zhipu_response]") {
  openai::ResponseAggregator agg(fixed_options());
  const Result<void> decoded = zhipu::decode_response(
      R"({"choices":[{"finish_reason":"sensitive","index":0,"message":{"content":"","role":"assistant"}}],)"
      R"("created":1,"id":"x","model":"glm-4.6"})",
      agg);
  REQUIRE(decoded.ok());
  std::string out;
  agg.write(out);
  CHECK(out.find(R"("finish_reason":"content_filter")") != std::string::npos);
  CHECK(out.find(R"("content":"")") != std::string::npos);
}

TEST_CASE("zhipu response: the upstream id and model are used when no options are given", "[unit][zhipu_response]") {
  openai::ResponseAggregator agg(openai::StreamOptions{});
  const Result<void> decoded = zhipu::decode_response(slurp(kDir / "t01_plain.json"), agg);
  REQUIRE(decoded.ok());
  std::string out;
  agg.write(out);
  CHECK(out.rfind(R"({"id":"chatcmpl-20251111175820a1b2c3d4e5f60718","object":"chat.completion",)"
                  R"("created":1762855100,"model":"glm-4.5-air",)",
                  0) == 0);
}

TEST_CASE("zhipu response: a token count beyond int64 saturates instead of overflowing", "[unit][zhipu_response]") {
  // Found by fuzzing: a count read as a double was cast to int64_t (undefined behaviour).
  openai::ResponseAggregator agg(fixed_options());
  const Result<void> decoded = zhipu::decode_response(
      R"({"id":"x","model":"glm-4.6","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},)"
      R"("finish_reason":"stop"}],"usage":{"prompt_tokens":1e30,"completion_tokens":-1e30,"total_tokens":5}})",
      agg);
  REQUIRE(decoded.ok());
  CHECK(agg.outcome().usage.prompt_tokens == INT64_MAX);
  CHECK(agg.outcome().usage.completion_tokens == INT64_MIN);
}
