#pragma once
// Where a provider's requests go: scheme, host, port and TLS trust, from its base_url. Pure (no
// Asio): the key names the exact peer identity the connection pool keys on.
#include <cstdint>
#include <string>

#include "zgate/config/config.hpp"

namespace zgate::upstream {

struct Endpoint {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  bool verify = true;
  std::string ca_file;
  std::string key;  // pool key: scheme|host|port|verify|ca
};
Endpoint make_endpoint(const ProviderConfig& p);  // from base_url; throws ConfigError if bad

}  // namespace zgate::upstream
