#pragma once
// The counters limits and budgets are enforced against, behind one interface: LocalLimitStore
// keeps them in this process (lock-free atomics); a store shared by several replicas (e.g. one
// backed by Redis) implements the same class. The store lives as long as the gateway, across
// configuration reloads: counters are kept per key label, the limits come from the policies of
// the generation a request runs in.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "zgate/policy/policy.hpp"

namespace zgate::policy {

// A key's counters (or the global ones) in a store; each store derives its own.
class KeySlot {
 public:
  virtual ~KeySlot() = default;
};

// What a key has used, as the store counts it now.
struct KeyUsage {
  int64_t requests_minute = 0;  // sliding minute
  int64_t tokens_minute = 0;
  int64_t in_flight = 0;
  double spent_hour = 0, spent_day = 0, spent_month = 0;  // USD, current calendar windows
};

// Spend and tokens read back from the usage store at start, for the windows holding `at_ms`.
struct Restored {
  int64_t at_ms = 0;
  double spent_hour = 0, spent_day = 0, spent_month = 0;
  int64_t tokens_minute = 0;
  int64_t requests_minute = 0;
};

class LimitStore {
 public:
  virtual ~LimitStore() = default;

  // Unix milliseconds, the time requests are counted at.
  virtual int64_t now_ms() const = 0;
  // The counters of a key label, made on first use and kept for the store's life (so a reload
  // keeps them); the global budget's counters. Not for the request path (it may lock).
  virtual KeySlot* key(std::string_view label) = 0;
  virtual KeySlot* global() = 0;

  // Admission of one request of the key `rules` (null: anonymous, global budget only) with a
  // prompt estimate of `estimate` tokens: counts it (concurrency, requests, estimated tokens)
  // into `t` and fills `h` (when the key has rate limits), or counts nothing and returns the
  // refusal: 429 rate_limit_exceeded (rates, concurrency) or insufficient_quota (budgets).
  virtual std::optional<ApiError> admit(const KeyRules* rules, const Policies& p, int64_t estimate, int64_t now,
                                        Ticket& t, RateHeaders& h) = 0;
  // The request ended: its real token count and cost replace the estimate, its concurrent slot
  // is released. Idempotent per ticket.
  virtual void settle(Ticket& t, int64_t tokens, double cost_usd, int64_t now) = 0;

  virtual KeyUsage usage(const KeySlot* slot, int64_t now) const = 0;
  // Adds what the usage store holds for the current windows (at start).
  virtual void restore(KeySlot* slot, const Restored& r) = 0;
};

// In-process counters: every counter is one atomic word holding its window's number and amount,
// so counting is one compare-and-swap with no lock. Counted only for the limits a key has: a key
// without limits costs nothing.
class LocalLimitStore final : public LimitStore {
 public:
  LocalLimitStore();
  ~LocalLimitStore() override;

  int64_t now_ms() const override;
  KeySlot* key(std::string_view label) override;
  KeySlot* global() override;
  std::optional<ApiError> admit(const KeyRules* rules, const Policies& p, int64_t estimate, int64_t now, Ticket& t,
                                RateHeaders& h) override;
  void settle(Ticket& t, int64_t tokens, double cost_usd, int64_t now) override;
  KeyUsage usage(const KeySlot* slot, int64_t now) const override;
  void restore(KeySlot* slot, const Restored& r) override;

  // Tests: the clock reads `ms` from now on (0 = the system clock again).
  void set_time_for_testing(int64_t ms) { fixed_ms_.store(ms, std::memory_order_relaxed); }

  class Slot;

 private:
  std::atomic<int64_t> fixed_ms_{0};
  std::mutex mu_;  // key() and global() only
  std::map<std::string, std::unique_ptr<Slot>, std::less<>> keys_;
  std::unique_ptr<Slot> global_;
};

// One counter of a window: the window's number (its low 16 bits) and the amount (48 bits) in one
// atomic word, so a new window starts with the same compare-and-swap that counts.
class WindowCounter {
 public:
  static constexpr int64_t kMax = (int64_t{1} << 48) - 1;
  // The amount counted in `window` (0 when the counter holds another window).
  int64_t get(int64_t window) const {
    const uint64_t v = v_.load(std::memory_order_relaxed);
    return (v & kTagMask) == tag(window) ? static_cast<int64_t>(v >> 16) : 0;
  }
  // Adds `delta` (may be negative; the amount stays within 0..kMax) in `window`, starting it
  // when the counter holds another; the new amount. With `only_if_current`, a counter holding
  // another window is left alone (and -1 returned).
  int64_t add(int64_t window, int64_t delta, bool only_if_current = false) {
    uint64_t v = v_.load(std::memory_order_relaxed);
    for (;;) {
      const bool same = (v & kTagMask) == tag(window);
      if (!same && only_if_current) return -1;
      int64_t amount = (same ? static_cast<int64_t>(v >> 16) : 0) + delta;
      amount = amount < 0 ? 0 : amount > kMax ? kMax : amount;
      const uint64_t next = (static_cast<uint64_t>(amount) << 16) | tag(window);
      if (v_.compare_exchange_weak(v, next, std::memory_order_relaxed)) return amount;
    }
  }

 private:
  static constexpr uint64_t kTagMask = 0xFFFF;
  static uint64_t tag(int64_t window) { return static_cast<uint64_t>(window) & kTagMask; }
  std::atomic<uint64_t> v_{0};
};

}  // namespace zgate::policy
