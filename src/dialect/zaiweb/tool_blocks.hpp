#pragma once
// Internal to the zai-web dialect: parsing a complete tool-call block of the emulation protocol
// (the XML <function_calls> block, or the JSON {"tool_calls":[...]} shape) into calls.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zgate::zaiweb::detail {

struct ParsedCall {
  std::string id, name, arguments;
};

// End (one past the closing brace) of the balanced JSON value starting at s[0] == '{' or '[';
// npos while it is unterminated.
std::size_t balanced_end(std::string_view s);

// Position of `close` at or after `from`, skipping CDATA sections (whose content may contain
// anything); npos when absent.
std::size_t find_close(std::string_view s, std::size_t from, std::string_view close);

// The <function_call> elements of a <function_calls> block (name from <tool>/<name>, arguments
// from <args_json>/<arguments>/<parameters> or <args_kv>). False when a call has no name or
// there is none.
bool parse_xml_calls(std::string_view block, std::vector<ParsedCall>& calls);

// The calls of {"tool_calls":[{"id"?, "function":{"name","arguments"}} or {"name","arguments"}]}.
// False when it does not parse, a call has no name, or there is none.
bool parse_json_calls(std::string_view json, std::vector<ParsedCall>& calls);

}  // namespace zgate::zaiweb::detail
