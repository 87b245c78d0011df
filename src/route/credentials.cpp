#include "zgate/route/credentials.hpp"

#include <algorithm>
#include <limits>

namespace zgate {
namespace {
int64_t ns(CredentialPool::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

LocalCredentialPool::LocalCredentialPool(std::size_t keys, KeyStrategy strategy)
    : keys_(std::max<std::size_t>(keys, 1)), strategy_(strategy) {}

bool LocalCredentialPool::usable(const Key& k, int64_t now_ns) const {
  return !k.rejected.load(std::memory_order_relaxed) && k.cooling_until.load(std::memory_order_relaxed) <= now_ns;
}

CredentialPool::Pick LocalCredentialPool::acquire(Clock::time_point now) {
  const int64_t t = ns(now);
  const std::size_t n = keys_.size();
  Pick p;
  if (n == 1) {
    // One key (the usual case): no shared counter is touched.
    if (usable(keys_[0], t)) p.index = 0;
  } else if (strategy_ == KeyStrategy::round_robin) {
    const std::size_t start = static_cast<std::size_t>(next_.fetch_add(1, std::memory_order_relaxed) % n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t k = (start + i) % n;
      if (usable(keys_[k], t)) {
        p.index = static_cast<int>(k);
        break;
      }
    }
  } else {
    // Least loaded: the usable key with the fewest requests in flight; ties rotate.
    const std::size_t start = static_cast<std::size_t>(next_.fetch_add(1, std::memory_order_relaxed) % n);
    int32_t best = std::numeric_limits<int32_t>::max();
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t k = (start + i) % n;
      if (!usable(keys_[k], t)) continue;
      const int32_t load = keys_[k].in_flight.load(std::memory_order_relaxed);
      if (load < best) {
        best = load;
        p.index = static_cast<int>(k);
      }
    }
    if (p.index >= 0) keys_[static_cast<std::size_t>(p.index)].in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  if (p.index >= 0) return p;
  // None usable: when does the soonest cooldown end?
  int64_t soonest = std::numeric_limits<int64_t>::max();
  bool any_cooling = false;
  for (const Key& k : keys_) {
    if (k.rejected.load(std::memory_order_relaxed)) continue;
    any_cooling = true;
    soonest = std::min(soonest, k.cooling_until.load(std::memory_order_relaxed));
  }
  p.all_rejected = !any_cooling;
  if (any_cooling) {
    const auto left = std::chrono::nanoseconds(std::max<int64_t>(soonest - t, 0));
    p.retry_after = std::chrono::ceil<std::chrono::milliseconds>(left);
  }
  return p;
}

bool LocalCredentialPool::release(int index, Outcome r, std::chrono::milliseconds cooldown, Clock::time_point now) {
  if (index < 0 || static_cast<std::size_t>(index) >= keys_.size()) return false;
  Key& k = keys_[static_cast<std::size_t>(index)];
  // A lone key never rests nor leaves: with nothing to rotate to, resting it would only turn the
  // upstream's passing refusals into zgate's own for the whole cooldown. Its errors go to the
  // client (and through the retry policy) as they come.
  if (keys_.size() == 1) return false;
  if (strategy_ == KeyStrategy::least_loaded) k.in_flight.fetch_sub(1, std::memory_order_relaxed);
  switch (r) {
    case Outcome::ok: return false;
    case Outcome::rate_limited:
    case Outcome::quota_exhausted: {
      const int64_t until = ns(now + cooldown);
      int64_t cur = k.cooling_until.load(std::memory_order_relaxed);
      while (cur < until && !k.cooling_until.compare_exchange_weak(cur, until, std::memory_order_relaxed)) {
      }
      return false;
    }
    case Outcome::rejected: return !k.rejected.exchange(true, std::memory_order_relaxed);
  }
  return false;
}

bool LocalCredentialPool::other_usable(int index, Clock::time_point now) const {
  const int64_t t = ns(now);
  for (std::size_t k = 0; k < keys_.size(); ++k) {
    if (static_cast<int>(k) != index && usable(keys_[k], t)) return true;
  }
  return false;
}

CredentialPool::KeyState LocalCredentialPool::state(int index, Clock::time_point now) const {
  KeyState s;
  if (index < 0 || static_cast<std::size_t>(index) >= keys_.size()) return s;
  const Key& k = keys_[static_cast<std::size_t>(index)];
  s.rejected = k.rejected.load(std::memory_order_relaxed);
  const int64_t left = k.cooling_until.load(std::memory_order_relaxed) - ns(now);
  if (left > 0) s.resting = std::chrono::ceil<std::chrono::milliseconds>(std::chrono::nanoseconds(left));
  if (strategy_ == KeyStrategy::least_loaded && keys_.size() > 1) s.in_flight = k.in_flight.load(std::memory_order_relaxed);
  return s;
}

}  // namespace zgate
