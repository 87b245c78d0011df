// v4 authentication: an API key from --api-key (any non-empty bearer when none is
// configured), or an HS256 JWT (as "Bearer <jwt>" or bare) signed with the secret of a
// configured "id.secret" key. Failures are 401 with code 1001 (missing), 401 (bad key), 1003
// (expired) or 1004 (bad signature).
#include <optional>

#include <simdjson.h>

#include "v4.hpp"
#include "zgate/core/encoding.hpp"
#include "zgate/core/text.hpp"
#include "zgate/json/read.hpp"

namespace zgate::mock::v4 {
namespace {

namespace od = simdjson::ondemand;

AuthResult reject(std::string_view code, std::string_view message) {
  AuthResult r;
  r.code = code;
  r.message = message;
  return r;
}

AuthResult accept(std::string_view principal) {
  AuthResult r;
  r.ok = true;
  r.principal.assign(principal);
  return r;
}

AuthResult bad_signature() { return reject("1004", "Authorization Token verification failed"); }

constexpr std::string_view kBadToken = "令牌已过期或验证不正确";

// Verifies a JWT. Returns the api_key id on success, or an error result.
AuthResult check_jwt(std::string_view token, const std::vector<std::string>& keys) {
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  const std::string_view h64 = token.substr(0, d1), p64 = token.substr(d1 + 1, d2 - d1 - 1),
                         s64 = token.substr(d2 + 1);
  const auto header = encoding::base64_decode(h64);
  const auto payload = encoding::base64_decode(p64);
  const auto sig = encoding::base64_decode(s64);
  if (!header || !payload || !sig) return bad_signature();
  if (header->find("\"HS256\"") == std::string::npos) return bad_signature();

  std::string api_key;
  int64_t exp = 0;
  {
    thread_local std::string buf;
    od::document doc;
    od::object obj;
    if (json::thread_parser().iterate(json::pad(*payload, buf)).get(doc) || doc.get_object().get(obj))
      return bad_signature();
    for (auto fr : obj) {
      od::field f;
      if (std::move(fr).get(f)) return bad_signature();
      std::string_view k;
      if (f.unescaped_key().get(k)) return bad_signature();
      if (k == "api_key") {
        std::string_view s;
        if (f.value().get_string().get(s)) return bad_signature();
        api_key.assign(s);
      } else if (k == "exp") {
        if (f.value().get_int64().get(exp)) {
          double d = 0;
          if (f.value().get_double().get(d)) return bad_signature();
          exp = json::saturate_to_int64(d);
        }
      }
    }
  }
  if (keys.empty()) return accept(api_key.empty() ? token : std::string_view(api_key));  // nothing to verify against
  for (const auto& key : keys) {
    const auto dot = key.find('.');
    if (dot == std::string::npos || std::string_view(key).substr(0, dot) != api_key) continue;
    const std::string_view secret = std::string_view(key).substr(dot + 1);
    const std::string signing_input(token.substr(0, d2));
    if (!constant_time_equal(hmac_sha256(secret, signing_input), *sig)) return bad_signature();
    // exp is in milliseconds; a seconds value is therefore long expired.
    if (exp < unix_millis()) return reject("1003", "Authorization Token has expired");
    return accept(api_key);
  }
  return reject("401", kBadToken);
}

bool looks_like_jwt(std::string_view t) {
  const auto d1 = t.find('.');
  if (d1 == std::string_view::npos || d1 == 0) return false;
  const auto d2 = t.find('.', d1 + 1);
  return d2 != std::string_view::npos && d2 > d1 + 1 && t.find('.', d2 + 1) == std::string_view::npos &&
         d2 + 1 < t.size();
}

}  // namespace

AuthResult check_auth(const MockRequest& req, const std::vector<std::string>& keys) {
  const std::string_view h = text::trim(req.header("authorization"));
  const std::optional<std::string_view> bearer = bearer_token(h);
  const std::string_view token = bearer ? *bearer : h;  // a bare JWT, as the first v4 SDK and one-api send
  if (token.empty())
    return reject("1001", "Authentication parameter not received in Header, unable to authenticate");
  for (const auto& key : keys)
    if (bearer && constant_time_equal(key, token)) return accept(key);
  // A JWT has three segments; an id.secret key has two, so it cannot be confused with one.
  if (looks_like_jwt(token)) return check_jwt(token, keys);
  if (bearer && keys.empty()) return accept(token);
  return reject("401", kBadToken);
}

}  // namespace zgate::mock::v4
