#pragma once
// Client (downstream) authentication: the presented key is checked against SHA-256 digests of
// the configured keys in constant time, so neither the keys nor which one matched leak through
// timing, and the keys themselves are not kept in this object.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"
#include "zgate/core/error.hpp"
#include "zgate/core/secret.hpp"

namespace zgate {

// The last credential one connection presented and what it was found to be. Clients send
// the same key on every keep-alive request, so a repeat skips the SHA-256. Comparing against
// the connection's own previous credential reveals nothing the client does not already know.
// Owned per connection.
struct AuthMemo {
  std::string presented;
  std::optional<std::string_view> label;  // the label it matched; nullopt = refused
  bool valid = false;
};

class Authenticator {
 public:
  // `admin_key`: the operator's key (empty = none); see check_admin().
  Authenticator(const std::vector<ApiKey>& keys, bool allow_no_auth, std::string_view admin_key = {});

  // `authorization` = the Authorization header ("Bearer <key>", scheme case-insensitive,
  // surrounding spaces trimmed); `x_api_key` = the x-api-key header. Either may be empty.
  // A Bearer credential wins over x-api-key. With allow_no_auth every request is accepted:
  // a matching key still yields its label, anything else "anonymous".
  // The value is the matching key's label (valid while the Authenticator lives); the error is
  // the 401 to answer, saying whether a key was missing or wrong.
  Result<std::string_view> check(std::string_view authorization, std::string_view x_api_key) const;
  // The same, answered from `memo` when the credential repeats; updates `memo` otherwise.
  Result<std::string_view> check(std::string_view authorization, std::string_view x_api_key, AuthMemo& memo) const;

  std::size_t key_count() const { return entries_.size(); }

  // The operator's endpoints (/admin/*, /metrics when an admin key is set): only the admin key
  // opens them, compared in constant time; a client key is refused like any wrong key, and
  // allow_no_auth does not apply. Without an admin key every request is refused (404: the
  // admin API is off).
  bool admin_enabled() const { return admin_.has_value(); }
  Result<void> check_admin(std::string_view authorization, std::string_view x_api_key) const;

 private:
  struct Entry {
    Sha256Digest digest;
    std::string label;
  };
  std::optional<std::string_view> match(std::string_view presented) const;
  std::vector<Entry> entries_;
  std::optional<Sha256Digest> admin_;
  bool allow_no_auth_ = false;
};

// The key part of "Bearer <key>" (case-insensitive scheme, spaces trimmed); "" if not Bearer.
std::string_view bearer_token(std::string_view authorization);

}  // namespace zgate
