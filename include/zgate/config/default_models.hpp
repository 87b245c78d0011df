#pragma once
// The built-in model tables: what a provider without any [[models]] route publishes.
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"

namespace zgate {

// The built-in model table of a provider kind, routed to `provider_name`. zhipu: the v4 API's
// models with their output limits and Z.ai's USD prices (docs/prices.md); zai-web:
// the public names of the web frontend's models and their upstream ids
// (docs/protocols/zai-web.md).
std::vector<ModelRoute> default_models(ProviderKind kind, std::string_view provider_name);

}  // namespace zgate
