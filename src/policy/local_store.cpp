// LocalLimitStore: the counters in this process, lock-free on the request path.
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "zgate/policy/limit_store.hpp"

namespace zgate::policy {

namespace {
// Spend is counted in units of 1e-8 USD (a 48-bit counter holds up to ~2.8 million USD a window).
constexpr double kUnitsPerUsd = 1e8;
int64_t units(double usd) { return usd > 0 ? std::llround(usd * kUnitsPerUsd) : 0; }
double usd(int64_t u) { return static_cast<double>(u) / kUnitsPerUsd; }

// A sliding minute from two one-minute buckets (indexed by the minute's parity): the current
// bucket, plus the previous one weighted by the part of it still inside the last 60 s.
struct Sliding {
  int64_t cur = 0, prev = 0, into = 0;  // into: ms since the current minute began
  int64_t used() const { return cur + (prev * (kMinuteMs - into) + kMinuteMs - 1) / kMinuteMs; }
  // How long until `need` more fit under `limit`, with nothing else counted meanwhile (ms);
  // -1 when they never can.
  int64_t wait_for(int64_t need, int64_t limit) const {
    if (need > limit) return -1;
    if (cur + need <= limit) {
      if (used() + need <= limit || prev == 0) return 0;
      // prev * (60000 - t) / 60000 <= limit - cur - need
      const int64_t t = kMinuteMs - (limit - cur - need) * kMinuteMs / prev;
      return t > into ? t - into : 0;
    }
    // Only once this minute is the previous one: cur * (60000 - t) / 60000 + need <= limit.
    const int64_t t = cur > 0 ? kMinuteMs - (limit - need) * kMinuteMs / cur : 0;
    return kMinuteMs - into + t;
  }
  // Until nothing counted now counts any more.
  int64_t until_empty() const { return cur > 0 ? 2 * kMinuteMs - into : prev > 0 ? kMinuteMs - into : 0; }
};

int64_t retry_seconds(int64_t ms) { return ms <= 0 ? 1 : (ms + 999) / 1000; }

std::string reset_at(int64_t end_ms, int64_t now) {
  const int64_t s = end_ms / 1000;
  const int64_t days = s / 86400, rem = s % 86400;
  // civil date of `days`
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z (in {})", y, m, d, rem / 3600, rem / 60 % 60, rem % 60,
                     duration(end_ms - now));
}

ApiError rate_refusal(std::string_view what, std::string_view setting, int64_t limit, int64_t used, int64_t need,
                      int64_t wait_ms, std::string_view type) {
  if (wait_ms < 0) {
    return ApiError{429, std::string(type), "rate_limit_exceeded",
                    fmt::format("Request too large for {} ({}): limit {}, requested {} (the prompt's estimate). "
                                "Send a shorter request.",
                                what, setting, limit, need),
                    {}, 0, ErrorSource::downstream};
  }
  return ApiError{429, std::string(type), "rate_limit_exceeded",
                  fmt::format("Rate limit reached for {} ({}): limit {}, used {}, requested {}. Please try again in {}.",
                              what, setting, limit, used, need, duration(wait_ms)),
                  {}, static_cast<int>(retry_seconds(wait_ms)), ErrorSource::downstream};
}

ApiError budget_refusal(bool global, Window w, double spent, double limit, int64_t now) {
  const int64_t end = window_end_ms(w, now);
  const std::string_view period = w == Window::hour ? "hourly" : w == Window::day ? "daily" : "monthly";
  std::string msg =
      global ? fmt::format("The gateway's {} budget of ${} (budget.{}_usd) is spent (${:.4f}); it resets at {}.", period,
                           limit, to_string(w), spent, reset_at(end, now))
             : fmt::format("This API key's {} budget of ${} (budget_{}_usd) is spent (${:.4f}); it resets at {}.",
                           period, limit, to_string(w), spent, reset_at(end, now));
  const int64_t secs = retry_seconds(end - now);
  return ApiError{429, "insufficient_quota", "insufficient_quota", std::move(msg), {},
                  static_cast<int>(secs > INT32_MAX ? INT32_MAX : secs), ErrorSource::downstream};
}

}  // namespace

class LocalLimitStore::Slot final : public KeySlot {
 public:
  WindowCounter requests[2], tokens[2];  // by the minute's parity
  alignas(64) std::atomic<int64_t> in_flight{0};
  WindowCounter spend_hour, spend_day, spend_month;  // units of 1e-8 USD

  Sliding requests_at(int64_t minute, int64_t into) const {
    return {requests[minute & 1].get(minute), requests[(minute - 1) & 1].get(minute - 1), into};
  }
  Sliding tokens_at(int64_t minute, int64_t into) const {
    return {tokens[minute & 1].get(minute), tokens[(minute - 1) & 1].get(minute - 1), into};
  }
  void add_spend(const Windows& w, int64_t u) {
    spend_hour.add(w.hour, u);
    spend_day.add(w.day, u);
    spend_month.add(w.month, u);
  }
  // The first window of a budget that is spent, if any.
  std::optional<std::pair<Window, double>> spent(const Windows& w, double hour, double day, double month,
                                                 double& used) const {
    const std::pair<const WindowCounter*, int64_t> c[3] = {{&spend_hour, w.hour}, {&spend_day, w.day}, {&spend_month, w.month}};
    const double limit[3] = {hour, day, month};
    for (int i = 0; i < 3; ++i) {
      if (limit[i] <= 0) continue;
      used = usd(c[i].first->get(c[i].second));
      if (used >= limit[i]) return std::pair{static_cast<Window>(i), limit[i]};
    }
    return std::nullopt;
  }
};

namespace {
// The rate headers from the counters as they are, counting nothing.
void peek(const LocalLimitStore::Slot& s, const KeyPolicy& kp, int64_t minute, int64_t into, RateHeaders& h) {
  if (kp.requests_per_minute > 0) {
    const Sliding r = s.requests_at(minute, into);
    h.limit_requests = kp.requests_per_minute;
    h.remaining_requests = std::max<int64_t>(0, kp.requests_per_minute - r.used());
    h.reset_requests_ms = r.until_empty();
  }
  if (kp.tokens_per_minute > 0) {
    const Sliding k = s.tokens_at(minute, into);
    h.limit_tokens = kp.tokens_per_minute;
    h.remaining_tokens = std::max<int64_t>(0, kp.tokens_per_minute - k.used());
    h.reset_tokens_ms = k.until_empty();
  }
}
}  // namespace

LocalLimitStore::LocalLimitStore() : global_(std::make_unique<Slot>()) {}
LocalLimitStore::~LocalLimitStore() = default;

int64_t LocalLimitStore::now_ms() const {
  if (const int64_t f = fixed_ms_.load(std::memory_order_relaxed)) return f;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

KeySlot* LocalLimitStore::key(std::string_view label) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(label);
  if (it == keys_.end()) it = keys_.emplace(std::string(label), std::make_unique<Slot>()).first;
  return it->second.get();
}

KeySlot* LocalLimitStore::global() { return global_.get(); }

std::optional<ApiError> LocalLimitStore::admit(const KeyRules* rules, const Policies& p, int64_t estimate, int64_t now,
                                               Ticket& t, RateHeaders& h) {
  const Windows w = windows_at(now);
  const int64_t into = now - w.minute * kMinuteMs;
  Slot* g = p.global().any() ? static_cast<Slot*>(p.global_slot()) : nullptr;
  Slot* s = rules && rules->counts() ? static_cast<Slot*>(rules->slot) : nullptr;
  double used = 0;
  // Budgets first: they count nothing up front.
  if (s && rules->policy.has_budget()) {
    const KeyPolicy& kp = rules->policy;
    if (auto hit = s->spent(w, kp.budget_hour_usd, kp.budget_day_usd, kp.budget_month_usd, used))
      return budget_refusal(false, hit->first, used, hit->second, now);
  }
  if (g) {
    const GlobalBudget& gb = p.global();
    if (auto hit = g->spent(w, gb.hour_usd, gb.day_usd, gb.month_usd, used))
      return budget_refusal(true, hit->first, used, hit->second, now);
  }
  t.global = g;
  if (!s) return std::nullopt;
  const KeyPolicy& kp = rules->policy;
  t.key = s;
  t.spend_key = kp.has_budget();
  if (kp.max_concurrent > 0) {
    const int64_t n = s->in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n > kp.max_concurrent) {
      s->in_flight.fetch_sub(1, std::memory_order_relaxed);
      t = {};
      peek(*s, kp, w.minute, into, h);
      return ApiError{429, "rate_limit_error", "rate_limit_exceeded",
                      fmt::format("Too many concurrent requests for this API key (max_concurrent): limit {}. Try "
                                  "again when one of them has finished.",
                                  kp.max_concurrent),
                      {}, 1, ErrorSource::downstream};
    }
    t.concurrent = true;
  }
  auto undo = [&] {
    if (t.concurrent) s->in_flight.fetch_sub(1, std::memory_order_relaxed);
    t = {};
  };
  if (kp.requests_per_minute > 0) {
    const int64_t lim = kp.requests_per_minute;
    s->requests[w.minute & 1].add(w.minute, 1);
    Sliding r = s->requests_at(w.minute, into);
    const int64_t u = r.used();
    if (u > lim) {
      s->requests[w.minute & 1].add(w.minute, -1);
      r.cur -= 1;
      undo();
      h.limit_requests = lim;
      h.remaining_requests = 0;
      h.reset_requests_ms = r.until_empty();
      const int64_t wait = r.wait_for(1, lim);
      if (kp.tokens_per_minute > 0) {
        const Sliding k = s->tokens_at(w.minute, into);
        h.limit_tokens = kp.tokens_per_minute;
        h.remaining_tokens = std::max<int64_t>(0, kp.tokens_per_minute - k.used());
        h.reset_tokens_ms = k.until_empty();
      }
      return rate_refusal("requests per minute", "requests_per_minute", lim, u - 1, 1, wait, "requests");
    }
    h.limit_requests = lim;
    h.remaining_requests = lim - u;
    h.reset_requests_ms = r.until_empty();
  }
  if (kp.tokens_per_minute > 0) {
    const int64_t lim = kp.tokens_per_minute;
    const int64_t need = estimate > 0 ? estimate : 1;
    s->tokens[w.minute & 1].add(w.minute, need);
    Sliding k = s->tokens_at(w.minute, into);
    const int64_t u = k.used();
    if (u > lim) {
      s->tokens[w.minute & 1].add(w.minute, -need);
      k.cur -= need;
      if (kp.requests_per_minute > 0) {
        s->requests[w.minute & 1].add(w.minute, -1);
        const Sliding r = s->requests_at(w.minute, into);
        h.remaining_requests = std::max<int64_t>(0, kp.requests_per_minute - r.used());
      }
      undo();
      h.limit_tokens = lim;
      h.remaining_tokens = std::max<int64_t>(0, lim - k.used());
      h.reset_tokens_ms = k.until_empty();
      return rate_refusal("tokens per minute", "tokens_per_minute", lim, k.used(), need, k.wait_for(need, lim), "tokens");
    }
    t.tokens = true;
    t.minute = w.minute;
    t.estimate = need;
    h.limit_tokens = lim;
    h.remaining_tokens = lim - u;
    h.reset_tokens_ms = k.until_empty();
  }
  return std::nullopt;
}

void LocalLimitStore::settle(Ticket& t, int64_t tokens, double cost_usd, int64_t now) {
  if (t.settled) return;
  t.settled = true;
  const int64_t u = units(cost_usd);
  if (t.global && u > 0) static_cast<Slot*>(t.global)->add_spend(windows_at(now), u);
  Slot* s = static_cast<Slot*>(t.key);
  if (!s) return;
  if (t.concurrent) s->in_flight.fetch_sub(1, std::memory_order_relaxed);
  const Windows w = windows_at(now);
  if (t.spend_key && u > 0) s->add_spend(w, u);
  if (t.tokens) {
    // The estimate is replaced in the minute it was counted in while that still counts; a
    // request that outlasted it counts its tokens in the minute it ended.
    const bool replaced = w.minute - t.minute <= 1 && s->tokens[t.minute & 1].add(t.minute, tokens - t.estimate, true) >= 0;
    if (!replaced && tokens > 0) s->tokens[w.minute & 1].add(w.minute, tokens);
  }
}

KeyUsage LocalLimitStore::usage(const KeySlot* slot, int64_t now) const {
  KeyUsage u;
  const Slot* s = static_cast<const Slot*>(slot);
  if (!s) return u;
  const Windows w = windows_at(now);
  const int64_t into = now - w.minute * kMinuteMs;
  u.requests_minute = s->requests_at(w.minute, into).used();
  u.tokens_minute = s->tokens_at(w.minute, into).used();
  u.in_flight = s->in_flight.load(std::memory_order_relaxed);
  u.spent_hour = usd(s->spend_hour.get(w.hour));
  u.spent_day = usd(s->spend_day.get(w.day));
  u.spent_month = usd(s->spend_month.get(w.month));
  return u;
}

void LocalLimitStore::restore(KeySlot* slot, const Restored& r) {
  Slot* s = static_cast<Slot*>(slot);
  if (!s) return;
  const Windows w = windows_at(r.at_ms);
  s->spend_hour.add(w.hour, units(r.spent_hour));
  s->spend_day.add(w.day, units(r.spent_day));
  s->spend_month.add(w.month, units(r.spent_month));
  if (r.tokens_minute > 0) s->tokens[w.minute & 1].add(w.minute, r.tokens_minute);
  if (r.requests_minute > 0) s->requests[w.minute & 1].add(w.minute, r.requests_minute);
}

}  // namespace zgate::policy
