// GET /admin/usage and GET /admin/requests against a running gateway whose usage store holds the
// chat requests it served (through the mock): the admin key only, filters, pages, and 400s that
// name the bad parameter.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <simdjson.h>
#include <string>

#include "integration/gateway_harness.hpp"
#include "support/temp_dir.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kAdminKey = "zgate-admin-integration-key-0001";

Headers admin() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }

// A gateway with a usage store and an admin key that has served `chats` requests: three quarters
// glm-4.5, the rest glm-4.6, every rows written before it returns.
struct Served {
  TempDir dir{"admin"};
  Harness h;
  explicit Served(int chats)
      : h({[this](Config& c) {
             c.usage_store = true;
             c.data_dir = dir.path;
             c.admin_key = kAdminKey;
           },
           {}}) {
    for (int i = 0; i < chats; ++i) {
      REQUIRE(h.post_chat(chat_body("hello", false, "", i % 4 == 3 ? "glm-4.6" : "glm-4.5")).status == 200);
    }
    // The recorder writes within 100 ms; wait (bounded) until every row is visible.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      const auto r = h.get("/admin/usage", admin());
      if (r.status == 200 && r.body.find("\"requests\":" + std::to_string(chats) + ",") != std::string::npos) break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(20ms);
    }
  }
};

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& body) {
  simdjson::dom::element doc;
  REQUIRE(p.parse(body).get(doc) == simdjson::SUCCESS);
  return doc;
}

}  // namespace

TEST_CASE("admin usage: the admin key is accepted, a client key and no key are refused", "[integration][admin]") {
  Served s(2);
  CHECK(s.h.get("/admin/usage", admin()).status == 200);
  CHECK(s.h.get("/admin/requests", admin()).status == 200);
  for (const char* path : {"/admin/usage", "/admin/requests"}) {
    CHECK(s.h.get(path, {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 401);
    CHECK(s.h.get(path).status == 401);
    CHECK(s.h.get(std::string(path) + "?limit=0").status == 401);  // the key before the parameters
  }
}

TEST_CASE("admin usage: without an admin key configured the endpoints do not exist", "[integration][admin]") {
  Harness h;
  CHECK(h.get("/admin/usage", admin()).status == 404);
  CHECK(h.get("/admin/requests", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 404);
}

TEST_CASE("admin usage: totals, a breakdown by model, and the model and key filters", "[integration][admin]") {
  Served s(8);
  simdjson::dom::parser p;
  auto r = s.h.get("/admin/usage?by=model", admin());
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type").find("application/json") != std::string::npos);
  auto doc = parse(p, r.body);
  CHECK(int64_t(doc["totals"]["requests"]) == 8);
  CHECK(int64_t(doc["totals"]["successes"]) == 8);
  CHECK(int64_t(doc["totals"]["prompt_tokens"]) > 0);
  CHECK(double(doc["totals"]["cost_usd"]) > 0);
  CHECK(double(doc["totals"]["latency_ms"]["total"]["p50"]) > 0);
  simdjson::dom::array groups = doc["groups"];
  REQUIRE(groups.size() == 2);
  CHECK(std::string_view(doc["groups"].at(0)["model"]) == "glm-4.5");
  CHECK(int64_t(doc["groups"].at(0)["requests"]) == 6);
  CHECK(int64_t(doc["groups"].at(1)["requests"]) == 2);

  doc = parse(p, s.h.get("/admin/usage?model=glm-4.6&since=1h", admin()).body);
  CHECK(int64_t(doc["totals"]["requests"]) == 2);
  doc = parse(p, s.h.get("/admin/usage?key=itest&by=key,status", admin()).body);
  CHECK(int64_t(doc["totals"]["requests"]) == 8);
  CHECK(std::string_view(doc["groups"].at(0)["status"]) == "200");
  doc = parse(p, s.h.get("/admin/usage?key=someone-else", admin()).body);
  CHECK(int64_t(doc["totals"]["requests"]) == 0);
  doc = parse(p, s.h.get("/admin/usage?until=2000-01-01", admin()).body);
  CHECK(int64_t(doc["totals"]["requests"]) == 0);
}

TEST_CASE("admin requests: newest first, in pages that follow the cursor, with filters", "[integration][admin]") {
  Served s(5);
  simdjson::dom::parser p;
  std::vector<int64_t> ids;
  std::string target = "/admin/requests?limit=2";
  for (int page = 0; page < 5; ++page) {
    const auto r = s.h.get(target, admin());
    REQUIRE(r.status == 200);
    auto doc = parse(p, r.body);
    for (auto row : simdjson::dom::array(doc["data"])) {
      ids.push_back(int64_t(row["id"]));
      CHECK(std::string_view(row["key"]) == "itest");
      CHECK(int64_t(row["status"]) == 200);
    }
    if (!bool(doc["has_more"])) {
      CHECK(doc["next_before"].is_null());
      break;
    }
    target = "/admin/requests?limit=2&before=" + std::to_string(int64_t(doc["next_before"]));
  }
  REQUIRE(ids.size() == 5);
  CHECK(std::is_sorted(ids.rbegin(), ids.rend()));
  auto doc = parse(p, s.h.get("/admin/requests?model=glm-4.6&status=200&error_type=", admin()).body);
  CHECK(simdjson::dom::array(doc["data"]).size() == 1);
  doc = parse(p, s.h.get("/admin/requests?status=429", admin()).body);
  CHECK(simdjson::dom::array(doc["data"]).size() == 0);
}

TEST_CASE("admin usage: a bad parameter is a 400 naming it", "[integration][admin]") {
  Served s(1);
  simdjson::dom::parser p;
  for (const auto& [target, param] : std::vector<std::pair<std::string, std::string>>{
           {"/admin/usage?by=colour", "by"},
           {"/admin/usage?since=yesterday", "since"},
           {"/admin/usage?until=2026-13-01", "until"},
           {"/admin/usage?color=red", "color"},
           {"/admin/requests?limit=0", "limit"},
           {"/admin/requests?limit=1001", "limit"},
           {"/admin/requests?before=abc", "before"},
           {"/admin/requests?status=9999", "status"},
           {"/admin/requests?by=model", "by"}}) {
    INFO(target);
    const auto r = s.h.get(target, admin());
    CHECK(r.status == 400);
    auto doc = parse(p, r.body);
    CHECK(std::string_view(doc["error"]["param"]) == param);
    CHECK(std::string_view(doc["error"]["type"]) == "invalid_request_error");
    CHECK(std::string_view(doc["error"]["message"]).find(param) != std::string_view::npos);
  }
}

TEST_CASE("admin usage: with the usage store off the endpoints say so", "[integration][admin]") {
  Harness h({[](Config& c) { c.admin_key = kAdminKey; }, {}});
  const auto r = h.get("/admin/usage", admin());
  CHECK(r.status == 404);
  CHECK(r.body.find("usage_store_off") != std::string::npos);
}
