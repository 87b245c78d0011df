// The TOML tables of upstreams: [[providers]] (with [[providers.shaping]]), [[models]],
// [[prices]] and default_price.
#include "toml_reader.hpp"
#include "zgate/core/text.hpp"

namespace zgate::config_detail {

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace zgate::config_detail
