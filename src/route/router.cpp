#include "zgate/route/router.hpp"

#include <fnmatch.h>

#include "zgate/config/default_models.hpp"
#include "zgate/json/writer.hpp"

namespace zgate {

namespace {
// The `created` time /v1/models reports (the upstreams publish none): a fixed date, so that
// answers do not change from one start to the next.
constexpr int64_t kModelCreated = 1700000000;

void append_model(json::Writer& w, std::string_view id, ProviderKind kind) {
  w.begin_object().kv("id", id).kv("object", "model").kv("created", kModelCreated).kv("owned_by", to_string(kind)).end_object();
}
}  // namespace

Router::Router(const Config& cfg) : allow_unlisted_(cfg.allow_unlisted_models) {
  default_provider_ = cfg.find_provider(cfg.default_provider);
  if (!default_provider_ && !cfg.providers.empty()) default_provider_ = &cfg.providers.front();

  json::Writer w(models_json_);
  w.begin_object().kv("object", "list").key("data").begin_array();
  for (const auto& m : cfg.models) {
    const ProviderConfig* p = cfg.find_provider(m.provider);
    if (!p) continue;  // validate() rejects this; be safe for hand-built configs
    Target t{&m, p, m.upstream_model.empty() ? std::string_view(m.name) : std::string_view(m.upstream_model),
             true};
    if (!routes_.emplace(std::string_view(m.name), t).second) continue;  // first one wins
    append_model(w, m.name, p->kind);
  }
  w.end_array().end_object();

  if (default_provider_) {
    auto make = [this](const ModelPrice* price, PriceSource from) {
      auto r = std::make_unique<ModelRoute>();
      r->provider = default_provider_->name;
      r->vision = true;  // unknown model: let the upstream decide what it accepts
      if (price) r->set_price(*price, from);
      return r;
    };
    unlisted_ = make(nullptr, PriceSource::unknown);
    for (const auto& rule : cfg.prices) {
      if (!rule.provider.empty() && rule.provider != default_provider_->name) continue;
      rule_globs_.push_back(rule.model);
      rule_routes_.push_back(make(&rule.price, PriceSource::rule));
    }
    for (const auto& d : default_models(default_provider_->kind, default_provider_->name)) {
      if (!d.priced() || builtin_routes_.count(d.upstream_model)) continue;
      const ModelPrice price{d.price_input, d.price_output, d.price_cached_input};
      builtin_routes_.emplace(d.upstream_model, make(&price, PriceSource::builtin));
    }
    if (cfg.default_price) default_priced_ = make(&*cfg.default_price, PriceSource::default_price);
  }
}

const ModelRoute* Router::unlisted_route(std::string_view model) const {
  if (!rule_globs_.empty()) {
    const std::string name(model);  // fnmatch wants a C string
    for (std::size_t i = 0; i < rule_globs_.size(); ++i) {
      if (::fnmatch(rule_globs_[i].c_str(), name.c_str(), 0) == 0) return rule_routes_[i].get();
    }
  }
  if (auto it = builtin_routes_.find(model); it != builtin_routes_.end()) return it->second.get();
  if (default_priced_) return default_priced_.get();
  return unlisted_.get();
}

std::optional<Router::Target> Router::find(std::string_view model) const {
  if (auto it = routes_.find(model); it != routes_.end()) return it->second;
  if (!allow_unlisted_ || !default_provider_ || model.empty()) return std::nullopt;
  return Target{unlisted_route(model), default_provider_, model, false};
}

void Router::write_models_list(std::string& out) const { out.append(models_json_); }

bool Router::write_model(std::string& out, std::string_view id) const {
  const auto t = find(id);
  if (!t || !t->listed) return false;
  json::Writer w(out);
  append_model(w, id, t->provider->kind);
  return true;
}

}  // namespace zgate
