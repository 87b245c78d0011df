// make_endpoint: a provider's base_url becomes the peer the pool keys connections on.
#include <catch2/catch.hpp>

#include "zgate/upstream/endpoint.hpp"

using zgate::ProviderConfig;
using zgate::upstream::make_endpoint;

namespace {
ProviderConfig provider(std::string url) {
  ProviderConfig p;
  p.name = "glm";
  p.base_url = std::move(url);
  return p;
}
}  // namespace

TEST_CASE("upstream endpoint: scheme, host and the scheme's default port come from base_url", "[upstream]") {
  const auto tls = make_endpoint(provider("https://open.bigmodel.cn/api/paas/v4"));
  CHECK(tls.tls);
  CHECK(tls.host == "open.bigmodel.cn");
  CHECK(tls.port == 443);
  const auto plain = make_endpoint(provider("http://127.0.0.1:8081/v4"));
  CHECK_FALSE(plain.tls);
  CHECK(plain.host == "127.0.0.1");
  CHECK(plain.port == 8081);
}

TEST_CASE("upstream endpoint: peers that differ in scheme, port or TLS trust never share a pool key",
          "[upstream]") {
  auto p = provider("https://example.test/v4");
  const auto base = make_endpoint(p).key;
  CHECK(make_endpoint(provider("http://example.test:443/v4")).key != base);
  CHECK(make_endpoint(provider("https://example.test:8443/v4")).key != base);
  p.verify_tls = false;
  CHECK(make_endpoint(p).key != base);
  p.verify_tls = true;
  p.ca_file = "/etc/zgate/ca.pem";
  CHECK(make_endpoint(p).key != base);
  // The path is not part of the peer: two providers on one host share connections.
  CHECK(make_endpoint(provider("https://example.test/other")).key == base);
}

TEST_CASE("upstream endpoint: a bad base_url is a configuration error naming the provider and the URL",
          "[upstream]") {
  try {
    make_endpoint(provider("ftp://example.test"));
    FAIL("no error");
  } catch (const zgate::ConfigError& e) {
    const std::string what = e.what();
    CHECK(what.find("provider 'glm'") != std::string::npos);
    CHECK(what.find("ftp://example.test") != std::string::npos);
  }
}
