#include "zgate/json/read.hpp"

namespace zgate::json {

od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

simdjson::padded_string_view pad(std::string_view s, std::string& buf) {
  if (buf.capacity() < s.size() + simdjson::SIMDJSON_PADDING) buf.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  buf.assign(s.data(), s.size());
  return simdjson::padded_string_view(buf.data(), buf.size(), buf.capacity());
}

}  // namespace zgate::json
