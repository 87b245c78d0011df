// zai-web error classification (docs/protocols/zai-web.md): every upstream refusal becomes an
// OpenAI-style error that says what happened and what the operator or the client can do.
#include "zgate/dialect/zaiweb/errors.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <simdjson.h>

#include "zgate/json/dom.hpp"

namespace zgate::zaiweb {
namespace {

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  const auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// At most `n` bytes of `s`, cut on a UTF-8 boundary, control characters folded to spaces.
std::string clip(std::string_view s, std::size_t n = 300) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  bool cut = false;
  if (s.size() > n) {
    std::size_t k = n;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    s = s.substr(0, k);
    cut = true;
  }
  std::string out;
  out.reserve(s.size() + 3);
  for (const char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  if (cut) out.append("...");
  return out;
}

ApiError make(int status, std::string type, std::string code, std::string message, int retry_after = 0) {
  ApiError e;
  e.status = status;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  e.retry_after = retry_after;
  e.source = ErrorSource::upstream;
  return e;
}

// What an upstream refusal said: its detail (message), business code and error code.
struct Said {
  std::string_view detail, code, error_code;
};

struct Found {
  std::string detail, code, error_code;
  Said said() const { return {detail, code, error_code}; }
};

// Zeeeepa's order: code and message/msg/detail/error at the top, then inside error, detail, data.
void scan_object(simdjson::dom::object obj, Found& f, int depth) {
  for (const auto field : obj) {
    const std::string_view k = field.key;
    const simdjson::dom::element v = field.value;
    if (k == "code" && f.code.empty()) {
      int64_t n;
      std::string_view s;
      if (v.get_int64().get(n) == simdjson::SUCCESS) f.code = fmt::format("{}", n);
      else if (v.get_string().get(s) == simdjson::SUCCESS) f.code = std::string(s);
    } else if (k == "error_code" && f.error_code.empty()) {
      std::string_view s;
      if (v.get_string().get(s) == simdjson::SUCCESS) f.error_code = std::string(s);
    } else if ((k == "detail" || k == "message" || k == "msg" || k == "error") && f.detail.empty()) {
      std::string_view s;
      if (v.get_string().get(s) == simdjson::SUCCESS) f.detail = std::string(s);
    }
  }
  if (depth >= 2) return;
  for (const std::string_view nest : {"error", "detail", "data"}) {
    simdjson::dom::object inner;
    if (obj[nest].get_object().get(inner) == simdjson::SUCCESS) scan_object(inner, f, depth + 1);
  }
}

bool parse_json_error(std::string_view body, Found& f) {
  std::string_view t = body;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  if (t.empty() || t.front() != '{') return false;
  simdjson::padded_string padded(t);
  simdjson::dom::object obj;
  if (json::thread_dom_parser().parse(padded).get_object().get(obj) != simdjson::SUCCESS) return false;
  scan_object(obj, f, 0);
  return true;
}

std::string html_title(std::string_view html) {
  const auto lower_find = [&](std::string_view needle, std::size_t from) {
    const auto it = std::search(html.begin() + static_cast<std::ptrdiff_t>(from), html.end(), needle.begin(),
                                needle.end(), [](char a, char b) {
                                  return std::tolower(static_cast<unsigned char>(a)) == b;
                                });
    return it == html.end() ? std::string_view::npos : static_cast<std::size_t>(it - html.begin());
  };
  const std::size_t a = lower_find("<title>", 0);
  if (a == std::string_view::npos) return {};
  const std::size_t b = lower_find("</title>", a + 7);
  if (b == std::string_view::npos) return {};
  return clip(html.substr(a + 7, b - a - 7), 120);
}

bool is_captcha(const Said& s) {
  return icontains(s.error_code, "CAPTCHA") || icontains(s.detail, "captcha") ||
         s.detail.find("人机验证") != std::string_view::npos;
}
bool is_signature(const Said& s) {
  return icontains(s.detail, "signature") || s.detail.find("签名") != std::string_view::npos;
}
bool is_outdated(const Said& s) {
  const std::string_view d = s.detail;
  return s.code == "426" || icontains(d, "outdated") || icontains(d, "new version") ||
         d.find("版本") != std::string_view::npos || d.find("客户端校验") != std::string_view::npos;
}
bool is_model_level(const Said& s) {
  return icontains(s.detail, "not available for current user") || icontains(s.detail, "user level");
}
bool is_auth(const Said& s) {
  const std::string_view d = s.detail;
  return s.code == "401" || icontains(d, "unauthorized") || icontains(d, "token expired") ||
         icontains(d, "invalid token") || icontains(d, "token is invalid") || d == "expired";
}
bool is_busy(const Said& s) {
  const std::string_view d = s.detail;
  return s.code == "429" || icontains(d, "concurren") || icontains(d, "too many") ||
         d.find("并发") != std::string_view::npos || d.find("频繁") != std::string_view::npos;
}

// `d` as ` (“d”)`-style context: `before` + quoted d + `after`, or nothing when d is empty.
std::string quoted(std::string_view before, std::string_view d, std::string_view after = "") {
  return d.empty() ? std::string() : fmt::format("{}\"{}\"{}", before, d, after);
}

// One known refusal: how it is recognised and what the client is told. `d` is the clipped
// detail, `code` the business code as sent.
struct Known {
  bool (*matches)(const Said&);
  int status;
  std::string_view type, code;
  std::string (*message)(std::string_view d, std::string_view code);
  int retry_after;
  bool retryable;
};

constexpr Known kKnown[] = {
    {is_captcha, 403, "permission_error", "upstream_captcha_required",
     [](std::string_view d, std::string_view) {
       return fmt::format("chat.z.ai demands a captcha (human verification) before it answers this identity{}. "
                          "zgate does not solve captchas: retry later, use a logged-in token that is not "
                          "challenged, or route this model to the official API provider (zhipu).",
                          quoted(" (", d, ")"));
     },
     0, false},
    {is_signature, 502, "upstream_error", "upstream_signature_rejected",
     [](std::string_view d, std::string_view) {
       return fmt::format("chat.z.ai rejected the request signature (\"{}\"). The signing secret or algorithm is "
                          "out of date, or this machine's clock is off by more than 5 minutes: check "
                          "zai_web.signing_secret and the system clock.",
                          d);
     },
     0, false},
    {is_outdated, 502, "upstream_error", "upstream_client_outdated",
     [](std::string_view d, std::string_view code) {
       return fmt::format("chat.z.ai rejected zgate's client version or verification (code {}: \"{}\"). Set "
                          "zai_web.fe_version to the current prod-fe-x.y.z of https://chat.z.ai/ (or enable "
                          "zai_web.refresh_fe_version) and check zai_web.signing_secret.",
                          code.empty() ? "426" : code, d);
     },
     0, false},
    {is_model_level, 403, "permission_error", "model_not_available",
     [](std::string_view d, std::string_view) {
       return fmt::format("chat.z.ai does not offer this model to the current identity (\"{}\"). Guests cannot "
                          "use GLM-5 and later: configure a logged-in token (zai_web.token) or choose an "
                          "older model such as glm-4.7.",
                          d);
     },
     0, false},
    {is_auth, 502, "upstream_error", "upstream_auth_failed",
     [](std::string_view d, std::string_view) {
       return fmt::format("chat.z.ai rejected the upstream token ({}). A guest token is fetched again "
                          "automatically; a configured zai_web.token has expired or was revoked: sign in "
                          "again and replace it.",
                          d.empty() ? std::string("401") : fmt::format("\"{}\"", d));
     },
     0, false},
    {is_busy, 429, "rate_limit_error", "rate_limit_exceeded",
     [](std::string_view d, std::string_view) {
       return fmt::format("chat.z.ai reports too many concurrent requests for this identity (\"{}\"). "
                          "Retry in a few seconds; one token serves a limited number of parallel answers.",
                          d);
     },
     5, true},
};

// The known refusals, whatever transport they came in; nullopt for anything else.
std::optional<ApiError> known(const Said& s) {
  for (const Known& k : kKnown) {
    if (!k.matches(s)) continue;
    ApiError e =
        make(k.status, std::string(k.type), std::string(k.code), k.message(clip(s.detail), s.code), k.retry_after);
    e.retryable = k.retryable;
    return e;
  }
  return std::nullopt;
}

// A 502 upstream_error (the usual answer to an upstream that misbehaved).
ApiError upstream(std::string code, std::string message) {
  return make(502, "upstream_error", std::move(code), std::move(message));
}

}  // namespace

ApiError classify_stream_error(std::string_view detail, std::string_view code, std::string_view error_code,
                               bool after_content) {
  if (auto e = known({detail, code, error_code})) return *std::move(e);
  const std::string d = clip(detail);
  const std::string c = code.empty() ? std::string(error_code) : std::string(code);
  if (c == "INTERNAL_ERROR" || icontains(code, "internal")) {
    return upstream(
        "upstream_error",
        fmt::format("chat.z.ai failed while answering (INTERNAL_ERROR{}){}. This happens when the chat was "
                    "not pre-created or the history confused the model; retry the request.",
                    d.empty() ? std::string() : ": " + d, after_content ? "; the answer above is incomplete" : ""));
  }
  return upstream(
      "upstream_error",
      fmt::format("chat.z.ai reported an error{}: {}{}", c.empty() ? std::string() : " (code " + c + ")",
                  d.empty() ? std::string("(no detail)") : d, after_content ? "; the answer above is incomplete" : ""));
}

ApiError classify_http_error(int status, std::string_view content_type, std::string_view body) {
  const bool html = icontains(content_type, "html") ||
                    (body.find("<html") != std::string_view::npos || body.find("<!DOCTYPE") != std::string_view::npos ||
                     body.find("<!doctype") != std::string_view::npos);
  if (html) {
    const std::string title = html_title(body);
    if (status == 405 || icontains(body, "aliyun") || icontains(body, "waf")) {
      return upstream(
          "upstream_blocked",
          fmt::format("chat.z.ai's web application firewall blocked the request (HTTP {}, HTML block page{}). "
                      "Usual causes: missing browser headers, a request shape the site does not expect, or "
                      "requests too close together. Wait before retrying and do not retry in a loop.",
                      status, quoted(": ", title)));
    }
    if (status == 200) {
      return upstream("upstream_error",
                      fmt::format("chat.z.ai answered with an HTML page instead of an event stream{}; the endpoint or "
                                  "zai_web base URL is probably wrong.",
                                  quoted(" (", title, ")")));
    }
  }
  Found f;
  const bool json = !html && parse_json_error(body, f);
  if (!json && !html) f.detail = clip(body);
  if (status == 401 && f.code.empty()) f.code = "401";
  if (status == 429 && f.code.empty()) f.code = "429";
  if (status == 426 && f.code.empty()) f.code = "426";
  if (auto e = known(f.said())) return *std::move(e);
  if (status == 401) return *known({"", "401", ""});
  const std::string d = f.detail.empty() ? (html ? html_title(body) : std::string()) : clip(f.detail);
  if (status == 200) {
    return upstream("upstream_error",
                    fmt::format("chat.z.ai answered without an event stream{}", d.empty() ? std::string() : ": " + d));
  }
  if (status == 403) {
    return make(403, "permission_error", "upstream_forbidden",
                fmt::format("chat.z.ai refused the request (HTTP 403{}).", quoted(": ", d)));
  }
  if (status == 404) {
    return upstream("upstream_error",
                    fmt::format("chat.z.ai does not know this endpoint (HTTP 404{}); its API may have moved: check "
                                "zai_web.signed_path / legacy_path.",
                                quoted(": ", d)));
  }
  if (status >= 500) {
    ApiError e =
        upstream("upstream_error",
                 fmt::format("chat.z.ai failed with HTTP {}{}; this follows upstream changes or outages, retry "
                             "later.",
                             status, quoted(" (", d, ")")));
    e.retryable = true;
    return e;
  }
  return upstream("upstream_error",
                  fmt::format("chat.z.ai rejected the request with HTTP {}{}.", status, quoted(" (", d, ")")));
}

bool is_auth_failure(int status, std::string_view body) {
  if (status == 401) return true;
  Found f;
  if (!parse_json_error(body, f)) return false;
  const Said s = f.said();
  if (is_captcha(s) || is_model_level(s) || is_signature(s)) return false;
  return is_auth(s);
}

bool is_auth_failure(const ApiError& e) { return e.code == "upstream_auth_failed"; }

}  // namespace zgate::zaiweb
