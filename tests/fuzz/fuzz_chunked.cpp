// libFuzzer target: the chunked body decoder of the upstream client (include/zgate/h1/chunked.hpp),
// differentially against Boost.Beast's response parser, which decoded these bodies before.
// Input: [split][step] then the body bytes (after a head saying Transfer-Encoding: chunked).
// Invariants: the decoder never reads or writes outside the bytes it is given, never uses more
// than it was given, and gives the same body whatever the reads' sizes; when Beast decodes the
// whole body, the decoder gives the same bytes and ends too, unless it refused a line over its
// length limits or a bare LF.
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
// the next piece (and alone once all were given, until nothing more is used). Each step works
// on a copy sized exactly, so ASan sees any access outside it.
Decoded decode(const std::vector<std::string_view>& pieces) {
  zgate::h1::ChunkedDecoder d;
  Decoded r;
  std::string pending;
  // One step over `pending`; false when decoding stops (an error, the end, or nothing used).
  const auto step = [&] {
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
      return false;
    }
    pending.erase(0, s.used);
    return !d.done() && s.used > 0;
  };
  bool going = true;
  for (std::size_t i = 0; going && i < pieces.size(); ++i) {
    pending.append(pieces[i]);
    going = step() || (r.error.empty() && !d.done());
  }
  while (going && r.error.empty() && !d.done() && !pending.empty() && step()) {
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
    // Refusals the decoder may make where Beast accepts: a line over its limits, and a bare LF
    // (Beast takes one inside a quoted chunk-extension value; RFC 9112 allows none there).
    bool bare_lf = false;
    for (std::size_t i = 0; i < body.size(); ++i) bare_lf = bare_lf || (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'));
    const bool allowed = whole.error.find("too long") != std::string::npos ||
                         (bare_lf && whole.error == "a line of the chunked body does not end in CRLF");
    ZGATE_FUZZ_CHECK(allowed || (whole.error.empty() && whole.done && whole.body == p.get().body()), body);
  }
  return 0;
}
