// json::Writer and the escaper: what reaches clients must be valid JSON that is also safe to
// embed in JavaScript.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "zgate/json/writer.hpp"

namespace {

std::string escaped(std::string_view s) {
  std::string out;
  zgate::json::append_escaped(out, s);
  return out;
}

}  // namespace

TEST_CASE("json escape: quotes and backslashes", "[unit][json]") {
  CHECK(escaped(R"(say "hi" \ bye)") == R"(say \"hi\" \\ bye)");
}

TEST_CASE("json escape: named control characters", "[unit][json]") {
  CHECK(escaped("a\nb\rc\td\be\ff") == R"(a\nb\rc\td\be\ff)");
}

TEST_CASE("json escape: other control characters become u00XX escapes", "[unit][json]") {
  CHECK(escaped(std::string_view("\x00\x01\x1f", 3)) == R"(\u0000\u0001\u001f)");
  CHECK(escaped("\x7f") == "\x7f");  // DEL is not a JSON control character
}

TEST_CASE("json escape: U+2028 and U+2029 are escaped", "[unit][json]") {
  CHECK(escaped("a\xE2\x80\xA8" "b\xE2\x80\xA9" "c") == R"(a\u2028b\u2029c)");
}

TEST_CASE("json escape: other E2 sequences pass through", "[unit][json]") {
  // U+2026 (…), U+20AC (€), and an E2 at the very end that cannot start U+2028.
  CHECK(escaped("\xE2\x80\xA6\xE2\x82\xAC") == "\xE2\x80\xA6\xE2\x82\xAC");
  CHECK(escaped("x\xE2\x80") == "x\xE2\x80");
}

TEST_CASE("json escape: UTF-8 passes through unchanged", "[unit][json]") {
  const std::string s = "Olá 你好 \xF0\x9F\x98\x80";
  CHECK(escaped(s) == s);
}

TEST_CASE("json escape: clean runs around escapes are all kept", "[unit][json]") {
  CHECK(escaped("\"start") == "\\\"start");
  CHECK(escaped("end\"") == "end\\\"");
  CHECK(escaped("") == "");
  CHECK(escaped("plain") == "plain");
}

TEST_CASE("json append_string quotes", "[unit][json]") {
  std::string out = "x=";
  zgate::json::append_string(out, "a\"b");
  CHECK(out == R"(x="a\"b")");
}

TEST_CASE("json writer: objects, arrays, nesting and commas", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  w.begin_object();
  w.kv("a", 1).kv("b", "two");
  w.key("c").begin_array().number(1).string("x").begin_object().end_object().begin_array().end_array().null().end_array();
  w.key("d").begin_object().kv_bool("t", true).kv_bool("f", false).end_object();
  w.kv_raw("e", R"({"raw":[1,2]})");
  w.end_object();
  CHECK(out == R"({"a":1,"b":"two","c":[1,"x",{},[],null],"d":{"t":true,"f":false},"e":{"raw":[1,2]}})");
}

TEST_CASE("json writer: keys from data are escaped", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  const std::string k = "k\"\n\xE2\x80\xA8";
  w.begin_object().key_escaped(k).string("v").end_object();
  CHECK(out == R"({"k\"\n\u2028":"v"})");
}

// A literal key that would need escaping does not compile at all: tests/compile/ checks that.
TEST_CASE("json writer: literal keys are copied as they are", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  w.begin_object().key("prompt_tokens").number(1).kv("cached_tokens", 2).end_object();
  CHECK(out == R"({"prompt_tokens":1,"cached_tokens":2})");
  constexpr zgate::json::Key k("finish_reason");
  STATIC_REQUIRE(k.view() == "finish_reason");
}

TEST_CASE("json writer: a literal key longer than the on-stack buffer is written whole", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  w.begin_object().kv("a", 1);
  w.key("a_key_name_that_is_longer_than_sixty_characters_for_the_slow_path_x").number(2);
  w.key("b").begin_array().end_array().end_object();
  CHECK(out == R"({"a":1,"a_key_name_that_is_longer_than_sixty_characters_for_the_slow_path_x":2,"b":[]})");
}

TEST_CASE("json writer: a fresh container after a filled one starts without a comma", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  w.begin_array().begin_array().number(1).number(2).end_array().begin_array().number(3).end_array().end_array();
  CHECK(out == "[[1,2],[3]]");
}

TEST_CASE("json writer: integers at their limits", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  w.begin_array()
      .number(std::numeric_limits<int64_t>::min())
      .number(std::numeric_limits<uint64_t>::max())
      .number(0)
      .number(-7)
      .end_array();
  CHECK(out == "[-9223372036854775808,18446744073709551615,0,-7]");
}

TEST_CASE("json writer: doubles round-trip shortest, NaN and Inf become null", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  w.begin_array()
      .number(0.1)
      .number(1.5)
      .number(-2.25e-10)
      .number(std::nan(""))
      .number(std::numeric_limits<double>::infinity())
      .number(-std::numeric_limits<double>::infinity())
      .end_array();
  CHECK(out == "[0.1,1.5,-2.25e-10,null,null,null]");
}

TEST_CASE("json writer: appends to what the buffer already holds", "[unit][json]") {
  std::string out = "data: ";
  zgate::json::Writer w(out);
  w.begin_object().kv("x", 1).end_object();
  CHECK(out == R"(data: {"x":1})");
}

namespace {
// The two-character escape of `c`, if it has one.
const char* short_escape(unsigned char c) {
  static constexpr std::pair<char, const char*> kShort[] = {
      {'"', "\\\""}, {'\\', "\\\\"}, {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}, {'\b', "\\b"}, {'\f', "\\f"}};
  for (const auto& [ch, escaped] : kShort) {
    if (c == static_cast<unsigned char>(ch)) return escaped;
  }
  return nullptr;
}

// The byte-at-a-time definition the word-at-a-time escaper must match.
std::string reference_escape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else if (const char* e = short_escape(c)) {
      out += e;
    } else if (c < 0x20) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}
}  // namespace

TEST_CASE("json escape: matches the byte-at-a-time definition for every byte at every offset", "[unit][json]") {
  // Each byte value placed at each position of clean runs of lengths 0..24 (word boundaries
  // on both sides), plus U+2028/9 sequences split across words.
  for (int b = 0; b < 256; ++b) {
    for (std::size_t len = 1; len <= 24; ++len) {
      for (std::size_t pos = 0; pos < len; ++pos) {
        std::string s(len, 'a');
        s[pos] = static_cast<char>(b);
        REQUIRE(escaped(s) == reference_escape(s));
      }
    }
  }
  for (std::size_t pos = 0; pos < 20; ++pos) {
    for (const char* seq : {"\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAA", "\xE2\x80"}) {
      std::string s(20, 'x');
      s.insert(pos, seq);
      REQUIRE(escaped(s) == reference_escape(s));
    }
  }
}

TEST_CASE("json escape: random byte strings match the byte-at-a-time definition", "[unit][json]") {
  std::mt19937 rng(42);
  // Biased towards the bytes that matter so escapes are dense as well as sparse.
  const unsigned char interesting[] = {'"', '\\', '\n', 0x00, 0x1F, 0x20, 0x7F, 0x80, 0xA8, 0xA9, 0xE2, 'a', 0xFF};
  for (int round = 0; round < 3000; ++round) {
    std::string s(rng() % 70, '\0');
    for (auto& ch : s) {
      ch = static_cast<char>(rng() % 3 == 0 ? interesting[rng() % sizeof interesting] : rng() % 256);
    }
    REQUIRE(escaped(s) == reference_escape(s));
  }
}
