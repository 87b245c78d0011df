#pragma once
// The request half of the Zhipu / Z.ai "paas v4" dialect: the upstream request body built from
// a normalised ChatRequest, and the mapping of v4 error responses to OpenAI errors.
// Pure functions over bytes (no I/O); see specs/zhipu-v4.md §3, §6 and §9.
#include <optional>
#include <string>
#include <string_view>

#include "zgate/model/route.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/request.hpp"
#include "zgate/model/dialect.hpp"

namespace zgate::zhipu {

// Appends the v4 JSON body for `req` to `out`, sending `upstream_model` as the model and
// applying the route's options (vision, thinking/web-search aliases, output-token cap).
// Returns a 400 instead when the request cannot be expressed in v4 (e.g. no user message);
// `out` is then unspecified.
std::optional<ApiError> build_request(const ChatRequest& req, const ModelRoute& route,
                                      std::string_view upstream_model, std::string& out);

// POST <base_path>/chat/completions with Content-Type and Accept set (text/event-stream when
// `stream`, application/json otherwise). The I/O shell adds Authorization and Host.
UpstreamRequest make_upstream_request(std::string_view base_path, std::string body, bool stream);

// Maps a v4 error response (`{"error":{"code":"1302","message":"..."}}`, code as a string or a
// number) to the OpenAI error sent downstream. The upstream message is kept and its business
// code appended; a body that is not JSON becomes a 502 quoting the start of it.
// Uses the calling thread's simdjson parser (json::thread_parser()).
ApiError map_error(int http_status, std::string_view body);

}  // namespace zgate::zhipu
