#pragma once
// Model routing: public model name -> (route, provider, upstream model id). The table is built
// once from the immutable Config; lookups are one hash probe with no allocation.
#include <map>
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
  // own name when allow_unlisted_models, else nullopt (-> 404 model_not_found). Its route is
  // priced by the first matching [[prices]] rule, else the built-in table's price of a model
  // with that id, else default_price; else it is unpriced.
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
  const ModelRoute* unlisted_route(std::string_view model) const;
  // Template routes for unlisted models, one per price they can get (heap-held so Targets
  // survive moving the Router): unpriced, per [[prices]] rule (same order as rule_globs_), per
  // built-in model id, and default_price.
  std::unique_ptr<ModelRoute> unlisted_;
  std::vector<std::string> rule_globs_;
  std::vector<std::unique_ptr<ModelRoute>> rule_routes_;
  std::map<std::string, std::unique_ptr<ModelRoute>, std::less<>> builtin_routes_;
  std::unique_ptr<ModelRoute> default_priced_;
  const ProviderConfig* default_provider_ = nullptr;
  bool allow_unlisted_ = false;
  std::string models_json_;
};

}  // namespace zgate
