#pragma once
// HTTP/1.1 message heads and chunk framing, written straight into a reusable buffer.
//
// Why not Beast's serializer: its header writer and buffer-sequence iterators (buffers_cat_view
// over the field list) cost a large share of a proxied request's instructions, plus one
// allocation per header field (docs/architecture.md). The heads zgate sends are small and fixed
// in shape, so they are appended here as plain bytes and written with the body in one gather
// write.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zgate::h1 {

// The reason phrase for a status code ("OK", "Bad Gateway", ...; "" for unknown codes).
std::string_view reason(int status);

// "HTTP/1.1 <status> <reason>\r\n"
void status_line(std::string& out, int status);

// "<method> <target> HTTP/1.1\r\n"
void request_line(std::string& out, std::string_view method, std::string_view target);

// "<name>: <value>\r\n". CR, LF and NUL are dropped from the name and the value, so a value
// that echoes client input cannot split the head.
void field(std::string& out, std::string_view name, std::string_view value);
void field(std::string& out, std::string_view name, uint64_t value);
// "<name>: " for a name spelled out in the source (a string literal): nothing to clean. The
// overloads below use it; together they spare the per-request heads a scan per name and per
// number.
template <std::size_t N>
inline void field_name(std::string& out, const char (&name)[N]) {
  char buf[N + 1];
  for (std::size_t i = 0; i + 1 < N; ++i) buf[i] = name[i];
  buf[N - 1] = ':';
  buf[N] = ' ';
  out.append(buf, N + 1);
}
// A field spelled out in the source (both parts string literals).
template <std::size_t N, std::size_t M>
inline void field(std::string& out, const char (&name)[N], const char (&value)[M]) {
  field_name(out, name);
  out.append(value, M - 1);
  out.append("\r\n", 2);
}
// A literal name with a value from elsewhere (cleaned).
void field_value(std::string& out, std::string_view value);
template <std::size_t N>
inline void field(std::string& out, const char (&name)[N], std::string_view value) {
  field_name(out, name);
  field_value(out, value);
}
// A literal name with a number (digits: nothing to clean).
void field_value(std::string& out, uint64_t value);
template <std::size_t N>
inline void field(std::string& out, const char (&name)[N], uint64_t value) {
  field_name(out, name);
  field_value(out, value);
}

// Ends the head: "\r\n".
inline void end(std::string& out) { out.append("\r\n", 2); }

// The size line of one chunk of a chunked body: "<hex size>\r\n". Returns its length.
struct ChunkSize {
  char bytes[20];
  std::size_t size = 0;
  std::string_view view() const { return {bytes, size}; }
};
ChunkSize chunk_size(std::size_t n);

// What follows a chunk's data: the CRLF that closes it, optionally followed by the last chunk.
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kChunkEndAndLast = "\r\n0\r\n\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// ---- reading request heads (RFC 9112) --------------------------------------------------------

// True if a line of the head `head` (request line through the blank line) other than the first
// starts with a space or a tab: obs-fold (a field value continued on the next line), or
// whitespace between the start line and the first field. A server must not act on either as
// if it were a field (RFC 9112 sections 2.2 and 5.2); zgate rejects the request.
bool has_obs_fold(std::string_view head);

// How a request's Transfer-Encoding (all its field lines joined by ", ") frames the body.
enum class TransferCoding : unsigned char {
  chunked,          // exactly "chunked": the one coding zgate decodes
  final_not_chunked,// the last coding is not chunked: the length cannot be known (400, close)
  unsupported,      // chunked last, but other codings too ("gzip, chunked"): 501, close
};
TransferCoding classify_transfer_encoding(std::string_view value);

// Rewrites an absolute-form request target ("http://host/path?q") to its origin-form ("/path?q",
// "/" for an empty path), which a server must accept (RFC 9112 section 3.2.2); any other target
// is left unchanged.
void to_origin_form(std::string& target);

}  // namespace zgate::h1
