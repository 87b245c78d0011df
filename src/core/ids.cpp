#include "zgate/core/ids.hpp"

#include <random>

namespace zgate::ids {
namespace {
constexpr char kHex[] = "0123456789abcdef";
}

uint64_t next_random() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }()};
  return rng();
}

std::string random_hex(std::string_view prefix, std::size_t n) {
  std::string s(prefix.size() + n, '0');
  prefix.copy(s.data(), prefix.size());
  char* out = s.data() + prefix.size();
  uint64_t bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) bits = next_random();
    out[i] = kHex[bits & 0xF];
    bits >>= 4;
  }
  return s;
}

std::string random_hex(std::size_t n) { return random_hex({}, n); }

std::string uuid4() {
  const uint64_t a = next_random(), b = next_random();
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    const uint64_t w = i < 16 ? a : b;
    unsigned nib = static_cast<unsigned>((w >> ((i % 16) * 4)) & 0xF);
    if (i == 12) nib = 4;              // version 4
    if (i == 16) nib = 8 | (nib & 3);  // variant 10xx
    s.push_back(kHex[nib]);
  }
  return s;
}

}  // namespace zgate::ids
