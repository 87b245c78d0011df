// Model routing: built-in tables, aliases, unlisted models, the /v1/models body.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "zgate/config/default_models.hpp"
#include "zgate/json/read.hpp"
#include "zgate/route/router.hpp"

using namespace zgate;

namespace {

// One provider "up" of `kind`, with these routes (none: validate() fills the kind's defaults).
Config config_with(ProviderKind kind, bool allow_unlisted = true, std::vector<ModelRoute> routes = {}) {
  Config c;
  c.allow_no_auth = true;
  ProviderConfig p;
  p.name = "up";
  p.kind = kind;
  c.providers.push_back(p);
  c.models = std::move(routes);
  c.allow_unlisted_models = allow_unlisted;
  validate(c);
  return c;
}

}  // namespace

TEST_CASE("router: zhipu defaults carry the published prices and limits", "[unit][router]") {
  const auto models = default_models(ProviderKind::zhipu, "z");
  std::set<std::string> names;
  for (const auto& m : models) {
    names.insert(m.name);
    CHECK(m.provider == "z");
  }
  for (const char* n : {"glm-4.6", "glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash", "glm-4.5v",
                        "glm-4.5-thinking", "glm-4.5-search"}) {
    INFO(n);
    CHECK(names.count(n) == 1);
  }
  const Config c = config_with(ProviderKind::zhipu);
  const Router r(c);
  auto air = r.find("glm-4.5-air");
  REQUIRE(air);
  CHECK(air->route->price_input == Approx(0.20));
  CHECK(air->route->price_output == Approx(1.10));
  CHECK(air->route->price_cached_input == Approx(0.03));
  CHECK(air->route->max_output_tokens == 96 * 1024);
  auto v = r.find("glm-4.5v");
  REQUIRE(v);
  CHECK(v->route->vision);
  CHECK(v->route->max_output_tokens == 16 * 1024);
  auto flash = r.find("glm-4.5-flash");
  REQUIRE(flash);
  CHECK(flash->route->price_input == 0);
}

TEST_CASE("router: zhipu aliases map to glm-4.5 with thinking / web search", "[unit][router]") {
  const Config c = config_with(ProviderKind::zhipu);
  const Router r(c);
  auto t = r.find("glm-4.5-thinking");
  REQUIRE(t);
  CHECK(t->upstream_model == "glm-4.5");
  CHECK(t->route->thinking == std::optional<bool>(true));
  CHECK_FALSE(t->route->web_search);
  CHECK(t->provider->name == "up");
  CHECK(t->listed);
  auto s = r.find("glm-4.5-search");
  REQUIRE(s);
  CHECK(s->upstream_model == "glm-4.5");
  CHECK(s->route->web_search);
  CHECK_FALSE(s->route->thinking.has_value());
}

TEST_CASE("router: zai-web public names map to the web frontend's model ids", "[unit][router]") {
  const Config c = config_with(ProviderKind::zai_web);
  const Router r(c);
  const std::pair<const char*, const char*> expect[] = {
      {"glm-4.5", "0727-360B-API"},     {"glm-4.5-thinking", "0727-360B-API"}, {"glm-4.5-search", "0727-360B-API"},
      {"glm-4.5-air", "0727-106B-API"}, {"glm-4.5v", "glm-4.5v"},              {"glm-4.6", "GLM-4-6-API-V1"},
  };
  for (const auto& [name, upstream] : expect) {
    INFO(name);
    auto t = r.find(name);
    REQUIRE(t);
    CHECK(t->upstream_model == upstream);
    CHECK(t->provider->kind == ProviderKind::zai_web);
  }
  CHECK(r.find("glm-4.5-thinking")->route->thinking == std::optional<bool>(true));
  CHECK(r.find("glm-4.5-search")->route->web_search);
  CHECK(r.find("glm-4.5v")->route->vision);
  CHECK_FALSE(r.find("glm-4.5")->route->vision);
}

TEST_CASE("router: an unlisted model passes to the default provider by its own name", "[unit][router]") {
  const Config c = config_with(ProviderKind::zhipu, true);
  const Router r(c);
  auto t = r.find("glm-9-experimental");
  REQUIRE(t);
  CHECK_FALSE(t->listed);
  CHECK(t->upstream_model == "glm-9-experimental");
  CHECK(t->provider->name == "up");
  REQUIRE(t->route != nullptr);
  CHECK(t->route->provider == "up");
  CHECK(t->route->price_input == 0);
  // The template is shared: two unlisted models get the same route object.
  CHECK(r.find("other-model")->route == t->route);
}

TEST_CASE("router: unlisted models are refused when not allowed", "[unit][router]") {
  const Config c = config_with(ProviderKind::zhipu, false);
  const Router r(c);
  CHECK_FALSE(r.find("glm-9-experimental"));
  CHECK(r.find("glm-4.5"));
  CHECK_FALSE(r.find(""));
}

TEST_CASE("router: configured routes replace the defaults of their provider", "[unit][router]") {
  ModelRoute m;
  m.name = "fast";
  m.upstream_model = "glm-4.5-air";
  const Config c = config_with(ProviderKind::zhipu, false, {m});
  const Router r(c);
  auto t = r.find("fast");
  REQUIRE(t);
  CHECK(t->upstream_model == "glm-4.5-air");
  CHECK(t->provider->name == "up");
  CHECK_FALSE(r.find("glm-4.5"));  // no defaults for a provider that has routes
}

TEST_CASE("router: the models list is an OpenAI list of every route", "[unit][router]") {
  const Config c = config_with(ProviderKind::zai_web);
  const Router r(c);
  std::string out = "prefix:";  // write_models_list appends
  r.write_models_list(out);
  REQUIRE(out.rfind("prefix:", 0) == 0);
  const std::string body = out.substr(7);

  std::string buf;
  auto doc = json::thread_parser().iterate(json::pad(body, buf));
  std::string_view object;
  REQUIRE(doc["object"].get_string().get(object) == simdjson::SUCCESS);
  CHECK(object == "list");
  simdjson::ondemand::array data;
  REQUIRE(doc["data"].get_array().get(data) == simdjson::SUCCESS);
  std::set<std::string> ids;
  for (auto item : data) {
    simdjson::ondemand::object o;
    REQUIRE(item.get_object().get(o) == simdjson::SUCCESS);
    std::string_view id, obj, owner;
    int64_t created = 0;
    REQUIRE(o["id"].get_string().get(id) == simdjson::SUCCESS);
    REQUIRE(o["object"].get_string().get(obj) == simdjson::SUCCESS);
    REQUIRE(o["created"].get_int64().get(created) == simdjson::SUCCESS);
    REQUIRE(o["owned_by"].get_string().get(owner) == simdjson::SUCCESS);
    CHECK(obj == "model");
    CHECK(created == 1700000000);
    CHECK(owner == "zai-web");
    ids.insert(std::string(id));
  }
  CHECK(ids.size() == c.models.size());
  CHECK(ids.count("glm-4.5-thinking") == 1);
  CHECK(ids.count("glm-4.6") == 1);
}
