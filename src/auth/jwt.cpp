#include "zgate/auth/jwt.hpp"

#include <cctype>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "zgate/core/encoding.hpp"
#include "zgate/json/writer.hpp"

namespace zgate {
namespace {

constexpr std::string_view kBearerPrefix = "Bearer ";
// The header is fixed by the spec: {"alg":"HS256","sign_type":"SIGN"} (no "typ").
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","sign_type":"SIGN"})";

}  // namespace

bool ZhipuJwt::looks_like_id_secret(std::string_view key) {
  const auto dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == key.size()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i == dot) continue;
    if (!std::isalnum(static_cast<unsigned char>(key[i]))) return false;
  }
  return true;
}

ZhipuJwt::ZhipuJwt(std::string id_secret_key, std::chrono::seconds ttl, std::chrono::seconds renew_before)
    : ttl_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count()),
      renew_before_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(renew_before).count()) {
  if (!looks_like_id_secret(id_secret_key)) {
    throw std::invalid_argument("zhipu JWT signing needs an API key of the form <id>.<secret>");
  }
  const auto dot = id_secret_key.find('.');
  id_ = id_secret_key.substr(0, dot);
  secret_ = id_secret_key.substr(dot + 1);
}

void ZhipuJwt::mint(int64_t now_ms) {
  exp_ms_ = now_ms + ttl_ms_;

  scratch_.clear();
  scratch_.append(R"({"api_key":)");
  json::append_string(scratch_, id_);
  fmt::format_to(std::back_inserter(scratch_), R"(,"exp":{},"timestamp":{}}})", exp_ms_, now_ms);

  header_.clear();
  header_.append(kBearerPrefix);
  encoding::append_base64url(header_, kHeaderJson);
  header_.push_back('.');
  encoding::append_base64url(header_, scratch_);

  const std::string_view signing_input = std::string_view(header_).substr(kBearerPrefix.size());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &mac_len);
  header_.push_back('.');
  encoding::append_base64url(header_, std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::string_view ZhipuJwt::authorization(int64_t now_ms) {
  // Re-mint when less than renew_before remains, or when the clock went backwards past the
  // issue time (the upstream would see a token from the future).
  if (exp_ms_ == 0 || now_ms + renew_before_ms_ >= exp_ms_ || now_ms < exp_ms_ - ttl_ms_) mint(now_ms);
  return header_;
}

std::string_view ZhipuJwt::bearer(int64_t now_ms) {
  return authorization(now_ms).substr(kBearerPrefix.size());
}

}  // namespace zgate
