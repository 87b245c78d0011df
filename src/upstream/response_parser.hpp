// The upstream response parser of upstream/client.cpp (its only user).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>

namespace zgate::upstream {

// A Beast parser for the upstream response that keeps the status and Content-Type and appends
// body bytes (de-chunked) to `sink`. Beast's response_parser would allocate a node per header
// field on every response; this keeps nothing else.
class ResponseParser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit ResponseParser(std::string& content_type) : content_type_(content_type) { content_type_.clear(); }
  int status = 0;
  int retry_after = -1;         // seconds of a Retry-After given as a number; -1 = none
  std::string* sink = nullptr;  // set before each body read

 private:
  using ec_t = boost::system::error_code;
  using sv = boost::beast::string_view;
  using field = boost::beast::http::field;
  void on_request_impl(boost::beast::http::verb, sv, sv, int, ec_t&) override {}
  void on_response_impl(int code, sv, int, ec_t&) override { status = code; }
  void on_field_impl(field f, sv, sv value, ec_t&) override {
    if (f == field::content_type && !seen_type_) {
      content_type_.assign(value);
      seen_type_ = true;
    } else if (f == field::retry_after && retry_after < 0) {
      // Delay-seconds only; an HTTP date (rare from APIs) is ignored.
      int v = 0;
      const auto r = std::from_chars(value.data(), value.data() + value.size(), v);
      if (r.ec == std::errc() && r.ptr == value.data() + value.size() && v >= 0) retry_after = v;
    }
  }
  void on_header_impl(ec_t&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, ec_t&) override {}
  std::size_t on_body_impl(sv b, ec_t&) override {
    sink->append(b.data(), b.size());
    return b.size();
  }
  void on_chunk_header_impl(std::uint64_t, sv, ec_t&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, sv b, ec_t&) override {
    sink->append(b.data(), b.size());
    return b.size();
  }
  void on_finish_impl(ec_t&) override {}

  std::string& content_type_;
  bool seen_type_ = false;
};

}  // namespace zgate::upstream
