#include "zgate/h1/chunked.hpp"

#include <cstring>

#include "zgate/core/encoding.hpp"

namespace zgate::h1 {
namespace {

// The chunk size of the line [p, end) (without its CRLF): hex digits, optional whitespace, then
// optional extensions after ';'. Empty on success, else what is wrong.
std::string_view parse_size_line(const char* p, const char* end, uint64_t& size) {
  size = 0;
  const char* q = p;
  for (; q < end; ++q) {
    const int v = encoding::hex_digit(*q);
    if (v < 0) break;
    if (size >> 60) return "the chunk size is too large";
    size = size << 4 | static_cast<uint64_t>(v);
  }
  if (q == p) return "a chunk size is not a hexadecimal number";
  while (q < end && (*q == ' ' || *q == '\t')) ++q;
  if (q == end) return {};
  // Extensions are ignored (RFC 9112 7.1.1), whatever their bytes: the line ends at its CRLF.
  if (*q != ';') return "a chunk-size line has bytes after the size";
  return {};
}

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::decode(char* p, std::size_t n) {
  Step s;
  char* const begin = p;
  char* const end = p + n;
  char* out = nullptr;  // where the next data goes, once some has been found
  // The data found (moved together) and the bytes decoded so far.
  const auto finish = [&] {
    if (out) s.data = std::string_view(s.data.data(), static_cast<std::size_t>(out - s.data.data()));
    s.used = static_cast<std::size_t>(p - begin);
    return s;
  };
  // Malformed framing after data: the data goes out first, and the next call, given the bytes
  // from the bad element on, reports it (nothing before it is lost).
  const auto fail = [&](std::string_view why) {
    if (out) return finish();
    s.error = why;
    return s;
  };
  while (p < end && state_ != State::done) {
    switch (state_) {
      case State::size:
      case State::trailer: {
        const std::size_t avail = static_cast<std::size_t>(end - p);
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', avail < kMaxLine + 2 ? avail : kMaxLine + 2));
        if (!lf) {
          if (avail >= kMaxLine + 2) {
            return fail(state_ == State::size ? "a chunk-size line is too long" : "a trailer line is too long");
          }
          return finish();
        }
        if (lf == p || lf[-1] != '\r') return fail("a line of the chunked body does not end in CRLF");
        const char* line_end = lf - 1;
        if (state_ == State::size) {
          uint64_t size = 0;
          if (auto why = parse_size_line(p, line_end, size); !why.empty()) return fail(why);
          left_ = size;
          state_ = size == 0 ? State::trailer : State::data;
        } else {
          const std::size_t seen = trailers_ + static_cast<std::size_t>(lf + 1 - p);
          if (seen > kMaxTrailers) return fail("the trailer section is too long");
          trailers_ = seen;
          if (line_end == p) state_ = State::done;  // the empty line ends the body
        }
        p = const_cast<char*>(lf) + 1;
        break;
      }
      case State::data: {
        const std::size_t avail = static_cast<std::size_t>(end - p);
        const std::size_t take = left_ < avail ? static_cast<std::size_t>(left_) : avail;
        if (!out) {
          s.data = std::string_view(p, 0);
          out = p;
        } else if (out != p) {
          std::memmove(out, p, take);
        }
        out += take;
        p += take;
        left_ -= take;
        if (left_ == 0) state_ = State::data_end;
        break;
      }
      case State::data_end: {
        if (p[0] != '\r') return fail("a chunk's data is not followed by CRLF");
        if (end - p < 2) return finish();
        if (p[1] != '\n') return fail("a chunk's data is not followed by CRLF");
        p += 2;
        state_ = State::size;
        break;
      }
      case State::done: break;
    }
  }
  return finish();
}

}  // namespace zgate::h1
