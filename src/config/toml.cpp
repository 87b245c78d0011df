// The TOML layer of the configuration. Every key is known: an unknown one is an error (a typo
// must not silently fall back to a default), and every error names file:line and the key.
#include <functional>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "toml_reader.hpp"
#include "zgate/config/config.hpp"
#include "zgate/core/text.hpp"

namespace zgate {
using namespace config_detail;

namespace {

// A table with settings that must be positive (listed by name for validate() too) and others.
template <class T, std::size_t N>
void read_with_positive(const Reader& r, const toml::node& n, std::string_view table,
                        const std::array<Field<T>, N>& positive, std::initializer_list<Setting> others) {
  read_table(r, r.table(n, table), table, others,
             [&](std::string_view key, const toml::node& v, const std::string& path) {
               return r.set_positive(positive, key, v, path);
             });
}

void read_timeouts(const Reader& r, const toml::node& n, Config& cfg) {
  auto& t = cfg.timeouts;
  read_with_positive(r, n, "timeouts", positive_timeouts(t),
                     {{"drain_delay_ms", &t.drain_delay, kNonNegative},
                      {"stream_heartbeat_ms", &t.stream_heartbeat, kNonNegative}});
}

void read_retry(const Reader& r, const toml::node& n, Config& cfg) {
  auto& p = cfg.retry;
  read_table(r, r.table(n, "retry"), "retry",
             {{"attempts", &p.attempts, {1, 10, "an integer from 1 (= no retries) to 10"}},
              {"base_delay_ms", &p.base_delay, {0, 60'000, "a number of milliseconds from 0 to 60000"}},
              {"max_delay_ms", &p.max_delay, {0, 600'000, "a number of milliseconds from 0 to 600000"}},
              {"budget_ms", &p.budget, {0, 3'600'000, "a number of milliseconds from 0 to 3600000"}}});
}

void read_health(const Reader& r, const toml::node& n, Config& cfg) {
  auto& h = cfg.health;
  read_table(r, r.table(n, "health"), "health",
             {{"window_s", &h.window, {10, 3600, "a number of seconds from 10 to 3600"}, kSeconds},
              {"down_after_failures", &h.down_after_failures, {1, 1000, "an integer from 1 to 1000"}}},
             [&](std::string_view key, const toml::node& v, const std::string& path) {
               if (key != "degraded_error_rate") return false;
               const auto d = number_of(v);
               if (!d || !(*d > 0 && *d <= 1)) r.fail(v, path, "must be a number above 0 and at most 1");
               h.degraded_error_rate = *d;
               return true;
             });
}

void read_limits(const Reader& r, const toml::node& n, Config& cfg) {
  auto& l = cfg.limits;
  read_with_positive(r, n, "limits", positive_sizes(l),
                     {{"max_in_flight", &l.max_in_flight, kNonNegative},
                      {"max_streams", &l.max_streams, kNonNegative},
                      {"pool_max_idle_per_host", &l.pool_max_idle_per_host, kNonNegative},
                      {"pool_idle_timeout_ms", &l.pool_idle_timeout, kPositive},
                      {"pool_check_idle_ms", &l.pool_check_idle, kNonNegative}});
}

void read_capture(const Reader& r, const toml::node& n, Config& cfg) {
  auto& c = cfg.capture;
  read_table(r, r.table(n, "capture"), "capture",
             {{"enabled", &c.enabled},
              {"max_bytes", &c.max_bytes, {1, 64 * 1024 * 1024, "a number of bytes from 1 to 64 MiB"}},
              {"file", &c.file}},
             [&](std::string_view key, const toml::node& v, const std::string& path) {
               if (key != "keys") return false;
               read_strings(r, v, path, "must be an array of key labels", c.keys);
               return true;
             });
}

void read_cache(const Reader& r, const toml::node& n, Config& cfg) {
  CacheConfig& c = cfg.cache;
  read_table(r, r.table(n, "cache"), "cache",
             {{"enabled", &c.enabled},
              {"scope", &c.scope, {"shared", "key"}, "must be \"shared\" or \"key\""},
              {"ttl_s", &c.ttl, {1, 365LL * 86400, "a number of seconds from 1 to 31536000"}},
              {"max_bytes", &c.max_bytes, {1024 * 1024, int64_t{1} << 40, "a number of bytes from 1 MiB to 1 TiB"}},
              {"max_entry_bytes", &c.max_entry_bytes,
               {1024, 1024LL * 1024 * 1024, "a number of bytes from 1 KiB to 1 GiB"}},
              {"disk", &c.disk},
              {"deterministic_only", &c.deterministic_only},
              {"replay", &c.replay, {"instant", "paced"}, "must be \"instant\" or \"paced\""},
              {"replay_max_delay_ms", &c.replay_max_delay,
               {0, 3'600'000, "a number of milliseconds from 0 (no cap) to 3600000"}}},
             [&](std::string_view key, const toml::node& v, const std::string& path) {
               if (key != "replay_speed") return false;
               const auto d = number_of(v);
               if (!d || !(*d >= 0.01 && *d <= 1000)) r.fail(v, path, "must be a number from 0.01 to 1000");
               c.replay_speed = *d;
               return true;
             });
}

// Returns whether log.level was given (so a top-level debug = true does not override it).
bool read_log(const Reader& r, const toml::node& n, Config& cfg) {
  auto& l = cfg.log;
  const toml::table& t = r.table(n, "log");
  read_table(r, t, "log",
             {{"level", &l.level, valid_log_level, "must be trace, debug, info, warn, error or off"},
              {"access_log", &l.access_log},
              {"format", &l.format, valid_log_format, "must be \"json\" or \"text\""},
              {"file", &l.file},
              {"access_file", &l.access_file},
              {"access_max_size", &l.access_max_size, {0, INT64_MAX, "a non-negative number of bytes"}},
              {"access_keep", &l.access_keep, {1, 1000, "an integer from 1 to 1000"}},
              {"queue_size", &l.queue_size, {1, 1 << 24, "a positive integer"}}});
  return t.contains("level");
}

// The tables of the top level read by a function of their own.
struct Table {
  std::string_view name;
  void (*read)(const Reader&, const toml::node&, Config&);
};
const Table kTables[] = {
    {"api_keys", read_api_keys},
    {"key_defaults", read_key_defaults},
    {"budget", read_budget},
    {"prices", read_prices},
    {"timeouts", read_timeouts},
    {"limits", read_limits},
    {"retry", read_retry},
    {"health", read_health},
    {"capture", read_capture},
    {"cache", read_cache},
    {"alerting", read_alerting},
};

}  // namespace

void apply_toml(Config& cfg, std::string_view toml_text, std::string_view source_name) {
  apply_toml(cfg, toml_text, source_name, nullptr);
}

void apply_toml(Config& cfg, std::string_view toml_text, std::string_view source_name, EnvLookup env) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source();
    throw ConfigError(fmt::format("{}:{}:{}: {}", source_name, where.begin.line, where.begin.column, e.description()));
  }

  const Reader r(source_name, env);
  bool debug_set = false, level_set = false;
  read_table(r, root, "",
             {{"workers", &cfg.workers, {0, 1024, "an integer from 0 (= hardware threads) to 1024"}},
              {"background_priority", &cfg.background_priority, {"idle", "nice"}, "must be \"idle\" or \"nice\""},
              {"allow_no_auth", &cfg.allow_no_auth},
              {"reuse_port", &cfg.reuse_port},
              {"cors_origin", &cfg.cors_origin},
              {"data_dir", &cfg.data_dir},
              {"usage_store", &cfg.usage_store},
              {"usage_retention_days", &cfg.usage_retention_days,
               {0, 36500, "a number of days from 0 (= keep every row) to 36500"}},
              {"demo", &cfg.demo},
              {"default_provider", &cfg.default_provider},
              {"allow_unlisted_models", &cfg.allow_unlisted_models}},
             [&](std::string_view key, const toml::node& v, const std::string& path) {
               if (key == "listen" || key == "metrics_listen") {
                 const bool metrics = key == "metrics_listen";
                 const std::string s = r.str(v, path);
                 if (auto err = parse_listen(s, metrics ? cfg.metrics_listen_host : cfg.listen_host,
                                             metrics ? cfg.metrics_listen_port : cfg.listen_port);
                     !err.empty())
                   r.fail(v, path, err);
               } else if (key == "admin_key" || key == "admin_key_env") {
                 bool have_admin = false;
                 cfg.admin_key = r.secret(key, "admin_key", v, path, have_admin);
               } else if (key == "debug") {
                 cfg.debug = r.boolean(v, path);
                 debug_set = true;
               } else if (key == "log") {
                 level_set = read_log(r, v, cfg);
               } else if (key == "providers") {
                 cfg.providers = read_named_tables<ProviderConfig>(r, v, "providers", "provider", read_provider);
               } else if (key == "models") {
                 cfg.models = read_named_tables<ModelRoute>(r, v, "models", "model", read_model);
               } else if (key == "alerts") {
                 cfg.alerts = read_named_tables<AlertRule>(r, v, "alerts", "alert", read_alert);
               } else if (key == "default_price") {
                 cfg.default_price = read_price(r, r.table(v, path), path, nullptr);
               } else {
                 for (const auto& [name, read] : kTables) {
                   if (key == name) {
                     read(r, v, cfg);
                     return true;
                   }
                 }
                 return false;
               }
               return true;
             });
  if (debug_set && cfg.debug && !level_set) cfg.log.level = "debug";
}

}  // namespace zgate
