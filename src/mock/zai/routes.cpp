// zai-web routes besides the completions: the landing page (with the frontend version), the
// model list, guest identities, file uploads (multipart), chat creation and deletion.
//
// Routes: GET / , GET /api/models, GET|POST /api/v1/auths/[guest], POST /api/v1/files/,
// POST /api/v1/chats/new, DELETE /api/v1/chats/<id>, POST /api/v2/chat/completions (signed)
// and the legacy POST /api/chat/completions (completions.cpp).
#include <array>

#include "zai.hpp"
#include "zgate/core/ids.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::mock {
namespace zai {

namespace {

constexpr std::string_view kDefaultFe = "prod-fe-1.1.95";

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
    id = new_guest();  // a new guest per call
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
  const std::string fid = ids::uuid4();
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
  const std::string id = ids::uuid4();
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

}  // namespace
}  // namespace zai

void register_zai_web_dialect(Registry& r) {
  r.add({"GET", Match::exact, "/", &zai::handle_landing});
  r.add({"GET", Match::exact, "/api/models", &zai::handle_models});
  r.add({"", Match::prefix, "/api/v1/", &zai::handle_v1});
  r.add({"", Match::exact, "/api/v2/chat/completions", &zai::handle_completions});
  r.add({"", Match::exact, "/api/chat/completions", &zai::handle_completions});
}

}  // namespace zgate::mock
