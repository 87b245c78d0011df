#pragma once
// Word-at-a-time byte tests ("SWAR": SIMD within a register), portable C++. Used where a hot
// loop would otherwise look at text one byte at a time (JSON escaping, HTTP head fields).
// Each answers "does any byte of the 8-byte word match?" exactly; which byte is left to the
// caller's byte loop.
#include <cstdint>
#include <cstring>

namespace zgate::swar {

inline constexpr uint64_t kOnes = 0x0101010101010101ull;
inline constexpr uint64_t kHighs = 0x8080808080808080ull;

inline uint64_t load8(const void* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Non-zero if any byte of `w` is zero.
inline uint64_t has_zero(uint64_t w) { return (w - kOnes) & ~w & kHighs; }

// Non-zero if any byte of `w` equals `c`.
inline uint64_t has_byte(uint64_t w, unsigned char c) { return has_zero(w ^ (kOnes * c)); }

// Non-zero if any byte of `w` is below `n` (n <= 128).
inline uint64_t has_below(uint64_t w, unsigned char n) { return (w - kOnes * n) & ~w & kHighs; }

}  // namespace zgate::swar
