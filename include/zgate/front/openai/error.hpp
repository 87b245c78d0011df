#pragma once
// The OpenAI error body a client gets for an ApiError: {"error":{"message","type","param","code"}}.
#include <string>

#include "zgate/core/error.hpp"

namespace zgate::openai {

// Appends the JSON error body for `e` to `out`.
void append_error_body(std::string& out, const ApiError& e);
std::string error_body(const ApiError& e);

}  // namespace zgate::openai
