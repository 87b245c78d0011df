// The OpenAI front: `tools` (function definitions, provider built-ins kept verbatim) and
// `tool_choice`.
#include <fmt/format.h>

#include "parse.hpp"

namespace zgate::openai::detail {
namespace {

bool valid_function_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

Step parse_function_def(od::value& v, ToolDef& tool, std::size_t i) {
  auto path = [&](std::string_view leaf) { return fmt::format("tools[{}].function{}", i, leaf); };
  bool has_name = false;
  ZG_TRY(each_member(v, [&] { return path(""); }, "must be an object", [&](std::string_view k, od::value& fv) -> Step {
    if (k == "name") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, [&] { return path(".name"); }, "must be a string"));
      if (!valid_function_name(s)) return field_error(path(".name"), "must match ^[a-zA-Z0-9_-]{1,64}$");
      tool.name.assign(s);
      has_name = true;
      return {};
    }
    if (k == "description") return nullable_string_into(fv, tool.description, [&] { return path(".description"); });
    if (k == "parameters") {
      od::json_type t;
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) return {};
      if (t != od::json_type::object) return field_error(path(".parameters"), "must be a JSON schema object");
      return raw_of(fv, tool.parameters);
    }
    return {};  // `strict` and anything else: no upstream meaning.
  }));
  if (!has_name) return field_error(path(".name"), "is required");
  return {};
}

Step parse_tool(od::value& v, ToolDef& tool, std::size_t i) {
  auto path = [&](std::string_view leaf) { return fmt::format("tools[{}]{}", i, leaf); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(""), "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, [&] { return path(""); }, "must be an object"));
  // Raw text first (built-in provider tools are passed on verbatim), then rewind for the fields.
  std::string_view raw;
  ZG_TRY(raw_then_rewind(obj, raw));
  bool has_type = false, has_function = false;
  Step fn_result;
  ZG_TRY(json::for_each_member<json::Keys::unescaped>(
      obj,
      [&](std::string_view k, od::value& fv) -> Step {
        if (k == "type") return string_into(fv, tool.type, [&] { return path(".type"); }, &has_type);
        if (k == "function" && !(has_type && tool.type != "function")) {
          ZG_TRY(type_of(fv, t));
          if (is_null(t)) return {};
          // Decoded as a function definition (On Demand visits each value once); its errors
          // count only for function tools, and `type` may come later in the object.
          ToolDef fn;
          fn_result = parse_function_def(fv, fn, i);
          if (!fn_result.ok()) return {};
          tool.name = std::move(fn.name);
          tool.description = std::move(fn.description);
          tool.parameters = std::move(fn.parameters);
          has_function = true;
          return {};
        }
        if (auto e = validate(fv, 0)) return malformed(e);  // built-in tools are forwarded raw, so walked
        return {};
      },
      JsonErrors{}));
  if (!has_type) return field_error(path(".type"), "is required");
  if (tool.type == "function") {
    if (!fn_result.ok()) return fn_result;
    if (!has_function) return field_error(path(".function"), "is required for function tools");
  } else {
    tool.name.clear();
    tool.description.clear();
    tool.parameters.clear();
    tool.raw.assign(simdjson::trim(raw));
  }
  return {};
}

}  // namespace

Step parse_tools(od::value& v, std::vector<ToolDef>& out) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  return each_element(v, fixed("tools"), "must be an array",
                      [&](od::value& tv, std::size_t i) { return parse_tool(tv, out.emplace_back(), i); });
}

Step parse_tool_choice(od::value& v, ChatRequest& r) {
  constexpr std::string_view kProblem =
      "must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t == od::json_type::string) {
    std::string_view s;
    ZG_TRY(get_as(v, s, fixed("tool_choice"), kProblem));
    if (s == "auto") r.tool_choice = ToolChoice::auto_;
    else if (s == "none") r.tool_choice = ToolChoice::none;
    else if (s == "required") r.tool_choice = ToolChoice::required;
    else return field_error("tool_choice", kProblem);
    return {};
  }
  std::string_view type;
  bool has_name = false;
  ZG_TRY(each_member(v, fixed("tool_choice"), kProblem, [&](std::string_view k, od::value& fv) -> Step {
    if (k == "type") return get_as(fv, type, fixed("tool_choice.type"), "must be a string");
    if (k != "function") return {};
    return each_member(fv, fixed("tool_choice.function"), "must be an object",
                       [&](std::string_view gk, od::value& gv) -> Step {
                         if (gk != "name") return {};
                         return string_into(gv, r.tool_choice_name, fixed("tool_choice.function.name"), &has_name);
                       });
  }));
  if (type != "function") return field_error("tool_choice", kProblem);
  if (!has_name) return field_error("tool_choice.function.name", "is required");
  r.tool_choice = ToolChoice::named;
  return {};
}

}  // namespace zgate::openai::detail
