#pragma once
// A chunked message body (RFC 9112 7.1) decoded in place, in the buffer it was read into.
//
// Why not Beast's body parser, which zgate still uses for the head and for bodies of a known
// length: it hands every chunk's bytes to a callback that appends them to a second buffer, so a
// stream chunk was copied once more after the read, and its per-call state machine and the
// callback were a large share of a relayed chunk's instructions (docs/benchmark.md). Here the
// chunks' data is left where it was read (a stream usually has one chunk per read, which then
// moves not at all); when one read holds several chunks, their data is moved together behind the
// first chunk's.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace zgate::h1 {

class ChunkedDecoder {
 public:
  // A chunk-size line (with any extensions) and one trailer line may be this long at most.
  static constexpr std::size_t kMaxLine = 4096;
  // The trailer section may be this long at most.
  static constexpr std::size_t kMaxTrailers = 64 * 1024;

  struct Step {
    // Body bytes: a view into the bytes given to decode(), valid until they are changed.
    std::string_view data;
    // How many of the bytes given were decoded (framing and data); the rest, an incomplete
    // chunk-size line or CRLF, must be given again, followed by what comes next.
    std::size_t used = 0;
    // Why the body is malformed; empty when it is not.
    std::string_view error;
  };

  // Decodes what `n` bytes at `p` hold of the body, stopping at its end. May move chunk data
  // within [p, p + n).
  Step decode(char* p, std::size_t n);
  // The last chunk and the trailer section have been decoded: the body is complete.
  bool done() const { return state_ == State::done; }
  // Ready for another body.
  void reset() {
    state_ = State::size;
    left_ = 0;
    trailers_ = 0;
  }

 private:
  enum class State : uint8_t { size, data, data_end, trailer, done };
  State state_ = State::size;
  uint64_t left_ = 0;          // bytes of the current chunk's data still to come
  std::size_t trailers_ = 0;   // bytes of trailer lines seen
};

}  // namespace zgate::h1
