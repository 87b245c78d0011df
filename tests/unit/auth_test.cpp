// Client authentication: Bearer / x-api-key, labels and refusal.
#include <catch2/catch.hpp>

#include "zgate/auth/auth.hpp"

using namespace zgate;

namespace {

Authenticator two_keys(bool allow_no_auth = false) {
  return Authenticator({{"ops", "sk-ops-0123456789"}, {"ci", "sk-ci-abcdefghij"}}, allow_no_auth);
}

// `a` accepts these headers as the key labelled `label`.
void check_accepted(const Authenticator& a, std::string_view authorization, std::string_view x_api_key,
                    std::string_view label) {
  const auto r = a.check(authorization, x_api_key);
  REQUIRE(r.ok());
  CHECK(*r == label);
}

}  // namespace

TEST_CASE("auth: a Bearer key is accepted with its label", "[unit][auth]") {
  const auto a = two_keys();
  check_accepted(a, "Bearer sk-ci-abcdefghij", "", "ci");
}

TEST_CASE("auth: the Bearer scheme is case-insensitive and spaces are trimmed", "[unit][auth]") {
  const auto a = two_keys();
  for (const char* h : {"bearer sk-ops-0123456789", "BEARER sk-ops-0123456789", "  Bearer   sk-ops-0123456789  ",
                        "Bearer\tsk-ops-0123456789"}) {
    INFO(h);
    check_accepted(a, h, "", "ops");
  }
}

TEST_CASE("auth: an x-api-key header is accepted", "[unit][auth]") {
  const auto a = two_keys();
  check_accepted(a, "", " sk-ops-0123456789 ", "ops");
}

TEST_CASE("auth: a wrong key is refused", "[unit][auth]") {
  const auto a = two_keys();
  CHECK_FALSE(a.check("Bearer sk-ops-0123456788", "").ok());
  CHECK_FALSE(a.check("", "sk-ops-012345678").ok());  // a prefix of a real key
  CHECK_FALSE(a.check("Bearer sk-ops-0123456789x", "").ok());
}

TEST_CASE("auth: a missing key is refused", "[unit][auth]") {
  const auto a = two_keys();
  CHECK_FALSE(a.check("", "").ok());
  CHECK_FALSE(a.check("Bearer ", "").ok());
  CHECK_FALSE(a.check("Bearer", "").ok());
}

TEST_CASE("auth: another scheme is not a Bearer key; x-api-key still counts", "[unit][auth]") {
  const auto a = two_keys();
  CHECK_FALSE(a.check("Basic sk-ops-0123456789", "").ok());
  CHECK_FALSE(a.check("Bearersk-ops-0123456789", "").ok());
  check_accepted(a, "Basic dXNlcjpwYXNz", "sk-ci-abcdefghij", "ci");
}

TEST_CASE("auth: allow_no_auth with no keys lets everyone in as anonymous", "[unit][auth]") {
  const Authenticator a({}, true);
  check_accepted(a, "", "", "anonymous");
  CHECK(a.check("Bearer whatever", "").ok());
}

TEST_CASE("auth: allow_no_auth with keys still labels a matching key", "[unit][auth]") {
  const auto a = two_keys(true);
  CHECK(a.check("Bearer sk-ci-abcdefghij", "").value() == "ci");
  CHECK(a.check("", "").value() == "anonymous");
}

TEST_CASE("auth: no keys and no allow_no_auth refuses everything", "[unit][auth]") {
  const Authenticator a({}, false);
  CHECK_FALSE(a.check("Bearer anything-at-all", "").ok());
  CHECK_FALSE(a.check("", "").ok());
}

TEST_CASE("auth: bearer_token extracts the credential", "[unit][auth]") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token(" bEaReR  abc ") == "abc");
  CHECK(bearer_token("Token abc").empty());
  CHECK(bearer_token("").empty());
}

TEST_CASE("auth: a connection's memo answers a repeated key and follows a changed one", "[unit][auth]") {
  const auto a = two_keys();
  AuthMemo memo;
  // Every step is checked against the memo-less answer, in an order that switches between
  // good, wrong and missing credentials and between the two headers.
  const std::pair<const char*, const char*> steps[] = {
      {"Bearer sk-ops-0123456789", ""}, {"Bearer sk-ops-0123456789", ""}, {"Bearer sk-ci-abcdefghij", ""},
      {"Bearer sk-wrong", ""},          {"Bearer sk-wrong", ""},          {"", "sk-ops-0123456789"},
      {"", ""},                         {"Bearer sk-ci-abcdefghij", ""},  {"bearer  sk-ci-abcdefghij ", ""},
  };
  for (const auto& [authz, xkey] : steps) {
    INFO(authz << " / " << xkey);
    const auto want = a.check(authz, xkey);
    const auto got = a.check(authz, xkey, memo);
    REQUIRE(got.ok() == want.ok());
    if (got.ok()) CHECK(*got == *want);
    else CHECK(got.error().message == want.error().message);
  }
}

TEST_CASE("auth: a memo remembers the last credential only", "[unit][auth]") {
  const auto a = two_keys();
  AuthMemo memo;
  CHECK(a.check("Bearer sk-ops-0123456789", "", memo).value() == "ops");
  CHECK(memo.presented == "sk-ops-0123456789");
  CHECK_FALSE(a.check("Bearer sk-ops-012345678", "", memo).ok());  // a prefix of the last key
  CHECK(memo.presented == "sk-ops-012345678");
  CHECK_FALSE(a.check("Bearer sk-ops-012345678", "", memo).ok());
}

TEST_CASE("auth: a refusal is a 401 that tells a missing key from a wrong one", "[unit][auth]") {
  const auto a = two_keys();
  const auto missing = a.check("", "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().status == 401);
  CHECK(missing.error().code == "invalid_api_key");
  CHECK(missing.error().message.rfind("Missing API key", 0) == 0);
  const auto wrong = a.check("Bearer sk-wrong", "");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message == "Incorrect API key provided.");
  AuthMemo memo;
  CHECK(a.check("Basic abc", "", memo).error().message == "Incorrect API key provided.");
  CHECK(a.check("", "", memo).error().message.rfind("Missing API key", 0) == 0);  // same "" credential
}

TEST_CASE("auth: the admin key opens the admin endpoints", "[unit][auth][admin]") {
  const Authenticator a({{"ops", "sk-ops-0123456789"}}, false, "adm-0123456789abcdef");
  CHECK(a.admin_enabled());
  CHECK(a.check_admin("Bearer adm-0123456789abcdef", "").ok());
  CHECK(a.check_admin("", "adm-0123456789abcdef").ok());
}

TEST_CASE("auth: a client key is refused on the admin endpoints", "[unit][auth][admin]") {
  const Authenticator a({{"ops", "sk-ops-0123456789"}}, true, "adm-0123456789abcdef");
  const auto r = a.check_admin("Bearer sk-ops-0123456789", "");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 401);
  CHECK(r.error().message.find("client keys are not accepted") != std::string::npos);
  // allow_no_auth lets anyone use the chat endpoints, never the admin ones.
  CHECK(a.check_admin("", "").error().status == 401);
}

TEST_CASE("auth: the admin key is not a client key", "[unit][auth][admin]") {
  const Authenticator a({{"ops", "sk-ops-0123456789"}}, false, "adm-0123456789abcdef");
  CHECK_FALSE(a.check("Bearer adm-0123456789abcdef", "").ok());
}

TEST_CASE("auth: without an admin key the admin endpoints are off", "[unit][auth][admin]") {
  const Authenticator a({{"ops", "sk-ops-0123456789"}}, false);
  CHECK_FALSE(a.admin_enabled());
  const auto r = a.check_admin("Bearer sk-ops-0123456789", "");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().status == 404);
}
