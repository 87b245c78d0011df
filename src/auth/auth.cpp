#include "zgate/auth/auth.hpp"

#include <cctype>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace zgate {
namespace {

constexpr std::string_view kAnonymous = "anonymous";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> d{};
  unsigned int len = 0;
  // Fetched once: OpenSSL 3 would otherwise look the algorithm up on every call. Kept for the
  // life of the process.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // EVP_Digest cannot fail for SHA-256 on valid input short of memory exhaustion; a zeroed
  // digest then simply matches nothing real.
  EVP_Digest(s.data(), s.size(), d.data(), &len, md ? md : EVP_sha256(), nullptr);
  return d;
}

}  // namespace

std::string_view bearer_token(std::string_view authorization) {
  std::string_view a = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (a.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != kScheme[i]) return {};
  }
  if (a[kScheme.size()] != ' ' && a[kScheme.size()] != '\t') return {};
  return trim(a.substr(kScheme.size()));
}

Authenticator::Authenticator(const std::vector<ApiKey>& keys, bool allow_no_auth)
    : allow_no_auth_(allow_no_auth) {
  entries_.reserve(keys.size());
  for (const auto& k : keys) entries_.push_back(Entry{sha256(k.key), k.label});
}

namespace {
std::string_view credential(std::string_view authorization, std::string_view x_api_key) {
  const std::string_view presented = bearer_token(authorization);
  return presented.empty() ? trim(x_api_key) : presented;
}
}  // namespace

AuthResult Authenticator::check(std::string_view authorization, std::string_view x_api_key) const {
  return check_presented(credential(authorization, x_api_key));
}

AuthResult Authenticator::check(std::string_view authorization, std::string_view x_api_key, AuthMemo& memo) const {
  const std::string_view presented = credential(authorization, x_api_key);
  if (memo.valid && presented == memo.presented) return memo.result;
  memo.result = check_presented(presented);
  memo.presented.assign(presented);
  memo.valid = true;
  return memo.result;
}

AuthResult Authenticator::check_presented(std::string_view presented) const {
  if (presented.empty() || entries_.empty()) {
    if (allow_no_auth_) return {true, kAnonymous};
    return {false, {}};
  }

  const auto digest = sha256(presented);
  // Compare against every digest, with no early exit, so the time taken does not depend on
  // which key (if any) matched.
  std::size_t match = entries_.size();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const bool eq = CRYPTO_memcmp(digest.data(), entries_[i].digest.data(), digest.size()) == 0;
    match = eq ? i : match;
  }
  if (match < entries_.size()) return {true, entries_[match].label};
  if (allow_no_auth_) return {true, kAnonymous};
  return {false, {}};
}

std::string mask_secret(std::string_view secret) {
  if (secret.empty()) return {};
  static constexpr char hex[] = "0123456789abcdef";
  const auto d = sha256(secret);
  std::string out = "sha256:";
  for (int i = 0; i < 4; ++i) {
    out.push_back(hex[d[i] >> 4]);
    out.push_back(hex[d[i] & 0xF]);
  }
  return out;
}

}  // namespace zgate
