// The command-line layer of the configuration: flags win over everything else.
#include <sstream>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "detail.hpp"

namespace zgate::config_detail {

CliValues parse_cli(int argc, const char* const* argv) {
  CliValues v;
  if (argc <= 0 || argv == nullptr) return v;
  CLI::App app{"zgate: an OpenAI-compatible gateway for Zhipu GLM models (Z.ai)", "zgate"};
  app.set_version_flag("--version", fmt::format("zgate {}", kVersion));
  // Each flag's help names the environment variable that sets the same value.
  const auto option = [&app](const char* name, auto& value, std::string_view help, std::string_view env) {
    return app.add_option(name, value, fmt::format("{} (env {})", help, env));
  };
  const auto flag = [&app](const char* name, auto& value, std::string_view help, std::string_view env) {
    return app.add_flag(name, value, fmt::format("{} (env {})", help, env));
  };
  option("-c,--config", v.config, "TOML configuration file", "ZGATE_CONFIG");
  option("--listen", v.listen, "host:port to listen on", "ZGATE_LISTEN, default 0.0.0.0:8080");
  option("--workers", v.workers, "worker threads, 0 = hardware threads", "ZGATE_WORKERS");
  option("--api-key", v.api_keys, "client API key, `key` or `label=key`; repeatable", "ZGATE_API_KEYS");
  flag("--allow-no-auth", v.allow_no_auth, "accept requests without an API key", "ZGATE_ALLOW_NO_AUTH");
  option("--provider", v.provider, "upstream kind: zhipu or zai-web", "ZGATE_PROVIDER")
      ->check(CLI::IsMember({"zhipu", "zai-web"}));
  option("--upstream-url", v.upstream_url, "upstream base URL", "ZGATE_UPSTREAM_URL");
  option("--upstream-key", v.upstream_key, "upstream API key", "ZGATE_UPSTREAM_KEY");
  option("--upstream-ca", v.upstream_ca, "extra CA bundle (PEM) for the upstream", "ZGATE_UPSTREAM_CA");
  option("--data-dir", v.data_dir, "data directory", "ZGATE_DATA_DIR, default ./data");
  option("--log-level", v.log_level, "trace, debug, info, warn, error or off", "ZGATE_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "critical", "off"}));
  option("--log-format", v.log_format, "json or text", "ZGATE_LOG_FORMAT")
      ->check(CLI::IsMember({"json", "text"}));
  flag("--debug", v.debug, "debug mode: debug logging", "DEBUG_MODE");
  flag("--demo", v.demo, "offline demo against the bundled mock upstream", "ZGATE_DEMO");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    const int code = app.exit(e, out, err);
    if (code == 0) throw ConfigExit{0, out.str() + err.str()};
    throw ConfigError(fmt::format("command line: {}", e.what()));
  }
  return v;
}

namespace {

ProviderConfig* flag_target(Config& cfg) {
  for (auto& p : cfg.providers) {
    if (p.name == cfg.default_provider) return &p;
  }
  return cfg.providers.empty() ? nullptr : &cfg.providers.front();
}

}  // namespace

void apply_cli(Config& cfg, const CliValues& v) {
  if (v.listen) {
    if (auto err = parse_listen(*v.listen, cfg.listen_host, cfg.listen_port); !err.empty())
      throw ConfigError(fmt::format("--listen: {}", err));
  }
  if (v.workers) cfg.workers = *v.workers;
  if (!v.api_keys.empty()) {
    cfg.api_keys.clear();
    int counter = 0;
    for (const auto& k : v.api_keys) cfg.api_keys.push_back(parse_api_key_entry(k, counter));
    check_api_keys(cfg.api_keys, "--api-key");
  }
  if (v.allow_no_auth) cfg.allow_no_auth = true;
  if (v.data_dir) cfg.data_dir = *v.data_dir;
  if (v.debug) {
    cfg.debug = true;
    cfg.log.level = "debug";
  }
  if (v.log_level) cfg.log.level = *v.log_level;
  if (v.log_format) cfg.log.format = *v.log_format;
  if (v.demo) cfg.demo = true;

  if (v.provider || v.upstream_url || v.upstream_key || v.upstream_ca) {
    ProviderConfig* p = flag_target(cfg);
    if (!p) throw ConfigError("--provider/--upstream-*: no provider to apply them to");
    if (v.provider) {
      const ProviderKind k = *parse_kind(*v.provider);
      // A URL that was only the old kind's default follows the kind.
      if (p->base_url.empty() || p->base_url == default_base_url(p->kind)) p->base_url = default_base_url(k);
      p->kind = k;
    }
    if (v.upstream_url) p->base_url = *v.upstream_url;
    if (v.upstream_key) p->api_key = *v.upstream_key;
    if (v.upstream_ca) p->ca_file = *v.upstream_ca;
  }
}

}  // namespace zgate::config_detail
