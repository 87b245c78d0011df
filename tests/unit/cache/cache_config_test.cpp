// The [cache] table and the per-route / per-key `cache` keys: parsed, validated, shown.
#include <catch2/catch.hpp>

#include <string>

#include "zgate/config/config.hpp"

using namespace zgate;

namespace {
const char* no_env(const char*) { return nullptr; }

std::string error_of(const std::string& toml) {
  Config c;
  try {
    apply_toml(c, toml, "test.toml", no_env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}
}  // namespace

TEST_CASE("config: [cache] defaults", "[unit][config][cache]") {
  Config c;
  CHECK_FALSE(c.cache.enabled);
  CHECK(c.cache.scope == "shared");
  CHECK(c.cache.ttl == std::chrono::seconds(86400));
  CHECK(c.cache.disk);
  CHECK(c.cache.deterministic_only);
  CHECK(c.cache.replay == "instant");
}

TEST_CASE("config: [cache] keys, route and key overrides", "[unit][config][cache]") {
  Config c;
  apply_toml(c, R"(
allow_no_auth = true
[cache]
enabled = true
scope = "key"
ttl_s = 60
max_bytes = 2097152
max_entry_bytes = 4096
disk = false
deterministic_only = false
replay = "paced"
replay_speed = 2.5
replay_max_delay_ms = 300

[key_defaults]
cache = false

[[api_keys]]
label = "a"
key = "sk-aaaaaaaaaaaaaaaaaaaa"
cache = true

[[api_keys]]
label = "b"
key = "sk-bbbbbbbbbbbbbbbbbbbb"

[[providers]]
name = "p"
kind = "zhipu"
api_key = "upstream-key"

[[models]]
name = "m"
provider = "p"
cache = false
)", "test.toml", no_env);
  CHECK(c.cache.enabled);
  CHECK(c.cache.scope == "key");
  CHECK(c.cache.ttl == std::chrono::seconds(60));
  CHECK(c.cache.max_bytes == 2097152);
  CHECK(c.cache.max_entry_bytes == 4096);
  CHECK_FALSE(c.cache.disk);
  CHECK_FALSE(c.cache.deterministic_only);
  CHECK(c.cache.replay == "paced");
  CHECK(c.cache.replay_speed == 2.5);
  CHECK(c.cache.replay_max_delay == std::chrono::milliseconds(300));
  REQUIRE(c.models.size() == 1);
  CHECK(c.models[0].cache == false);
  validate(c);
  CHECK(c.api_keys[0].policy.cache == 1);
  CHECK(c.api_keys[1].policy.cache == 0);  // from [key_defaults]
  const std::string j = describe_json(c);
  CHECK(j.find(R"("cache":{"enabled":true,"scope":"key")") != std::string::npos);
}

TEST_CASE("config: bad [cache] values name the key", "[unit][config][cache]") {
  CHECK_THAT(error_of("[cache]\nscope = \"tenant\""), Catch::Contains("cache.scope"));
  CHECK_THAT(error_of("[cache]\nreplay = \"slow\""), Catch::Contains("cache.replay"));
  CHECK_THAT(error_of("[cache]\nttl_s = 0"), Catch::Contains("cache.ttl_s"));
  CHECK_THAT(error_of("[cache]\nreplay_speed = 0"), Catch::Contains("cache.replay_speed"));
  CHECK_THAT(error_of("[cache]\ncolour = 1"), Catch::Contains("cache.colour"));
}
