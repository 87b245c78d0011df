#pragma once
// A tiny streaming JSON writer that appends to a caller-owned std::string.
// Our own rather than a library because it sits on the per-chunk hot path: no tree, no
// allocation beyond the output string's growth (which is reused across chunks), commas are
// automatic, and string escaping bulk-copies clean runs using a 256-entry table.
#include <cstdint>
#include <string>
#include <string_view>

namespace zgate::json {

// Appends `s` JSON-escaped (without quotes) to `out`. Control characters become \u00XX,
// '"' and '\\' are escaped, and U+2028/U+2029 are escaped so the output is safe in JS.
void append_escaped(std::string& out, std::string_view s);
// Appends `s` as a quoted JSON string.
void append_string(std::string& out, std::string_view s);

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);        // escapes k
  Writer& string(std::string_view v);     // escapes v
  Writer& number(int64_t v);
  Writer& number(uint64_t v);
  Writer& number(int v) { return number(static_cast<int64_t>(v)); }
  Writer& number(double v);               // shortest round-trip; NaN/Inf -> null
  Writer& boolean(bool v);
  Writer& null();
  Writer& raw(std::string_view json);     // a pre-encoded JSON value, copied verbatim

  // key + value helpers
  Writer& kv(std::string_view k, std::string_view v) { return key(k).string(v); }
  Writer& kv(std::string_view k, const char* v) { return key(k).string(v); }
  Writer& kv(std::string_view k, int64_t v) { return key(k).number(v); }
  Writer& kv(std::string_view k, int v) { return key(k).number(static_cast<int64_t>(v)); }
  Writer& kv(std::string_view k, double v) { return key(k).number(v); }
  Writer& kv_bool(std::string_view k, bool v) { return key(k).boolean(v); }
  Writer& kv_raw(std::string_view k, std::string_view json) { return key(k).raw(json); }

  std::string& out() { return out_; }

 private:
  void comma();
  std::string& out_;
  // Bit i set = the container at depth i already has an element (needs a comma). 64 levels.
  uint64_t has_elem_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace zgate::json
