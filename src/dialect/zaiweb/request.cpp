// zai-web chat request: the completion request (history rendered as text, images by file id,
// signed when a signing secret is configured), the optional pre-created chat, decoder options.
#include "zgate/dialect/zaiweb/chat.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "http.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/dialect/zaiweb/errors.hpp"
#include "zgate/dialect/zaiweb/sign.hpp"
#include "zgate/dialect/zaiweb/tools.hpp"

namespace zgate::zaiweb {

using namespace detail;

namespace {

// One message as sent upstream.
struct UpMsg {
  std::string_view role;
  std::string text;
  std::vector<std::pair<std::string, const FileRef*>> images;  // url (or file id), uploaded file
  bool tool_result = false;
};

// The history as the backend gets it: system/user/assistant only; assistant tool calls
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

  add_json_post_headers(r, opts, ua, fmt::format("{}/c/{}", kOrigin, ctx.chat_id), "text/event-stream, application/json",
                        auth.token);

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
  add_json_post_headers(r, opts, user_agent_of(opts, ctx.user_agent), root_referer(), "application/json", auth.token);

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

Result<std::string> parse_new_chat_response(int status, std::string_view content_type, std::string_view body) {
  constexpr std::string_view kWhat = "creating the chat at chat.z.ai failed";
  if (status != 200) return answer_error(status, content_type, body, kWhat);
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  std::string id;
  if (parse_object(body, obj, keep)) id = str_field(obj, "id");
  if (id.empty()) return answer_error(200, content_type, body, kWhat);
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
