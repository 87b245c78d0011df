#pragma once
// HTTP/1.1 message heads and chunk framing, written straight into a reusable buffer.
//
// Why not Beast's serializer: profiling a proxied request showed Beast's header writer and its
// buffer-sequence iterators (buffers_cat_view over the field list) costing about a quarter of
// the gateway's user-space instructions, plus one allocation per header field. The heads zgate
// sends are small and fixed in shape, so they are appended here as plain bytes and written with
// the body in one gather write.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zgate::h1 {

// ASCII case-insensitive equality (header names and tokens).
bool iequals(std::string_view a, std::string_view b);

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
// A field spelled out in the source (both parts string literals): nothing to clean.
template <std::size_t N, std::size_t M>
inline void field(std::string& out, const char (&name)[N], const char (&value)[M]) {
  out.append(name, N - 1);
  out.append(": ", 2);
  out.append(value, M - 1);
  out.append("\r\n", 2);
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

}  // namespace zgate::h1
