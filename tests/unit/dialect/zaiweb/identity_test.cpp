// zai-web identity: guest sign-in and profile requests, their answers, the front-end version,
// when a token must be refreshed.
#include <string>

#include <catch2/catch.hpp>

#include "support.hpp"
#include "zgate/core/encoding.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"

using namespace zgate;
using namespace zgate::zaiweb;
using zgate::zaiweb::test::header;

TEST_CASE("zaiweb identity: guest sign-in request has browser headers and no credentials", "[unit][zaiweb]") {
  ZaiWebOptions o;
  o.fe_version = "prod-fe-1.1.95";
  const UpstreamRequest r = guest_auth_request(o);
  CHECK(r.method == "GET");
  CHECK(r.target == "/api/v1/auths/");
  CHECK(header(r, "Authorization").empty());
  CHECK(header(r, "User-Agent") == kDefaultUserAgent);
  CHECK(header(r, "X-FE-Version") == "prod-fe-1.1.95");
  CHECK(header(r, "Accept-Encoding") == "identity");
  CHECK(header(profile_request(o, "tok"), "Authorization") == "Bearer tok");
  CHECK(landing_page_request(o).target == "/");
}

TEST_CASE("zaiweb identity: a guest answer gives token, id, name and role", "[unit][zaiweb]") {
  const Result<AuthInfo> r = parse_auth_response(200, "application/json",
      R"({"id":"316bcb48-aaaa","email":"Guest-1755848588788@guest.com","name":"Guest","role":"guest","token":"eyJ.x.y"})");
  REQUIRE(r.ok());
  CHECK(r->token == "eyJ.x.y");
  CHECK(r->user_id == "316bcb48-aaaa");
  CHECK(r->name == "Guest");
  CHECK(r->is_guest());
}

TEST_CASE("zaiweb identity: a profile answer keeps the sent token, and the id may come from the JWT", "[unit][zaiweb]") {
  const std::string jwt = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9." + zgate::encoding::base64_encode(R"({"id":"uid-7","email":"a@b"})") + ".sig";
  CHECK(jwt_user_id(jwt) == "uid-7");
  CHECK(jwt_user_id("not-a-jwt").empty());
  CHECK(auth_from_token(jwt).user_id == "uid-7");
  const Result<AuthInfo> r = parse_auth_response(200, "application/json", R"({"name":"Ada","role":"user","id":"uid-7"})", jwt);
  REQUIRE(r.ok());
  CHECK(r->token == jwt);
  CHECK(r->role == "user");
}

TEST_CASE("zaiweb identity: captcha, refusals and errors are reported, not worked around", "[unit][zaiweb]") {
  const Result<AuthInfo> captcha = parse_auth_response(200, "application/json",
      R"({"detail":"请完成人机验证","error_code":"FRONTEND_CAPTCHA_REQUIRED"})");
  REQUIRE_FALSE(captcha.ok());
  CHECK(captcha.error().code == "upstream_captcha_required");
  const Result<AuthInfo> refused = parse_auth_response(200, "application/json", R"({"detail":"Guest access disabled"})");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("did not issue a token") != std::string::npos);
  CHECK(refused.error().message.find("Guest access disabled") != std::string::npos);
  const Result<AuthInfo> no_token = parse_auth_response(200, "application/json", R"({"id":"x","role":"guest"})");
  REQUIRE_FALSE(no_token.ok());
  const Result<AuthInfo> waf = parse_auth_response(405, "text/html", "<html><title>405</title>aliyun</html>");
  REQUIRE_FALSE(waf.ok());
  CHECK(waf.error().code == "upstream_blocked");
  CHECK(waf.error().message.rfind("chat.z.ai sign-in", 0) == 0);
  const Result<AuthInfo> bad = parse_auth_response(401, "application/json", R"({"detail":"Unauthorized"})");
  CHECK(bad.error().code == "upstream_auth_failed");
}

TEST_CASE("zaiweb identity: the frontend version is read from the landing page", "[unit][zaiweb]") {
  CHECK(extract_fe_version(R"(<script src="/_app/prod-fe-1.1.95/start.js"></script>)") == "prod-fe-1.1.95");
  CHECK(extract_fe_version("prod-fe-1.2 then prod-fe-10.20.300x") == "prod-fe-10.20.300");
  CHECK_FALSE(extract_fe_version("<html>no version</html>").has_value());
}

TEST_CASE("zaiweb identity: when to refresh the token", "[unit][zaiweb]") {
  CHECK(is_auth_failure(401, ""));
  CHECK(is_auth_failure(401, R"({"message":"expired"})"));
  CHECK(is_auth_failure(200, R"({"error":{"detail":"Unauthorized","code":401}})"));
  CHECK(is_auth_failure(400, R"({"detail":"token expired"})"));
  CHECK_FALSE(is_auth_failure(400, R"({"detail":"403: Signature validation failed: 签名验证失败"})"));
  CHECK_FALSE(is_auth_failure(403, R"({"detail":"Model not available for current user level","code":403})"));
  CHECK_FALSE(is_auth_failure(403, R"({"error_code":"FRONTEND_CAPTCHA_REQUIRED","code":401})"));
  CHECK_FALSE(is_auth_failure(405, "<html>blocked</html>"));
  CHECK_FALSE(is_auth_failure(429, R"({"detail":"Too many concurrent requests"})"));
}

