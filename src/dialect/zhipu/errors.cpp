// The zhipu v4 dialect's errors: a v4 error response (HTTP status + {"error":{"code","message"}},
// the business codes listed in docs/protocols/zhipu-v4.md) mapped to the OpenAI error sent
// downstream, and errors that arrive inside a stream.
#include "zgate/dialect/zhipu/errors.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "zgate/core/text.hpp"
#include "zgate/json/read.hpp"
#include "zgate/json/walk.hpp"

namespace zgate::zhipu {

namespace {

namespace od = simdjson::ondemand;

struct UpstreamErrorBody {
  bool json = false;           // the body parsed as a JSON object
  bool has_error = false;      // an error code or message was found
  bool content_filter = false; // top-level contentFilter (1301)
  std::string code;            // as sent ("1302", "401", ...)
  int64_t code_num = -1;       // numeric value of `code`, -1 if not a number
  std::string message;
};

// Reads a code that v4 sends as a string of digits although its schema says integer.
void read_code(od::value& v, UpstreamErrorBody& out) {
  od::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return;
  if (t == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return;
    out.code.assign(s);
  } else if (t == od::json_type::number) {
    std::string_view raw;
    if (simdjson::to_json_string(v).get(raw) != simdjson::SUCCESS) return;
    out.code.assign(raw);
  } else {
    return;
  }
  int64_t n = 0;
  const auto* end = out.code.data() + out.code.size();
  const auto [p, ec] = std::from_chars(out.code.data(), end, n);
  if (ec == std::errc() && p == end) out.code_num = n;
  out.has_error = true;
}

void read_message(od::value& v, UpstreamErrorBody& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return;
  out.message.assign(s);
  out.has_error = true;
}

UpstreamErrorBody parse_error_body(std::string_view body) {
  UpstreamErrorBody out;
  std::string buf;
  auto& parser = json::thread_parser();
  od::document doc;
  od::object root;
  if (parser.iterate(json::pad(body, buf)).get(doc) != simdjson::SUCCESS) return out;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return out;
  // Top-level code/message (an envelope some proxies use) count only without an `error` object.
  UpstreamErrorBody top;
  const auto fields = [&](std::string_view k, od::value& v) -> simdjson::error_code {
    if (k == "error") {
      return json::if_object<json::Keys::unescaped>(v, [&out](std::string_view gk, od::value& gv) {
        if (gk == "code") read_code(gv, out);
        else if (gk == "message") read_message(gv, out);
        return simdjson::SUCCESS;
      });
    }
    if (k == "contentFilter" || k == "content_filter") out.content_filter = true;
    else if (k == "code") read_code(v, top);
    else if (k == "message" || k == "msg") read_message(v, top);
    return simdjson::SUCCESS;
  };
  if (json::for_each_member<json::Keys::unescaped>(root, fields) != simdjson::SUCCESS) return out;
  out.json = true;
  if (!out.has_error && top.has_error) {
    out.code = std::move(top.code);
    out.code_num = top.code_num;
    out.message = std::move(top.message);
    out.has_error = true;
  }
  return out;
}

// At most `n` bytes of `s`, cut on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

ApiError make(int status, std::string type, std::string code, std::string message) {
  ApiError e;
  e.status = status;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  e.source = ErrorSource::upstream;
  return e;
}

template <std::size_t N>
bool one_of(int64_t v, const int64_t (&set)[N]) {
  return std::find(std::begin(set), std::end(set), v) != std::end(set);
}

ApiError map_error_body(int http_status, std::string_view body) {
  const std::string_view trimmed = text::trim(body);
  if (trimmed.empty())
    return make(502, "upstream_error", "upstream_error",
                fmt::format("The upstream returned HTTP {} with an empty body", http_status));
  UpstreamErrorBody e = parse_error_body(trimmed);
  if (!e.json) {
    const std::string_view head = utf8_prefix(trimmed, 200);
    return make(502, "upstream_error", "upstream_error",
                fmt::format("The upstream returned HTTP {} with a body that is not JSON: {}{}", http_status, head,
                            head.size() < trimmed.size() ? "..." : ""));
  }

  std::string msg;
  if (!e.message.empty()) {
    msg = e.message;
  } else if (e.has_error) {
    msg = fmt::format("The upstream returned HTTP {}", http_status);
  } else {
    // JSON, but not an error we recognise: quote it so the cause is visible.
    const std::string_view head = utf8_prefix(trimmed, 200);
    msg = fmt::format("The upstream returned HTTP {}: {}{}", http_status, head,
                      head.size() < trimmed.size() ? "..." : "");
  }
  if (!e.code.empty()) fmt::format_to(std::back_inserter(msg), " (upstream code {})", e.code);

  const int64_t c = e.code_num;
  // bigmodel.cn sends code "401"; Z.ai 1000-1004. These are zgate's own upstream
  // credentials, so the message says so: the client's key to zgate was fine.
  if (http_status == 401 || c == 401 || (c >= 1000 && c <= 1004))
    return make(401, "authentication_error", "invalid_api_key", "The upstream rejected zgate's credentials: " + msg);
  if (c == 1113) return make(429, "insufficient_quota", "insufficient_quota", std::move(msg));
  static constexpr int64_t kRetryable[] = {1302, 1303, 1305};
  if (one_of(c, kRetryable)) {
    // Concurrency / frequency / overload: worth retrying shortly. v4 sends no Retry-After.
    ApiError r = make(429, "rate_limit_error", "rate_limit_exceeded", std::move(msg));
    r.retry_after = 1;
    r.retryable = true;
    return r;
  }
  // Daily / plan quotas, expired plans and locked accounts: 429 too, but retrying soon is futile.
  static constexpr int64_t kQuota[] = {1304, 1308, 1309, 1310, 1313, 1112, 1121};
  if (one_of(c, kQuota)) return make(429, "rate_limit_error", "rate_limit_exceeded", std::move(msg));
  if (c == 1301 || (c < 0 && e.content_filter))
    return make(400, "invalid_request_error", "content_policy_violation", std::move(msg));
  if (c == 1211) return make(404, "invalid_request_error", "model_not_found", std::move(msg));
  if (c == 1261) return make(400, "invalid_request_error", "context_length_exceeded", std::move(msg));
  // 1230 / 1234 / 1235 / 1260 are upstream-side failures (network or runtime errors).
  static constexpr int64_t kUpstreamFault[] = {1230, 1234, 1235, 1260};
  if (one_of(c, kUpstreamFault) || c == 500 || (http_status >= 500 && !(c >= 1200 && c <= 1299))) {
    ApiError r = make(http_status == 503 ? 503 : 502, "upstream_error", "upstream_error", std::move(msg));
    r.retryable = true;
    return r;
  }
  if (c >= 1200 && c <= 1299) return make(400, "invalid_request_error", "", std::move(msg));
  if (http_status == 429) return make(429, "rate_limit_error", "rate_limit_exceeded", std::move(msg));
  if (http_status >= 400) return make(http_status, "invalid_request_error", "", std::move(msg));
  return make(502, "upstream_error", "upstream_error", std::move(msg));
}

}  // namespace

ApiError map_error(int http_status, std::string_view body) {
  ApiError e = map_error_body(http_status, body);
  // A 5xx without a recognised business code (an empty or HTML body from a proxy in front of the
  // API, say) is an upstream fault that may pass.
  if (http_status >= 500 && e.code == "upstream_error") e.retryable = true;
  return e;
}

ApiError in_band_error(std::string_view code, std::string_view message) {
  ApiError e = bad_gateway(message.empty() ? fmt::format("The upstream reported error {}", code)
                                           : std::string(message));
  if (code == "1302" || code == "1303" || code == "1305") {
    e.status = 429;
    e.type = "rate_limit_exceeded";
    e.code = "rate_limit_exceeded";
    e.retry_after = 1;
  }
  return e;
}

}  // namespace zgate::zhipu
