#pragma once
// Lone UTF-16 surrogate escapes in upstream JSON strings.
//
// Why this exists: the upstreams stream text token by token, and a tokenizer may split a
// character outside the BMP between two chunks, so one delta ends with "\ud83c" and the next
// starts with "\udf0f". Each half alone is not a Unicode scalar value: simdjson rejects the
// string (STRING_ERROR), and passing it on would hand clients JSON that many cannot decode or
// print. The decoders read strings with simdjson as usual and only when it rejects one
// (json::get_string_lenient in read.hpp) unescape it here, keeping lone surrogates as WTF-8
// (the 3-byte generalised UTF-8 form, ED A0..BF xx). A SurrogateJoiner per text field then
// turns that into valid UTF-8 for the client: a high surrogate at the end of one delta is held
// and combined with a low surrogate starting the next delta of the same field; anything that
// cannot be paired becomes U+FFFD, so nothing is passed on invalid and nothing is dropped.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace zgate::json {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD, UTF-8

// Unescapes the JSON string that starts right after its opening quote in `in` and ends at the
// first unescaped '"', appending it to `out` as WTF-8: escaped surrogate pairs are combined,
// lone surrogates are written in their 3-byte form. Other bytes are copied as they are (the
// caller's parser has validated the document's UTF-8). False, with `out` partly written, for
// an invalid escape or a missing closing quote.
bool unescape_wtf8(std::string_view in, std::string& out);

// Appends WTF-8 `in` to `out` as UTF-8: adjacent high + low surrogates are combined, every
// other surrogate becomes U+FFFD. For strings that stand alone (ids, names, messages).
void append_wtf8_as_utf8(std::string& out, std::string_view in);

// One text field streamed in pieces (a delta stream). Each piece goes through feed(); a high
// surrogate ending a piece is held back until the next piece shows whether a low surrogate
// completes it. Plain UTF-8 pieces pass through unchanged apart from a held surrogate.
class SurrogateJoiner {
 public:
  // Appends `piece` (WTF-8, or plain UTF-8) to `out` as UTF-8. A held high surrogate is
  // combined with a low surrogate starting `piece`, or written as U+FFFD before it. An empty
  // piece changes nothing.
  void feed(std::string_view piece, std::string& out);
  // Writes a held high surrogate as U+FFFD (the field ended without its low half).
  void flush(std::string& out);
  bool holding() const { return held_ != 0; }
  void reset() { held_ = 0; }

 private:
  uint16_t held_ = 0;  // a high surrogate (0xD800..0xDBFF) not written yet, 0 = none
};

// Strings decoded off simdjson's path (json::get_string_lenient), owned until reset(): views
// into them stay valid while more are added. Reused across payloads, so steady state
// allocates nothing.
class StringSpill {
 public:
  std::string& next();
  void reset() { used_ = 0; }

 private:
  std::deque<std::string> slots_;
  std::size_t used_ = 0;
};

}  // namespace zgate::json
