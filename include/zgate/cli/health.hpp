#pragma once
// `zgate health`: asks a running zgate's GET /health and exits 0 on a 200, 1 otherwise. For a
// container HEALTHCHECK, so the image needs no curl or wget. Plain POSIX sockets, no Asio.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zgate::cli {

struct HealthTarget {
  std::string host;  // as given; "0.0.0.0" / "::" / "" already mapped to the loopback address
  uint16_t port = 8080;
};

// The address to ask, from (first wins) `listen` (the --listen flag), ZGATE_LISTEN, PORT (port
// only), else 127.0.0.1:8080. A wildcard host (0.0.0.0, ::, empty) becomes the loopback address
// of its family. nullopt and `error` set when a value does not parse.
std::optional<HealthTarget> health_target(const char* listen, const char* env_listen, const char* env_port,
                                          std::string& error);

// One GET /health with a deadline of `timeout_ms` over connect, send and receive. Returns the
// status code, or 0 with `error` set (refused, timed out, not HTTP).
int probe_health(const HealthTarget& target, int timeout_ms, std::string& error);

// `zgate health [--listen HOST:PORT] [--timeout-ms N]`; argv[1] is "health". Exit code 0 when
// /health answered 200, 1 otherwise (a usage error too: a HEALTHCHECK must not see 2).
int run_health(int argc, char** argv);

}  // namespace zgate::cli
