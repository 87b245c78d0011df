// The main listener's port shared between gateways (reuse_port).
#include "integration/gateway_harness.hpp"

namespace zgate::testing {
namespace {

GatewayOptions shared_port(uint16_t port, bool reuse) {
  return GatewayOptions{.tweak = [port, reuse](Config& c) {
    c.listen_port = port;
    c.reuse_port = reuse;
  }};
}

// Sends one chat request on each of `n` new connections; how many were answered 200.
int requests_on_new_connections(uint16_t port, int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    const HttpResult r = http_request("127.0.0.1", port, "POST", "/v1/chat/completions",
                                      {{"Authorization", std::string("Bearer ") + kClientKey},
                                       {"Content-Type", "application/json"},
                                       {"Connection", "close"}},
                                      chat_body("hi"), 5000ms);
    ok += r.status == 200 ? 1 : 0;
  }
  return ok;
}

}  // namespace

TEST_CASE("listener: two gateways with reuse_port share one port, and new connections reach both",
          "[integration][listener]") {
  Harness a(shared_port(0, true));
  Harness b(shared_port(a.port(), true));
  REQUIRE(b.port() == a.port());
  // Each gateway has its own mock upstream: a request it answered shows in its mock's count. The
  // kernel picks a listener by a hash of each connection's addresses, so 64 connections all
  // landing on one of two listeners has a chance of 2^-63.
  CHECK(requests_on_new_connections(a.port(), 64) == 64);
  CHECK(a.mock().stats().requests > 0);
  CHECK(b.mock().stats().requests > 0);
  CHECK(a.mock().stats().requests + b.mock().stats().requests == 64);
}

TEST_CASE("listener: once one of two gateways sharing a port stops, the other answers every new connection",
          "[integration][listener]") {
  auto a = std::make_unique<Harness>(shared_port(0, true));
  const uint16_t port = a->port();
  Harness b(shared_port(port, true));
  a.reset();
  CHECK(requests_on_new_connections(port, 16) == 16);
  CHECK(b.mock().stats().requests == 16);
}

TEST_CASE("listener: without reuse_port a second gateway cannot take a port in use", "[integration][listener]") {
  Harness a(shared_port(0, false));
  CHECK_THROWS(Harness(shared_port(a.port(), false)));
  // Nor can a gateway that asks for reuse_port join one that did not.
  CHECK_THROWS(Harness(shared_port(a.port(), true)));
}

}  // namespace zgate::testing
