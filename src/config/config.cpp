// Configuration: built-in defaults < environment < TOML file < command-line flags, then
// validate(). Everything here runs once at start-up, so clarity wins over speed and failures
// are exceptions (ConfigError) that main() turns into a message and a non-zero exit.
#include "zgate/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "detail.hpp"
#include "zgate/auth/auth.hpp"
#include "zgate/auth/jwt.hpp"
#include "zgate/config/url.hpp"
#include "zgate/route/router.hpp"

namespace zgate {

std::string_view to_string(ProviderKind k) {
  switch (k) {
    case ProviderKind::zhipu: return "zhipu";
    case ProviderKind::zai_web: return "zai-web";
  }
  return "unknown";
}

std::string_view default_base_url(ProviderKind k) {
  switch (k) {
    case ProviderKind::zhipu: return "https://api.z.ai/api/paas/v4";
    case ProviderKind::zai_web: return "https://chat.z.ai";
  }
  return {};
}

const ProviderConfig* Config::find_provider(std::string_view name) const {
  for (const auto& p : providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace config_detail {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos <= s.size();) {
    const std::size_t comma = std::min(s.find(',', pos), s.size());
    const std::string_view item = trim(s.substr(pos, comma - pos));
    if (!item.empty()) out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

static std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<bool> parse_bool(std::string_view s) {
  const std::string v = lower(trim(s));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::string parse_listen(std::string_view s, std::string& host, uint16_t& port) {
  s = trim(s);
  std::string_view h, p;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return "unclosed '[' in IPv6 address";
    h = s.substr(1, close - 1);
    if (h.empty()) return "empty IPv6 address";
    if (close + 1 >= s.size() || s[close + 1] != ':') return "expected host:port (e.g. [::]:8080)";
    p = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return "expected host:port (e.g. 0.0.0.0:8080)";
    h = s.substr(0, colon);
    if (h.find(':') != std::string_view::npos) return "IPv6 addresses need brackets (e.g. [::]:8080)";
    p = s.substr(colon + 1);
  }
  auto port_v = parse_port(p);
  if (!port_v) return fmt::format("port '{}' is not a number from 0 to 65535", p);
  host = h.empty() ? "0.0.0.0" : std::string(h);
  port = *port_v;
  return {};
}

std::optional<ProviderKind> parse_kind(std::string_view s) {
  const std::string v = lower(trim(s));
  if (v == "zhipu") return ProviderKind::zhipu;
  if (v == "zai-web" || v == "zai_web") return ProviderKind::zai_web;
  return std::nullopt;
}

bool valid_log_level(std::string_view s) {
  static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "warning",
                                                "error", "critical", "off"};
  return std::find(std::begin(levels), std::end(levels), s) != std::end(levels);
}

bool valid_log_format(std::string_view s) { return s == "json" || s == "text"; }

bool valid_thinking_mode(std::string_view s) {
  return s == "reasoning" || s == "think_tags" || s == "strip";
}

static bool label_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

ApiKey parse_api_key_entry(std::string_view entry, int& unlabeled_counter) {
  entry = trim(entry);
  // "label=key" only when the part before '=' looks like a label and the rest is a plausible
  // key; base64-style keys may themselves end in '=' padding.
  const auto eq = entry.find('=');
  if (eq != std::string_view::npos && eq > 0 && eq + 1 < entry.size() && entry[eq + 1] != '=') {
    const std::string_view label = trim(entry.substr(0, eq));
    if (!label.empty() && std::all_of(label.begin(), label.end(), label_char)) {
      return ApiKey{std::string(label), std::string(trim(entry.substr(eq + 1)))};
    }
  }
  return ApiKey{fmt::format("key-{}", ++unlabeled_counter), std::string(entry)};
}

void check_api_keys(const std::vector<ApiKey>& keys, std::string_view what) {
  std::set<std::string_view> labels, values;
  for (const auto& k : keys) {
    if (k.key.empty()) throw ConfigError(fmt::format("{}: key '{}' is empty", what, k.label));
    if (k.label.empty()) throw ConfigError(fmt::format("{}: a key has an empty label", what));
    if (!labels.insert(k.label).second)
      throw ConfigError(fmt::format("{}: duplicate key label '{}'", what, k.label));
    if (!values.insert(k.key).second)
      throw ConfigError(fmt::format("{}: the key labelled '{}' is configured twice", what, k.label));
  }
}

}  // namespace config_detail

using namespace config_detail;

namespace {

const char* real_env(const char* name) { return std::getenv(name); }

class Env {
 public:
  explicit Env(EnvLookup fn) : fn_(fn ? fn : &real_env) {}
  // Empty values count as unset (docker-compose `VAR=` lines).
  std::optional<std::string_view> get(const char* name) const {
    const char* v = fn_(name);
    if (!v || !*v) return std::nullopt;
    return std::string_view(v);
  }
  std::optional<bool> get_bool(const char* name) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    auto b = parse_bool(*v);
    if (!b) throw ConfigError(fmt::format("environment {}: must be true or false (or 1/0), got '{}'", name, *v));
    return b;
  }

 private:
  EnvLookup fn_;
};

void apply_env(Config& cfg, const Env& env) {
  // PORT (the original deployment's variable) sets only the port; ZGATE_LISTEN wins over it.
  if (auto v = env.get("PORT")) {
    auto p = parse_port(trim(*v));
    if (!p) throw ConfigError(fmt::format("environment PORT: '{}' is not a number from 0 to 65535", *v));
    cfg.listen_port = *p;
  }
  if (auto v = env.get("ZGATE_LISTEN")) {
    if (auto err = parse_listen(*v, cfg.listen_host, cfg.listen_port); !err.empty())
      throw ConfigError(fmt::format("environment ZGATE_LISTEN: {}", err));
  }
  if (auto v = env.get("ZGATE_WORKERS")) {
    auto n = parse_port(trim(*v));  // any small non-negative integer
    if (!n) throw ConfigError(fmt::format("environment ZGATE_WORKERS: '{}' is not a non-negative integer", *v));
    cfg.workers = *n;
  }
  // ZGATE_API_KEYS wins over the single API_KEY of the original deployment.
  if (auto v = env.get("ZGATE_API_KEYS")) {
    int counter = 0;
    for (const auto& entry : split_list(*v)) cfg.api_keys.push_back(parse_api_key_entry(entry, counter));
    check_api_keys(cfg.api_keys, "environment ZGATE_API_KEYS");
  } else if (auto k = env.get("API_KEY")) {
    cfg.api_keys.push_back(ApiKey{"default", std::string(trim(*k))});
  }
  if (auto b = env.get_bool("ZGATE_ALLOW_NO_AUTH")) cfg.allow_no_auth = *b;
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
  if (auto b = env.get_bool("ZGATE_DEMO")) cfg.demo = *b;

  // The provider named "default", used when the TOML file declares no [[providers]].
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
    p.api_keys = split_list(*v);
    p.api_key = p.api_keys.empty() ? std::string() : p.api_keys.front();
  }
  if (auto b = env.get_bool("ZGATE_UPSTREAM_JWT")) p.jwt = *b;
  if (auto v = env.get("ZGATE_UPSTREAM_CA")) p.ca_file = std::string(*v);
  if (auto v = env.get("UPSTREAM_TOKEN")) p.zai.token = std::string(trim(*v));
  if (auto v = env.get("ZGATE_ZAI_SIGNING_SECRET")) p.zai.signing_secret = std::string(*v);
  if (auto v = env.get("ZGATE_ZAI_FE_VERSION")) p.zai.fe_version = std::string(trim(*v));
  if (auto b = env.get_bool("ZGATE_ZAI_GUEST_PER_CONVERSATION")) p.zai.guest_per_conversation = *b;
  if (auto v = env.get("ZGATE_THINKING_MODE")) {
    if (!valid_thinking_mode(*v))
      throw ConfigError(fmt::format("environment ZGATE_THINKING_MODE: '{}' is not reasoning, think_tags or strip", *v));
    p.zai.thinking_mode = std::string(*v);
  }
  cfg.providers.clear();
  cfg.providers.push_back(std::move(p));
}

struct CliValues {
  std::optional<std::string> config, listen, provider, upstream_url, upstream_key, upstream_ca, data_dir,
      log_level, log_format;
  std::optional<unsigned> workers;
  std::vector<std::string> api_keys;
  bool allow_no_auth = false, debug = false, demo = false;
};

CliValues parse_cli(int argc, const char* const* argv) {
  CliValues v;
  if (argc <= 0 || argv == nullptr) return v;
  CLI::App app{"zgate: an OpenAI-compatible gateway for Zhipu GLM models (Z.ai)", "zgate"};
  app.set_version_flag("--version", fmt::format("zgate {}", kVersion));
  app.add_option("-c,--config", v.config, "TOML configuration file (env ZGATE_CONFIG)");
  app.add_option("--listen", v.listen, "host:port to listen on (env ZGATE_LISTEN, default 0.0.0.0:8080)");
  app.add_option("--workers", v.workers, "worker threads, 0 = hardware threads (env ZGATE_WORKERS)");
  app.add_option("--api-key", v.api_keys, "client API key, `key` or `label=key`; repeatable (env ZGATE_API_KEYS)");
  app.add_flag("--allow-no-auth", v.allow_no_auth, "accept requests without an API key (env ZGATE_ALLOW_NO_AUTH)");
  app.add_option("--provider", v.provider, "upstream kind: zhipu or zai-web (env ZGATE_PROVIDER)")
      ->check(CLI::IsMember({"zhipu", "zai-web"}));
  app.add_option("--upstream-url", v.upstream_url, "upstream base URL (env ZGATE_UPSTREAM_URL)");
  app.add_option("--upstream-key", v.upstream_key, "upstream API key (env ZGATE_UPSTREAM_KEY)");
  app.add_option("--upstream-ca", v.upstream_ca, "extra CA bundle (PEM) for the upstream (env ZGATE_UPSTREAM_CA)");
  app.add_option("--data-dir", v.data_dir, "data directory (env ZGATE_DATA_DIR, default ./data)");
  app.add_option("--log-level", v.log_level, "trace, debug, info, warn, error or off (env ZGATE_LOG_LEVEL)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "critical", "off"}));
  app.add_option("--log-format", v.log_format, "json or text (env ZGATE_LOG_FORMAT)")
      ->check(CLI::IsMember({"json", "text"}));
  app.add_flag("--debug", v.debug, "debug mode: debug logging (env DEBUG_MODE)");
  app.add_flag("--demo", v.demo, "offline demo against the bundled mock upstream (env ZGATE_DEMO)");
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

ProviderConfig* flag_target(Config& cfg) {
  for (auto& p : cfg.providers) {
    if (p.name == cfg.default_provider) return &p;
  }
  return cfg.providers.empty() ? nullptr : &cfg.providers.front();
}

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

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open the configuration file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigError(fmt::format("{}: cannot read the configuration file", path));
  return ss.str();
}

std::string provider_key(std::size_t i, const ProviderConfig& p) {
  return p.name.empty() ? fmt::format("providers[{}]", i) : fmt::format("providers[{}] ({})", i, p.name);
}

}  // namespace

std::shared_ptr<const Config> load_config(int argc, const char* const* argv, EnvLookup env_fn) {
  const CliValues cli = parse_cli(argc, argv);
  const Env env(env_fn);

  auto cfg = std::make_shared<Config>();
  apply_env(*cfg, env);

  std::string path;
  if (cli.config) {
    path = *cli.config;
  } else if (auto v = env.get("ZGATE_CONFIG")) {
    path = std::string(*v);
  }
  if (!path.empty()) apply_toml(*cfg, read_file(path), path, env_fn);

  apply_cli(*cfg, cli);
  validate(*cfg);
  return cfg;
}

void validate(Config& cfg) {
  if (cfg.listen_host.empty()) throw ConfigError("listen: the host is empty");
  if (cfg.workers == 0) cfg.workers = std::max(1u, std::thread::hardware_concurrency());
  if (cfg.workers > 1024) throw ConfigError(fmt::format("workers: {} is more than 1024", cfg.workers));

  if (cfg.providers.empty()) throw ConfigError("providers: at least one provider is required");
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < cfg.providers.size(); ++i) {
    auto& p = cfg.providers[i];
    const std::string key = provider_key(i, p);
    if (p.name.empty()) throw ConfigError(fmt::format("{}.name: must not be empty", key));
    if (!names.insert(p.name).second) throw ConfigError(fmt::format("{}.name: duplicate provider name", key));
    if (p.base_url.empty()) p.base_url = std::string(default_base_url(p.kind));
    if (!parse_url(p.base_url))
      throw ConfigError(fmt::format("{}.base_url: '{}' is not an http(s)://host[:port][/path] URL", key, p.base_url));
    if (!p.api_keys.empty()) {
      if (p.kind != ProviderKind::zhipu)
        throw ConfigError(fmt::format("{}.api_keys: only zhipu providers rotate several keys", key));
      if (!p.api_key.empty() && p.api_key != p.api_keys.front() &&
          std::find(p.api_keys.begin(), p.api_keys.end(), p.api_key) == p.api_keys.end()) {
        p.api_keys.insert(p.api_keys.begin(), p.api_key);  // api_key and api_keys: all of them
      }
      p.api_key = p.api_keys.front();
    } else if (!p.api_key.empty()) {
      p.api_keys = {p.api_key};
    }
    if (p.jwt) {
      if (p.kind != ProviderKind::zhipu) throw ConfigError(fmt::format("{}.jwt: only zhipu providers sign JWTs", key));
      if (p.api_keys.empty()) throw ConfigError(fmt::format("{}.jwt: the api_key must have the form <id>.<secret>", key));
      for (const auto& k : p.api_keys) {
        if (!ZhipuJwt::looks_like_id_secret(k))
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
      if (p.zai.signed_path.empty() || p.zai.signed_path.front() != '/')
        throw ConfigError(fmt::format("{}.signed_path: must start with '/'", key));
      if (p.zai.legacy_path.empty() || p.zai.legacy_path.front() != '/')
        throw ConfigError(fmt::format("{}.legacy_path: must start with '/'", key));
    }
  }

  if (cfg.default_provider.empty()) {
    cfg.default_provider = cfg.providers.front().name;
  } else if (!cfg.find_provider(cfg.default_provider)) {
    throw ConfigError(fmt::format("default_provider: no provider named '{}'", cfg.default_provider));
  }

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
  }

  // Providers without any route get their kind's built-in table. The default provider goes
  // first and keeps the bare names; a clash for another provider is published as
  // "<provider>/<name>" so every provider stays reachable.
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

  check_api_keys(cfg.api_keys, "api_keys");
  if (cfg.api_keys.empty() && !cfg.allow_no_auth) {
    // The explicit offline demo answers from the bundled mock; refusing to start without a
    // client key would only get in the way of trying it.
    if (!cfg.demo)
      throw ConfigError("no client API key configured: set ZGATE_API_KEYS (or API_KEY), or pass --allow-no-auth");
    cfg.allow_no_auth = true;
  }

  if (!valid_log_level(cfg.log.level))
    throw ConfigError(fmt::format("log.level: '{}' is not one of trace, debug, info, warn, error, off", cfg.log.level));
  if (!valid_log_format(cfg.log.format))
    throw ConfigError(fmt::format("log.format: '{}' is not json or text", cfg.log.format));
  if (cfg.log.queue_size == 0) throw ConfigError("log.queue_size: must be a positive integer");

  const std::pair<const char*, std::size_t> sizes[] = {
      {"limits.header_limit", cfg.limits.header_limit},
      {"limits.body_limit", cfg.limits.body_limit},
      {"limits.max_sse_event", cfg.limits.max_sse_event},
      {"limits.max_upstream_body", cfg.limits.max_upstream_body},
      {"limits.max_connections", cfg.limits.max_connections},
  };
  for (const auto& [k, v] : sizes) {
    if (v == 0) throw ConfigError(fmt::format("{}: must be a positive integer", k));
  }
  const std::pair<const char*, Millis> times[] = {
      {"timeouts.client_header_read_ms", cfg.timeouts.client_header_read},
      {"timeouts.client_body_read_ms", cfg.timeouts.client_body_read},
      {"timeouts.client_write_ms", cfg.timeouts.client_write},
      {"timeouts.client_keepalive_idle_ms", cfg.timeouts.client_keepalive_idle},
      {"timeouts.upstream_connect_ms", cfg.timeouts.upstream_connect},
      {"timeouts.upstream_tls_handshake_ms", cfg.timeouts.upstream_tls_handshake},
      {"timeouts.upstream_write_ms", cfg.timeouts.upstream_write},
      {"timeouts.upstream_first_byte_ms", cfg.timeouts.upstream_first_byte},
      {"timeouts.upstream_stream_idle_ms", cfg.timeouts.upstream_stream_idle},
      {"timeouts.shutdown_grace_ms", cfg.timeouts.shutdown_grace},
      {"timeouts.lingering_time_ms", cfg.timeouts.lingering_time},
      {"timeouts.lingering_timeout_ms", cfg.timeouts.lingering_timeout},
      {"limits.pool_idle_timeout_ms", cfg.limits.pool_idle_timeout},
  };
  for (const auto& [k, v] : times) {
    if (v.count() <= 0) throw ConfigError(fmt::format("{}: must be a positive integer", k));
  }
}

std::vector<std::string> restart_only_changes(const Config& a, const Config& b) {
  std::vector<std::string> out;
  auto check = [&](bool differs, const char* name) {
    if (differs) out.emplace_back(name);
  };
  check(a.listen_host != b.listen_host || a.listen_port != b.listen_port, "listen");
  check(a.workers != b.workers, "workers");
  check(a.log.level != b.log.level || a.debug != b.debug, "log.level");
  check(a.log.format != b.log.format, "log.format");
  check(a.log.file != b.log.file, "log.file");
  check(a.log.access_log != b.log.access_log, "log.access_log");
  check(a.log.queue_size != b.log.queue_size, "log.queue_size");
  check(a.data_dir != b.data_dir, "data_dir");
  check(a.usage_store != b.usage_store, "usage_store");
  check(a.usage_retention_days != b.usage_retention_days, "usage_retention_days");
  check(a.limits.pool_max_idle_per_host != b.limits.pool_max_idle_per_host, "limits.pool_max_idle_per_host");
  check(a.limits.pool_idle_timeout != b.limits.pool_idle_timeout, "limits.pool_idle_timeout_ms");
  check(a.limits.max_connections != b.limits.max_connections, "limits.max_connections");
  check(a.demo != b.demo, "demo");
  return out;
}

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

std::string usage_db_path(const Config& c) {
  std::string p = c.data_dir.empty() ? std::string(".") : c.data_dir;
  if (p.back() != '/') p.push_back('/');
  return p + "usage.db";
}

std::string describe(const Config& c) {
  std::string out;
  line(out, "zgate {}: listen {}, {} worker(s){}{}", kVersion, listen_str(c), c.workers, c.debug ? ", debug" : "",
       c.demo ? ", demo (bundled mock upstream)" : "");
  std::string keys;
  for (const auto& k : c.api_keys) {
    if (!keys.empty()) keys += ", ";
    keys += k.label + "=" + shown(k.key);
  }
  line(out, "client keys: {} [{}]{}", c.api_keys.size(), keys, c.allow_no_auth ? "; requests without a key allowed" : "");
  for (const auto& p : c.providers) {
    std::string keys_shown = shown(p.api_key);
    if (p.api_keys.size() > 1) {
      keys_shown.clear();
      for (const auto& k : p.api_keys) keys_shown += (keys_shown.empty() ? "" : ",") + shown(k);
      keys_shown = fmt::format("[{}] ({}, cooldown {} ms, quota cooldown {} ms)", keys_shown, p.key_strategy,
                               p.key_cooldown.count(), p.key_quota_cooldown.count());
    }
    line(out, "provider {}{}: {} {} key={} jwt={} verify_tls={}{}{}", p.name, p.name == c.default_provider ? " (default)" : "",
         to_string(p.kind), p.base_url, keys_shown, p.jwt, p.verify_tls,
         p.ca_file.empty() ? "" : " ca_file=", p.ca_file);
    for (const auto& [h, v] : p.headers) line(out, "  header {}: {}", h, shown(v));
    if (p.kind == ProviderKind::zai_web) {
      line(out, "  zai-web: token={} guest_per_conversation={} signing_secret={} fe_version={}{} thinking_mode={} "
           "function_calling={} signed_path={} legacy_path={}{}{}",
           p.zai.token.empty() ? "(guest)" : mask_secret(p.zai.token), p.zai.guest_per_conversation,
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
  }
  line(out, "models ({}): {}", c.models.size(), models);
  line(out, "unlisted models: {}", c.allow_unlisted_models ? fmt::format("passed to {}", c.default_provider) : "rejected");
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
  line(out, "log: level {} format {} access_log {} to {} (queue {}); cors origin {}; data dir {}", c.log.level,
       c.log.format, c.log.access_log, c.log.file.empty() ? "stderr" : c.log.file, c.log.queue_size,
       c.cors_origin, c.data_dir);
  line(out, "usage store: {}", !c.usage_store ? std::string("off")
                               : fmt::format("{} (retention {})", usage_db_path(c),
                                             c.usage_retention_days > 0
                                                 ? fmt::format("{} days", c.usage_retention_days)
                                                 : std::string("forever")));
  return out;
}

}  // namespace zgate
