// The zhipu JWT: decoded and verified independently of the signer, plus caching and renewal.
#include <catch2/catch.hpp>

#include <string>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "zgate/auth/jwt.hpp"
#include "zgate/core/encoding.hpp"
#include "zgate/json/read.hpp"

using namespace zgate;

namespace {

// base64url without padding: decoded by the general decoder after checking the alphabet.
std::string b64url_decode(std::string_view in) {
  REQUIRE(in.find_first_of("=+/") == std::string_view::npos);  // no padding, no '+' or '/'
  auto out = encoding::base64_decode(in);
  REQUIRE(out);
  return *out;
}

struct Parts {
  std::string header, payload, signature, signing_input;
};

Parts split(std::string_view jwt) {
  const auto d1 = jwt.find('.');
  const auto d2 = jwt.find('.', d1 + 1);
  REQUIRE(d1 != std::string_view::npos);
  REQUIRE(d2 != std::string_view::npos);
  REQUIRE(jwt.find('.', d2 + 1) == std::string_view::npos);
  return {b64url_decode(jwt.substr(0, d1)), b64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1)),
          b64url_decode(jwt.substr(d2 + 1)), std::string(jwt.substr(0, d2))};
}

int64_t json_int(const std::string& doc, const char* key) {
  std::string buf;
  auto d = json::thread_parser().iterate(json::pad(doc, buf));
  int64_t v = 0;
  REQUIRE(d[key].get_int64().get(v) == simdjson::SUCCESS);
  return v;
}

std::string json_str(const std::string& doc, const char* key) {
  std::string buf;
  auto d = json::thread_parser().iterate(json::pad(doc, buf));
  std::string_view v;
  REQUIRE(d[key].get_string().get(v) == simdjson::SUCCESS);
  return std::string(v);
}

constexpr int64_t kNow = 1'700'000'000'123;

}  // namespace

TEST_CASE("jwt: header is {alg:HS256, sign_type:SIGN}", "[unit][jwt]") {
  ZhipuJwt j("myid.mysecret");
  const auto p = split(j.bearer(kNow));
  CHECK(p.header == R"({"alg":"HS256","sign_type":"SIGN"})");
}

TEST_CASE("jwt: payload has api_key and millisecond exp/timestamp", "[unit][jwt]") {
  ZhipuJwt j("myid.mysecret", std::chrono::seconds(210));
  const auto p = split(j.bearer(kNow));
  CHECK(json_str(p.payload, "api_key") == "myid");
  CHECK(json_int(p.payload, "timestamp") == kNow);
  CHECK(json_int(p.payload, "exp") == kNow + 210'000);
  CHECK(j.expires_at_ms() == kNow + 210'000);
}

TEST_CASE("jwt: the signature is HMAC-SHA256 of header.payload with the secret", "[unit][jwt]") {
  ZhipuJwt j("abc123.S3cretKey");
  const auto p = split(j.bearer(kNow));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const std::string secret = "S3cretKey";
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(p.signing_input.data()), p.signing_input.size(), mac, &len);
  REQUIRE(len == 32);
  CHECK(p.signature == std::string(reinterpret_cast<const char*>(mac), len));

  // A different secret gives a different signature (the test can fail).
  ZhipuJwt other("abc123.OtherKey");
  CHECK(split(other.bearer(kNow)).signature != p.signature);
}

TEST_CASE("jwt: authorization() is \"Bearer \" + the token", "[unit][jwt]") {
  ZhipuJwt j("id1.secret1");
  const std::string token(j.bearer(kNow));
  CHECK(std::string(j.authorization(kNow)) == "Bearer " + token);
}

TEST_CASE("jwt: the token is cached while enough lifetime remains", "[unit][jwt]") {
  ZhipuJwt j("id1.secret1", std::chrono::seconds(210), std::chrono::seconds(30));
  const std::string first(j.bearer(kNow));
  CHECK(std::string(j.bearer(kNow + 1'000)) == first);
  CHECK(std::string(j.bearer(kNow + 179'999)) == first);  // 30.001 s left
  CHECK(j.expires_at_ms() == kNow + 210'000);
}

TEST_CASE("jwt: the token is re-minted when less than renew_before remains", "[unit][jwt]") {
  ZhipuJwt j("id1.secret1", std::chrono::seconds(210), std::chrono::seconds(30));
  const std::string first(j.bearer(kNow));
  const int64_t later = kNow + 180'000;  // exactly 30 s left
  const std::string second(j.bearer(later));
  CHECK(second != first);
  CHECK(json_int(split(second).payload, "timestamp") == later);
  CHECK(j.expires_at_ms() == later + 210'000);
}

TEST_CASE("jwt: a key without id.secret is refused at construction", "[unit][jwt]") {
  CHECK_THROWS_AS(ZhipuJwt("not-an-id-secret-key"), std::invalid_argument);
}
