#pragma once
// zai-web errors: upstream refusals mapped to the OpenAI errors sent downstream.
#include <string_view>

#include "zgate/core/error.hpp"

namespace zgate::zaiweb {

// A non-200 answer, or a 200 answer that is not an event stream. Recognises the WAF HTML
// page, signature failures, 426 version/verification errors, model-level 403, 401, 429 /
// concurrency and captcha demands; each message says what happened and what to do.
ApiError classify_http_error(int status, std::string_view content_type, std::string_view body);

// An error reported inside the stream (`detail`, `code` as text, `error_code`).
// `after_content`: some answer text had already been streamed.
ApiError classify_stream_error(std::string_view detail, std::string_view code, std::string_view error_code,
                               bool after_content);


// True when the token must be refreshed: HTTP 401, or a body whose error code is 401 /
// says the token is invalid or expired. Captcha, model-level and WAF refusals are not.
bool is_auth_failure(int status, std::string_view body);
// The same for an error the decoder or classify_http_error produced.
bool is_auth_failure(const ApiError& e);

}  // namespace zgate::zaiweb
