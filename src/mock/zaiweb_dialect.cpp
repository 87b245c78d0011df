// The chat.z.ai web-frontend dialect of the mock upstream (specs/zai-web.md §2, §4, §5, §7,
// §11, §12). Pure: request bytes in, Plan out.
//
// Routes: GET / (landing page with the frontend version), GET|POST /api/v1/auths/[guest]
// (guest identities), POST /api/v1/chats/new, DELETE /api/v1/chats/[id], GET /api/models,
// POST /api/v1/files/ (multipart upload), POST /api/v2/chat/completions (signed) and the
// legacy POST /api/chat/completions.
//
// Completions check, in order: Origin/Referer (else the 405 WAF page), the Bearer token
// (a JWT whose payload has an id, not revoked; else 401), stream=true, X-FE-Version >= the
// minimum (else the inline 426 of T11), the signature when the mock has a secret (else 400
// "Signature validation failed", or the inline "client verification failed" when unsigned),
// the guest model allow-list (else T12), the per-token concurrency limit (else 429).
//
// Scenario: header `x-mock-scenario: NAME k=v ...` or `[scenario:NAME ...]` in the last user
// message. t01 ... t19 replay the §11 transcripts (t08 with the request's trigger), and
// split_surrogate sends "Earth 🌏!" with the emoji split into two lone surrogate escapes; plain,
// thinking, thinking_plain, tools, tool_result are generated from the request (the default
// picks one: a tool call when the prompt taught tools and the last turn is the user's, the
// tool result echoed after a <tool_response>, thinking when enable_thinking, else plain);
// err_426, err_verify, err_model_level, err_internal, err_top_level, err_captcha are inline
// errors; http_400_signature, http_401, http_405, http_429, http_500 are HTTP errors; revoke
// revokes the token (401 now and later); drop closes after `after` frames (default 2);
// require_precreate ends with INTERNAL_ERROR unless the chat id came from /api/v1/chats/new.
// Stream knobs (any scenario): delay_ms, first_ms, spaced=1 (2025 JSON), done_marker=1
// (a trailing [DONE]), hostile=1 (writes cut inside "data: " and UTF-8 sequences).
// Other headers: x-mock-fe-version (landing page), x-mock-min-fe (minimum accepted version);
// on /api/v1/auths/ the scenarios captcha and guest_refused; on uploads upload_guest_ok.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

#include "zgate/json/writer.hpp"
#include "zgate/mock/plan.hpp"
#include "zgate/mock/util.hpp"
#include "zgate/dialect/zaiweb/sign.hpp"

namespace zgate::mock {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kSse = "text/event-stream; charset=utf-8";
constexpr std::string_view kDefaultFe = "prod-fe-1.1.95";
constexpr std::string_view kDefaultMinFe = "prod-fe-1.0.0";


// ---------------------------------------------------------------------------------------
// Shared state: revoked tokens, pre-created chats, uploaded files.

struct ZaiState {
  std::mutex mutex;
  std::unordered_set<std::string> revoked;
  std::unordered_set<std::string> chats;
  std::unordered_map<std::string, std::string> files;  // file id -> owner id
};

std::mt19937_64& rng() {
  thread_local std::mt19937_64 r([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  return r;
}

std::string uuid4() {
  static constexpr char hex[] = "0123456789abcdef";
  const uint64_t a = rng()(), b = rng()();
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    const uint64_t w = i < 16 ? a : b;
    unsigned nib = static_cast<unsigned>((w >> ((i % 16) * 4)) & 0xF);
    if (i == 12) nib = 4;                 // version 4
    if (i == 16) nib = 8 | (nib & 3);     // variant 10xx
    s.push_back(hex[nib]);
  }
  return s;
}

simdjson::dom::parser& dom() {
  thread_local simdjson::dom::parser p;
  return p;
}

PlanPtr json_plan(int status, std::string body, const char* label) {
  return simple_plan(status, std::string(kJson), std::move(body), label);
}

PlanPtr detail_plan(int status, std::string_view detail, const char* label) {
  std::string body;
  json::Writer w(body);
  w.begin_object().kv("detail", detail).end_object();
  return json_plan(status, std::move(body), label);
}

PlanPtr waf_plan() {
  return simple_plan(405, "text/html; charset=utf-8",
                     "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>405</title></head><body><div>"
                     "<img src=\"https://errors.aliyun.com/images/TB1TpamHpXXXXaJXXXXeB7nYVXX-104-162.png\">"
                     "<h3>Sorry, your request has been blocked as it may cause potential threats to the server's "
                     "security.</h3><p>traceid: 0bc1a2d3e4f5mock</p></div></body></html>",
                     "waf");
}

// ---------------------------------------------------------------------------------------
// Identities: JWT-shaped tokens whose payload is {"id","email"} (§5). The mock does not
// check the ES256 signature, exactly like a proxy cannot.

struct Identity {
  bool ok = false;
  std::string token, id, email;
  bool guest = true;
};

std::string mint_token(std::string_view id, std::string_view email) {
  std::string payload;
  json::Writer w(payload);
  w.begin_object().kv("id", id).kv("email", email).end_object();
  std::string sig(64, '\0');
  for (auto& c : sig) c = static_cast<char>(rng()() & 0xFF);
  return base64url_encode(R"({"alg":"ES256","typ":"JWT"})") + "." + base64url_encode(payload) + "." +
         base64url_encode(sig);
}

Identity identity_of(std::string_view token) {
  Identity id;
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return id;
  const auto payload = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload) return id;
  simdjson::dom::object obj;
  if (dom().parse(*payload).get_object().get(obj) != simdjson::SUCCESS) return id;
  std::string_view s;
  if (obj["id"].get_string().get(s) != simdjson::SUCCESS || s.empty()) return id;
  id.id = std::string(s);
  if (obj["email"].get_string().get(s) == simdjson::SUCCESS) id.email = std::string(s);
  id.guest = id.email.empty() || id.email.rfind("Guest-", 0) == 0;
  id.token = std::string(token);
  id.ok = true;
  return id;
}

std::string_view bearer(const MockRequest& req) {
  std::string_view h = req.header("authorization");
  if (h.size() < 7 || !iequals(h.substr(0, 7), "bearer ")) return {};
  h.remove_prefix(7);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  return h;
}

// The caller's identity, or nullopt with `err` = the 401 to answer.
std::optional<Identity> authenticate(const MockRequest& req, MockContext& mc, PlanPtr& err) {
  const std::string_view token = bearer(req);
  Identity id = identity_of(token);
  if (!id.ok) {
    err = detail_plan(401, "Unauthorized", "auth");
    return std::nullopt;
  }
  ZaiState& st = mc.dialect_state<ZaiState>();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (st.revoked.count(id.token) > 0) {
    err = detail_plan(401, "Unauthorized", "revoked");
    return std::nullopt;
  }
  return id;
}

std::optional<Scenario> header_scenario(const MockRequest& req) {
  const std::string_view spec = req.header("x-mock-scenario");
  return spec.empty() ? std::nullopt : parse_scenario(spec);
}

// ---------------------------------------------------------------------------------------
// Frontend version

// {major, minor, patch} of "prod-fe-X.Y.Z"; nullopt when malformed.
std::optional<std::array<int, 3>> fe_version(std::string_view v) {
  if (v.rfind("prod-fe-", 0) != 0) return std::nullopt;
  v.remove_prefix(8);
  std::array<int, 3> out{};
  for (int i = 0; i < 3; ++i) {
    std::size_t n = 0;
    int x = 0;
    while (n < v.size() && v[n] >= '0' && v[n] <= '9' && n < 6) x = x * 10 + (v[n++] - '0');
    if (n == 0) return std::nullopt;
    out[static_cast<std::size_t>(i)] = x;
    v.remove_prefix(n);
    if (i < 2) {
      if (v.empty() || v.front() != '.') return std::nullopt;
      v.remove_prefix(1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Frames

std::string frame_delta(std::string_view phase, std::string_view text) {
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.kv("delta_content", text).kv("phase", phase).end_object().end_object();
  return out;
}

std::string frame_edit(std::string_view phase, int64_t index, std::string_view text) {
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.kv("phase", phase).kv("edit_index", index).kv("edit_content", text).end_object().end_object();
  return out;
}

std::string frame_usage(int64_t prompt, int64_t completion, int64_t cached = 0) {
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object().kv("phase", "other");
  w.key("usage").begin_object().kv("prompt_tokens", prompt).kv("completion_tokens", completion);
  w.kv("total_tokens", prompt + completion);
  w.key("prompt_tokens_details").begin_object().kv("cached_tokens", cached).end_object();
  w.end_object().end_object().end_object();
  return out;
}

std::string frame_done() { return R"({"type":"chat:completion","data":{"phase":"done","done":true}})"; }

// The real double-nested error shape (§7.8). `code_json` is a raw JSON value (426 or "X").
std::string frame_error(std::string_view detail, std::string_view code_json, std::string_view error_code = {}) {
  std::string err;
  json::Writer e(err);
  e.begin_object().kv("detail", detail).kv_raw("code", code_json);
  if (!error_code.empty()) e.kv("error_code", error_code);
  e.end_object();
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.key("data").begin_object().kv_raw("error", err).kv_bool("done", true).end_object();
  w.kv_raw("error", err).kv_bool("done", true).end_object().end_object();
  return out;
}

// 2025-style spacing: ", " and ": " outside strings.
std::string spaced(std::string_view compact) {
  std::string out;
  out.reserve(compact.size() + compact.size() / 8);
  bool in_str = false, esc = false;
  for (const char c : compact) {
    out.push_back(c);
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == ',' || c == ':') out.push_back(' ');
  }
  return out;
}

// The transcripts of specs/zai-web.md §11, payload by payload (compact or spaced JSON as there).
struct Transcript {
  std::string_view name;
  std::vector<std::string_view> payloads;
};
const std::vector<Transcript>& transcripts() {
  static const std::vector<Transcript> all = {
      {"t01",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"Hello","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"! How can I","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":" help you today?","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"other","usage":{"prompt_tokens":18,"completion_tokens":9,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":0}}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true}})zw",
       }},
      {"t02",
       {
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "你好"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "！有什么可以帮你？"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "", "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17}}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "done", "done": true, "delta_content": "", "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17}}})zw",
       }},
      {"t03",
       {
           R"zw({"type": "chat:completion", "data": {"phase": "thinking", "delta_content": "<details type=\"reasoning\" done=\"false\">\n> The user asks"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "thinking", "delta_content": " for 2+2."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "thinking", "delta_content": "\n> Simple arithmetic."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "edit_index": 0, "edit_content": "<details type=\"reasoning\" done=\"true\" duration=\"1\">\n<summary>Thought for 1 seconds</summary>\n> The user asks for 2+2.\n> Simple arithmetic.\n</details>\n2 + 2 = "}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "4"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "other", "usage": {"prompt_tokens": 15, "completion_tokens": 38, "total_tokens": 53}}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "done", "done": true}})zw",
       }},
      {"t04",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"The user greets me.","phase":"thinking"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":" Reply briefly and friendly.","phase":"thinking"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"Hi there! Anything","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":" I can do for you","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"other","usage":{"prompt_tokens":1921,"completion_tokens":57,"total_tokens":1978,"prompt_tokens_details":{"cached_tokens":640}}}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"?","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true}})zw",
       }},
      {"t05",
       {
           R"zw({"type": "chat:completion", "data": {"phase": "thinking", "delta_content": "<details type=\"reasoning\" done=\"false\">\n<summary>Thinking…</summary>\n> First"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "thinking", "delta_content": " line.\n"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "thinking", "delta_content": "> Second"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "thinking", "delta_content": " line."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "edit_index": 0, "edit_content": "<details type=\"reasoning\" done=\"true\" duration=\"2\">\n<summary>Thought for 2 seconds</summary>\n> First line.\n> Second line.\n</details>\n"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "Done."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "done", "done": true, "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50}}})zw",
       }},
      {"t06",
       {
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "I'll look up"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": " the weather."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "tool_call", "edit_index": 25, "edit_content": "\n\n<glm_block >{\"type\": \"mcp\", \"data\": {\"metadata\": {\"id\": \"call_k3v9q2x7\", \"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\":\\\"Par"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "tool_call", "edit_index": 152, "edit_content": "is\\\"}\", \"result\": \"\", \"display_result\": \"\", \"duration\": \"...\", \"status\": \"completed\", \"is_error\": false, \"mcp_server\": {\"name\": \"mcp-server\"}}, \"thought\": null, \"ppt\": null, \"browser\": null}}</glm_block>"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "other", "edit_index": 170, "edit_content": "null, \"display_result\": \"\", \"duration\": \"...\", \"status\": \"completed\", \"is_error\": false, \"mcp_server\": {\"name\": \"mcp-server\"}}, \"thought\": null, \"ppt\": null, \"browser\": null}}</glm_block>", "usage": {"prompt_tokens": 312, "completion_tokens": 41, "total_tokens": 353}}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "done", "done": true, "delta_content": "", "edit_content": ""}})zw",
       }},
      {"t07",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"Need fresh news; search first.","phase":"thinking"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"other","usage":{"prompt_tokens":1900,"completion_tokens":40,"total_tokens":1940,"prompt_tokens_details":{"cached_tokens":600}}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"tool_call","delta_name":"search","delta_arguments":"{\"search_query\"","metadata":{"tool_call_id":"call_5e1f0c7a9b2d4e61","type":"function"}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"tool_call","delta_arguments":":[{\"q\":\"Mars rover clay d","metadata":{"type":"function"}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"tool_call","delta_arguments":"iscovery\",\"recency\":7}]}","metadata":{"type":"function"}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"tool_response","tool_name":"search","status":"completed","delta_content":"[ref_id=turn0search0†Rover finds clay deposits†https://news.example.org/rover-clay]\nDate: 2026-09-14\nThe rover detected clay minerals near the crater rim.\n\n[ref_id=turn0search1†Mission blog†https://blog.example.net/mission]\nDate: 2026-09-13\nTeam notes on the new drill site.","metadata":{"tool_call_id":"call_5e1f0c7a9b2d4e61","browser":{"session_id":"call_5e1f0c7a9b2d4e61","turn_count":1}}}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"Two sources agree; cite the news one.","phase":"thinking"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"The rover found clay minerals near the crater rim","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"【turn0search0】.","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"other","usage":{"prompt_tokens":3650,"completion_tokens":95,"total_tokens":3745,"prompt_tokens_details":{"cached_tokens":1900}}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true}})zw",
       }},
      {"t08",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"<Function_Xk9","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"Q_Start/>\n<function_calls>\n  <function_call>\n    <tool>get_weather</tool>\n","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"    <args_json><![CDATA[{\"city\": \"Paris\"}]]></args_json>\n  </function_call>\n</function_calls>","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"other","usage":{"prompt_tokens":850,"completion_tokens":44,"total_tokens":894}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true}})zw",
       }},
      {"t09",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"```json\n{\"tool_calls\": [{\"id\": \"call_w1\", \"type\": \"function\", ","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"\"function\": {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}}]}\n```","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true,"usage":{"prompt_tokens":640,"completion_tokens":39,"total_tokens":679}}})zw",
       }},
      {"t10",
       {
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "Let me search."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "tool_call", "edit_index": 14, "edit_content": "\n\n<glm_block >{\"type\": \"mcp\", \"data\": {\"metadata\": {\"id\": \"call_q7w2e9r4t1\", \"name\": \"search\", \"arguments\": \"{\\\"queries\\\":[\\\"mars rover clay\\\"]}\", \"result\": \"【0†Rover finds clay deposits†https://news.example.org/rover-clay】\\nThe rover detected clay minerals.\", \"display_result\": \"\", \"duration\": \"2s\", \"status\": \"completed\", \"is_error\": false, \"mcp_server\": {\"name\": \"mcp-server\"}}, \"thought\": null, \"ppt\": null, \"browser\": null}}</glm_block>"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "other", "edit_index": 455, "edit_content": "\n\n"}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "answer", "delta_content": "Clay minerals were found【turn0search0】."}})zw",
           R"zw({"type": "chat:completion", "data": {"phase": "done", "done": true, "usage": {"prompt_tokens": 2100, "completion_tokens": 120, "total_tokens": 2220}}})zw",
       }},
      {"t11",
       {
           R"zw({"type": "chat:completion", "data": {"data": {"error": {"detail": "Your client version (unknown) is outdated. Minimum required: 1.0.0. Please refresh the page", "code": 426}, "done": true}, "error": {"detail": "Your client version (unknown) is outdated. Minimum required: 1.0.0. Please refresh the page", "code": 426}, "done": true}})zw",
       }},
      {"t12",
       {
           R"zw({"type": "chat:completion", "data": {"data": {"error": {"detail": "Model not available for current user level", "code": 403}, "done": true}, "error": {"detail": "Model not available for current user level", "code": 403}, "done": true}})zw",
       }},
      {"t13",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"The capital of","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":" France is","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"data":{"error":{"detail":"Internal server error, please retry","code":"INTERNAL_ERROR"},"done":true},"error":{"detail":"Internal server error, please retry","code":"INTERNAL_ERROR"},"done":true}})zw",
       }},
      {"t14",
       {
           R"zw({"error": {"detail": "Unauthorized", "code": 401}})zw",
       }},
      {"t15",
       {
           R"zw({"type":"chat:completion","data":{"data":{"error":{"detail":"请完成人机验证后重试","code":403,"error_code":"FRONTEND_CAPTCHA_REQUIRED"},"done":true},"error":{"detail":"请完成人机验证后重试","code":403,"error_code":"FRONTEND_CAPTCHA_REQUIRED"},"done":true}})zw",
       }},
      {"t16",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"Partial answer that never","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":" fin","phase":"answer"}})zw",
       }},
      {"t17",
       {
           R"zw({"type":"chat:completion","data":{"phase":"thinking","delta_content":"<details type=\"reasoning\" done=\"false\">\n> Plan the reply"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"answer","delta_content":"OK.\n<details type=\"reasoning\" done=\"true\">\n> Plan the"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"answer","delta_content":" reply\n</details>\nHere is the"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"answer","delta_content":" result."}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true}})zw",
       }},
      {"t18",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"I need to read the file first.","phase":"thinking"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"tool_call","delta_name":"read_file","delta_arguments":"{\"path\":\"","metadata":{"tool_call_id":"call_9f2c1e7d3b5a4860","type":"function"}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"tool_call","delta_arguments":"src/main.cpp\"}","metadata":{"type":"function"}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"other","usage":{"prompt_tokens":1200,"completion_tokens":35,"total_tokens":1235}}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true}})zw",
       }},
      // Not in §11: a character outside the BMP (U+1F30F) split between two deltas as lone
      // surrogate escapes, as tokenizers do; the gateway must answer "Earth 🌏!".
      {"split_surrogate",
       {
           R"zw({"type":"chat:completion","data":{"delta_content":"Earth \ud83c","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"delta_content":"\udf0f!","phase":"answer"}})zw",
           R"zw({"type":"chat:completion","data":{"phase":"done","done":true}})zw",
       }},
  };
  return all;
}

// ---------------------------------------------------------------------------------------
// The chat request as the mock needs it

struct ToolSpec {
  std::string name, args;
};

struct ChatReq {
  std::string model, signature_prompt, chat_id, last_user_text, system_text, trigger;
  bool stream = false, thinking = false, has_signature_prompt = false, tool_result_last = false;
  std::vector<ToolSpec> tools;
  std::size_t body_size = 0;
};

void append_text(simdjson::dom::element content, std::string& out) {
  std::string_view s;
  if (content.get_string().get(s) == simdjson::SUCCESS) {
    out.append(s);
    return;
  }
  simdjson::dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) return;
  bool first = true;
  for (simdjson::dom::element p : parts) {
    if (p["text"].get_string().get(s) != simdjson::SUCCESS) continue;
    if (!first) out.push_back('\n');
    out.append(s);
    first = false;
  }
}

// Plausible arguments for a JSON schema: required properties (or all), by type and name.
std::string args_for_schema(std::string_view schema) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  simdjson::dom::element root;
  simdjson::dom::object props;
  if (dom().parse(schema).get(root) == simdjson::SUCCESS && root["properties"].get_object().get(props) == simdjson::SUCCESS) {
    std::vector<std::string_view> required;
    simdjson::dom::array req;
    if (root["required"].get_array().get(req) == simdjson::SUCCESS) {
      for (simdjson::dom::element r : req) {
        std::string_view s;
        if (r.get_string().get(s) == simdjson::SUCCESS) required.push_back(s);
      }
    }
    int n = 0;
    for (const auto field : props) {
      const std::string_view name = field.key;
      if (!required.empty() && std::find(required.begin(), required.end(), name) == required.end()) continue;
      if (++n > 8) break;
      std::string_view type;
      if (field.value["type"].get_string().get(type) != simdjson::SUCCESS) type = "string";
      simdjson::dom::array en;
      w.key_escaped(name);
      if (field.value["enum"].get_array().get(en) == simdjson::SUCCESS && en.size() > 0) {
        w.raw(simdjson::minify(en.at(0).value_unsafe()));
      } else if (type == "integer" || type == "number") {
        w.number(int64_t{2});
      } else if (type == "boolean") {
        w.boolean(true);
      } else if (type == "array") {
        w.raw("[]");
      } else if (type == "object") {
        w.raw("{}");
      } else if (name.find("city") != std::string_view::npos || name.find("location") != std::string_view::npos) {
        w.string("Paris");
      } else if (name.find("path") != std::string_view::npos || name.find("file") != std::string_view::npos) {
        w.string("src/main.cpp");
      } else {
        w.string("example");
      }
    }
  }
  w.end_object();
  return out;
}

// The tool protocol zgate injects (dialect/zaiweb/tools.hpp): the trigger, and per tool
// "## NAME" followed by "Arguments (JSON Schema): {...}".
void read_tool_prompt(ChatReq& r) {
  const std::string& s = r.system_text;
  const std::size_t t = s.find("<Function_");
  if (t != std::string::npos) {
    const std::size_t e = s.find("_Start/>", t);
    if (e != std::string::npos && e - t < 64) r.trigger = s.substr(t, e + 8 - t);
  }
  std::size_t p = 0;
  while ((p = s.find("\n## ", p)) != std::string::npos) {
    p += 4;
    const std::size_t eol = s.find('\n', p);
    ToolSpec tool;
    tool.name = s.substr(p, eol == std::string::npos ? std::string::npos : eol - p);
    const std::size_t next = s.find("\n## ", p);
    const std::size_t a = s.find("Arguments (JSON Schema): ", p);
    if (a != std::string::npos && (next == std::string::npos || a < next)) {
      const std::size_t b = a + 25;
      const std::size_t ae = s.find('\n', b);
      tool.args = args_for_schema(std::string_view(s).substr(b, ae == std::string::npos ? std::string::npos : ae - b));
    } else {
      tool.args = "{}";
    }
    if (!tool.name.empty() && tool.name.find(' ') == std::string::npos) r.tools.push_back(std::move(tool));
  }
}

bool parse_chat(const MockRequest& req, ChatReq& r) {
  r.body_size = req.body.size();
  simdjson::dom::object root;
  if (dom().parse(req.body.data(), req.body.size()).get_object().get(root) != simdjson::SUCCESS) return false;
  std::string_view s;
  if (root["model"].get_string().get(s) == simdjson::SUCCESS) r.model = std::string(s);
  bool b = false;
  if (root["stream"].get_bool().get(b) == simdjson::SUCCESS) r.stream = b;
  if (root["features"]["enable_thinking"].get_bool().get(b) == simdjson::SUCCESS) r.thinking = b;
  if (root["signature_prompt"].get_string().get(s) == simdjson::SUCCESS) {
    r.signature_prompt = std::string(s);
    r.has_signature_prompt = true;
  }
  if (root["chat_id"].get_string().get(s) == simdjson::SUCCESS) r.chat_id = std::string(s);
  simdjson::dom::array msgs;
  if (root["messages"].get_array().get(msgs) == simdjson::SUCCESS) {
    std::string_view last_role;
    for (simdjson::dom::element m : msgs) {
      std::string_view role;
      if (m["role"].get_string().get(role) != simdjson::SUCCESS) continue;
      simdjson::dom::element content;
      if (m["content"].get(content) != simdjson::SUCCESS) continue;
      if (role == "system") {
        if (!r.system_text.empty()) r.system_text.push_back('\n');
        append_text(content, r.system_text);
      } else if (role == "user") {
        r.last_user_text.clear();
        append_text(content, r.last_user_text);
      }
      last_role = role;
    }
    r.tool_result_last = last_role == "user" && r.last_user_text.find("<tool_response") != std::string::npos;
  }
  read_tool_prompt(r);
  return true;
}

// ---------------------------------------------------------------------------------------
// Answers

struct Answer {
  std::vector<std::string> payloads;
  End end = End::complete;
};

int64_t tokens(std::size_t bytes) { return std::max<int64_t>(1, static_cast<int64_t>(bytes / 4)); }

std::string echo_text(const ChatReq& r) {
  std::string s = "Hello from zgate-mock!";
  if (!r.last_user_text.empty()) {
    s += " You said: ";
    s += utf8_prefix(r.last_user_text, 200);
  }
  return s;
}

std::string reasoning_text(const ChatReq& r) {
  std::string s = "The user wrote \"";
  s += utf8_prefix(r.last_user_text, 60);
  s += "\".\nA short friendly reply fits.";
  return s;
}

Answer plain_answer(const ChatReq& r, std::string_view text, std::size_t chunks) {
  Answer a;
  for (auto piece : split_pieces(text, chunks)) a.payloads.push_back(frame_delta("answer", piece));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(text.size())));
  a.payloads.push_back(frame_done());
  return a;
}

// Open-WebUI thinking (T03 shape): a <details> block streamed in pieces, then the answer
// transition that re-sends the closed block plus the first answer text, then the rest.
Answer details_answer(const ChatReq& r, std::string_view reasoning, std::string_view text, std::size_t chunks) {
  Answer a;
  std::string quoted = "> ";
  for (const char c : reasoning) {
    quoted.push_back(c);
    if (c == '\n') quoted.append("> ");
  }
  const std::string open = "<details type=\"reasoning\" done=\"false\">\n" + quoted;
  for (auto piece : split_pieces(open, 4)) a.payloads.push_back(frame_delta("thinking", piece));
  const auto pieces = split_pieces(text, chunks);
  std::string closed =
      "<details type=\"reasoning\" done=\"true\" duration=\"1\">\n<summary>Thought for 1 seconds</summary>\n" + quoted +
      "\n</details>\n";
  if (!pieces.empty()) closed.append(pieces.front());
  a.payloads.push_back(frame_edit("answer", 0, closed));
  for (std::size_t i = 1; i < pieces.size(); ++i) a.payloads.push_back(frame_delta("answer", pieces[i]));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(reasoning.size() + text.size())));
  a.payloads.push_back(frame_done());
  return a;
}

// 2026 plain thinking (T04 shape), usage before the last answer delta.
Answer plain_thinking_answer(const ChatReq& r, std::string_view reasoning, std::string_view text, std::size_t chunks) {
  Answer a;
  for (auto piece : split_pieces(reasoning, 3)) a.payloads.push_back(frame_delta("thinking", piece));
  const auto pieces = split_pieces(text, std::max<std::size_t>(2, chunks));
  for (std::size_t i = 0; i + 1 < pieces.size(); ++i) a.payloads.push_back(frame_delta("answer", pieces[i]));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(reasoning.size() + text.size()), 0));
  if (!pieces.empty()) a.payloads.push_back(frame_delta("answer", pieces.back()));
  a.payloads.push_back(frame_done());
  return a;
}

// A call in the injected format (T08 shape), the trigger cut across two deltas.
Answer tool_answer(const ChatReq& r) {
  const ToolSpec tool = r.tools.empty() ? ToolSpec{"get_weather", R"({"city": "Paris"})"} : r.tools.front();
  const std::string trigger = r.trigger.empty() ? std::string("<Function_mock_Start/>") : r.trigger;
  const std::string text = trigger + "\n<function_calls>\n  <function_call>\n    <tool>" + tool.name +
                           "</tool>\n    <args_json><![CDATA[" + tool.args +
                           "]]></args_json>\n  </function_call>\n</function_calls>";
  Answer a;
  const std::size_t cut1 = std::min<std::size_t>(12, trigger.size() - 1);
  const std::size_t cut2 = text.find("<args_json>");
  a.payloads.push_back(frame_delta("answer", std::string_view(text).substr(0, cut1)));
  a.payloads.push_back(frame_delta("answer", std::string_view(text).substr(cut1, cut2 - cut1)));
  a.payloads.push_back(frame_delta("answer", std::string_view(text).substr(cut2)));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(text.size())));
  a.payloads.push_back(frame_done());
  return a;
}

std::string tool_result_text(const ChatReq& r) {
  std::string_view t = r.last_user_text;
  const std::size_t open = t.find("<tool_response");
  std::size_t gt = t.find('>', open);
  std::size_t close = t.find("</tool_response>", gt);
  std::string_view inner = gt == std::string_view::npos ? t : t.substr(gt + 1, close == std::string_view::npos ? std::string_view::npos : close - gt - 1);
  while (!inner.empty() && (inner.front() == '\n' || inner.front() == ' ')) inner.remove_prefix(1);
  while (!inner.empty() && (inner.back() == '\n' || inner.back() == ' ')) inner.remove_suffix(1);
  std::string s = "The tool returned: ";
  s += utf8_prefix(inner, 200);
  s += ". That settles it.";
  return s;
}

// ---------------------------------------------------------------------------------------
// Plans

struct StreamKnobs {
  Millis delay{0}, first{0};
  bool spaced = false, done_marker = false, hostile = false;
};

StreamKnobs knobs(const Scenario* sc, const MockContext& mc) {
  StreamKnobs k;
  k.delay = mc.options().default_delay;
  if (sc == nullptr) return k;
  k.delay = Millis{std::max<int64_t>(0, sc->param_int("delay_ms", k.delay.count()))};
  k.first = Millis{std::max<int64_t>(0, sc->param_int("first_ms", 0))};
  k.spaced = sc->param_int("spaced", 0) != 0;
  k.done_marker = sc->param_int("done_marker", 0) != 0;
  k.hostile = sc->param_int("hostile", 0) != 0;
  return k;
}

std::shared_ptr<Plan> sse_plan(const char* label) {
  auto p = std::make_shared<Plan>();
  p->label = label;
  p->chunked = true;
  p->headers.emplace_back("Content-Type", std::string(kSse));
  p->headers.emplace_back("Cache-Control", "no-cache");
  return p;
}

// One SSE event per payload, one write per event (or hostile cuts), delays between writes.
std::shared_ptr<Plan> stream_plan(const Answer& a, const StreamKnobs& k, const char* label) {
  auto p = sse_plan(label);
  std::vector<std::string> events;
  events.reserve(a.payloads.size() + 1);
  for (const auto& pl : a.payloads) {
    std::string ev;
    append_sse(ev, k.spaced ? spaced(pl) : pl);
    events.push_back(std::move(ev));
  }
  if (k.done_marker && a.end == End::complete) events.emplace_back("data: [DONE]\n\n");
  if (k.hostile) {
    std::string all;
    for (const auto& e : events) all += e;
    append_hostile_steps(p->steps, all, k.delay);
    if (!p->steps.empty()) p->steps.front().delay = k.first;
  } else {
    for (auto& e : events) p->steps.push_back(Step{p->steps.empty() ? k.first : k.delay, std::move(e)});
  }
  p->end = a.end;
  return p;
}

// T19: T01 again with every framing variation of §11 (CRLF, "data:" without a space, a
// comment, blank lines, a non-JSON line, a hidden 200 KB frame, the done frame written in
// three pieces cut inside 你好, a trailing [DONE]).
std::shared_ptr<Plan> framing_plan(const StreamKnobs& k) {
  auto p = sse_plan("t19");
  std::vector<std::string> w;
  w.push_back("data: " + frame_delta("answer", "Hello") + "\r\n\r\n: keepalive\r\n\r\n");
  w.push_back("data:" + frame_delta("answer", "! How can I") + "\r\n\r\n\r\n");
  w.push_back("data: this is not json\r\n\r\n");
  w.push_back("data: " + frame_delta("answer", " help you today?") + "\r\n\r\n");
  w.push_back("data: " + frame_delta("tool_response", std::string(200 * 1024, 'x')) + "\r\n\r\n");
  w.push_back("data: " + frame_usage(18, 9) + "\r\n\r\n");
  const std::string done =
      "data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"done\",\"done\":true,\"note\":\"你好\"}}\r\n\r\n";
  const std::size_t ni = done.find("你");
  w.push_back(done.substr(0, ni + 1));
  w.push_back(done.substr(ni + 1, 4));  // rest of 你 + first byte of 好
  w.push_back(done.substr(ni + 5));
  w.push_back("data: [DONE]\r\n\r\n");
  for (auto& s : w) p->steps.push_back(Step{p->steps.empty() ? k.first : k.delay, std::move(s)});
  return p;
}

const Transcript* find_transcript(std::string_view name) {
  for (const auto& t : transcripts())
    if (t.name == name) return &t;
  return nullptr;
}

Answer replay(const Transcript& t, const ChatReq& r) {
  Answer a;
  for (auto pl : t.payloads) {
    std::string s(pl);
    if (t.name == "t08" && !r.trigger.empty()) {
      // The transcript's trigger is cut after "<Function_Xk9"; keep a cut inside the request's.
      if (const auto at = s.find("<Function_Xk9"); at != std::string::npos) {
        s.replace(at, 13, r.trigger.substr(0, std::min<std::size_t>(13, r.trigger.size() - 1)));
      } else if (const auto at2 = s.find("Q_Start/>"); at2 != std::string::npos) {
        s.replace(at2, 9, r.trigger.substr(std::min<std::size_t>(13, r.trigger.size() - 1)));
      }
    }
    a.payloads.push_back(std::move(s));
  }
  if (t.name == "t16") a.end = End::close_abruptly;
  return a;
}

// ---------------------------------------------------------------------------------------
// Handlers

PlanPtr handle_landing(const MockRequest& req, MockContext&) {
  std::string_view v = req.header("x-mock-fe-version");
  if (v.empty()) v = kDefaultFe;
  std::string html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Z.ai Chat</title>";
  html += "<link rel=\"modulepreload\" href=\"/_app/";
  html += v;
  html += "/immutable/entry/start.js\"></head><body><div id=\"app\"></div></body></html>";
  return simple_plan(200, "text/html; charset=utf-8", std::move(html), "landing");
}

PlanPtr handle_models(const MockRequest&, MockContext&) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kModels{{
      {"0727-360B-API", "GLM-4.5"}, {"0727-106B-API", "GLM-4.5-Air"}, {"glm-4.5v", "GLM-4.5V"},
      {"GLM-4-6-API-V1", "GLM-4.6"}, {"glm-4.6v", "GLM-4.6V"}, {"glm-4.7", "GLM-4.7"}, {"glm-5", "GLM-5"},
      {"GLM-5-Turbo", "GLM-5-Turbo"}, {"x-preview-l", "GLM-5.3-Flash"}}};
  std::string body;
  json::Writer w(body);
  w.begin_object().key("data").begin_array();
  for (const auto& [id, name] : kModels) {
    w.begin_object().kv("id", id).kv("name", name).kv("owned_by", "openai");
    w.key("info").begin_object().key("meta").begin_object().key("capabilities").begin_object();
    w.kv_bool("vision", id.find('v') != std::string_view::npos && id.find("API") == std::string_view::npos);
    w.kv_bool("think", true).kv_bool("web_search", true);
    w.end_object().end_object().end_object().end_object();
  }
  w.end_array().end_object();
  return json_plan(200, std::move(body), "models");
}

PlanPtr auths(const MockRequest& req, MockContext& mc) {
  if (auto sc = header_scenario(req)) {
    if (sc->name == "captcha")
      return json_plan(200, R"({"detail":"请完成人机验证后重试","error_code":"FRONTEND_CAPTCHA_REQUIRED"})", "captcha");
    if (sc->name == "guest_refused") return detail_plan(403, "Guest access is disabled", "guest_refused");
    if (sc->name == "http_405") return waf_plan();
  }
  Identity id;
  if (!bearer(req).empty()) {
    PlanPtr err;
    auto who = authenticate(req, mc, err);
    if (!who) return err;
    id = std::move(*who);
  } else {
    // A new guest per call (§5).
    id.id = uuid4();
    id.email = "Guest-" + std::to_string(unix_millis()) + "@guest.com";
    id.guest = true;
    id.token = mint_token(id.id, id.email);
  }
  std::string body;
  json::Writer w(body);
  w.begin_object().kv("id", id.id).kv("email", id.email).kv("name", id.guest ? "Guest" : "User");
  w.kv("role", id.guest ? "guest" : "user").kv("token", id.token).kv("token_type", "Bearer");
  w.end_object();
  return json_plan(200, std::move(body), "auths");
}

PlanPtr upload(const MockRequest& req, MockContext& mc) {
  PlanPtr err;
  auto who = authenticate(req, mc, err);
  if (!who) return err;
  const auto sc = header_scenario(req);
  if (who->guest && !(sc && sc->name == "upload_guest_ok")) {
    return detail_plan(403, "Guests cannot upload files, please sign in", "upload_guest");
  }
  const std::string_view ct = req.header("content-type");
  const std::size_t bpos = ct.find("boundary=");
  if (bpos == std::string_view::npos) return detail_plan(400, "multipart/form-data with a boundary expected", "upload");
  std::string_view boundary = ct.substr(bpos + 9);
  if (!boundary.empty() && boundary.front() == '"') boundary = boundary.substr(1, boundary.find('"', 1) - 1);
  const std::string delim = "--" + std::string(boundary);
  const std::string_view body = req.body;
  const std::size_t part = body.find(delim);
  const std::size_t disp = body.find("name=\"file\"", part);
  const std::size_t head_end = body.find("\r\n\r\n", disp);
  if (part == std::string_view::npos || disp == std::string_view::npos || head_end == std::string_view::npos)
    return detail_plan(400, "no file field", "upload");
  const std::string_view head = body.substr(part, head_end - part);
  std::string_view filename = "file";
  if (const auto f = head.find("filename=\""); f != std::string_view::npos) {
    filename = head.substr(f + 10, head.find('"', f + 10) - f - 10);
  }
  std::string_view ctype = "application/octet-stream";
  if (const auto c = head.find("Content-Type: "); c != std::string_view::npos) {
    ctype = head.substr(c + 14, head.find("\r\n", c) == std::string_view::npos ? std::string_view::npos
                                                                                : head.find("\r\n", c) - c - 14);
  }
  const std::size_t data = head_end + 4;
  const std::size_t end = body.find("\r\n" + delim, data);
  if (end == std::string_view::npos) return detail_plan(400, "unterminated multipart body", "upload");
  const std::string fid = uuid4();
  {
    ZaiState& st = mc.dialect_state<ZaiState>();
    std::lock_guard<std::mutex> lock(st.mutex);
    st.files[fid] = who->id;
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("id", fid).kv("user_id", who->id).key("hash").null().kv("filename", filename);
  w.key("data").begin_object().end_object();
  w.key("meta").begin_object().kv("name", filename).kv("content_type", ctype);
  w.kv("size", static_cast<int64_t>(end - data)).kv("cdn_url", "https://cdn.mock.invalid/" + fid).end_object();
  w.kv("created_at", unix_seconds()).kv("updated_at", unix_seconds()).end_object();
  return json_plan(200, std::move(out), "upload");
}

PlanPtr new_chat(const MockRequest& req, MockContext& mc) {
  PlanPtr err;
  auto who = authenticate(req, mc, err);
  if (!who) return err;
  simdjson::dom::element chat;
  std::string echo = "{}";
  if (dom().parse(req.body.data(), req.body.size()).get(chat) == simdjson::SUCCESS) {
    simdjson::dom::element inner;
    if (chat["chat"].get(inner) == simdjson::SUCCESS) echo = simdjson::minify(inner);
  }
  const std::string id = uuid4();
  {
    ZaiState& st = mc.dialect_state<ZaiState>();
    std::lock_guard<std::mutex> lock(st.mutex);
    st.chats.insert(id);
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("id", id).kv("user_id", who->id).kv("title", "新聊天").kv_raw("chat", echo);
  w.kv("created_at", unix_seconds()).end_object();
  return json_plan(200, std::move(out), "chats_new");
}

PlanPtr handle_v1(const MockRequest& req, MockContext& mc) {
  const std::string_view path = req.path();
  if (path == "/api/v1/auths/" || path == "/api/v1/auths" || path == "/api/v1/auths/guest") {
    if (req.method != "GET" && req.method != "POST") return detail_plan(405, "Method Not Allowed", "method");
    return auths(req, mc);
  }
  if (path == "/api/v1/files/" || path == "/api/v1/files") {
    if (req.method != "POST") return detail_plan(405, "Method Not Allowed", "method");
    return upload(req, mc);
  }
  if (path == "/api/v1/chats/new") {
    if (req.method != "POST") return detail_plan(405, "Method Not Allowed", "method");
    return new_chat(req, mc);
  }
  if (path.rfind("/api/v1/chats/", 0) == 0 && req.method == "DELETE") {
    PlanPtr err;
    if (!authenticate(req, mc, err)) return err;
    return json_plan(200, "true", "chats_delete");
  }
  return detail_plan(404, "Not Found", "not_found");
}

// Inline and HTTP-level error scenarios; nullptr for other names.
PlanPtr error_scenario(const Scenario& sc, const StreamKnobs& k) {
  const std::string& n = sc.name;
  const char* label = "";
  std::string payload;
  if (n == "err_426" || n == "t11") {
    payload = std::string(find_transcript("t11")->payloads.front());
    label = "err_426";
  } else if (n == "err_verify") {
    payload = frame_error("您的客户端校验失败", "426");
    label = "err_verify";
  } else if (n == "err_model_level" || n == "t12") {
    payload = std::string(find_transcript("t12")->payloads.front());
    label = "err_model_level";
  } else if (n == "err_top_level" || n == "t14") {
    payload = std::string(find_transcript("t14")->payloads.front());
    label = "err_top_level";
  } else if (n == "err_captcha" || n == "t15") {
    payload = std::string(find_transcript("t15")->payloads.front());
    label = "err_captcha";
  }
  if (!payload.empty()) {
    Answer a;
    a.payloads.push_back(std::move(payload));
    return stream_plan(a, k, label);
  }
  if (n == "http_400_signature") return detail_plan(400, "403: Signature validation failed: 签名验证失败", "http_400_signature");
  if (n == "http_401") return detail_plan(401, "Unauthorized", "http_401");
  if (n == "http_405") return waf_plan();
  if (n == "http_429") return detail_plan(429, "Too many concurrent requests", "http_429");
  if (n == "http_500") return simple_plan(500, "text/plain", "Internal Server Error", "http_500");
  return nullptr;
}

bool guest_blocked_model(std::string_view model) {
  // Since May 2026 guests get GLM-5 and later only with a login (§6.4).
  std::string m(model);
  for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return m.rfind("glm-5", 0) == 0 || m.rfind("x-preview", 0) == 0;
}

PlanPtr handle_completions(const MockRequest& req, MockContext& mc) {
  if (req.method != "POST") return detail_plan(405, "Method Not Allowed", "method");
  // The WAF answers incomplete browser requests with its HTML block page (§10 #3).
  if (!req.has_header("origin") || !req.has_header("referer")) return waf_plan();

  std::optional<Scenario> sc = header_scenario(req);
  StreamKnobs k = knobs(sc ? &*sc : nullptr, mc);
  if (sc && sc->name.rfind("http_", 0) == 0) {
    if (PlanPtr p = error_scenario(*sc, k)) return p;
  }

  PlanPtr err;
  auto who = authenticate(req, mc, err);
  if (!who) return err;

  ChatReq r;
  if (!parse_chat(req, r)) return detail_plan(400, "Invalid JSON body", "bad_json");
  if (!r.stream) return detail_plan(400, "stream must be true", "not_stream");
  if (!sc) {
    sc = find_scenario_marker(r.last_user_text);
    k = knobs(sc ? &*sc : nullptr, mc);
    if (sc && sc->name.rfind("http_", 0) == 0) {
      if (PlanPtr p = error_scenario(*sc, k)) return p;
    }
  }
  if (sc && sc->name == "revoke") {
    ZaiState& st = mc.dialect_state<ZaiState>();
    std::lock_guard<std::mutex> lock(st.mutex);
    st.revoked.insert(who->token);
    return detail_plan(401, "Unauthorized", "revoke");
  }

  // X-FE-Version (§3): a missing or stale version gets the inline 426 of T11.
  std::string_view min_fe = req.header("x-mock-min-fe");
  if (min_fe.empty()) min_fe = kDefaultMinFe;
  const auto have = fe_version(req.header("x-fe-version"));
  const auto need = fe_version(min_fe);
  if (!have || (need && *have < *need)) {
    Answer a;
    a.payloads.emplace_back(find_transcript("t11")->payloads.front());
    return stream_plan(a, k, "fe_version");
  }

  // Signing (§4), when the mock knows the secret.
  const std::string& secret = mc.options().zai_signing_secret;
  if (!secret.empty()) {
    const std::string_view sig = req.header("x-signature");
    if (sig.empty() || req.path() != "/api/v2/chat/completions") {
      Answer a;
      a.payloads.push_back(frame_error("您的客户端校验失败", "426"));
      return stream_plan(a, k, "unsigned");
    }
    const std::string ts = zaiweb::query_param(req.query(), "timestamp");
    const std::string sts = zaiweb::query_param(req.query(), "signature_timestamp");
    const std::string rid = zaiweb::query_param(req.query(), "requestId");
    const std::string uid = zaiweb::query_param(req.query(), "user_id");
    int64_t t = 0;
    const bool ts_ok = !ts.empty() && ts == sts && std::all_of(ts.begin(), ts.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                       ts.size() < 18;
    if (ts_ok) t = std::stoll(ts);
    if (!ts_ok || rid.empty() || uid != who->id || !r.has_signature_prompt ||
        !zaiweb::verify_signature(secret, rid, t, uid, r.signature_prompt, sig, unix_millis())) {
      return detail_plan(400, "403: Signature validation failed: 签名验证失败", "signature");
    }
  }

  if (who->guest && guest_blocked_model(r.model)) {
    Answer a;
    a.payloads.emplace_back(find_transcript("t12")->payloads.front());
    return stream_plan(a, k, "guest_model");
  }

  MockContext::Slot slot = mc.try_acquire("zai\n" + who->token);
  if (!slot.ok) return detail_plan(429, "Too many concurrent requests", "concurrency");

  if (!sc) {
    Scenario d;
    if (r.tool_result_last) d.name = "tool_result";
    else if (!r.trigger.empty() && !r.tools.empty()) d.name = "tools";
    else if (r.thinking) d.name = "thinking";
    else d.name = "plain";
    sc = std::move(d);
  }

  const std::size_t chunks =
      static_cast<std::size_t>(std::max<int64_t>(1, sc->param_int("chunks", mc.options().default_chunks)));
  const std::string& n = sc->name;
  std::shared_ptr<Plan> plan;
  if (PlanPtr p = error_scenario(*sc, k)) {
    plan = std::make_shared<Plan>(*p);
  } else if (n == "t19") {
    plan = framing_plan(k);
  } else if (const Transcript* t = find_transcript(n)) {
    plan = stream_plan(replay(*t, r), k, t->name.data());
  } else {
    Answer a;
    const char* label = "";
    if (n == "plain" || n == "drop" || n == "require_precreate") {
      a = plain_answer(r, echo_text(r), chunks);
      label = n == "plain" ? "plain" : n == "drop" ? "drop" : "require_precreate";
    } else if (n == "thinking") {
      a = details_answer(r, reasoning_text(r), echo_text(r), chunks);
      label = "thinking";
    } else if (n == "thinking_plain") {
      a = plain_thinking_answer(r, reasoning_text(r), echo_text(r), chunks);
      label = "thinking_plain";
    } else if (n == "tools") {
      a = tool_answer(r);
      label = "tools";
    } else if (n == "tool_result") {
      a = plain_answer(r, tool_result_text(r), chunks);
      label = "tool_result";
    } else {
      return detail_plan(400, "Unknown mock scenario: " + n, "unknown_scenario");
    }
    if (n == "drop") {
      const auto keep = static_cast<std::size_t>(std::max<int64_t>(0, sc->param_int("after", 2)));
      if (a.payloads.size() > keep) a.payloads.resize(keep);
      a.end = End::close_abruptly;
    }
    if (n == "require_precreate") {
      bool known = false;
      {
        ZaiState& st = mc.dialect_state<ZaiState>();
        std::lock_guard<std::mutex> lock(st.mutex);
        known = st.chats.count(r.chat_id) > 0;
      }
      // Without /api/v1/chats/new the answer is fine but the turn ends with INTERNAL_ERROR (§6.6).
      if (!known) a.payloads.back() = frame_error("Internal server error, please retry", "\"INTERNAL_ERROR\"");
    }
    plan = stream_plan(a, k, label);
  }
  plan->hold = std::move(slot.hold);
  return plan;
}

}  // namespace

void register_zai_web_dialect(Registry& r) {
  r.add({"GET", Match::exact, "/", &handle_landing});
  r.add({"GET", Match::exact, "/api/models", &handle_models});
  r.add({"", Match::prefix, "/api/v1/", &handle_v1});
  r.add({"", Match::exact, "/api/v2/chat/completions", &handle_completions});
  r.add({"", Match::exact, "/api/chat/completions", &handle_completions});
}

}  // namespace zgate::mock
