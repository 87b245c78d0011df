#pragma once
// What the layers of the configuration (environment, TOML file, command line, validation)
// share: the value parsers, the environment lookup and the tables of settings that must be
// positive. Internal to src/config.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"

namespace zgate::config_detail {

// ---- value parsers (parse.cpp) --------------------------------------------------------------

// "host:port", "[v6]:port", ":port" (all interfaces). Returns an error reason or "".
std::string parse_listen(std::string_view s, std::string& host, uint16_t& port);

std::optional<ProviderKind> parse_kind(std::string_view s);

bool valid_log_level(std::string_view s);
bool valid_log_format(std::string_view s);
bool valid_thinking_mode(std::string_view s);
std::optional<AlertKind> parse_alert_kind(std::string_view s);
std::optional<AlertFormat> parse_alert_format(std::string_view s);
// [[alerts]] and [alerting]: ranges, what each kind accepts, webhook URLs, templates (alerts.cpp).
void validate_alerts(const Config& cfg);

// One "key" or "label=key" entry; unlabeled entries get "key-<n>" from `unlabeled_counter`.
ApiKey parse_api_key_entry(std::string_view entry, int& unlabeled_counter);

// Checks labels and keys are non-empty and unique (a key and a key_sha256 of the same key
// count as the same), each key given one way; `what` names the source in the error.
void check_api_keys(const std::vector<ApiKey>& keys, std::string_view what);

// A client key's SHA-256 in lower-case hex, whichever way it was given.
std::string key_digest_hex(const ApiKey& k);
bool is_sha256_hex(std::string_view s);

// ---- the environment (env.cpp) --------------------------------------------------------------

// Looks variables up through an EnvLookup (nullptr = the process environment).
class Env {
 public:
  explicit Env(EnvLookup fn);
  // Empty values count as unset (docker-compose `VAR=` lines).
  std::optional<std::string_view> get(const char* name) const;
  // A boolean variable (see text::parse_bool); throws ConfigError naming it when malformed.
  std::optional<bool> get_bool(const char* name) const;

 private:
  EnvLookup fn_;
};

// The environment layer: server settings, client keys and the provider named "default".
void apply_env(Config& cfg, const Env& env);

// ---- the command line (cli.cpp) -------------------------------------------------------------

struct CliValues {
  std::optional<std::string> config, listen, provider, upstream_url, upstream_key, upstream_ca, data_dir,
      log_level, log_format;
  std::optional<unsigned> workers;
  std::vector<std::string> api_keys;
  bool allow_no_auth = false, debug = false, demo = false;
};

// Throws ConfigExit for --help / --version and ConfigError for a bad command line.
CliValues parse_cli(int argc, const char* const* argv);
// The flags, on top of everything else.
void apply_cli(Config& cfg, const CliValues& v);

// ---- settings that must be positive, by their names in the TOML tables ----------------------
// The TOML layer reads them and validate() checks them (for configurations built otherwise).

template <class T>
struct Field {
  std::string_view name;  // within its TOML table: "client_write_ms", "body_limit"
  T* value;
};
std::array<Field<Millis>, 12> positive_timeouts(Timeouts& t);  // [timeouts]
std::array<Field<std::size_t>, 6> positive_sizes(Limits& l);   // [limits]

}  // namespace zgate::config_detail
