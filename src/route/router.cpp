#include "zgate/route/router.hpp"

#include "zgate/json/writer.hpp"

namespace zgate {

Router::Router(const Config& cfg) : allow_unlisted_(cfg.allow_unlisted_models) {
  default_provider_ = cfg.find_provider(cfg.default_provider);
  if (!default_provider_ && !cfg.providers.empty()) default_provider_ = &cfg.providers.front();

  std::string_view created = "1700000000";
  json::Writer w(models_json_);
  w.begin_object().kv("object", "list").key("data").begin_array();
  for (const auto& m : cfg.models) {
    const ProviderConfig* p = cfg.find_provider(m.provider);
    if (!p) continue;  // validate() rejects this; be safe for hand-built configs
    Target t{&m, p, m.upstream_model.empty() ? std::string_view(m.name) : std::string_view(m.upstream_model),
             true};
    if (!routes_.emplace(std::string_view(m.name), t).second) continue;  // first one wins
    w.begin_object()
        .kv("id", m.name)
        .kv("object", "model")
        .key("created").raw(created)
        .kv("owned_by", to_string(p->kind))
        .end_object();
  }
  w.end_array().end_object();

  if (default_provider_) {
    unlisted_ = std::make_unique<ModelRoute>();
    unlisted_->provider = default_provider_->name;
    unlisted_->vision = true;  // unknown model: let the upstream decide what it accepts
  }
}

std::optional<Router::Target> Router::find(std::string_view model) const {
  if (auto it = routes_.find(model); it != routes_.end()) return it->second;
  if (!allow_unlisted_ || !default_provider_ || model.empty()) return std::nullopt;
  return Target{unlisted_.get(), default_provider_, model, false};
}

void Router::write_models_list(std::string& out) const { out.append(models_json_); }

}  // namespace zgate
