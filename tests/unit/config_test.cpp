// Configuration loading: precedence of the layers, validation messages, the example file.
// The environment is always a fake (a map), never the real one.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <unistd.h>
#include <vector>

#include "zgate/config/config.hpp"
#include "zgate/config/url.hpp"

using namespace zgate;

namespace {

std::map<std::string, std::string>& fake_env_map() {
  static std::map<std::string, std::string> m;
  return m;
}

const char* fake_env(const char* name) {
  auto& m = fake_env_map();
  auto it = m.find(name);
  return it == m.end() ? nullptr : it->second.c_str();
}

// Sets the fake environment for one test (and clears what a previous test left).
void set_env(std::map<std::string, std::string> vars) { fake_env_map() = std::move(vars); }

std::shared_ptr<const Config> load(std::vector<std::string> args) {
  args.insert(args.begin(), "zgate");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return load_config(static_cast<int>(argv.size()), argv.data(), &fake_env);
}

// A TOML file in the temp dir, removed at the end of the test.
struct TempToml {
  explicit TempToml(const std::string& text) {
    static std::atomic<int> n{0};
    path = (std::filesystem::temp_directory_path() /
            ("zgate-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".toml"))
               .string();
    std::ofstream(path) << text;
  }
  ~TempToml() { std::filesystem::remove(path); }
  std::string path;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

using Keys = std::vector<std::pair<std::string, std::string>>;

// Each client key's label and key, in order.
Keys labels_and_keys(const Config& c) {
  Keys out;
  for (const ApiKey& k : c.api_keys) out.emplace_back(k.label, k.key);
  return out;
}

// The ConfigExit that loading with `args` raises (the test fails when there is none).
ConfigExit exit_of(std::vector<std::string> args) {
  try {
    load(std::move(args));
  } catch (const ConfigExit& e) {
    return e;
  }
  FAIL("no ConfigExit");
  return ConfigExit{};
}

// The ConfigError that the TOML `text`, read as `file` on top of a default config, raises.
std::string toml_error(const std::string& text, const std::string& file) {
  return error_of([&] {
    Config c;
    apply_toml(c, text, file);
  });
}

const ModelRoute* model(const Config& c, std::string_view name) {
  for (const auto& m : c.models) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("config: defaults with the seed's API_KEY", "[unit][config]") {
  set_env({{"API_KEY", "sk-seed-key-0123456789"}});
  auto c = load({});
  CHECK(c->listen_host == "0.0.0.0");
  CHECK(c->listen_port == 8080);
  REQUIRE(c->api_keys.size() == 1);
  CHECK(c->api_keys[0].label == "default");
  CHECK(c->api_keys[0].key == "sk-seed-key-0123456789");
  REQUIRE(c->providers.size() == 1);
  CHECK(c->providers[0].name == "default");
  CHECK(c->providers[0].kind == ProviderKind::zhipu);
  CHECK(c->providers[0].base_url == "https://api.z.ai/api/paas/v4");
  CHECK(c->default_provider == "default");
  CHECK(c->workers >= 1);  // 0 became the hardware thread count
  CHECK(model(*c, "glm-4.6") != nullptr);
  CHECK(c->data_dir == "./data");
}

TEST_CASE("config: the listen address from PORT and ZGATE_LISTEN", "[unit][config]") {
  struct Row {
    const char* what;
    std::map<std::string, std::string> env;
    const char* host;
    int port;
  };
  const Row rows[] = {
      {"PORT sets only the port", {{"PORT", "9123"}}, "0.0.0.0", 9123},
      {"ZGATE_LISTEN wins over PORT", {{"PORT", "9123"}, {"ZGATE_LISTEN", "127.0.0.1:7000"}}, "127.0.0.1", 7000},
      {"ZGATE_LISTEN accepts a bracketed IPv6 address", {{"ZGATE_LISTEN", "[::]:8081"}}, "::", 8081},
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.what) {
      auto env = row.env;
      env["API_KEY"] = "k-0123456789ab";
      set_env(std::move(env));
      auto c = load({});
      CHECK(c->listen_host == row.host);
      CHECK(c->listen_port == row.port);
    }
  }
}

TEST_CASE("config: a bad ZGATE_LISTEN names the variable", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_LISTEN", "localhost:99999"}});
  const auto msg = error_of([] { load({}); });
  CHECK_THAT(msg, Catch::Contains("ZGATE_LISTEN") && Catch::Contains("99999"));
}

TEST_CASE("config: ZGATE_API_KEYS labels, unlabeled keys numbered", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "first-key-000001, ops=sk-ops-secret-123 ,second-key-00002,b64=abc=="}});
  auto c = load({});
  CHECK(labels_and_keys(*c) == Keys{{"key-1", "first-key-000001"},
                                    {"ops", "sk-ops-secret-123"},
                                    {"key-2", "second-key-00002"},
                                    {"b64", "abc=="}});
}

TEST_CASE("config: ZGATE_API_KEYS takes label=sha256:<hex> as the key's digest", "[unit][config]") {
  const std::string hex(64, 'a');
  set_env({{"ZGATE_API_KEYS", "ops=sha256:" + hex + ",plain=sk-1"}});
  auto c = load({});
  REQUIRE(c->api_keys.size() == 2);
  CHECK(c->api_keys[0].key.empty());
  CHECK(c->api_keys[0].key_sha256 == hex);
  CHECK(c->api_keys[1].key == "sk-1");
  set_env({{"ZGATE_API_KEYS", "ops=sha256:abc"}});
  CHECK(error_of([] { load({}); }) == "environment ZGATE_API_KEYS: key_sha256 of 'ops' must be 64 hex digits");
}

TEST_CASE("config: a base64 key ending in '=' is not taken for label=key", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "c2VjcmV0a2V5MTI=,YWJjZGVmZ2g=="}});
  auto c = load({});
  CHECK(labels_and_keys(*c) == Keys{{"key-1", "c2VjcmV0a2V5MTI="}, {"key-2", "YWJjZGVmZ2g=="}});
}

TEST_CASE("config: ZGATE_API_KEYS wins over API_KEY", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "ops=sk-ops-secret-123"}, {"API_KEY", "sk-seed-key-0123456789"}});
  auto c = load({});
  REQUIRE(c->api_keys.size() == 1);
  CHECK(c->api_keys[0].label == "ops");
}

TEST_CASE("config: duplicate key labels are refused", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "ops=sk-one-0123456789,ops=sk-two-0123456789"}});
  CHECK_THAT(error_of([] { load({}); }), Catch::Contains("ZGATE_API_KEYS") && Catch::Contains("duplicate"));
}

TEST_CASE("config: refuses to start without a client key", "[unit][config]") {
  set_env({});
  CHECK(error_of([] { load({}); }) ==
        "no client API key configured: set ZGATE_API_KEYS (or API_KEY), or pass --allow-no-auth");
}

TEST_CASE("config: ZGATE_ALLOW_NO_AUTH starts without keys", "[unit][config]") {
  set_env({{"ZGATE_ALLOW_NO_AUTH", "1"}});
  auto c = load({});
  CHECK(c->allow_no_auth);
  CHECK(c->api_keys.empty());
}

TEST_CASE("config: --allow-no-auth starts without keys", "[unit][config]") {
  set_env({});
  auto c = load({"--allow-no-auth"});
  CHECK(c->allow_no_auth);
}

TEST_CASE("config: a bad boolean in the environment names the variable", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_ACCESS_LOG", "maybe"}});
  CHECK_THAT(error_of([] { load({}); }), Catch::Contains("ZGATE_ACCESS_LOG") && Catch::Contains("maybe"));
}

TEST_CASE("config: DEBUG_MODE turns on debug and debug logging", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"DEBUG_MODE", "true"}});
  auto c = load({});
  CHECK(c->debug);
  CHECK(c->log.level == "debug");
}

TEST_CASE("config: environment variables fill the default provider", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"},
           {"ZGATE_PROVIDER", "zai-web"},
           {"UPSTREAM_TOKEN", "eyJ-zai-user-token-123"},
           {"ZGATE_ZAI_SIGNING_SECRET", "sign-secret-0123456789"},
           {"ZGATE_ZAI_FE_VERSION", "prod-fe-1.2.3"},
           {"ZGATE_ZAI_GUEST_PER_CONVERSATION", "true"},
           {"ZGATE_THINKING_MODE", "think_tags"},
           {"ZGATE_LOG_FORMAT", "text"},
           {"ZGATE_LOG_LEVEL", "warn"},
           {"ZGATE_ACCESS_LOG", "false"},
           {"ZGATE_WORKERS", "3"},
           {"ZGATE_DATA_DIR", "/var/lib/zgate"}});
  auto c = load({});
  REQUIRE(c->providers.size() == 1);
  const auto& p = c->providers[0];
  CHECK(p.kind == ProviderKind::zai_web);
  CHECK(p.base_url == "https://chat.z.ai");
  CHECK(p.zai.token == "eyJ-zai-user-token-123");
  CHECK(p.zai.signing_secret == "sign-secret-0123456789");
  CHECK(p.zai.fe_version == "prod-fe-1.2.3");
  CHECK(p.zai.guest_per_conversation);
  CHECK(p.zai.thinking_mode == "think_tags");
  CHECK(c->log.format == "text");
  CHECK(c->log.level == "warn");
  CHECK_FALSE(c->log.access_log);
  CHECK(c->workers == 3);
  CHECK(c->data_dir == "/var/lib/zgate");
  const ModelRoute* m = model(*c, "glm-4.5-thinking");
  REQUIRE(m != nullptr);
  CHECK(m->upstream_model == "0727-360B-API");
  CHECK(m->thinking == std::optional<bool>(true));
}

TEST_CASE("config: zhipu upstream URL, key and JWT from the environment", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"},
           {"ZGATE_UPSTREAM_URL", "https://open.bigmodel.cn/api/paas/v4"},
           {"ZGATE_UPSTREAM_KEY", "abc123.secretXYZ"},
           {"ZGATE_UPSTREAM_JWT", "true"}});
  auto c = load({});
  const auto& p = c->providers[0];
  CHECK(p.base_url == "https://open.bigmodel.cn/api/paas/v4");
  CHECK(p.api_key == "abc123.secretXYZ");
  CHECK(p.jwt);
}

TEST_CASE("config: JWT signing needs an id.secret key", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_UPSTREAM_KEY", "plain-key"}, {"ZGATE_UPSTREAM_JWT", "1"}});
  CHECK_THAT(error_of([] { load({}); }), Catch::Contains("jwt") && Catch::Contains("<id>.<secret>"));
}

TEST_CASE("config: TOML wins over the environment", "[unit][config]") {
  TempToml f("listen = \"127.0.0.1:9001\"\n[[api_keys]]\nlabel = \"file\"\nkey = \"sk-from-file-0123\"\n");
  set_env({{"ZGATE_LISTEN", "10.0.0.1:1000"}, {"API_KEY", "sk-seed-key-0123456789"}, {"ZGATE_CONFIG", f.path}});
  auto c = load({});
  CHECK(c->listen_host == "127.0.0.1");
  CHECK(c->listen_port == 9001);
  REQUIRE(c->api_keys.size() == 1);
  CHECK(c->api_keys[0].label == "file");
}

TEST_CASE("config: flags win over TOML", "[unit][config]") {
  TempToml f("listen = \"127.0.0.1:9001\"\nworkers = 2\n[log]\nlevel = \"warn\"\n");
  set_env({{"API_KEY", "k-0123456789ab"}});
  auto c = load({"--config", f.path, "--listen", "127.0.0.2:9002", "--workers", "5", "--log-level", "error",
                 "--api-key", "cli=sk-cli-key-0123", "--api-key", "sk-cli-other-0123"});
  CHECK(c->listen_host == "127.0.0.2");
  CHECK(c->listen_port == 9002);
  CHECK(c->workers == 5);
  CHECK(c->log.level == "error");
  REQUIRE(c->api_keys.size() == 2);
  CHECK(c->api_keys[0].label == "cli");
  CHECK(c->api_keys[1].label == "key-1");
}

TEST_CASE("config: TOML providers replace the environment's default provider", "[unit][config]") {
  TempToml f(
      "[[providers]]\nname = \"cn\"\nkind = \"zhipu\"\nbase_url = \"https://open.bigmodel.cn/api/paas/v4\"\n"
      "api_key_env = \"CN_KEY\"\n");
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_UPSTREAM_KEY", "env-upstream-key"}, {"CN_KEY", "cn-key-from-env"}});
  auto c = load({"--config", f.path});
  REQUIRE(c->providers.size() == 1);
  CHECK(c->providers[0].name == "cn");
  CHECK(c->providers[0].api_key == "cn-key-from-env");
  CHECK(c->default_provider == "cn");
  const ModelRoute* m = model(*c, "glm-4.5");
  REQUIRE(m != nullptr);
  CHECK(m->provider == "cn");
}

TEST_CASE("config: --provider switches the default provider's kind and default URL", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}});
  auto c = load({"--provider", "zai-web", "--upstream-key", "zai-token-0123456789"});
  CHECK(c->providers[0].kind == ProviderKind::zai_web);
  CHECK(c->providers[0].base_url == "https://chat.z.ai");
  CHECK(c->providers[0].zai.token == "zai-token-0123456789");  // the generic key is the zai-web token
}

TEST_CASE("config: --upstream-url overrides the environment", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_UPSTREAM_URL", "https://a.example/v4"}});
  auto c = load({"--upstream-url", "http://127.0.0.1:9/api/paas/v4"});
  CHECK(c->providers[0].base_url == "http://127.0.0.1:9/api/paas/v4");
}

TEST_CASE("config: --help exits 0 with the usage", "[unit][config]") {
  set_env({});
  const ConfigExit e = exit_of({"--help"});
  CHECK(e.code == 0);
  CHECK_THAT(e.text, Catch::Contains("--listen") && Catch::Contains("--upstream-key"));
}

TEST_CASE("config: --version exits 0 with the version", "[unit][config]") {
  set_env({});
  const ConfigExit e = exit_of({"--version"});
  CHECK(e.code == 0);
  CHECK_THAT(e.text, Catch::Contains(std::string(kVersion)));
}

TEST_CASE("config: an unknown flag is a ConfigError", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}});
  CHECK_THAT(error_of([] { load({"--lisen", "x"}); }), Catch::Contains("command line"));
}

TEST_CASE("config: a bad TOML value names file, line and key", "[unit][config]") {
  CHECK(toml_error("workers = 1\n[limits]\nbody_limit = -5\n", "zgate.toml") ==
        "zgate.toml:3: limits.body_limit: must be a positive integer");
}

TEST_CASE("config: a TOML value of the wrong type names the key", "[unit][config]") {
  CHECK(toml_error("allow_no_auth = \"yes\"\n", "z.toml") ==
        "z.toml:1: allow_no_auth: must be true or false");
}

TEST_CASE("config: unknown TOML keys are rejected", "[unit][config]") {
  CHECK_THAT(toml_error("[timeouts]\nupstream_connect = 5\n", "z.toml"),
             Catch::Contains("z.toml:2") && Catch::Contains("timeouts.upstream_connect: unknown key"));
  CHECK_THAT(toml_error("lisen = \"x\"\n", "z.toml"), Catch::Contains("lisen: unknown key"));
  CHECK_THAT(toml_error("[[providers]]\nname = \"a\"\napi_kye = \"x\"\n", "z.toml"),
             Catch::Contains("providers[0].api_kye: unknown key"));
}

TEST_CASE("config: TOML syntax errors carry the line", "[unit][config]") {
  CHECK_THAT(toml_error("listen = \"a\"\nworkers = = 3\n", "bad.toml"),
             Catch::StartsWith("bad.toml:2:"));
}

TEST_CASE("config: TOML timeouts and limits are read in ms and bytes", "[unit][config]") {
  Config c;
  apply_toml(c,
             "[timeouts]\nupstream_first_byte_ms = 1234\n"
             "[limits]\nbody_limit = 1024\npool_idle_timeout_ms = 77\npool_max_idle_per_host = 0\n"
             "[log]\nformat = \"text\"\nqueue_size = 100\n",
             "t.toml");
  CHECK(c.timeouts.upstream_first_byte == Millis(1234));
  CHECK(c.limits.body_limit == 1024);
  CHECK(c.limits.pool_idle_timeout == Millis(77));
  CHECK(c.limits.pool_max_idle_per_host == 0);
  CHECK(c.log.format == "text");
  CHECK(c.log.queue_size == 100);
}

TEST_CASE("config: a key_env naming an unset variable is an error", "[unit][config]") {
  set_env({});
  Config c;
  CHECK_THAT(error_of([&] { apply_toml(c, "[[api_keys]]\nkey_env = \"NOPE\"\n", "k.toml", &fake_env); }),
             Catch::Contains("k.toml:2: api_keys[0].key_env: environment variable NOPE is not set"));
}

TEST_CASE("config: validate rejects a model routed to a missing provider", "[unit][config]") {
  set_env({});
  Config c;
  c.allow_no_auth = true;
  c.providers.push_back(ProviderConfig{});
  c.providers[0].name = "p";
  apply_toml(c, "[[models]]\nname = \"m\"\nprovider = \"nope\"\n", "m.toml");
  CHECK_THAT(error_of([&] { validate(c); }), Catch::Contains("models[0] (m).provider: no provider named 'nope'"));
}

namespace {
Config two_providers() {
  Config c;
  c.allow_no_auth = true;
  for (const char* name : {"p", "q"}) {
    c.providers.push_back(ProviderConfig{});
    c.providers.back().name = name;
    c.providers.back().api_key = "k";
  }
  return c;
}
}  // namespace

TEST_CASE("config: a route's fallbacks name other routes", "[unit][config][fallback]") {
  set_env({});
  Config c = two_providers();
  apply_toml(c,
             "[[models]]\nname = \"main\"\nprovider = \"p\"\nupstream_model = \"glm-4.6\"\n"
             "fallbacks = [\"spare\", \"glm-4.5\"]\n"
             "[[models]]\nname = \"spare\"\nprovider = \"q\"\nupstream_model = \"glm-4.6\"\n",
             "m.toml");
  ModelRoute builtin;
  builtin.name = "glm-4.5";
  builtin.provider = "p";
  c.models.push_back(builtin);
  validate(c);
  REQUIRE(model(c, "main"));
  CHECK(model(c, "main")->fallbacks == std::vector<std::string>{"spare", "glm-4.5"});
  CHECK(model(c, "spare")->fallbacks.empty());
  CHECK(describe(c).find("main -> p/glm-4.6 (fallbacks: spare, glm-4.5)") != std::string::npos);
  CHECK(describe_json(c).find(R"("fallbacks":["spare","glm-4.5"])") != std::string::npos);
}

TEST_CASE("config: a fallback that is no route, the route itself or listed twice is refused", "[unit][config][fallback]") {
  set_env({});
  const auto refused = [](const char* fallbacks) {
    Config c = two_providers();
    apply_toml(c,
               std::string("[[models]]\nname = \"main\"\nprovider = \"p\"\nfallbacks = ") + fallbacks +
                   "\n[[models]]\nname = \"spare\"\nprovider = \"q\"\n",
               "m.toml");
    return error_of([&] { validate(c); });
  };
  CHECK_THAT(refused(R"(["nope"])"), Catch::Contains("models[0] (main).fallbacks: no model route named 'nope'"));
  CHECK_THAT(refused(R"(["main"])"), Catch::Contains("models[0] (main).fallbacks: 'main' is the route itself"));
  CHECK_THAT(refused(R"(["spare", "spare"])"), Catch::Contains("models[0] (main).fallbacks: 'spare' is listed twice"));
  Config c = two_providers();
  CHECK_THAT(error_of([&] { apply_toml(c, "[[models]]\nname = \"m\"\nfallbacks = \"spare\"\n", "m.toml"); }),
             Catch::Contains("models[0].fallbacks: must be an array of model names"));
}

TEST_CASE("config: validate rejects an unknown default_provider", "[unit][config]") {
  Config c;
  c.allow_no_auth = true;
  c.providers.push_back(ProviderConfig{});
  c.providers[0].name = "p";
  c.default_provider = "q";
  CHECK_THAT(error_of([&] { validate(c); }), Catch::Contains("default_provider: no provider named 'q'"));
}

TEST_CASE("config: validate rejects a malformed base_url", "[unit][config]") {
  Config c;
  c.allow_no_auth = true;
  c.providers.push_back(ProviderConfig{});
  c.providers[0].name = "p";
  c.providers[0].base_url = "ftp://x";
  CHECK_THAT(error_of([&] { validate(c); }), Catch::Contains("providers[0] (p).base_url"));
}

TEST_CASE("config: validate rejects zero providers", "[unit][config]") {
  Config c;
  c.allow_no_auth = true;
  CHECK_THAT(error_of([&] { validate(c); }), Catch::Contains("at least one provider"));
}

TEST_CASE("config: providers without routes get defaults; clashes are prefixed", "[unit][config]") {
  Config c;
  c.allow_no_auth = true;
  ProviderConfig a, b;
  a.name = "a";
  b.name = "b";
  c.providers = {a, b};
  c.default_provider = "b";
  validate(c);
  const ModelRoute* bare = model(c, "glm-4.5");
  REQUIRE(bare != nullptr);
  CHECK(bare->provider == "b");
  const ModelRoute* prefixed = model(c, "a/glm-4.5");
  REQUIRE(prefixed != nullptr);
  CHECK(prefixed->provider == "a");
  CHECK(prefixed->upstream_model == "glm-4.5");
}

TEST_CASE("config: the example configuration loads", "[unit][config]") {
  set_env({{"ZGATE_EXAMPLE_CI_KEY", "sk-ci-key-from-env-0123"}, {"ZGATE_EXAMPLE_ZAI_KEY", "zai-upstream-key-0123"}});
  auto c = load({"--config", std::string(ZGATE_FIXTURES) + "/../../config/zgate.example.toml"});
  REQUIRE(c->providers.size() == 3);
  CHECK(c->providers[0].name == "zai");
  CHECK(c->providers[0].api_key == "zai-upstream-key-0123");
  CHECK(c->providers[0].headers.at("Accept-Language") == "en-US,en");
  CHECK(c->providers[1].jwt);
  CHECK(c->providers[2].kind == ProviderKind::zai_web);
  CHECK(c->default_provider == "zai");
  REQUIRE(c->api_keys.size() == 3);
  CHECK(c->api_keys[1].key == "sk-ci-key-from-env-0123");
  CHECK(c->api_keys[2].key_sha256.size() == 64);
  REQUIRE(c->prices.size() == 1);
  CHECK(c->prices[0].model == "glm-5.1");
  REQUIRE(c->default_price);
  CHECK(c->default_price->output == 8.90);
  const ModelRoute* t = model(*c, "glm-4.5-thinking");
  REQUIRE(t != nullptr);
  CHECK(t->thinking == std::optional<bool>(true));
  CHECK(t->upstream_model == "glm-4.5");
  const ModelRoute* m = model(*c, "web-glm-4.5");
  REQUIRE(m != nullptr);
  CHECK(m->provider == "chat");
  CHECK(c->timeouts.upstream_first_byte == Millis(300000));
}

TEST_CASE("config: describe masks every secret", "[unit][config]") {
  Config c;
  c.api_keys.push_back({"ops", "sk-client-secret-abcdef0123"});
  ProviderConfig p;
  p.name = "z";
  p.api_key = "upstream.secretvalue0123456";
  p.jwt = true;
  p.headers["X-Extra-Auth"] = "header-secret-9876543210";
  ProviderConfig w;
  w.name = "w";
  w.kind = ProviderKind::zai_web;
  w.zai.token = "zai-user-token-abcdefghij";
  w.zai.signing_secret = "zai-signing-secret-0123456";
  c.providers = {p, w};
  validate(c);
  const std::string d = describe(c);
  for (const char* secret : {"sk-client-secret-abcdef0123", "upstream.secretvalue0123456", "header-secret-9876543210",
                             "zai-user-token-abcdefghij", "zai-signing-secret-0123456", "secretvalue", "signing-secret"}) {
    INFO(secret);
    CHECK(d.find(secret) == std::string::npos);
  }
  // Not even a secret's last characters: it shows only as a fingerprint.
  for (const char* tail : {"ef0123", "123456", "543210", "efghij"}) {
    INFO(tail);
    CHECK(d.find(tail) == std::string::npos);
  }
  CHECK_THAT(d, Catch::Contains("ops=sha256:") && Catch::Contains("https://api.z.ai/api/paas/v4") &&
                    Catch::Contains("zai-web"));
}

TEST_CASE("config: parse_url splits scheme, host, port and path", "[unit][config]") {
  auto a = parse_url("https://api.z.ai/api/paas/v4/");
  REQUIRE(a);
  CHECK(a->tls);
  CHECK(a->host == "api.z.ai");
  CHECK(a->port == 443);
  CHECK(a->path == "/api/paas/v4");

  auto b = parse_url("HTTP://LocalHost:8080");
  REQUIRE(b);
  CHECK_FALSE(b->tls);
  CHECK(b->host == "localhost");
  CHECK(b->port == 8080);
  CHECK(b->path.empty());

  auto c = parse_url("http://[::1]:9000/x");
  REQUIRE(c);
  CHECK(c->host == "::1");
  CHECK(c->port == 9000);
  CHECK(c->path == "/x");
}

TEST_CASE("config: parse_url rejects what is not a base URL", "[unit][config]") {
  for (const char* bad : {"", "api.z.ai", "ftp://x/", "https://", "https://:443/", "http://h:0/", "http://h:65536",
                          "http://h:x", "http://user@h/", "http://h/p?q=1", "http://h/p#f", "http://[::1/",
                          "http://h a/"}) {
    INFO(bad);
    CHECK_FALSE(parse_url(bad));
  }
}

TEST_CASE("config: the usage store is on by default, in the data dir", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "sk-a-0123456789"}, {"ZGATE_DATA_DIR", "/var/lib/zgate/data/"}});
  auto c = load({});
  CHECK(c->usage_store);
  CHECK(c->usage_retention_days == 0);
  CHECK(usage_db_path(*c) == "/var/lib/zgate/data/usage.db");
  CHECK(describe(*c).find("usage store: /var/lib/zgate/data/usage.db (retention forever)") != std::string::npos);
}

TEST_CASE("config: ZGATE_USAGE_STORE=false and TOML turn the usage store off or set its retention", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "sk-a-0123456789"}, {"ZGATE_USAGE_STORE", "false"}});
  CHECK_FALSE(load({})->usage_store);
  Config c;
  apply_toml(c, "usage_store = true\nusage_retention_days = 90\ndata_dir = \"d\"\n", "z.toml");
  CHECK(c.usage_store);
  CHECK(c.usage_retention_days == 90);
  CHECK(usage_db_path(c) == "d/usage.db");
}

TEST_CASE("config: a negative usage retention names the key", "[unit][config]") {
  CHECK(toml_error("usage_retention_days = -1\n", "z.toml") ==
        "z.toml:1: usage_retention_days: must be a number of days from 0 (= keep every row) to 36500");
}

TEST_CASE("config: background_priority is nice by default, idle from TOML or the environment, restart-only",
          "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "sk-a-0123456789"}});
  auto d = load({});
  CHECK(d->background_priority == "nice");
  CHECK(describe(*d).find("background threads: nice +5") != std::string::npos);
  set_env({{"ZGATE_API_KEYS", "sk-a-0123456789"}, {"ZGATE_BACKGROUND_PRIORITY", "idle"}});
  CHECK(load({})->background_priority == "idle");
  Config c;
  apply_toml(c, "background_priority = \"idle\"\n", "z.toml");
  CHECK(c.background_priority == "idle");
  Config next = *d;
  next.background_priority = "idle";
  CHECK(restart_only_changes(*d, next) == std::vector<std::string>{"background_priority"});
}

TEST_CASE("config: reuse_port is off by default, on from TOML or the environment, restart-only", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "sk-a-0123456789"}});
  auto d = load({});
  CHECK_FALSE(d->reuse_port);
  CHECK(describe(*d).find("reuse_port") == std::string::npos);
  set_env({{"ZGATE_API_KEYS", "sk-a-0123456789"}, {"ZGATE_REUSE_PORT", "true"}});
  auto e = load({});
  CHECK(e->reuse_port);
  CHECK(describe(*e).find("(port shared: reuse_port)") != std::string::npos);
  Config c;
  apply_toml(c, "reuse_port = true\n", "z.toml");
  CHECK(c.reuse_port);
  CHECK(toml_error("reuse_port = \"yes\"\n", "z.toml").find("reuse_port") != std::string::npos);
  Config next = *d;
  next.reuse_port = true;
  CHECK(restart_only_changes(*d, next) == std::vector<std::string>{"reuse_port"});
}

TEST_CASE("config: a background_priority other than idle or nice names the key", "[unit][config]") {
  CHECK(toml_error("background_priority = \"low\"\n", "z.toml") ==
        "z.toml:1: background_priority: must be \"idle\" or \"nice\"");
}

TEST_CASE("config: restart_only_changes names what a reload cannot change", "[unit][config]") {
  Config a;
  Config b = a;
  CHECK(restart_only_changes(a, b).empty());
  b.api_keys.push_back({"k", "sk-some-key-0000000000000"});
  b.timeouts.client_write = Millis(5);
  b.limits.body_limit = 7;
  CHECK(restart_only_changes(a, b).empty());  // keys, timeouts and request limits apply live
  b.listen_port = 9;
  b.log.level = "debug";
  b.data_dir = "/elsewhere";
  b.limits.pool_max_idle_per_host = 3;
  CHECK(restart_only_changes(a, b) ==
        std::vector<std::string>{"listen", "log.level", "data_dir", "limits.pool_max_idle_per_host"});
}

TEST_CASE("config: several upstream keys from the environment, comma-separated", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "sk-client-key-0000000000001"}, {"ZGATE_UPSTREAM_KEY", "key-one, key-two,,key-three"}});
  const auto c = load({});
  REQUIRE(c->providers.size() == 1);
  CHECK(c->providers[0].api_keys == std::vector<std::string>{"key-one", "key-two", "key-three"});
  CHECK(c->providers[0].api_key == "key-one");
}

TEST_CASE("config: one upstream key is a pool of one", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "sk-client-key-0000000000001"}, {"ZGATE_UPSTREAM_KEY", "only-key"}});
  const auto c = load({});
  CHECK(c->providers[0].api_keys == std::vector<std::string>{"only-key"});
}

TEST_CASE("config: a provider's api_keys, strategy and cooldowns from TOML", "[unit][config]") {
  Config c;
  apply_toml(c, R"(
[[api_keys]]
label = "a"
key = "sk-client-key-0000000000001"
[[providers]]
name = "z"
api_keys = ["k1", "k2"]
key_strategy = "least_loaded"
key_cooldown_ms = 2000
key_quota_cooldown_ms = 60000
)", "t.toml");
  validate(c);
  CHECK(c.providers[0].api_keys == std::vector<std::string>{"k1", "k2"});
  CHECK(c.providers[0].api_key == "k1");
  CHECK(c.providers[0].key_strategy == "least_loaded");
  CHECK(c.providers[0].key_cooldown == Millis(2000));
  CHECK(c.providers[0].key_quota_cooldown == Millis(60000));
  Config bad;
  CHECK_THROWS_AS(apply_toml(bad, "[[providers]]\nname = \"z\"\nkey_strategy = \"random\"\n", "t.toml"), ConfigError);
}

TEST_CASE("config: looks_like_id_secret accepts <id>.<secret> keys only", "[unit][config]") {
  CHECK(looks_like_id_secret("abc123.XYZ789"));
  CHECK_FALSE(looks_like_id_secret("abc123"));
  CHECK_FALSE(looks_like_id_secret(".secret"));
  CHECK_FALSE(looks_like_id_secret("id."));
  CHECK_FALSE(looks_like_id_secret("a.b.c"));
  CHECK_FALSE(looks_like_id_secret("sk-abc.def"));
}

TEST_CASE("config: a TOML secret and its _env form are exclusive; literals are trimmed, signing secrets not",
          "[unit][config]") {
  set_env({{"TOK", " env-token "}});
  Config c;
  CHECK(error_of([&] {
          apply_toml(c, "[[providers]]\nname = \"w\"\ntoken = \"a\"\ntoken_env = \"TOK\"\n", "s.toml", &fake_env);
        }) == "s.toml:4: providers[0].token_env: give either token or token_env, not both");
  CHECK(error_of([&] { apply_toml(c, "[[api_keys]]\nkey = \"k1\"\nkey_env = \"TOK\"\n", "s.toml", &fake_env); }) ==
        "s.toml:3: api_keys[0].key_env: give either key or key_env, not both");
  Config ok;
  apply_toml(ok,
             "[[providers]]\nname = \"w\"\nkind = \"zai-web\"\ntoken_env = \"TOK\"\napi_key = \" sk-a \"\n"
             "signing_secret = \" s \"\n",
             "s.toml", &fake_env);
  REQUIRE(ok.providers.size() == 1);
  CHECK(ok.providers[0].zai.token == "env-token");
  CHECK(ok.providers[0].api_key == "sk-a");
  CHECK(ok.providers[0].zai.signing_secret == " s ");
}

TEST_CASE("config: validate names a zero size or timeout of a hand-built configuration", "[unit][config]") {
  auto base = [] {
    Config c;
    c.allow_no_auth = true;
    c.providers.push_back(ProviderConfig{});
    c.providers.back().name = "z";
    return c;
  };
  Config sizes = base();
  sizes.limits.max_sse_event = 0;
  CHECK(error_of([&] { validate(sizes); }) == "limits.max_sse_event: must be a positive integer");
  Config times = base();
  times.timeouts.upstream_write = Millis(0);
  CHECK(error_of([&] { validate(times); }) == "timeouts.upstream_write_ms: must be a positive integer");
  Config pool = base();
  pool.limits.pool_idle_timeout = Millis(-1);
  CHECK(error_of([&] { validate(pool); }) == "limits.pool_idle_timeout_ms: must be a positive integer");
  Config fine = base();
  CHECK_NOTHROW(validate(fine));
}

TEST_CASE("config: ZGATE_ADMIN_KEY sets the admin key", "[unit][config][admin]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_ADMIN_KEY", " adm-0123456789 "}});
  CHECK(load({})->admin_key == "adm-0123456789");
}

TEST_CASE("config: admin_key_env in the file reads the admin key", "[unit][config][admin]") {
  set_env({{"ADM", "adm-from-env-0123"}});
  Config c;
  apply_toml(c, "admin_key_env = \"ADM\"\n", "a.toml", &fake_env);
  CHECK(c.admin_key == "adm-from-env-0123");
}

TEST_CASE("config: an admin key equal to a client key is refused", "[unit][config][admin]") {
  set_env({{"ZGATE_API_KEYS", "ops=k-0123456789ab"}, {"ZGATE_ADMIN_KEY", "k-0123456789ab"}});
  CHECK_THAT(error_of([] { load({}); }), Catch::Contains("admin_key") && Catch::Contains("'ops'"));
}

TEST_CASE("config: the admin key is masked in the description", "[unit][config][admin]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_ADMIN_KEY", "adm-secret-0123456789"}});
  const std::string d = describe(*load({}));
  CHECK(d.find("adm-secret-0123456789") == std::string::npos);
  CHECK(d.find("admin key:") != std::string::npos);
}

TEST_CASE("config: ZGATE_METRICS_LISTEN sets the metrics address", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}, {"ZGATE_METRICS_LISTEN", "127.0.0.1:9464"}});
  auto c = load({});
  CHECK(c->metrics_listen_host == "127.0.0.1");
  CHECK(c->metrics_listen_port == 9464);
}

TEST_CASE("config: metrics_listen is off unless set", "[unit][config]") {
  set_env({{"API_KEY", "k-0123456789ab"}});
  CHECK(load({})->metrics_listen_host.empty());
}

TEST_CASE("config: TOML metrics_listen, and a bad one named", "[unit][config]") {
  Config c;
  apply_toml(c, "metrics_listen = \"[::1]:9100\"\n", "z.toml");
  CHECK(c.metrics_listen_host == "::1");
  CHECK(c.metrics_listen_port == 9100);
  const auto msg = error_of([&] { apply_toml(c, "metrics_listen = \"9100\"\n", "z.toml"); });
  CHECK_THAT(msg, Catch::Contains("metrics_listen") && Catch::Contains("host:port"));
}

TEST_CASE("config: metrics_listen is restart-only", "[unit][config]") {
  Config a, b;
  b.metrics_listen_host = "127.0.0.1";
  b.metrics_listen_port = 9464;
  CHECK(restart_only_changes(a, b) == std::vector<std::string>{"metrics_listen"});
}

TEST_CASE("config: describe names the metrics address when set", "[unit][config]") {
  Config c;
  CHECK(describe(c).find("metrics:") == std::string::npos);
  c.metrics_listen_host = "::1";
  c.metrics_listen_port = 9464;
  CHECK(describe(c).find("metrics: also served on [::1]:9464") != std::string::npos);
}

TEST_CASE("config: log.access_file, access_max_size and access_keep from TOML, the file also from ZGATE_ACCESS_LOG_FILE") {
  Config c;
  CHECK(c.log.access_file.empty());
  CHECK(c.log.access_max_size == 100ull * 1024 * 1024);
  CHECK(c.log.access_keep == 5);
  apply_toml(c, "[log]\naccess_file = \"/var/log/zgate/access.log\"\naccess_max_size = 0\naccess_keep = 9\n", "z.toml");
  CHECK(c.log.access_file == "/var/log/zgate/access.log");
  CHECK(c.log.access_max_size == 0);
  CHECK(c.log.access_keep == 9);
  CHECK_THAT(error_of([&] { apply_toml(c, "[log]\naccess_keep = 0\n", "z.toml"); }),
             Catch::Contains("log.access_keep"));
  set_env({{"ZGATE_API_KEYS", "sk-test-key-000000000001"}, {"ZGATE_UPSTREAM_KEY", "up"},
           {"ZGATE_ACCESS_LOG_FILE", "/tmp/a.log"}});
  CHECK(load({})->log.access_file == "/tmp/a.log");
}

TEST_CASE("config: a zai-web provider's tokens from TOML, token first", "[unit][config]") {
  set_env({{"TOKS", "t3, t4"}});
  Config c;
  apply_toml(c, R"(
[[api_keys]]
key = "sk-client-key-0000000000001"
[[providers]]
name = "w"
kind = "zai-web"
token = "t0"
tokens = ["t1", "t2"]
key_strategy = "least_loaded"
[[providers]]
name = "e"
kind = "zai-web"
tokens_env = "TOKS"
)", "t.toml", &fake_env);
  validate(c);
  CHECK(c.providers[0].tokens == std::vector<std::string>{"t0", "t1", "t2"});
  CHECK(c.providers[0].zai.token == "t0");
  CHECK(c.providers[1].tokens == std::vector<std::string>{"t3", "t4"});
  CHECK(c.providers[1].zai.token == "t3");
  const std::string described = describe(c);
  CHECK(described.find("t1") == std::string::npos);  // fingerprints only
}

TEST_CASE("config: tokens belong to zai-web providers", "[unit][config]") {
  Config c;
  c.allow_no_auth = true;
  apply_toml(c, "[[providers]]\nname = \"p\"\nkind = \"zhipu\"\ntokens = [\"t1\"]\n", "t.toml");
  CHECK(error_of([&] { validate(c); }).find("providers[0] (p).tokens: only zai-web providers") != std::string::npos);
}

TEST_CASE("config: a zai-web provider's upstream keys from the environment are its tokens", "[unit][config]") {
  set_env({{"ZGATE_API_KEYS", "sk-client-key-0000000000001"},
           {"ZGATE_PROVIDER", "zai-web"},
           {"ZGATE_UPSTREAM_KEY", "tok-one,tok-two"}});
  const auto c = load({});
  REQUIRE(c->providers.size() == 1);
  CHECK(c->providers[0].tokens == std::vector<std::string>{"tok-one", "tok-two"});
  CHECK(c->providers[0].zai.token == "tok-one");
  CHECK(c->providers[0].api_keys.size() <= 1);  // no zhipu key pool for a zai-web provider
}

TEST_CASE("config: [health] thresholds from TOML, checked", "[unit][config]") {
  Config c;
  apply_toml(c, "[health]\nwindow_s = 60\ndown_after_failures = 3\ndegraded_error_rate = 0.5\n", "t.toml");
  CHECK(c.health.window == Millis(60'000));
  CHECK(c.health.down_after_failures == 3);
  CHECK(c.health.degraded_error_rate == 0.5);
  Config bad;
  CHECK(error_of([&] { apply_toml(bad, "[health]\nwindow_s = 5\n", "t.toml"); }).find("health.window_s") !=
        std::string::npos);
  CHECK(error_of([&] { apply_toml(bad, "[health]\ndegraded_error_rate = 0\n", "t.toml"); }).find("above 0") !=
        std::string::npos);
  CHECK(error_of([&] { apply_toml(bad, "[health]\nwindow = 5\n", "t.toml"); }).find("health.window") !=
        std::string::npos);
}
