#include "zgate/model/events.hpp"

#include "zgate/core/ids.hpp"
#include "zgate/model/request.hpp"

namespace zgate {

std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::tool_calls: return "tool_calls";
    case FinishReason::content_filter: return "content_filter";
    case FinishReason::error: return "error";
    case FinishReason::none: break;
  }
  return "";
}

std::string random_alnum_id(std::string_view prefix, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  s.reserve(prefix.size() + n);
  s.append(prefix);
  for (std::size_t i = 0; i < n; ++i) s.push_back(kAlphabet[ids::next_random() % (sizeof(kAlphabet) - 1)]);
  return s;
}

std::string new_call_id() { return random_alnum_id("call_", 24); }

std::string_view to_string(Role r) {
  switch (r) {
    case Role::system: return "system";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool: return "tool";
  }
  return "";
}

}  // namespace zgate
