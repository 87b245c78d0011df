#include "zgate/route/router.hpp"

#include "zgate/json/writer.hpp"

namespace zgate {
namespace {

constexpr int64_t K = 1024;

ModelRoute route(std::string_view provider, std::string name, std::string upstream, int64_t max_out,
                 double in, double out, double cached_in) {
  ModelRoute r;
  r.name = std::move(name);
  r.provider = std::string(provider);
  r.upstream_model = std::move(upstream);
  r.max_output_tokens = max_out;
  r.price_input = in;
  r.price_output = out;
  r.price_cached_input = cached_in;
  return r;
}

std::vector<ModelRoute> zhipu_models(std::string_view p) {
  // zhipu-v4 spec §7: max output and Z.ai USD prices per million tokens (in / out / cached-in).
  std::vector<ModelRoute> v;
  v.push_back(route(p, "glm-4.6", "glm-4.6", 128 * K, 0.60, 2.20, 0.11));
  v.push_back(route(p, "glm-4.5", "glm-4.5", 96 * K, 0.60, 2.20, 0.11));
  v.push_back(route(p, "glm-4.5-air", "glm-4.5-air", 96 * K, 0.20, 1.10, 0.03));
  v.push_back(route(p, "glm-4.5-x", "glm-4.5-x", 96 * K, 2.20, 8.90, 0.45));
  v.push_back(route(p, "glm-4.5-airx", "glm-4.5-airx", 96 * K, 1.10, 4.50, 0.22));
  v.push_back(route(p, "glm-4.5-flash", "glm-4.5-flash", 96 * K, 0, 0, 0));
  auto vision = route(p, "glm-4.5v", "glm-4.5v", 16 * K, 0.60, 1.80, 0.11);
  vision.vision = true;
  v.push_back(std::move(vision));
  // Aliases: the same upstream model with thinking forced on / the web_search tool added.
  auto thinking = route(p, "glm-4.5-thinking", "glm-4.5", 96 * K, 0.60, 2.20, 0.11);
  thinking.thinking = true;
  v.push_back(std::move(thinking));
  auto search = route(p, "glm-4.5-search", "glm-4.5", 96 * K, 0.60, 2.20, 0.11);
  search.web_search = true;
  v.push_back(std::move(search));
  return v;
}

std::vector<ModelRoute> zai_web_models(std::string_view p) {
  // zai-web spec §6.4: public name -> upstream id. The web frontend is free (no prices) and
  // clamps output itself (no max).
  struct Row {
    const char* name;
    const char* upstream;
    signed char thinking;  // -1 unset, 0 off, 1 on
    bool search;
    bool vision;
  };
  static constexpr Row rows[] = {
      {"glm-4.5", "0727-360B-API", -1, false, false},
      {"glm-4.5-thinking", "0727-360B-API", 1, false, false},
      {"glm-4.5-search", "0727-360B-API", -1, true, false},
      {"glm-4.5-air", "0727-106B-API", -1, false, false},
      {"glm-4.5v", "glm-4.5v", -1, false, true},
      {"glm-4.6", "GLM-4-6-API-V1", -1, false, false},
      {"glm-4.6v", "glm-4.6v", -1, false, true},
      {"glm-4.7", "glm-4.7", -1, false, false},
      {"glm-4.7-thinking", "glm-4.7", 1, false, false},
      {"glm-4.7-search", "glm-4.7", -1, true, false},
      {"glm-5", "glm-5", -1, false, false},
      {"glm-5-thinking", "glm-5", 1, false, false},
      {"glm-5-turbo", "GLM-5-Turbo", -1, false, false},
      {"glm-5v-turbo", "GLM-5v-Turbo", -1, false, true},
      {"glm-5.1", "GLM-5.1", -1, false, false},
      {"deep-research", "0808-360B-DR", -1, false, false},
  };
  std::vector<ModelRoute> v;
  v.reserve(std::size(rows));
  for (const auto& r : rows) {
    auto m = route(p, r.name, r.upstream, 0, 0, 0, 0);
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
    case ProviderKind::zhipu: return zhipu_models(provider_name);
    case ProviderKind::zai_web: return zai_web_models(provider_name);
  }
  return {};
}

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

bool Router::write_model(std::string& out, std::string_view id) const {
  const auto t = find(id);
  if (!t || !t->listed) return false;
  json::Writer w(out);
  append_model(w, id, t->provider->kind);
  return true;
}

}  // namespace zgate
