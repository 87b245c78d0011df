// describe_json(): the configuration as JSON for GET /admin/config, every secret masked.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "zgate/config/config.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/json/read.hpp"

using namespace zgate;

namespace {

// A configuration holding a secret in every place one can be; each secret is also returned.
Config full_of_secrets(std::vector<std::string>& secrets) {
  auto s = [&secrets](std::string v) {
    secrets.push_back(v);
    return v;
  };
  Config c;
  c.api_keys = {ApiKey{"ops", s("sk-client-secret-AAAA1111")}, ApiKey{"ci", s("sk-client-secret-BBBB2222")}};
  c.admin_key = s("sk-admin-secret-CCCC3333");
  ProviderConfig z;
  z.name = "glm";
  z.kind = ProviderKind::zhipu;
  z.base_url = "https://open.bigmodel.cn/api/paas/v4";
  z.api_key = s("Qv7id1.Zk9secDDDD4444");
  z.api_keys = {z.api_key, s("Qv7id2.Zk9secEEEE5555")};
  z.jwt = true;
  z.headers = {{"X-Custom-Auth", s("header-secret-FFFF6666")}};
  c.providers.push_back(z);
  ProviderConfig w;
  w.name = "web";
  w.kind = ProviderKind::zai_web;
  w.base_url = "https://chat.z.ai";
  w.zai.token = s("eyJzaiwebtokenGGGG7777");
  w.zai.signing_secret = s("signing-secret-HHHH8888");
  c.providers.push_back(w);
  ModelRoute m;
  m.name = "glm-4.5";
  m.provider = "glm";
  m.upstream_model = "glm-4.5";
  c.models.push_back(m);
  return c;
}

}  // namespace

TEST_CASE("config json: no secret, nor any 8-character piece of one, appears") {
  std::vector<std::string> secrets;
  const std::string out = describe_json(full_of_secrets(secrets));
  for (const std::string& secret : secrets) {
    INFO(secret);
    for (std::size_t i = 0; i + 8 <= secret.size(); ++i) CHECK(out.find(secret.substr(i, 8)) == std::string::npos);
  }
}

TEST_CASE("config json: secrets are shown as their fingerprints, the rest as configured") {
  std::vector<std::string> secrets;
  const Config c = full_of_secrets(secrets);
  const std::string out = describe_json(c);
  CHECK(out.find("\"admin_key\":\"" + mask_secret(c.admin_key) + "\"") != std::string::npos);
  CHECK(out.find("\"label\":\"ops\",\"key\":\"" + mask_secret(c.api_keys[0].key) + "\"") != std::string::npos);
  CHECK(out.find("\"X-Custom-Auth\":\"" + mask_secret("header-secret-FFFF6666") + "\"") != std::string::npos);
  CHECK(out.find("\"base_url\":\"https://chat.z.ai\"") != std::string::npos);
  CHECK(out.find("\"name\":\"glm-4.5\"") != std::string::npos);
  CHECK(out.find("\"client_write_ms\":60000") != std::string::npos);
}

TEST_CASE("config json: the output is one valid JSON object") {
  std::vector<std::string> secrets;
  const std::string out = describe_json(full_of_secrets(secrets));
  simdjson::padded_string padded(out);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  REQUIRE(parser.iterate(padded).get(doc) == simdjson::SUCCESS);
  std::string_view admin;
  CHECK(doc["admin_key"].get_string().get(admin) == simdjson::SUCCESS);
  CHECK(admin.starts_with("sha256:"));
}

TEST_CASE("config json: every [timeouts] and [limits] setting is shown under its TOML name") {
  Config c;
  c.limits.tail_buffer = 123456;
  c.timeouts.drain_delay = Millis(2500);
  const std::string out = describe_json(c);
  for (const char* name : {"\"client_header_read_ms\":", "\"lingering_timeout_ms\":", "\"drain_delay_ms\":2500",
                           "\"stream_heartbeat_ms\":", "\"header_limit\":", "\"max_connections\":",
                           "\"tail_buffer\":123456", "\"pool_check_idle_ms\":", "\"max_streams\":"}) {
    INFO(name);
    CHECK(out.find(name) != std::string::npos);
  }
}
