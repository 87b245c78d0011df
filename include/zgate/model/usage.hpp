#pragma once
// Reading token counts: both upstream dialects send them in the OpenAI `usage` shape.
#include <simdjson.h>

#include "zgate/model/events.hpp"

namespace zgate {

// Reads a `usage` object (prompt_tokens, completion_tokens, total_tokens,
// prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens) into `u`,
// which is reset first. Counts that are not numbers stay 0, floats are truncated, anything out
// of range saturates; total_tokens is prompt + completion when absent or 0. A value that is not
// an object (null) leaves `u` untouched with present = false. Only malformed JSON fails.
simdjson::error_code read_usage(simdjson::ondemand::value& v, Usage& u);

}  // namespace zgate
