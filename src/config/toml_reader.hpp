#pragma once
// The TOML layer's reader (typed values, secrets, unknown keys refused with file:line and the
// key's path) and the readers of its tables, one file per group: toml.cpp (the top level and
// the small tables), toml_clients.cpp (client keys, their defaults, the global budget),
// toml_upstream.cpp (providers, models, prices), toml_alerts.cpp. Internal to src/config.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "detail.hpp"
#include "zgate/config/config.hpp"
#include "zgate/core/text.hpp"

namespace zgate::config_detail {

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

// An integer setting's bounds, and how the error describes them ("an integer from 1 to 10").
struct Range {
  int64_t min, max;
  std::string_view what;
};
inline constexpr Range kPositive{1, INT64_MAX, "a positive integer"};
inline constexpr Range kNonNegative{0, INT64_MAX, "a non-negative integer"};
// A number of seconds read into a field of milliseconds.
inline constexpr std::type_identity<std::chrono::seconds> kSeconds{};
// The kind of a double setting that holds a USD amount (see usd()).
inline constexpr struct Usd {} kUsd;

// One key of a table and the field it is read into: a string (any, one of two values, or one
// `valid` accepts; else the error `why`), a boolean (or an optional one), an integer within a
// Range (into any integer or duration field), or a USD amount. Tables list their plain keys as
// Settings and read the keys with logic of their own themselves (read_table).
class Setting {
 public:
  Setting(std::string_view key, std::string* to) : key_(key), to_(to), read_(&read_string) {}
  Setting(std::string_view key, std::string* to, std::array<std::string_view, 2> one_of, std::string_view why)
      : key_(key), to_(to), read_(&read_string), one_of_(one_of), why_(why) {}
  Setting(std::string_view key, std::string* to, bool (*valid)(std::string_view), std::string_view why)
      : key_(key), to_(to), read_(&read_string), valid_(valid), why_(why) {}
  Setting(std::string_view key, bool* to) : key_(key), to_(to), read_(&read_boolean<bool>) {}
  Setting(std::string_view key, std::optional<bool>* to)
      : key_(key), to_(to), read_(&read_boolean<std::optional<bool>>) {}
  // `Unit`: what the number counts when the field is a duration of another unit (kSeconds).
  template <class T, class Unit = T>
  Setting(std::string_view key, T* to, Range range, std::type_identity<Unit> = {})
      : key_(key), to_(to), read_(&read_integer<T, Unit>), range_(range) {}
  Setting(std::string_view key, double* to, Usd) : key_(key), to_(to), read_(&read_usd) {}

  std::string_view key() const { return key_; }
  void read(const Reader& r, const toml::node& n, std::string_view path) const { read_(*this, r, n, path); }

 private:
  using ReadFn = void (*)(const Setting&, const Reader&, const toml::node&, std::string_view);
  static void read_string(const Setting& s, const Reader& r, const toml::node& n, std::string_view path) {
    auto& to = *static_cast<std::string*>(s.to_);
    to = r.str(n, path);
    const bool ok = s.valid_ ? s.valid_(to) : s.one_of_[0].empty() || to == s.one_of_[0] || to == s.one_of_[1];
    if (!ok) r.fail(n, path, s.why_);
  }
  template <class T>
  static void read_boolean(const Setting& s, const Reader& r, const toml::node& n, std::string_view path) {
    *static_cast<T*>(s.to_) = r.boolean(n, path);
  }
  template <class T, class Unit>
  static void read_integer(const Setting& s, const Reader& r, const toml::node& n, std::string_view path) {
    *static_cast<T*>(s.to_) = T(Unit(r.integer(n, path, s.range_.min, s.range_.max, s.range_.what)));
  }
  static void read_usd(const Setting& s, const Reader& r, const toml::node& n, std::string_view path);

  std::string_view key_;
  void* to_;
  ReadFn read_;
  Range range_{};
  std::array<std::string_view, 2> one_of_{};
  bool (*valid_)(std::string_view) = nullptr;
  std::string_view why_;
};

using OnKey = std::function<bool(std::string_view, const toml::node&, const std::string&)>;

// Reads `key` if one of `settings` names it; false when none does.
inline bool read_setting(const Reader& r, std::span<const Setting> settings, std::string_view key,
                         const toml::node& n, std::string_view path) {
  for (const Setting& s : settings) {
    if (s.key() == key) {
      s.read(r, n, path);
      return true;
    }
  }
  return false;
}

// Reads the table `t` at `prefix`: its keys named by `settings` into their fields, any other
// by `rest`, which returns false for a key it does not know either (no `rest`: none).
inline void read_table(const Reader& r, const toml::table& t, std::string_view prefix,
                       std::initializer_list<Setting> settings, const OnKey& rest = nullptr) {
  const std::span<const Setting> known(settings.begin(), settings.size());
  r.each(t, prefix, [&](std::string_view key, const toml::node& v, const std::string& path) {
    return read_setting(r, known, key, v, path) || (rest && rest(key, v, path));
  });
}

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
inline double usd(const Reader& r, const toml::node& n, std::string_view path) {
  std::optional<double> v;
  if (auto f = n.value_exact<double>()) v = *f;
  else if (auto i = n.value_exact<int64_t>()) v = static_cast<double>(*i);
  if (!v || !(*v >= 0) || *v > 1e12) r.fail(n, path, "must be a non-negative number of USD (0 = no limit)");
  return *v;
}

inline void Setting::read_usd(const Setting& s, const Reader& r, const toml::node& n, std::string_view path) {
  *static_cast<double*>(s.to_) = usd(r, n, path);
}

// An array of strings (`why`: the error when it is not an array), replacing `into`.
inline void read_strings(const Reader& r, const toml::node& n, std::string_view path, std::string_view why,
                         std::vector<std::string>& into) {
  const auto* a = n.as_array();
  if (!a) r.fail(n, path, why);
  into.clear();
  for (const auto& e : *a) into.push_back(r.str(e, path));
}

// A number given as a TOML integer or float.
inline std::optional<double> number_of(const toml::node& n) {
  if (auto f = n.value_exact<double>()) return *f;
  if (auto i = n.value_exact<int64_t>()) return static_cast<double>(*i);
  return std::nullopt;
}

// [[api_keys]], [key_defaults], [budget] (toml_clients.cpp).
void read_api_keys(const Reader& r, const toml::node& n, Config& cfg);
void read_key_defaults(const Reader& r, const toml::node& n, Config& cfg);
void read_budget(const Reader& r, const toml::node& n, Config& cfg);
// One [[providers]] or [[models]] item, [[prices]], a price table such as default_price
// (toml_upstream.cpp).
void read_provider(const Reader& r, ProviderConfig& p, const toml::table& t, const std::string& prefix);
void read_model(const Reader& r, ModelRoute& m, const toml::table& t, const std::string& prefix);
void read_prices(const Reader& r, const toml::node& n, Config& cfg);
ModelPrice read_price(const Reader& r, const toml::table& t, const std::string& prefix, PriceRule* rule);
// One [[alerts]] item, [alerting] (toml_alerts.cpp).
void read_alert(const Reader& r, AlertRule& a, const toml::table& t, const std::string& prefix);
void read_alerting(const Reader& r, const toml::node& n, Config& cfg);

}  // namespace zgate::config_detail
