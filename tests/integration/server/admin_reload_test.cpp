// POST /admin/reload against a real gateway: the reloader main() installs is replaced by one the
// test gives, so the endpoint's own behaviour (auth, thread, answers) is what is checked here; the
// real binary's reload from its file is checked by tests/node/process.test.mjs.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "integration/gateway_harness.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kAdminKey = "sk-admin-reload-test-key-012345678";
constexpr const char* kSecondKey = "sk-second-reload-key-000000000002";
const Headers kAdmin{{"Authorization", std::string("Bearer ") + kAdminKey}};

HttpResult post_reload(Harness& h, const Headers& headers) {
  return http_request("127.0.0.1", h.port(), "POST", "/admin/reload", headers, "", std::chrono::milliseconds(5000));
}

int chat_status(Harness& h, const char* key) {
  return http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions",
                      {{"Authorization", std::string("Bearer ") + key}, {"Content-Type", "application/json"}},
                      chat_body("hi"), std::chrono::milliseconds(5000))
      .status;
}

GatewayOptions with_admin() {
  GatewayOptions o;
  o.tweak = [](Config& c) { c.admin_key = kAdminKey; };
  return o;
}

HarnessReloader reloader(Harness*& h, std::atomic<int>& calls, bool refuse) {
  return [&h, &calls, refuse](Gateway& g) {
    ++calls;
    if (refuse) {
      Gateway::ReloadResult r;
      r.error = "zgate.toml: workers: expected an integer";
      return r;
    }
    auto next = std::make_shared<Config>(h->config());
    next->api_keys.push_back(ApiKey{"second", kSecondKey});
    return g.reload(next);
  };
}

// A gateway with an admin key and the reloader above; `calls` counts the reloads.
struct Reloadable {
  std::atomic<int> calls{0};
  Harness* self = nullptr;
  Harness h;
  explicit Reloadable(bool refuse) : h(with_admin(), {}, reloader(self, calls, refuse)) { self = &h; }
};

}  // namespace

TEST_CASE("admin reload: the admin key applies the new configuration and gets its generation") {
  Reloadable rl(false);
  Harness& h = rl.h;
  REQUIRE(chat_status(h, kSecondKey) == 401);
  const auto r = post_reload(h, kAdmin);
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.body == R"({"reloaded":true,"generation":2,"restart_needed":[]})");
  CHECK(rl.calls == 1);
  CHECK(chat_status(h, kSecondKey) == 200);
  CHECK(chat_status(h, kClientKey) == 200);
}

TEST_CASE("admin reload: a refused configuration is a 422 naming why, and the running one stays") {
  Reloadable rl(true);
  Harness& h = rl.h;
  const auto r = post_reload(h, kAdmin);
  REQUIRE(r.status == 422);
  CHECK(r.body.find(R"("code":"config_rejected")") != std::string::npos);
  CHECK(r.body.find("workers: expected an integer") != std::string::npos);
  CHECK(chat_status(h, kClientKey) == 200);
}

TEST_CASE("admin reload: client keys and no key are refused before anything is reloaded") {
  Reloadable rl(false);
  Harness& h = rl.h;
  CHECK(post_reload(h, {}).status == 401);
  CHECK(post_reload(h, {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 401);
  CHECK(rl.calls == 0);
  // GET is not the method.
  CHECK(h.get("/admin/reload", kAdmin).status == 405);
}

TEST_CASE("admin reload: a gateway without a configuration source answers 404 reload_unavailable") {
  Harness h(with_admin());
  const auto r = post_reload(h, kAdmin);
  CHECK(r.status == 404);
  CHECK(r.body.find(R"("code":"reload_unavailable")") != std::string::npos);
}
