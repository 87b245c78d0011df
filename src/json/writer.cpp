#include "zgate/json/writer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "zgate/core/swar.hpp"

namespace zgate::json {
namespace {

// 0 = copy as is; 1 = needs escaping; 2 = lead byte of a possible U+2028/U+2029.
constexpr std::array<unsigned char, 256> make_table() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  t[0xE2] = 2;
  return t;
}
constexpr auto kEscape = make_table();

// Where escaped text goes: a std::string, or a raw buffer sized beforehand (write_escaped).
struct PtrOut {
  char* p;
  void append(const char* s, std::size_t n) {
    if (n == 0) return;  // an empty view's data() may be null, which memcpy must not get
    std::memcpy(p, s, n);
    p += n;
  }
};

template <typename Out>
void escape_one(Out& out, unsigned char c) {
  switch (c) {
    case '"': out.append("\\\"", 2); return;
    case '\\': out.append("\\\\", 2); return;
    case '\n': out.append("\\n", 2); return;
    case '\r': out.append("\\r", 2); return;
    case '\t': out.append("\\t", 2); return;
    case '\b': out.append("\\b", 2); return;
    case '\f': out.append("\\f", 2); return;
    default: {
      static constexpr char hex[] = "0123456789abcdef";
      const char buf[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      out.append(buf, 6);
    }
  }
}

// Non-zero if any byte of `w` is < 0x20, '"', '\\' or 0xE2. The byte-at-a-time table loop was
// the largest single cost of encoding a response; most text has no byte to escape, so whole
// words are skipped.
inline uint64_t needs_attention(uint64_t w) {
  return swar::has_below(w, 0x20) | swar::has_byte(w, '"') | swar::has_byte(w, '\\') | swar::has_byte(w, 0xE2);
}

}  // namespace

Writer& Writer::key(Key k) {
  // `,"name":` assembled on the stack and appended at once: keys are the most frequent thing a
  // response writes, and three appends would each be a call with its own capacity check.
  const std::string_view v = k.view();
  char buf[64];
  if (v.size() > sizeof buf - 4) {
    comma();
    out_.push_back('"');
    out_.append(v);
    out_.append("\":", 2);
  } else {
    std::size_t n = 0;
    if (next_element()) buf[n++] = ',';
    buf[n++] = '"';
    std::memcpy(buf + n, v.data(), v.size());
    n += v.size();
    buf[n++] = '"';
    buf[n++] = ':';
    out_.append(buf, n);
  }
  after_key_ = true;
  return *this;
}

namespace {
template <typename Out>
void escape_into(Out& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t run = 0;  // start of the pending clean run
  std::size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      if (!needs_attention(swar::load8(p + i))) {
        i += 8;
        continue;
      }
    }
    // This word (or the tail) holds a byte to look at: go through it byte by byte.
    for (const std::size_t end = std::min(n, i + 8); i < end; ++i) {
      const unsigned char k = kEscape[p[i]];
      if (k == 0) continue;
      if (k == 2) {
        // U+2028 / U+2029 (E2 80 A8 / E2 80 A9) are valid JSON but break JavaScript parsers.
        if (i + 2 < n && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
          out.append(s.data() + run, i - run);
          out.append(p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
          i += 2;
          run = i + 1;
        }
        continue;
      }
      out.append(s.data() + run, i - run);
      escape_one(out, p[i]);
      run = i + 1;
    }
  }
  out.append(s.data() + run, n - run);
}

}  // namespace

void append_escaped(std::string& out, std::string_view s) { escape_into(out, s); }

char* write_escaped(char* out, std::string_view s) {
  PtrOut o{out};
  escape_into(o, s);
  return o.p;
}

void append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_escaped(out, s);
  out.push_back('"');
}

Writer& Writer::open(char bracket) {
  comma();
  out_.push_back(bracket);
  ++depth_;
  has_elem_ &= ~(uint64_t{1} << (depth_ - 1));
  return *this;
}
Writer& Writer::close(char bracket) {
  out_.push_back(bracket);
  --depth_;
  return *this;
}
Writer& Writer::begin_object() { return open('{'); }
Writer& Writer::end_object() { return close('}'); }
Writer& Writer::begin_array() { return open('['); }
Writer& Writer::end_array() { return close(']'); }
Writer& Writer::key_escaped(std::string_view k) {
  comma();
  append_string(out_, k);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}
Writer& Writer::string(std::string_view v) {
  comma();
  append_string(out_, v);
  return *this;
}
Writer& Writer::number(int64_t v) {
  comma();
  const fmt::format_int f(v);
  out_.append(f.data(), f.size());
  return *this;
}
Writer& Writer::number(uint64_t v) {
  comma();
  const fmt::format_int f(v);
  out_.append(f.data(), f.size());
  return *this;
}
Writer& Writer::number(double v) {
  comma();
  if (!std::isfinite(v)) {
    out_.append("null", 4);
    return *this;
  }
  fmt::format_to(std::back_inserter(out_), "{}", v);
  return *this;
}
Writer& Writer::boolean(bool v) {
  comma();
  if (v) out_.append("true", 4); else out_.append("false", 5);
  return *this;
}
Writer& Writer::null() {
  comma();
  out_.append("null", 4);
  return *this;
}
Writer& Writer::raw(std::string_view json) {
  comma();
  out_.append(json);
  return *this;
}

}  // namespace zgate::json
