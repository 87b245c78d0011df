#pragma once
// Internal to the zai-web dialect: recognising markup in text that arrives in pieces (the
// stream's <details>/<glm_block> tags, the tool-call markers), where a suffix may still become
// a tag once more text comes.
#include <algorithm>
#include <string_view>

namespace zgate::zaiweb::detail {

// Compares `v` with `pattern`: 1 = v starts with pattern, 0 = v is a proper prefix of it
// (undecided), -1 = mismatch.
inline int prefix_state(std::string_view v, std::string_view pattern) {
  const std::size_t n = std::min(v.size(), pattern.size());
  if (v.substr(0, n) != pattern.substr(0, n)) return -1;
  return v.size() >= pattern.size() ? 1 : 0;
}

// An opening tag `<name` followed by a blank, '>' or '/': 1 / 0 (undecided) / -1.
inline int tag_state(std::string_view v, std::string_view name) {
  const int st = prefix_state(v, name);
  if (st <= 0) return st;
  if (v.size() == name.size()) return 0;
  const char c = v[name.size()];
  return c == ' ' || c == '>' || c == '/' || c == '\n' || c == '\t' ? 1 : -1;
}

// A UTF-8 continuation byte.
inline bool is_cont(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace zgate::zaiweb::detail
