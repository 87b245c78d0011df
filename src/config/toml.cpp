// The TOML layer of the configuration. Every key is known: an unknown one is an error (a typo
// must not silently fall back to a default), and every error names file:line and the key.
#include <functional>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "detail.hpp"
#include "zgate/config/config.hpp"
#include "zgate/core/text.hpp"

namespace zgate {
using namespace config_detail;

namespace {

class Reader {
 public:
  Reader(std::string_view source, EnvLookup env) : source_(source), env_(env) {}

  [[noreturn]] void fail(const toml::source_region& where, std::string_view path, std::string_view why) const {
    if (where.begin.line > 0)
      throw ConfigError(fmt::format("{}:{}: {}: {}", source_, where.begin.line, path, why));
    throw ConfigError(fmt::format("{}: {}: {}", source_, path, why));
  }
  [[noreturn]] void fail(const toml::node& n, std::string_view path, std::string_view why) const {
    fail(n.source(), path, why);
  }

  std::string str(const toml::node& n, std::string_view path) const {
    if (auto v = n.value_exact<std::string>()) return *v;
    fail(n, path, "must be a string");
  }
  bool boolean(const toml::node& n, std::string_view path) const {
    if (auto v = n.value_exact<bool>()) return *v;
    fail(n, path, "must be true or false");
  }
  int64_t integer(const toml::node& n, std::string_view path, int64_t min, int64_t max, std::string_view what) const {
    auto v = n.value_exact<int64_t>();
    if (!v || *v < min || *v > max) fail(n, path, fmt::format("must be {}", what));
    return *v;
  }
  int64_t positive(const toml::node& n, std::string_view path) const {
    return integer(n, path, 1, INT64_MAX, "a positive integer");
  }
  int64_t non_negative(const toml::node& n, std::string_view path) const {
    return integer(n, path, 0, INT64_MAX, "a non-negative integer");
  }
  // Sets the field of `fields` named `key` to the positive integer `n`; false when none is.
  template <class T, std::size_t N>
  bool set_positive(const std::array<Field<T>, N>& fields, std::string_view key, const toml::node& n,
                    std::string_view path) const {
    for (const auto& [name, value] : fields) {
      if (key == name) {
        *value = T(positive(n, path));
        return true;
      }
    }
    return false;
  }
  double price(const toml::node& n, std::string_view path) const {
    std::optional<double> v;
    if (auto f = n.value_exact<double>()) v = *f;
    else if (auto i = n.value_exact<int64_t>()) v = static_cast<double>(*i);
    if (!v || !(*v >= 0)) fail(n, path, "must be a non-negative number (USD per million tokens)");
    return *v;
  }
  // A secret given by the name of the environment variable that holds it.
  std::string env_secret(const toml::node& n, std::string_view path) const {
    const std::string name = str(n, path);
    const auto v = env_.get(name.c_str());
    if (!v) fail(n, path, fmt::format("environment variable {} is not set", name));
    return std::string(text::trim(*v));
  }
  // The secret under `key`: either `name` (the secret itself; surrounding whitespace dropped
  // when `trim_literal`) or `name`_env (the variable holding it), and only one of the two:
  // `seen` records that one was given.
  std::string secret(std::string_view key, std::string_view name, const toml::node& n, std::string_view path,
                     bool& seen, bool trim_literal = true) const {
    if (seen) fail(n, path, fmt::format("give either {0} or {0}_env, not both", name));
    seen = true;
    if (key != name) return env_secret(n, path);
    std::string v = str(n, path);
    return trim_literal ? std::string(text::trim(v)) : v;
  }
  const toml::table& table(const toml::node& n, std::string_view path) const {
    if (auto t = n.as_table()) return *t;
    fail(n, path, "must be a table");
  }
  const toml::array& table_array(const toml::node& n, std::string_view path) const {
    auto a = n.as_array();
    if (!a || !a->is_array_of_tables()) fail(n, path, fmt::format("must be an array of tables ([[{}]])", path));
    return *a;
  }

  // Calls `on(key, node, path)` for every entry; `on` returns false for an unknown key.
  void each(const toml::table& t, std::string_view prefix,
            const std::function<bool(std::string_view, const toml::node&, const std::string&)>& on) const {
    for (auto&& [k, v] : t) {
      const std::string path = prefix.empty() ? std::string(k.str()) : fmt::format("{}.{}", prefix, k.str());
      if (!on(k.str(), v, path)) fail(k.source().begin.line > 0 ? k.source() : v.source(), path, "unknown key");
    }
  }

 private:
  std::string_view source_;
  Env env_;
};

// The array of tables [[`table`]], one T each, read by `read_one(r, item, its table, its path)`.
// Every item needs a `name`, unique within the array (`what` names the kind in the error).
template <class T, class ReadOne>
std::vector<T> read_named_tables(const Reader& r, const toml::node& n, std::string_view table, std::string_view what,
                                 ReadOne read_one) {
  const auto& arr = r.table_array(n, table);
  std::vector<T> items;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string prefix = fmt::format("{}[{}]", table, i);
    T item;
    read_one(r, item, *arr[i].as_table(), prefix);
    if (item.name.empty()) r.fail(arr[i], prefix + ".name", "is required");
    for (const auto& q : items) {
      if (q.name == item.name) r.fail(arr[i], prefix + ".name", fmt::format("duplicate {} name '{}'", what, item.name));
    }
    items.push_back(std::move(item));
  }
  return items;
}

// A USD amount (budgets): a non-negative number, 0 = no limit.
double usd(const Reader& r, const toml::node& n, std::string_view path) {
  std::optional<double> v;
  if (auto f = n.value_exact<double>()) v = *f;
  else if (auto i = n.value_exact<int64_t>()) v = static_cast<double>(*i);
  if (!v || !(*v >= 0) || *v > 1e12) r.fail(n, path, "must be a non-negative number of USD (0 = no limit)");
  return *v;
}

// One field of a key policy ([[api_keys]] or [key_defaults]); false when `key` is none.
bool read_policy_field(const Reader& r, KeyPolicy& p, std::string_view key, const toml::node& v,
                       const std::string& path) {
  if (key == "models") {
    const auto* a = v.as_array();
    if (!a) r.fail(v, path, "must be an array of model names or globs (e.g. [\"glm-4.5*\"])");
    p.models.clear();
    for (std::size_t j = 0; j < a->size(); ++j) {
      std::string m(text::trim(r.str((*a)[j], fmt::format("{}[{}]", path, j))));
      if (m.empty()) r.fail((*a)[j], fmt::format("{}[{}]", path, j), "must not be empty");
      p.models.push_back(std::move(m));
    }
    p.models_set = true;
  } else if (key == "requests_per_minute") {
    p.requests_per_minute = r.non_negative(v, path);
  } else if (key == "tokens_per_minute") {
    p.tokens_per_minute = r.non_negative(v, path);
  } else if (key == "max_concurrent") {
    p.max_concurrent = r.non_negative(v, path);
  } else if (key == "budget_hour_usd") {
    p.budget_hour_usd = usd(r, v, path);
  } else if (key == "budget_day_usd") {
    p.budget_day_usd = usd(r, v, path);
  } else if (key == "budget_month_usd") {
    p.budget_month_usd = usd(r, v, path);
  } else if (key == "cache") {
    p.cache = r.boolean(v, path) ? 1 : 0;
  } else {
    return false;
  }
  return true;
}

void read_key_defaults(const Reader& r, const toml::node& n, Config& cfg) {
  KeyPolicy p;
  r.each(r.table(n, "key_defaults"), "key_defaults", [&](std::string_view key, const toml::node& v, const std::string& path) {
    return read_policy_field(r, p, key, v, path);
  });
  cfg.key_defaults = std::move(p);
}

void read_budget(const Reader& r, const toml::node& n, Config& cfg) {
  r.each(r.table(n, "budget"), "budget", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "hour_usd") cfg.budget.hour_usd = usd(r, v, path);
    else if (key == "day_usd") cfg.budget.day_usd = usd(r, v, path);
    else if (key == "month_usd") cfg.budget.month_usd = usd(r, v, path);
    else return false;
    return true;
  });
}

void read_api_keys(const Reader& r, const toml::node& n, Config& cfg) {
  const auto& arr = r.table_array(n, "api_keys");
  std::vector<ApiKey> keys;
  int counter = 0;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string prefix = fmt::format("api_keys[{}]", i);
    ApiKey k;
    bool have_key = false, have_sha = false;
    r.each(*arr[i].as_table(), prefix, [&](std::string_view key, const toml::node& v, const std::string& path) {
      if (key == "label") {
        k.label = r.str(v, path);
      } else if (key == "key" || key == "key_env" || key == "key_sha256") {
        if (have_sha || (have_key && key == "key_sha256"))
          r.fail(v, path, "give one of key, key_env or key_sha256, not two");
        if (key == "key_sha256") {
          have_key = have_sha = true;
          k.key_sha256 = r.str(v, path);
          if (!is_sha256_hex(k.key_sha256)) r.fail(v, path, "must be a SHA-256 digest: 64 hex digits (see `zgate keys hash`)");
        } else {
          k.key = r.secret(key, "key", v, path, have_key);
          if (k.key.empty()) r.fail(v, path, "must not be empty");
        }
      } else if (key == "disabled") {
        k.disabled = r.boolean(v, path);
      } else if (read_policy_field(r, k.policy, key, v, path)) {
      } else {
        return false;
      }
      return true;
    });
    if (!have_key) r.fail(arr[i], prefix, "needs key, key_env or key_sha256");
    if (k.label.empty()) k.label = fmt::format("key-{}", ++counter);
    keys.push_back(std::move(k));
  }
  check_api_keys(keys, "api_keys");
  cfg.api_keys = std::move(keys);
}

// One upstream shaping field (max_concurrent, min_interval_ms, queue_max, queue_timeout_ms) into
// `l`; false when `key` is none of them.
bool read_shaping_field(const Reader& r, ShapingLimits& l, std::string_view key, const toml::node& v,
                        const std::string& path) {
  if (key == "max_concurrent") {
    l.max_concurrent = static_cast<unsigned>(r.integer(v, path, 0, 10'000, "an integer from 0 (no limit) to 10000"));
  } else if (key == "min_interval_ms") {
    l.min_interval = Millis(r.integer(v, path, 0, 3'600'000, "a number of milliseconds up to an hour (0 = none)"));
  } else if (key == "queue_max") {
    l.queue_max = static_cast<std::size_t>(r.integer(v, path, 0, 10'000, "an integer from 0 (no queue) to 10000"));
  } else if (key == "queue_timeout_ms") {
    l.queue_timeout = Millis(r.integer(v, path, 1, 600'000, "a number of milliseconds from 1 to 600000"));
  } else {
    return false;
  }
  return true;
}

// [[providers.shaping]]: each rule starts from the provider's own limits (read first).
void read_shaping_rules(const Reader& r, ProviderConfig& p, const toml::node& n, const std::string& prefix) {
  const auto& arr = r.table_array(n, prefix);
  p.shaping_rules.clear();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string item = fmt::format("{}[{}]", prefix, i);
    ShapingRule rule{.model = {}, .limits = p.shaping};
    r.each(*arr[i].as_table(), item, [&](std::string_view key, const toml::node& v, const std::string& path) {
      if (key == "model") {
        rule.model = r.str(v, path);
        if (rule.model.empty()) r.fail(v, path, "must be a non-empty model name or glob");
        return true;
      }
      return read_shaping_field(r, rule.limits, key, v, path);
    });
    if (rule.model.empty()) r.fail(*arr[i].as_table(), item + ".model", "is required (a glob over upstream model ids)");
    p.shaping_rules.push_back(std::move(rule));
  }
}

void read_provider(const Reader& r, ProviderConfig& p, const toml::table& t, const std::string& prefix) {
  bool have_key = false, have_token = false, have_secret = false;
  const toml::node* shaping = nullptr;
  std::string shaping_path;
  r.each(t, prefix, [&](std::string_view key, const toml::node& v, const std::string& path) {
    auto& z = p.zai;
    if (read_shaping_field(r, p.shaping, key, v, path)) return true;
    if (key == "shaping") {  // read once the provider's own limits are known
      shaping = &v;
      shaping_path = path;
      return true;
    }
    if (key == "name") {
      p.name = r.str(v, path);
    } else if (key == "kind") {
      auto k = parse_kind(r.str(v, path));
      if (!k) r.fail(v, path, "must be \"zhipu\" or \"zai-web\"");
      p.kind = *k;
    } else if (key == "base_url") {
      p.base_url = r.str(v, path);
    } else if (key == "api_key" || key == "api_key_env") {
      p.api_key = r.secret(key, "api_key", v, path, have_key);
    } else if (key == "api_keys" || key == "api_keys_env") {
      // A list of keys, or an environment variable holding them comma-separated.
      if (key == "api_keys") {
        const auto* a = v.as_array();
        if (!a) r.fail(v, path, "must be an array of strings");
        for (std::size_t j = 0; j < a->size(); ++j) p.api_keys.push_back(std::string(text::trim(r.str((*a)[j], fmt::format("{}[{}]", path, j)))));
      } else {
        p.api_keys = text::split_list(r.env_secret(v, path));
      }
    } else if (key == "key_strategy") {
      p.key_strategy = r.str(v, path);
      if (p.key_strategy != "round_robin" && p.key_strategy != "least_loaded")
        r.fail(v, path, "must be round_robin or least_loaded");
    } else if (key == "key_cooldown_ms") {
      p.key_cooldown = Millis(r.integer(v, path, 0, 86'400'000, "a number of milliseconds up to a day"));
    } else if (key == "key_quota_cooldown_ms") {
      p.key_quota_cooldown = Millis(r.integer(v, path, 0, 86'400'000, "a number of milliseconds up to a day"));
    } else if (key == "health_check_interval_s") {
      p.health_check_interval = std::chrono::seconds(r.integer(v, path, 0, 86'400, "a number of seconds up to a day (0 = off)"));
    } else if (key == "health_check_model") {
      p.health_check_model = r.str(v, path);
    } else if (key == "jwt") {
      p.jwt = r.boolean(v, path);
    } else if (key == "ca_file") {
      p.ca_file = r.str(v, path);
    } else if (key == "verify_tls") {
      p.verify_tls = r.boolean(v, path);
    } else if (key == "headers") {
      r.each(r.table(v, path), path, [&](std::string_view h, const toml::node& hv, const std::string& hpath) {
        p.headers[std::string(h)] = r.str(hv, hpath);
        return true;
      });
    } else if (key == "token" || key == "token_env") {
      z.token = r.secret(key, "token", v, path, have_token);
    } else if (key == "tokens" || key == "tokens_env") {
      // A list of tokens, or an environment variable holding them comma-separated.
      if (key == "tokens") {
        const auto* a = v.as_array();
        if (!a) r.fail(v, path, "must be an array of strings");
        for (std::size_t j = 0; j < a->size(); ++j) p.tokens.push_back(std::string(text::trim(r.str((*a)[j], fmt::format("{}[{}]", path, j)))));
      } else {
        p.tokens = text::split_list(r.env_secret(v, path));
      }
    } else if (key == "signing_secret" || key == "signing_secret_env") {
      z.signing_secret = r.secret(key, "signing_secret", v, path, have_secret, /*trim_literal=*/false);
    } else if (key == "guest_per_conversation") {
      z.guest_per_conversation = r.boolean(v, path);
    } else if (key == "fe_version") {
      z.fe_version = r.str(v, path);
    } else if (key == "refresh_fe_version") {
      z.refresh_fe_version = r.boolean(v, path);
    } else if (key == "signed_path") {
      z.signed_path = r.str(v, path);
    } else if (key == "legacy_path") {
      z.legacy_path = r.str(v, path);
    } else if (key == "thinking_mode") {
      z.thinking_mode = r.str(v, path);
      if (!valid_thinking_mode(z.thinking_mode)) r.fail(v, path, "must be reasoning, think_tags or strip");
    } else if (key == "user_agent") {
      z.user_agent = r.str(v, path);
    } else if (key == "function_calling") {
      z.function_calling = r.boolean(v, path);
    } else {
      return false;
    }
    return true;
  });
  if (shaping) read_shaping_rules(r, p, *shaping, shaping_path);
}

// The three price fields of a table, named `<prefix>input`, `<prefix>output` and
// `<prefix>cached_input`: input and output go together, cached_input defaults to input (cache
// hits billed as plain input rather than free).
struct PriceFields {
  std::string_view prefix;
  std::optional<double> input{}, output{}, cached_input{};

  bool take(const Reader& r, std::string_view key, const toml::node& v, const std::string& path) {
    if (key.substr(0, prefix.size()) != prefix) return false;
    const std::string_view field = key.substr(prefix.size());
    std::optional<double>* slot = field == "input" ? &input : field == "output" ? &output
                                  : field == "cached_input" ? &cached_input : nullptr;
    if (!slot) return false;
    *slot = r.price(v, path);
    return true;
  }
  bool given() const { return input || output || cached_input; }
  ModelPrice get(const Reader& r, const toml::node& where, std::string_view path) const {
    if (!input || !output)
      r.fail(where, fmt::format("{}.{}{}", path, prefix, input ? "output" : "input"),
             fmt::format("is required with {}{}", prefix, input ? "input" : output ? "output" : "cached_input"));
    return ModelPrice{*input, *output, cached_input.value_or(*input)};
  }
};

void read_model(const Reader& r, ModelRoute& m, const toml::table& t, const std::string& prefix) {
  PriceFields price{"price_"};
  r.each(t, prefix, [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "name") m.name = r.str(v, path);
    else if (key == "provider") m.provider = r.str(v, path);
    else if (key == "upstream_model") m.upstream_model = r.str(v, path);
    else if (key == "thinking") m.thinking = r.boolean(v, path);
    else if (key == "web_search") m.web_search = r.boolean(v, path);
    else if (key == "vision") m.vision = r.boolean(v, path);
    else if (key == "cache") m.cache = r.boolean(v, path);
    else if (key == "max_output_tokens") m.max_output_tokens = r.non_negative(v, path);
    else if (key == "fallbacks") {
      const auto* a = v.as_array();
      if (!a) r.fail(v, path, "must be an array of model names");
      m.fallbacks.clear();
      for (const auto& e : *a) m.fallbacks.push_back(r.str(e, path));
    }
    else return price.take(r, key, v, path);
    return true;
  });
  if (price.given()) m.set_price(price.get(r, t, prefix), PriceSource::route);
}

// A [[prices]] rule (`rule` set: model and provider keys too) or default_price.
ModelPrice read_price(const Reader& r, const toml::table& t, const std::string& prefix, PriceRule* rule) {
  PriceFields price{""};
  std::string* model = rule ? &rule->model : nullptr;
  r.each(t, prefix, [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (model && key == "model") {
      *model = r.str(v, path);
      if (model->empty()) r.fail(v, path, "must not be empty");
      return true;
    }
    if (rule && key == "provider") {
      rule->provider = r.str(v, path);
      return true;
    }
    return price.take(r, key, v, path);
  });
  if (model && model->empty()) r.fail(t, prefix + ".model", "is required (a model name or glob such as \"glm-5*\")");
  return price.get(r, t, prefix);
}

void read_prices(const Reader& r, const toml::node& n, Config& cfg) {
  const auto& arr = r.table_array(n, "prices");
  cfg.prices.clear();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    PriceRule rule;
    rule.price = read_price(r, *arr[i].as_table(), fmt::format("prices[{}]", i), &rule);
    cfg.prices.push_back(std::move(rule));
  }
}

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

std::optional<double> number_of(const toml::node& n);

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

// A number given as a TOML integer or float.
std::optional<double> number_of(const toml::node& n) {
  if (auto f = n.value_exact<double>()) return *f;
  if (auto i = n.value_exact<int64_t>()) return static_cast<double>(*i);
  return std::nullopt;
}

// One [[alerts]] rule; what depends on the kind is checked by validate().
void read_alert(const Reader& r, AlertRule& a, const toml::table& t, const std::string& prefix) {
  bool have_webhook = false, have_kind = false, have_threshold = false, have_format = false;
  r.each(t, prefix, [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "name") {
      a.name = r.str(v, path);
    } else if (key == "kind") {
      const auto k = parse_alert_kind(r.str(v, path));
      if (!k) r.fail(v, path, "must be error_rate, latency, requests, budget, upstream_failures or recorder_drops");
      a.kind = *k;
      have_kind = true;
    } else if (key == "threshold") {
      const auto x = number_of(v);
      if (!x || !(*x >= 0)) r.fail(v, path, "must be a non-negative number");
      a.threshold = *x;
      have_threshold = true;
    } else if (key == "below") {
      a.below = r.boolean(v, path);
    } else if (key == "stat") {
      a.stat = r.str(v, path);
      if (a.stat != "avg" && a.stat != "p95") r.fail(v, path, "must be avg or p95");
    } else if (key == "of") {
      a.of = r.str(v, path);
      if (a.of != "total" && a.of != "first_token") r.fail(v, path, "must be total or first_token");
    } else if (key == "window_s") {
      a.window = std::chrono::seconds(r.integer(v, path, 1, 86'400, "a number of seconds from 1 to 86400"));
    } else if (key == "repeat_s") {
      a.repeat = std::chrono::seconds(r.integer(v, path, 1, 7 * 86'400, "a number of seconds from 1 to 604800"));
    } else if (key == "key") {
      a.key = r.str(v, path);
    } else if (key == "model") {
      a.model = r.str(v, path);
    } else if (key == "min_requests") {
      a.min_requests = static_cast<uint64_t>(r.integer(v, path, 1, 1'000'000'000, "a positive integer"));
    } else if (key == "webhook" || key == "webhook_env") {
      a.webhook = r.secret(key, "webhook", v, path, have_webhook);
      if (a.webhook.empty()) r.fail(v, path, "must not be empty");
    } else if (key == "format") {
      const auto f = parse_alert_format(r.str(v, path));
      if (!f || *f == AlertFormat::custom) r.fail(v, path, "must be json, slack, feishu or dingtalk (or give template)");
      if (a.format == AlertFormat::custom) r.fail(v, path, "give either format or template, not both");
      a.format = *f;
      have_format = true;
    } else if (key == "template") {
      if (have_format) r.fail(v, path, "give either format or template, not both");
      a.body_template = r.str(v, path);
      a.format = AlertFormat::custom;
    } else {
      return false;
    }
    return true;
  });
  if (!have_kind) r.fail(t, prefix + ".kind", "is required");
  if (!have_threshold && a.kind != AlertKind::recorder_drops) r.fail(t, prefix + ".threshold", "is required");
  if (!have_threshold) a.threshold = 1;
}

void read_alerting(const Reader& r, const toml::node& n, Config& cfg) {
  auto& a = cfg.alerting;
  r.each(r.table(n, "alerting"), "alerting", [&](std::string_view key, const toml::node& v, const std::string& path) {
    if (key == "interval_ms") {
      a.interval = Millis(r.integer(v, path, 10, 3'600'000, "a number of milliseconds from 10 to 3600000"));
    } else if (key == "webhook_timeout_ms") {
      a.webhook_timeout = Millis(r.integer(v, path, 1, 600'000, "a number of milliseconds from 1 to 600000"));
    } else if (key == "webhook_retry_delay_ms") {
      a.webhook_retry_delay = Millis(r.integer(v, path, 0, 600'000, "a number of milliseconds from 0 to 600000"));
    } else if (key == "queue") {
      a.queue = static_cast<std::size_t>(r.integer(v, path, 1, 100'000, "an integer from 1 to 100000"));
    } else if (key == "instance") {
      a.instance = r.str(v, path);
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
