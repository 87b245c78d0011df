#pragma once
// Internal to the zai-web dialect: the browser-like headers every call carries and the small
// readers of the backend's JSON answers (identity, images and the chat request share them).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "zgate/dialect/zaiweb/options.hpp"
#include "zgate/model/route.hpp"
#include "zgate/core/error.hpp"
#include "zgate/core/text.hpp"
#include "zgate/model/dialect.hpp"

namespace zgate::zaiweb::detail {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The configured User-Agent (or `override_ua`, or the default desktop Chrome).
std::string_view user_agent_of(const ZaiWebOptions& opts, std::string_view override_ua = {});
// Client hints that agree with the User-Agent; browsers other than Chromium send none.
void add_client_hints(Headers& h, std::string_view ua);
// The headers every API call of the web app carries.
Headers api_headers(const ZaiWebOptions& opts, std::string_view ua, std::string_view referer, std::string_view accept);
// A JSON POST of the web app: Authorization with `token`, Content-Type, then api_headers().
void add_json_post_headers(UpstreamRequest& r, const ZaiWebOptions& opts, std::string_view ua,
                           std::string_view referer, std::string_view accept, std::string_view token);
// "https://chat.z.ai/".
std::string root_referer();

// Parses `body` as a JSON object into `obj` (valid while `keep` lives); false when it is not one.
bool parse_object(std::string_view body, simdjson::dom::object& obj, simdjson::padded_string& keep);
// A string member ("" when absent or not a string).
std::string str_field(simdjson::dom::object obj, std::string_view key);
// An integer member (a float truncated; 0 when absent or not a number).
int64_t int_field(simdjson::dom::object obj, std::string_view key);

// `e` with "<what>: " before its message.
ApiError with_context(ApiError e, std::string_view what);
// An answer that is not what the call expects, explained by classify_http_error, in context.
ApiError answer_error(int status, std::string_view content_type, std::string_view body, std::string_view what);

// ASCII case-insensitive prefix test (URL schemes, "data:").
inline bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && text::iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace zgate::zaiweb::detail
