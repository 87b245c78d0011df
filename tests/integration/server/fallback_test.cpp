// Fallback routes against a running gateway: a route whose upstream cannot be reached or keeps
// failing hands the request to the next route in its `fallbacks`; an error another upstream would
// repeat is answered as it is; the record names the route that answered and the way there.
#include <catch2/catch.hpp>

#include <thread>

#include "integration/gateway_harness.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

// The "default" provider (the mock) keeps its built-in routes; route "main" goes to provider
// "primary" at `primary_url` (empty: the mock too) and falls back to the built-in glm-4.5.
GatewayOptions with_fallback(std::string primary_url) {
  GatewayOptions o;
  o.tweak = [primary_url](Config& c) {
    c.retry.attempts = 2;
    c.retry.base_delay = std::chrono::milliseconds(1);
    c.retry.max_delay = std::chrono::milliseconds(2);
    ProviderConfig p;
    p.name = "primary";
    p.kind = ProviderKind::zhipu;
    p.base_url = primary_url.empty() ? c.providers[0].base_url : primary_url;
    p.api_key = "primary-key";
    c.providers.push_back(p);
    ModelRoute m;
    m.name = "main";
    m.provider = "primary";
    m.upstream_model = "glm-4.6";
    m.fallbacks = {"glm-4.5"};
    c.models.push_back(m);
  };
  return o;
}

// The access line of request `id`. The worker records a request just after its response is
// written, so the client may read the answer first: wait (bounded) for the record, flushing.
std::string line_of(Harness& h, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    h.gateway().flush_records();
    for (const auto& l : access_lines().snapshot()) {
      if (l.find("\"request_id\":\"" + id + "\"") != std::string::npos) return l;
    }
    if (std::chrono::steady_clock::now() > deadline) return {};
    std::this_thread::sleep_for(10ms);
  }
}

HttpResult chat_with_id(Harness& h, const std::string& body, const std::string& id) {
  return h.post_chat(body, {{"X-Request-Id", id}});
}

}  // namespace

TEST_CASE("fallback: a route whose upstream refuses connections is answered by its fallback",
          "[integration][fallback]") {
  const RefusingPort refusing;
  Harness h(with_fallback(refusing.v4_url()));
  const auto r = chat_with_id(h, chat_body("hello", false, "", "main"), "fb-refused");
  REQUIRE(r.status == 200);
  CHECK(r.body.find("\"model\":\"main\"") != std::string::npos);  // the client's name stays
  CHECK(h.mock().stats().requests == 1);
  const std::string line = line_of(h, "fb-refused");
  REQUIRE_FALSE(line.empty());
  CHECK(line.find("\"provider\":\"default\"") != std::string::npos);
  CHECK(line.find("\"upstream_model\":\"glm-4.5\"") != std::string::npos);
  CHECK(line.find("fallback=glm-4.5") != std::string::npos);
  CHECK(line.find("\"attempts\":3") != std::string::npos);  // two on the route, one on its fallback
}

TEST_CASE("fallback: a stream is served by the fallback too", "[integration][fallback]") {
  const RefusingPort refusing;
  Harness h(with_fallback(refusing.v4_url()));
  const auto r = h.post_chat(chat_body("hello", true, "", "main"));
  REQUIRE(r.status == 200);
  const auto events = sse_data(r.body);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back() == "[DONE]");
}

TEST_CASE("fallback: when the fallback fails too, the client gets its error, with every attempt recorded",
          "[integration][fallback]") {
  Harness h(with_fallback(""));
  const auto r = chat_with_id(h, chat_body("[scenario:err_500]", false, "", "main"), "fb-both-fail");
  CHECK(r.status >= 500);
  CHECK(h.mock().stats().requests == 4);  // two attempts on each route
  const std::string line = line_of(h, "fb-both-fail");
  REQUIRE_FALSE(line.empty());
  CHECK(line.find("\"provider\":\"default\"") != std::string::npos);
  CHECK(line.find("\"attempts\":4") != std::string::npos);
  CHECK(line.find("fallback=glm-4.5") != std::string::npos);
}

TEST_CASE("fallback: an error another upstream would repeat (a bad request) is answered without a fallback",
          "[integration][fallback]") {
  Harness h(with_fallback(""));
  const auto r = chat_with_id(h, chat_body("[scenario:err_1214]", false, "", "main"), "fb-bad-request");
  CHECK(r.status == 400);
  CHECK(h.mock().stats().requests == 1);
  CHECK(line_of(h, "fb-bad-request").find("fallback=") == std::string::npos);
}

TEST_CASE("fallback: under a budget an unpriced fallback is skipped", "[integration][fallback]") {
  const RefusingPort refusing;
  GatewayOptions o = with_fallback(refusing.v4_url());
  o.tweak = [base = o.tweak](Config& c) {
    base(c);
    c.models.back().price_source = PriceSource::route;  // "main" itself is priced (free)
    c.models.back().fallbacks = {"unpriced-spare"};
    ModelRoute spare;
    spare.name = "unpriced-spare";
    spare.provider = "default";
    spare.upstream_model = "some-new-model";
    c.models.push_back(spare);
    c.budget.day_usd = 100;
  };
  Harness h(o);
  const auto r = h.post_chat(chat_body("hello", false, "", "main"));
  CHECK(r.status >= 500);
  CHECK(h.mock().stats().requests == 0);
}
