#pragma once
// Secrets in logs: a fingerprint that tells which secret is configured without showing any of
// its characters. Also the SHA-256 digest behind it, which client authentication keeps instead
// of the keys themselves.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace zgate {

using Sha256Digest = std::array<unsigned char, 32>;

// The SHA-256 digest of `bytes`.
Sha256Digest sha256(std::string_view bytes);

// The digest as 64 lower-case hex digits, and back (nullopt unless exactly 64 hex digits, of
// either case): the form a configuration gives a client key's digest in.
std::string sha256_hex(std::string_view bytes);
std::optional<Sha256Digest> parse_sha256_hex(std::string_view hex);

// "sha256:" + the first 8 hex digits of the secret's SHA-256 ("" for an empty secret).
std::string mask_secret(std::string_view secret);

}  // namespace zgate
