// Secrets in logs: fingerprints instead of the secrets.
#include <catch2/catch.hpp>

#include "zgate/core/secret.hpp"

using namespace zgate;

TEST_CASE("mask_secret shows a fingerprint and none of the secret's characters", "[core][secret]") {
  // sha256("abc") = ba7816bf...
  CHECK(mask_secret("abc") == "sha256:ba7816bf");
  const std::string key = "sk-abcdefgh123489";
  const std::string shown = mask_secret(key);
  CHECK(shown.rfind("sha256:", 0) == 0);
  CHECK(shown.size() == 15);
  CHECK(shown.find("sk-") == std::string::npos);
  CHECK(mask_secret("x") != mask_secret("y"));
  CHECK(mask_secret("").empty());
}

TEST_CASE("sha256 is the standard digest", "[core][secret]") {
  const auto d = sha256("abc");
  CHECK(d[0] == 0xba);
  CHECK(d[1] == 0x78);
  CHECK(d[31] == 0xad);  // ...f20015ad
}
