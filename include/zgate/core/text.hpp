#pragma once
// Small text helpers used across the core, the I/O shell and the mock: one home each.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zgate::text {

// ASCII whitespace (space, \t, \n, \v, \f, \r) removed from both ends.
std::string_view trim(std::string_view s);

// ASCII case-insensitive comparison (HTTP header names, URL schemes, tokens).
bool iequals(std::string_view a, std::string_view b);

// ASCII lower case copy.
std::string to_lower(std::string_view s);

// A decimal port number 1..65535, or 0..65535 when `allow_zero` (0 = any port, for tests).
std::optional<uint16_t> parse_port(std::string_view s, bool allow_zero = false);

// "1/true/yes/on" and "0/false/no/off" (case-insensitive, trimmed); nullopt otherwise.
std::optional<bool> parse_bool(std::string_view s);

// The non-empty items of a comma-separated list, each trimmed ("a, b,,c" -> a, b, c).
std::vector<std::string> split_list(std::string_view s);

// `s` made safe to print on a terminal: control characters (C0, DEL, and C1 as UTF-8, U+0080..
// U+009F) are shown as \xNN / \u00NN, so that data (a model name a client sent, say) cannot
// move the cursor, rename the window or start an escape sequence. Everything else is kept.
std::string printable(std::string_view s);

}  // namespace zgate::text
