#pragma once
// Per-key limits and budgets (docs/limits.md): the policies of one configuration generation,
// compiled for the request path (Policies), the counters they are enforced against (LimitStore,
// limit_store.hpp), the prompt estimate, the x-ratelimit-* headers and the refusals.
//
// Time is Unix milliseconds passed in by the caller (LimitStore::now_ms() in the server, any
// value in tests). Budget windows are calendar windows in UTC (hour, day, month); rate windows
// are a sliding minute approximated from two fixed one-minute buckets.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zgate/config/config.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/events.hpp"
#include "zgate/model/request.hpp"

namespace zgate::policy {

class LimitStore;
class KeySlot;  // a key's counters in a LimitStore (opaque; see limit_store.hpp)

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;

// The windows a time falls in: minutes, hours and days since the epoch, and months since year 0
// (year * 12 + month - 1), all UTC.
struct Windows {
  int64_t minute = 0, hour = 0, day = 0, month = 0;
};
Windows windows_at(int64_t ms);
// When the month `month` (as in Windows) starts, Unix ms.
int64_t month_start_ms(int64_t month);

enum class Window : unsigned char { hour, day, month };
std::string_view to_string(Window w);
// When the window of kind `w` holding `ms` ends, Unix ms.
int64_t window_end_ms(Window w, int64_t ms);

// A duration as OpenAI writes its reset headers: "120ms", "1s", "6m0s", "1h2m3s" (whole seconds
// from one second up; 0 -> "0s").
void append_duration(std::string& out, int64_t ms);
std::string duration(int64_t ms);

// The prompt tokens a request is counted for before its usage is known: the bytes of every
// message's text, reasoning, tool calls and tool definitions / 3, rounded up, plus 4 per message.
int64_t estimate_prompt_tokens(const ChatRequest& req);
// The same rule for generated text: `bytes` / 3, rounded up.
int64_t estimate_text_tokens(int64_t bytes);
// The usage billed for an answer the upstream never reported usage for (a stream cut short):
// the prompt estimate, and the generated content (answer text, tool calls) and reasoning bytes
// by the rule above; reasoning is part of the completion, as in the upstream's own usage.
Usage estimated_usage(int64_t prompt_tokens, int64_t content_bytes, int64_t reasoning_bytes);

// The OpenAI rate-limit headers of one response; a limit of 0 = that trio is not sent.
struct RateHeaders {
  int64_t limit_requests = 0, remaining_requests = 0, reset_requests_ms = 0;
  int64_t limit_tokens = 0, remaining_tokens = 0, reset_tokens_ms = 0;
  bool any() const { return limit_requests > 0 || limit_tokens > 0; }
  // "x-ratelimit-limit-requests: 60\r\n" ... for the trios with a limit.
  void append(std::string& head) const;
};

// One key's policy compiled for the request path.
struct KeyRules {
  std::string label;
  KeyPolicy policy;   // effective (defaults resolved)
  bool disabled = false;
  bool globs = false; // some model pattern is a glob (else plain comparisons)
  KeySlot* slot = nullptr;  // the key's counters (the store outlives every generation)

  bool model_allowed(std::string_view model) const;
  bool rates() const { return policy.requests_per_minute > 0 || policy.tokens_per_minute > 0; }
  bool counts() const { return rates() || policy.max_concurrent > 0 || policy.has_budget(); }
};

// The policies of one configuration generation, by key label. Built when the generation is
// (start, reload); read-only afterwards.
class Policies {
 public:
  Policies(const Config& cfg, LimitStore& store);
  Policies(const Policies&) = delete;
  Policies& operator=(const Policies&) = delete;

  // The key's rules; null for a label without any (anonymous requests).
  const KeyRules* find(std::string_view label) const {
    if (by_label_.empty()) return nullptr;
    auto it = by_label_.find(label);
    return it == by_label_.end() ? nullptr : &keys_[it->second];
  }
  const std::vector<KeyRules>& keys() const { return keys_; }
  const GlobalBudget& global() const { return global_; }
  KeySlot* global_slot() const { return global_slot_; }
  LimitStore& store() const { return store_; }

 private:
  std::vector<KeyRules> keys_;
  std::unordered_map<std::string_view, std::size_t> by_label_;  // views into keys_ (only keys with rules)
  GlobalBudget global_;
  KeySlot* global_slot_;
  LimitStore& store_;
};

// What a request counted at admission, given back when it ends (settle). Owned by the request.
struct Ticket {
  KeySlot* key = nullptr;     // null: nothing counted for a key
  KeySlot* global = nullptr;  // null: no global budget
  bool concurrent = false;    // holds one of the key's concurrent slots
  bool tokens = false;        // counted `estimate` tokens in minute `minute`
  bool spend_key = false;     // the key's spend is counted
  int64_t minute = 0;
  int64_t estimate = 0;
  bool settled = false;
};

// The refusals a request can get before its upstream is called.
ApiError key_disabled();
ApiError model_not_allowed(std::string_view model);
ApiError model_not_priced(std::string_view model);

// For budget alerts: a budget's use in its current window.
struct BudgetUse {
  std::string label;  // the key's label; "" = the global budget
  Window window = Window::hour;
  double spent_usd = 0;
  double limit_usd = 0;
};
// Every key with a budget and the global budget: one entry per window with a limit.
std::vector<BudgetUse> budget_use(const Policies& p, int64_t now_ms);

// GET /admin/keys: every key's policy and use against each limit, and the global budgets' use.
std::string keys_json(const Policies& p, int64_t now_ms);

}  // namespace zgate::policy
