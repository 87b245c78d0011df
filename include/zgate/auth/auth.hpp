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

// The last credential one connection presented and what it was found to be. Clients send
// the same key on every keep-alive request, so a repeat skips the SHA-256 (about 5% of a
// proxied request's instructions). Comparing against the connection's own previous
// credential reveals nothing the client does not already know. Owned per connection.
struct AuthMemo {
  std::string presented;
  AuthResult result;
  bool valid = false;
};

class Authenticator {
 public:
  Authenticator(const std::vector<ApiKey>& keys, bool allow_no_auth);

  // `authorization` = the Authorization header ("Bearer <key>", scheme case-insensitive,
  // surrounding spaces trimmed); `x_api_key` = the x-api-key header. Either may be empty.
  // A Bearer credential wins over x-api-key. With allow_no_auth every request is accepted:
  // a matching key still yields its label, anything else "anonymous".
  AuthResult check(std::string_view authorization, std::string_view x_api_key) const;
  // The same, answered from `memo` when the credential repeats; updates `memo` otherwise.
  AuthResult check(std::string_view authorization, std::string_view x_api_key, AuthMemo& memo) const;

  std::size_t key_count() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    std::string label;
  };
  AuthResult check_presented(std::string_view presented) const;
  std::vector<Entry> entries_;
  bool allow_no_auth_ = false;
};

// The key part of "Bearer <key>" (case-insensitive scheme, spaces trimmed); "" if not Bearer.
std::string_view bearer_token(std::string_view authorization);

// For logs: a fingerprint that shows which secret is configured without any of its characters,
// "sha256:" + the first 8 hex digits of its SHA-256 ("" for an empty secret).
std::string mask_secret(std::string_view secret);

}  // namespace zgate
