#pragma once
// Random identifiers: request ids, completion ids, UUIDs. Not for secrets (a per-thread
// PRNG seeded from the OS; keys and nonces that must be unguessable use OpenSSL's RAND_bytes).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zgate::ids {

// The calling thread's generator (seeded once per thread from std::random_device).
uint64_t next_random();

// `n` random lower-case hex digits.
std::string random_hex(std::size_t n);
// `prefix` followed by `n` random lower-case hex digits, in one allocation.
std::string random_hex(std::string_view prefix, std::size_t n);

// A random RFC 9562 version-4 UUID, lower case with dashes.
std::string uuid4();

}  // namespace zgate::ids
