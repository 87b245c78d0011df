// Validation of the merged configuration: cross-references and ranges (ConfigError names the
// key), and the normalisation that follows from them (workers, default provider, routes, the
// built-in model tables).
#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include <fnmatch.h>

#include <fmt/format.h>

#include "detail.hpp"
#include "zgate/config/default_models.hpp"
#include "zgate/config/url.hpp"
#include "zgate/core/secret.hpp"

namespace zgate {
namespace {
// A shell glob (fnmatch(3)) against one model name.
bool price_rule_matches(const PriceRule& rule, std::string_view model) {
  if (model.empty()) return false;
  return ::fnmatch(rule.model.c_str(), std::string(model).c_str(), 0) == 0;
}
}  // namespace

namespace config_detail {

std::array<Field<Millis>, 12> positive_timeouts(Timeouts& t) {
  return {{
      {"client_header_read_ms", &t.client_header_read},
      {"client_body_read_ms", &t.client_body_read},
      {"client_write_ms", &t.client_write},
      {"client_keepalive_idle_ms", &t.client_keepalive_idle},
      {"upstream_connect_ms", &t.upstream_connect},
      {"upstream_tls_handshake_ms", &t.upstream_tls_handshake},
      {"upstream_write_ms", &t.upstream_write},
      {"upstream_first_byte_ms", &t.upstream_first_byte},
      {"upstream_stream_idle_ms", &t.upstream_stream_idle},
      {"shutdown_grace_ms", &t.shutdown_grace},
      {"lingering_time_ms", &t.lingering_time},
      {"lingering_timeout_ms", &t.lingering_timeout},
  }};
}

std::array<Field<std::size_t>, 6> positive_sizes(Limits& l) {
  return {{
      {"header_limit", &l.header_limit},
      {"body_limit", &l.body_limit},
      {"max_sse_event", &l.max_sse_event},
      {"max_upstream_body", &l.max_upstream_body},
      {"max_connections", &l.max_connections},
      {"tail_buffer", &l.tail_buffer},
  }};
}

}  // namespace config_detail

using namespace config_detail;

namespace {

std::string provider_key(std::size_t i, const ProviderConfig& p) {
  return p.name.empty() ? fmt::format("providers[{}]", i) : fmt::format("providers[{}] ({})", i, p.name);
}

// Upstream shaping's limits (the TOML reader checks the same ranges; this covers every source).
void validate_shaping(const ShapingLimits& l, const std::string& key) {
  if (l.max_concurrent > 10'000) throw ConfigError(key + ".max_concurrent: must be from 0 (no limit) to 10000");
  if (l.min_interval.count() < 0 || l.min_interval > std::chrono::hours(1))
    throw ConfigError(key + ".min_interval_ms: must be a number of milliseconds up to an hour (0 = none)");
  if (l.queue_max > 10'000) throw ConfigError(key + ".queue_max: must be from 0 (no queue) to 10000");
  if (l.queue_timeout.count() < 1 || l.queue_timeout.count() > 600'000)
    throw ConfigError(key + ".queue_timeout_ms: must be a number of milliseconds from 1 to 600000");
}

// One provider: its URL, keys and kind-specific options; fills base_url and api_keys.
void validate_provider(ProviderConfig& p, const std::string& key) {
  if (p.base_url.empty()) p.base_url = std::string(default_base_url(p.kind));
  if (!parse_url(p.base_url))
    throw ConfigError(fmt::format("{}.base_url: '{}' is not an http(s)://host[:port][/path] URL", key, p.base_url));
  if (p.kind == ProviderKind::zai_web && !p.api_keys.empty()) {
    // The generic upstream keys (ZGATE_UPSTREAM_KEY, --upstream-key, api_keys) of a zai-web
    // provider are its tokens.
    for (const auto& k : p.api_keys) {
      if (std::find(p.tokens.begin(), p.tokens.end(), k) == p.tokens.end()) p.tokens.push_back(k);
    }
    p.api_keys.clear();
  }
  if (!p.api_keys.empty()) {
    if (!p.api_key.empty() && p.api_key != p.api_keys.front() &&
        std::find(p.api_keys.begin(), p.api_keys.end(), p.api_key) == p.api_keys.end()) {
      p.api_keys.insert(p.api_keys.begin(), p.api_key);  // api_key and api_keys: all of them
    }
    p.api_key = p.api_keys.front();
  } else if (!p.api_key.empty()) {
    p.api_keys = {p.api_key};
  }
  if (p.health_check_interval.count() < 0 || p.health_check_interval > std::chrono::hours(24))
    throw ConfigError(fmt::format("{}.health_check_interval_s: must be from 0 (off) to 86400", key));
  if (p.health_check_interval.count() > 0) {
    if (p.kind != ProviderKind::zhipu)
      throw ConfigError(fmt::format("{}.health_check_interval_s: only zhipu providers are checked actively", key));
    if (p.health_check_model.empty())
      throw ConfigError(fmt::format("{}.health_check_model: the upstream model the health check asks is required", key));
  }
  if (!p.tokens.empty() && p.kind != ProviderKind::zai_web)
    throw ConfigError(fmt::format("{}.tokens: only zai-web providers take tokens (a zhipu provider: api_keys)", key));
  if (p.jwt) {
    if (p.kind != ProviderKind::zhipu) throw ConfigError(fmt::format("{}.jwt: only zhipu providers sign JWTs", key));
    if (p.api_keys.empty()) throw ConfigError(fmt::format("{}.jwt: the api_key must have the form <id>.<secret>", key));
    for (const auto& k : p.api_keys) {
      if (!looks_like_id_secret(k))
        throw ConfigError(fmt::format("{}.jwt: every api key must have the form <id>.<secret>", key));
    }
  }
  if (!p.ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p.ca_file, ec))
      throw ConfigError(fmt::format("{}.ca_file: '{}' is not a readable file", key, p.ca_file));
  }
  if (p.kind == ProviderKind::zai_web) {
    if (!valid_thinking_mode(p.zai.thinking_mode))
      throw ConfigError(fmt::format("{}.thinking_mode: '{}' is not reasoning, think_tags or strip", key,
                                    p.zai.thinking_mode));
    // The generic upstream key (--upstream-key / ZGATE_UPSTREAM_KEY) is the zai-web token.
    if (p.zai.token.empty() && !p.api_key.empty()) p.zai.token = p.api_key;
    // token and tokens: all of them, token first. Configured tokens win over guest_per_conversation
    // (as a single token always did).
    ZaiWebOptions& z = p.zai;
    if (!p.tokens.empty()) {
      for (std::size_t i = 0; i < p.tokens.size(); ++i) {
        if (p.tokens[i].empty()) throw ConfigError(fmt::format("{}.tokens[{}]: must not be empty", key, i));
      }
      if (!z.token.empty() && std::find(p.tokens.begin(), p.tokens.end(), z.token) == p.tokens.end())
        p.tokens.insert(p.tokens.begin(), z.token);
      z.token = p.tokens.front();
    } else if (!z.token.empty()) {
      p.tokens = {z.token};
    }
    if (p.zai.signed_path.empty() || p.zai.signed_path.front() != '/')
      throw ConfigError(fmt::format("{}.signed_path: must start with '/'", key));
    if (p.zai.legacy_path.empty() || p.zai.legacy_path.front() != '/')
      throw ConfigError(fmt::format("{}.legacy_path: must start with '/'", key));
  }
  validate_shaping(p.shaping, key);
  for (std::size_t i = 0; i < p.shaping_rules.size(); ++i) {
    const std::string rule = fmt::format("{}.shaping[{}]", key, i);
    if (p.shaping_rules[i].model.empty()) throw ConfigError(rule + ".model: a model name or glob is required");
    validate_shaping(p.shaping_rules[i].limits, rule);
  }
}

void validate_providers(Config& cfg) {
  if (cfg.providers.empty()) throw ConfigError("providers: at least one provider is required");
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < cfg.providers.size(); ++i) {
    auto& p = cfg.providers[i];
    const std::string key = provider_key(i, p);
    if (p.name.empty()) throw ConfigError(fmt::format("{}.name: must not be empty", key));
    if (!names.insert(p.name).second) throw ConfigError(fmt::format("{}.name: duplicate provider name", key));
    validate_provider(p, key);
  }
  if (cfg.default_provider.empty()) {
    cfg.default_provider = cfg.providers.front().name;
  } else if (!cfg.find_provider(cfg.default_provider)) {
    throw ConfigError(fmt::format("default_provider: no provider named '{}'", cfg.default_provider));
  }
}

// The configured routes; returns their names. Fills each route's empty provider / upstream_model.
std::set<std::string> validate_models(Config& cfg) {
  std::set<std::string> model_names;
  for (std::size_t i = 0; i < cfg.models.size(); ++i) {
    auto& m = cfg.models[i];
    const std::string key = m.name.empty() ? fmt::format("models[{}]", i) : fmt::format("models[{}] ({})", i, m.name);
    if (m.name.empty()) throw ConfigError(fmt::format("{}.name: must not be empty", key));
    if (!model_names.insert(m.name).second) throw ConfigError(fmt::format("{}.name: duplicate model name", key));
    if (m.provider.empty()) m.provider = cfg.default_provider;
    if (!cfg.find_provider(m.provider))
      throw ConfigError(fmt::format("{}.provider: no provider named '{}'", key, m.provider));
    if (m.upstream_model.empty()) m.upstream_model = m.name;
    if (m.max_output_tokens < 0) throw ConfigError(fmt::format("{}.max_output_tokens: must not be negative", key));
    if (m.price_input < 0 || m.price_output < 0 || m.price_cached_input < 0)
      throw ConfigError(fmt::format("{}: prices must not be negative", key));
    // A configured route to a model of the built-in table costs what the table says (unless
    // it has its own price or a [[prices]] rule matches: see apply_prices()).
    if (!m.priced()) {
      if (const ProviderConfig* p = cfg.find_provider(m.provider)) {
        for (const auto& d : default_models(p->kind, p->name)) {
          if (d.upstream_model == m.upstream_model && d.priced() && d.thinking == std::nullopt && !d.web_search) {
            m.set_price({d.price_input, d.price_output, d.price_cached_input}, PriceSource::builtin);
            break;
          }
        }
      }
    }
  }
  return model_names;
}

// A route's fallbacks name other routes (configured or built in), each once.
void validate_fallbacks(const Config& cfg, const std::set<std::string>& model_names) {
  for (std::size_t i = 0; i < cfg.models.size(); ++i) {
    const auto& m = cfg.models[i];
    std::set<std::string_view> seen;
    for (const auto& f : m.fallbacks) {
      const std::string key = fmt::format("models[{}] ({}).fallbacks", i, m.name);
      if (f == m.name) throw ConfigError(fmt::format("{}: '{}' is the route itself", key, f));
      if (!model_names.contains(f))
        throw ConfigError(fmt::format("{}: no model route named '{}' (a fallback names another [[models]] "
                                      "entry or a built-in model)", key, f));
      if (!seen.insert(f).second) throw ConfigError(fmt::format("{}: '{}' is listed twice", key, f));
    }
  }
}

// Providers without any route get their kind's built-in table. The default provider goes
// first and keeps the bare names; a clash for another provider is published as
// "<provider>/<name>" so every provider stays reachable.
void add_default_models(Config& cfg, std::set<std::string>& model_names) {
  std::vector<const ProviderConfig*> order;
  order.push_back(cfg.find_provider(cfg.default_provider));
  for (const auto& p : cfg.providers) {
    if (&p != order.front()) order.push_back(&p);
  }
  std::set<std::string_view> routed;
  for (const auto& m : cfg.models) routed.insert(m.provider);
  std::vector<ModelRoute> added;
  for (const ProviderConfig* p : order) {
    if (routed.count(p->name)) continue;
    for (auto& m : default_models(p->kind, p->name)) {
      if (model_names.count(m.name)) m.name = p->name + "/" + m.name;
      if (!model_names.insert(m.name).second) continue;
      added.push_back(std::move(m));
    }
  }
  for (auto& m : added) cfg.models.push_back(std::move(m));
}

// A key's policy with every field it does not set taken from `d` ([key_defaults]); what neither
// sets is 0 (no limit) / every model.
void resolve_policy(KeyPolicy& p, const KeyPolicy& d) {
  if (!p.models_set && p.models.empty()) {
    p.models = d.models;
    p.models_set = true;
  }
  auto pick = [](auto& v, auto def) { v = v >= 0 ? v : def >= 0 ? def : 0; };
  pick(p.requests_per_minute, d.requests_per_minute);
  pick(p.tokens_per_minute, d.tokens_per_minute);
  pick(p.max_concurrent, d.max_concurrent);
  pick(p.budget_hour_usd, d.budget_hour_usd);
  pick(p.budget_day_usd, d.budget_day_usd);
  pick(p.budget_month_usd, d.budget_month_usd);
  if (p.cache < 0) p.cache = d.cache;  // -1 stays: follow the route / [cache]
}

void validate_client_keys(Config& cfg) {
  check_api_keys(cfg.api_keys, "api_keys");
  for (auto& k : cfg.api_keys) resolve_policy(k.policy, cfg.key_defaults);
  if (cfg.api_keys.empty() && !cfg.allow_no_auth) {
    // The explicit offline demo answers from the bundled mock; refusing to start without a
    // client key would only get in the way of trying it.
    if (!cfg.demo)
      throw ConfigError("no client API key configured: set ZGATE_API_KEYS (or API_KEY), or pass --allow-no-auth");
    cfg.allow_no_auth = true;
  }
  // The admin key opens the operator's endpoints: one that is also a client key would let
  // every holder of that client key in.
  const std::string admin_digest = cfg.admin_key.empty() ? std::string() : sha256_hex(cfg.admin_key);
  for (const auto& k : cfg.api_keys) {
    if (!cfg.admin_key.empty() && key_digest_hex(k) == admin_digest)
      throw ConfigError(fmt::format("admin_key: must differ from every client key (it equals the key labelled '{}')", k.label));
  }
}

// Every route without a price of its own ([[models]] price_* keys) takes the first matching
// [[prices]] rule, which wins over the built-in table (an operator correcting a stale price);
// a route still unpriced then takes default_price.
void apply_prices(Config& cfg) {
  for (std::size_t i = 0; i < cfg.prices.size(); ++i) {
    const auto& rule = cfg.prices[i];
    if (rule.model.empty()) throw ConfigError(fmt::format("prices[{}].model: must not be empty", i));
    if (!rule.provider.empty() && !cfg.find_provider(rule.provider))
      throw ConfigError(fmt::format("prices[{}].provider: no provider named '{}'", i, rule.provider));
  }
  for (auto& m : cfg.models) {
    if (m.price_source == PriceSource::route) continue;
    for (const auto& rule : cfg.prices) {
      if (!rule.provider.empty() && rule.provider != m.provider) continue;
      if (price_rule_matches(rule, m.name) || price_rule_matches(rule, m.upstream_model)) {
        m.set_price(rule.price, PriceSource::rule);
        break;
      }
    }
    if (!m.priced() && cfg.default_price) m.set_price(*cfg.default_price, PriceSource::default_price);
  }
}

void validate_log_and_limits(Config& cfg) {
  if (!valid_log_level(cfg.log.level))
    throw ConfigError(fmt::format("log.level: '{}' is not one of trace, debug, info, warn, error, off", cfg.log.level));
  if (!valid_log_format(cfg.log.format))
    throw ConfigError(fmt::format("log.format: '{}' is not json or text", cfg.log.format));
  if (cfg.log.access_keep == 0 || cfg.log.access_keep > 1000)
    throw ConfigError("log.access_keep: must be an integer from 1 to 1000");
  if (cfg.log.queue_size == 0) throw ConfigError("log.queue_size: must be a positive integer");

  for (const auto& [name, v] : positive_sizes(cfg.limits)) {
    if (*v == 0) throw ConfigError(fmt::format("limits.{}: must be a positive integer", name));
  }
  for (const auto& [name, v] : positive_timeouts(cfg.timeouts)) {
    if (v->count() <= 0) throw ConfigError(fmt::format("timeouts.{}: must be a positive integer", name));
  }
  if (cfg.limits.pool_idle_timeout.count() <= 0)
    throw ConfigError("limits.pool_idle_timeout_ms: must be a positive integer");
}

}  // namespace

void validate(Config& cfg) {
  if (cfg.listen_host.empty()) throw ConfigError("listen: the host is empty");
  if (cfg.workers == 0) cfg.workers = std::max(1u, std::thread::hardware_concurrency());
  if (cfg.workers > 1024) throw ConfigError(fmt::format("workers: {} is more than 1024", cfg.workers));

  validate_providers(cfg);
  std::set<std::string> model_names = validate_models(cfg);
  add_default_models(cfg, model_names);
  validate_fallbacks(cfg, model_names);
  apply_prices(cfg);
  validate_client_keys(cfg);
  validate_log_and_limits(cfg);
  validate_alerts(cfg);
  // [health] (the TOML reader checks the same ranges; this covers every source).
  const HealthSettings& h = cfg.health;
  if (h.window < std::chrono::seconds(10) || h.window > std::chrono::hours(1))
    throw ConfigError("health.window_s: must be from 10 to 3600 seconds");
  if (h.down_after_failures < 1) throw ConfigError("health.down_after_failures: must be at least 1");
  if (!(h.degraded_error_rate > 0 && h.degraded_error_rate <= 1))
    throw ConfigError("health.degraded_error_rate: must be above 0 and at most 1");
}

}  // namespace zgate
