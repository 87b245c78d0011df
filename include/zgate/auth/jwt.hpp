#pragma once
// The legacy Zhipu authentication (docs/protocols/zhipu-v4.md): an HS256 JWT minted from an
// "<id>.<secret>" key, with millisecond `exp` / `timestamp`. Cached and re-minted shortly
// before it expires. Not thread-safe: one per worker.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace zgate {

class ZhipuJwt {
 public:
  // Throws std::invalid_argument when `id_secret_key` is not "<id>.<secret>" (a start-up
  // error: the configuration validator checks looks_like_id_secret() of config.hpp first).
  explicit ZhipuJwt(std::string id_secret_key,
                    std::chrono::seconds ttl = std::chrono::seconds(210),
                    std::chrono::seconds renew_before = std::chrono::seconds(30));

  // The bearer token: the bare JWT, to send as "Authorization: Bearer <jwt>". `now_ms` = Unix
  // time in milliseconds. The view is valid until the next call.
  std::string_view bearer(int64_t now_ms);
  // The whole Authorization header value, "Bearer <jwt>" (no copy needed by the caller).
  // Valid until the next call.
  std::string_view authorization(int64_t now_ms);

  // When the cached token expires (ms), 0 before the first mint.
  int64_t expires_at_ms() const { return exp_ms_; }

 private:
  void mint(int64_t now_ms);

  std::string id_;
  std::string secret_;
  int64_t ttl_ms_;
  int64_t renew_before_ms_;
  int64_t exp_ms_ = 0;
  std::string header_;  // "Bearer " + jwt, reused across mints
  std::string scratch_; // payload JSON
};

}  // namespace zgate
