// The OpenAI front: `messages` (roles, content strings or parts, assistant tool calls, tool
// results) into ChatRequest::messages.
#include <fmt/format.h>

#include "parse.hpp"

namespace zgate::openai::detail {
namespace {

Step parse_image_url(od::value& v, ContentPart& part, std::size_t i, std::size_t j) {
  auto path = [&](std::string_view leaf) {
    return fmt::format("messages[{}].content[{}].image_url{}", i, j, leaf);
  };
  const auto whole = [&] { return path(""); };
  constexpr std::string_view kProblem = "must be an object with a 'url'";
  od::json_type t;
  ZG_TRY(type_of(v, t));
  // Some clients send the URL directly; accept it rather than fail on a harmless variant.
  if (t == od::json_type::string) {
    std::string_view url;
    ZG_TRY(get_as(v, url, whole, kProblem));
    part.text.assign(url);
    return {};
  }
  bool has_url = false;
  ZG_TRY(each_member(v, whole, kProblem, [&](std::string_view k, od::value& fv) -> Step {
    if (k == "url") return string_into(fv, part.text, [&] { return path(".url"); }, &has_url);
    if (k == "detail") return nullable_string_into(fv, part.detail, [&] { return path(".detail"); });
    return {};
  }));
  if (!has_url) return field_error(path(".url"), "is required");
  return {};
}

Step parse_part(od::value& v, Message& m, std::size_t i, std::size_t j) {
  auto path = [&](std::string_view leaf) { return fmt::format("messages[{}].content[{}]{}", i, j, leaf); };
  const auto whole = [&] { return path(""); };
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t != od::json_type::object) return field_error(path(""), "must be an object");
  od::object obj;
  ZG_TRY(get_as(v, obj, whole, "must be an object"));
  // Take the raw text first (it does not unescape anything), then rewind for the fields: parts
  // of an unknown type are kept verbatim.
  std::string_view raw;
  ZG_TRY(raw_then_rewind(obj, raw));

  ContentPart part;
  std::string_view type;
  bool has_type = false, has_text = false, has_image = false;
  ZG_TRY(json::for_each_member<json::Keys::unescaped>(
      obj,
      [&](std::string_view k, od::value& fv) -> Step {
        if (k == "type") {
          // `type` must outlive later unescapes; the parser's string buffer keeps it (one document).
          ZG_TRY(get_as(fv, type, [&] { return path(".type"); }, "must be a string"));
          has_type = true;
          return {};
        }
        if (k == "text") return string_into(fv, part.text, [&] { return path(".text"); }, &has_text);
        if (k == "image_url") {
          has_image = true;
          return parse_image_url(fv, part, i, j);
        }
        if (auto e = validate(fv, 0)) return malformed(e);  // video_url, file_url, ...: forwarded raw, so walked
        return {};
      },
      JsonErrors{}));
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

Step parse_content(od::value& v, Message& m, std::size_t i) {
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
      m.has_parts = true;
      m.content_null = false;
      ZG_TRY(each_element(v, path, kProblem, [&](od::value& pv, std::size_t j) { return parse_part(pv, m, i, j); }));
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

// `function.arguments`: a JSON-encoded string, or (some clients) the decoded object / array,
// whose wire form is its JSON text; null means none.
template <class P>
Step parse_arguments(od::value& v, ToolCall& call, bool& has_arguments, P&& path) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  if (t == od::json_type::string) return string_into(v, call.arguments, path, &has_arguments);
  if (t == od::json_type::object || t == od::json_type::array) {
    has_arguments = true;
    return raw_of(v, call.arguments);
  }
  if (t != od::json_type::null) return field_error(path(), "must be a string");
  return {};
}

Step parse_tool_call(od::value& v, ToolCall& call, std::size_t i, std::size_t j) {
  auto path = [&](std::string_view leaf) { return fmt::format("messages[{}].tool_calls[{}]{}", i, j, leaf); };
  bool has_id = false, has_function = false, has_name = false, has_arguments = false;
  ZG_TRY(each_member(v, [&] { return path(""); }, "must be an object", [&](std::string_view k, od::value& fv) -> Step {
    if (k == "id") return string_into(fv, call.id, [&] { return path(".id"); }, &has_id);
    if (k != "function") return {};
    has_function = true;
    return each_member(fv, [&] { return path(".function"); }, "must be an object",
                       [&](std::string_view gk, od::value& gv) -> Step {
                         if (gk == "name") return string_into(gv, call.name, [&] { return path(".function.name"); }, &has_name);
                         if (gk == "arguments") {
                           return parse_arguments(gv, call, has_arguments, [&] { return path(".function.arguments"); });
                         }
                         return {};
                       });
  }));
  if (!has_id) return field_error(path(".id"), "is required");
  if (!has_function) return field_error(path(".function"), "is required");
  if (!has_name) return field_error(path(".function.name"), "is required");
  // A call without arguments is a call with none; "{}" keeps it valid JSON for the upstream.
  if (!has_arguments) call.arguments = "{}";
  return {};
}

template <class P>
Step parse_role(od::value& v, Role& role, P&& path) {
  std::string_view s;
  ZG_TRY(get_as(v, s, path, "must be a string"));
  if (s == "user") role = Role::user;
  else if (s == "assistant") role = Role::assistant;
  else if (s == "system" || s == "developer") role = Role::system;  // developer = newer name
  else if (s == "tool") role = Role::tool;
  else return bad_request(fmt::format("Unsupported role '{}' in '{}'", s, path()), path());
  return {};
}

Step parse_message(od::value& v, Message& m, std::size_t i) {
  auto path = [&](std::string_view leaf) { return fmt::format("messages[{}]{}", i, leaf); };
  bool has_role = false, has_tool_call_id = false;
  m.content_null = true;  // until a content is seen
  ZG_TRY(each_member(v, [&] { return path(""); }, "must be an object", [&](std::string_view k, od::value& fv) -> Step {
    if (k == "role") {
      has_role = true;
      return parse_role(fv, m.role, [&] { return path(".role"); });
    }
    if (k == "content") return parse_content(fv, m, i);
    if (k == "name") return nullable_string_into(fv, m.name, [&] { return path(".name"); });
    if (k == "tool_call_id") {
      return nullable_string_into(fv, m.tool_call_id, [&] { return path(".tool_call_id"); }, &has_tool_call_id);
    }
    if (k == "reasoning_content") {
      return nullable_string_into(fv, m.reasoning_content, [&] { return path(".reasoning_content"); });
    }
    if (k == "tool_calls") {
      od::json_type t;
      ZG_TRY(type_of(fv, t));
      if (is_null(t)) return {};
      return each_element(fv, [&] { return path(".tool_calls"); }, "must be an array",
                          [&](od::value& cv, std::size_t j) { return parse_tool_call(cv, m.tool_calls.emplace_back(), i, j); });
    }
    // Other message keys (refusal, audio, ...) carry nothing an upstream can use.
    return {};
  }));
  if (!has_role) return field_error(path(".role"), "is required");
  if (m.role == Role::tool && !has_tool_call_id)
    return field_error(path(".tool_call_id"), "is required for messages with role 'tool'");
  if (m.role != Role::assistant && !m.tool_calls.empty())
    return field_error(path(".tool_calls"), "is only allowed on messages with role 'assistant'");
  if (m.content_null) {
    if (m.role != Role::assistant)
      return field_error(path(".content"), fmt::format("is required for messages with role '{}'", to_string(m.role)));
    if (m.tool_calls.empty())
      return field_error(path(".content"), "must not be null unless the assistant message has 'tool_calls'");
  }
  return {};
}

}  // namespace

Step parse_messages(od::value& v, std::vector<Message>& out) {
  constexpr std::string_view kProblem = "must be a non-empty array";
  out.reserve(8);  // most conversations sent at once are short: one allocation, no moves
  std::size_t n = 0;
  ZG_TRY(each_element(
      v, fixed("messages"), kProblem,
      [&](od::value& mv, std::size_t i) { return parse_message(mv, out.emplace_back(), i); }, &n));
  if (n == 0) return field_error("messages", kProblem);
  return {};
}

}  // namespace zgate::openai::detail
