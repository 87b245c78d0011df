#pragma once
// A tiny streaming JSON writer that appends to a caller-owned std::string.
// Our own rather than a library because it sits on the per-chunk hot path: no tree, no
// allocation beyond the output string's growth (which is reused across chunks), commas are
// automatic, and string escaping bulk-copies clean runs using a 256-entry table.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zgate::json {

// Appends `s` JSON-escaped (without quotes) to `out`. Control characters become \u00XX,
// '"' and '\\' are escaped, and U+2028/U+2029 are escaped so the output is safe in JS.
void append_escaped(std::string& out, std::string_view s);
// The same into a raw buffer with room for 6 * s.size() bytes; returns the end of what it wrote.
char* write_escaped(char* out, std::string_view s);
// Appends `s` as a quoted JSON string.
void append_string(std::string& out, std::string_view s);

// An object key known at compile time. It can only be built from a string literal, which is
// checked at compile time to need no escaping, so writing it is a copy rather than a scan
// (keys are most of the strings in a response). Keys from data go through key_escaped().
class Key {
 public:
  template <std::size_t N>
  consteval Key(const char (&s)[N]) : s_(s, N - 1) {  // NOLINT: implicit on purpose
    for (const char c : s_) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x80 || c == '"' || c == '\\') throw "JSON key literal needs escaping";
    }
  }
  constexpr std::string_view view() const { return s_; }

 private:
  std::string_view s_;
};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(Key k);                     // copied as is (checked at compile time)
  Writer& key_escaped(std::string_view k);  // a key from data: escapes k
  Writer& string(std::string_view v);     // escapes v
  Writer& number(int64_t v);
  Writer& number(uint64_t v);
  Writer& number(int v) { return number(static_cast<int64_t>(v)); }
  Writer& number(double v);               // shortest round-trip; NaN/Inf -> null
  Writer& boolean(bool v);
  Writer& null();
  Writer& raw(std::string_view json);     // a pre-encoded JSON value, copied verbatim

  // key + value helpers
  Writer& kv(Key k, std::string_view v) { return key(k).string(v); }
  Writer& kv(Key k, const char* v) { return key(k).string(v); }
  Writer& kv(Key k, int64_t v) { return key(k).number(v); }
  Writer& kv(Key k, int v) { return key(k).number(static_cast<int64_t>(v)); }
  Writer& kv(Key k, double v) { return key(k).number(v); }
  Writer& kv_bool(Key k, bool v) { return key(k).boolean(v); }
  Writer& kv_raw(Key k, std::string_view json) { return key(k).raw(json); }

  std::string& out() { return out_; }

 private:
  // Notes that an element starts here; true when a ',' must precede it.
  bool next_element() {
    if (after_key_) {
      after_key_ = false;
      return false;
    }
    if (depth_ == 0) return false;
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    const bool comma = (has_elem_ & bit) != 0;
    has_elem_ |= bit;
    return comma;
  }
  void comma() {
    if (next_element()) out_.push_back(',');
  }
  // Opens / closes an object or array (`bracket` is '{' / '[' or '}' / ']').
  Writer& open(char bracket);
  Writer& close(char bracket);
  std::string& out_;
  // Bit i set = the container at depth i already has an element (needs a comma). 64 levels.
  uint64_t has_elem_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace zgate::json
