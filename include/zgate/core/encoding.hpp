#pragma once
// Byte encodings: base64 (RFC 4648 §4), base64url without padding (§5, as JWTs use it) and hex.
#include <optional>
#include <string>
#include <string_view>

namespace zgate::encoding {

std::string base64_encode(std::string_view bytes);
// Decodes standard or URL-safe base64, padded or not; ASCII whitespace is skipped.
// nullopt on any other character, data after padding, or an impossible length.
std::optional<std::string> base64_decode(std::string_view text);

// base64url without padding, appended to `out` / returned.
void append_base64url(std::string& out, std::string_view bytes);
std::string base64url_encode(std::string_view bytes);

// application/x-www-form-urlencoded (query strings): '+' is a space, %XX a byte; nullopt for a
// broken escape ('%' not followed by two hex digits).
std::optional<std::string> form_decode(std::string_view s);

// Lower-case hex, two digits per byte.
std::string hex_encode(std::string_view bytes);

// The value of one hex digit (either case), or -1.
constexpr int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace zgate::encoding
