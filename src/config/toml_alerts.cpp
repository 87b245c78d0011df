// The TOML tables of alerting: [[alerts]] and [alerting].
#include "toml_reader.hpp"
#include "zgate/core/text.hpp"

namespace zgate::config_detail {

// One [[alerts]] rule; what depends on the kind is checked by validate().
void read_alert(const Reader& r, AlertRule& a, const toml::table& t, const std::string& prefix) {
  bool have_webhook = false, have_kind = false, have_threshold = false, have_format = false;
  r.each(t, prefix, [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "name") {
      a.name = r.str(v, path);
    } else if (key == "kind") {
      const auto k = parse_alert_kind(r.str(v, path));
      if (!k) r.fail(v, path, "must be error_rate, latency, requests, budget, upstream_failures or recorder_drops");
      a.kind = *k;
      have_kind = true;
    } else if (key == "threshold") {
      const auto x = number_of(v);
      if (!x || !(*x >= 0)) r.fail(v, path, "must be a non-negative number");
      a.threshold = *x;
      have_threshold = true;
    } else if (key == "below") {
      a.below = r.boolean(v, path);
    } else if (key == "stat") {
      a.stat = r.str(v, path);
      if (a.stat != "avg" && a.stat != "p95") r.fail(v, path, "must be avg or p95");
    } else if (key == "of") {
      a.of = r.str(v, path);
      if (a.of != "total" && a.of != "first_token") r.fail(v, path, "must be total or first_token");
    } else if (key == "window_s") {
      a.window = std::chrono::seconds(r.integer(v, path, 1, 86'400, "a number of seconds from 1 to 86400"));
    } else if (key == "repeat_s") {
      a.repeat = std::chrono::seconds(r.integer(v, path, 1, 7 * 86'400, "a number of seconds from 1 to 604800"));
    } else if (key == "key") {
      a.key = r.str(v, path);
    } else if (key == "model") {
      a.model = r.str(v, path);
    } else if (key == "min_requests") {
      a.min_requests = static_cast<uint64_t>(r.integer(v, path, 1, 1'000'000'000, "a positive integer"));
    } else if (key == "webhook" || key == "webhook_env") {
      a.webhook = r.secret(key, "webhook", v, path, have_webhook);
      if (a.webhook.empty()) r.fail(v, path, "must not be empty");
    } else if (key == "format") {
      const auto f = parse_alert_format(r.str(v, path));
      if (!f || *f == AlertFormat::custom) r.fail(v, path, "must be json, slack, feishu or dingtalk (or give template)");
      if (a.format == AlertFormat::custom) r.fail(v, path, "give either format or template, not both");
      a.format = *f;
      have_format = true;
    } else if (key == "template") {
      if (have_format) r.fail(v, path, "give either format or template, not both");
      a.body_template = r.str(v, path);
      a.format = AlertFormat::custom;
    } else {
      return false;
    }
    return true;
  });
  if (!have_kind) r.fail(t, prefix + ".kind", "is required");
  if (!have_threshold && a.kind != AlertKind::recorder_drops) r.fail(t, prefix + ".threshold", "is required");
  if (!have_threshold) a.threshold = 1;
}

void read_alerting(const Reader& r, const toml::node& n, Config& cfg) {
  auto& a = cfg.alerting;
  r.each(r.table(n, "alerting"), "alerting", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "interval_ms") {
      a.interval = Millis(r.integer(v, path, 10, 3'600'000, "a number of milliseconds from 10 to 3600000"));
    } else if (key == "webhook_timeout_ms") {
      a.webhook_timeout = Millis(r.integer(v, path, 1, 600'000, "a number of milliseconds from 1 to 600000"));
    } else if (key == "webhook_retry_delay_ms") {
      a.webhook_retry_delay = Millis(r.integer(v, path, 0, 600'000, "a number of milliseconds from 0 to 600000"));
    } else if (key == "queue") {
      a.queue = static_cast<std::size_t>(r.integer(v, path, 1, 100'000, "an integer from 1 to 100000"));
    } else if (key == "instance") {
      a.instance = r.str(v, path);
    } else {
      return false;
    }
    return true;
  });
}

}  // namespace zgate::config_detail
