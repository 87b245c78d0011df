// The environment layer of the configuration: server settings, client keys and the provider
// named "default" (used when the TOML file declares no [[providers]]).
#include <cstdlib>

#include <fmt/format.h>

#include "detail.hpp"
#include "zgate/core/text.hpp"

namespace zgate::config_detail {
namespace {
const char* real_env(const char* name) { return std::getenv(name); }
}  // namespace

Env::Env(EnvLookup fn) : fn_(fn ? fn : &real_env) {}

std::optional<std::string_view> Env::get(const char* name) const {
  const char* v = fn_(name);
  if (!v || !*v) return std::nullopt;
  return std::string_view(v);
}

std::optional<bool> Env::get_bool(const char* name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  auto b = text::parse_bool(*v);
  if (!b) throw ConfigError(fmt::format("environment {}: must be true or false (or 1/0), got '{}'", name, *v));
  return b;
}

namespace {

// The provider named "default".
ProviderConfig env_provider(const Env& env) {
  ProviderConfig p;
  p.name = "default";
  if (auto v = env.get("ZGATE_PROVIDER")) {
    auto k = parse_kind(*v);
    if (!k) throw ConfigError(fmt::format("environment ZGATE_PROVIDER: '{}' is not zhipu or zai-web", *v));
    p.kind = *k;
  }
  p.base_url = std::string(env.get("ZGATE_UPSTREAM_URL").value_or(default_base_url(p.kind)));
  if (auto v = env.get("ZGATE_UPSTREAM_KEY")) {
    // Several keys may be given, comma-separated: requests rotate among them.
    p.api_keys = text::split_list(*v);
    p.api_key = p.api_keys.empty() ? std::string() : p.api_keys.front();
  }
  if (auto b = env.get_bool("ZGATE_UPSTREAM_JWT")) p.jwt = *b;
  if (auto v = env.get("ZGATE_UPSTREAM_CA")) p.ca_file = std::string(*v);
  if (auto v = env.get("UPSTREAM_TOKEN")) p.zai.token = std::string(text::trim(*v));
  if (auto v = env.get("ZGATE_ZAI_SIGNING_SECRET")) p.zai.signing_secret = std::string(*v);
  if (auto v = env.get("ZGATE_ZAI_FE_VERSION")) p.zai.fe_version = std::string(text::trim(*v));
  if (auto b = env.get_bool("ZGATE_ZAI_GUEST_PER_CONVERSATION")) p.zai.guest_per_conversation = *b;
  if (auto v = env.get("ZGATE_THINKING_MODE")) {
    if (!valid_thinking_mode(*v))
      throw ConfigError(fmt::format("environment ZGATE_THINKING_MODE: '{}' is not reasoning, think_tags or strip", *v));
    p.zai.thinking_mode = std::string(*v);
  }
  return p;
}

}  // namespace

void apply_env(Config& cfg, const Env& env) {
  // PORT (the original deployment's variable) sets only the port; ZGATE_LISTEN wins over it.
  if (auto v = env.get("PORT")) {
    auto p = text::parse_port(text::trim(*v), /*allow_zero=*/true);
    if (!p) throw ConfigError(fmt::format("environment PORT: '{}' is not a number from 0 to 65535", *v));
    cfg.listen_port = *p;
  }
  if (auto v = env.get("ZGATE_LISTEN")) {
    if (auto err = parse_listen(*v, cfg.listen_host, cfg.listen_port); !err.empty())
      throw ConfigError(fmt::format("environment ZGATE_LISTEN: {}", err));
  }
  if (auto b = env.get_bool("ZGATE_REUSE_PORT")) cfg.reuse_port = *b;
  if (auto v = env.get("ZGATE_METRICS_LISTEN")) {
    if (auto err = parse_listen(*v, cfg.metrics_listen_host, cfg.metrics_listen_port); !err.empty())
      throw ConfigError(fmt::format("environment ZGATE_METRICS_LISTEN: {}", err));
  }
  if (auto v = env.get("ZGATE_WORKERS")) {
    auto n = text::parse_port(text::trim(*v), /*allow_zero=*/true);  // any small non-negative integer
    if (!n) throw ConfigError(fmt::format("environment ZGATE_WORKERS: '{}' is not a non-negative integer", *v));
    cfg.workers = *n;
  }
  if (auto v = env.get("ZGATE_BACKGROUND_PRIORITY")) {
    const std::string s(text::trim(*v));
    if (s != "idle" && s != "nice")
      throw ConfigError(fmt::format("environment ZGATE_BACKGROUND_PRIORITY: '{}' is not \"idle\" or \"nice\"", *v));
    cfg.background_priority = s;
  }
  // ZGATE_API_KEYS wins over the single API_KEY of the original deployment.
  if (auto v = env.get("ZGATE_API_KEYS")) {
    int counter = 0;
    for (const auto& entry : text::split_list(*v)) cfg.api_keys.push_back(parse_api_key_entry(entry, counter));
    check_api_keys(cfg.api_keys, "environment ZGATE_API_KEYS");
  } else if (auto k = env.get("API_KEY")) {
    cfg.api_keys.push_back(ApiKey{"default", std::string(text::trim(*k))});
  }
  if (auto b = env.get_bool("ZGATE_ALLOW_NO_AUTH")) cfg.allow_no_auth = *b;
  if (auto v = env.get("ZGATE_ADMIN_KEY")) cfg.admin_key = std::string(text::trim(*v));
  if (auto v = env.get("ZGATE_DATA_DIR")) cfg.data_dir = std::string(*v);
  if (auto b = env.get_bool("ZGATE_USAGE_STORE")) cfg.usage_store = *b;
  if (auto b = env.get_bool("DEBUG_MODE")) {
    cfg.debug = *b;
    if (*b) cfg.log.level = "debug";
  }
  if (auto v = env.get("ZGATE_LOG_LEVEL")) {
    if (!valid_log_level(*v))
      throw ConfigError(fmt::format("environment ZGATE_LOG_LEVEL: '{}' is not one of trace, debug, info, warn, error, off", *v));
    cfg.log.level = std::string(*v);
  }
  if (auto v = env.get("ZGATE_LOG_FORMAT")) {
    if (!valid_log_format(*v))
      throw ConfigError(fmt::format("environment ZGATE_LOG_FORMAT: '{}' is not json or text", *v));
    cfg.log.format = std::string(*v);
  }
  if (auto b = env.get_bool("ZGATE_ACCESS_LOG")) cfg.log.access_log = *b;
  if (auto v = env.get("ZGATE_ACCESS_LOG_FILE")) cfg.log.access_file = std::string(*v);
  if (auto b = env.get_bool("ZGATE_DEMO")) cfg.demo = *b;

  cfg.providers.clear();
  cfg.providers.push_back(env_provider(env));
}

}  // namespace zgate::config_detail
