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

TEST_CASE("h1: obs-fold and whitespace before the first field are found", "[unit][h1]") {
  CHECK_FALSE(h1::has_obs_fold("POST / HTTP/1.1\r\nHost: a\r\nX-A: b c\r\n\r\n"));
  CHECK(h1::has_obs_fold("POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"));
  CHECK(h1::has_obs_fold("POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"));
  CHECK(h1::has_obs_fold("POST / HTTP/1.1\r\n Host: a\r\n\r\n"));
  CHECK_FALSE(h1::has_obs_fold("GET / HTTP/1.1\n"));
}

TEST_CASE("h1: only a lone chunked transfer coding is decoded", "[unit][h1]") {
  using TC = h1::TransferCoding;
  CHECK(h1::classify_transfer_encoding("chunked") == TC::chunked);
  CHECK(h1::classify_transfer_encoding(" Chunked ") == TC::chunked);
  CHECK(h1::classify_transfer_encoding(", chunked,") == TC::chunked);
  CHECK(h1::classify_transfer_encoding("gzip") == TC::final_not_chunked);
  CHECK(h1::classify_transfer_encoding("chunked, identity") == TC::final_not_chunked);
  CHECK(h1::classify_transfer_encoding("") == TC::final_not_chunked);
  CHECK(h1::classify_transfer_encoding("chunkedx") == TC::final_not_chunked);
  CHECK(h1::classify_transfer_encoding("gzip, chunked") == TC::unsupported);
  CHECK(h1::classify_transfer_encoding("chunked, chunked") == TC::unsupported);
}

TEST_CASE("h1: absolute-form targets become origin-form", "[unit][h1]") {
  auto of = [](std::string t) {
    h1::to_origin_form(t);
    return t;
  };
  CHECK(of("http://gw.example:8080/v1/chat/completions") == "/v1/chat/completions");
  CHECK(of("HTTPS://gw/v1/models?x=1") == "/v1/models?x=1");
  CHECK(of("http://gw") == "/");
  CHECK(of("http://gw?x=1") == "/?x=1");
  CHECK(of("/v1/models") == "/v1/models");
  CHECK(of("*") == "*");
}
