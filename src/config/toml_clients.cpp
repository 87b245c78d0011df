// The TOML tables of client keys: [[api_keys]], [key_defaults] (the policy fields they share) and
// [budget].
#include "toml_reader.hpp"
#include "zgate/core/text.hpp"

namespace zgate::config_detail {

namespace {

// One field of a key policy ([[api_keys]] or [key_defaults]); false when `key` is none.
bool read_policy_field(const Reader& r, KeyPolicy& p, std::string_view key, const toml::node& v,
                       const std::string& path) {
  const Setting plain[] = {{"requests_per_minute", &p.requests_per_minute, kNonNegative},
                           {"tokens_per_minute", &p.tokens_per_minute, kNonNegative},
                           {"max_concurrent", &p.max_concurrent, kNonNegative},
                           {"budget_hour_usd", &p.budget_hour_usd, kUsd},
                           {"budget_day_usd", &p.budget_day_usd, kUsd},
                           {"budget_month_usd", &p.budget_month_usd, kUsd}};
  if (read_setting(r, plain, key, v, path)) return true;
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
  } else if (key == "cache") {
    p.cache = r.boolean(v, path) ? 1 : 0;
  } else {
    return false;
  }
  return true;
}

}  // namespace

void read_key_defaults(const Reader& r, const toml::node& n, Config& cfg) {
  KeyPolicy p;
  r.each(r.table(n, "key_defaults"), "key_defaults", [&](std::string_view key, const toml::node& v, const std::string& path) {
    return read_policy_field(r, p, key, v, path);
  });
  cfg.key_defaults = std::move(p);
}

void read_budget(const Reader& r, const toml::node& n, Config& cfg) {
  auto& b = cfg.budget;
  read_table(r, r.table(n, "budget"), "budget",
             {{"hour_usd", &b.hour_usd, kUsd}, {"day_usd", &b.day_usd, kUsd}, {"month_usd", &b.month_usd, kUsd}});
}

void read_api_keys(const Reader& r, const toml::node& n, Config& cfg) {
  const auto& arr = r.table_array(n, "api_keys");
  std::vector<ApiKey> keys;
  int counter = 0;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string prefix = fmt::format("api_keys[{}]", i);
    ApiKey k;
    bool have_key = false, have_sha = false;
    read_table(r, *arr[i].as_table(), prefix, {{"label", &k.label}, {"disabled", &k.disabled}},
               [&](std::string_view key, const toml::node& v, const std::string& path) {
                 if (key == "key" || key == "key_env" || key == "key_sha256") {
                   if (have_sha || (have_key && key == "key_sha256"))
                     r.fail(v, path, "give one of key, key_env or key_sha256, not two");
                   if (key == "key_sha256") {
                     have_key = have_sha = true;
                     k.key_sha256 = r.str(v, path);
                     if (!is_sha256_hex(k.key_sha256))
                       r.fail(v, path, "must be a SHA-256 digest: 64 hex digits (see `zgate keys hash`)");
                   } else {
                     k.key = r.secret(key, "key", v, path, have_key);
                     if (k.key.empty()) r.fail(v, path, "must not be empty");
                   }
                   return true;
                 }
                 return read_policy_field(r, k.policy, key, v, path);
               });
    if (!have_key) r.fail(arr[i], prefix, "needs key, key_env or key_sha256");
    if (k.label.empty()) k.label = fmt::format("key-{}", ++counter);
    keys.push_back(std::move(k));
  }
  check_api_keys(keys, "api_keys");
  cfg.api_keys = std::move(keys);
}

}  // namespace zgate::config_detail
