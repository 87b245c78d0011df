#pragma once
// Telling, in a left-to-right walk over JSON text, which characters stand inside a string
// literal, for the light scans that look for structure ('{', ',', ':') without a parser.
namespace zgate::json {

// Feed every character in order; `inside` is true for the quotes of a string literal and all
// that stands between them (escaped quotes included), false for the structure around them.
struct StringScan {
  bool in_string = false;
  bool escaped = false;

  constexpr bool inside(char c) noexcept {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      return true;
    }
    if (c == '"') in_string = true;
    return in_string;
  }
};

}  // namespace zgate::json
