// The built-in model tables of the provider kinds.
#include "zgate/config/default_models.hpp"

#include <iterator>

namespace zgate {
namespace {

// One published model. Prices in USD per million tokens (input / output / cached input); a row
// with all three 0 is unpriced unless `free` says the model costs nothing.
struct Row {
  const char* name;
  const char* upstream;
  int64_t max_output_k;  // clamp in units of 1024 tokens; 0 = none
  double in, out, cached_in;
  signed char thinking;  // -1 unset, 0 off, 1 on
  bool search;
  bool vision;
  bool free = false;
};

// The v4 API: max output and Z.ai's published USD prices (docs/prices.md says where and when
// they were read, and which models were left out for want of a confirmed price). The aliases
// are the same upstream model with thinking forced on / the web_search tool added.
constexpr Row kZhipu[] = {
    {"glm-5", "glm-5", 128, 1.00, 3.20, 0.20, -1, false, false},
    {"glm-5-turbo", "glm-5-turbo", 128, 1.20, 4.00, 0.24, -1, false, false},
    {"glm-5-code", "glm-5-code", 128, 1.20, 5.00, 0.30, -1, false, false},
    {"glm-4.7", "glm-4.7", 128, 0.60, 2.20, 0.11, -1, false, false},
    {"glm-4.7-flashx", "glm-4.7-flashx", 128, 0.07, 0.40, 0.01, -1, false, false},
    {"glm-4.7-flash", "glm-4.7-flash", 128, 0, 0, 0, -1, false, false, true},
    {"glm-4.6", "glm-4.6", 128, 0.60, 2.20, 0.11, -1, false, false},
    {"glm-4.5", "glm-4.5", 96, 0.60, 2.20, 0.11, -1, false, false},
    {"glm-4.5-air", "glm-4.5-air", 96, 0.20, 1.10, 0.03, -1, false, false},
    {"glm-4.5-x", "glm-4.5-x", 96, 2.20, 8.90, 0.45, -1, false, false},
    {"glm-4.5-airx", "glm-4.5-airx", 96, 1.10, 4.50, 0.22, -1, false, false},
    {"glm-4.5-flash", "glm-4.5-flash", 96, 0, 0, 0, -1, false, false, true},
    {"glm-4.5v", "glm-4.5v", 16, 0.60, 1.80, 0.11, -1, false, true},
    {"glm-4.5-thinking", "glm-4.5", 96, 0.60, 2.20, 0.11, 1, false, false},
    {"glm-4.5-search", "glm-4.5", 96, 0.60, 2.20, 0.11, -1, true, false},
};

// The web frontend (docs/protocols/zai-web.md): public name -> upstream id. It is free and
// clamps output itself (no max).
constexpr Row kZaiWeb[] = {
    {"glm-4.5", "0727-360B-API", 0, 0, 0, 0, -1, false, false, true},
    {"glm-4.5-thinking", "0727-360B-API", 0, 0, 0, 0, 1, false, false, true},
    {"glm-4.5-search", "0727-360B-API", 0, 0, 0, 0, -1, true, false, true},
    {"glm-4.5-air", "0727-106B-API", 0, 0, 0, 0, -1, false, false, true},
    {"glm-4.5v", "glm-4.5v", 0, 0, 0, 0, -1, false, true, true},
    {"glm-4.6", "GLM-4-6-API-V1", 0, 0, 0, 0, -1, false, false, true},
    {"glm-4.6v", "glm-4.6v", 0, 0, 0, 0, -1, false, true, true},
    {"glm-4.7", "glm-4.7", 0, 0, 0, 0, -1, false, false, true},
    {"glm-4.7-thinking", "glm-4.7", 0, 0, 0, 0, 1, false, false, true},
    {"glm-4.7-search", "glm-4.7", 0, 0, 0, 0, -1, true, false, true},
    {"glm-5", "glm-5", 0, 0, 0, 0, -1, false, false, true},
    {"glm-5-thinking", "glm-5", 0, 0, 0, 0, 1, false, false, true},
    {"glm-5-turbo", "GLM-5-Turbo", 0, 0, 0, 0, -1, false, false, true},
    {"glm-5v-turbo", "GLM-5v-Turbo", 0, 0, 0, 0, -1, false, true, true},
    {"glm-5.1", "GLM-5.1", 0, 0, 0, 0, -1, false, false, true},
    {"deep-research", "0808-360B-DR", 0, 0, 0, 0, -1, false, false, true},
};

template <std::size_t N>
std::vector<ModelRoute> routes(const Row (&rows)[N], std::string_view provider) {
  std::vector<ModelRoute> v;
  v.reserve(N);
  for (const Row& r : rows) {
    ModelRoute m;
    m.name = r.name;
    m.provider = std::string(provider);
    m.upstream_model = r.upstream;
    m.max_output_tokens = r.max_output_k * 1024;
    if (r.free || r.in > 0 || r.out > 0 || r.cached_in > 0)
      m.set_price({r.in, r.out, r.cached_in}, PriceSource::builtin);
    if (r.thinking >= 0) m.thinking = r.thinking == 1;
    m.web_search = r.search;
    m.vision = r.vision;
    v.push_back(std::move(m));
  }
  return v;
}

}  // namespace

std::vector<ModelRoute> default_models(ProviderKind kind, std::string_view provider_name) {
  switch (kind) {
    case ProviderKind::zhipu: return routes(kZhipu, provider_name);
    case ProviderKind::zai_web: return routes(kZaiWeb, provider_name);
  }
  return {};
}

}  // namespace zgate
