// zai-web dialect internals: browser-like headers and readers of the backend's JSON answers.
#include "http.hpp"

#include <cctype>

#include <fmt/format.h>

#include "zgate/json/dom.hpp"
#include "zgate/json/read.hpp"
#include "zgate/dialect/zaiweb/errors.hpp"
#include "zgate/dialect/zaiweb/identity.hpp"

namespace zgate::zaiweb::detail {

std::string_view user_agent_of(const ZaiWebOptions& opts, std::string_view override_ua) {
  if (!override_ua.empty()) return override_ua;
  return opts.user_agent.empty() ? kDefaultUserAgent : std::string_view(opts.user_agent);
}

void add_client_hints(Headers& h, std::string_view ua) {
  const auto chrome = ua.find("Chrome/");
  if (chrome == std::string_view::npos || ua.find("Firefox/") != std::string_view::npos) return;
  std::size_t e = chrome + 7;
  while (e < ua.size() && std::isdigit(static_cast<unsigned char>(ua[e]))) ++e;
  const std::string_view major = ua.substr(chrome + 7, e - chrome - 7);
  const bool edge = ua.find("Edg/") != std::string_view::npos;
  h.emplace_back("sec-ch-ua", fmt::format("\"Chromium\";v=\"{0}\", \"Not=A?Brand\";v=\"24\", \"{1}\";v=\"{0}\"", major,
                                          edge ? "Microsoft Edge" : "Google Chrome"));
  h.emplace_back("sec-ch-ua-mobile", ua.find("Mobile") != std::string_view::npos ? "?1" : "?0");
  std::string_view platform = "Windows";
  if (ua.find("Mac OS X") != std::string_view::npos) platform = "macOS";
  else if (ua.find("Android") != std::string_view::npos) platform = "Android";
  else if (ua.find("Linux") != std::string_view::npos) platform = "Linux";
  h.emplace_back("sec-ch-ua-platform", fmt::format("\"{}\"", platform));
}

// The headers every API call of the web app carries. Accept-Encoding: identity, since the
// edge would otherwise answer with Brotli that the I/O side does not decode.
Headers api_headers(const ZaiWebOptions& opts, std::string_view ua, std::string_view referer, std::string_view accept) {
  Headers h;
  h.reserve(20);
  h.emplace_back("User-Agent", std::string(ua));
  h.emplace_back("Accept", std::string(accept));
  h.emplace_back("Accept-Language", "en-US,en;q=0.9");
  h.emplace_back("Accept-Encoding", "identity");
  add_client_hints(h, ua);
  h.emplace_back("Sec-Fetch-Dest", "empty");
  h.emplace_back("Sec-Fetch-Mode", "cors");
  h.emplace_back("Sec-Fetch-Site", "same-origin");
  h.emplace_back("Origin", std::string(kOrigin));
  h.emplace_back("Referer", std::string(referer));
  h.emplace_back("X-FE-Version", opts.fe_version);
  h.emplace_back("X-Region", "overseas");
  return h;
}

void add_json_post_headers(UpstreamRequest& r, const ZaiWebOptions& opts, std::string_view ua,
                           std::string_view referer, std::string_view accept, std::string_view token) {
  r.headers.emplace_back("Authorization", fmt::format("Bearer {}", token));
  r.headers.emplace_back("Content-Type", "application/json");
  Headers h = api_headers(opts, ua, referer, accept);
  r.headers.insert(r.headers.end(), std::make_move_iterator(h.begin()), std::make_move_iterator(h.end()));
}

std::string root_referer() { return fmt::format("{}/", kOrigin); }

bool parse_object(std::string_view body, simdjson::dom::object& obj, simdjson::padded_string& keep) {
  keep = simdjson::padded_string(body);
  return json::thread_dom_parser().parse(keep).get_object().get(obj) == simdjson::SUCCESS;
}

std::string str_field(simdjson::dom::object obj, std::string_view key) {
  std::string_view s;
  if (obj[key].get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return {};
}

int64_t int_field(simdjson::dom::object obj, std::string_view key) {
  int64_t n = 0;
  double d = 0;
  if (obj[key].get_int64().get(n) == simdjson::SUCCESS) return n;
  if (obj[key].get_double().get(d) == simdjson::SUCCESS) return json::saturate_to_int64(d);
  return 0;
}

ApiError with_context(ApiError e, std::string_view what) {
  e.message = fmt::format("{}: {}", what, e.message);
  return e;
}

ApiError answer_error(int status, std::string_view content_type, std::string_view body, std::string_view what) {
  return with_context(classify_http_error(status, content_type, body), what);
}

}  // namespace zgate::zaiweb::detail
