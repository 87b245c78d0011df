// zai-web chat request: goldens (tests/fixtures/zaiweb/requests/), signing as the mock would
// verify it, thinking, the signature prompt, chat pre-creation.
// Set ZGATE_UPDATE_GOLDENS=1 to (re)write the goldens, then read them before committing.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "../fixtures.hpp"
#include "zgate/model/request.hpp"
#include "zgate/front/openai/request.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace zgate;
using zgate::test::slurp;
using zgate::test::updating;
using namespace zgate::zaiweb;
using zgate::zaiweb::test::header;

const fs::path kDir = fs::path(ZGATE_FIXTURES) / "zaiweb" / "requests";
constexpr std::string_view kSecret = "key-@@@@)))()((9))-xxxx&&&%%%%%";

ChatRequest parse(std::string_view json) {
  std::string buf;
  buf.reserve(json.size() + simdjson::SIMDJSON_PADDING);
  buf.assign(json);
  Result<ChatRequest> r = openai::parse_chat_request(std::string_view(buf.data(), buf.size()));
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return std::move(*r);
}

std::string render(const UpstreamRequest& r) {
  std::string s = r.method + " " + r.target + "\n";
  for (const auto& [k, v] : r.headers) s.append(k).append(": ").append(v).append("\n");
  s.append("\n").append(r.body).append("\n");
  return s;
}

void check_golden(const std::string& name, const UpstreamRequest& r) {
  const fs::path golden = kDir / (name + ".http");
  const std::string got = render(r);
  if (updating()) {
    fs::create_directories(kDir);
    std::ofstream(golden, std::ios::binary) << got;
  }
  INFO(name);
  CHECK(got == slurp(golden));
}

BuildContext context() {
  BuildContext c;
  c.now_ms = 1772359200123;  // 2026-03-01 10:00:00.123 UTC
  c.request_id = "eef12d6c-6dc9-47a0-aae8-b9f3454f98c5";
  c.chat_id = "5d1c2f0e-8a4b-4c1e-9a77-2b3c4d5e6f70";
  c.message_id = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d";
  c.user_message_id = "11111111-2222-4333-8444-555555555555";
  return c;
}

AuthInfo guest() { return AuthInfo{"eyJhbGciOiJFUzI1NiJ9.eyJpZCI6InUxIn0.sig", "u1", "Guest-1", "guest"}; }

ModelRoute route(std::string name, bool thinking = false, bool search = false) {
  ModelRoute r;
  r.name = std::move(name);
  r.provider = "zai";
  r.upstream_model = "glm-4.7";
  if (thinking) r.thinking = true;
  r.web_search = search;
  return r;
}

ZaiWebOptions signed_opts() {
  ZaiWebOptions o;
  o.signing_secret = std::string(kSecret);
  o.fe_version = "prod-fe-1.1.95";
  return o;
}

// The body's signature_prompt and the query values sign to X-Signature (what the mock checks).
void check_signature(const UpstreamRequest& r, std::string_view secret) {
  simdjson::dom::parser p;
  simdjson::dom::element body;
  REQUIRE(p.parse(r.body).get(body) == simdjson::SUCCESS);
  std::string_view prompt;
  REQUIRE(body["signature_prompt"].get_string().get(prompt) == simdjson::SUCCESS);
  const std::string ts = query_param(r.target, "timestamp");
  CHECK(ts == query_param(r.target, "signature_timestamp"));
  const int64_t t = std::stoll(ts);
  CHECK(verify_signature(secret, query_param(r.target, "requestId"), t, query_param(r.target, "user_id"), prompt,
                         header(r, "X-Signature"), t));
}

}  // namespace

TEST_CASE("zaiweb request: signed thinking request (golden)", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"glm-4.7-thinking","messages":[
      {"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?"}],"stream":true})");
  const UpstreamRequest r = build_chat_request(req, route("glm-4.7-thinking", true), "glm-4.7", signed_opts(), guest(), context());
  check_golden("signed_thinking", r);
  CHECK(r.method == "POST");
  CHECK(r.target.rfind("/api/v2/chat/completions?timestamp=1772359200123&requestId=", 0) == 0);
  CHECK(query_param(r.target, "user_id") == "u1");
  CHECK(query_param(r.target, "token") == guest().token);
  CHECK(header(r, "Authorization") == "Bearer " + guest().token);
  CHECK(header(r, "X-FE-Version") == "prod-fe-1.1.95");
  CHECK(header(r, "Origin") == "https://chat.z.ai");
  CHECK(header(r, "Referer") == "https://chat.z.ai/c/5d1c2f0e-8a4b-4c1e-9a77-2b3c4d5e6f70");
  CHECK(r.body.find("\"signature_prompt\":\"What is 2+2?\"") != std::string::npos);
  CHECK(r.body.find("\"enable_thinking\":true") != std::string::npos);
  CHECK(r.body.find("\"{{CURRENT_DATETIME}}\":\"2026-03-01 10:00:00\"") != std::string::npos);
  check_signature(r, kSecret);
}

TEST_CASE("zaiweb request: no secret -> legacy unsigned endpoint (golden)", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"glm-4.5","messages":[{"role":"user","content":"Hello"}]})");
  ZaiWebOptions o;
  o.fe_version = "prod-fe-1.0.70";
  ModelRoute rt = route("GLM-4.5");
  const UpstreamRequest r = build_chat_request(req, rt, "0727-360B-API", o, guest(), context());
  check_golden("legacy_unsigned", r);
  CHECK(r.target == "/api/chat/completions");
  CHECK(header(r, "X-Signature").empty());
  CHECK(r.body.find("signature_prompt") == std::string::npos);
  CHECK(r.body.find("\"model_item\":{\"id\":\"0727-360B-API\",\"name\":\"GLM-4.5\"") != std::string::npos);
  CHECK(r.body.find("\"enable_thinking\":false") != std::string::npos);
}

TEST_CASE("zaiweb request: tools are taught in the prompt and history is rendered as text (golden)", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"glm-4.7","messages":[
      {"role":"system","content":"You are a helpful assistant."},
      {"role":"user","content":"Weather in Paris and Rome?"},
      {"role":"assistant","content":null,"tool_calls":[
         {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
         {"id":"call_b","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
      {"role":"tool","tool_call_id":"call_a","content":"18 C"},
      {"role":"tool","tool_call_id":"call_b","content":"24 C"},
      {"role":"user","content":"Which is warmer?"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
    "tool_choice":"auto"})");
  ZaiWebOptions o = signed_opts();
  REQUIRE(wants_tool_emulation(req, o));
  BuildContext ctx = context();
  ctx.tool_trigger = make_trigger("q7Rt2ZpX");
  const UpstreamRequest r = build_chat_request(req, route("glm-4.7"), "glm-4.7", o, guest(), ctx);
  check_golden("tools_history", r);
  CHECK(r.body.find("\"tool_calls\"") == std::string::npos);
  CHECK(r.body.find("\"role\":\"tool\"") == std::string::npos);
  CHECK(r.body.find("\"tools\"") == std::string::npos);
  CHECK(r.body.find("<tool_response tool=\\\"get_weather\\\">\\n18 C\\n</tool_response>\\n<tool_response") !=
        std::string::npos);
  CHECK(r.body.find("<Function_q7Rt2ZpX_Start/>\\n<function_calls>") != std::string::npos);
  CHECK(r.body.find("You are a helpful assistant.\\n\\n# Tools") != std::string::npos);
  CHECK(r.body.find("\"signature_prompt\":\"Which is warmer?\"") != std::string::npos);
  check_signature(r, kSecret);

  const DecoderOptions d = decoder_options(req, o, ctx, "glm-4.7");
  CHECK(d.tool_emulation);
  CHECK(d.trigger == ctx.tool_trigger);
  CHECK(d.tool_names == std::vector<std::string>{"get_weather"});

  ZaiWebOptions off = o;
  off.function_calling = false;
  CHECK_FALSE(wants_tool_emulation(req, off));
}

TEST_CASE("zaiweb request: uploaded images by file id, http images passed through (golden)", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"glm-4.6v","messages":[{"role":"user","content":[
      {"type":"text","text":"Compare these."},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
      {"type":"image_url","image_url":{"url":"https://example.org/cat.jpg"}}]}]})");
  AuthInfo user{"tok", "u9", "Ada", "user"};
  const auto jobs = plan_images(req, user);
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].action == ImageAction::upload_data_url);
  CHECK(jobs[0].filename == "image-1.png");
  CHECK(jobs[1].action == ImageAction::fetch_and_upload);
  CHECK(jobs[1].filename == "image-2.jpg");
  CHECK(plan_images(req, guest())[1].action == ImageAction::pass_through);

  BuildContext ctx = context();
  FileRef f;
  f.id = "f1";
  f.user_id = "u9";
  f.filename = "image-1.png";
  f.content_type = "image/png";
  f.size = 8;
  f.created_at = 1772359200;
  ctx.images = {f, FileRef{}};  // the second one was not uploaded: its URL goes as is
  ModelRoute rt = route("glm-4.6v");
  rt.vision = true;
  const UpstreamRequest r = build_chat_request(req, rt, "glm-4.6v", signed_opts(), user, ctx);
  check_golden("images", r);
  CHECK(r.body.find(R"({"type":"image_url","image_url":{"url":"f1"}})") != std::string::npos);
  CHECK(r.body.find(R"({"type":"image_url","image_url":{"url":"https://example.org/cat.jpg"}})") != std::string::npos);
  CHECK(r.body.find(R"("url":"/api/v1/files/f1/content")") != std::string::npos);
  CHECK(r.body.find(R"("ref_user_msg_id":"11111111-2222-4333-8444-555555555555")") != std::string::npos);
  CHECK(r.body.find("base64") == std::string::npos);
  CHECK(r.body.find("\"signature_prompt\":\"Compare these.\"") != std::string::npos);
  check_signature(r, kSecret);
}

TEST_CASE("zaiweb request: search routes turn on web search (golden)", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"glm-4.7-search","messages":[{"role":"user","content":"News?"}]})");
  const UpstreamRequest r = build_chat_request(req, route("glm-4.7-search", false, true), "glm-4.7", signed_opts(),
                                               guest(), context());
  check_golden("search", r);
  CHECK(r.body.find(R"("web_search":true,"auto_web_search":true)") != std::string::npos);
  CHECK(r.body.find(R"("mcp_servers":["deep-web-search"])") != std::string::npos);
}

TEST_CASE("zaiweb request: thinking follows the route, then the request", "[unit][zaiweb]") {
  ChatRequest req;
  ModelRoute rt;
  CHECK_FALSE(thinking_enabled(req, rt));
  req.thinking = true;
  CHECK(thinking_enabled(req, rt));
  rt.thinking = false;
  CHECK_FALSE(thinking_enabled(req, rt));
  ChatRequest effort;
  effort.reasoning_effort = "high";
  CHECK(thinking_enabled(effort, ModelRoute{}));
}

TEST_CASE("zaiweb request: signature_prompt is the last user text as sent", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"m","messages":[{"role":"user","content":"first"},
      {"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
  CHECK(signature_prompt(req) == "a\nb");
  const ChatRequest tool_last = parse(R"({"model":"m","messages":[{"role":"user","content":"q"},
      {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"c1","content":"r"}]})");
  CHECK(signature_prompt(tool_last) == "<tool_response tool=\"f\">\nr\n</tool_response>");
}

TEST_CASE("zaiweb request: the user agent override also drives client hints", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  BuildContext ctx = context();
  ctx.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
  const UpstreamRequest r = build_chat_request(req, route("m"), "glm-4.7", signed_opts(), guest(), ctx);
  CHECK(header(r, "User-Agent") == ctx.user_agent);
  CHECK(header(r, "sec-ch-ua").empty());  // Firefox sends none
  CHECK(query_param(r.target, "browser_name") == "Firefox");
  const UpstreamRequest chrome = build_chat_request(req, route("m"), "glm-4.7", signed_opts(), guest(), context());
  CHECK(header(chrome, "sec-ch-ua").find("\"Google Chrome\";v=\"140\"") != std::string::npos);
  CHECK(header(chrome, "sec-ch-ua-platform") == "\"Windows\"");
}

TEST_CASE("zaiweb request: chat pre-creation body and answer", "[unit][zaiweb]") {
  const ChatRequest req = parse(R"({"model":"m","messages":[{"role":"user","content":"Hello there"}]})");
  const UpstreamRequest r = build_new_chat_request(req, "glm-4.7", signed_opts(), guest(), context());
  CHECK(r.target == "/api/v1/chats/new");
  CHECK(r.body.find(R"("currentId":"11111111-2222-4333-8444-555555555555")") != std::string::npos);
  CHECK(r.body.find(R"("content":"Hello there")") != std::string::npos);
  CHECK(r.body.find(R"("models":["glm-4.7"])") != std::string::npos);
  const Result<std::string> created = parse_new_chat_response(200, "application/json", R"({"id":"chat-9","chat":{}})");
  REQUIRE(created.ok());
  CHECK(*created == "chat-9");
  const Result<std::string> refused = parse_new_chat_response(401, "application/json", R"({"detail":"Unauthorized"})");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "upstream_auth_failed");
}
