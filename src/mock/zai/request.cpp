// The zai-web chat request as the mock needs it: model, stream, enable_thinking, the signed
// prompt, the chat id, the system text and the last user text, and the tools of the tool
// prompt zgate injects into the system message.
#include <algorithm>

#include "zai.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::mock::zai {
namespace {

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

// The tool protocol zgate injects (include/zgate/dialect/zaiweb/tools.hpp): the trigger
// "<Function_..._Start/>", and per tool "## NAME" followed by "Arguments (JSON Schema): {...}".
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

}  // namespace

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

}  // namespace zgate::mock::zai
