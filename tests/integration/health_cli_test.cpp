// `zgate health` (src/cli/health.cpp): the container HEALTHCHECK's probe, against a running
// gateway, a closed port and a peer that never answers.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "integration/gateway_harness.hpp"
#include "support/loopback_server.hpp"
#include "zgate/cli/health.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

// A loopback listener that accepts connections (the kernel does, from the backlog) but never
// answers; port() is its port.
struct SilentListener {
  uint16_t port = 0;
  int fd = -1;
  SilentListener() : fd(listen_on_loopback(4, port)) {}
  ~SilentListener() { ::close(fd); }
};

int run(std::vector<std::string> args) {
  args.insert(args.begin(), {"zgate", "health"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return cli::run_health(static_cast<int>(args.size()), argv.data());
}

}  // namespace

TEST_CASE("zgate health: the address comes from --listen, ZGATE_LISTEN, PORT; a wildcard is asked on loopback",
          "[integration][health]") {
  std::string err;
  auto t = cli::health_target(nullptr, nullptr, nullptr, err);
  REQUIRE(t);
  CHECK(t->host == "127.0.0.1");
  CHECK(t->port == 8080);
  t = cli::health_target(nullptr, "0.0.0.0:9000", "7000", err);
  REQUIRE(t);
  CHECK(t->host == "127.0.0.1");
  CHECK(t->port == 9000);
  t = cli::health_target(nullptr, nullptr, "7000", err);
  REQUIRE(t);
  CHECK(t->port == 7000);
  t = cli::health_target("[::]:8081", "0.0.0.0:9000", nullptr, err);
  REQUIRE(t);
  CHECK(t->host == "::1");
  CHECK(t->port == 8081);
  t = cli::health_target("10.1.2.3:81", nullptr, nullptr, err);
  REQUIRE(t);
  CHECK(t->host == "10.1.2.3");
  CHECK_FALSE(cli::health_target("nonsense", nullptr, nullptr, err));
  CHECK(err.find("--listen") != std::string::npos);
}

TEST_CASE("zgate health exits 0 when the gateway's /health answers 200", "[integration][health]") {
  Harness h;
  std::string err;
  CHECK(cli::probe_health({"127.0.0.1", h.port()}, 2000, err) == 200);
  CHECK(run({"--listen", "0.0.0.0:" + std::to_string(h.port())}) == 0);
  CHECK(run({"--listen=127.0.0.1:" + std::to_string(h.port()), "--timeout-ms=1000"}) == 0);
}

TEST_CASE("zgate health exits 1 when nothing listens", "[integration][health]") {
  uint16_t port = 0;
  {
    SilentListener l;  // take a free port, then close it
    port = l.port;
  }
  std::string err;
  CHECK(cli::probe_health({"127.0.0.1", port}, 1000, err) == 0);
  CHECK(err.find("connect") != std::string::npos);
  CHECK(run({"--listen", "127.0.0.1:" + std::to_string(port)}) == 1);
}

TEST_CASE("zgate health gives up after its timeout when the peer never answers", "[integration][health]") {
  SilentListener l;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(run({"--listen", "127.0.0.1:" + std::to_string(l.port), "--timeout-ms", "300"}) == 1);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= std::chrono::milliseconds(250));
  CHECK(took < std::chrono::milliseconds(2000));
  std::string err;
  CHECK(cli::probe_health({"127.0.0.1", l.port}, 200, err) == 0);
  CHECK(err.find("timed out") != std::string::npos);
}

TEST_CASE("zgate health refuses bad arguments with exit 1, not 2", "[integration][health]") {
  CHECK(run({"--bogus"}) == 1);
  CHECK(run({"--timeout-ms", "abc"}) == 1);
  CHECK(run({"--listen", "no-port"}) == 1);
}
