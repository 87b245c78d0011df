#include "zgate/config/url.hpp"

#include <cctype>

#include "zgate/core/text.hpp"

namespace zgate {
namespace {

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

}  // namespace

std::optional<UrlParts> parse_url(std::string_view url) {
  UrlParts out;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  const std::string_view scheme = url.substr(0, sep);
  if (text::iequals(scheme, "https")) {
    out.tls = true;
  } else if (!text::iequals(scheme, "http")) {
    return std::nullopt;
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) return std::nullopt;

  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return std::nullopt;
    }
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!host_char(c)) return std::nullopt;
    }
  }

  if (!port.empty()) {
    auto p = text::parse_port(port);  // 1..65535: a URL cannot name port 0
    if (!p) return std::nullopt;
    out.port = *p;
  } else {
    out.port = out.tls ? 443 : 80;
  }
  out.host = text::to_lower(host);

  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find_first_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
  out.path.assign(path);
  return out;
}

}  // namespace zgate
