#include "zgate/policy/policy.hpp"

#include <fnmatch.h>

#include <fmt/format.h>

#include "zgate/json/writer.hpp"
#include "zgate/policy/limit_store.hpp"

namespace zgate::policy {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Days since 1970-01-01 -> (year, month 1..12); Howard Hinnant's civil_from_days.
void civil(int64_t days, int64_t& y, int64_t& m) {
  days += 719468;
  const int64_t era = floor_div(days, 146097);
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

// (year, month 1..12, day 1) -> days since 1970-01-01; days_from_civil.
int64_t days_from(int64_t y, int64_t m) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// Decimal digits without fmt: the headers are written on every limited response.
void append_int(std::string& out, int64_t v) {
  char buf[24];
  char* p = buf + sizeof buf;
  const bool neg = v < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  do {
    *--p = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0);
  if (neg) *--p = '-';
  out.append(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

void header(std::string& h, std::string_view name, int64_t v) {
  h += name;
  h += ": ";
  append_int(h, v);
  h += "\r\n";
}

void header_duration(std::string& h, std::string_view name, int64_t ms) {
  h += name;
  h += ": ";
  append_duration(h, ms);
  h += "\r\n";
}

}  // namespace

Windows windows_at(int64_t ms) {
  Windows w;
  w.minute = floor_div(ms, kMinuteMs);
  w.hour = floor_div(ms, kHourMs);
  w.day = floor_div(ms, kDayMs);
  int64_t y = 0, m = 0;
  civil(w.day, y, m);
  w.month = y * 12 + (m - 1);
  return w;
}

int64_t month_start_ms(int64_t month) { return days_from(floor_div(month, 12), month - floor_div(month, 12) * 12 + 1) * kDayMs; }

std::string_view to_string(Window w) {
  switch (w) {
    case Window::hour: return "hour";
    case Window::day: return "day";
    case Window::month: return "month";
  }
  return "hour";
}

int64_t window_end_ms(Window w, int64_t ms) {
  switch (w) {
    case Window::hour: return (floor_div(ms, kHourMs) + 1) * kHourMs;
    case Window::day: return (floor_div(ms, kDayMs) + 1) * kDayMs;
    case Window::month: return month_start_ms(windows_at(ms).month + 1);
  }
  return ms;
}

void append_duration(std::string& out, int64_t ms) {
  if (ms <= 0) {
    out += "0s";
    return;
  }
  if (ms < 1000) {
    append_int(out, ms);
    out += "ms";
    return;
  }
  const int64_t s = (ms + 999) / 1000;  // never earlier than the real reset
  const int64_t h = s / 3600, m = s / 60 % 60, sec = s % 60;
  if (h > 0) {
    append_int(out, h);
    out += 'h';
  }
  if (h > 0 || m > 0) {
    append_int(out, m);
    out += 'm';
  }
  append_int(out, sec);
  out += 's';
}

std::string duration(int64_t ms) {
  std::string s;
  append_duration(s, ms);
  return s;
}

int64_t estimate_prompt_tokens(const ChatRequest& req) {
  std::size_t bytes = 0;
  for (const Message& m : req.messages) {
    bytes += m.content.size() + m.reasoning_content.size() + m.name.size();
    for (const ToolCall& t : m.tool_calls) bytes += t.name.size() + t.arguments.size();
  }
  for (const ToolDef& t : req.tools) bytes += t.name.size() + t.description.size() + t.parameters.size() + t.raw.size();
  return static_cast<int64_t>((bytes + 2) / 3 + 4 * req.messages.size());
}

int64_t estimate_text_tokens(int64_t bytes) { return bytes <= 0 ? 0 : (bytes + 2) / 3; }

Usage estimated_usage(int64_t prompt_tokens, int64_t content_bytes, int64_t reasoning_bytes) {
  Usage u;
  u.present = true;
  u.prompt_tokens = prompt_tokens;
  u.reasoning_tokens = estimate_text_tokens(reasoning_bytes);
  u.completion_tokens = estimate_text_tokens(content_bytes) + u.reasoning_tokens;
  u.total_tokens = u.prompt_tokens + u.completion_tokens;
  return u;
}

void RateHeaders::append(std::string& h) const {
  if (limit_requests > 0) {
    header(h, "x-ratelimit-limit-requests", limit_requests);
    header(h, "x-ratelimit-remaining-requests", remaining_requests);
    header_duration(h, "x-ratelimit-reset-requests", reset_requests_ms);
  }
  if (limit_tokens > 0) {
    header(h, "x-ratelimit-limit-tokens", limit_tokens);
    header(h, "x-ratelimit-remaining-tokens", remaining_tokens);
    header_duration(h, "x-ratelimit-reset-tokens", reset_tokens_ms);
  }
}

bool KeyRules::model_allowed(std::string_view model) const {
  if (policy.models.empty()) return true;
  // Plain names and "prefix*" patterns are compared directly; other globs go to fnmatch(3).
  std::string name;
  for (const auto& m : policy.models) {
    const std::string_view p = m;
    if (!globs || !has_glob(p)) {
      if (p == model) return true;
    } else if (p.back() == '*' && !has_glob(p.substr(0, p.size() - 1))) {
      if (model.starts_with(p.substr(0, p.size() - 1))) return true;
    } else {
      if (name.empty()) name.assign(model);
      if (::fnmatch(m.c_str(), name.c_str(), 0) == 0) return true;
    }
  }
  return false;
}

Policies::Policies(const Config& cfg, LimitStore& store) : global_(cfg.budget), global_slot_(store.global()), store_(store) {
  keys_.reserve(cfg.api_keys.size());
  for (const ApiKey& k : cfg.api_keys) {
    KeyRules r;
    r.label = k.label;
    r.policy = k.policy;
    r.disabled = k.disabled;
    for (const auto& m : r.policy.models) r.globs = r.globs || has_glob(m);
    r.slot = store.key(k.label);
    keys_.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    const KeyRules& r = keys_[i];
    if (r.disabled || r.counts() || !r.policy.models.empty()) by_label_.emplace(r.label, i);
  }
}

ApiError key_disabled() {
  return ApiError{401, "authentication_error", "key_disabled",
                  "This API key is disabled; ask the gateway's operator to enable it.", {}, 0,
                  ErrorSource::downstream};
}

ApiError model_not_allowed(std::string_view model) {
  return ApiError{403, "permission_error", "model_not_allowed",
                  fmt::format("This API key may not use the model '{}'.", model), "model", 0,
                  ErrorSource::downstream};
}

ApiError model_not_priced(std::string_view model) {
  return ApiError{403, "permission_error", "model_not_priced",
                  fmt::format("The model '{}' has no price, and a spend budget applies to this request: the "
                              "gateway's operator must give it a price ([[prices]] or [default_price]).",
                              model),
                  "model", 0, ErrorSource::downstream};
}

std::vector<BudgetUse> budget_use(const Policies& p, int64_t now) {
  std::vector<BudgetUse> out;
  auto add = [&](std::string_view label, const KeyUsage& u, double h, double d, double m) {
    if (h > 0) out.push_back({std::string(label), Window::hour, u.spent_hour, h});
    if (d > 0) out.push_back({std::string(label), Window::day, u.spent_day, d});
    if (m > 0) out.push_back({std::string(label), Window::month, u.spent_month, m});
  };
  for (const KeyRules& k : p.keys()) {
    if (!k.policy.has_budget()) continue;
    add(k.label, p.store().usage(k.slot, now), k.policy.budget_hour_usd, k.policy.budget_day_usd,
        k.policy.budget_month_usd);
  }
  const GlobalBudget& g = p.global();
  if (g.any()) add("", p.store().usage(p.global_slot(), now), g.hour_usd, g.day_usd, g.month_usd);
  return out;
}

std::string keys_json(const Policies& p, int64_t now) {
  std::string out;
  json::Writer w(out);
  auto spend = [&](const KeyUsage& u, double h, double d, double m) {
    w.key("spend").begin_object();
    w.key("hour").begin_object().kv("usd", u.spent_hour).kv("limit_usd", h).end_object();
    w.key("day").begin_object().kv("usd", u.spent_day).kv("limit_usd", d).end_object();
    w.key("month").begin_object().kv("usd", u.spent_month).kv("limit_usd", m).end_object();
    w.end_object();
  };
  w.begin_object();
  w.key("keys").begin_array();
  for (const KeyRules& k : p.keys()) {
    const KeyPolicy& pol = k.policy;
    const KeyUsage u = p.store().usage(k.slot, now);
    w.begin_object();
    w.kv("label", k.label).kv_bool("disabled", k.disabled);
    w.key("models").begin_array();
    for (const auto& m : pol.models) w.string(m);
    w.end_array();
    w.key("requests_minute").begin_object().kv("used", u.requests_minute).kv("limit", pol.requests_per_minute).end_object();
    w.key("tokens_minute").begin_object().kv("used", u.tokens_minute).kv("limit", pol.tokens_per_minute).end_object();
    w.key("concurrent").begin_object().kv("in_flight", u.in_flight).kv("limit", pol.max_concurrent).end_object();
    spend(u, pol.budget_hour_usd, pol.budget_day_usd, pol.budget_month_usd);
    w.end_object();
  }
  w.end_array();
  const GlobalBudget& g = p.global();
  w.key("global").begin_object();
  spend(p.store().usage(p.global_slot(), now), g.hour_usd, g.day_usd, g.month_usd);
  w.end_object();
  w.kv("time", now);
  w.end_object();
  return out;
}

}  // namespace zgate::policy
