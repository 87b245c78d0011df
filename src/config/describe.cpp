// describe(): the start-up summary of the configuration, every secret masked.
#include <fmt/format.h>

#include "zgate/config/config.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/core/text.hpp"

namespace zgate {
namespace {

std::string shown(std::string_view secret) { return secret.empty() ? std::string("(none)") : mask_secret(secret); }

template <typename... Args>
void line(std::string& out, fmt::format_string<Args...> f, Args&&... args) {
  fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
  out.push_back('\n');
}

std::string listen_str(const Config& c) {
  return c.listen_host.find(':') != std::string::npos ? fmt::format("[{}]:{}", c.listen_host, c.listen_port)
                                                      : fmt::format("{}:{}", c.listen_host, c.listen_port);
}

}  // namespace

std::string describe(const Config& c) {
  std::string out;
  line(out, "zgate {}: listen {}{}, {} worker(s){}{}", kVersion, listen_str(c),
       c.reuse_port ? " (port shared: reuse_port)" : "", c.workers, c.debug ? ", debug" : "",
       c.demo ? ", demo (bundled mock upstream)" : "");
  std::string keys;
  for (const auto& k : c.api_keys) {
    if (!keys.empty()) keys += ", ";
    // A digest shows the same fingerprint as its key would (the first 8 hex digits of its SHA-256).
    keys += k.label + "=" + (k.key_sha256.empty() ? shown(k.key) : "sha256:" + text::to_lower(k.key_sha256.substr(0, 8)));
  }
  line(out, "client keys: {} [{}]{}", c.api_keys.size(), keys, c.allow_no_auth ? "; requests without a key allowed" : "");
  for (const auto& k : c.api_keys) {
    const KeyPolicy& p = k.policy;
    std::string lim;
    auto add = [&](std::string s) { lim += (lim.empty() ? "" : ", ") + s; };
    if (k.disabled) add("disabled");
    if (!p.models.empty()) {
      std::string m;
      for (const auto& g : p.models) m += (m.empty() ? "" : " ") + g;
      add(fmt::format("models [{}]", m));
    }
    if (p.requests_per_minute > 0) add(fmt::format("{} req/min", p.requests_per_minute));
    if (p.tokens_per_minute > 0) add(fmt::format("{} tokens/min", p.tokens_per_minute));
    if (p.max_concurrent > 0) add(fmt::format("{} concurrent", p.max_concurrent));
    if (p.budget_hour_usd > 0) add(fmt::format("${}/hour", p.budget_hour_usd));
    if (p.budget_day_usd > 0) add(fmt::format("${}/day", p.budget_day_usd));
    if (p.budget_month_usd > 0) add(fmt::format("${}/month", p.budget_month_usd));
    if (p.cache >= 0) add(p.cache ? "cache on" : "cache off");
    if (!lim.empty()) line(out, "  key {}: {}", k.label, lim);
  }
  if (c.budget.any())
    line(out, "global budget (USD): hour {} day {} month {} (0 = none)", c.budget.hour_usd, c.budget.day_usd,
         c.budget.month_usd);
  {
    std::size_t routes_on = 0;
    for (const auto& m : c.models) routes_on += m.cache.value_or(false) ? 1 : 0;
    if (c.cache.enabled || routes_on > 0)
      line(out, "cache: {} (routes turning it on: {}), scope {}, ttl {} s, {} MiB in memory{}, {}{}", c.cache.enabled ? "on" : "off",
           routes_on, c.cache.scope, c.cache.ttl.count(), c.cache.max_bytes / (1024 * 1024),
           c.cache.disk ? ", on disk" : "", c.cache.deterministic_only ? "deterministic requests only" : "all requests",
           c.cache.replay == "paced" ? fmt::format(", paced replay x{}", c.cache.replay_speed) : std::string());
  }
  if (!c.metrics_listen_host.empty()) {
    const bool v6 = c.metrics_listen_host.find(':') != std::string::npos;
    line(out, "metrics: also served on {}{}{}:{} (/metrics, /health)", v6 ? "[" : "", c.metrics_listen_host,
         v6 ? "]" : "", c.metrics_listen_port);
  }
  line(out, "admin key: {}", c.admin_key.empty() ? std::string("(none: the admin API is off)") : shown(c.admin_key));
  for (const auto& p : c.providers) {
    std::string keys_shown = shown(p.api_key);
    if (p.api_keys.size() > 1) {
      keys_shown.clear();
      for (const auto& k : p.api_keys) {
        if (!keys_shown.empty()) keys_shown += ',';
        keys_shown += shown(k);
      }
      keys_shown = fmt::format("[{}] ({}, cooldown {} ms, quota cooldown {} ms)", keys_shown, p.key_strategy,
                               p.key_cooldown.count(), p.key_quota_cooldown.count());
    }
    line(out, "provider {}{}: {} {} key={} jwt={} verify_tls={}{}{}", p.name, p.name == c.default_provider ? " (default)" : "",
         to_string(p.kind), p.base_url, keys_shown, p.jwt, p.verify_tls,
         p.ca_file.empty() ? "" : " ca_file=", p.ca_file);
    for (const auto& [h, v] : p.headers) line(out, "  header {}: {}", h, shown(v));
    if (p.health_check_interval.count() > 0)
      line(out, "  health check: every {} s, model {}", p.health_check_interval.count(), p.health_check_model);
    auto shaping = [&out](std::string_view what, const ShapingLimits& l) {
      line(out, "  shaping {}: max_concurrent={} min_interval={} ms queue_max={} queue_timeout={} ms", what,
           l.max_concurrent, l.min_interval.count(), l.queue_max, l.queue_timeout.count());
    };
    if (p.shaping.active()) shaping("(every model)", p.shaping);
    for (const auto& rule : p.shaping_rules) shaping(rule.model, rule.limits);
    if (p.kind == ProviderKind::zai_web) {
      std::string tokens_shown = p.zai.token.empty() ? std::string("(guest)") : mask_secret(p.zai.token);
      if (p.tokens.size() > 1) {
        tokens_shown.clear();
        for (const auto& t : p.tokens) tokens_shown += (tokens_shown.empty() ? "" : ",") + mask_secret(t);
        tokens_shown = fmt::format("[{}] ({}, cooldown {} ms, quota cooldown {} ms)", tokens_shown, p.key_strategy,
                                   p.key_cooldown.count(), p.key_quota_cooldown.count());
      }
      line(out, "  zai-web: token={} guest_per_conversation={} signing_secret={} fe_version={}{} thinking_mode={} "
           "function_calling={} signed_path={} legacy_path={}{}{}",
           tokens_shown, p.zai.guest_per_conversation,
           shown(p.zai.signing_secret), p.zai.fe_version, p.zai.refresh_fe_version ? " (refreshed at start)" : "",
           p.zai.thinking_mode, p.zai.function_calling, p.zai.signed_path, p.zai.legacy_path,
           p.zai.user_agent.empty() ? "" : " user_agent=", p.zai.user_agent);
    }
  }
  std::string models;
  for (const auto& m : c.models) {
    if (!models.empty()) models += ", ";
    models += m.name;
    if (m.upstream_model != m.name || m.provider != c.default_provider)
      models += fmt::format(" -> {}/{}", m.provider, m.upstream_model);
    for (std::size_t i = 0; i < m.fallbacks.size(); ++i) models += (i ? ", " : " (fallbacks: ") + m.fallbacks[i];
    if (!m.fallbacks.empty()) models += ")";
  }
  line(out, "models ({}): {}", c.models.size(), models);
  std::string unpriced;
  std::size_t n_unpriced = 0;
  for (const auto& m : c.models) {
    if (m.priced()) continue;
    unpriced += (unpriced.empty() ? "" : ", ") + m.name;
    ++n_unpriced;
  }
  if (n_unpriced)
    line(out, "routes without a price ({}, cost 0 in the logs): {}", n_unpriced, unpriced);
  else
    line(out, "prices: every route priced");
  if (!c.prices.empty() || c.default_price) {
    std::string rules;
    for (const auto& r : c.prices)
      rules += fmt::format("{}{} {}/{}/{}", rules.empty() ? "" : ", ", r.model, r.price.input, r.price.output,
                           r.price.cached_input);
    line(out, "price rules (USD per M tokens in/out/cached): [{}]; default {}", rules,
         c.default_price ? fmt::format("{}/{}/{}", c.default_price->input, c.default_price->output,
                                       c.default_price->cached_input)
                         : std::string("none (unlisted models without a rule are unpriced)"));
  }
  line(out, "unlisted models: {}",
       !c.allow_unlisted_models ? std::string("rejected")
       : c.default_price        ? fmt::format("passed to {}", c.default_provider)
                                : fmt::format("passed to {}; unpriced unless a [[prices]] rule or the built-in table "
                                              "prices them (no default_price)",
                                              c.default_provider));
  const auto& t = c.timeouts;
  line(out, "timeouts (ms): client header {} body {} write {} keepalive {}; upstream connect {} tls {} write {} "
       "first byte {} stream idle {}, stream heartbeat {}; drain delay {}, shutdown grace {}; lingering close {} (quiet {})",
       t.client_header_read.count(), t.client_body_read.count(), t.client_write.count(),
       t.client_keepalive_idle.count(), t.upstream_connect.count(), t.upstream_tls_handshake.count(),
       t.upstream_write.count(), t.upstream_first_byte.count(), t.upstream_stream_idle.count(),
       t.stream_heartbeat.count() ? std::to_string(t.stream_heartbeat.count()) : std::string("off"),
       t.drain_delay.count(), t.shutdown_grace.count(), t.lingering_time.count(), t.lingering_timeout.count());
  const auto& l = c.limits;
  line(out, "limits: header {} B, body {} B, sse event {} B, upstream body {} B, pool {} idle/host for {} ms, "
       "max connections {}, max in flight {}, max streams {}",
       l.header_limit, l.body_limit, l.max_sse_event, l.max_upstream_body, l.pool_max_idle_per_host,
       l.pool_idle_timeout.count(), l.max_connections,
       l.max_in_flight ? std::to_string(l.max_in_flight) : std::string("unlimited"),
       l.max_streams ? std::to_string(l.max_streams) : std::string("unlimited"));
  line(out, "retry: {} attempt(s) in all, backoff {}..{} ms with full jitter, within {} ms", c.retry.attempts,
       c.retry.base_delay.count(), c.retry.max_delay.count(), c.retry.budget.count());
  line(out, "upstream health: window {} s, down after {} consecutive failures, degraded from error rate {}",
       c.health.window.count() / 1000, c.health.down_after_failures, c.health.degraded_error_rate);
  line(out, "log: level {} format {} access_log {} to {} (queue {}); cors origin {}; data dir {}", c.log.level,
       c.log.format, c.log.access_log, c.log.file.empty() ? "stderr" : c.log.file, c.log.queue_size,
       c.cors_origin, c.data_dir);
  line(out, "background threads: {}", c.background_priority == "nice" ? "nice +5" : "SCHED_IDLE (idle)");
  line(out, "usage store: {}", !c.usage_store ? std::string("off")
                               : fmt::format("{} (retention {})", usage_db_path(c),
                                             c.usage_retention_days > 0
                                                 ? fmt::format("{} days", c.usage_retention_days)
                                                 : std::string("forever")));
  for (const auto& a : c.alerts) {
    line(out, "alert {}: {} {} {}{}{}{}, window {} s, repeat {} s, webhook {} ({})", a.name, to_string(a.kind),
         a.below ? "<" : ">", a.threshold,
         a.kind == AlertKind::latency ? fmt::format(" ms ({} of {})", a.stat, a.of) : std::string(),
         a.key.empty() ? "" : " key=" + a.key, a.model.empty() ? "" : " model=" + a.model, a.window.count(),
         a.repeat.count(), shown(a.webhook), to_string(a.format));
  }
  return out;
}

}  // namespace zgate
