#pragma once
// Which of a provider's upstream credentials (API keys) a request uses, and what the upstream's
// answers do to them: a key that is rate limited cools down for a while, a key the upstream
// rejects leaves the rotation. One interface per kind of shared state: LocalCredentialPool keeps
// it in this process (lock-free: the request path takes no lock); a pool shared by several
// replicas would implement the same interface.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace zgate {

enum class KeyStrategy : unsigned char { round_robin, least_loaded };

class CredentialPool {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Outcome : unsigned char {
    ok,              // answered, or failed for a reason that is not the key's
    rate_limited,    // 429 that passes (concurrency, frequency): a short cooldown
    quota_exhausted, // 429 for a spent balance or plan quota: a long cooldown
    rejected,        // the upstream refused the credential (401, codes 1000-1004): out of rotation
  };
  struct Pick {
    int index = -1;                           // the key to use; -1 = none is usable now
    std::chrono::milliseconds retry_after{0}; // with index -1: until the soonest cooldown ends
    bool all_rejected = false;                // with index -1: every key was rejected
  };
  // What the pool says of one key now (GET /health/upstream reads it).
  struct KeyState {
    bool rejected = false;                    // out of rotation
    std::chrono::milliseconds resting{0};     // > 0: cooling down for this much longer
    int in_flight = -1;                       // requests using it; -1 = not counted (round robin)
  };
  virtual ~CredentialPool() = default;
  // Chooses a usable key (not cooling down, not rejected) for one request.
  virtual Pick acquire(Clock::time_point now) = 0;
  // The request that used key `index` ended with `r`; `cooldown` is how long a rate-limited or
  // exhausted key rests. Returns true when this call took the key out of rotation. A pool of one
  // key keeps no state: its key never rests nor leaves.
  virtual bool release(int index, Outcome r, std::chrono::milliseconds cooldown, Clock::time_point now) = 0;
  // True when a key other than `index` is usable now.
  virtual bool other_usable(int index, Clock::time_point now) const = 0;
  virtual std::size_t size() const = 0;
  virtual KeyState state(int index, Clock::time_point now) const = 0;
};

class LocalCredentialPool final : public CredentialPool {
 public:
  LocalCredentialPool(std::size_t keys, KeyStrategy strategy);
  Pick acquire(Clock::time_point now) override;
  bool release(int index, Outcome r, std::chrono::milliseconds cooldown, Clock::time_point now) override;
  bool other_usable(int index, Clock::time_point now) const override;
  std::size_t size() const override { return keys_.size(); }
  KeyState state(int index, Clock::time_point now) const override;

 private:
  struct alignas(64) Key {  // one cache line each: workers update different keys' counters
    std::atomic<int64_t> cooling_until{0};  // steady-clock ns; 0 = not cooling
    std::atomic<int32_t> in_flight{0};
    std::atomic<bool> rejected{false};
  };
  bool usable(const Key& k, int64_t now_ns) const;
  std::vector<Key> keys_;
  KeyStrategy strategy_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace zgate
