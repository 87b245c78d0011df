// zai-web identity: guest sign-in, a configured token's profile, the front-end version.
#include "zgate/dialect/zaiweb/identity.hpp"

#include <cctype>

#include <fmt/format.h>

#include "http.hpp"
#include "zgate/core/encoding.hpp"
#include "zgate/dialect/zaiweb/errors.hpp"

namespace zgate::zaiweb {

using namespace detail;

UpstreamRequest guest_auth_request(const ZaiWebOptions& opts) {
  UpstreamRequest r;
  r.method = "GET";
  r.target = "/api/v1/auths/";
  r.headers = api_headers(opts, user_agent_of(opts), root_referer(), "application/json");
  return r;
}

UpstreamRequest profile_request(const ZaiWebOptions& opts, std::string_view token) {
  UpstreamRequest r = guest_auth_request(opts);
  r.headers.emplace(r.headers.begin(), "Authorization", fmt::format("Bearer {}", token));
  return r;
}

UpstreamRequest landing_page_request(const ZaiWebOptions& opts) {
  UpstreamRequest r;
  r.method = "GET";
  r.target.assign(1, '/');  // not = "/": GCC 12 at -O3 warns (-Wrestrict, wrongly) on that
  const std::string_view ua = user_agent_of(opts);
  r.headers.emplace_back("User-Agent", std::string(ua));
  r.headers.emplace_back("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
  r.headers.emplace_back("Accept-Language", "en-US,en;q=0.9");
  r.headers.emplace_back("Accept-Encoding", "identity");
  add_client_hints(r.headers, ua);
  r.headers.emplace_back("Sec-Fetch-Dest", "document");
  r.headers.emplace_back("Sec-Fetch-Mode", "navigate");
  r.headers.emplace_back("Sec-Fetch-Site", "none");
  return r;
}

Result<AuthInfo> parse_auth_response(int status, std::string_view content_type, std::string_view body,
                                     std::string_view sent_token) {
  constexpr std::string_view kWhat = "chat.z.ai sign-in (/api/v1/auths/) failed";
  if (status != 200) return answer_error(status, content_type, body, kWhat);
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  if (!parse_object(body, obj, keep)) return answer_error(200, content_type, body, kWhat);
  // A 200 answer may still be a refusal ({"detail":…} / {"error":…}), e.g. a captcha demand.
  if (obj["token"].error() != simdjson::SUCCESS && obj["id"].error() != simdjson::SUCCESS) {
    // Look for {detail|message, code, error_code} at the top or inside "error".
    simdjson::dom::object src = obj;
    simdjson::dom::object inner;
    if (obj["error"].get_object().get(inner) == simdjson::SUCCESS) src = inner;
    std::string detail = str_field(src, "detail");
    if (detail.empty()) detail = str_field(src, "message");
    std::string code = str_field(src, "code");
    if (code.empty() && int_field(src, "code") != 0) code = fmt::format("{}", int_field(src, "code"));
    ApiError e = classify_stream_error(detail, code, str_field(src, "error_code"), false);
    if (e.code == "upstream_error") {
      e = bad_gateway(fmt::format(
          "chat.z.ai did not issue a token (guest sign-in refused or disabled{}). Configure zai_web.token with a "
          "logged-in token, or use the official API provider (zhipu).",
          detail.empty() ? std::string() : ": \"" + detail + "\""));
    }
    return with_context(std::move(e), kWhat);
  }
  AuthInfo info;
  info.token = str_field(obj, "token");
  if (info.token.empty()) info.token = std::string(sent_token);
  info.user_id = str_field(obj, "id");
  info.name = str_field(obj, "name");
  info.role = str_field(obj, "role");
  if (info.token.empty()) {
    return bad_gateway(
        "chat.z.ai sign-in answered without a token (guest sign-in refused). Configure zai_web.token with a "
        "logged-in token, or use the official API provider (zhipu).");
  }
  if (info.user_id.empty()) info.user_id = jwt_user_id(info.token);
  return info;
}

std::string jwt_user_id(std::string_view token) {
  const auto a = token.find('.');
  if (a == std::string_view::npos) return {};
  const auto b = token.find('.', a + 1);
  if (b == std::string_view::npos) return {};
  const std::optional<std::string> payload = encoding::base64_decode(token.substr(a + 1, b - a - 1));
  if (!payload) return {};
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  if (!parse_object(*payload, obj, keep)) return {};
  return str_field(obj, "id");
}

AuthInfo auth_from_token(std::string_view token) {
  AuthInfo a;
  a.token = std::string(token);
  a.user_id = jwt_user_id(token);
  return a;
}

std::optional<std::string> extract_fe_version(std::string_view html) {
  constexpr std::string_view kPrefix = "prod-fe-";
  std::size_t p = 0;
  while ((p = html.find(kPrefix, p)) != std::string_view::npos) {
    std::size_t i = p + kPrefix.size();
    int groups = 0;
    while (groups < 3) {
      const std::size_t start = i;
      while (i < html.size() && std::isdigit(static_cast<unsigned char>(html[i]))) ++i;
      if (i == start) break;
      ++groups;
      if (groups < 3) {
        if (i < html.size() && html[i] == '.') ++i;
        else break;
      }
    }
    if (groups == 3) return std::string(html.substr(p, i - p));
    p += kPrefix.size();
  }
  return std::nullopt;
}

}  // namespace zgate::zaiweb
