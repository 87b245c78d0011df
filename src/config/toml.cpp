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

void read_timeouts(const Reader& r, const toml::node& n, Config& cfg) {
  auto& t = cfg.timeouts;
  const auto positive = positive_timeouts(t);
  r.each(r.table(n, "timeouts"), "timeouts", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (r.set_positive(positive, key, v, path)) return true;
    if (key == "drain_delay_ms") {
      t.drain_delay = Millis(r.non_negative(v, path));
    } else if (key == "stream_heartbeat_ms") {
      t.stream_heartbeat = Millis(r.non_negative(v, path));
    } else {
      return false;
    }
    return true;
  });
}

void read_retry(const Reader& r, const toml::node& n, Config& cfg) {
  auto& p = cfg.retry;
  r.each(r.table(n, "retry"), "retry", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "attempts") {
      p.attempts = static_cast<int>(r.integer(v, path, 1, 10, "an integer from 1 (= no retries) to 10"));
    } else if (key == "base_delay_ms") {
      p.base_delay = Millis(r.integer(v, path, 0, 60'000, "a number of milliseconds from 0 to 60000"));
    } else if (key == "max_delay_ms") {
      p.max_delay = Millis(r.integer(v, path, 0, 600'000, "a number of milliseconds from 0 to 600000"));
    } else if (key == "budget_ms") {
      p.budget = Millis(r.integer(v, path, 0, 3'600'000, "a number of milliseconds from 0 to 3600000"));
    } else {
      return false;
    }
    return true;
  });
}

void read_health(const Reader& r, const toml::node& n, Config& cfg) {
  auto& h = cfg.health;
  r.each(r.table(n, "health"), "health", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "window_s") {
      h.window = std::chrono::seconds(r.integer(v, path, 10, 3600, "a number of seconds from 10 to 3600"));
    } else if (key == "down_after_failures") {
      h.down_after_failures = static_cast<int>(r.integer(v, path, 1, 1000, "an integer from 1 to 1000"));
    } else if (key == "degraded_error_rate") {
      std::optional<double> d;
      if (auto f = v.value_exact<double>()) d = *f;
      else if (auto i = v.value_exact<int64_t>()) d = static_cast<double>(*i);
      if (!d || !(*d > 0 && *d <= 1)) r.fail(v, path, "must be a number above 0 and at most 1");
      h.degraded_error_rate = *d;
    } else {
      return false;
    }
    return true;
  });
}

void read_limits(const Reader& r, const toml::node& n, Config& cfg) {
  auto& l = cfg.limits;
  const auto positive = positive_sizes(l);
  r.each(r.table(n, "limits"), "limits", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (r.set_positive(positive, key, v, path)) return true;
    if (key == "max_in_flight") {
      l.max_in_flight = static_cast<std::size_t>(r.non_negative(v, path));
    } else if (key == "max_streams") {
      l.max_streams = static_cast<std::size_t>(r.non_negative(v, path));
    } else if (key == "pool_max_idle_per_host") {
      l.pool_max_idle_per_host = static_cast<std::size_t>(r.non_negative(v, path));
    } else if (key == "pool_idle_timeout_ms") {
      l.pool_idle_timeout = Millis(r.positive(v, path));
    } else if (key == "pool_check_idle_ms") {
      l.pool_check_idle = Millis(r.non_negative(v, path));
    } else {
      return false;
    }
    return true;
  });
}

void read_capture(const Reader& r, const toml::node& n, Config& cfg) {
  r.each(r.table(n, "capture"), "capture", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "enabled") {
      cfg.capture.enabled = r.boolean(v, path);
    } else if (key == "keys") {
      const auto* a = v.as_array();
      if (!a) r.fail(v, path, "must be an array of key labels");
      cfg.capture.keys.clear();
      for (const auto& e : *a) cfg.capture.keys.push_back(r.str(e, path));
    } else if (key == "max_bytes") {
      cfg.capture.max_bytes =
          static_cast<std::size_t>(r.integer(v, path, 1, 64 * 1024 * 1024, "a number of bytes from 1 to 64 MiB"));
    } else if (key == "file") {
      cfg.capture.file = r.str(v, path);
    } else {
      return false;
    }
    return true;
  });
}

void read_cache(const Reader& r, const toml::node& n, Config& cfg) {
  CacheConfig& c = cfg.cache;
  r.each(r.table(n, "cache"), "cache", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "enabled") {
      c.enabled = r.boolean(v, path);
    } else if (key == "scope") {
      c.scope = r.str(v, path);
      if (c.scope != "shared" && c.scope != "key") r.fail(v, path, "must be \"shared\" or \"key\"");
    } else if (key == "ttl_s") {
      c.ttl = std::chrono::seconds(r.integer(v, path, 1, 365LL * 86400, "a number of seconds from 1 to 31536000"));
    } else if (key == "max_bytes") {
      c.max_bytes = static_cast<std::size_t>(
          r.integer(v, path, 1024 * 1024, int64_t{1} << 40, "a number of bytes from 1 MiB to 1 TiB"));
    } else if (key == "max_entry_bytes") {
      c.max_entry_bytes = static_cast<std::size_t>(
          r.integer(v, path, 1024, 1024LL * 1024 * 1024, "a number of bytes from 1 KiB to 1 GiB"));
    } else if (key == "disk") {
      c.disk = r.boolean(v, path);
    } else if (key == "deterministic_only") {
      c.deterministic_only = r.boolean(v, path);
    } else if (key == "replay") {
      c.replay = r.str(v, path);
      if (c.replay != "instant" && c.replay != "paced") r.fail(v, path, "must be \"instant\" or \"paced\"");
    } else if (key == "replay_speed") {
      auto d = number_of(v);
      if (!d || !(*d >= 0.01 && *d <= 1000)) r.fail(v, path, "must be a number from 0.01 to 1000");
      c.replay_speed = *d;
    } else if (key == "replay_max_delay_ms") {
      c.replay_max_delay =
          std::chrono::milliseconds(r.integer(v, path, 0, 3'600'000, "a number of milliseconds from 0 (no cap) to 3600000"));
    } else {
      return false;
    }
    return true;
  });
}

// Returns whether log.level was given (so a top-level debug = true does not override it).
bool read_log(const Reader& r, const toml::node& n, Config& cfg) {
  bool level_set = false;
  r.each(r.table(n, "log"), "log", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "level") {
      cfg.log.level = r.str(v, path);
      if (!valid_log_level(cfg.log.level)) r.fail(v, path, "must be trace, debug, info, warn, error or off");
      level_set = true;
    } else if (key == "access_log") {
      cfg.log.access_log = r.boolean(v, path);
    } else if (key == "format") {
      cfg.log.format = r.str(v, path);
      if (!valid_log_format(cfg.log.format)) r.fail(v, path, "must be \"json\" or \"text\"");
    } else if (key == "file") {
      cfg.log.file = r.str(v, path);
    } else if (key == "access_file") {
      cfg.log.access_file = r.str(v, path);
    } else if (key == "access_max_size") {
      cfg.log.access_max_size = static_cast<uint64_t>(r.integer(v, path, 0, INT64_MAX, "a non-negative number of bytes"));
    } else if (key == "access_keep") {
      cfg.log.access_keep = static_cast<std::size_t>(r.integer(v, path, 1, 1000, "an integer from 1 to 1000"));
    } else if (key == "queue_size") {
      cfg.log.queue_size = static_cast<std::size_t>(r.integer(v, path, 1, 1 << 24, "a positive integer"));
    } else {
      return false;
    }
    return true;
  });
  return level_set;
}

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
  r.each(root, "", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "listen") {
      const std::string s = r.str(v, path);
      if (auto err = parse_listen(s, cfg.listen_host, cfg.listen_port); !err.empty()) r.fail(v, path, err);
    } else if (key == "metrics_listen") {
      const std::string s = r.str(v, path);
      if (auto err = parse_listen(s, cfg.metrics_listen_host, cfg.metrics_listen_port); !err.empty()) r.fail(v, path, err);
    } else if (key == "workers") {
      cfg.workers = static_cast<unsigned>(r.integer(v, path, 0, 1024, "an integer from 0 (= hardware threads) to 1024"));
    } else if (key == "background_priority") {
      cfg.background_priority = r.str(v, path);
      if (cfg.background_priority != "idle" && cfg.background_priority != "nice")
        r.fail(v, path, "must be \"idle\" or \"nice\"");
    } else if (key == "allow_no_auth") {
      cfg.allow_no_auth = r.boolean(v, path);
    } else if (key == "admin_key" || key == "admin_key_env") {
      bool have_admin = false;
      cfg.admin_key = r.secret(key, "admin_key", v, path, have_admin);
    } else if (key == "cors_origin") {
      cfg.cors_origin = r.str(v, path);
    } else if (key == "data_dir") {
      cfg.data_dir = r.str(v, path);
    } else if (key == "usage_store") {
      cfg.usage_store = r.boolean(v, path);
    } else if (key == "usage_retention_days") {
      cfg.usage_retention_days =
          static_cast<int>(r.integer(v, path, 0, 36500, "a number of days from 0 (= keep every row) to 36500"));
    } else if (key == "debug") {
      cfg.debug = r.boolean(v, path);
      debug_set = true;
    } else if (key == "demo") {
      cfg.demo = r.boolean(v, path);
    } else if (key == "default_provider") {
      cfg.default_provider = r.str(v, path);
    } else if (key == "allow_unlisted_models") {
      cfg.allow_unlisted_models = r.boolean(v, path);
    } else if (key == "api_keys") {
      read_api_keys(r, v, cfg);
    } else if (key == "key_defaults") {
      read_key_defaults(r, v, cfg);
    } else if (key == "budget") {
      read_budget(r, v, cfg);
    } else if (key == "providers") {
      cfg.providers = read_named_tables<ProviderConfig>(r, v, "providers", "provider", read_provider);
    } else if (key == "models") {
      cfg.models = read_named_tables<ModelRoute>(r, v, "models", "model", read_model);
    } else if (key == "prices") {
      read_prices(r, v, cfg);
    } else if (key == "default_price") {
      cfg.default_price = read_price(r, r.table(v, path), path, nullptr);
    } else if (key == "timeouts") {
      read_timeouts(r, v, cfg);
    } else if (key == "limits") {
      read_limits(r, v, cfg);
    } else if (key == "retry") {
      read_retry(r, v, cfg);
    } else if (key == "health") {
      read_health(r, v, cfg);
    } else if (key == "log") {
      level_set = read_log(r, v, cfg);
    } else if (key == "capture") {
      read_capture(r, v, cfg);
    } else if (key == "cache") {
      read_cache(r, v, cfg);
    } else if (key == "alerts") {
      cfg.alerts = read_named_tables<AlertRule>(r, v, "alerts", "alert", read_alert);
    } else if (key == "alerting") {
      read_alerting(r, v, cfg);
    } else {
      return false;
    }
    return true;
  });
  if (debug_set && cfg.debug && !level_set) cfg.log.level = "debug";
}

}  // namespace zgate
