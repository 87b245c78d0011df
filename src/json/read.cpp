#include "zgate/json/read.hpp"

#include "zgate/json/dom.hpp"

namespace zgate::json {

od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

simdjson::dom::parser& thread_dom_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

simdjson::padded_string_view pad(std::string_view s, std::string& buf) {
  if (buf.capacity() < s.size() + simdjson::SIMDJSON_PADDING) buf.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  buf.assign(s.data(), s.size());
  return simdjson::padded_string_view(buf.data(), buf.size(), buf.capacity());
}

simdjson::error_code get_string_lenient(od::value& v, std::string_view& out, StringSpill& spill,
                                        bool keep_surrogates, bool& wobbly) {
  const simdjson::error_code e = v.get_string().get(out);
  if (e != simdjson::STRING_ERROR) return e;
  // The value's own token, still addressable after the failed read: the opening quote, the
  // escaped text, the closing quote, maybe trailing whitespace.
  const std::string_view raw = v.raw_json_token();
  if (raw.empty() || raw.front() != '"') return e;
  std::string& s = spill.next();
  if (keep_surrogates) {
    if (!unescape_wtf8(raw.substr(1), s)) return e;
  } else {
    std::string& tmp = spill.next();
    if (!unescape_wtf8(raw.substr(1), tmp)) return e;
    append_wtf8_as_utf8(s, tmp);
  }
  out = s;
  wobbly = true;
  return simdjson::SUCCESS;
}

}  // namespace zgate::json
