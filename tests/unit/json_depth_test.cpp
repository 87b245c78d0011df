// Deeply nested JSON from a client or an upstream is refused with an error, never walked until
// the thread's stack runs out (50,000 levels crashed the process).
#include <string>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "zgate/config/config.hpp"
#include "zgate/json/read.hpp"
#include "zgate/model/request.hpp"
#include "zgate/front/openai/request.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"
#include "zgate/dialect/zaiweb/stream.hpp"
#include "zgate/dialect/zhipu/response.hpp"

namespace {

using namespace zgate;

constexpr int kHostile = 50'000;

std::string nested(int levels, std::string_view open = "{\"a\":", std::string_view close = "}") {
  std::string s;
  s.reserve(levels * (open.size() + close.size()) + 8);
  for (int i = 0; i < levels; ++i) s += open;
  s += "1";
  for (int i = 0; i < levels; ++i) s += close;
  return s;
}

Result<ChatRequest> parse(std::string body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  return openai::parse_chat_request(body);
}

std::string chat_with(std::string_view field, std::string_view value) {
  return std::string(R"({"model":"glm-4.6","messages":[{"role":"user","content":"hi"}],")") + std::string(field) +
         "\":" + std::string(value) + "}";
}

struct Collect final : EventSink {
  int events = 0;
  bool failed = false;
  void on_event(const Event& e) override {
    ++events;
    if (e.type == EventType::error) failed = true;
  }
};

}  // namespace

TEST_CASE("json depth: a deeply nested unknown field is a 400 naming the limit", "[unit][json]") {
  const Result<ChatRequest> r = parse(chat_with("extra", nested(kHostile)));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 400);
  CHECK(r.error().code == "json_too_deep");
  CHECK(r.error().message.find(std::to_string(json::kMaxDepth)) != std::string::npos);
}

TEST_CASE("json depth: deeply nested arrays in tool parameters are refused", "[unit][json]") {
  const std::string tools = R"([{"type":"function","function":{"name":"f","parameters":{"type":"object","x":)" +
                            nested(kHostile, "[", "]") + "}}}]";
  const Result<ChatRequest> r = parse(chat_with("tools", tools));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "json_too_deep");
}

TEST_CASE("json depth: a deeply nested response_format schema is refused", "[unit][json]") {
  const std::string rf = R"({"type":"json_schema","json_schema":{"name":"s","schema":)" + nested(kHostile) + "}}";
  const Result<ChatRequest> r = parse(chat_with("response_format", rf));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 400);
}

TEST_CASE("json depth: deep nesting in the message list is refused", "[unit][json]") {
  const Result<ChatRequest> r = parse(R"({"model":"glm-4.6","messages":)" + nested(kHostile, "[", "]") + "}");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 400);
}

TEST_CASE("json depth: nesting up to the limit is accepted", "[unit][json]") {
  const Result<ChatRequest> r = parse(chat_with("extra", nested(json::kMaxDepth - 2)));
  CHECK(r.ok());
}

TEST_CASE("json depth: a deeply nested v4 stream event ends the stream with an error", "[unit][json]") {
  zhipu::V4StreamDecoder dec;
  Collect sink;
  dec.on_data(R"({"id":"x","choices":[{"index":0,"delta":{"content":"a","x":)" + nested(kHostile) + "}}]}", {},
              sink);
  CHECK(sink.events >= 0);  // reached: no crash; the decoder either skipped the member or failed
}

TEST_CASE("json depth: a deeply nested v4 response body is refused", "[unit][json]") {
  Collect sink;
  const Result<void> r = zhipu::decode_response(nested(kHostile), sink);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 502);
}

TEST_CASE("json depth: a deeply nested zai-web frame does not crash the decoder", "[unit][json]") {
  zaiweb::DecoderOptions o;
  o.model = "m";
  zaiweb::StreamDecoder dec(o);
  Collect sink;
  dec.on_data(R"({"type":"chat:completion","data":{"delta_content":"a","phase":"answer","x":)" + nested(kHostile) +
                  "}}",
              {}, sink);
  dec.on_data(nested(kHostile, "[", "]"), {}, sink);
  CHECK(sink.events >= 0);
}

TEST_CASE("json depth: a deeply nested zai-web error body is classified", "[unit][json]") {
  const ApiError e = zaiweb::classify_http_error(500, "application/json", nested(kHostile));
  CHECK(e.status >= 400);
}

TEST_CASE("json depth: deeply nested TOML is a configuration error", "[unit][json][config]") {
  Config cfg;
  std::string toml = "x = " + nested(kHostile, "[", "]") + "\n";
  CHECK_THROWS_AS(apply_toml(cfg, toml, "deep.toml"), ConfigError);
}
