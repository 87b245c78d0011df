#pragma once
// Secrets in logs: a fingerprint that tells which secret is configured without showing any of
// its characters. Also the SHA-256 digest behind it, which client authentication keeps instead
// of the keys themselves.
#include <array>
#include <string>
#include <string_view>

namespace zgate {

using Sha256Digest = std::array<unsigned char, 32>;

// The SHA-256 digest of `bytes`.
Sha256Digest sha256(std::string_view bytes);

// "sha256:" + the first 8 hex digits of the secret's SHA-256 ("" for an empty secret).
std::string mask_secret(std::string_view secret);

}  // namespace zgate
