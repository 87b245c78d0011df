// zai-web request side: identity helpers, image uploads and the chat completion request
// (spec zai-web.md §2–§6).
#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <simdjson.h>

#include "zgate/json/writer.hpp"
#include "zgate/json/read.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"

namespace zgate::zaiweb {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string_view user_agent_of(const ZaiWebOptions& opts, std::string_view override_ua = {}) {
  if (!override_ua.empty()) return override_ua;
  return opts.user_agent.empty() ? kDefaultUserAgent : std::string_view(opts.user_agent);
}

// Client hints must agree with the User-Agent; browsers other than Chromium send none.
void add_client_hints(Headers& h, std::string_view ua) {
  const auto chrome = ua.find("Chrome/");
  if (chrome == std::string_view::npos || ua.find("Firefox/") != std::string_view::npos) return;
  std::size_t e = chrome + 7;
  while (e < ua.size() && std::isdigit(static_cast<unsigned char>(ua[e]))) ++e;
  const std::string_view major = ua.substr(chrome + 7, e - chrome - 7);
  const bool edge = ua.find("Edg/") != std::string_view::npos;
  h.emplace_back("sec-ch-ua", fmt::format("\"Chromium\";v=\"{0}\", \"Not=A?Brand\";v=\"24\", \"{1}\";v=\"{0}\"", major,
                                          edge ? "Microsoft Edge" : "Google Chrome"));
  h.emplace_back("sec-ch-ua-mobile", ua.find("Mobile") != std::string_view::npos ? "?1" : "?0");
  std::string_view platform = "Windows";
  if (ua.find("Mac OS X") != std::string_view::npos) platform = "macOS";
  else if (ua.find("Android") != std::string_view::npos) platform = "Android";
  else if (ua.find("Linux") != std::string_view::npos) platform = "Linux";
  h.emplace_back("sec-ch-ua-platform", fmt::format("\"{}\"", platform));
}

// The headers every API call of the web app carries (§3). Accept-Encoding: identity, since the
// edge would otherwise answer with Brotli that the I/O side does not decode.
Headers api_headers(const ZaiWebOptions& opts, std::string_view ua, std::string_view referer, std::string_view accept) {
  Headers h;
  h.reserve(20);
  h.emplace_back("User-Agent", std::string(ua));
  h.emplace_back("Accept", std::string(accept));
  h.emplace_back("Accept-Language", "en-US,en;q=0.9");
  h.emplace_back("Accept-Encoding", "identity");
  add_client_hints(h, ua);
  h.emplace_back("Sec-Fetch-Dest", "empty");
  h.emplace_back("Sec-Fetch-Mode", "cors");
  h.emplace_back("Sec-Fetch-Site", "same-origin");
  h.emplace_back("Origin", std::string(kOrigin));
  h.emplace_back("Referer", std::string(referer));
  h.emplace_back("X-FE-Version", opts.fe_version);
  h.emplace_back("X-Region", "overseas");
  return h;
}

std::string root_referer() { return fmt::format("{}/", kOrigin); }

simdjson::dom::parser& dom_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Parses `body` as a JSON object; false when it is not one.
bool parse_object(std::string_view body, simdjson::dom::object& obj, simdjson::padded_string& keep) {
  keep = simdjson::padded_string(body);
  return dom_parser().parse(keep).get_object().get(obj) == simdjson::SUCCESS;
}

std::string str_field(simdjson::dom::object obj, std::string_view key) {
  std::string_view s;
  if (obj[key].get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return {};
}

int64_t int_field(simdjson::dom::object obj, std::string_view key) {
  int64_t n = 0;
  double d = 0;
  if (obj[key].get_int64().get(n) == simdjson::SUCCESS) return n;
  if (obj[key].get_double().get(d) == simdjson::SUCCESS) return json::saturate_to_int64(d);
  return 0;
}

ApiError upstream_error(std::string message) { return bad_gateway(std::move(message)); }

ApiError with_context(ApiError e, std::string_view what) {
  e.message = fmt::format("{}: {}", what, e.message);
  return e;
}

bool starts_with_ci(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
  }
  return true;
}

std::string_view ext_for(std::string_view content_type) {
  if (content_type == "image/jpeg" || content_type == "image/jpg") return "jpg";
  if (content_type == "image/gif") return "gif";
  if (content_type == "image/webp") return "webp";
  if (content_type == "image/bmp") return "bmp";
  return "png";
}

// One message as sent upstream.
struct UpMsg {
  std::string_view role;
  std::string text;
  std::vector<std::pair<std::string, const FileRef*>> images;  // url (or file id), uploaded file
  bool tool_result = false;
};

// The history as the backend gets it (§6.5): system/user/assistant only; assistant tool calls
// in the taught text protocol; tool results as user text; earlier reasoning dropped.
std::vector<UpMsg> render_messages(const ChatRequest& req, std::string_view trigger,
                                   const std::vector<FileRef>* images) {
  std::vector<UpMsg> out;
  out.reserve(req.messages.size() + 1);
  std::size_t image_no = 0;
  for (const auto& m : req.messages) {
    switch (m.role) {
      case Role::system:
        out.push_back({"system", m.content, {}, false});
        break;
      case Role::user: {
        UpMsg u{"user", m.content, {}, false};
        for (const auto& p : m.parts) {
          if (p.kind != ContentPart::Kind::image_url) continue;
          const FileRef* f = nullptr;
          if (images != nullptr && image_no < images->size() && !(*images)[image_no].id.empty()) f = &(*images)[image_no];
          ++image_no;
          u.images.emplace_back(f != nullptr ? f->id : p.text, f);
        }
        out.push_back(std::move(u));
        break;
      }
      case Role::assistant: {
        UpMsg a{"assistant", m.content, {}, false};
        if (!m.tool_calls.empty()) {
          if (!a.text.empty()) a.text.append("\n\n");
          append_tool_calls_text(a.text, m.tool_calls, trigger);
        }
        out.push_back(std::move(a));
        break;
      }
      case Role::tool: {
        // The tool's name comes from the assistant call this result answers.
        std::string_view name = m.name;
        for (auto it = req.messages.rbegin(); name.empty() && it != req.messages.rend(); ++it) {
          for (const auto& c : it->tool_calls) {
            if (c.id == m.tool_call_id) { name = c.name; break; }
          }
        }
        if (name.empty()) name = "tool";
        if (!out.empty() && out.back().tool_result) {
          out.back().text.append("\n");
        } else {
          out.push_back({"user", {}, {}, true});
        }
        append_tool_result_text(out.back().text, name, m.content);
        break;
      }
    }
  }
  return out;
}

void write_variables(json::Writer& w, const AuthInfo& auth, int64_t now_ms) {
  const std::string dt = datetime_utc(now_ms);
  w.key("variables").begin_object();
  w.kv("{{USER_NAME}}", auth.name.empty() ? std::string_view(auth.is_guest() ? "Guest" : "User")
                                          : std::string_view(auth.name));
  w.kv("{{USER_LOCATION}}", "Unknown");
  w.kv("{{CURRENT_DATETIME}}", dt);
  w.kv("{{CURRENT_DATE}}", std::string_view(dt).substr(0, 10));
  w.kv("{{CURRENT_TIME}}", std::string_view(dt).substr(11));
  w.kv("{{CURRENT_WEEKDAY}}", weekday_utc(now_ms));
  w.kv("{{CURRENT_TIMEZONE}}", "UTC");
  w.kv("{{USER_LANGUAGE}}", "en-US");
  w.end_object();
}

void write_file_entry(json::Writer& w, const FileRef& f, std::string_view user_message_id) {
  const std::string_view name = f.filename.empty() ? std::string_view("image.png") : std::string_view(f.filename);
  w.begin_object();
  w.kv("type", "image");
  w.key("file").begin_object();
  w.kv("id", f.id).kv("user_id", f.user_id).key("hash").null().kv("filename", name);
  w.key("data").begin_object().end_object();
  w.key("meta").begin_object();
  w.kv("name", name).kv("content_type", f.content_type.empty() ? std::string_view("image/png")
                                                                : std::string_view(f.content_type));
  w.kv("size", f.size);
  w.key("data").begin_object().end_object();
  w.end_object();
  w.kv("created_at", f.created_at).kv("updated_at", f.created_at);
  w.end_object();
  w.kv("id", f.id);
  w.kv("url", fmt::format("/api/v1/files/{}/content", f.id));
  w.kv("name", name);
  w.kv("status", "uploaded");
  w.kv("size", f.size);
  w.kv("error", "");
  w.kv("itemId", f.id);
  w.kv("media", "image");
  w.kv("ref_user_msg_id", user_message_id);
  w.end_object();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Identity

UpstreamRequest guest_auth_request(const ZaiWebOptions& opts) {
  UpstreamRequest r;
  r.method = "GET";
  r.target = "/api/v1/auths/";
  r.headers = api_headers(opts, user_agent_of(opts), root_referer(), "application/json");
  return r;
}

UpstreamRequest profile_request(const ZaiWebOptions& opts, std::string_view token) {
  UpstreamRequest r = guest_auth_request(opts);
  r.headers.emplace(r.headers.begin(), "Authorization", fmt::format("Bearer {}", token));
  return r;
}

UpstreamRequest landing_page_request(const ZaiWebOptions& opts) {
  UpstreamRequest r;
  r.method = "GET";
  r.target = "/";
  const std::string_view ua = user_agent_of(opts);
  r.headers.emplace_back("User-Agent", std::string(ua));
  r.headers.emplace_back("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
  r.headers.emplace_back("Accept-Language", "en-US,en;q=0.9");
  r.headers.emplace_back("Accept-Encoding", "identity");
  add_client_hints(r.headers, ua);
  r.headers.emplace_back("Sec-Fetch-Dest", "document");
  r.headers.emplace_back("Sec-Fetch-Mode", "navigate");
  r.headers.emplace_back("Sec-Fetch-Site", "none");
  return r;
}

AuthResult parse_auth_response(int status, std::string_view content_type, std::string_view body,
                               std::string_view sent_token) {
  AuthResult r;
  constexpr std::string_view kWhat = "chat.z.ai sign-in (/api/v1/auths/) failed";
  if (status != 200) {
    r.error = with_context(classify_http_error(status, content_type, body), kWhat);
    return r;
  }
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  if (!parse_object(body, obj, keep)) {
    r.error = with_context(classify_http_error(200, content_type, body), kWhat);
    return r;
  }
  // A 200 answer may still be a refusal ({"detail":…} / {"error":…}), e.g. a captcha demand.
  if (obj["token"].error() != simdjson::SUCCESS && obj["id"].error() != simdjson::SUCCESS) {
    // Look for {detail|message, code, error_code} at the top or inside "error".
    simdjson::dom::object src = obj;
    simdjson::dom::object inner;
    if (obj["error"].get_object().get(inner) == simdjson::SUCCESS) src = inner;
    std::string detail = str_field(src, "detail");
    if (detail.empty()) detail = str_field(src, "message");
    std::string code = str_field(src, "code");
    if (code.empty() && int_field(src, "code") != 0) code = fmt::format("{}", int_field(src, "code"));
    ApiError e = classify_stream_error(detail, code, str_field(src, "error_code"), false);
    if (e.code == "upstream_error") {
      e = upstream_error(fmt::format(
          "chat.z.ai did not issue a token (guest sign-in refused or disabled{}). Configure zai_web.token with a "
          "logged-in token, or use the official API provider (zhipu).",
          detail.empty() ? std::string() : ": \"" + detail + "\""));
    }
    r.error = with_context(std::move(e), kWhat);
    return r;
  }
  r.info.token = str_field(obj, "token");
  if (r.info.token.empty()) r.info.token = std::string(sent_token);
  r.info.user_id = str_field(obj, "id");
  r.info.name = str_field(obj, "name");
  r.info.role = str_field(obj, "role");
  if (r.info.token.empty()) {
    r.error = upstream_error(
        "chat.z.ai sign-in answered without a token (guest sign-in refused). Configure zai_web.token with a "
        "logged-in token, or use the official API provider (zhipu).");
    return r;
  }
  if (r.info.user_id.empty()) r.info.user_id = jwt_user_id(r.info.token);
  r.ok = true;
  return r;
}

std::string jwt_user_id(std::string_view token) {
  const auto a = token.find('.');
  if (a == std::string_view::npos) return {};
  const auto b = token.find('.', a + 1);
  if (b == std::string_view::npos) return {};
  std::string payload;
  if (!base64_decode(token.substr(a + 1, b - a - 1), payload)) return {};
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  if (!parse_object(payload, obj, keep)) return {};
  return str_field(obj, "id");
}

AuthInfo auth_from_token(std::string_view token) {
  AuthInfo a;
  a.token = std::string(token);
  a.user_id = jwt_user_id(token);
  return a;
}

std::optional<std::string> extract_fe_version(std::string_view html) {
  constexpr std::string_view kPrefix = "prod-fe-";
  std::size_t p = 0;
  while ((p = html.find(kPrefix, p)) != std::string_view::npos) {
    std::size_t i = p + kPrefix.size();
    int groups = 0;
    while (groups < 3) {
      const std::size_t start = i;
      while (i < html.size() && std::isdigit(static_cast<unsigned char>(html[i]))) ++i;
      if (i == start) break;
      ++groups;
      if (groups < 3) {
        if (i < html.size() && html[i] == '.') ++i;
        else break;
      }
    }
    if (groups == 3) return std::string(html.substr(p, i - p));
    p += kPrefix.size();
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Images

DataUrlResult decode_data_url(std::string_view url) {
  DataUrlResult r;
  const auto fail = [&](std::string_view why) {
    r.error = bad_request(fmt::format("image_url is not a valid data URL: {}", why), "messages[].content[].image_url");
    return r;
  };
  if (!starts_with_ci(url, "data:")) return fail("it does not start with \"data:\"");
  const std::size_t comma = url.find(',');
  if (comma == std::string_view::npos) return fail("no ',' before the data");
  std::string_view meta = url.substr(5, comma - 5);
  const std::string_view data = url.substr(comma + 1);
  bool b64 = false;
  if (meta.size() >= 7 && starts_with_ci(meta.substr(meta.size() - 7), ";base64")) {
    b64 = true;
    meta.remove_suffix(7);
  }
  const std::string_view type = meta.substr(0, meta.find(';'));
  r.value.content_type = type.empty() ? "application/octet-stream" : std::string(type);
  if (b64) {
    if (!base64_decode(data, r.value.bytes)) return fail("the base64 data is corrupt");
  } else {
    r.value.bytes = url_decode(data);
  }
  if (r.value.bytes.empty()) return fail("it holds no data");
  r.ok = true;
  return r;
}

std::vector<ImageJob> plan_images(const ChatRequest& req, const AuthInfo& auth) {
  std::vector<ImageJob> jobs;
  for (std::size_t mi = 0; mi < req.messages.size(); ++mi) {
    const auto& m = req.messages[mi];
    for (std::size_t pi = 0; pi < m.parts.size(); ++pi) {
      const auto& p = m.parts[pi];
      if (p.kind != ContentPart::Kind::image_url) continue;
      ImageJob j;
      j.message = mi;
      j.part = pi;
      j.url = p.text;
      std::string_view ext = "png";
      if (starts_with_ci(p.text, "data:")) {
        j.action = ImageAction::upload_data_url;
        const std::string_view meta = std::string_view(p.text).substr(5, p.text.find_first_of(";,") - 5);
        ext = ext_for(meta);
      } else if (starts_with_ci(p.text, "http://") || starts_with_ci(p.text, "https://")) {
        j.action = auth.is_guest() ? ImageAction::pass_through : ImageAction::fetch_and_upload;
        std::string_view path = p.text;
        path = path.substr(0, path.find_first_of("?#"));
        const auto dot = path.rfind('.');
        if (dot != std::string_view::npos && path.size() - dot <= 5 && path.find('/', dot) == std::string_view::npos) {
          const std::string_view e = path.substr(dot + 1);
          if (e == "jpg" || e == "jpeg" || e == "gif" || e == "webp" || e == "png" || e == "bmp") ext = e;
        }
      } else {
        j.action = ImageAction::pass_through;  // already a backend file id, or something we cannot fetch
      }
      j.filename = fmt::format("image-{}.{}", jobs.size() + 1, ext);
      jobs.push_back(std::move(j));
    }
  }
  return jobs;
}

UpstreamRequest build_upload_request(const AuthInfo& auth, const ZaiWebOptions& opts, std::string_view filename,
                                     std::string_view content_type, std::string_view bytes,
                                     std::string_view boundary) {
  UpstreamRequest r;
  r.method = "POST";
  r.target = "/api/v1/files/";
  r.headers = api_headers(opts, user_agent_of(opts), root_referer(), "application/json");
  r.headers.emplace(r.headers.begin(), "Authorization", fmt::format("Bearer {}", auth.token));
  r.headers.emplace_back("Content-Type", fmt::format("multipart/form-data; boundary={}", boundary));
  // The filename sits in a quoted header parameter: no quotes, backslashes or line breaks.
  std::string safe;
  for (const char c : filename) safe.push_back(c == '"' || c == '\\' || c == '\r' || c == '\n' ? '_' : c);
  if (safe.empty()) safe = "image.png";
  std::string& b = r.body;
  b.reserve(bytes.size() + 256);
  b.append("--").append(boundary).append("\r\n");
  b.append("Content-Disposition: form-data; name=\"file\"; filename=\"").append(safe).append("\"\r\n");
  b.append("Content-Type: ").append(content_type.empty() ? std::string_view("application/octet-stream") : content_type);
  b.append("\r\n\r\n");
  b.append(bytes);
  b.append("\r\n--").append(boundary).append("--\r\n");
  return r;
}

UploadResult parse_upload_response(int status, std::string_view content_type, std::string_view body) {
  UploadResult r;
  constexpr std::string_view kWhat = "image upload to chat.z.ai failed";
  if (status != 200) {
    ApiError e = with_context(classify_http_error(status, content_type, body), kWhat);
    if (status == 401 || status == 403) {
      e.message.append(" Guests cannot upload images: configure a logged-in zai_web.token, or send images as "
                       "http(s) URLs.");
    }
    r.error = std::move(e);
    return r;
  }
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  if (!parse_object(body, obj, keep) || str_field(obj, "id").empty()) {
    r.error = with_context(classify_http_error(200, content_type, body), kWhat);
    return r;
  }
  r.file.id = str_field(obj, "id");
  r.file.user_id = str_field(obj, "user_id");
  r.file.filename = str_field(obj, "filename");
  r.file.created_at = int_field(obj, "created_at");
  simdjson::dom::object meta;
  if (obj["meta"].get_object().get(meta) == simdjson::SUCCESS) {
    r.file.content_type = str_field(meta, "content_type");
    r.file.size = int_field(meta, "size");
    r.file.cdn_url = str_field(meta, "cdn_url");
    if (r.file.filename.empty()) r.file.filename = str_field(meta, "name");
  }
  r.ok = true;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Chat

bool thinking_enabled(const ChatRequest& req, const ModelRoute& route) {
  if (route.thinking) return *route.thinking;
  if (req.thinking) return *req.thinking;
  return !req.reasoning_effort.empty() && req.reasoning_effort != "none";
}

bool wants_tool_emulation(const ChatRequest& req, const ZaiWebOptions& opts) {
  if (!opts.function_calling) return false;
  return std::any_of(req.tools.begin(), req.tools.end(),
                     [](const ToolDef& t) { return t.type == "function" && !t.name.empty(); });
}

std::string signature_prompt(const ChatRequest& req) {
  const auto msgs = render_messages(req, {}, nullptr);
  for (auto it = msgs.rbegin(); it != msgs.rend(); ++it) {
    if (it->role == "user") return it->text;
  }
  return {};
}

UpstreamRequest build_chat_request(const ChatRequest& req, const ModelRoute& route, std::string_view upstream_model,
                                   const ZaiWebOptions& opts, const AuthInfo& auth, const BuildContext& ctx) {
  const bool signed_mode = !opts.signing_secret.empty();
  const std::string_view ua = user_agent_of(opts, ctx.user_agent);
  const std::string_view trigger = ctx.tool_trigger;
  const std::string tool_prompt = trigger.empty() ? std::string() : render_tool_prompt(req, trigger);

  std::vector<UpMsg> msgs = render_messages(req, trigger, &ctx.images);
  if (!tool_prompt.empty()) {
    if (!msgs.empty() && msgs.front().role == "system") {
      std::string& t = msgs.front().text;
      if (!t.empty()) t.append("\n\n");
      t.append(tool_prompt);
    } else {
      msgs.insert(msgs.begin(), UpMsg{"system", tool_prompt, {}, false});
    }
  }
  std::string prompt;
  for (auto it = msgs.rbegin(); it != msgs.rend(); ++it) {
    if (it->role == "user") { prompt = it->text; break; }
  }

  const bool thinking = thinking_enabled(req, route);
  const bool search = route.web_search;

  UpstreamRequest r;
  r.method = "POST";
  std::string& b = r.body;
  json::Writer w(b);
  w.begin_object();
  w.kv_bool("stream", true);
  w.kv("model", upstream_model);
  w.key("messages").begin_array();
  for (const auto& m : msgs) {
    w.begin_object().kv("role", m.role);
    if (m.images.empty()) {
      w.kv("content", m.text);
    } else {
      w.key("content").begin_array();
      if (!m.text.empty()) w.begin_object().kv("type", "text").kv("text", m.text).end_object();
      for (const auto& [url, file] : m.images) {
        w.begin_object().kv("type", "image_url").key("image_url").begin_object().kv("url", url).end_object().end_object();
      }
      w.end_array();
    }
    w.end_object();
  }
  w.end_array();
  if (signed_mode) w.kv("signature_prompt", prompt);
  w.key("params").begin_object().end_object();
  w.key("extra").begin_object().end_object();
  w.key("features").begin_object();
  w.kv_bool("image_generation", false);
  w.kv_bool("web_search", search);
  w.kv_bool("auto_web_search", search);
  w.kv_bool("preview_mode", true);
  w.key("flags").begin_array().end_array();
  w.kv_bool("enable_thinking", thinking);
  w.end_object();
  write_variables(w, auth, ctx.now_ms);
  w.kv("chat_id", ctx.chat_id);
  w.kv("id", ctx.message_id);
  w.kv("current_user_message_id", ctx.user_message_id);
  w.key("current_user_message_parent_id").null();
  w.key("background_tasks").begin_object().kv_bool("title_generation", false).kv_bool("tags_generation", false).end_object();
  w.key("mcp_servers").begin_array();
  if (search) w.string("deep-web-search");
  w.end_array();
  if (!signed_mode) {
    // The seed-era body also named the model and the (empty) tool servers.
    w.key("tool_servers").begin_array().end_array();
    w.key("model_item").begin_object().kv("id", upstream_model).kv("name", route.name).kv("owned_by", "openai").end_object();
  }
  bool any_file = false;
  for (const auto& m : msgs) {
    for (const auto& [url, file] : m.images) {
      if (file == nullptr) continue;
      if (!any_file) w.key("files").begin_array();
      any_file = true;
      write_file_entry(w, *file, ctx.user_message_id);
    }
  }
  if (any_file) w.end_array();
  for (const auto& [k, v] : req.extra) {
    if (k == "captcha_verify_param") w.kv_raw("captcha_verify_param", v);  // a user-supplied attestation, passed on as is
  }
  w.end_object();

  const std::string referer = fmt::format("{}/c/{}", kOrigin, ctx.chat_id);
  r.headers.emplace_back("Authorization", fmt::format("Bearer {}", auth.token));
  r.headers.emplace_back("Content-Type", "application/json");
  Headers h = api_headers(opts, ua, referer, "text/event-stream, application/json");
  r.headers.insert(r.headers.end(), std::make_move_iterator(h.begin()), std::make_move_iterator(h.end()));

  if (signed_mode) {
    SignInput in;
    in.secret = opts.signing_secret;
    in.token = auth.token;
    in.user_id = auth.user_id.empty() ? std::string_view("guest") : std::string_view(auth.user_id);
    in.request_id = ctx.request_id;
    in.chat_id = ctx.chat_id;
    in.prompt = prompt;
    in.user_agent = ua;
    in.timestamp_ms = ctx.now_ms;
    Signature s = sign_request(in);
    r.target = fmt::format("{}?{}", opts.signed_path, s.query);
    r.headers.emplace_back("X-Signature", std::move(s.signature));
  } else {
    r.target = opts.legacy_path;
  }
  return r;
}

UpstreamRequest build_new_chat_request(const ChatRequest& req, std::string_view upstream_model,
                                       const ZaiWebOptions& opts, const AuthInfo& auth, const BuildContext& ctx) {
  UpstreamRequest r;
  r.method = "POST";
  r.target = "/api/v1/chats/new";
  r.headers.emplace_back("Authorization", fmt::format("Bearer {}", auth.token));
  r.headers.emplace_back("Content-Type", "application/json");
  Headers h = api_headers(opts, user_agent_of(opts, ctx.user_agent), root_referer(), "application/json");
  r.headers.insert(r.headers.end(), std::make_move_iterator(h.begin()), std::make_move_iterator(h.end()));

  std::string prompt = signature_prompt(req);
  if (prompt.size() > 500) {  // the browser seeds the title with the first 500 characters
    std::size_t k = 500;
    while (k > 0 && (static_cast<unsigned char>(prompt[k]) & 0xC0) == 0x80) --k;
    prompt.resize(k);
  }
  const int64_t secs = ctx.now_ms / 1000;
  json::Writer w(r.body);
  w.begin_object().key("chat").begin_object();
  w.kv("id", "").kv("title", "新聊天");
  w.key("models").begin_array().string(upstream_model).end_array();
  w.key("params").begin_object().end_object();
  w.key("history").begin_object().key("messages").begin_object();
  w.key_escaped(ctx.user_message_id).begin_object();
  w.kv("id", ctx.user_message_id).key("parentId").null();
  w.key("childrenIds").begin_array().end_array();
  w.kv("role", "user").kv("content", prompt).kv("timestamp", secs);
  w.key("models").begin_array().string(upstream_model).end_array();
  w.end_object().end_object();
  w.kv("currentId", ctx.user_message_id).end_object();
  w.key("tags").begin_array().end_array();
  w.key("flags").begin_array().end_array();
  w.key("features").begin_array();
  w.begin_object().kv("type", "tool_selector").kv("server", "tool_selector_h").kv("status", "hidden").end_object();
  w.end_array();
  w.key("mcp_servers").begin_array().end_array();
  w.kv_bool("enable_thinking", req.thinking.value_or(false));
  w.kv_bool("auto_web_search", false);
  w.kv("message_version", 1);
  w.key("extra").begin_object().end_object();
  w.kv("timestamp", ctx.now_ms);
  w.end_object().end_object();
  return r;
}

std::string parse_new_chat_response(int status, std::string_view content_type, std::string_view body, ApiError& err) {
  if (status != 200) {
    err = with_context(classify_http_error(status, content_type, body), "creating the chat at chat.z.ai failed");
    return {};
  }
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  std::string id;
  if (parse_object(body, obj, keep)) id = str_field(obj, "id");
  if (id.empty()) {
    err = with_context(classify_http_error(200, content_type, body), "creating the chat at chat.z.ai failed");
  }
  return id;
}

DecoderOptions decoder_options(const ChatRequest& req, const ZaiWebOptions& opts, const BuildContext& ctx,
                               std::string_view public_model) {
  DecoderOptions d;
  d.thinking = parse_thinking_mode(opts.thinking_mode);
  d.tool_emulation = !ctx.tool_trigger.empty();
  d.trigger = ctx.tool_trigger;
  for (const auto& t : req.tools) {
    if (t.type == "function" && !t.name.empty()) d.tool_names.push_back(t.name);
  }
  d.model = std::string(public_model);
  return d;
}

}  // namespace zgate::zaiweb
