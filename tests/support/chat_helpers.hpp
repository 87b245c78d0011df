#pragma once
// Test helpers for the model's values: a chat request parsed from OpenAI JSON (the test fails
// when it does not parse) and a usage report.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>

#include "zgate/front/openai/request.hpp"
#include "zgate/model/events.hpp"

namespace zgate::test {

inline ChatRequest parse_chat(std::string body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  Result<ChatRequest> r = openai::parse_chat_request(body);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return std::move(*r);
}

// A usage report the upstream gave (present).
inline Usage usage_of(int64_t prompt, int64_t completion, int64_t total, int64_t cached = 0, int64_t reasoning = 0) {
  return Usage{.present = true,
               .prompt_tokens = prompt,
               .completion_tokens = completion,
               .total_tokens = total,
               .cached_tokens = cached,
               .reasoning_tokens = reasoning};
}

}  // namespace zgate::test
