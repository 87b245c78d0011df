// The chunked body decoded in place, as the upstream client reads a stream.
#include <string>

#include <catch2/catch.hpp>

#include "zgate/h1/chunked.hpp"

using namespace zgate;

namespace {

// Feeds `wire` to a decoder in pieces of `step` bytes, as reads would bring them: the bytes a
// step did not use are given again with the next piece (or alone, once all were given). Returns the body; `error` gets the first
// error, `done` whether the body ended, `rest` what followed its end.
std::string decode_all(std::string_view wire, std::size_t step, std::string* error = nullptr, bool* done = nullptr,
                       std::string* rest = nullptr) {
  h1::ChunkedDecoder d;
  std::string buf, body;
  std::size_t at = 0;
  while (true) {
    const std::size_t take = std::min(step, wire.size() - at);
    buf.append(wire.substr(at, take));
    at += take;
    const auto s = d.decode(buf.data(), buf.size());
    if (!s.error.empty()) {
      if (error) *error = std::string(s.error);
      break;
    }
    body.append(s.data);
    buf.erase(0, s.used);
    // Once every byte was given, decode what is left until nothing more is used.
    if (d.done() || (at == wire.size() && (s.used == 0 || buf.empty()))) break;
  }
  if (done) *done = d.done();
  if (rest) *rest = buf;
  return body;
}

}  // namespace

TEST_CASE("h1 chunked: one chunk per read is given as it lies, without moving it", "[unit][h1]") {
  h1::ChunkedDecoder d;
  std::string buf = "18\r\ndata: {\"content\":\"hi\"}\n\n\r\n";
  const auto s = d.decode(buf.data(), buf.size());
  CHECK(s.error.empty());
  CHECK(s.data == "data: {\"content\":\"hi\"}\n\n");
  CHECK(s.data.data() == buf.data() + 4);
  CHECK(s.used == buf.size());
  CHECK_FALSE(d.done());
}

TEST_CASE("h1 chunked: the data of several chunks in one read comes out as one piece", "[unit][h1]") {
  h1::ChunkedDecoder d;
  std::string buf = "3\r\nabc\r\n4;name=value\r\ndefg\r\n1 \r\nh\r\n0\r\n\r\n";
  const auto s = d.decode(buf.data(), buf.size());
  CHECK(s.error.empty());
  CHECK(s.data == "abcdefgh");
  CHECK(s.used == buf.size());
  CHECK(d.done());
}

TEST_CASE("h1 chunked: any split of the bytes between reads gives the same body", "[unit][h1]") {
  const std::string wire = "5\r\nhello\r\nA\r\n, streamed\r\n1\r\n!\r\n0\r\nX-Trailer: yes\r\n\r\n";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    std::string error;
    bool done = false;
    INFO("step " << step);
    CHECK(decode_all(wire, step, &error, &done) == "hello, streamed!");
    CHECK(error.empty());
    CHECK(done);
  }
}

TEST_CASE("h1 chunked: bytes after the body are left unused", "[unit][h1]") {
  std::string rest;
  bool done = false;
  CHECK(decode_all("2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", 1000, nullptr, &done, &rest) == "ok");
  CHECK(done);
  CHECK(rest == "HTTP/1.1 200 OK\r\n");
}

TEST_CASE("h1 chunked: a body cut before its last chunk is not done", "[unit][h1]") {
  bool done = true;
  std::string error;
  CHECK(decode_all("5\r\nhello\r\n", 3, &error, &done) == "hello");
  CHECK(error.empty());
  CHECK_FALSE(done);
}

TEST_CASE("h1 chunked: malformed framing is an error that says what is wrong", "[unit][h1]") {
  const auto error_of = [](std::string_view wire) {
    std::string error;
    decode_all(wire, 1000, &error);
    return error;
  };
  CHECK(error_of("zz\r\nab\r\n") == "a chunk size is not a hexadecimal number");
  CHECK(error_of("\r\n") == "a chunk size is not a hexadecimal number");
  CHECK(error_of("2x\r\nab\r\n") == "a chunk-size line has bytes after the size");
  CHECK(error_of("2\nab\r\n") == "a line of the chunked body does not end in CRLF");
  CHECK(error_of("2\r\nabX\r\n") == "a chunk's data is not followed by CRLF");
  CHECK(error_of("2\r\nab\rX") == "a chunk's data is not followed by CRLF");
  CHECK(error_of("10000000000000000\r\n") == "the chunk size is too large");
  CHECK(error_of("0\r\nTrailer: x\n\r\n") == "a line of the chunked body does not end in CRLF");
}

TEST_CASE("h1 chunked: the largest size that fits is accepted", "[unit][h1]") {
  h1::ChunkedDecoder d;
  std::string buf = "FFFFFFFFFFFFFFFF\r\nabc";
  const auto s = d.decode(buf.data(), buf.size());
  CHECK(s.error.empty());
  CHECK(s.data == "abc");
}

TEST_CASE("h1 chunked: a size line or trailer past the limit is refused, not buffered", "[unit][h1]") {
  std::string error;
  decode_all("1" + std::string(h1::ChunkedDecoder::kMaxLine + 2, '0'), 100000, &error);
  CHECK(error == "a chunk-size line is too long");
  // A line just within the limit, whole, is fine.
  bool done = false;
  error.clear();
  const std::string ext = ";" + std::string(h1::ChunkedDecoder::kMaxLine - 2, 'e');
  CHECK(decode_all("1" + ext + "\r\nx\r\n0\r\n\r\n", 7, &error, &done) == "x");
  CHECK(error.empty());
  CHECK(done);
  error.clear();
  std::string trailers = "0\r\n";
  for (int i = 0; i < 40; ++i) trailers += "X-Pad: " + std::string(2000, 'p') + "\r\n";
  decode_all(trailers + "\r\n", 100000, &error);
  CHECK(error == "the trailer section is too long");
}

TEST_CASE("h1 chunked: reset() readies the decoder for the next body", "[unit][h1]") {
  h1::ChunkedDecoder d;
  std::string a = "0\r\n\r\n";
  d.decode(a.data(), a.size());
  REQUIRE(d.done());
  d.reset();
  CHECK_FALSE(d.done());
  std::string b = "1\r\nz\r\n";
  CHECK(d.decode(b.data(), b.size()).data == "z");
}

TEST_CASE("h1 chunked: data before malformed framing is given first, the error at the next call", "[unit][h1]") {
  h1::ChunkedDecoder d;
  std::string buf = "2\r\nok\r\nzz\r\n";
  const auto first = d.decode(buf.data(), buf.size());
  CHECK(first.error.empty());
  CHECK(first.data == "ok");
  CHECK(first.used == 7);
  buf.erase(0, first.used);
  const auto second = d.decode(buf.data(), buf.size());
  CHECK(second.error == "a chunk size is not a hexadecimal number");
  CHECK(second.data.empty());
}

TEST_CASE("h1 chunked: chunk extensions are skipped whatever their bytes", "[unit][h1]") {
  std::string error;
  const std::string wire = std::string("2;name=\"v\0\xff\"\r\nok\r\n0\r\n\r\n", 23);
  CHECK(decode_all(wire, 1000, &error) == "ok");
  CHECK(error.empty());
}
