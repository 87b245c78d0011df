// Request side of the zhipu v4 dialect: a normalised ChatRequest -> the v4 body (the mapping is
// described in docs/protocols/zhipu-v4.md); each deviation from plain pass-through is explained
// where it happens.
#include "zgate/dialect/zhipu/request.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include <fmt/format.h>

#include "zgate/json/read.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::zhipu {
namespace {

namespace od = simdjson::ondemand;

// Fields the v4 API documents that zgate does not interpret: passed on verbatim when the client
// sends them. Everything else zgate does not translate is dropped: the v4 documentation advises not to
// rely on the upstream ignoring unknown fields.
constexpr std::array<std::string_view, 7> kPassThrough = {
    "do_sample", "request_id", "user_id", "sensitive_word_check", "meta", "extra", "watermark_enabled"};

bool passes_through(std::string_view key) {
  return std::find(kPassThrough.begin(), kPassThrough.end(), key) != kPassThrough.end();
}

bool has_extra(const ChatRequest& req, std::string_view key) {
  for (const auto& [k, v] : req.extra)
    if (k == key) return true;
  return false;
}

// Vision models take bare base64, as the official SDKs send it; http(s) URLs pass as is.
std::string_view strip_data_url(std::string_view url) {
  if (!url.starts_with("data:")) return url;
  const auto comma = url.find(',');
  if (comma == std::string_view::npos) return url;
  const std::string_view header = url.substr(0, comma);
  if (!header.ends_with(";base64")) return url;
  return url.substr(comma + 1);
}

// The schema of an OpenAI `json_schema` response format (its `schema` member, or the whole
// object when that is missing), minified, for the system-prompt instruction. Runs once per
// json_schema request with its own parser so no caller's document is invalidated.
std::string schema_text(std::string_view json_schema) {
  std::string schema(json_schema);
  {
    simdjson::padded_string padded(json_schema);
    od::parser parser;
    od::document doc;
    od::object obj;
    if (parser.iterate(padded).get(doc) == simdjson::SUCCESS && doc.get_object().get(obj) == simdjson::SUCCESS) {
      for (auto fr : obj) {
        od::field f;
        std::string_view k;
        if (std::move(fr).get(f) != simdjson::SUCCESS || f.unescaped_key().get(k) != simdjson::SUCCESS) break;
        if (k != "schema") continue;
        od::value v = f.value();
        std::string_view raw;
        if (simdjson::to_json_string(v).get(raw) == simdjson::SUCCESS) schema.assign(raw);
        break;
      }
    }
  }
  std::string minified(schema.size(), '\0');
  std::size_t len = 0;
  if (simdjson::minify(schema.data(), schema.size(), minified.data(), len) == simdjson::SUCCESS) {
    minified.resize(len);
    return minified;
  }
  return schema;
}

void write_message(json::Writer& w, const Message& m, const ModelRoute& route, std::string_view append_note) {
  w.begin_object().kv("role", to_string(m.role));
  // `name` is not sent: v4 does not document it on messages.
  if (m.has_parts && route.vision && m.role == Role::user) {
    // Vision models take parts; only user messages carry images, other roles are flattened
    // below like on text models.
    w.key("content").begin_array();
    for (const auto& p : m.parts) {
      switch (p.kind) {
        case ContentPart::Kind::text:
          w.begin_object().kv("type", "text").kv("text", p.text).end_object();
          break;
        case ContentPart::Kind::image_url:
          // `detail` is an OpenAI knob v4 does not document; dropped.
          w.begin_object().kv("type", "image_url").key("image_url").begin_object();
          w.kv("url", strip_data_url(p.text)).end_object().end_object();
          break;
        case ContentPart::Kind::other:
          w.raw(p.raw);  // video_url, file_url: same shape in v4
          break;
      }
    }
    w.end_array();
  } else if (m.content_null) {
    // Only an assistant turn with tool_calls gets here. v4 documents `content` as a string and
    // rejects a message whose content and tool_calls are both empty, so "" is the safe form.
    w.kv("content", "");
  } else if (!append_note.empty()) {
    std::string content = m.content;
    if (!content.empty()) content.append("\n\n");
    content.append(append_note);
    w.kv("content", content);
  } else {
    // Text models: list content flattened to its text parts joined by newlines, which
    // the parser already prepared in `content`.
    w.kv("content", m.content);
  }
  if (m.role == Role::assistant) {
    if (!m.reasoning_content.empty()) w.kv("reasoning_content", m.reasoning_content);
    if (!m.tool_calls.empty()) {
      w.key("tool_calls").begin_array();
      for (const auto& c : m.tool_calls) {
        w.begin_object().kv("id", c.id).kv("type", "function").key("function").begin_object();
        w.kv("name", c.name).kv("arguments", c.arguments).end_object().end_object();
      }
      w.end_array();
    }
  }
  if (m.role == Role::tool) w.kv("tool_call_id", m.tool_call_id);
  w.end_object();
}

}  // namespace

Result<void> build_request(const ChatRequest& req, const ModelRoute& route, std::string_view upstream_model,
                           std::string& out) {
  // v4 answers a conversation without a user turn with 400/1214 in Chinese; say it ourselves.
  const bool has_user = std::any_of(req.messages.begin(), req.messages.end(),
                                    [](const Message& m) { return m.role == Role::user; });
  if (!has_user) return bad_request("'messages' must contain at least one user message", "messages");

  // v4 has no json_schema response format: ask for json_object and put the schema into the
  // system prompt, appended to the first system message or in a new one in front.
  std::string schema_note;
  if (req.response_format == "json_schema")
    schema_note = "Respond with JSON that matches this JSON schema: " + schema_text(req.json_schema);
  const auto first_system = std::find_if(req.messages.begin(), req.messages.end(),
                                         [](const Message& m) { return m.role == Role::system; });

  json::Writer w(out);
  w.begin_object();
  w.kv("model", upstream_model);

  w.key("messages").begin_array();
  if (!schema_note.empty() && first_system == req.messages.end())
    w.begin_object().kv("role", "system").kv("content", schema_note).end_object();
  for (auto it = req.messages.begin(); it != req.messages.end(); ++it)
    write_message(w, *it, route, it == first_system ? std::string_view(schema_note) : std::string_view());
  w.end_array();

  w.kv_bool("stream", req.stream);

  // Tools. tool_choice "none" means the client's tools must not be used: v4 only knows "auto",
  // so the tools are not sent at all. The route's web search is the provider's own
  // retrieval, not a client tool, so an alias model keeps it even then.
  const bool send_client_tools = req.tool_choice != ToolChoice::none && !req.tools.empty();
  bool client_web_search = false;
  if (send_client_tools)
    for (const auto& t : req.tools) client_web_search |= (t.type == "web_search");
  const bool add_web_search = route.web_search && !client_web_search;
  if (send_client_tools || add_web_search) {
    w.key("tools").begin_array();
    if (send_client_tools) {
      for (const auto& t : req.tools) {
        if (t.type != "function") {
          w.raw(t.raw);  // web_search, retrieval, mcp: v4 built-ins, passed unchanged
          continue;
        }
        // `strict` is dropped: v4 does not document it.
        w.begin_object().kv("type", "function").key("function").begin_object().kv("name", t.name);
        if (!t.description.empty()) w.kv("description", t.description);
        if (!t.parameters.empty()) w.kv_raw("parameters", t.parameters);
        w.end_object().end_object();
      }
    }
    if (add_web_search) {
      w.begin_object().kv("type", "web_search").key("web_search").begin_object();
      w.kv_bool("enable", true).kv("search_engine", "search_pro_jina").kv_bool("search_result", true);
      w.end_object().end_object();
    }
    w.end_array();
  }
  // Only "auto" is documented: "required" and a named tool are sent as "auto" (the model
  // still sees the tools; forcing one is not possible upstream).
  if (send_client_tools && req.tool_choice != ToolChoice::unset) w.kv("tool_choice", "auto");
  if (req.stream && req.tool_stream) w.kv_bool("tool_stream", true);

  // Alias models (route.thinking) decide; otherwise the client's thinking / reasoning_effort.
  const std::optional<bool> thinking = route.thinking ? route.thinking : req.thinking;
  if (thinking) w.key("thinking").begin_object().kv("type", *thinking ? "enabled" : "disabled").end_object();

  if (req.max_tokens) {
    int64_t max_tokens = *req.max_tokens;
    // Over the model's cap v4 answers 400/1214; clamping serves the request instead.
    if (route.max_output_tokens > 0) max_tokens = std::min(max_tokens, route.max_output_tokens);
    w.kv("max_tokens", max_tokens);
  }

  // temperature: OpenAI allows 0..2, v4 documents 0..1. We clamp (values above 1 become 1)
  // rather than halve: a client asking for 0.7 gets 0.7, the common case stays exact.
  // 0 means greedy decoding, which v4 expresses as do_sample:false (temperature omitted).
  bool wrote_do_sample = false;
  if (req.temperature) {
    const double t = std::clamp(*req.temperature, 0.0, 1.0);
    if (t <= 0.0) {
      w.kv_bool("do_sample", false);
      wrote_do_sample = true;
    } else {
      w.kv("temperature", t);
    }
  }
  if (req.top_p) w.kv("top_p", std::clamp(*req.top_p, 0.01, 1.0));

  // v4 takes at most one stop word (maxItems 1): the first one is kept.
  if (!req.stop.empty()) w.key("stop").begin_array().string(req.stop.front()).end_array();
  if (req.seed) w.kv("seed", *req.seed);

  // user -> user_id, only in v4's accepted length (6..128), else dropped rather than rejected
  // upstream. A user_id the client sent itself takes precedence.
  bool wrote_user_id = false;
  if (!req.user.empty() && req.user.size() >= 6 && req.user.size() <= 128 && !has_extra(req, "user_id")) {
    w.kv("user_id", req.user);
    wrote_user_id = true;
  }

  if (req.response_format == "text") {
    w.key("response_format").begin_object().kv("type", "text").end_object();
  } else if (req.response_format == "json_object" || req.response_format == "json_schema") {
    w.key("response_format").begin_object().kv("type", "json_object").end_object();
  }

  // n, penalties, logit_bias, logprobs, parallel_tool_calls, service_tier, store, metadata,
  // stream_options, prediction, modalities, audio, ...: not v4 fields, dropped here.
  for (const auto& [k, v] : req.extra) {
    if (!passes_through(k)) continue;
    if (k == "do_sample" && wrote_do_sample) continue;  // temperature 0 already decided it
    if (k == "user_id" && wrote_user_id) continue;
    w.key_escaped(k).raw(v);
  }
  w.end_object();
  return {};
}

UpstreamRequest make_upstream_request(std::string_view base_path, std::string body, bool stream) {
  UpstreamRequest r;
  r.method = "POST";
  while (!base_path.empty() && base_path.back() == '/') base_path.remove_suffix(1);
  r.target.reserve(base_path.size() + 17);
  r.target.append(base_path).append("/chat/completions");
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Accept", stream ? "text/event-stream" : "application/json");
  r.body = std::move(body);
  return r;
}

}  // namespace zgate::zhipu
