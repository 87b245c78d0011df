#pragma once
// A minimal parser for the upstream base URLs of the configuration (scheme://host[:port][/path]).
// Deliberately strict: no userinfo, query or fragment, because a base URL is a prefix that the
// dialects append their own paths to.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zgate {

struct UrlParts {
  bool tls = false;   // https
  std::string host;   // lower-cased; an IPv6 literal without its brackets ("::1")
  uint16_t port = 0;  // explicit, or 443 / 80 by scheme
  std::string path;   // "" or "/a/b": no trailing slash, so `path + "/chat/completions"` works
};

// nullopt when the scheme is not http/https, the host is missing or malformed, the port is
// not 1..65535, or the URL has userinfo, a query or a fragment.
std::optional<UrlParts> parse_url(std::string_view url);

}  // namespace zgate
