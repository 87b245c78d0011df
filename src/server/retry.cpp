#include "retry.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "zgate/auth/auth.hpp"
#include "zgate/core/ids.hpp"

namespace zgate {

void KeyLease::end() {
  if (!pool || index < 0) return;
  if (pool->release(index, result, cooldown, CredentialPool::Clock::now())) {
    const bool zai = provider->kind == ProviderKind::zai_web;
    const std::vector<std::string>& secrets = zai ? provider->tokens : provider->api_keys;
    const auto i = static_cast<std::size_t>(index);
    spdlog::error("upstream {} rejected its {} #{} ({}): it leaves the rotation until zgate is reloaded",
                  provider->name, zai ? "token" : "API key", index + 1, i < secrets.size() ? mask_secret(secrets[i]) : "");
  }
  pool = nullptr;
}

void judge_key(KeyLease& lease, const ApiError& e, int retry_after_s) {
  if (!lease.pool) return;
  using R = CredentialPool::Outcome;
  // zai-web answers a revoked token with a 502 upstream_auth_failed.
  if ((e.status == 401 && e.source == ErrorSource::upstream) || e.code == "upstream_auth_failed") {
    lease.result = R::rejected;
  } else if (e.status == 429 && e.retryable) {
    lease.result = R::rate_limited;
    lease.cooldown = retry_after_s >= 0 ? std::chrono::milliseconds(retry_after_s * 1000LL) : lease.provider->key_cooldown;
  } else if (e.status == 429) {
    lease.result = R::quota_exhausted;
    lease.cooldown = lease.provider->key_quota_cooldown;
  }
}

std::chrono::steady_clock::duration backoff_delay(const RetryPolicy& p, int attempt, int retry_after_s) {
  if (retry_after_s >= 0) return std::chrono::seconds(retry_after_s);
  const int64_t base = p.base_delay.count();
  const int64_t cap = std::min<int64_t>(p.max_delay.count(), base << std::min(attempt, 20));
  const int64_t ms = cap > 0 ? static_cast<int64_t>(ids::next_random() % static_cast<uint64_t>(cap + 1)) : 0;
  return std::chrono::milliseconds(ms);
}

}  // namespace zgate
