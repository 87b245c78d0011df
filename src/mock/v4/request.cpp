// The v4 chat request as the mock needs it: model, stream, thinking, max_tokens, request_id,
// the tools (with plausible arguments for their schemas) and the last user / tool turns.
#include <algorithm>
#include <initializer_list>

#include <simdjson.h>

#include "v4.hpp"
#include "zgate/json/read.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::mock::v4 {
namespace {

namespace od = simdjson::ondemand;

struct PropInfo {
  std::string name;
  std::string type;
  std::string enum_first;  // raw JSON of the first enum value, if any
};

// Calls fn(key, value) for every field of `obj`; stops at the first error, its own or fn's.
template <class F>
simdjson::error_code for_each_field(od::object& obj, F&& fn) {
  for (auto fr : obj) {
    od::field f;
    if (auto e = std::move(fr).get(f)) return e;
    std::string_view k;
    if (auto e = f.unescaped_key().get(k)) return e;
    if (auto e = fn(k, f.value())) return e;
  }
  return simdjson::SUCCESS;
}

// The same for a value that must be an object.
template <class F>
simdjson::error_code for_each_field(od::value& v, F&& fn) {
  od::object obj;
  if (auto e = v.get_object().get(obj)) return e;
  return for_each_field(obj, std::forward<F>(fn));
}

simdjson::error_code read_string(od::value& v, std::string& out) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) return e;
  out.assign(s);
  return simdjson::SUCCESS;
}

bool contains_any(std::string_view s, std::initializer_list<std::string_view> needles) {
  for (auto n : needles)
    if (s.find(n) != std::string_view::npos) return true;
  return false;
}

// Arguments that look like what a model would produce for the tool's JSON schema.
std::string make_args(const std::vector<PropInfo>& props, bool alt) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  int number_index = 0;
  for (const auto& p : props) {
    w.key_escaped(p.name);
    if (!p.enum_first.empty()) {
      w.raw(p.enum_first);
    } else if (p.type == "integer" || p.type == "number") {
      w.number(static_cast<int64_t>((alt ? 4 : 2) + number_index++));
    } else if (p.type == "boolean") {
      w.boolean(!alt);
    } else if (p.type == "array") {
      w.raw("[]");
    } else if (p.type == "object") {
      w.raw("{}");
    } else {
      const std::string_view n = p.name;
      if (contains_any(n, {"location", "city", "place"})) w.string(alt ? "Porto" : "Lisbon");
      else if (contains_any(n, {"path", "file"})) w.string(alt ? "b.txt" : "a.txt");
      else if (contains_any(n, {"text", "content"})) w.string(alt ? "bye" : "hi");
      else if (contains_any(n, {"unit"})) w.string("celsius");
      else w.string(alt ? "example-2" : "example");
    }
  }
  w.end_object();
  return out;
}

// A message's text: the string, or the "text" of every part joined with '\n'.
simdjson::error_code read_text_content(od::value& v, std::string& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t == od::json_type::string) return read_string(v, out);
  if (t != od::json_type::array) return simdjson::SUCCESS;  // null or unexpected: no text
  od::array parts;
  if (auto e = v.get_array().get(parts)) return e;
  for (auto pr : parts) {
    od::value part;
    if (auto e = pr.get(part)) return e;
    auto e = for_each_field(part, [&](std::string_view k, od::value& pv) -> simdjson::error_code {
      if (k != "text") return simdjson::SUCCESS;
      std::string_view s;
      if (auto e = pv.get_string().get(s)) return e;
      if (!out.empty()) out.push_back('\n');
      out.append(s);
      return simdjson::SUCCESS;
    });
    if (e) return e;
  }
  return simdjson::SUCCESS;
}

// One property schema: its type and the first enum value. Odd schemas are tolerated.
simdjson::error_code read_property(od::value& schema, PropInfo& info) {
  od::object obj;
  if (schema.get_object().get(obj)) return simdjson::SUCCESS;
  return for_each_field(obj, [&](std::string_view k, od::value& v) -> simdjson::error_code {
    if (k == "type") {
      std::string_view ty;
      if (!v.get_string().get(ty)) info.type.assign(ty);
    } else if (k == "enum") {
      od::array en;
      if (v.get_array().get(en)) return simdjson::SUCCESS;
      for (auto er : en) {
        od::value ev;
        if (auto e = er.get(ev)) return e;
        std::string_view raw;
        if (!simdjson::to_json_string(ev).get(raw)) info.enum_first.assign(raw);
        break;
      }
    }
    return simdjson::SUCCESS;
  });
}

// "parameters": the properties and the names of the required ones.
simdjson::error_code read_parameters(od::value& params, std::vector<PropInfo>& props,
                                     std::vector<std::string>& required) {
  od::object obj;
  if (params.get_object().get(obj)) return simdjson::SUCCESS;  // tolerate odd schemas
  return for_each_field(obj, [&](std::string_view k, od::value& v) -> simdjson::error_code {
    if (k == "properties") {
      od::object propobj;
      if (v.get_object().get(propobj)) return simdjson::SUCCESS;
      return for_each_field(propobj, [&](std::string_view name, od::value& schema) -> simdjson::error_code {
        PropInfo info;
        info.name.assign(name);
        if (auto e = read_property(schema, info)) return e;
        props.push_back(std::move(info));
        return simdjson::SUCCESS;
      });
    }
    if (k == "required") {
      od::array req;
      if (v.get_array().get(req)) return simdjson::SUCCESS;
      for (auto rr : req) {
        std::string_view s;
        if (!rr.get_string().get(s)) required.emplace_back(s);
      }
    }
    return simdjson::SUCCESS;
  });
}

simdjson::error_code read_tool(od::value& tool, ToolInfo& out) {
  std::vector<PropInfo> props;
  std::vector<std::string> required;
  auto e = for_each_field(tool, [&](std::string_view k, od::value& v) -> simdjson::error_code {
    if (k != "function") return simdjson::SUCCESS;
    return for_each_field(v, [&](std::string_view fk, od::value& fv) -> simdjson::error_code {
      if (fk == "name") return read_string(fv, out.name);
      if (fk == "parameters") return read_parameters(fv, props, required);
      return simdjson::SUCCESS;
    });
  });
  if (e) return e;
  // Fill the required properties, or all of them when none is marked required; a handful at most.
  std::vector<PropInfo> chosen;
  for (auto& p : props) {
    const bool is_required = required.empty() ||
                             std::find(required.begin(), required.end(), p.name) != required.end();
    if (is_required && chosen.size() < 8) chosen.push_back(p);
  }
  out.args = make_args(chosen, false);
  out.args_alt = make_args(chosen, true);
  return simdjson::SUCCESS;
}

simdjson::error_code read_message(od::value& m, V4Request& out) {
  std::string role, text;
  auto e = for_each_field(m, [&](std::string_view k, od::value& v) -> simdjson::error_code {
    if (k == "role") return read_string(v, role);
    if (k == "content") return read_text_content(v, text);
    return simdjson::SUCCESS;
  });
  if (e) return e;
  if (role == "user") {
    out.has_user = true;
    out.last_user_text = std::move(text);
  } else if (role == "tool") {
    out.last_tool_content = std::move(text);
  }
  out.last_role = std::move(role);
  return simdjson::SUCCESS;
}

// Calls fn(element) for every element of the array `v`.
template <class F>
simdjson::error_code for_each_element(od::value& v, F&& fn) {
  od::array arr;
  if (auto e = v.get_array().get(arr)) return e;
  for (auto er : arr) {
    od::value el;
    if (auto e = er.get(el)) return e;
    if (auto e = fn(el)) return e;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code read_field(std::string_view k, od::value& v, V4Request& out) {
  if (k == "model") return read_string(v, out.model);
  if (k == "stream") return v.get_bool().get(out.stream);
  if (k == "max_tokens") return v.get_int64().get(out.max_tokens);
  if (k == "request_id") return read_string(v, out.request_id);
  if (k == "thinking") {
    return for_each_field(v, [&](std::string_view tk, od::value& tv) -> simdjson::error_code {
      if (tk != "type") return simdjson::SUCCESS;
      std::string_view ty;
      if (auto e = tv.get_string().get(ty)) return e;
      out.thinking = ty == "enabled";
      return simdjson::SUCCESS;
    });
  }
  if (k == "tools") {
    return for_each_element(v, [&](od::value& tool) -> simdjson::error_code {
      ToolInfo info;
      if (auto e = read_tool(tool, info)) return e;
      if (!info.name.empty()) out.tools.push_back(std::move(info));
      return simdjson::SUCCESS;
    });
  }
  if (k == "messages") {
    return for_each_element(v, [&](od::value& m) { return read_message(m, out); });
  }
  return simdjson::SUCCESS;
}

}  // namespace

bool parse_request(const MockRequest& req, V4Request& out) {
  thread_local std::string pad_buf;
  out.body_size = req.body.size();
  const simdjson::padded_string_view psv =
      req.body_capacity >= req.body.size() + simdjson::SIMDJSON_PADDING
          ? simdjson::padded_string_view(req.body.data(), req.body.size(), req.body_capacity)
          : json::pad(req.body, pad_buf);
  od::document doc;
  if (json::thread_parser().iterate(psv).get(doc)) return false;
  od::object root;
  if (doc.get_object().get(root)) return false;
  return for_each_field(root, [&](std::string_view k, od::value& v) { return read_field(k, v, out); }) ==
         simdjson::SUCCESS;
}

}  // namespace zgate::mock::v4
