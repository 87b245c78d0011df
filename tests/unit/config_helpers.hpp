// Test helpers: a configuration read from TOML text, and the message of the ConfigError a bad
// text raises.
#pragma once

#include <string>
#include <utility>

#include "zgate/config/config.hpp"

namespace zgate::test {

inline const char* no_env(const char*) { return nullptr; }

// A zhipu provider "z" (with a key) and the TOML `text` on top, validated.
inline Config load_toml(const std::string& text, bool allow_no_auth = false) {
  Config c;
  c.allow_no_auth = allow_no_auth;
  ProviderConfig p;
  p.name = "z";
  p.api_key = "up-key";
  c.providers.push_back(p);
  apply_toml(c, text, "t.toml", &no_env);
  validate(c);
  return c;
}

// What `load(args...)` raises, or "(no ConfigError)".
template <typename Load, typename... Args>
std::string config_error(Load&& load, Args&&... args) {
  try {
    std::forward<Load>(load)(std::forward<Args>(args)...);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

}  // namespace zgate::test
