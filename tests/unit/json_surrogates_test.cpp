// json::unescape_wtf8, json::SurrogateJoiner and json::get_string_lenient: the slow path for
// strings simdjson rejects because of lone UTF-16 surrogate escapes.
#include <string>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "zgate/json/read.hpp"
#include "zgate/json/surrogates.hpp"

namespace {

using namespace zgate;

constexpr std::string_view kGlobe = "\xF0\x9F\x8C\x8F";  // U+1F30F
constexpr std::string_view kFffd = "\xEF\xBF\xBD";
constexpr std::string_view kWtfHigh = "\xED\xA0\xBC";    // lone \ud83c in WTF-8
constexpr std::string_view kWtfLow = "\xED\xBC\x8F";     // lone \udf0f in WTF-8

// `body` is the JSON string contents; the closing quote is added.
std::string unescaped(std::string_view body, bool* ok = nullptr) {
  std::string in(body);
  in.push_back('"');
  std::string out;
  const bool r = json::unescape_wtf8(in, out);
  if (ok != nullptr) *ok = r;
  return out;
}

std::string joined(std::initializer_list<std::string_view> pieces) {
  json::SurrogateJoiner j;
  std::string out;
  for (const auto p : pieces) j.feed(p, out);
  j.flush(out);
  return out;
}

}  // namespace

TEST_CASE("json surrogates: plain text and simple escapes unescape like JSON", "[unit][json]") {
  bool ok = false;
  CHECK(unescaped(R"(a\"b\\c\/d\b\f\n\r\te)", &ok) == "a\"b\\c/d\b\f\n\r\te");
  CHECK(ok);
  CHECK(unescaped("caf\xC3\xA9 \\u00e9\\u4f60") == "caf\xC3\xA9 \xC3\xA9\xE4\xBD\xA0");
  CHECK(unescaped(R"(\ud83c\udf0f)") == std::string(kGlobe));
  CHECK(unescaped("") == "");
}

TEST_CASE("json surrogates: lone surrogates unescape to their WTF-8 form", "[unit][json]") {
  CHECK(unescaped(R"(a\ud83c)") == "a" + std::string(kWtfHigh));
  CHECK(unescaped(R"(\udf0fb)") == std::string(kWtfLow) + "b");
  CHECK(unescaped(R"(\ud83cx\udf0f)") == std::string(kWtfHigh) + "x" + std::string(kWtfLow));
  CHECK(unescaped(R"(\ud83c\ud83c\udf0f)") == std::string(kWtfHigh) + std::string(kGlobe));
  CHECK(unescaped(R"(\uDF0F\uD83C)") == std::string(kWtfLow) + std::string(kWtfHigh));
}

TEST_CASE("json surrogates: the unescaper stops at the closing quote", "[unit][json]") {
  std::string out;
  CHECK(json::unescape_wtf8(R"(ab\ud83c"  )", out));
  CHECK(out == "ab" + std::string(kWtfHigh));
}

TEST_CASE("json surrogates: invalid escapes and a missing quote are errors", "[unit][json]") {
  for (const std::string_view bad : {R"(\x)", R"(\u12)", R"(\u12G4)", "\\"}) {
    INFO(bad);
    bool ok = true;
    unescaped(bad, &ok);
    CHECK_FALSE(ok);
  }
  std::string out;
  CHECK_FALSE(json::unescape_wtf8("no quote", out));
}

TEST_CASE("json surrogates: a pair split between two pieces is rejoined", "[unit][json]") {
  CHECK(joined({"Earth " + std::string(kWtfHigh), std::string(kWtfLow) + "!"}) == "Earth " + std::string(kGlobe) + "!");
  CHECK(joined({kWtfHigh, kWtfLow}) == kGlobe);
}

TEST_CASE("json surrogates: an empty piece keeps the held surrogate", "[unit][json]") {
  CHECK(joined({kWtfHigh, "", kWtfLow}) == kGlobe);
}

TEST_CASE("json surrogates: what cannot be paired becomes U+FFFD", "[unit][json]") {
  const std::string f(kFffd);
  CHECK(joined({"a" + std::string(kWtfHigh), "b"}) == "a" + f + "b");            // high, then text
  CHECK(joined({"a" + std::string(kWtfHigh)}) == "a" + f);                       // high at the end
  CHECK(joined({std::string(kWtfLow) + "b"}) == f + "b");                        // lone low
  CHECK(joined({"a" + std::string(kWtfHigh) + "b"}) == "a" + f + "b");           // high inside
  CHECK(joined({kWtfHigh, kWtfHigh, kWtfLow}) == f + std::string(kGlobe));       // second high pairs
  CHECK(joined({std::string(kWtfHigh) + std::string(kWtfLow)}) == kGlobe);       // adjacent halves
}

TEST_CASE("json surrogates: plain UTF-8 passes through the joiner unchanged", "[unit][json]") {
  // ED 9F BF (U+D7FF) is the last code point before the surrogates: not one of them.
  const std::string text = "x\xED\x9F\xBF y " + std::string(kGlobe) + " \xE4\xBD\xA0";
  CHECK(joined({text}) == text);
}

TEST_CASE("json surrogates: get_string_lenient reads what simdjson rejects and keeps iterating",
          "[unit][json]") {
  std::string doc_text = R"({"a":"x\ud83c","b":"plain","c":"\udf0fy","d":"p\ud83c\udf0fq"})";
  std::string buf;
  simdjson::ondemand::document doc;
  REQUIRE(json::thread_parser().iterate(json::pad(doc_text, buf)).get(doc) == simdjson::SUCCESS);
  simdjson::ondemand::object o;
  REQUIRE(doc.get_object().get(o) == simdjson::SUCCESS);
  json::StringSpill spill;
  std::vector<std::pair<std::string, bool>> got;
  for (auto field : o) {
    simdjson::ondemand::raw_json_string k;
    REQUIRE(field.key().get(k) == simdjson::SUCCESS);
    simdjson::ondemand::value v;
    REQUIRE(field.value().get(v) == simdjson::SUCCESS);
    std::string_view s;
    bool wobbly = false;
    REQUIRE(json::get_string_lenient(v, s, spill, k == "a" || k == "b", wobbly) == simdjson::SUCCESS);
    got.emplace_back(std::string(s), wobbly);
  }
  REQUIRE(got.size() == 4);
  CHECK(got[0] == std::make_pair("x" + std::string(kWtfHigh), true));  // kept for a joiner
  CHECK(got[1] == std::make_pair(std::string("plain"), false));        // simdjson's own read
  CHECK(got[2] == std::make_pair(std::string(kFffd) + "y", true));     // replaced here
  CHECK(got[3] == std::make_pair("p" + std::string(kGlobe) + "q", false));
}

TEST_CASE("json surrogates: get_string_lenient leaves other string errors alone", "[unit][json]") {
  std::string doc_text = R"({"a":"bad \x escape"})";
  std::string buf;
  simdjson::ondemand::document doc;
  REQUIRE(json::thread_parser().iterate(json::pad(doc_text, buf)).get(doc) == simdjson::SUCCESS);
  simdjson::ondemand::value v;
  REQUIRE(doc["a"].get(v) == simdjson::SUCCESS);
  std::string_view s;
  bool wobbly = false;
  json::StringSpill spill;
  CHECK(json::get_string_lenient(v, s, spill, true, wobbly) == simdjson::STRING_ERROR);
  CHECK_FALSE(wobbly);
}
