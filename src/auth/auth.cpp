#include "zgate/auth/auth.hpp"

#include <openssl/crypto.h>

#include "zgate/core/text.hpp"

namespace zgate {
namespace {

constexpr std::string_view kAnonymous = "anonymous";

std::string_view credential(std::string_view authorization, std::string_view x_api_key) {
  const std::string_view presented = bearer_token(authorization);
  return presented.empty() ? text::trim(x_api_key) : presented;
}

// The 401 for a refused request: a request that sent neither header is told how to send a key.
ApiError refused(std::string_view authorization, std::string_view x_api_key) {
  return unauthorized(authorization.empty() && x_api_key.empty()
                          ? "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
                          : "Incorrect API key provided.");
}

}  // namespace

std::string_view bearer_token(std::string_view authorization) {
  const std::string_view a = text::trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (a.size() <= kScheme.size() || !text::iequals(a.substr(0, kScheme.size()), kScheme)) return {};
  if (a[kScheme.size()] != ' ' && a[kScheme.size()] != '\t') return {};
  return text::trim(a.substr(kScheme.size()));
}

Authenticator::Authenticator(const std::vector<ApiKey>& keys, bool allow_no_auth, std::string_view admin_key)
    : allow_no_auth_(allow_no_auth) {
  entries_.reserve(keys.size());
  for (const auto& k : keys) {
    // A key configured by its digest (key_sha256) needs no hashing; validate() checked the hex.
    if (!k.key_sha256.empty()) {
      if (auto d = parse_sha256_hex(k.key_sha256)) entries_.push_back(Entry{*d, k.label});
    } else {
      entries_.push_back(Entry{sha256(k.key), k.label});
    }
  }
  if (!admin_key.empty()) admin_ = sha256(admin_key);
}

Result<void> Authenticator::check_admin(std::string_view authorization, std::string_view x_api_key) const {
  if (!admin_) return not_found("The admin API is off: start zgate with ZGATE_ADMIN_KEY (or admin_key) set.", "admin_disabled");
  const std::string_view presented = credential(authorization, x_api_key);
  if (presented.empty())
    return unauthorized("Missing admin key: send it as 'Authorization: Bearer <admin key>' or 'x-api-key: <admin key>'.");
  const auto digest = sha256(presented);
  if (CRYPTO_memcmp(digest.data(), admin_->data(), digest.size()) != 0)
    return unauthorized("Incorrect admin key provided (client keys are not accepted here).");
  return {};
}

Result<std::string_view> Authenticator::check(std::string_view authorization, std::string_view x_api_key) const {
  if (auto label = match(credential(authorization, x_api_key))) return *label;
  return refused(authorization, x_api_key);
}

Result<std::string_view> Authenticator::check(std::string_view authorization, std::string_view x_api_key,
                                              AuthMemo& memo) const {
  const std::string_view presented = credential(authorization, x_api_key);
  if (!memo.valid || presented != memo.presented) {
    memo.label = match(presented);
    memo.presented.assign(presented);
    memo.valid = true;
  }
  if (memo.label) return *memo.label;
  return refused(authorization, x_api_key);
}

std::optional<std::string_view> Authenticator::match(std::string_view presented) const {
  if (!presented.empty() && !entries_.empty()) {
    const auto digest = sha256(presented);
    // Compare against every digest, with no early exit, so the time taken does not depend on
    // which key (if any) matched.
    std::size_t found = entries_.size();
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const bool eq = CRYPTO_memcmp(digest.data(), entries_[i].digest.data(), digest.size()) == 0;
      found = eq ? i : found;
    }
    if (found < entries_.size()) return std::string_view(entries_[found].label);
  }
  if (allow_no_auth_) return kAnonymous;
  return std::nullopt;
}

}  // namespace zgate
