// HTTP/1.1 heads and chunk framing written by hand for the hot path.
#include <string>

#include <catch2/catch.hpp>

#include "zgate/h1/head.hpp"

using namespace zgate;

TEST_CASE("h1: status line carries the code and its reason phrase", "[unit][h1]") {
  std::string out;
  h1::status_line(out, 200);
  h1::status_line(out, 502);
  h1::status_line(out, 431);
  CHECK(out == "HTTP/1.1 200 OK\r\nHTTP/1.1 502 Bad Gateway\r\nHTTP/1.1 431 Request Header Fields Too Large\r\n");
}

TEST_CASE("h1: an unknown status keeps its code with an empty reason", "[unit][h1]") {
  std::string out;
  h1::status_line(out, 299);
  CHECK(out == "HTTP/1.1 299 \r\n");
}

TEST_CASE("h1: an out-of-range status becomes 500", "[unit][h1]") {
  std::string out;
  h1::status_line(out, 42);
  CHECK(out == "HTTP/1.1 500 Internal Server Error\r\n");
}

TEST_CASE("h1: request line", "[unit][h1]") {
  std::string out;
  h1::request_line(out, "POST", "/api/paas/v4/chat/completions?x=1");
  CHECK(out == "POST /api/paas/v4/chat/completions?x=1 HTTP/1.1\r\n");
}

TEST_CASE("h1: fields, numbers and the end of the head", "[unit][h1]") {
  std::string out;
  h1::field(out, "Content-Type", "application/json");
  h1::field(out, "Content-Length", uint64_t{0});
  h1::field(out, "Content-Length", uint64_t{18446744073709551615ull});
  h1::end(out);
  CHECK(out == "Content-Type: application/json\r\nContent-Length: 0\r\nContent-Length: 18446744073709551615\r\n\r\n");
}

TEST_CASE("h1: a field spelled in literals is written like any other", "[unit][h1]") {
  std::string lit, general;
  h1::field(lit, "Cache-Control", "no-cache");
  h1::field(general, std::string_view("Cache-Control"), std::string_view("no-cache"));
  CHECK(lit == "Cache-Control: no-cache\r\n");
  CHECK(lit == general);
  std::string lit_number, general_number;
  h1::field(lit_number, "Retry-After", uint64_t{30});
  h1::field(general_number, std::string_view("Retry-After"), uint64_t{30});
  CHECK(lit_number == "Retry-After: 30\r\n");
  CHECK(lit_number == general_number);
}

TEST_CASE("h1: CR, LF and NUL cannot split a head", "[unit][h1]") {
  std::string out;
  h1::field(out, "X-Echo", std::string_view("a\r\nSet-Cookie: x=1\0b", 21));
  h1::field(out, std::string_view("Bad\r\nName"), "v");
  h1::request_line(out, "GET", "/x\r\nHost: evil");
  CHECK(out == "X-Echo: aSet-Cookie: x=1b\r\nBadName: v\r\nGET /xHost: evil HTTP/1.1\r\n");
}

TEST_CASE("h1: chunk size lines are lowercase hex", "[unit][h1]") {
  CHECK(h1::chunk_size(0).view() == "0\r\n");
  CHECK(h1::chunk_size(10).view() == "a\r\n");
  CHECK(h1::chunk_size(4096).view() == "1000\r\n");
  CHECK(h1::chunk_size(0xFFFFFFFFFFFFFFFFull).view() == "ffffffffffffffff\r\n");
}

TEST_CASE("h1: chunk terminators", "[unit][h1]") {
  std::string body = std::string(h1::chunk_size(5).view()) + "hello" + std::string(h1::kChunkEndAndLast);
  CHECK(body == "5\r\nhello\r\n0\r\n\r\n");
  CHECK(std::string(h1::kLastChunk) == "0\r\n\r\n");
}

TEST_CASE("h1: iequals ignores ASCII case only", "[unit][h1]") {
  CHECK(h1::iequals("X-Api-Key", "x-api-key"));
  CHECK(h1::iequals("", ""));
  CHECK_FALSE(h1::iequals("x-api-key", "x-api-ke"));
  CHECK_FALSE(h1::iequals("x-api-key", "x-api-kez"));
  CHECK_FALSE(h1::iequals("\xC3\xA9", "\xC3\x89"));  // é / É: not ASCII, compared as bytes
}
