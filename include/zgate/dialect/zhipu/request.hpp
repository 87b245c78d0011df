#pragma once
// The request half of the Zhipu / Z.ai "paas v4" dialect: the upstream request body built from
// a normalised ChatRequest (docs/protocols/zhipu-v4.md). Pure functions over bytes (no I/O).
// Its errors (map_error) are in errors.hpp, included here for the callers of both.
#include <string>
#include <string_view>

#include "zgate/model/route.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/request.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/dialect/zhipu/errors.hpp"

namespace zgate::zhipu {

// Appends the v4 JSON body for `req` to `out`, sending `upstream_model` as the model and
// applying the route's options (vision, thinking/web-search aliases, output-token cap).
// Returns a 400 instead when the request cannot be expressed in v4 (e.g. no user message);
// `out` is then unspecified.
Result<void> build_request(const ChatRequest& req, const ModelRoute& route, std::string_view upstream_model,
                           std::string& out);

// POST <base_path>/chat/completions with Content-Type and Accept set (text/event-stream when
// `stream`, application/json otherwise). The I/O shell adds Authorization and Host.
UpstreamRequest make_upstream_request(std::string_view base_path, std::string body, bool stream);

}  // namespace zgate::zhipu
