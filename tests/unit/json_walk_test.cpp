// json/walk.hpp (the walkers and getters the request parser and the decoders share) and
// model/usage.hpp (the `usage` object both dialects send).
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "zgate/json/walk.hpp"
#include "zgate/model/usage.hpp"

namespace {

using namespace zgate;
namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

// Iterates `json` (an object) with the thread parser and hands its value to `f`.
template <class F>
error_code with_value(const std::string& json, F&& f) {
  std::string buf;
  od::document doc;
  ZG_TRY(json::thread_parser().iterate(json::pad(json, buf)).get(doc));
  od::value v;
  ZG_TRY(doc.get_value().get(v));
  return f(v);
}

}  // namespace

TEST_CASE("json walk: members in order, raw or unescaped keys, stopping at the first failure", "[unit][json]") {
  std::vector<std::string> keys;
  REQUIRE(with_value(R"({"a":1,"b\u0063":2,"d":3})", [&](od::value& v) {
            return json::if_object<json::Keys::unescaped>(v, [&](std::string_view k, od::value&) {
              keys.emplace_back(k);
              return SUCCESS;
            });
          }) == SUCCESS);
  CHECK(keys == std::vector<std::string>{"a", "bc", "d"});

  int seen = 0;
  CHECK(with_value(R"({"a":1,"stop":2,"c":3})", [&](od::value& v) {
          return json::if_object(v, [&](od::raw_json_string k, od::value&) {
            ++seen;
            return k == "stop" ? simdjson::INCORRECT_TYPE : SUCCESS;
          });
        }) == simdjson::INCORRECT_TYPE);
  CHECK(seen == 2);
}

TEST_CASE("json walk: if_object / if_array skip other shapes and say what they saw", "[unit][json]") {
  bool was = true;
  int calls = 0;
  const auto count = [&](auto&&...) {
    ++calls;
    return SUCCESS;
  };
  REQUIRE(with_value(R"({"x":[1,2,3]})", [&](od::value& v) {
            return json::if_object(v, [&](od::raw_json_string, od::value& x) {
              ZG_TRY(json::if_object(x, count, &was));  // an array: skipped
              return SUCCESS;
            });
          }) == SUCCESS);
  CHECK_FALSE(was);
  CHECK(calls == 0);
  REQUIRE(with_value("[1,2,3]", [&](od::value& v) { return json::if_array(v, count, &was); }) == SUCCESS);
  CHECK(was);
  CHECK(calls == 3);
}

TEST_CASE("json walk: lenient integers truncate, saturate and leave other types alone", "[unit][json]") {
  std::vector<int64_t> got;
  REQUIRE(with_value(R"([7, -3, 2.9, 1e30, -1e30, 18446744073709551615, 99999999999999999999, "9", null])",
                     [&](od::value& v) {
            return json::if_array(v, [&](od::value& e) {
              int64_t n = 42;
              ZG_TRY(json::get_int(e, n));
              got.push_back(n);
              return SUCCESS;
            });
          }) == SUCCESS);
  CHECK(got == std::vector<int64_t>{7, -3, 2, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MAX, 42, 42});
}

TEST_CASE("json walk: get_text reads strings only and reports presence", "[unit][json]") {
  json::StringSpill buffers;
  json::Spill spill{&buffers};
  std::string_view a = "unchanged", b = "unchanged";
  bool a_present = false, b_present = false;
  REQUIRE(with_value(R"({"a":"x\ny","b":5})", [&](od::value& v) {
            return json::if_object(v, [&](od::raw_json_string k, od::value& fv) {
              return k == "a" ? json::get_text(fv, a, spill, false, &a_present)
                              : json::get_text(fv, b, spill, false, &b_present);
            });
          }) == SUCCESS);
  CHECK(a == "x\ny");
  CHECK(a_present);
  CHECK(b == "unchanged");
  CHECK_FALSE(b_present);
  CHECK_FALSE(spill.wobbly);
}

TEST_CASE("json walk: get_as names the field on a type mismatch only", "[unit][json]") {
  int built = 0;
  const auto on_type = [&] {
    ++built;
    return bad_request("'f' must be a string", "f");
  };
  const auto on_json = [](error_code e) -> Result<void> { return bad_request(simdjson::error_message(e)); };
  std::string_view s;
  Result<void> ok = bad_request("unset");
  Result<void> mismatch;
  REQUIRE(with_value(R"(["text", 5])", [&](od::value& v) {
            int i = 0;
            return json::if_array(v, [&](od::value& e) {
              (i++ == 0 ? ok : mismatch) = json::get_as(e, s, on_type, on_json);
              return SUCCESS;
            });
          }) == SUCCESS);
  CHECK(ok.ok());
  CHECK(s == "text");
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.error().param == "f");
  CHECK(built == 1);
}

TEST_CASE("usage: counts, details, the total when absent or 0, and null", "[unit][json]") {
  Usage u;
  REQUIRE(with_value(R"({"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4},)"
                     R"("completion_tokens_details":{"reasoning_tokens":2},"extra":{"x":1}})",
                     [&](od::value& v) { return read_usage(v, u); }) == SUCCESS);
  CHECK(u.present);
  CHECK(u.prompt_tokens == 10);
  CHECK(u.completion_tokens == 5);
  CHECK(u.total_tokens == 15);
  CHECK(u.cached_tokens == 4);
  CHECK(u.reasoning_tokens == 2);

  REQUIRE(with_value(R"({"prompt_tokens":1,"completion_tokens":1,"total_tokens":9})",
                     [&](od::value& v) { return read_usage(v, u); }) == SUCCESS);
  CHECK(u.total_tokens == 9);
  CHECK(u.cached_tokens == 0);  // reset between reads

  Usage none;
  REQUIRE(with_value(R"({"usage":null})", [&](od::value& v) {
            return json::if_object(v, [&](od::raw_json_string, od::value& u) { return read_usage(u, none); });
          }) == SUCCESS);
  CHECK_FALSE(none.present);
}

TEST_CASE("usage: a total of counts at the ends of the range saturates instead of overflowing",
          "[unit][json]") {
  Usage u;
  REQUIRE(with_value(R"({"prompt_tokens":9223372036854775807,"completion_tokens":5})",
                     [&](od::value& v) { return read_usage(v, u); }) == SUCCESS);
  CHECK(u.total_tokens == INT64_MAX);
  REQUIRE(with_value(R"({"prompt_tokens":-9223372036854775807,"completion_tokens":-5})",
                     [&](od::value& v) { return read_usage(v, u); }) == SUCCESS);
  CHECK(u.total_tokens == INT64_MIN);
}
