// The OpenAI front: the structured and scalar options (response_format, thinking,
// reasoning_effort, stop, stream_options, sampling numbers, token limits).
#include "parse.hpp"

namespace zgate::openai::detail {

Step parse_response_format(od::value& v, ChatRequest& r) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  bool has_type = false, has_schema = false;
  ZG_TRY(each_member(v, fixed("response_format"), "must be an object", [&](std::string_view k, od::value& fv) -> Step {
    if (k == "type") {
      std::string_view s;
      ZG_TRY(get_as(fv, s, fixed("response_format.type"), "must be a string"));
      if (s != "text" && s != "json_object" && s != "json_schema")
        return field_error("response_format.type", "must be one of 'text', 'json_object', 'json_schema'");
      r.response_format.assign(s);
      has_type = true;
      return {};
    }
    if (k == "json_schema") {
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) return {};
      if (t != od::json_type::object) return field_error("response_format.json_schema", "must be an object");
      has_schema = true;
      return raw_of(fv, r.json_schema);
    }
    return {};
  }));
  if (!has_type) return field_error("response_format.type", "is required");
  if (r.response_format == "json_schema" && !has_schema)
    return field_error("response_format.json_schema", "is required when 'response_format.type' is 'json_schema'");
  if (r.response_format != "json_schema") r.json_schema.clear();
  return {};
}

Step parse_thinking(od::value& v, std::optional<bool>& out) {
  constexpr std::string_view kProblem = "must be 'enabled' or 'disabled'";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  if (t != od::json_type::object) return field_error("thinking", "must be an object like {\"type\":\"enabled\"}");
  ZG_TRY(each_member(v, fixed("thinking"), "must be an object", [&](std::string_view k, od::value& fv) -> Step {
    if (k != "type") return {};  // clear_thinking, budget_tokens, ...: not interpreted
    std::string_view s;
    ZG_TRY(get_as(fv, s, fixed("thinking.type"), kProblem));
    if (s == "enabled") out = true;
    else if (s == "disabled") out = false;
    else return field_error("thinking.type", kProblem);
    return {};
  }));
  if (!out) return field_error("thinking.type", "is required");
  return {};
}

Step parse_reasoning_effort(od::value& v, std::string& out) {
  constexpr std::string_view kProblem = "must be one of 'none', 'minimal', 'low', 'medium', 'high'";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  std::string_view s;
  ZG_TRY(get_as(v, s, fixed("reasoning_effort"), kProblem));
  if (s != "none" && s != "minimal" && s != "low" && s != "medium" && s != "high")
    return field_error("reasoning_effort", kProblem);
  out.assign(s);
  return {};
}

Step parse_stop(od::value& v, std::vector<std::string>& out) {
  constexpr std::string_view kProblem = "must be a string or an array of strings";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  const auto get_one = [&](od::value& sv) -> Step {
    std::string_view s;
    ZG_TRY(get_as(sv, s, fixed("stop"), kProblem));
    out.emplace_back(s);
    return {};
  };
  if (t == od::json_type::string) return get_one(v);
  return each_element(v, fixed("stop"), kProblem, [&](od::value& sv, std::size_t) { return get_one(sv); });
}

Step parse_stream_options(od::value& v, bool& include_usage) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (is_null(t)) return {};
  return each_member(v, fixed("stream_options"), "must be an object", [&](std::string_view k, od::value& fv) -> Step {
    if (k != "include_usage") return {};
    std::optional<bool> b;
    ZG_TRY(optional_scalar(fv, b, "stream_options.include_usage", "must be a boolean"));
    if (b) include_usage = *b;
    return {};
  });
}

Step number_in(od::value& v, std::optional<double>& out, std::string_view name, double lo, double hi,
               std::string_view problem) {
  ZG_TRY(optional_scalar(v, out, name, problem));
  if (out && !(*out >= lo && *out <= hi)) return field_error(std::string(name), problem);
  return {};
}

Step positive_int(od::value& v, std::optional<int64_t>& out, std::string_view name) {
  ZG_TRY(optional_scalar(v, out, name, "must be a positive integer"));
  if (out && *out <= 0) return field_error(std::string(name), "must be a positive integer");
  return {};
}

}  // namespace zgate::openai::detail
