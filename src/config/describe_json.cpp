// describe_json(): the effective configuration as JSON (GET /admin/config), every secret masked.
#include "detail.hpp"
#include "zgate/config/config.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/json/writer.hpp"

namespace zgate {
namespace {

// A secret as its fingerprint ("" when not set), never any of its characters.
void secret(json::Writer& w, json::Key k, std::string_view s) { w.kv(k, mask_secret(s)); }

// A list of secrets (a provider's keys or tokens), each masked.
void secrets(json::Writer& w, json::Key k, const std::vector<std::string>& list) {
  w.key(k).begin_array();
  for (const auto& s : list) w.string(mask_secret(s));
  w.end_array();
}

void ms(json::Writer& w, json::Key k, Millis v) { w.kv(k, static_cast<int64_t>(v.count())); }

void size(json::Writer& w, json::Key k, std::size_t v) { w.key(k).number(static_cast<uint64_t>(v)); }

// A key policy's fields; those not set (negative: [key_defaults] only) are left out.
void policy(json::Writer& w, const KeyPolicy& p) {
  if (p.models_set) {
    w.key("models").begin_array();
    for (const auto& m : p.models) w.string(m);
    w.end_array();
  }
  auto n = [&](json::Key k, int64_t v) { if (v >= 0) w.kv(k, v); };
  auto usd = [&](json::Key k, double v) { if (v >= 0) w.kv(k, v); };
  n("requests_per_minute", p.requests_per_minute);
  n("tokens_per_minute", p.tokens_per_minute);
  n("max_concurrent", p.max_concurrent);
  usd("budget_hour_usd", p.budget_hour_usd);
  usd("budget_day_usd", p.budget_day_usd);
  usd("budget_month_usd", p.budget_month_usd);
  if (p.cache >= 0) w.kv_bool("cache", p.cache == 1);
}

}  // namespace

std::string describe_json(const Config& c) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.kv("version", kVersion);
  w.kv("listen_host", c.listen_host).kv("listen_port", static_cast<int64_t>(c.listen_port));
  w.kv_bool("reuse_port", c.reuse_port);
  w.kv("workers", static_cast<int64_t>(c.workers));
  w.kv("background_priority", c.background_priority);
  w.key("api_keys").begin_array();
  for (const auto& k : c.api_keys) {
    w.begin_object().kv("label", k.label);
    secret(w, "key", k.key);
    w.kv_bool("disabled", k.disabled);
    policy(w, k.policy);
    w.end_object();
  }
  w.end_array();
  w.key("key_defaults").begin_object();
  policy(w, c.key_defaults);
  w.end_object();
  w.key("budget").begin_object();
  w.kv("hour_usd", c.budget.hour_usd).kv("day_usd", c.budget.day_usd).kv("month_usd", c.budget.month_usd);
  w.end_object();
  w.kv_bool("allow_no_auth", c.allow_no_auth);
  secret(w, "admin_key", c.admin_key);
  w.kv("cors_origin", c.cors_origin);
  w.key("providers").begin_array();
  for (const auto& p : c.providers) {
    w.begin_object();
    w.kv("name", p.name).kv("kind", to_string(p.kind)).kv("base_url", p.base_url);
    secret(w, "api_key", p.api_key);
    secrets(w, "api_keys", p.api_keys);
    w.kv("key_strategy", p.key_strategy);
    ms(w, "key_cooldown_ms", p.key_cooldown);
    ms(w, "key_quota_cooldown_ms", p.key_quota_cooldown);
    w.kv_bool("jwt", p.jwt).kv("ca_file", p.ca_file).kv_bool("verify_tls", p.verify_tls);
    w.kv("health_check_interval_s", static_cast<int64_t>(p.health_check_interval.count()));
    w.kv("health_check_model", p.health_check_model);
    // Extra headers often carry credentials: their names are shown, their values masked.
    w.key("headers").begin_object();
    for (const auto& [name, value] : p.headers) w.key_escaped(name).string(mask_secret(value));
    w.end_object();
    auto shaping = [&w](const ShapingLimits& l) {
      w.kv("max_concurrent", int64_t{l.max_concurrent});
      ms(w, "min_interval_ms", l.min_interval);
      w.kv("queue_max", static_cast<int64_t>(l.queue_max));
      ms(w, "queue_timeout_ms", l.queue_timeout);
    };
    shaping(p.shaping);
    w.key("shaping").begin_array();
    for (const auto& rule : p.shaping_rules) {
      w.begin_object();
      w.kv("model", rule.model);
      shaping(rule.limits);
      w.end_object();
    }
    w.end_array();
    if (p.kind == ProviderKind::zai_web) {
      const ZaiWebOptions& z = p.zai;
      w.key("zai").begin_object();
      secret(w, "token", z.token);
      secrets(w, "tokens", p.tokens);
      w.kv_bool("guest_per_conversation", z.guest_per_conversation);
      secret(w, "signing_secret", z.signing_secret);
      w.kv("fe_version", z.fe_version).kv_bool("refresh_fe_version", z.refresh_fe_version);
      w.kv("signed_path", z.signed_path).kv("legacy_path", z.legacy_path);
      w.kv("thinking_mode", z.thinking_mode).kv("user_agent", z.user_agent);
      w.kv_bool("function_calling", z.function_calling);
      w.end_object();
    }
    w.end_object();
  }
  w.end_array();
  w.kv("default_provider", c.default_provider).kv_bool("allow_unlisted_models", c.allow_unlisted_models);
  w.key("models").begin_array();
  for (const auto& m : c.models) {
    w.begin_object();
    w.kv("name", m.name).kv("provider", m.provider).kv("upstream_model", m.upstream_model);
    w.key("thinking");
    if (m.thinking) w.boolean(*m.thinking);
    else w.null();
    w.kv_bool("web_search", m.web_search).kv_bool("vision", m.vision);
    w.kv("max_output_tokens", m.max_output_tokens);
    if (m.cache) w.kv_bool("cache", *m.cache);
    w.kv("price_input", m.price_input).kv("price_output", m.price_output);
    w.kv("price_cached_input", m.price_cached_input);
    w.key("fallbacks").begin_array();
    for (const auto& f : m.fallbacks) w.string(f);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  // The settings that config_detail already lists by their TOML names, so that one added there
  // shows here too; then the others of the table.
  Timeouts t = c.timeouts;
  w.key("timeouts").begin_object();
  for (const auto& f : config_detail::positive_timeouts(t)) w.key_escaped(f.name).number(static_cast<int64_t>(f.value->count()));
  ms(w, "drain_delay_ms", t.drain_delay);
  ms(w, "stream_heartbeat_ms", t.stream_heartbeat);
  w.end_object();
  Limits l = c.limits;
  w.key("limits").begin_object();
  for (const auto& f : config_detail::positive_sizes(l)) w.key_escaped(f.name).number(static_cast<uint64_t>(*f.value));
  size(w, "pool_max_idle_per_host", l.pool_max_idle_per_host);
  ms(w, "pool_idle_timeout_ms", l.pool_idle_timeout);
  ms(w, "pool_check_idle_ms", l.pool_check_idle);
  size(w, "max_in_flight", l.max_in_flight);
  size(w, "max_streams", l.max_streams);
  w.end_object();
  w.key("retry").begin_object();
  w.kv("attempts", c.retry.attempts);
  ms(w, "base_delay_ms", c.retry.base_delay);
  ms(w, "max_delay_ms", c.retry.max_delay);
  ms(w, "budget_ms", c.retry.budget);
  w.end_object();
  w.key("health").begin_object();
  w.kv("window_s", static_cast<int64_t>(c.health.window.count() / 1000));
  w.kv("down_after_failures", c.health.down_after_failures);
  w.kv("degraded_error_rate", c.health.degraded_error_rate);
  w.end_object();
  w.key("log").begin_object();
  w.kv("level", c.log.level).kv_bool("access_log", c.log.access_log).kv("format", c.log.format);
  w.kv("file", c.log.file).kv("access_file", c.log.access_file);
  w.key("access_max_size").number(c.log.access_max_size);
  size(w, "access_keep", c.log.access_keep);
  size(w, "queue_size", c.log.queue_size);
  w.end_object();
  w.key("cache").begin_object();
  w.kv_bool("enabled", c.cache.enabled).kv("scope", c.cache.scope);
  w.kv("ttl_s", static_cast<int64_t>(c.cache.ttl.count()));
  size(w, "max_bytes", c.cache.max_bytes);
  size(w, "max_entry_bytes", c.cache.max_entry_bytes);
  w.kv_bool("disk", c.cache.disk).kv("file", cache_db_path(c));
  w.kv_bool("deterministic_only", c.cache.deterministic_only).kv("replay", c.cache.replay);
  w.kv("replay_speed", c.cache.replay_speed);
  ms(w, "replay_max_delay_ms", c.cache.replay_max_delay);
  w.end_object();
  w.key("capture").begin_object();
  w.kv_bool("enabled", c.capture.enabled);
  w.key("keys").begin_array();
  for (const auto& k : c.capture.keys) w.string(k);
  w.end_array();
  size(w, "max_bytes", c.capture.max_bytes);
  w.kv("file", capture_path(c));
  w.end_object();
  w.key("alerts").begin_array();
  for (const auto& a : c.alerts) {
    w.begin_object();
    w.kv("name", a.name).kv("kind", to_string(a.kind)).kv("threshold", a.threshold).kv_bool("below", a.below);
    w.kv("stat", a.stat).kv("of", a.of);
    w.kv("window_s", static_cast<int64_t>(a.window.count())).kv("repeat_s", static_cast<int64_t>(a.repeat.count()));
    w.kv("key", a.key).kv("model", a.model);
    w.key("min_requests").number(a.min_requests);
    secret(w, "webhook", a.webhook);  // URLs of incoming webhooks embed their token
    w.kv("format", to_string(a.format));
    w.kv("template", a.body_template);
    w.end_object();
  }
  w.end_array();
  w.key("alerting").begin_object();
  ms(w, "interval_ms", c.alerting.interval);
  ms(w, "webhook_timeout_ms", c.alerting.webhook_timeout);
  ms(w, "webhook_retry_delay_ms", c.alerting.webhook_retry_delay);
  size(w, "queue", c.alerting.queue);
  w.kv("instance", c.alerting.instance);
  w.end_object();
  w.kv("data_dir", c.data_dir).kv_bool("usage_store", c.usage_store);
  w.kv("usage_retention_days", c.usage_retention_days);
  w.kv_bool("debug", c.debug).kv_bool("demo", c.demo);
  w.end_object();
  return out;
}

}  // namespace zgate
