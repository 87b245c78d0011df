// The OpenAI front: parse_chat_request, the top level of the body (one On Demand pass: every
// value visited once, in order, either decoded into ChatRequest or kept verbatim in `extra`).
// The pieces are in messages.cpp, tools.cpp and options.cpp. Errors are values: nothing on
// this path throws.
#include "zgate/front/openai/request.hpp"

#include <array>
#include <cstdint>

#include <fmt/format.h>

#include "parse.hpp"
#include "zgate/json/string_scan.hpp"

namespace zgate::openai {
namespace {

using namespace detail;

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

// A boolean option; null means false.
Step flag(od::value& v, bool& out, std::string_view name) {
  std::optional<bool> b;
  ZG_TRY(optional_scalar(v, b, name, "must be a boolean"));
  out = b.value_or(false);
  return {};
}

Key lookup(std::string_view k) {
  for (unsigned i = 0; i < k_count; ++i)
    if (kKeys[i] == k) return static_cast<Key>(i);
  return k_unknown;
}

Step parse_root(od::object& root, ChatRequest& r) {
  uint32_t seen = 0;
  std::optional<int64_t> max_tokens, max_completion_tokens;
  std::optional<bool> explicit_thinking;
  bool has_model = false, has_messages = false;

  ZG_TRY(json::for_each_member<json::Keys::unescaped>(root, [&](std::string_view k, od::value& v) -> Step {
    const Key key = lookup(k);

    if (key == k_unknown) {
      // Duplicates of unknown keys are as ambiguous as known ones; the list is short.
      for (const auto& [ek, ev] : r.extra)
        if (ek == k) return bad_request(fmt::format("duplicate key '{}'", k), std::string(k));
      std::string key_copy(k);  // copied before the value's strings are unescaped
      std::string raw;
      ZG_TRY(raw_of(v, raw));
      r.extra.emplace_back(std::move(key_copy), std::move(raw));
      return {};
    }
    const uint32_t bit = uint32_t{1} << key;
    if (seen & bit) return bad_request(fmt::format("duplicate key '{}'", k), std::string(k));
    seen |= bit;

    switch (key) {
      case k_model:
        ZG_TRY(nullable_string_into(v, r.model, fixed("model")));
        has_model = !r.model.empty();
        break;
      case k_messages:
        ZG_TRY(parse_messages(v, r.messages));
        has_messages = true;
        break;
      case k_stream:
        ZG_TRY(flag(v, r.stream, "stream"));
        break;
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
      case k_user:
        ZG_TRY(nullable_string_into(v, r.user, fixed("user")));
        break;
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
      case k_reasoning_effort:
        ZG_TRY(parse_reasoning_effort(v, r.reasoning_effort));
        break;
      case k_tool_stream:
        ZG_TRY(flag(v, r.tool_stream, "tool_stream"));
        break;
      case k_count:
        break;
    }
    return {};
  }, JsonErrors{}));

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
  json::StringScan str;
  for (const char ch : body) {
    if (str.inside(ch)) continue;
    if (ch == '{' || ch == '[') ++t.open;
    else if ((ch == '}' || ch == ']') && t.open > 0) --t.open;
  }
  t.in_string = str.in_string;
  t.truncated = t.in_string || t.open > 0;
  return t;
}

ApiError with_truncation(ApiError e, std::string_view body) {
  if (e.status == 400 && e.code.empty() && e.param.empty()) {
    if (const Truncation t = truncation_of(body); t.truncated) {
      e.message = fmt::format("We could not parse the JSON body of your request: it is truncated, ending at byte {} "
                              "inside {}{} unclosed {}",
                              body.size(), t.in_string ? "a string and " : "", t.open,
                              t.open == 1 ? "object or array" : "objects or arrays");
      e.code = "json_truncated";
    }
  }
  return e;
}

// Parses into `req`; the error as the parser or the walk found it.
Step parse_into(std::string_view padded_body, ChatRequest& req) {
  auto& parser = json::thread_parser();
  const simdjson::padded_string_view input(padded_body.data(), padded_body.size(),
                                           padded_body.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (auto e = parser.iterate(input).get(doc)) return json_error(e);
  od::json_type t;
  if (auto e = doc.type().get(t)) return json_error(e);
  od::object root;
  if (t != od::json_type::object || doc.get_object().get(root) != simdjson::SUCCESS) {
    return bad_request("We could not parse the JSON body of your request: the body must be a JSON object");
  }
  ZG_TRY(parse_root(root, req));
  // On Demand stops at the object's closing brace; anything after it is malformed input.
  if (doc.current_location().error() == simdjson::SUCCESS) return json_error(simdjson::TRAILING_CONTENT);
  return {};
}

}  // namespace

Result<ChatRequest> parse_chat_request(std::string_view padded_body) {
  // Filled in place and returned by name (one return), so the parsed request is not moved.
  Result<ChatRequest> res = ChatRequest{};
  if (Step s = parse_into(padded_body, *res); !s.ok()) res = with_truncation(std::move(s).error(), padded_body);
  return res;
}

}  // namespace zgate::openai
