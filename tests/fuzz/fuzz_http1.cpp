// libFuzzer target: the HTTP/1.1 request head and body as the gateway reads them: Boost.Beast's
// request parser (header limit 64 KiB, body limit 1 MiB, as in src/server) fed in pieces, then
// zgate's own RFC 9112 checks (include/zgate/h1/head.hpp) on what it parsed.
// Input: [split][step] then the request bytes.
// Invariants: zgate's Transfer-Encoding verdict never disagrees with Beast's framing in the
// dangerous direction (zgate "chunked" while Beast would not decode a chunked body);
// to_origin_form is idempotent and yields an origin-form target for absolute-form input; a
// complete Content-Length body has exactly that length.
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "fuzz_support.hpp"
#include "zgate/h1/head.hpp"

namespace http = boost::beast::http;
namespace net = boost::asio;

namespace {
void check_head(const http::request_parser<http::string_body>& p, std::string_view head_bytes) {
  const auto& req = p.get();
  (void)zgate::h1::has_obs_fold(head_bytes);

  std::string te;
  bool seen_te = false;
  for (const auto& f : req) {
    if (f.name() == http::field::transfer_encoding) {
      seen_te = true;
      if (!te.empty()) te.append(", ");
      te.append(f.value());
    }
  }
  if (seen_te) {
    const auto tc = zgate::h1::classify_transfer_encoding(te);
    // zgate accepting a body as chunked that Beast would not decode as chunked would let its
    // bytes be read as the next request (smuggling). The other way round is safe: zgate then
    // refuses the request (400/501) and closes, e.g. for "chunked/" which Beast takes as chunked.
    if (tc == zgate::h1::TransferCoding::chunked) ZGATE_FUZZ_CHECK(p.chunked(), head_bytes);
  }

  std::string target(req.target());
  zgate::h1::to_origin_form(target);
  std::string again = target;
  zgate::h1::to_origin_form(again);
  ZGATE_FUZZ_CHECK(again == target, head_bytes);
  if (target != req.target()) ZGATE_FUZZ_CHECK(!target.empty() && target[0] == '/', head_bytes);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const zgate::fuzz::Input in(data, size, 2);
  http::request_parser<http::string_body> p;
  p.header_limit(64 * 1024);
  p.body_limit(1024 * 1024);
  p.eager(true);

  std::string buf;  // bytes received and not yet consumed, like the session's flat_buffer
  boost::system::error_code ec;
  bool head_checked = false;
  for (const auto piece : zgate::fuzz::split(in.payload, in.param(0), in.param(1))) {
    buf.append(piece);
    while (!buf.empty() && !p.is_done()) {
      const bool header_was_done = p.is_header_done();
      const std::size_t n = p.put(net::buffer(buf.data(), buf.size()), ec);
      if ((!ec || ec == http::error::need_more) && !header_was_done && p.is_header_done()) {
        // put() takes the start line on its own when the fields are not all there yet, then the
        // fields whole (eager: with what of the body is there, and need_more for the rest).
        check_head(p, std::string_view(buf.data(), n));
        head_checked = true;
      }
      buf.erase(0, n);  // also on need_more: what put() took must not be fed again
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) break;
      if (n == 0) break;
    }
    if (ec) break;
  }
  // The peer closed (put_eof's precondition: some bytes were parsed).
  if (!ec && !p.is_done() && p.got_some()) p.put_eof(ec);
  if (!ec && p.is_done()) {
    ZGATE_FUZZ_CHECK(head_checked, in.payload);
    const auto cl = p.content_length();
    if (!p.chunked() && cl) ZGATE_FUZZ_CHECK(p.get().body().size() == *cl, in.payload);
    ZGATE_FUZZ_CHECK(p.get().body().size() <= 1024 * 1024, in.payload);
  }
  return 0;
}
