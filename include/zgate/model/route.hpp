#pragma once
// A model route: what a public model name stands for upstream. Plain data shared by the
// configuration (which declares routes), the router (which looks them up) and the dialects
// (which build upstream requests from them).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zgate {

// USD per million tokens. Cached input tokens (prompt_tokens_details.cached_tokens) are billed at
// `cached_input` instead of `input`.
struct ModelPrice {
  double input = 0, output = 0, cached_input = 0;
};

// Where a route's price came from. `unknown` means no price at all (cost 0 in the log, but not
// free): budget enforcement can tell the two apart.
enum class PriceSource : unsigned char { unknown, builtin, route, rule, default_price };

struct ModelRoute {
  std::string name;            // public name clients send / see in /v1/models
  std::string provider;        // ProviderConfig::name
  std::string upstream_model;  // id sent upstream
  std::optional<bool> thinking;// force thinking on/off (alias models)
  bool web_search = false;     // add the provider's web search
  bool vision = false;         // accepts image parts
  int64_t max_output_tokens = 0;  // clamp max_tokens (0 = no clamp)
  // Other routes (their public names) tried in order when this one fails in a way another
  // upstream may not (the upstream unreachable, 5xx, overloaded, every key resting) and nothing
  // has been sent to the client yet. Only this route's list is followed, not theirs.
  std::vector<std::string> fallbacks;
  // The response cache for this route: true / false override [cache] enabled; unset = follow it.
  std::optional<bool> cache;
  // Prices in USD per million tokens, for the cost column of the access log; see price_source
  // (0 with a known source is free, 0 with PriceSource::unknown is unpriced).
  double price_input = 0, price_output = 0, price_cached_input = 0;
  PriceSource price_source = PriceSource::unknown;

  bool priced() const { return price_source != PriceSource::unknown; }
  void set_price(const ModelPrice& p, PriceSource from) {
    price_input = p.input;
    price_output = p.output;
    price_cached_input = p.cached_input;
    price_source = from;
  }
};

}  // namespace zgate
