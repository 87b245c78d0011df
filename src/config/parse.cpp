// Value parsers shared by the environment, TOML and command-line layers of the configuration.
#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "detail.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/core/text.hpp"

namespace zgate {

bool looks_like_id_secret(std::string_view key) {
  const auto dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == key.size()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i == dot) continue;
    if (!std::isalnum(static_cast<unsigned char>(key[i]))) return false;
  }
  return true;
}

namespace config_detail {

std::string parse_listen(std::string_view s, std::string& host, uint16_t& port) {
  s = text::trim(s);
  std::string_view h, p;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return "unclosed '[' in IPv6 address";
    h = s.substr(1, close - 1);
    if (h.empty()) return "empty IPv6 address";
    if (close + 1 >= s.size() || s[close + 1] != ':') return "expected host:port (e.g. [::]:8080)";
    p = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return "expected host:port (e.g. 0.0.0.0:8080)";
    h = s.substr(0, colon);
    if (h.find(':') != std::string_view::npos) return "IPv6 addresses need brackets (e.g. [::]:8080)";
    p = s.substr(colon + 1);
  }
  auto port_v = text::parse_port(p, /*allow_zero=*/true);
  if (!port_v) return fmt::format("port '{}' is not a number from 0 to 65535", p);
  host = h.empty() ? "0.0.0.0" : std::string(h);
  port = *port_v;
  return {};
}

std::optional<ProviderKind> parse_kind(std::string_view s) {
  const std::string v = text::to_lower(text::trim(s));
  if (v == "zhipu") return ProviderKind::zhipu;
  if (v == "zai-web" || v == "zai_web") return ProviderKind::zai_web;
  return std::nullopt;
}

bool valid_log_level(std::string_view s) {
  static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "warning",
                                                "error", "critical", "off"};
  return std::find(std::begin(levels), std::end(levels), s) != std::end(levels);
}

bool valid_log_format(std::string_view s) { return s == "json" || s == "text"; }

bool valid_thinking_mode(std::string_view s) {
  return s == "reasoning" || s == "think_tags" || s == "strip";
}

static bool label_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

ApiKey parse_api_key_entry(std::string_view entry, int& unlabeled_counter) {
  entry = text::trim(entry);
  // "label=key" only when the part before '=' looks like a label and the rest is a plausible
  // key; base64-style keys may themselves end in '=' padding.
  const auto eq = entry.find('=');
  if (eq != std::string_view::npos && eq > 0 && eq + 1 < entry.size() && entry[eq + 1] != '=') {
    const std::string_view label = text::trim(entry.substr(0, eq));
    if (!label.empty() && std::all_of(label.begin(), label.end(), label_char)) {
      const std::string_view value = text::trim(entry.substr(eq + 1));
      // "label=sha256:<64 hex digits>": the key's digest, as `zgate keys new` prints it
      // (check_api_keys() refuses a malformed one).
      constexpr std::string_view kDigest = "sha256:";
      if (value.substr(0, kDigest.size()) == kDigest)
        return ApiKey{std::string(label), {}, std::string(value.substr(kDigest.size()))};
      return ApiKey{std::string(label), std::string(value), {}};
    }
  }
  return ApiKey{fmt::format("key-{}", ++unlabeled_counter), std::string(entry), {}};
}

std::string key_digest_hex(const ApiKey& k) {
  if (!k.key_sha256.empty()) return text::to_lower(k.key_sha256);
  return sha256_hex(k.key);
}

void check_api_keys(const std::vector<ApiKey>& keys, std::string_view what) {
  std::set<std::string_view> labels;
  std::set<std::string> digests;
  for (const auto& k : keys) {
    if (!k.key.empty() && !k.key_sha256.empty())
      throw ConfigError(fmt::format("{}: key '{}' is given both as key and as key_sha256", what, k.label));
    if (k.key.empty() && k.key_sha256.empty()) throw ConfigError(fmt::format("{}: key '{}' is empty", what, k.label));
    if (!k.key_sha256.empty() && !parse_sha256_hex(k.key_sha256))
      throw ConfigError(fmt::format("{}: key_sha256 of '{}' must be 64 hex digits", what, k.label));
    if (k.label.empty()) throw ConfigError(fmt::format("{}: a key has an empty label", what));
    if (!labels.insert(k.label).second)
      throw ConfigError(fmt::format("{}: duplicate key label '{}'", what, k.label));
    if (!digests.insert(key_digest_hex(k)).second)
      throw ConfigError(fmt::format("{}: the key labelled '{}' is configured twice", what, k.label));
  }
}

bool is_sha256_hex(std::string_view s) { return parse_sha256_hex(s).has_value(); }

}  // namespace config_detail
}  // namespace zgate
