#pragma once
// Internal to the OpenAI front: the pieces of parse_chat_request (messages.cpp, tools.cpp,
// options.cpp, request.cpp) and the helpers they walk the body with.
//
// Every step returns a Result<void>: a validation error is an OpenAI-style 400 that names the
// field and sets `param`; a malformed body is a 400 that says so. Paths are callables that
// build the field's name only when an error needs it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "zgate/core/error.hpp"
#include "zgate/json/read.hpp"
#include "zgate/json/walk.hpp"
#include "zgate/model/request.hpp"

namespace zgate::openai::detail {

namespace od = simdjson::ondemand;
using Step = Result<void>;

// The body is not valid JSON (or nests too deep).
ApiError json_error(simdjson::error_code e);
// "'<param>' <problem>", with `param` set.
ApiError field_error(std::string param, std::string_view problem);
// An error of validate(): every one means malformed JSON.
ApiError malformed(simdjson::error_code e);

// The walk's own failures (from json/walk.hpp's walkers) as client errors.
struct JsonErrors {
  Step operator()(simdjson::error_code e) const { return json_error(e); }
};

// Walks a value to its leaves, checking that it is valid JSON throughout (On Demand skips what
// it is not asked for without checking atoms). Stops at json::kMaxDepth levels.
simdjson::error_code validate(od::value& v, unsigned depth);
// Copies a sub-value verbatim (objects/arrays as written, scalars as their token) after
// checking that it is valid JSON throughout.
Step raw_of(od::value& v, std::string& out);
// The raw text of an object (nothing unescaped), then rewound so that its fields can be read.
Step raw_then_rewind(od::object& obj, std::string_view& raw);

inline Step type_of(od::value& v, od::json_type& t) {
  if (auto e = v.type().get(t)) return json_error(e);
  return {};
}

inline bool is_null(od::json_type t) { return t == od::json_type::null; }

// Decodes `v` as T, reporting a type mismatch as "'<path()>' <problem>".
template <class T, class P>
Step get_as(od::value& v, T& out, P&& path, std::string_view problem) {
  return json::get_as(v, out, [&] { return field_error(path(), problem); }, JsonErrors{});
}

// The members of an object value, `f(key, value)` each (keys unescaped); anything else is
// "'<path()>' <problem>".
template <class P, class F>
Step each_member(od::value& v, P&& path, std::string_view problem, F&& f) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(), problem);
  od::object obj;
  ZG_TRY(get_as(v, obj, path, problem));
  return json::for_each_member<json::Keys::unescaped>(obj, f, JsonErrors{});
}

// The elements of an array value, `f(value, index)` each; anything else is
// "'<path()>' <problem>". `count`, when given, receives the number of elements.
template <class P, class F>
Step each_element(od::value& v, P&& path, std::string_view problem, F&& f, std::size_t* count = nullptr) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::array) return field_error(path(), problem);
  od::array arr;
  ZG_TRY(get_as(v, arr, path, problem));
  std::size_t i = 0;
  ZG_TRY(json::for_each_element(arr, [&](od::value& ev) { return f(ev, i++); }, JsonErrors{}));
  if (count) *count = i;
  return {};
}

// A string field into `out` ("must be a string" otherwise); `present` set when read.
template <class P>
Step string_into(od::value& v, std::string& out, P&& path, bool* present = nullptr) {
  std::string_view s;
  ZG_TRY(get_as(v, s, path, "must be a string"));
  out.assign(s);
  if (present) *present = true;
  return {};
}

// The same where null means "not given".
template <class P>
Step nullable_string_into(od::value& v, std::string& out, P&& path, bool* present = nullptr) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  return string_into(v, out, path, present);
}

// Optional scalars: null means "not given", as in the OpenAI API.
template <class T>
Step optional_scalar(od::value& v, std::optional<T>& out, std::string_view name, std::string_view problem) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  T x{};
  ZG_TRY(get_as(v, x, [&] { return std::string(name); }, problem));
  out = x;
  return {};
}

// A fixed path (a top-level or other constant field name).
inline auto fixed(std::string_view name) {
  return [name] { return std::string(name); };
}

// The pieces of the request (messages.cpp, tools.cpp, options.cpp).
Step parse_messages(od::value& v, std::vector<Message>& out);
Step parse_tools(od::value& v, std::vector<ToolDef>& out);
Step parse_tool_choice(od::value& v, ChatRequest& r);
Step parse_response_format(od::value& v, ChatRequest& r);
Step parse_thinking(od::value& v, std::optional<bool>& out);
Step parse_stop(od::value& v, std::vector<std::string>& out);
Step parse_stream_options(od::value& v, bool& include_usage);
Step parse_reasoning_effort(od::value& v, std::string& out);
Step number_in(od::value& v, std::optional<double>& out, std::string_view name, double lo, double hi,
               std::string_view problem);
Step positive_int(od::value& v, std::optional<int64_t>& out, std::string_view name);

}  // namespace zgate::openai::detail
