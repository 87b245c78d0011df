#include "zgate/core/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "zgate/core/encoding.hpp"

namespace zgate {

Sha256Digest sha256(std::string_view bytes) {
  Sha256Digest d{};
  unsigned int len = 0;
  // Fetched once: OpenSSL 3 would otherwise look the algorithm up on every call. Kept for the
  // life of the process.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // EVP_Digest cannot fail for SHA-256 on valid input short of memory exhaustion; a zeroed
  // digest then simply matches nothing real.
  EVP_Digest(bytes.data(), bytes.size(), d.data(), &len, md ? md : EVP_sha256(), nullptr);
  return d;
}

std::string sha256_hex(std::string_view bytes) {
  const auto d = sha256(bytes);
  return encoding::hex_encode({reinterpret_cast<const char*>(d.data()), d.size()});
}

std::optional<Sha256Digest> parse_sha256_hex(std::string_view hex) {
  Sha256Digest d{};
  if (hex.size() != d.size() * 2) return std::nullopt;
  // OPENSSL_hexchar2int: the hex digit's value, or -1.
  for (std::size_t i = 0; i < d.size(); ++i) {
    const int hi = OPENSSL_hexchar2int(static_cast<unsigned char>(hex[2 * i]));
    const int lo = OPENSSL_hexchar2int(static_cast<unsigned char>(hex[2 * i + 1]));
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return d;
}

std::string mask_secret(std::string_view secret) {
  if (secret.empty()) return {};
  const auto d = sha256(secret);
  return "sha256:" + encoding::hex_encode({reinterpret_cast<const char*>(d.data()), 4});
}

}  // namespace zgate
