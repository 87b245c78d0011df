#include "zgate/h1/head.hpp"

#include <charconv>

#include "zgate/core/swar.hpp"
#include "zgate/core/text.hpp"

namespace zgate::h1 {
namespace {

// True if `s` holds no CR, LF or NUL; 8 bytes per step (heads are written on every request).
bool is_clean(std::string_view s) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    const uint64_t w = swar::load8(s.data() + i);
    if (swar::has_zero(w) | swar::has_byte(w, '\r') | swar::has_byte(w, '\n')) return false;
  }
  for (; i < s.size(); ++i) {
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return false;
  }
  return true;
}

void append_clean(std::string& out, std::string_view s) {
  if (is_clean(s)) {
    out.append(s);
    return;
  }
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (ch == '\r' || ch == '\n' || ch == '\0') {
      out.append(s.data() + run, i - run);
      run = i + 1;
    }
  }
  out.append(s.data() + run, s.size() - run);
}

}  // namespace

std::string_view reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return {};
  }
}

void status_line(std::string& out, int status) {
  if (status < 100 || status > 999) status = 500;
  char code[3] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10)};
  out.append("HTTP/1.1 ", 9);
  out.append(code, 3);
  out.push_back(' ');
  out.append(reason(status));
  out.append("\r\n", 2);
}

void request_line(std::string& out, std::string_view method, std::string_view target) {
  append_clean(out, method);
  out.push_back(' ');
  append_clean(out, target);
  out.append(" HTTP/1.1\r\n", 11);
}

void field(std::string& out, std::string_view name, std::string_view value) {
  append_clean(out, name);
  out.append(": ", 2);
  append_clean(out, value);
  out.append("\r\n", 2);
}

void field(std::string& out, std::string_view name, uint64_t value) {
  append_clean(out, name);
  out.append(": ", 2);
  field_value(out, value);
}

void field_value(std::string& out, std::string_view value) {
  append_clean(out, value);
  out.append("\r\n", 2);
}

void field_value(std::string& out, uint64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf - 2, value);
  char* end = r.ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, static_cast<std::size_t>(end - buf));
}

ChunkSize chunk_size(std::size_t n) {
  ChunkSize c;
  const auto r = std::to_chars(c.bytes, c.bytes + 16, static_cast<uint64_t>(n), 16);
  c.size = static_cast<std::size_t>(r.ptr - c.bytes);
  c.bytes[c.size++] = '\r';
  c.bytes[c.size++] = '\n';
  return c;
}

bool has_obs_fold(std::string_view head) {
  for (std::size_t i = head.find('\n'); i != std::string_view::npos && i + 1 < head.size(); i = head.find('\n', i + 1)) {
    if (head[i + 1] == ' ' || head[i + 1] == '\t') return true;
  }
  return false;
}

TransferCoding classify_transfer_encoding(std::string_view value) {
  // Split on commas, skipping empty list elements and optional whitespace (RFC 9110 5.6.1).
  std::size_t codings = 0;
  std::string_view last;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.empty()) continue;
    ++codings;
    last = item;
  }
  if (!text::iequals(last, "chunked")) return TransferCoding::final_not_chunked;
  return codings == 1 ? TransferCoding::chunked : TransferCoding::unsupported;
}

void to_origin_form(std::string& target) {
  const std::string_view t = target;
  std::size_t scheme = 0;
  if (t.size() >= 7 && text::iequals(t.substr(0, 7), "http://")) scheme = 7;
  else if (t.size() >= 8 && text::iequals(t.substr(0, 8), "https://")) scheme = 8;
  if (scheme == 0) return;
  const std::size_t path = t.find_first_of("/?", scheme);
  if (path == std::string_view::npos) {
    target.assign(1, '/');  // not = "/": GCC 12 at -O3 warns (-Wrestrict, wrongly) on that
  } else if (t[path] == '?') {
    target.replace(0, path, 1, '/');
  } else {
    target.erase(0, path);
  }
}

}  // namespace zgate::h1
