#pragma once
// Client (downstream) authentication: the presented key is checked against SHA-256 digests of
// the configured keys in constant time, so neither the keys nor which one matched leak through
// timing, and the keys themselves are not kept in this object.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"

namespace zgate {

struct AuthResult {
  bool ok = false;
  std::string_view label;  // the matching key's label, or "anonymous"; valid while the Authenticator lives
};

class Authenticator {
 public:
  Authenticator(const std::vector<ApiKey>& keys, bool allow_no_auth);

  // `authorization` = the Authorization header ("Bearer <key>", scheme case-insensitive,
  // surrounding spaces trimmed); `x_api_key` = the x-api-key header. Either may be empty.
  // A Bearer credential wins over x-api-key. With allow_no_auth every request is accepted:
  // a matching key still yields its label, anything else "anonymous".
  AuthResult check(std::string_view authorization, std::string_view x_api_key) const;

  std::size_t key_count() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    std::string label;
  };
  std::vector<Entry> entries_;
  bool allow_no_auth_ = false;
};

// The key part of "Bearer <key>" (case-insensitive scheme, spaces trimmed); "" if not Bearer.
std::string_view bearer_token(std::string_view authorization);

// For logs: "sk-a…89" (first 4 + last 2) for keys of 12 chars or more, "***" for shorter
// non-empty keys, "" for an empty one.
std::string mask_secret(std::string_view secret);

}  // namespace zgate
