// The alert rules' names, their custom webhook templates, and their validation ([[alerts]],
// [alerting]; docs/alerts.md).
#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "detail.hpp"
#include "zgate/config/config.hpp"
#include "zgate/json/writer.hpp"

namespace zgate {
namespace {

constexpr std::string_view kKindNames[] = {"error_rate", "latency", "requests", "budget", "upstream_failures",
                                           "recorder_drops"};
constexpr std::string_view kFormatNames[] = {"json", "slack", "feishu", "dingtalk", "template"};

bool known_placeholder(std::string_view name) {
  return std::find(std::begin(kAlertPlaceholders), std::end(kAlertPlaceholders), name) != std::end(kAlertPlaceholders);
}

bool is_http_url(std::string_view u) {
  std::string_view rest;
  if (u.starts_with("http://")) rest = u.substr(7);
  else if (u.starts_with("https://")) rest = u.substr(8);
  else return false;
  const std::size_t end = rest.find_first_of("/?#");
  const std::string_view host = rest.substr(0, end);
  return !host.empty() && host.find_first_of(" \t\r\n@") == std::string_view::npos;
}

}  // namespace

std::string_view to_string(AlertKind k) { return kKindNames[static_cast<int>(k)]; }
std::string_view to_string(AlertFormat f) { return kFormatNames[static_cast<int>(f)]; }

namespace config_detail {

std::optional<AlertKind> parse_alert_kind(std::string_view s) {
  for (std::size_t i = 0; i < std::size(kKindNames); ++i) {
    if (s == kKindNames[i]) return static_cast<AlertKind>(i);
  }
  return std::nullopt;
}

std::optional<AlertFormat> parse_alert_format(std::string_view s) {
  for (std::size_t i = 0; i < std::size(kFormatNames); ++i) {
    if (s == kFormatNames[i]) return static_cast<AlertFormat>(i);
  }
  return std::nullopt;
}

void validate_alerts(const Config& cfg) {
  const AlertingConfig& s = cfg.alerting;
  if (s.interval.count() <= 0) throw ConfigError("alerting.interval_ms: must be a positive number of milliseconds");
  if (s.webhook_timeout.count() <= 0)
    throw ConfigError("alerting.webhook_timeout_ms: must be a positive number of milliseconds");
  if (s.webhook_retry_delay.count() < 0)
    throw ConfigError("alerting.webhook_retry_delay_ms: must not be negative");
  if (s.queue == 0) throw ConfigError("alerting.queue: must be a positive integer");
  for (std::size_t i = 0; i < cfg.alerts.size(); ++i) {
    const AlertRule& a = cfg.alerts[i];
    const std::string key = fmt::format("alerts[{}]", i);
    if (a.name.empty()) throw ConfigError(key + ".name: is required");
    for (std::size_t j = 0; j < i; ++j) {
      if (cfg.alerts[j].name == a.name) throw ConfigError(fmt::format("{}.name: duplicate alert name '{}'", key, a.name));
    }
    if (!(a.threshold >= 0)) throw ConfigError(key + ".threshold: must be a non-negative number");
    if (a.kind == AlertKind::error_rate && a.threshold > 1)
      throw ConfigError(fmt::format("{}.threshold: an error rate is a fraction from 0 to 1 (0.1 = 10%), not {}", key,
                                    a.threshold));
    if (a.kind == AlertKind::budget && (a.threshold <= 0 || a.threshold > 10))
      throw ConfigError(fmt::format("{}.threshold: a budget threshold is a fraction of the budget (0.8 = 80%), not {}",
                                    key, a.threshold));
    if (a.kind == AlertKind::upstream_failures && a.threshold < 1)
      throw ConfigError(key + ".threshold: upstream_failures counts failures in a row: at least 1");
    if (a.below && a.kind != AlertKind::requests) throw ConfigError(key + ".below: only for kind = \"requests\"");
    if (a.kind != AlertKind::latency && (a.stat != "avg" || a.of != "total"))
      throw ConfigError(key + ".stat/of: only for kind = \"latency\"");
    if (a.stat != "avg" && a.stat != "p95") throw ConfigError(key + ".stat: must be avg or p95");
    if (a.of != "total" && a.of != "first_token") throw ConfigError(key + ".of: must be total or first_token");
    if (a.window.count() <= 0 || a.window.count() > 86'400)
      throw ConfigError(key + ".window_s: must be a number of seconds from 1 to 86400");
    if (a.repeat.count() <= 0) throw ConfigError(key + ".repeat_s: must be a positive number of seconds");
    if (!a.model.empty() && (a.kind == AlertKind::budget || a.kind == AlertKind::recorder_drops))
      throw ConfigError(fmt::format("{}.model: kind = \"{}\" has no model filter", key, to_string(a.kind)));
    if (!a.key.empty() && a.kind == AlertKind::recorder_drops)
      throw ConfigError(key + ".key: kind = \"recorder_drops\" has no key filter");
    // The URL itself is not quoted: it may hold a token.
    if (!a.webhook.empty() && !is_http_url(a.webhook))
      throw ConfigError(key + ".webhook: must be an http:// or https:// URL");
    if (a.format == AlertFormat::custom) {
      if (a.webhook.empty()) throw ConfigError(key + ".template: needs a webhook");
      for (std::size_t p = a.body_template.find("{{"); p != std::string::npos; p = a.body_template.find("{{", p + 2)) {
        const std::size_t e = a.body_template.find("}}", p + 2);
        if (e == std::string::npos) throw ConfigError(key + ".template: a {{ without its }}");
        const std::string_view name = std::string_view(a.body_template).substr(p + 2, e - p - 2);
        if (!known_placeholder(name))
          throw ConfigError(fmt::format("{}.template: unknown placeholder {{{{{}}}}} (known: name, kind, state, value, "
                                        "threshold, message, started_at, instance, scope)",
                                        key, name));
      }
      // Numbers render as numbers, so the template may put {{value}} unquoted.
      const std::string sample = render_alert_template(a.body_template, [](std::string_view) { return std::string("0"); });
      simdjson::dom::parser parser;
      if (parser.parse(sample).error())
        throw ConfigError(key + ".template: is not valid JSON once its placeholders are filled in");
    }
  }
}

}  // namespace config_detail

std::string render_alert_template(std::string_view tpl, const std::function<std::string(std::string_view)>& value) {
  std::string out;
  out.reserve(tpl.size() + 256);
  std::size_t at = 0;
  while (at < tpl.size()) {
    const std::size_t p = tpl.find("{{", at);
    if (p == std::string_view::npos) break;
    const std::size_t e = tpl.find("}}", p + 2);
    if (e == std::string_view::npos) break;
    const std::string_view name = tpl.substr(p + 2, e - p - 2);
    out.append(tpl.substr(at, p - at));
    if (known_placeholder(name)) {
      json::append_escaped(out, value(name));
    } else {
      out.append(tpl.substr(p, e + 2 - p));
    }
    at = e + 2;
  }
  out.append(tpl.substr(at));
  return out;
}

}  // namespace zgate
