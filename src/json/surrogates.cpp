#include "zgate/json/surrogates.hpp"

#include "zgate/core/encoding.hpp"

namespace zgate::json {
namespace {

// Code point (or lone surrogate) as UTF-8 / WTF-8.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_high(uint32_t u) { return u >= 0xD800 && u <= 0xDBFF; }
bool is_low(uint32_t u) { return u >= 0xDC00 && u <= 0xDFFF; }

uint32_t combine(uint32_t high, uint32_t low) { return 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00); }

// The 4 hex digits of a \u escape at in[i..i+4), or -1.
long hex4(std::string_view in, std::size_t i) {
  if (in.size() < i + 4) return -1;
  long v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const int d = encoding::hex_digit(in[i + k]);
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

// The surrogate encoded in WTF-8 at s[i..i+3), or 0.
uint32_t surrogate_at(std::string_view s, std::size_t i) {
  if (i + 3 > s.size() || static_cast<unsigned char>(s[i]) != 0xED) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  const auto b2 = static_cast<unsigned char>(s[i + 2]);
  if (b1 < 0xA0 || b1 > 0xBF || (b2 & 0xC0) != 0x80) return 0;
  return 0xD000u | ((b1 & 0x3Fu) << 6) | (b2 & 0x3Fu);
}

}  // namespace

bool unescape_wtf8(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    std::size_t run = i;
    while (run < in.size() && in[run] != '"' && in[run] != '\\') ++run;
    out.append(in.data() + i, run - i);
    i = run;
    if (i >= in.size()) break;
    if (in[i] == '"') return true;
    // A backslash escape.
    if (i + 1 >= in.size()) return false;
    const char e = in[i + 1];
    i += 2;
    switch (e) {
      case '"': out.push_back('"'); continue;
      case '\\': out.push_back('\\'); continue;
      case '/': out.push_back('/'); continue;
      case 'b': out.push_back('\b'); continue;
      case 'f': out.push_back('\f'); continue;
      case 'n': out.push_back('\n'); continue;
      case 'r': out.push_back('\r'); continue;
      case 't': out.push_back('\t'); continue;
      case 'u': break;
      default: return false;
    }
    const long u = hex4(in, i);
    if (u < 0) return false;
    i += 4;
    if (is_high(static_cast<uint32_t>(u)) && i + 1 < in.size() && in[i] == '\\' && in[i + 1] == 'u') {
      const long low = hex4(in, i + 2);
      if (low >= 0 && is_low(static_cast<uint32_t>(low))) {
        append_utf8(out, combine(static_cast<uint32_t>(u), static_cast<uint32_t>(low)));
        i += 6;
        continue;
      }
    }
    append_utf8(out, static_cast<uint32_t>(u));  // a lone surrogate stays in its WTF-8 form
  }
  return false;  // no closing quote
}

void append_wtf8_as_utf8(std::string& out, std::string_view in) {
  SurrogateJoiner j;
  j.feed(in, out);
  j.flush(out);
}

void SurrogateJoiner::feed(std::string_view piece, std::string& out) {
  if (piece.empty()) return;
  std::size_t i = 0;
  if (held_ != 0) {
    const uint32_t low = surrogate_at(piece, 0);
    if (is_low(low)) {
      append_utf8(out, combine(held_, low));
      i = 3;
    } else {
      out.append(kReplacementChar);
    }
    held_ = 0;
  }
  std::size_t copied = i;
  while (i < piece.size()) {
    if (static_cast<unsigned char>(piece[i]) != 0xED) {
      ++i;
      continue;
    }
    const uint32_t u = surrogate_at(piece, i);
    if (u == 0) {
      ++i;
      continue;
    }
    out.append(piece.data() + copied, i - copied);
    if (is_high(u)) {
      if (i + 3 == piece.size()) {  // the low half may start the next piece
        held_ = static_cast<uint16_t>(u);
        return;
      }
      const uint32_t low = surrogate_at(piece, i + 3);
      if (is_low(low)) {
        append_utf8(out, combine(u, low));
        i += 6;
        copied = i;
        continue;
      }
    }
    out.append(kReplacementChar);
    i += 3;
    copied = i;
  }
  out.append(piece.data() + copied, piece.size() - copied);
}

std::string& StringSpill::next() {
  if (used_ == slots_.size()) slots_.emplace_back();
  std::string& s = slots_[used_++];
  s.clear();
  return s;
}

void SurrogateJoiner::flush(std::string& out) {
  if (held_ == 0) return;
  held_ = 0;
  out.append(kReplacementChar);
}

}  // namespace zgate::json
