#pragma once
// simdjson helpers shared by the translators: one On Demand parser per thread (parsers are
// not thread-safe and are expensive to create) and padding of borrowed bytes.
#include <string>
#include <string_view>

#include <simdjson.h>

namespace zgate::json {

namespace od = simdjson::ondemand;

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

}  // namespace zgate::json
