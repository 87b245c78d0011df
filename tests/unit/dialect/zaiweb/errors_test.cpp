// zai-web HTTP-level errors (docs/protocols/zai-web.md, and the HTTP fixtures): each becomes
// an OpenAI-style error that says what happened and what to do.
#include <catch2/catch.hpp>

#include "zgate/dialect/zaiweb/zaiweb.hpp"

using namespace zgate;
using zaiweb::classify_http_error;

namespace {
bool has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("zaiweb errors: Aliyun WAF HTML page on 405", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(
      405, "text/html; charset=utf-8",
      "<!DOCTYPE html><html><head><title>405</title></head><body><img src=\"https://errors.aliyun.com/images/x.png\">"
      "<p>traceid: 0bc1a2</p></body></html>");
  CHECK(e.status == 502);
  CHECK(e.code == "upstream_blocked");
  CHECK(e.source == ErrorSource::upstream);
  CHECK(has(e.message, "firewall"));
  CHECK(has(e.message, "do not retry in a loop"));
  CHECK_FALSE(has(e.message, "<img"));
}

TEST_CASE("zaiweb errors: 400 signature validation failure", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(400, "application/json", R"({"detail":"403: Signature validation failed: 签名验证失败"})");
  CHECK(e.code == "upstream_signature_rejected");
  CHECK(e.status == 502);
  CHECK(has(e.message, "Signature validation failed"));
  CHECK(has(e.message, "signing_secret"));
  CHECK(has(e.message, "clock"));
}

TEST_CASE("zaiweb errors: 426 client version outdated", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(426, "application/json", R"({"detail":"您的客户端版本过旧","code":426})");
  CHECK(e.code == "upstream_client_outdated");
  CHECK(has(e.message, "fe_version"));
  const ApiError plain = classify_http_error(426, "text/plain", "New version detected");
  CHECK(plain.code == "upstream_client_outdated");
}

TEST_CASE("zaiweb errors: 403 model-level refusal", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(403, "application/json",
                                         R"({"error":{"detail":"Model not available for current user level","code":403}})");
  CHECK(e.status == 403);
  CHECK(e.code == "model_not_available");
  CHECK(has(e.message, "logged-in token"));
}

TEST_CASE("zaiweb errors: 401 expired token", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(401, "application/json", R"({"message":"expired"})");
  CHECK(e.code == "upstream_auth_failed");
  CHECK(e.status == 502);  // the client's own key is fine
  CHECK(zaiweb::is_auth_failure(e));
  CHECK(classify_http_error(401, "application/json", R"({"detail":"Unauthorized"})").code == "upstream_auth_failed");
  CHECK(classify_http_error(401, "", "").code == "upstream_auth_failed");
}

TEST_CASE("zaiweb errors: 429 and concurrency messages", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(429, "application/json", R"({"detail":"Too many concurrent requests"})");
  CHECK(e.status == 429);
  CHECK(e.type == "rate_limit_error");
  CHECK(e.code == "rate_limit_exceeded");
  CHECK(e.retry_after > 0);
  CHECK(classify_http_error(429, "text/plain", "").code == "rate_limit_exceeded");
  CHECK(classify_http_error(400, "application/json", R"({"msg":"当前并发过高"})").code == "rate_limit_exceeded");
}

TEST_CASE("zaiweb errors: captcha demands", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(
      403, "application/json", R"({"detail":"请完成人机验证后重试","code":403,"error_code":"FRONTEND_CAPTCHA_REQUIRED"})");
  CHECK(e.status == 403);
  CHECK(e.code == "upstream_captcha_required");
  CHECK(has(e.message, "does not solve captchas"));
  CHECK_FALSE(zaiweb::is_auth_failure(e));
}

TEST_CASE("zaiweb errors: 500 and other statuses keep the upstream text", "[unit][zaiweb]") {
  const ApiError e = classify_http_error(500, "text/plain", "Internal Server Error");
  CHECK(e.status == 502);
  CHECK(e.code == "upstream_error");
  CHECK(has(e.message, "HTTP 500"));
  CHECK(has(e.message, "Internal Server Error"));
  const ApiError nf = classify_http_error(404, "application/json", R"({"detail":"Not Found"})");
  CHECK(has(nf.message, "signed_path"));
  const ApiError other = classify_http_error(418, "text/plain", std::string(1000, 'x'));
  CHECK(has(other.message, "HTTP 418"));
  CHECK(other.message.size() < 500);  // long bodies are clipped
}

TEST_CASE("zaiweb errors: a 200 answer that is not an event stream", "[unit][zaiweb]") {
  const ApiError json = classify_http_error(200, "application/json", R"({"detail":"Something odd"})");
  CHECK(json.status == 502);
  CHECK(has(json.message, "without an event stream"));
  CHECK(has(json.message, "Something odd"));
  const ApiError html = classify_http_error(200, "text/html", "<html><title>Z.ai</title></html>");
  CHECK(has(html.message, "HTML page instead of an event stream"));
}

TEST_CASE("zaiweb errors: in-stream error codes", "[unit][zaiweb]") {
  const ApiError e = zaiweb::classify_stream_error("您的客户端校验失败", "426", "", false);
  CHECK(e.code == "upstream_client_outdated");
  const ApiError internal = zaiweb::classify_stream_error("", "INTERNAL_ERROR", "", true);
  CHECK(has(internal.message, "INTERNAL_ERROR"));
  CHECK(has(internal.message, "incomplete"));
  const ApiError generic = zaiweb::classify_stream_error("odd", "7", "", false);
  CHECK(generic.code == "upstream_error");
  CHECK(has(generic.message, "code 7"));
  CHECK_FALSE(has(generic.message, "incomplete"));
}
