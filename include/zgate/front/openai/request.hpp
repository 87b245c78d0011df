#pragma once
// The OpenAI front, request side: an OpenAI /v1/chat/completions body parsed and validated into
// the normalised ChatRequest (model/request.hpp).
#include <string_view>

#include "zgate/core/error.hpp"
#include "zgate/model/request.hpp"

namespace zgate::openai {

// Parses and validates an OpenAI chat completion request. `padded_body` must have at least
// simdjson::SIMDJSON_PADDING bytes of readable capacity after size() (see json/read.hpp).
// Errors are 400 invalid_request_error and name the offending field (`param`); a body that
// ends early says where it was cut (code json_truncated).
Result<ChatRequest> parse_chat_request(std::string_view padded_body);

}  // namespace zgate::openai
