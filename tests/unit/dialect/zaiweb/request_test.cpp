// zai-web request side: chat request goldens (tests/fixtures/zaiweb/requests/), signing as
// the mock would verify it, identity helpers, image uploads.
// Set ZGATE_UPDATE_GOLDENS=1 to (re)write the goldens, then read them before committing.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "zgate/model/request.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"

namespace {

namespace fs = std::filesystem;
using namespace zgate;
using namespace zgate::zaiweb;

const fs::path kDir = fs::path(ZGATE_FIXTURES) / "zaiweb" / "requests";
constexpr std::string_view kSecret = "key-@@@@)))()((9))-xxxx&&&%%%%%";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  INFO(p.string());
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool updating() {
  const char* v = std::getenv("ZGATE_UPDATE_GOLDENS");
  return v != nullptr && *v != '\0' && *v != '0';
}

ChatRequest parse(std::string_view json) {
  std::string buf;
  buf.reserve(json.size() + simdjson::SIMDJSON_PADDING);
  buf.assign(json);
  ParseResult r = parse_chat_request(std::string_view(buf.data(), buf.size()));
  INFO(r.error.message);
  REQUIRE(r.ok);
  return std::move(r.request);
}

std::string header(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
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
  ApiError err;
  CHECK(parse_new_chat_response(200, "application/json", R"({"id":"chat-9","chat":{}})", err) == "chat-9");
  CHECK(parse_new_chat_response(401, "application/json", R"({"detail":"Unauthorized"})", err).empty());
  CHECK(err.code == "upstream_auth_failed");
}

// ---------------------------------------------------------------------------------------------
// Identity

TEST_CASE("zaiweb identity: guest sign-in request has browser headers and no credentials", "[unit][zaiweb]") {
  ZaiWebOptions o;
  o.fe_version = "prod-fe-1.1.95";
  const UpstreamRequest r = guest_auth_request(o);
  CHECK(r.method == "GET");
  CHECK(r.target == "/api/v1/auths/");
  CHECK(header(r, "Authorization").empty());
  CHECK(header(r, "User-Agent") == kDefaultUserAgent);
  CHECK(header(r, "X-FE-Version") == "prod-fe-1.1.95");
  CHECK(header(r, "Accept-Encoding") == "identity");
  CHECK(header(profile_request(o, "tok"), "Authorization") == "Bearer tok");
  CHECK(landing_page_request(o).target == "/");
}

TEST_CASE("zaiweb identity: a guest answer gives token, id, name and role", "[unit][zaiweb]") {
  const AuthResult r = parse_auth_response(200, "application/json",
      R"({"id":"316bcb48-aaaa","email":"Guest-1755848588788@guest.com","name":"Guest","role":"guest","token":"eyJ.x.y"})");
  REQUIRE(r.ok);
  CHECK(r.info.token == "eyJ.x.y");
  CHECK(r.info.user_id == "316bcb48-aaaa");
  CHECK(r.info.name == "Guest");
  CHECK(r.info.is_guest());
}

TEST_CASE("zaiweb identity: a profile answer keeps the sent token, and the id may come from the JWT", "[unit][zaiweb]") {
  const std::string jwt = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9." + base64_encode(R"({"id":"uid-7","email":"a@b"})") + ".sig";
  CHECK(jwt_user_id(jwt) == "uid-7");
  CHECK(jwt_user_id("not-a-jwt").empty());
  CHECK(auth_from_token(jwt).user_id == "uid-7");
  const AuthResult r = parse_auth_response(200, "application/json", R"({"name":"Ada","role":"user","id":"uid-7"})", jwt);
  REQUIRE(r.ok);
  CHECK(r.info.token == jwt);
  CHECK(r.info.role == "user");
}

TEST_CASE("zaiweb identity: captcha, refusals and errors are reported, not worked around", "[unit][zaiweb]") {
  const AuthResult captcha = parse_auth_response(200, "application/json",
      R"({"detail":"请完成人机验证","error_code":"FRONTEND_CAPTCHA_REQUIRED"})");
  REQUIRE_FALSE(captcha.ok);
  CHECK(captcha.error.code == "upstream_captcha_required");
  const AuthResult refused = parse_auth_response(200, "application/json", R"({"detail":"Guest access disabled"})");
  REQUIRE_FALSE(refused.ok);
  CHECK(refused.error.message.find("did not issue a token") != std::string::npos);
  CHECK(refused.error.message.find("Guest access disabled") != std::string::npos);
  const AuthResult no_token = parse_auth_response(200, "application/json", R"({"id":"x","role":"guest"})");
  REQUIRE_FALSE(no_token.ok);
  const AuthResult waf = parse_auth_response(405, "text/html", "<html><title>405</title>aliyun</html>");
  REQUIRE_FALSE(waf.ok);
  CHECK(waf.error.code == "upstream_blocked");
  CHECK(waf.error.message.rfind("chat.z.ai sign-in", 0) == 0);
  const AuthResult bad = parse_auth_response(401, "application/json", R"({"detail":"Unauthorized"})");
  CHECK(bad.error.code == "upstream_auth_failed");
}

TEST_CASE("zaiweb identity: the frontend version is read from the landing page", "[unit][zaiweb]") {
  CHECK(extract_fe_version(R"(<script src="/_app/prod-fe-1.1.95/start.js"></script>)") == "prod-fe-1.1.95");
  CHECK(extract_fe_version("prod-fe-1.2 then prod-fe-10.20.300x") == "prod-fe-10.20.300");
  CHECK_FALSE(extract_fe_version("<html>no version</html>").has_value());
}

TEST_CASE("zaiweb identity: when to refresh the token", "[unit][zaiweb]") {
  CHECK(is_auth_failure(401, ""));
  CHECK(is_auth_failure(401, R"({"message":"expired"})"));
  CHECK(is_auth_failure(200, R"({"error":{"detail":"Unauthorized","code":401}})"));
  CHECK(is_auth_failure(400, R"({"detail":"token expired"})"));
  CHECK_FALSE(is_auth_failure(400, R"({"detail":"403: Signature validation failed: 签名验证失败"})"));
  CHECK_FALSE(is_auth_failure(403, R"({"detail":"Model not available for current user level","code":403})"));
  CHECK_FALSE(is_auth_failure(403, R"({"error_code":"FRONTEND_CAPTCHA_REQUIRED","code":401})"));
  CHECK_FALSE(is_auth_failure(405, "<html>blocked</html>"));
  CHECK_FALSE(is_auth_failure(429, R"({"detail":"Too many concurrent requests"})"));
}

// ---------------------------------------------------------------------------------------------
// Images

TEST_CASE("zaiweb upload: multipart body with the file field", "[unit][zaiweb]") {
  ZaiWebOptions o;
  const UpstreamRequest r = build_upload_request(AuthInfo{"tok", "u", "", "user"}, o, "a\"b.png", "image/png",
                                                 std::string_view("\x89PNG\0", 5), "zgateBoundary42");
  CHECK(r.method == "POST");
  CHECK(r.target == "/api/v1/files/");
  CHECK(header(r, "Authorization") == "Bearer tok");
  CHECK(header(r, "Content-Type") == "multipart/form-data; boundary=zgateBoundary42");
  std::string want =
      "--zgateBoundary42\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a_b.png\"\r\n"
      "Content-Type: image/png\r\n\r\n";
  want.append("\x89PNG", 4);
  want.push_back('\0');
  want.append("\r\n--zgateBoundary42--\r\n");
  CHECK(r.body == want);
}

TEST_CASE("zaiweb upload: the answer becomes a FileRef, and refusals explain guests cannot upload", "[unit][zaiweb]") {
  const UploadResult ok = parse_upload_response(200, "application/json",
      R"({"id":"f1","user_id":"u1","filename":"a.png","meta":{"name":"a.png","content_type":"image/png","size":1234,"cdn_url":"https://cdn/x"},"created_at":17})");
  REQUIRE(ok.ok);
  CHECK(ok.file.id == "f1");
  CHECK(ok.file.user_id == "u1");
  CHECK(ok.file.filename == "a.png");
  CHECK(ok.file.content_type == "image/png");
  CHECK(ok.file.size == 1234);
  CHECK(ok.file.cdn_url == "https://cdn/x");
  CHECK(ok.file.created_at == 17);
  const UploadResult guest_no = parse_upload_response(403, "application/json", R"({"detail":"Forbidden"})");
  REQUIRE_FALSE(guest_no.ok);
  CHECK(guest_no.error.message.find("Guests cannot upload images") != std::string::npos);
  CHECK_FALSE(parse_upload_response(200, "application/json", R"({"detail":"no"})").ok);
}

TEST_CASE("zaiweb upload: data URLs decode (base64 or percent-encoded) or fail clearly", "[unit][zaiweb]") {
  const DataUrlResult png = decode_data_url("data:image/png;base64,iVBORw0KGgo=");
  REQUIRE(png.ok);
  CHECK(png.value.content_type == "image/png");
  CHECK(png.value.bytes == std::string("\x89PNG\r\n\x1a\n", 8));
  const DataUrlResult text = decode_data_url("DATA:,a%20b");
  REQUIRE(text.ok);
  CHECK(text.value.content_type == "application/octet-stream");
  CHECK(text.value.bytes == "a b");
  const DataUrlResult bad = decode_data_url("data:image/png;base64,@@@");
  REQUIRE_FALSE(bad.ok);
  CHECK(bad.error.status == 400);
  CHECK(bad.error.message.find("base64") != std::string::npos);
  CHECK_FALSE(decode_data_url("https://x/y.png").ok);
  CHECK_FALSE(decode_data_url("data:image/png;base64").ok);
}
