// Webhook bodies: zgate's own JSON object, the incoming-webhook shapes of Slack, Feishu and
// DingTalk, and custom templates.
#include <ctime>

#include <fmt/format.h>

#include "zgate/alert/alert.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::alert {
namespace {

std::string number(double v) {
  std::string out;
  json::Writer(out).number(v);
  return out;
}

// The one line chat webhooks show.
std::string text_line(const AlertRule& rule, const Event& e, std::string_view instance) {
  return fmt::format("[zgate {}] {} {}{}{}: {}", instance, e.state == State::firing ? "FIRING" : "RESOLVED", rule.name,
                     e.scope.empty() ? "" : " ", e.scope, e.message);
}

}  // namespace

std::string iso_time(int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string render_body(const AlertRule& rule, const Event& e, std::string_view instance) {
  std::string out;
  json::Writer w(out);
  switch (rule.format) {
    case AlertFormat::json:
      w.begin_object();
      w.kv("name", rule.name).kv("kind", zgate::to_string(e.kind)).kv("state", to_string(e.state));
      w.kv("scope", e.scope).kv("value", e.value).kv("threshold", e.threshold).kv("message", e.message);
      w.kv("started_at", iso_time(e.started_at_ms)).kv("at", iso_time(e.at_ms));
      w.key("instance").begin_object().kv("name", instance).kv("version", kVersion).end_object();
      w.end_object();
      break;
    case AlertFormat::slack:
      w.begin_object().kv("text", text_line(rule, e, instance)).end_object();
      break;
    case AlertFormat::feishu:
      w.begin_object().kv("msg_type", "text");
      w.key("content").begin_object().kv("text", text_line(rule, e, instance)).end_object();
      w.end_object();
      break;
    case AlertFormat::dingtalk:
      w.begin_object().kv("msgtype", "text");
      w.key("text").begin_object().kv("content", text_line(rule, e, instance)).end_object();
      w.end_object();
      break;
    case AlertFormat::custom:
      out = render_alert_template(rule.body_template, [&](std::string_view name) -> std::string {
        if (name == "name") return rule.name;
        if (name == "kind") return std::string(zgate::to_string(e.kind));
        if (name == "state") return std::string(to_string(e.state));
        if (name == "value") return number(e.value);
        if (name == "threshold") return number(e.threshold);
        if (name == "message") return e.message;
        if (name == "started_at") return iso_time(e.started_at_ms);
        if (name == "instance") return std::string(instance);
        if (name == "scope") return e.scope;
        return {};
      });
      break;
  }
  return out;
}

}  // namespace zgate::alert
