#pragma once
// Model routing: public model name -> (route, provider, upstream model id). The table is built
// once from the immutable Config; lookups are one hash probe with no allocation.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zgate/config/config.hpp"

namespace zgate {

class Router {
 public:
  // Keeps pointers into `cfg`, which must outlive the Router (it is immutable and shared).
  explicit Router(const Config& cfg);

  struct Target {
    const ModelRoute* route = nullptr;       // for unlisted models: the provider's "unlisted" template
    const ProviderConfig* provider = nullptr;
    std::string_view upstream_model;          // route's upstream_model, or the requested name
    bool listed = true;                       // false: an unlisted model passed through
  };

  // Exact match on the public name. An unlisted model goes to the default provider under its
  // own name when allow_unlisted_models, else nullopt (-> 404 model_not_found).
  std::optional<Target> find(std::string_view model) const;

  // Appends the OpenAI /v1/models body (built once at construction) to `out`.
  void write_models_list(std::string& out) const;
  // Appends the OpenAI model object of a listed model; false when `id` is not listed.
  bool write_model(std::string& out, std::string_view id) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string_view, Target, Hash, std::equal_to<>> routes_;
  // Template route for unlisted models (heap-held so Targets survive moving the Router).
  std::unique_ptr<ModelRoute> unlisted_;
  const ProviderConfig* default_provider_ = nullptr;
  bool allow_unlisted_ = false;
  std::string models_json_;
};

}  // namespace zgate
