#include "zgate/upstream/endpoint.hpp"

#include "zgate/config/url.hpp"

namespace zgate::upstream {

Endpoint make_endpoint(const ProviderConfig& p) {
  auto u = parse_url(p.base_url);
  if (!u) throw ConfigError("provider '" + p.name + "': base_url '" + p.base_url + "' is not a valid URL");
  Endpoint ep;
  ep.tls = u->tls;
  ep.host = u->host;
  ep.port = u->port;
  ep.verify = p.verify_tls;
  ep.ca_file = p.ca_file;
  ep.key = std::string(ep.tls ? "https|" : "http|") + ep.host + "|" + std::to_string(ep.port) + "|" +
           (ep.verify ? "v|" : "nv|") + ep.ca_file;
  return ep;
}

}  // namespace zgate::upstream
