// libFuzzer target: the chunked body decoder of the upstream client (include/zgate/h1/chunked.hpp),
// differentially against Boost.Beast's response parser, which decoded these bodies before.
// Input: [split][step] then the body bytes (after a head saying Transfer-Encoding: chunked).
// Invariants: the decoder never reads or writes outside the bytes it is given, never uses more
// than it was given, and gives the same body whatever the reads' sizes; when Beast decodes the
// whole body, the decoder gives the same bytes and ends too, unless it refused a line over its
// length limits.
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "fuzz_support.hpp"
#include "zgate/h1/chunked.hpp"

namespace http = boost::beast::http;
namespace net = boost::asio;

namespace {

struct Decoded {
  std::string body, error;
  bool done = false;
};

// The pieces fed as reads would bring them: what a step did not use is given again in front of
// the next piece. Each step works on a copy sized exactly, so ASan sees any access outside it.
Decoded decode(const std::vector<std::string_view>& pieces) {
  zgate::h1::ChunkedDecoder d;
  Decoded r;
  std::string pending;
  for (std::string_view piece : pieces) {
    pending.append(piece);
    auto* bytes = new char[pending.size() ? pending.size() : 1];
    std::copy(pending.begin(), pending.end(), bytes);
    const auto s = d.decode(bytes, pending.size());
    ZGATE_FUZZ_CHECK(s.used <= pending.size(), pending);
    if (!s.data.empty()) {
      ZGATE_FUZZ_CHECK(s.data.data() >= bytes && s.data.data() + s.data.size() <= bytes + s.used, pending);
    }
    r.body.append(s.data);
    delete[] bytes;
    if (!s.error.empty()) {
      r.error = std::string(s.error);
      return r;
    }
    pending.erase(0, s.used);
    if (d.done()) break;
  }
  r.done = d.done();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const zgate::fuzz::Input in(data, size, 2);
  const std::string_view body = in.payload;

  const Decoded pieces = decode(zgate::fuzz::split(body, in.params[0], in.params[1]));
  const Decoded whole = decode({body});
  // Read sizes change nothing but how far a body cut short got.
  if (whole.error.empty() && pieces.error.empty()) {
    ZGATE_FUZZ_CHECK(pieces.body == whole.body && pieces.done == whole.done, body);
  }

  // Beast, as the client used it: header limit 64 KiB (the trailers count against it), no
  // body limit.
  http::response_parser<http::string_body> p;
  p.header_limit(64 * 1024);
  p.body_limit(boost::none);
  p.eager(true);
  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  wire.append(body);
  boost::system::error_code ec;
  std::size_t at = 0;
  while (at < wire.size() && !p.is_done()) {
    const std::size_t n = p.put(net::buffer(wire.data() + at, wire.size() - at), ec);
    at += n;
    if (ec || n == 0) break;
  }
  if (!ec && p.is_done()) {
    const bool too_long = whole.error.find("too long") != std::string::npos;
    ZGATE_FUZZ_CHECK(too_long || (whole.error.empty() && whole.done && whole.body == p.get().body()), body);
  }
  return 0;
}
