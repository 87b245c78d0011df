// The TOML tables of alerting: [[alerts]] and [alerting].
#include "toml_reader.hpp"
#include "zgate/core/text.hpp"

namespace zgate::config_detail {

// One [[alerts]] rule; what depends on the kind is checked by validate().
void read_alert(const Reader& r, AlertRule& a, const toml::table& t, const std::string& prefix) {
  bool have_webhook = false, have_kind = false, have_threshold = false, have_format = false;
  read_table(r, t, prefix,
             {{"name", &a.name},
              {"below", &a.below},
              {"stat", &a.stat, {"avg", "p95"}, "must be avg or p95"},
              {"of", &a.of, {"total", "first_token"}, "must be total or first_token"},
              {"window_s", &a.window, {1, 86'400, "a number of seconds from 1 to 86400"}},
              {"repeat_s", &a.repeat, {1, 7 * 86'400, "a number of seconds from 1 to 604800"}},
              {"key", &a.key},
              {"model", &a.model},
              {"min_requests", &a.min_requests, {1, 1'000'000'000, "a positive integer"}}},
             [&](std::string_view key, const toml::node& v, const std::string& path) {
               if (key == "kind") {
                 const auto k = parse_alert_kind(r.str(v, path));
                 if (!k)
                   r.fail(v, path, "must be error_rate, latency, requests, budget, upstream_failures or recorder_drops");
                 a.kind = *k;
                 have_kind = true;
               } else if (key == "threshold") {
                 const auto x = number_of(v);
                 if (!x || !(*x >= 0)) r.fail(v, path, "must be a non-negative number");
                 a.threshold = *x;
                 have_threshold = true;
               } else if (key == "webhook" || key == "webhook_env") {
                 a.webhook = r.secret(key, "webhook", v, path, have_webhook);
                 if (a.webhook.empty()) r.fail(v, path, "must not be empty");
               } else if (key == "format") {
                 const auto f = parse_alert_format(r.str(v, path));
                 if (!f || *f == AlertFormat::custom)
                   r.fail(v, path, "must be json, slack, feishu or dingtalk (or give template)");
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
  read_table(r, r.table(n, "alerting"), "alerting",
             {{"interval_ms", &a.interval, {10, 3'600'000, "a number of milliseconds from 10 to 3600000"}},
              {"webhook_timeout_ms", &a.webhook_timeout, {1, 600'000, "a number of milliseconds from 1 to 600000"}},
              {"webhook_retry_delay_ms", &a.webhook_retry_delay,
               {0, 600'000, "a number of milliseconds from 0 to 600000"}},
              {"queue", &a.queue, {1, 100'000, "an integer from 1 to 100000"}},
              {"instance", &a.instance}});
}

}  // namespace zgate::config_detail
