#include "zgate/core/secret.hpp"

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

std::string mask_secret(std::string_view secret) {
  if (secret.empty()) return {};
  const auto d = sha256(secret);
  return "sha256:" + encoding::hex_encode({reinterpret_cast<const char*>(d.data()), 4});
}

}  // namespace zgate
