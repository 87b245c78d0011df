#pragma once
// zai-web identity: guest sign-in, profile of a configured token, the front-end version.
#include <optional>
#include <string>
#include <string_view>

#include "zgate/dialect/zaiweb/options.hpp"
#include "zgate/model/route.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/dialect.hpp"

namespace zgate::zaiweb {

// The web origin the backend expects in Origin / Referer, whatever host zgate connects to.
inline constexpr std::string_view kOrigin = "https://chat.z.ai";
// Used when ZaiWebOptions::user_agent is empty: a current desktop Chrome.
inline constexpr std::string_view kDefaultUserAgent =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36";

struct AuthInfo {
  std::string token, user_id, name, role;  // role: "guest" | "user" (may be empty)
  bool is_guest() const { return role == "guest"; }
};

// GET /api/v1/auths/ without Authorization: signs in a new guest.
UpstreamRequest guest_auth_request(const ZaiWebOptions& opts);
// GET /api/v1/auths/ with the token: that identity's profile (validates a configured token).
UpstreamRequest profile_request(const ZaiWebOptions& opts, std::string_view token);
// GET / (the landing page, for extract_fe_version).
UpstreamRequest landing_page_request(const ZaiWebOptions& opts);

// Parses the /api/v1/auths/ answer. `sent_token`: the token of a profile_request (kept when
// the answer omits it). Errors: captcha, refused guest sign-in, bad token, malformed answer.
Result<AuthInfo> parse_auth_response(int status, std::string_view content_type, std::string_view body,
                                     std::string_view sent_token = {});

// AuthInfo from a configured token alone: user_id = the JWT payload `id` (empty when the
// token is not a JWT), role unknown.
AuthInfo auth_from_token(std::string_view token);
// The `id` of a JWT's payload ("" when not a JWT or no id).
std::string jwt_user_id(std::string_view token);

// The first "prod-fe-X.Y.Z" in the landing page HTML.
std::optional<std::string> extract_fe_version(std::string_view html);

}  // namespace zgate::zaiweb
