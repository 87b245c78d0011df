#pragma once
// Helpers shared by the OpenAI request parser tests: parse with the padding contract, expect
// an error naming a field.
#include <string>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "zgate/front/openai/request.hpp"
#include "zgate/model/request.hpp"

namespace zgate::openai::test {

inline Result<ChatRequest> parse(std::string body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);  // the parser's padding contract
  return openai::parse_chat_request(body);
}

inline ChatRequest parse_ok(const std::string& body) {
  Result<ChatRequest> r = parse(body);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return std::move(*r);
}

// A minimal valid request with `fields` added at the top level.
inline std::string with(const std::string& fields) {
  return R"({"model":"glm-4.6","messages":[{"role":"user","content":"hi"}])" +
         (fields.empty() ? std::string() : "," + fields) + "}";
}

// A request whose messages array is `messages`.
inline std::string msgs(const std::string& messages) { return R"({"model":"glm-4.6","messages":)" + messages + "}"; }

inline void expect_error(const std::string& body, const std::string& param, const std::string& message) {
  const Result<ChatRequest> r = parse(body);
  INFO(body);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 400);
  CHECK(r.error().type == "invalid_request_error");
  CHECK(r.error().param == param);
  CHECK(r.error().message == message);
  CHECK(r.error().source == ErrorSource::downstream);
}

inline void expect_json_error(const std::string& body) {
  const Result<ChatRequest> r = parse(body);
  INFO(body);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 400);
  CHECK(r.error().type == "invalid_request_error");
  CHECK(r.error().message.rfind("We could not parse the JSON body of your request: ", 0) == 0);
}

}  // namespace zgate::openai::test
