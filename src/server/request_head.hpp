#pragma once
// A downstream request's head as zgate reads it (private to src/server): the fields it needs,
// kept per connection so their strings keep their capacity from one request to the next, and
// the Beast parser that fills them and enforces the RFC 9112 rules Beast leaves to a server.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/verb.hpp>
#include <simdjson.h>

#include "zgate/core/text.hpp"
#include "zgate/h1/head.hpp"

namespace zgate {

namespace beast = boost::beast;
namespace http = beast::http;


// What zgate needs of a downstream request, kept per connection so that its strings keep their
// capacity from one request to the next: parsing a request allocates nothing in steady state.
// (Beast's request_parser<string_body> allocates a node per header field.)
struct RequestHead {
  http::verb method = http::verb::unknown;
  int version = 11;  // 10 or 11
  std::string method_string, target, authorization, api_key, request_id, expect, cors_request_headers;
  std::string transfer_encoding;  // every Transfer-Encoding field line, joined by ", "
  // The response cache's request fields: every Cache-Control line joined by ", "; X-Zgate-Cache.
  std::string cache_control, zgate_cache;
  int hosts = 0;                  // Host field lines seen
  std::string body;
  // Set when the head is well-formed HTTP but must be refused (RFC 9112 MUSTs Beast does not
  // enforce): the status (400 or 501) and what is wrong. The connection closes after the answer.
  int reject_status = 0;
  std::string reject_reason;
  void reset() {
    method = http::verb::unknown;
    version = 11;
    hosts = 0;
    reject_status = 0;
    for (std::string* s : {&method_string, &target, &authorization, &api_key, &request_id, &expect,
                           &cors_request_headers, &transfer_encoding, &body, &reject_reason, &cache_control,
                           &zgate_cache}) {
      s->clear();
    }
    // A large request body does not pin its buffer for the life of a keep-alive connection.
    if (body.capacity() > kKeepBodyCapacity) std::string().swap(body);
  }
  static constexpr std::size_t kKeepBodyCapacity = 256 * 1024;
};

// A Beast parser that keeps only the fields zgate reads (the first of each) and the body.
class RequestParser final : public http::basic_parser<true> {
 public:
  explicit RequestParser(RequestHead& h) : h_(h) { h_.reset(); }

 private:
  using ec_t = boost::system::error_code;
  static void keep_first(std::string& slot, std::string_view v, bool& seen) {
    if (!seen) slot.assign(v);
    seen = true;
  }
  void on_request_impl(http::verb m, beast::string_view ms, beast::string_view target, int version,
                       ec_t&) override {
    h_.method = m;
    h_.version = version;
    h_.method_string.assign(ms);
    h_.target.assign(target);
    h1::to_origin_form(h_.target);
  }
  void on_response_impl(int, beast::string_view, int, ec_t&) override {}
  void on_field_impl(http::field f, beast::string_view name, beast::string_view value, ec_t&) override {
    switch (f) {
      case http::field::authorization: keep_first(h_.authorization, value, seen_auth_); return;
      case http::field::expect: keep_first(h_.expect, value, seen_expect_); return;
      case http::field::access_control_request_headers: keep_first(h_.cors_request_headers, value, seen_cors_); return;
      case http::field::host: ++h_.hosts; return;
      case http::field::cache_control:
        if (!h_.cache_control.empty()) h_.cache_control.append(", ");
        h_.cache_control.append(value);
        return;
      case http::field::transfer_encoding:
        seen_te_ = true;
        if (!h_.transfer_encoding.empty()) h_.transfer_encoding.append(", ");
        h_.transfer_encoding.append(value);
        return;
      case http::field::unknown:
        if (text::iequals(name, "x-api-key")) keep_first(h_.api_key, value, seen_key_);
        else if (text::iequals(name, "x-request-id")) keep_first(h_.request_id, value, seen_id_);
        else if (text::iequals(name, "x-zgate-cache")) keep_first(h_.zgate_cache, value, seen_zcache_);
        return;
      default: return;
    }
  }
  // The RFC 9112 rules Beast leaves to the server. Beast frames a request whose final transfer
  // coding is not chunked as having no body, so its bytes would be read as the next request:
  // such a request is refused and the connection closed.
  void on_header_impl(ec_t& ec) override {
    auto reject = [&](int status, std::string reason) {
      h_.reject_status = status;
      h_.reject_reason = std::move(reason);
      ec = http::error::bad_field;  // stops the parser; the session answers from reject_*
    };
    if (h_.hosts > 1) return reject(400, "The request has more than one Host header field.");
    if (h_.hosts == 0 && h_.version >= 11) return reject(400, "An HTTP/1.1 request must have a Host header field.");
    if (!h_.transfer_encoding.empty() || seen_te_) {
      if (h_.version < 11) return reject(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request.");
      switch (h1::classify_transfer_encoding(h_.transfer_encoding)) {
        case h1::TransferCoding::chunked: break;
        case h1::TransferCoding::final_not_chunked:
          return reject(400, "The request's final transfer coding is not 'chunked', so its length cannot be "
                             "determined (Transfer-Encoding: " + h_.transfer_encoding.substr(0, 64) + ").");
        case h1::TransferCoding::unsupported:
          return reject(501, "Only the 'chunked' transfer coding is supported (Transfer-Encoding: " +
                                 h_.transfer_encoding.substr(0, 64) + ").");
      }
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& len, ec_t&) override {
    // simdjson reads SIMDJSON_PADDING bytes past the end: reserve them up front so the body is
    // parsed where it lands, without a copy. (The body limit is checked before this.)
    if (len) h_.body.reserve(static_cast<std::size_t>(*len) + simdjson::SIMDJSON_PADDING);
  }
  std::size_t on_body_impl(beast::string_view b, ec_t&) override {
    h_.body.append(b.data(), b.size());
    return b.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, ec_t&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view b, ec_t&) override {
    h_.body.append(b.data(), b.size());
    return b.size();
  }
  void on_finish_impl(ec_t&) override {}

  RequestHead& h_;
  bool seen_auth_ = false, seen_expect_ = false, seen_cors_ = false, seen_key_ = false, seen_id_ = false,
       seen_zcache_ = false;
  bool seen_te_ = false;
};

// A parser error that means the client sent something that is not acceptable HTTP (as opposed
// to the end of the stream, a size limit, or an I/O error).
inline bool is_malformed(const boost::system::error_code& ec) {
  static const auto& http_category = make_error_code(http::error::bad_target).category();
  return ec.category() == http_category && ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::body_limit && ec != http::error::header_limit;
}

// Feeds the bytes `buf` holds to `p` until the head is complete (io::parse_head_buffered() for a
// request), and also refuses obs-fold: Beast unfolds it silently, and RFC 9112 lets a server
// either do that or reject the request; zgate rejects it (a folded value is a classic smuggling
// vector between proxies that disagree). True when the head is complete or refused (`ec`).
bool parse_request_head(RequestParser& p, beast::flat_buffer& buf, RequestHead& req, boost::system::error_code& ec);

}  // namespace zgate
