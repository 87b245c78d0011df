#pragma once
// A model route: what a public model name stands for upstream. Plain data shared by the
// configuration (which declares routes), the router (which looks them up) and the dialects
// (which build upstream requests from them).
#include <cstdint>
#include <optional>
#include <string>

namespace zgate {

struct ModelRoute {
  std::string name;            // public name clients send / see in /v1/models
  std::string provider;        // ProviderConfig::name
  std::string upstream_model;  // id sent upstream
  std::optional<bool> thinking;// force thinking on/off (alias models)
  bool web_search = false;     // add the provider's web search
  bool vision = false;         // accepts image parts
  int64_t max_output_tokens = 0;  // clamp max_tokens (0 = no clamp)
  // Prices in USD per million tokens, for the cost column of the access log (0 = unknown/free).
  double price_input = 0, price_output = 0, price_cached_input = 0;
};

}  // namespace zgate
