#pragma once
// simdjson helpers shared by the translators: one On Demand parser per thread (parsers are
// not thread-safe and are expensive to create) and padding of borrowed bytes.
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "zgate/json/surrogates.hpp"

namespace zgate::json {

namespace od = simdjson::ondemand;

// The deepest nesting of objects and arrays zgate walks in any JSON it reads (request bodies,
// upstream answers). Real requests stay far below it (a tool's JSON schema nests a few dozen
// levels at most); the bound keeps a recursive walk from running off the thread's stack.
inline constexpr unsigned kMaxDepth = 128;

// A JSON number read as a double, as an int64_t: truncated toward zero, saturated at the type's
// limits, 0 for NaN. (A plain cast of a double outside int64_t's range is undefined behaviour,
// and an upstream may send 1e30 as a token count.)
inline int64_t saturate_to_int64(double d) {
  if (!(d == d)) return 0;
  if (d >= 9223372036854775807.0) return INT64_MAX;
  if (d <= -9223372036854775808.0) return INT64_MIN;
  return static_cast<int64_t>(d);
}

// The calling thread's parser. One document at a time: a document obtained from it is
// invalidated by the next iterate() on the same thread.
od::parser& thread_parser();

// Copies `s` into `buf` (reused across calls) with simdjson's padding and returns a view.
simdjson::padded_string_view pad(std::string_view s, std::string& buf);

// Views `s` as padded when the caller guarantees the capacity (e.g. a std::string reserved
// with size + SIMDJSON_PADDING).
inline simdjson::padded_string_view padded_view(const std::string& s) {
  return simdjson::padded_string_view(s.data(), s.size(), s.capacity());
}

// get_string() that survives lone UTF-16 surrogate escapes (see surrogates.hpp): the usual
// simdjson read first; only when simdjson rejects the string is it unescaped by
// unescape_wtf8 into `spill`, and `wobbly` is set. keep_surrogates leaves lone surrogates in
// WTF-8 for a SurrogateJoiner (delta text); otherwise they become U+FFFD here. Other errors
// are returned as they are.
simdjson::error_code get_string_lenient(od::value& v, std::string_view& out, StringSpill& spill,
                                        bool keep_surrogates, bool& wobbly);

}  // namespace zgate::json
