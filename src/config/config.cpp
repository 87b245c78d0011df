// Configuration: built-in defaults < environment < TOML file < command-line flags, then
// validate(). Everything here runs once at start-up, so clarity wins over speed and failures
// are exceptions (ConfigError) that main() turns into a message and a non-zero exit.
// The layers live in env.cpp, toml.cpp and cli.cpp, the checks in validate.cpp.
#include "zgate/config/config.hpp"

#include <fnmatch.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "detail.hpp"

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

const ShapingLimits& ProviderConfig::shaping_for(std::string_view upstream_model) const {
  if (shaping_rules.empty()) return shaping;
  const std::string name(upstream_model);  // fnmatch wants a C string
  for (const auto& r : shaping_rules) {
    if (::fnmatch(r.model.c_str(), name.c_str(), 0) == 0) return r.limits;
  }
  return shaping;
}

bool ProviderConfig::shaped() const {
  if (shaping.active()) return true;
  for (const auto& r : shaping_rules) {
    if (r.limits.active()) return true;
  }
  return false;
}

std::string usage_db_path(const Config& c) {
  std::string p = c.data_dir.empty() ? std::string(".") : c.data_dir;
  if (p.back() != '/') p.push_back('/');
  return p + "usage.db";
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open the configuration file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigError(fmt::format("{}: cannot read the configuration file", path));
  return ss.str();
}

}  // namespace

std::shared_ptr<const Config> load_config(int argc, const char* const* argv, EnvLookup env_fn) {
  const config_detail::CliValues cli = config_detail::parse_cli(argc, argv);
  const config_detail::Env env(env_fn);

  auto cfg = std::make_shared<Config>();
  config_detail::apply_env(*cfg, env);

  std::string path;
  if (cli.config) {
    path = *cli.config;
  } else if (auto v = env.get("ZGATE_CONFIG")) {
    path = std::string(*v);
  }
  if (!path.empty()) apply_toml(*cfg, read_file(path), path, env_fn);

  config_detail::apply_cli(*cfg, cli);
  validate(*cfg);
  return cfg;
}

std::string cache_db_path(const Config& c) {
  std::string p = c.data_dir;
  if (!p.empty() && p.back() != '/') p += '/';
  return p + "cache.db";
}

std::string capture_path(const Config& c) {
  if (!c.capture.file.empty()) return c.capture.file;
  std::string p = c.data_dir.empty() ? std::string(".") : c.data_dir;
  if (p.back() != '/') p.push_back('/');
  return p + "capture.jsonl";
}

std::vector<std::string> config_secrets(const Config& c) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& s) {
    if (!s.empty()) out.push_back(s);
  };
  for (const auto& k : c.api_keys) add(k.key);
  add(c.admin_key);
  for (const auto& p : c.providers) {
    add(p.api_key);
    for (const auto& k : p.api_keys) add(k);
    for (const auto& [name, value] : p.headers) add(value);
    add(p.zai.token);
    for (const auto& t : p.tokens) add(t);
    add(p.zai.signing_secret);
  }
  for (const auto& a : c.alerts) add(a.webhook);  // webhook URLs often embed a token
  return out;
}

}  // namespace zgate
