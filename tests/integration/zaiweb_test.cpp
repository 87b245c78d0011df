// zgate with the zai-web provider against zgate-mock's chat.z.ai dialect, in process.
#include <catch2/catch.hpp>

#include "integration/gateway_harness.hpp"
#include "zgate/config/default_models.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

const char* kSecret = "zgate-test-signing-secret";

// A logged-in identity as the web frontend issues it: a JWT whose payload carries the user id.
const char* kUserToken = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InVzZXItNDIiLCJlbWFpbCI6InRAZXhhbXBsZS5vcmcifQ.c2ln";

GatewayOptions zai_options(bool signed_endpoint = true, std::string token = {}) {
  GatewayOptions o;
  if (signed_endpoint) o.mock.zai_signing_secret = kSecret;
  o.tweak = [signed_endpoint, token](Config& c) {
    auto& p = c.providers[0];
    p.kind = ProviderKind::zai_web;
    p.base_url = p.base_url.substr(0, p.base_url.find("/api/paas/v4"));
    p.api_key.clear();
    p.zai.token = token;
    if (signed_endpoint) p.zai.signing_secret = kSecret;
    c.models = default_models(ProviderKind::zai_web, p.name);
  };
  return o;
}

std::string content_of(const std::string& sse) {
  std::string text;
  for (auto& e : sse_data(sse)) {
    for (std::size_t p = e.find(R"("content":")"); p != std::string::npos; p = e.find(R"("content":")", p + 1)) {
      if (p >= 10 && e.compare(p - 10, 10, "reasoning_") == 0) continue;
      text += e.substr(p + 11, e.find('"', p + 11) - p - 11);
    }
  }
  return text;
}

}  // namespace

TEST_CASE("zai-web: streamed answer through the signed endpoint", "[integration][zaiweb]") {
  Harness h(zai_options());
  auto r = h.post_chat(chat_body("Hello web", true));
  REQUIRE(r.status == 200);
  const auto events = sse_data(r.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  CHECK(!content_of(r.body).empty());
  CHECK(h.mock().last_request_target().rfind("/api/v2/chat/completions?", 0) == 0);
  CHECK(!h.mock().last_request_header("X-Signature").empty());
}

TEST_CASE("zai-web: legacy unsigned endpoint without a signing secret", "[integration][zaiweb]") {
  Harness h(zai_options(false));
  auto r = h.post_chat(chat_body("Hello legacy"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"("object":"chat.completion")") != std::string::npos);
  CHECK(h.mock().last_request_target() == "/api/chat/completions");
}

TEST_CASE("zai-web: non-stream request is aggregated into one chat.completion", "[integration][zaiweb]") {
  Harness h(zai_options());
  auto r = h.post_chat(chat_body("[scenario:t01]"));
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"("content":"Hello! How can I help you today?")") != std::string::npos);
  CHECK(r.body.find(R"("prompt_tokens":18)") != std::string::npos);
}

TEST_CASE("zai-web: thinking is reasoning_content with the details wrapper removed", "[integration][zaiweb]") {
  Harness h(zai_options());
  auto r = h.post_chat(chat_body("[scenario:t03]", false, "", "glm-4.5-thinking"));
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"("reasoning_content":"The user asks for 2+2.\nSimple arithmetic.)") != std::string::npos);
  CHECK(r.body.find(R"("content":"2 + 2 = 4.")") != std::string::npos);
  CHECK(r.body.find("<details") == std::string::npos);
  CHECK(h.mock().last_request_body().find(R"("enable_thinking":true)") != std::string::npos);
}

TEST_CASE("zai-web: the search alias turns web search on", "[integration][zaiweb]") {
  Harness h(zai_options());
  auto r = h.post_chat(chat_body("news?", false, "", "glm-4.5-search"));
  REQUIRE(r.status == 200);
  CHECK(h.mock().last_request_body().find(R"("web_search":true)") != std::string::npos);
}

TEST_CASE("zai-web: a data-URL image is uploaded and referenced", "[integration][zaiweb]") {
  Harness h(zai_options(true, kUserToken));  // guests cannot upload
  // A 1x1 PNG.
  const std::string png =
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
  const std::string body = R"({"model":"glm-4.5v","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},)"
                           R"({"type":"image_url","image_url":{"url":"data:image/png;base64,)" + png + R"("}}]}]})";
  const auto before = h.mock().stats().requests;
  auto r = h.post_chat(body);
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(h.mock().stats().requests - before == 2);  // the upload, then the completion
  CHECK(h.mock().last_request_body().find(R"("files")") != std::string::npos);
}

TEST_CASE("zai-web: tool call round trip by prompt injection", "[integration][zaiweb]") {
  Harness h(zai_options());
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  auto r = h.post_chat(chat_body("Weather in Paris?", true, tools));
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"("finish_reason":"tool_calls")") != std::string::npos);
  CHECK(r.body.find(R"("name":"get_weather")") != std::string::npos);
  CHECK(r.body.find("<Function_") == std::string::npos);  // the trigger never leaks

  // Send the tool result back: the model answers in plain text.
  const std::string follow = R"({"model":"glm-4.5","messages":[{"role":"user","content":"Weather in Paris?"},)"
                             R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
                             R"("function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
                             R"({"role":"tool","tool_call_id":"call_1","content":"18 C, cloudy"}],)" + tools + "}";
  auto r2 = h.post_chat(follow);
  INFO(r2.body);
  REQUIRE(r2.status == 200);
  CHECK(r2.body.find(R"("finish_reason":"stop")") != std::string::npos);
  CHECK(h.mock().last_request_body().find("18 C, cloudy") != std::string::npos);
}

TEST_CASE("zai-web: a revoked guest token is dropped and a new one fetched", "[integration][zaiweb]") {
  Harness h(zai_options());
  REQUIRE(h.post_chat(chat_body("first")).status == 200);
  const auto first_token = h.mock().last_request_header("Authorization");
  const auto before = h.mock().stats().requests;
  auto revoked = h.post_chat(chat_body("[scenario:revoke]"));
  // The gateway retried once with a freshly signed-in guest (which the marker revoked again),
  // then reports the upstream identity failure as a gateway error: the client's key was fine.
  CHECK(revoked.status == 502);
  CHECK(revoked.body.find("token") != std::string::npos);
  CHECK(h.mock().stats().requests - before == 3);  // completion, guest sign-in, completion again
  auto after = h.post_chat(chat_body("after"));
  REQUIRE(after.status == 200);
  CHECK(h.mock().last_request_header("Authorization") != first_token);
}

TEST_CASE("zai-web: upstream error forms become clear OpenAI errors", "[integration][zaiweb]") {
  Harness h(zai_options());
  struct Case {
    const char* scenario;
    int status;
    const char* says;
  };
  for (const Case c : {Case{"http_405", 502, "firewall"}, Case{"http_429", 429, "rate_limit"},
                       Case{"http_500", 502, "chat.z.ai"}}) {
    INFO(c.scenario);
    auto r = h.post_chat(chat_body(std::string("[scenario:") + c.scenario + "]"));
    INFO(r.body);
    CHECK(r.status == c.status);
    CHECK(r.body.find(R"({"error":{)") == 0);
    CHECK(r.body.find(c.says) != std::string::npos);
  }
  auto inband = h.post_chat(chat_body("[scenario:drop after=2]", true));  // cut mid-stream
  REQUIRE(inband.status == 200);
  const auto events = sse_data(inband.body);
  REQUIRE(events.size() >= 2);
  CHECK(events.back() == "[DONE]");
  CHECK(events[events.size() - 2].find(R"({"error":{)") == 0);
}
