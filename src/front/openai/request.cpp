// Parsing and validation of OpenAI /v1/chat/completions bodies into the normalised ChatRequest.
//
// One On Demand pass over the document: every value is visited once, in order, and either
// decoded into ChatRequest or kept verbatim (raw JSON) in `extra`. Validation errors are
// OpenAI-style 400s that name the field and set `param`, so a client sees what to fix.
// Errors are values: nothing on this path throws.
#include "zgate/model/request.hpp"

#include <array>
#include <cstdint>
#include <type_traits>

#include <fmt/format.h>

#include "zgate/json/read.hpp"

namespace zgate {
namespace {

namespace od = simdjson::ondemand;
using Err = std::optional<ApiError>;

// Returns the error of an Err-returning step, if any.
#define ZG_TRY(expr)                       \
  do {                                     \
    if (auto zg_e_ = (expr)) return zg_e_; \
  } while (0)

ApiError json_error(simdjson::error_code e) {
  if (e == simdjson::DEPTH_ERROR) {
    return bad_request(fmt::format("The JSON body of your request is nested more than {} levels deep, which is the "
                                   "limit.",
                                   json::kMaxDepth),
                       {}, "json_too_deep");
  }
  return bad_request(
      fmt::format("We could not parse the JSON body of your request: {}", simdjson::error_message(e)));
}

ApiError field_error(std::string param, std::string_view problem) {
  std::string msg = fmt::format("'{}' {}", param, problem);
  return bad_request(std::move(msg), std::move(param));
}

// Maps a simdjson getter failure: a type mismatch is the client's field error (`on_type`), any
// other code means the JSON itself is malformed.
template <class F>
ApiError getter_error(simdjson::error_code e, F&& on_type) {
  if (e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_OUT_OF_RANGE) return on_type();
  return json_error(e);
}

// The unescaped key and the value of one member of an object being walked.
Err member_of(simdjson::simdjson_result<od::field> fr, std::string_view& key, od::value& value) {
  od::field f;
  if (auto e = std::move(fr).get(f)) return json_error(e);
  if (auto e = f.unescaped_key().get(key)) return json_error(e);
  value = f.value();
  return {};
}

Err type_of(od::value& v, od::json_type& t) {
  if (auto e = v.type().get(t)) return json_error(e);
  return {};
}

// Decodes `v` as T, reporting a type mismatch as "'<path()>' <problem>".
template <class T, class P>
Err get_as(od::value& v, T& out, P&& path, std::string_view problem) {
  if (auto e = v.get(out)) return getter_error(e, [&] { return field_error(path(), problem); });
  return {};
}

// Walks a value to its leaves. On Demand skips what it is not asked for without checking atoms
// (`[tru]` skips fine), so anything zgate forwards verbatim is walked first: the upstream body
// must be valid JSON whatever the client sent. The walk recurses, so it stops at
// json::kMaxDepth levels (DEPTH_ERROR) rather than run off the thread's stack.
simdjson::error_code validate(od::value& v, unsigned depth);

// Walks the members of an object or array (one whose raw text may already have been taken and
// rewound: raw_json() unescapes nothing, so each string is still unescaped only once).
template <class Container>
simdjson::error_code validate_members(Container& c, unsigned depth) {
  if (depth > json::kMaxDepth) return simdjson::DEPTH_ERROR;
  if constexpr (std::is_same_v<Container, od::object>) {
    for (auto fr : c) {
      od::field f;
      if (auto e = std::move(fr).get(f)) return e;
      std::string_view k;
      if (auto e = f.unescaped_key().get(k)) return e;
      od::value fv = f.value();
      if (auto e = validate(fv, depth)) return e;
    }
  } else {
    for (auto er : c) {
      od::value ev;
      if (auto e = std::move(er).get(ev)) return e;
      if (auto e = validate(ev, depth)) return e;
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code validate(od::value& v, unsigned depth) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      od::object obj;
      if (auto e = v.get_object().get(obj)) return e;
      return validate_members(obj, depth + 1);
    }
    case od::json_type::array: {
      od::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      return validate_members(arr, depth + 1);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::number: {
      double d;
      return v.get_double().get(d);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool n = false;
      if (auto e = v.is_null().get(n)) return e;
      return n ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// An error from validate(): every one means malformed JSON (a type mismatch there is an atom
// like `tru` that looked like a boolean), so it reads as such.
ApiError malformed(simdjson::error_code e) {
  return json_error(e == simdjson::INCORRECT_TYPE ? simdjson::TAPE_ERROR : e);
}

// Copies a sub-value verbatim (objects/arrays as written, scalars as their token) after
// checking that it is valid JSON throughout.
Err raw_of(od::value& v, std::string& out) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  std::string_view raw;
  if (t == od::json_type::object || t == od::json_type::array) {
    simdjson::error_code e;
    if (t == od::json_type::object) {
      od::object c;
      if ((e = v.get_object().get(c)) || (e = c.raw_json().get(raw)) || (e = c.reset().error()) ||
          (e = validate_members(c, 1)))
        return malformed(e);
    } else {
      od::array c;
      if ((e = v.get_array().get(c)) || (e = c.raw_json().get(raw)) || (e = c.reset().error()) ||
          (e = validate_members(c, 1)))
        return malformed(e);
    }
  } else {
    raw = v.raw_json_token();  // a peek: the walk below consumes the value
    if (auto e = validate(v, 0)) return malformed(e);
  }
  out.assign(simdjson::trim(raw));
  return {};
}

bool is_null(od::json_type t) { return t == od::json_type::null; }

// ---------------------------------------------------------------------------------------------
// Messages

Err parse_image_url(od::value& v, ContentPart& part, std::size_t i, std::size_t j) {
  auto path = [&](std::string_view leaf) {
    return fmt::format("messages[{}].content[{}].image_url{}", i, j, leaf);
  };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  // Some clients send the URL directly; accept it rather than fail on a harmless variant.
  if (t == od::json_type::string) {
    std::string_view url;
    ZG_TRY(get_as(v, url, [&] { return path(""); }, "must be an object with a 'url'"));
    part.text.assign(url);
    return {};
  }
  if (t != od::json_type::object) return field_error(path(""), "must be an object with a 'url'");
  od::object obj;
  ZG_TRY(get_as(v, obj, [&] { return path(""); }, "must be an object with a 'url'"));
  bool has_url = false;
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "url") {
      std::string_view url;
      ZG_TRY(get_as(fv, url, [&] { return path(".url"); }, "must be a string"));
      part.text.assign(url);
      has_url = true;
    } else if (k == "detail") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      std::string_view d;
      ZG_TRY(get_as(fv, d, [&] { return path(".detail"); }, "must be a string"));
      part.detail.assign(d);
    }
  }
  if (!has_url) return field_error(path(".url"), "is required");
  return {};
}

Err parse_part(od::value& v, Message& m, std::size_t i, std::size_t j) {
  auto path = [&](std::string_view leaf) { return fmt::format("messages[{}].content[{}]{}", i, j, leaf); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(""), "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [&] { return path(""); }, "must be an object"));
  // Take the raw text first (it does not unescape anything), then rewind for the fields: parts
  // of an unknown type are kept verbatim.
  std::string_view raw;
  if (auto e = obj.raw_json().get(raw)) return json_error(e);
  if (auto e = obj.reset().error()) return json_error(e);

  ContentPart part;
  std::string_view type;
  bool has_type = false, has_text = false, has_image = false;
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "type") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".type"); }, "must be a string"));
      // `type` must outlive later unescapes; the parser's string buffer keeps it (one document).
      type = s;
      has_type = true;
    } else if (k == "text") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".text"); }, "must be a string"));
      part.text.assign(s);
      has_text = true;
    } else if (k == "image_url") {
      ZG_TRY(parse_image_url(fv, part, i, j));
      has_image = true;
    } else if (auto e = validate(fv, 0)) {
      return malformed(e);  // video_url, file_url, ...: forwarded raw, so walked
    }
  }
  if (!has_type) return field_error(path(".type"), "is required");
  if (type == "text") {
    if (!has_text) return field_error(path(".text"), "is required for text parts");
    part.kind = ContentPart::Kind::text;
    part.detail.clear();
  } else if (type == "image_url") {
    if (!has_image) return field_error(path(".image_url"), "is required for image_url parts");
    part.kind = ContentPart::Kind::image_url;
  } else {
    part = ContentPart{};
    part.kind = ContentPart::Kind::other;
    part.raw.assign(simdjson::trim(raw));
  }
  m.parts.push_back(std::move(part));
  return {};
}

Err parse_content(od::value& v, Message& m, std::size_t i) {
  auto path = [&] { return fmt::format("messages[{}].content", i); };
  constexpr std::string_view kProblem = "must be a string, an array of content parts, or null";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  switch (t) {
    case od::json_type::null:
      m.content_null = true;
      return {};
    case od::json_type::string: {
      std::string_view s;
      ZG_TRY(get_as(v, s, path, kProblem));
      m.content.assign(s);
      m.content_null = false;
      return {};
    }
    case od::json_type::array: {
      od::array arr;
      ZG_TRY(get_as(v, arr, path, kProblem));
      m.has_parts = true;
      m.content_null = false;
      std::size_t j = 0;
      for (auto er : arr) {
        od::value pv;
        if (auto e = std::move(er).get(pv)) return json_error(e);
        ZG_TRY(parse_part(pv, m, i, j));
        ++j;
      }
      // The text view of a parts message: text parts joined by newlines (what a text-only
      // upstream receives).
      bool first = true;
      for (const auto& p : m.parts) {
        if (p.kind != ContentPart::Kind::text) continue;
        if (!first) m.content.push_back('\n');
        m.content.append(p.text);
        first = false;
      }
      return {};
    }
    default:
      return field_error(path(), kProblem);
  }
}

Err parse_tool_call(od::value& v, ToolCall& call, std::size_t i, std::size_t j) {
  auto path = [&](std::string_view leaf) { return fmt::format("messages[{}].tool_calls[{}]{}", i, j, leaf); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(""), "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [&] { return path(""); }, "must be an object"));
  bool has_id = false, has_function = false, has_name = false;
  bool has_arguments = false;
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "id") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".id"); }, "must be a string"));
      call.id.assign(s);
      has_id = true;
    } else if (k == "function") {
      ZG_TRY(type_of(fv, t));
      if (t != od::json_type::object) return field_error(path(".function"), "must be an object");
      od::object fn;
      ZG_TRY(get_as(fv, fn, [&] { return path(".function"); }, "must be an object"));
      has_function = true;
      for (auto gr : fn) {
        od::field g;
        if (auto e = std::move(gr).get(g)) return json_error(e);
        std::string_view gk;
        if (auto e = g.unescaped_key().get(gk)) return json_error(e);
        od::value gv = g.value();
        if (gk == "name") {
          std::string_view s;
          ZG_TRY(get_as(gv, s, [&] { return path(".function.name"); }, "must be a string"));
          call.name.assign(s);
          has_name = true;
        } else if (gk == "arguments") {
          ZG_TRY(type_of(gv, t));
          if (t == od::json_type::string) {
            std::string_view s;
            ZG_TRY(get_as(gv, s, [&] { return path(".function.arguments"); }, "must be a string"));
            call.arguments.assign(s);
            has_arguments = true;
          } else if (t == od::json_type::object || t == od::json_type::array) {
            // Some clients send the arguments decoded; the wire form is their JSON text.
            ZG_TRY(raw_of(gv, call.arguments));
            has_arguments = true;
          } else if (t != od::json_type::null) {
            return field_error(path(".function.arguments"), "must be a string");
          }
        }
      }
    }
  }
  if (!has_id) return field_error(path(".id"), "is required");
  if (!has_function) return field_error(path(".function"), "is required");
  if (!has_name) return field_error(path(".function.name"), "is required");
  // A call without arguments is a call with none; "{}" keeps it valid JSON for the upstream.
  if (!has_arguments) call.arguments = "{}";
  return {};
}

Err parse_message(od::value& v, Message& m, std::size_t i) {
  auto path = [&](std::string_view leaf) { return fmt::format("messages[{}]{}", i, leaf); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(""), "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [&] { return path(""); }, "must be an object"));
  bool has_role = false, has_tool_call_id = false;
  m.content_null = true;  // until a content is seen
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "role") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".role"); }, "must be a string"));
      if (s == "user") m.role = Role::user;
      else if (s == "assistant") m.role = Role::assistant;
      else if (s == "system" || s == "developer") m.role = Role::system;  // developer = newer name
      else if (s == "tool") m.role = Role::tool;
      else return bad_request(fmt::format("Unsupported role '{}' in '{}'", s, path(".role")), path(".role"));
      has_role = true;
    } else if (k == "content") {
      ZG_TRY(parse_content(fv, m, i));
    } else if (k == "name") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".name"); }, "must be a string"));
      m.name.assign(s);
    } else if (k == "tool_call_id") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".tool_call_id"); }, "must be a string"));
      m.tool_call_id.assign(s);
      has_tool_call_id = true;
    } else if (k == "reasoning_content") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".reasoning_content"); }, "must be a string"));
      m.reasoning_content.assign(s);
    } else if (k == "tool_calls") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      if (t != od::json_type::array) return field_error(path(".tool_calls"), "must be an array");
      od::array arr;
      ZG_TRY(get_as(fv, arr, [&] { return path(".tool_calls"); }, "must be an array"));
      std::size_t j = 0;
      for (auto er : arr) {
        od::value cv;
        if (auto e = std::move(er).get(cv)) return json_error(e);
        ZG_TRY(parse_tool_call(cv, m.tool_calls.emplace_back(), i, j));
        ++j;
      }
    }
    // Other message keys (refusal, audio, ...) carry nothing an upstream can use.
  }
  if (!has_role) return field_error(path(".role"), "is required");
  if (m.role == Role::tool && !has_tool_call_id)
    return field_error(path(".tool_call_id"), "is required for messages with role 'tool'");
  if (m.role != Role::assistant && !m.tool_calls.empty())
    return field_error(path(".tool_calls"), "is only allowed on messages with role 'assistant'");
  if (m.content_null) {
    if (m.role != Role::assistant)
      return field_error(path(".content"), fmt::format("is required for messages with role '{}'",
                                                       m.role == Role::system ? "system"
                                                       : m.role == Role::user ? "user"
                                                                              : "tool"));
    if (m.tool_calls.empty())
      return field_error(path(".content"), "must not be null unless the assistant message has 'tool_calls'");
  }
  return {};
}

Err parse_messages(od::value& v, std::vector<Message>& out) {
  constexpr std::string_view kProblem = "must be a non-empty array";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::array) return field_error("messages", kProblem);
  od::array arr;
  ZG_TRY(get_as(v, arr, [] { return std::string("messages"); }, kProblem));
  out.reserve(8);  // most conversations sent at once are short: one allocation, no moves
  std::size_t i = 0;
  for (auto er : arr) {
    od::value mv;
    if (auto e = std::move(er).get(mv)) return json_error(e);
    ZG_TRY(parse_message(mv, out.emplace_back(), i));
    ++i;
  }
  if (i == 0) return field_error("messages", kProblem);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Tools

bool valid_function_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

Err parse_function_def(od::value& v, ToolDef& tool, std::size_t i) {
  auto path = [&](std::string_view leaf) { return fmt::format("tools[{}].function{}", i, leaf); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(""), "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [&] { return path(""); }, "must be an object"));
  bool has_name = false;
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "name") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".name"); }, "must be a string"));
      if (!valid_function_name(s)) return field_error(path(".name"), "must match ^[a-zA-Z0-9_-]{1,64}$");
      tool.name.assign(s);
      has_name = true;
    } else if (k == "description") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".description"); }, "must be a string"));
      tool.description.assign(s);
    } else if (k == "parameters") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      if (t != od::json_type::object) return field_error(path(".parameters"), "must be a JSON schema object");
      ZG_TRY(raw_of(fv, tool.parameters));
    }
    // `strict` and anything else: no upstream meaning.
  }
  if (!has_name) return field_error(path(".name"), "is required");
  return {};
}

Err parse_tool(od::value& v, ToolDef& tool, std::size_t i) {
  auto path = [&](std::string_view leaf) { return fmt::format("tools[{}]{}", i, leaf); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(""), "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [&] { return path(""); }, "must be an object"));
  // Raw text first (built-in provider tools are passed on verbatim), then rewind for the fields.
  std::string_view raw;
  if (auto e = obj.raw_json().get(raw)) return json_error(e);
  if (auto e = obj.reset().error()) return json_error(e);
  bool has_type = false, has_function = false;
  Err fn_error;
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "type") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".type"); }, "must be a string"));
      tool.type.assign(s);
      has_type = true;
    } else if (k == "function" && !(has_type && tool.type != "function")) {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      // Decoded as a function definition (On Demand visits each value once); its errors count
      // only for function tools, and `type` may come later in the object.
      ToolDef fn;
      if ((fn_error = parse_function_def(fv, fn, i))) continue;
      tool.name = std::move(fn.name);
      tool.description = std::move(fn.description);
      tool.parameters = std::move(fn.parameters);
      has_function = true;
    } else if (auto e = validate(fv, 0)) {
      return malformed(e);  // built-in tools are forwarded raw, so walked
    }
  }
  if (!has_type) return field_error(path(".type"), "is required");
  if (tool.type == "function") {
    if (fn_error) return fn_error;
    if (!has_function) return field_error(path(".function"), "is required for function tools");
  } else {
    tool.name.clear();
    tool.description.clear();
    tool.parameters.clear();
    tool.raw.assign(simdjson::trim(raw));
  }
  return {};
}

Err parse_tools(od::value& v, std::vector<ToolDef>& out) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t != od::json_type::array) return field_error("tools", "must be an array");
  od::array arr;
  ZG_TRY(get_as(v, arr, [] { return std::string("tools"); }, "must be an array"));
  std::size_t i = 0;
  for (auto er : arr) {
    od::value tv;
    if (auto e = std::move(er).get(tv)) return json_error(e);
    ZG_TRY(parse_tool(tv, out.emplace_back(), i));
    ++i;
  }
  return {};
}

Err parse_tool_choice(od::value& v, ChatRequest& r) {
  constexpr std::string_view kProblem =
      "must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t == od::json_type::string) {
    std::string_view s;
    ZG_TRY(get_as(v, s, [] { return std::string("tool_choice"); }, kProblem));
    if (s == "auto") r.tool_choice = ToolChoice::auto_;
    else if (s == "none") r.tool_choice = ToolChoice::none;
    else if (s == "required") r.tool_choice = ToolChoice::required;
    else return field_error("tool_choice", kProblem);
    return {};
  }
  if (t != od::json_type::object) return field_error("tool_choice", kProblem);
  od::object obj;
  ZG_TRY(get_as(v, obj, [] { return std::string("tool_choice"); }, kProblem));
  std::string_view type;
  bool has_name = false;
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "type") {
      ZG_TRY(get_as(fv, type, [] { return std::string("tool_choice.type"); }, "must be a string"));
    } else if (k == "function") {
      ZG_TRY(type_of(fv, t));
      if (t != od::json_type::object) return field_error("tool_choice.function", "must be an object");
      od::object fn;
      ZG_TRY(get_as(fv, fn, [] { return std::string("tool_choice.function"); }, "must be an object"));
      for (auto gr : fn) {
        od::field g;
        if (auto e = std::move(gr).get(g)) return json_error(e);
        std::string_view gk;
        if (auto e = g.unescaped_key().get(gk)) return json_error(e);
        if (gk != "name") continue;
        od::value gv = g.value();
        std::string_view name;
        ZG_TRY(get_as(gv, name, [] { return std::string("tool_choice.function.name"); }, "must be a string"));
        r.tool_choice_name.assign(name);
        has_name = true;
      }
    }
  }
  if (type != "function") return field_error("tool_choice", kProblem);
  if (!has_name) return field_error("tool_choice.function.name", "is required");
  r.tool_choice = ToolChoice::named;
  return {};
}

// ---------------------------------------------------------------------------------------------
// Other structured options

Err parse_response_format(od::value& v, ChatRequest& r) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t != od::json_type::object) return field_error("response_format", "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [] { return std::string("response_format"); }, "must be an object"));
  bool has_type = false, has_schema = false;
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k == "type") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [] { return std::string("response_format.type"); }, "must be a string"));
      if (s != "text" && s != "json_object" && s != "json_schema")
        return field_error("response_format.type", "must be one of 'text', 'json_object', 'json_schema'");
      r.response_format.assign(s);
      has_type = true;
    } else if (k == "json_schema") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) continue;
      if (t != od::json_type::object) return field_error("response_format.json_schema", "must be an object");
      ZG_TRY(raw_of(fv, r.json_schema));
      has_schema = true;
    }
  }
  if (!has_type) return field_error("response_format.type", "is required");
  if (r.response_format == "json_schema" && !has_schema)
    return field_error("response_format.json_schema", "is required when 'response_format.type' is 'json_schema'");
  if (r.response_format != "json_schema") r.json_schema.clear();
  return {};
}

Err parse_thinking(od::value& v, std::optional<bool>& out) {
  constexpr std::string_view kProblem = "must be 'enabled' or 'disabled'";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t != od::json_type::object) return field_error("thinking", "must be an object like {\"type\":\"enabled\"}");
  od::object obj;
  ZG_TRY(get_as(v, obj, [] { return std::string("thinking"); }, "must be an object"));
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k != "type") continue;  // clear_thinking, budget_tokens, ...: not interpreted
    std::string_view s;
    ZG_TRY(get_as(fv, s, [] { return std::string("thinking.type"); }, kProblem));
    if (s == "enabled") out = true;
    else if (s == "disabled") out = false;
    else return field_error("thinking.type", kProblem);
  }
  if (!out) return field_error("thinking.type", "is required");
  return {};
}

Err parse_stop(od::value& v, std::vector<std::string>& out) {
  constexpr std::string_view kProblem = "must be a string or an array of strings";
  auto path = [] { return std::string("stop"); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t == od::json_type::string) {
    std::string_view s;
    ZG_TRY(get_as(v, s, path, kProblem));
    out.emplace_back(s);
    return {};
  }
  if (t != od::json_type::array) return field_error("stop", kProblem);
  od::array arr;
  ZG_TRY(get_as(v, arr, path, kProblem));
  for (auto er : arr) {
    od::value sv;
    if (auto e = std::move(er).get(sv)) return json_error(e);
    std::string_view s;
    ZG_TRY(get_as(sv, s, path, kProblem));
    out.emplace_back(s);
  }
  return {};
}

Err parse_stream_options(od::value& v, bool& include_usage) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t != od::json_type::object) return field_error("stream_options", "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [] { return std::string("stream_options"); }, "must be an object"));
  for (auto fr : obj) {
    std::string_view k;
    od::value fv;
    ZG_TRY(member_of(std::move(fr), k, fv));
    if (k != "include_usage") continue;
    ZG_TRY(type_of(fv, t));
    if (is_null(t)) continue;
    ZG_TRY(get_as(fv, include_usage, [] { return std::string("stream_options.include_usage"); },
                  "must be a boolean"));
  }
  return {};
}

// Optional scalars: null means "not given", as in the OpenAI API.
template <class T>
Err optional_scalar(od::value& v, std::optional<T>& out, std::string_view name, std::string_view problem) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  T x{};
  ZG_TRY(get_as(v, x, [&] { return std::string(name); }, problem));
  out = x;
  return {};
}

Err number_in(od::value& v, std::optional<double>& out, std::string_view name, double lo, double hi,
              std::string_view problem) {
  ZG_TRY(optional_scalar(v, out, name, problem));
  if (out && !(*out >= lo && *out <= hi)) return field_error(std::string(name), problem);
  return {};
}

Err positive_int(od::value& v, std::optional<int64_t>& out, std::string_view name) {
  ZG_TRY(optional_scalar(v, out, name, "must be a positive integer"));
  if (out && *out <= 0) return field_error(std::string(name), "must be a positive integer");
  return {};
}

// ---------------------------------------------------------------------------------------------
// Top level

enum Key : unsigned {
  k_model,
  k_messages,
  k_stream,
  k_stream_options,
  k_temperature,
  k_top_p,
  k_max_tokens,
  k_max_completion_tokens,
  k_stop,
  k_n,
  k_seed,
  k_user,
  k_tools,
  k_tool_choice,
  k_response_format,
  k_thinking,
  k_reasoning_effort,
  k_tool_stream,
  k_count,
  k_unknown = k_count,
};

constexpr std::array<std::string_view, k_count> kKeys = {
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens",
    "max_completion_tokens", "stop", "n", "seed", "user", "tools", "tool_choice", "response_format",
    "thinking", "reasoning_effort", "tool_stream"};

Key lookup(std::string_view k) {
  for (unsigned i = 0; i < k_count; ++i)
    if (kKeys[i] == k) return static_cast<Key>(i);
  return k_unknown;
}

Err parse_root(od::object& root, ChatRequest& r) {
  uint32_t seen = 0;
  std::optional<int64_t> max_tokens, max_completion_tokens;
  std::optional<bool> explicit_thinking;
  bool has_model = false, has_messages = false;

  for (auto fr : root) {
    std::string_view k;
    od::value v;
    ZG_TRY(member_of(std::move(fr), k, v));
    const Key key = lookup(k);

    if (key == k_unknown) {
      // Duplicates of unknown keys are as ambiguous as known ones; the list is short.
      for (const auto& [ek, ev] : r.extra)
        if (ek == k) return bad_request(fmt::format("duplicate key '{}'", k), std::string(k));
      std::string key_copy(k);  // copied before the value's strings are unescaped
      std::string raw;
      ZG_TRY(raw_of(v, raw));
      r.extra.emplace_back(std::move(key_copy), std::move(raw));
      continue;
    }
    const uint32_t bit = uint32_t{1} << key;
    if (seen & bit) return bad_request(fmt::format("duplicate key '{}'", k), std::string(k));
    seen |= bit;

    od::json_type t;
    switch (key) {
      case k_model: {
        ZG_TRY(type_of(v, t));
        if (is_null(t)) break;
        std::string_view s;
        ZG_TRY(get_as(v, s, [] { return std::string("model"); }, "must be a string"));
        r.model.assign(s);
        has_model = !s.empty();
        break;
      }
      case k_messages:
        ZG_TRY(parse_messages(v, r.messages));
        has_messages = true;
        break;
      case k_stream: {
        std::optional<bool> b;
        ZG_TRY(optional_scalar(v, b, "stream", "must be a boolean"));
        r.stream = b.value_or(false);
        break;
      }
      case k_stream_options:
        ZG_TRY(parse_stream_options(v, r.include_usage));
        break;
      case k_temperature:
        ZG_TRY(number_in(v, r.temperature, "temperature", 0, 2, "must be a number between 0 and 2"));
        break;
      case k_top_p:
        ZG_TRY(number_in(v, r.top_p, "top_p", 0, 1, "must be a number between 0 and 1"));
        break;
      case k_max_tokens:
        ZG_TRY(positive_int(v, max_tokens, "max_tokens"));
        break;
      case k_max_completion_tokens:
        ZG_TRY(positive_int(v, max_completion_tokens, "max_completion_tokens"));
        break;
      case k_stop:
        ZG_TRY(parse_stop(v, r.stop));
        break;
      case k_n: {
        std::optional<int64_t> n;
        ZG_TRY(optional_scalar(v, n, "n", "must be a positive integer"));
        if (n && *n < 1) return field_error("n", "must be a positive integer");
        if (n && *n > 1) return bad_request("'n' greater than 1 is not supported", "n");
        break;
      }
      case k_seed:
        ZG_TRY(optional_scalar(v, r.seed, "seed", "must be an integer"));
        break;
      case k_user: {
        ZG_TRY(type_of(v, t));
        if (is_null(t)) break;
        std::string_view s;
        ZG_TRY(get_as(v, s, [] { return std::string("user"); }, "must be a string"));
        r.user.assign(s);
        break;
      }
      case k_tools:
        ZG_TRY(parse_tools(v, r.tools));
        break;
      case k_tool_choice:
        ZG_TRY(parse_tool_choice(v, r));
        break;
      case k_response_format:
        ZG_TRY(parse_response_format(v, r));
        break;
      case k_thinking:
        ZG_TRY(parse_thinking(v, explicit_thinking));
        break;
      case k_reasoning_effort: {
        ZG_TRY(type_of(v, t));
        if (is_null(t)) break;
        constexpr std::string_view kProblem = "must be one of 'none', 'minimal', 'low', 'medium', 'high'";
        std::string_view s;
        ZG_TRY(get_as(v, s, [] { return std::string("reasoning_effort"); }, kProblem));
        if (s != "none" && s != "minimal" && s != "low" && s != "medium" && s != "high")
          return field_error("reasoning_effort", kProblem);
        r.reasoning_effort.assign(s);
        break;
      }
      case k_tool_stream: {
        std::optional<bool> b;
        ZG_TRY(optional_scalar(v, b, "tool_stream", "must be a boolean"));
        r.tool_stream = b.value_or(false);
        break;
      }
      case k_count:
        break;
    }
  }

  if (!has_model) return field_error("model", "is required");
  if (!has_messages) return field_error("messages", "is required");
  r.max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
  if (explicit_thinking) {
    r.thinking = explicit_thinking;
  } else if (!r.reasoning_effort.empty()) {
    r.thinking = !(r.reasoning_effort == "none" || r.reasoning_effort == "minimal");
  }
  return {};
}

#undef ZG_TRY


// When the body ends inside an object, an array or a string, how deep (what is open). The
// parser's own errors for such a body ("the body must be a JSON object", a tape error) do not
// say what happened: a client that cut its upload short is told so. Only on the error path.
struct Truncation {
  bool truncated = false;
  std::size_t open = 0;  // objects and arrays still open
  bool in_string = false;
};

Truncation truncation_of(std::string_view body) {
  Truncation t;
  bool escaped = false;
  for (const char ch : body) {
    if (t.in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') t.in_string = false;
      continue;
    }
    if (ch == '"') t.in_string = true;
    else if (ch == '{' || ch == '[') ++t.open;
    else if ((ch == '}' || ch == ']') && t.open > 0) --t.open;
  }
  t.truncated = t.in_string || t.open > 0;
  return t;
}

ParseResult fail_with(ParseResult res, ApiError e, std::string_view body) {
  if (e.status == 400 && e.code.empty() && e.param.empty()) {
    if (const Truncation t = truncation_of(body); t.truncated) {
      e.message = fmt::format("We could not parse the JSON body of your request: it is truncated, ending at byte {} "
                              "inside {}{} unclosed {}",
                              body.size(), t.in_string ? "a string and " : "", t.open,
                              t.open == 1 ? "object or array" : "objects or arrays");
      e.code = "json_truncated";
    }
  }
  res.error = std::move(e);
  return res;
}

}  // namespace

ParseResult parse_chat_request(std::string_view padded_body) {
  ParseResult res;
  auto& parser = json::thread_parser();
  const simdjson::padded_string_view input(padded_body.data(), padded_body.size(),
                                           padded_body.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (auto e = parser.iterate(input).get(doc)) return fail_with(std::move(res), json_error(e), padded_body);
  od::json_type t;
  if (auto e = doc.type().get(t)) return fail_with(std::move(res), json_error(e), padded_body);
  od::object root;
  if (t != od::json_type::object || doc.get_object().get(root) != simdjson::SUCCESS) {
    return fail_with(std::move(res),
                     bad_request("We could not parse the JSON body of your request: the body must be a JSON object"),
                     padded_body);
  }
  if (auto err = parse_root(root, res.request)) return fail_with(std::move(res), std::move(*err), padded_body);
  // On Demand stops at the object's closing brace; anything after it is malformed input.
  if (doc.current_location().error() == simdjson::SUCCESS) {
    return fail_with(std::move(res), json_error(simdjson::TRAILING_CONTENT), padded_body);
  }
  res.ok = true;
  return res;
}

}  // namespace zgate
