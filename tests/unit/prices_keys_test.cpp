// Model prices (the built-in table, [[prices]] rules, default_price, their precedence, unlisted
// models) and client keys configured by their SHA-256 (key_sha256).
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "zgate/auth/auth.hpp"
#include "zgate/config/config.hpp"
#include "config_helpers.hpp"
#include "zgate/config/default_models.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/route/router.hpp"

using namespace zgate;

namespace {

Config load_toml(const std::string& text) { return test::load_toml(text, /*allow_no_auth=*/true); }
std::string error_of(const std::string& text) { return test::config_error(load_toml, text); }

const ModelRoute& route(const Config& c, std::string_view name) {
  for (const auto& m : c.models) {
    if (m.name == name) return m;
  }
  FAIL("no route " << name);
  throw;
}

// Models that cost nothing on Z.ai; every other built-in route must carry a price.
const std::set<std::string> kFree = {"glm-4.5-flash", "glm-4.7-flash"};

}  // namespace

TEST_CASE("prices: every built-in zhipu route is priced, and only the free models cost 0", "[unit][prices]") {
  for (const auto& m : default_models(ProviderKind::zhipu, "z")) {
    INFO(m.name);
    CHECK(m.priced());
    const bool zero = m.price_input == 0 && m.price_output == 0 && m.price_cached_input == 0;
    CHECK(zero == (kFree.count(m.name) == 1));
  }
}

TEST_CASE("prices: the GLM-4.7 and GLM-5 families are in the built-in table", "[unit][prices]") {
  const Config c = load_toml("");
  CHECK(route(c, "glm-5").price_output == Approx(3.20));
  CHECK(route(c, "glm-5-turbo").price_input == Approx(1.20));
  CHECK(route(c, "glm-4.7").price_cached_input == Approx(0.11));
  CHECK(route(c, "glm-4.7-flashx").price_input == Approx(0.07));
}

TEST_CASE("prices: a [[prices]] rule overrides the built-in price, first match wins", "[unit][prices]") {
  const Config c = load_toml(
      "[[prices]]\nmodel = \"glm-5*\"\ninput = 2\noutput = 6\ncached_input = 0.5\n"
      "[[prices]]\nmodel = \"glm-5-turbo\"\ninput = 9\noutput = 9\n");
  const auto& t = route(c, "glm-5-turbo");
  CHECK(t.price_input == 2);
  CHECK(t.price_output == 6);
  CHECK(t.price_cached_input == 0.5);
  CHECK(t.price_source == PriceSource::rule);
  CHECK(route(c, "glm-4.6").price_source == PriceSource::builtin);
}

TEST_CASE("prices: a rule with a provider applies only to that provider's routes", "[unit][prices]") {
  const std::string providers =
      "[[providers]]\nname = \"z\"\napi_key = \"k\"\n[[providers]]\nname = \"w\"\nkind = \"zai-web\"\n";
  const Config c = load_toml(providers + "[[prices]]\nmodel = \"*glm-4.6\"\nprovider = \"z\"\ninput = 5\noutput = 5\n");
  CHECK(route(c, "glm-4.6").price_input == 5);
  CHECK(route(c, "w/glm-4.6").price_input == 0);  // the free web frontend keeps its built-in price
  CHECK(route(c, "w/glm-4.6").priced());
  CHECK(error_of(providers + "[[prices]]\nmodel = \"*\"\nprovider = \"nope\"\ninput = 1\noutput = 1\n") ==
        "prices[0].provider: no provider named 'nope'");
}

TEST_CASE("prices: cached_input defaults to input", "[unit][prices]") {
  const Config c = load_toml("[[prices]]\nmodel = \"glm-4.6\"\ninput = 3\noutput = 4\n");
  CHECK(route(c, "glm-4.6").price_cached_input == 3);
}

TEST_CASE("prices: a route's own price wins over a matching rule", "[unit][prices]") {
  const Config c = load_toml(
      "[[models]]\nname = \"mine\"\nupstream_model = \"glm-5\"\nprice_input = 0.5\nprice_output = 1\n"
      "[[prices]]\nmodel = \"*\"\ninput = 7\noutput = 7\n");
  CHECK(route(c, "mine").price_input == 0.5);
  CHECK(route(c, "mine").price_source == PriceSource::route);
}

TEST_CASE("prices: a configured route to a built-in model takes the built-in price", "[unit][prices]") {
  const Config c = load_toml("[[models]]\nname = \"fast\"\nupstream_model = \"glm-4.5-air\"\n");
  CHECK(route(c, "fast").price_output == Approx(1.10));
  CHECK(route(c, "fast").price_source == PriceSource::builtin);
}

TEST_CASE("prices: default_price prices what nothing else does; without it the route is unpriced",
          "[unit][prices]") {
  const std::string routes = "[[models]]\nname = \"exotic\"\n";
  CHECK_FALSE(route(load_toml(routes), "exotic").priced());
  const Config c = load_toml(routes + "[default_price]\ninput = 1\noutput = 2\ncached_input = 0.1\n");
  CHECK(route(c, "exotic").price_source == PriceSource::default_price);
  CHECK(route(c, "exotic").price_output == 2);
}

TEST_CASE("prices: unlisted models get the rule, built-in or default price at request time", "[unit][prices]") {
  const Config c = load_toml("[[models]]\nname = \"only\"\n"
                             "[[prices]]\nmodel = \"glm-9*\"\ninput = 4\noutput = 8\n");
  const Router r(c);
  const auto rule = r.find("glm-9-preview");
  REQUIRE(rule);
  CHECK_FALSE(rule->listed);
  CHECK(rule->route->price_input == 4);
  const auto builtin = r.find("glm-4.7");  // not routed here, but in the built-in table
  REQUIRE(builtin);
  CHECK(builtin->route->price_output == Approx(2.20));
  const auto unknown = r.find("mystery-model");
  REQUIRE(unknown);
  CHECK_FALSE(unknown->route->priced());

  const Config d = load_toml("[default_price]\ninput = 1\noutput = 1\n");
  CHECK(Router(d).find("mystery-model")->route->price_source == PriceSource::default_price);
}

TEST_CASE("prices: describe() lists the routes without a price", "[unit][prices]") {
  const Config c = load_toml("[[models]]\nname = \"exotic\"\n[[models]]\nname = \"glm-4.6\"\n");
  CHECK_THAT(describe(c), Catch::Contains("routes without a price (1, cost 0 in the logs): exotic"));
  CHECK_THAT(describe(load_toml("")), Catch::Contains("prices: every route priced"));
  CHECK_THAT(describe(load_toml("")), Catch::Contains("unpriced unless a [[prices]] rule"));
  CHECK_THAT(describe(load_toml("[default_price]\ninput = 1\noutput = 1\n")),
             !Catch::Contains("unpriced unless"));
}

TEST_CASE("prices: TOML errors name the key", "[unit][prices]") {
  CHECK(error_of("[[prices]]\nmodel = \"x\"\ninput = 1\n") == "t.toml:1: prices[0].output: is required with input");
  CHECK(error_of("[[prices]]\ninput = 1\noutput = 1\n") ==
        "t.toml:1: prices[0].model: is required (a model name or glob such as \"glm-5*\")");
  CHECK(error_of("[[prices]]\nmodel = \"x\"\ninput = -1\noutput = 1\n") ==
        "t.toml:3: prices[0].input: must be a non-negative number (USD per million tokens)");
  CHECK(error_of("[default_price]\ninput = 1\noutput = 1\nhourly = 2\n") == "t.toml:4: default_price.hourly: unknown key");
  CHECK(error_of("[[models]]\nname = \"m\"\nprice_output = 1\n") == "t.toml:1: models[0].price_input: is required with price_output");
}

// ---- client keys by digest ---------------------------------------------------------------------

TEST_CASE("keys: key_sha256 in [[api_keys]] authenticates the key it is the digest of", "[unit][keys]") {
  const Config c = load_toml("[[api_keys]]\nlabel = \"ci\"\nkey_sha256 = \"" + sha256_hex("sk-zg-secret") + "\"\n");
  REQUIRE(c.api_keys.size() == 1);
  CHECK(c.api_keys[0].key.empty());
  const Authenticator a(c.api_keys, false);
  REQUIRE(a.check("Bearer sk-zg-secret", "").ok());
  CHECK(*a.check("", "sk-zg-secret") == "ci");
  CHECK_FALSE(a.check("Bearer sk-zg-secreT", "").ok());
}

TEST_CASE("keys: upper-case hex digests are accepted", "[unit][keys]") {
  std::string hex = sha256_hex("k");
  for (auto& ch : hex) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const Config c = load_toml("[[api_keys]]\nkey_sha256 = \"" + hex + "\"\n");
  CHECK(Authenticator(c.api_keys, false).check("Bearer k", "").ok());
}

TEST_CASE("keys: key_sha256 errors name the key", "[unit][keys]") {
  CHECK(error_of("[[api_keys]]\nkey_sha256 = \"abc\"\n") ==
        "t.toml:2: api_keys[0].key_sha256: must be a SHA-256 digest: 64 hex digits (see `zgate keys hash`)");
  CHECK(error_of("[[api_keys]]\nkey = \"k\"\nkey_sha256 = \"" + sha256_hex("k") + "\"\n") ==
        "t.toml:3: api_keys[0].key_sha256: give one of key, key_env or key_sha256, not two");
  CHECK(error_of("[[api_keys]]\nlabel = \"a\"\nkey = \"k\"\n[[api_keys]]\nlabel = \"b\"\nkey_sha256 = \"" +
                 sha256_hex("k") + "\"\n") == "api_keys: the key labelled 'b' is configured twice");
}

TEST_CASE("keys: the admin key must differ from a client key given by its digest", "[unit][keys]") {
  CHECK(error_of("admin_key = \"adm\"\n[[api_keys]]\nlabel = \"c\"\nkey_sha256 = \"" + sha256_hex("adm") + "\"\n") ==
        "admin_key: must differ from every client key (it equals the key labelled 'c')");
}

TEST_CASE("keys: describe() shows a digest key's fingerprint, not the digest", "[unit][keys]") {
  const std::string hex = sha256_hex("sk-zg-x");
  const Config c = load_toml("[[api_keys]]\nlabel = \"d\"\nkey_sha256 = \"" + hex + "\"\n");
  const std::string text = describe(c);
  CHECK_THAT(text, Catch::Contains("d=" + mask_secret("sk-zg-x")));
  CHECK_THAT(text, !Catch::Contains(hex));
}
