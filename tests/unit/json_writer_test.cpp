// json::Writer and the escaper: what reaches clients must be valid JSON that is also safe to
// embed in JavaScript.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

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

TEST_CASE("json writer: keys are escaped", "[unit][json]") {
  std::string out;
  zgate::json::Writer w(out);
  w.begin_object().kv("k\"\n", "v").end_object();
  CHECK(out == R"({"k\"\n":"v"})");
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
