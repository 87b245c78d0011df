#pragma once
// The errors of the Zhipu / Z.ai "paas v4" dialect, mapped to the OpenAI errors sent downstream.
#include <string_view>

#include "zgate/core/error.hpp"

namespace zgate::zhipu {

// Maps a v4 error response (`{"error":{"code":"1302","message":"..."}}`, code as a string or a
// number) to the OpenAI error sent downstream. The upstream message is kept and its business
// code appended; a body that is not JSON becomes a 502 quoting the start of it.
// Uses the calling thread's simdjson parser (json::thread_parser()).
ApiError map_error(int http_status, std::string_view body);

// The error for a `{"error":{"code","message"}}` payload received after the response began:
// 429 rate_limit_exceeded for the throttling codes 1302/1303/1305, else 502 upstream_error.
// The upstream message is kept.
ApiError in_band_error(std::string_view code, std::string_view message);

}  // namespace zgate::zhipu
