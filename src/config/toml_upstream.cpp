// The TOML tables of upstreams: [[providers]] (with [[providers.shaping]]), [[models]],
// [[prices]] and default_price.
#include "toml_reader.hpp"
#include "zgate/core/text.hpp"

namespace zgate::config_detail {

namespace {

// The upstream shaping fields of a provider or of one of its [[providers.shaping]] rules.
std::array<Setting, 4> shaping_settings(ShapingLimits& l) {
  return {{{"max_concurrent", &l.max_concurrent, {0, 10'000, "an integer from 0 (no limit) to 10000"}},
           {"min_interval_ms", &l.min_interval, {0, 3'600'000, "a number of milliseconds up to an hour (0 = none)"}},
           {"queue_max", &l.queue_max, {0, 10'000, "an integer from 0 (no queue) to 10000"}},
           {"queue_timeout_ms", &l.queue_timeout, {1, 600'000, "a number of milliseconds from 1 to 600000"}}}};
}

// A list of secrets: an array of strings under `key` (each trimmed, added to `into`), or under
// `key`_env an environment variable holding them comma-separated (replacing `into`).
void read_secret_list(const Reader& r, std::string_view key, std::string_view list_key, const toml::node& v,
                      const std::string& path, std::vector<std::string>& into) {
  if (key != list_key) {
    into = text::split_list(r.env_secret(v, path));
    return;
  }
  const auto* a = v.as_array();
  if (!a) r.fail(v, path, "must be an array of strings");
  for (std::size_t j = 0; j < a->size(); ++j)
    into.push_back(std::string(text::trim(r.str((*a)[j], fmt::format("{}[{}]", path, j)))));
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
      return read_setting(r, shaping_settings(rule.limits), key, v, path);
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
  auto& z = p.zai;
  const auto limits = shaping_settings(p.shaping);
  read_table(
      r, t, prefix,
      {{"name", &p.name},
       {"base_url", &p.base_url},
       {"key_strategy", &p.key_strategy, {"round_robin", "least_loaded"}, "must be round_robin or least_loaded"},
       {"key_cooldown_ms", &p.key_cooldown, {0, 86'400'000, "a number of milliseconds up to a day"}},
       {"key_quota_cooldown_ms", &p.key_quota_cooldown, {0, 86'400'000, "a number of milliseconds up to a day"}},
       {"health_check_interval_s", &p.health_check_interval, {0, 86'400, "a number of seconds up to a day (0 = off)"}},
       {"health_check_model", &p.health_check_model},
       {"jwt", &p.jwt},
       {"ca_file", &p.ca_file},
       {"verify_tls", &p.verify_tls},
       {"guest_per_conversation", &z.guest_per_conversation},
       {"fe_version", &z.fe_version},
       {"refresh_fe_version", &z.refresh_fe_version},
       {"signed_path", &z.signed_path},
       {"legacy_path", &z.legacy_path},
       {"thinking_mode", &z.thinking_mode, valid_thinking_mode, "must be reasoning, think_tags or strip"},
       {"user_agent", &z.user_agent},
       {"function_calling", &z.function_calling}},
      [&](std::string_view key, const toml::node& v, const std::string& path) {
        if (read_setting(r, limits, key, v, path)) return true;
        if (key == "shaping") {  // read once the provider's own limits are known
          shaping = &v;
          shaping_path = path;
        } else if (key == "kind") {
          auto k = parse_kind(r.str(v, path));
          if (!k) r.fail(v, path, "must be \"zhipu\" or \"zai-web\"");
          p.kind = *k;
        } else if (key == "api_key" || key == "api_key_env") {
          p.api_key = r.secret(key, "api_key", v, path, have_key);
        } else if (key == "api_keys" || key == "api_keys_env") {
          read_secret_list(r, key, "api_keys", v, path, p.api_keys);
        } else if (key == "headers") {
          r.each(r.table(v, path), path, [&](std::string_view h, const toml::node& hv, const std::string& hpath) {
            p.headers[std::string(h)] = r.str(hv, hpath);
            return true;
          });
        } else if (key == "token" || key == "token_env") {
          z.token = r.secret(key, "token", v, path, have_token);
        } else if (key == "tokens" || key == "tokens_env") {
          read_secret_list(r, key, "tokens", v, path, p.tokens);
        } else if (key == "signing_secret" || key == "signing_secret_env") {
          z.signing_secret = r.secret(key, "signing_secret", v, path, have_secret, /*trim_literal=*/false);
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
  read_table(r, t, prefix,
             {{"name", &m.name},
              {"provider", &m.provider},
              {"upstream_model", &m.upstream_model},
              {"thinking", &m.thinking},
              {"web_search", &m.web_search},
              {"vision", &m.vision},
              {"cache", &m.cache},
              {"max_output_tokens", &m.max_output_tokens, kNonNegative}},
             [&](std::string_view key, const toml::node& v, const std::string& path) {
               if (key != "fallbacks") return price.take(r, key, v, path);
               read_strings(r, v, path, "must be an array of model names", m.fallbacks);
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
