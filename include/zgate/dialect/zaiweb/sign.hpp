#pragma once
// chat.z.ai request signing (docs/protocols/zai-web.md) and the URL encoding it needs.
//
// X-Signature is a two-layer HMAC-SHA256:
//   key = hex(HMAC(secret, decimal(floor(ts_ms / 300000))))
//   sig = hex(HMAC(key as ASCII, "requestId,<rid>,timestamp,<ts>,user_id,<uid>|<b64(prompt)>|<ts>"))
// The same timestamp / requestId / user_id go into the query string, and the body carries the
// signed text verbatim as `signature_prompt`. The October-2025 variant signed the raw prompt
// (no base64); it is kept for old deployments and the legacy test vector.
#include <cstdint>
#include <string>
#include <string_view>

namespace zgate::zaiweb {

// Percent-encodes everything except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~).
void append_url_encoded(std::string& out, std::string_view s);
// Decodes %XX and '+' (as a space, form style).
std::string url_decode(std::string_view s);
// The decoded value of `key` in a query string ("a=1&b=2", with or without a leading '?' or
// path). Empty when absent; `found` tells absent from empty.
std::string query_param(std::string_view target_or_query, std::string_view key, bool* found = nullptr);

inline constexpr int64_t kSignatureWindowMs = 300'000;  // 5-minute key buckets

// The message that is signed: `requestId,<rid>,timestamp,<ts>,user_id,<uid>|<p>|<ts>`, with p =
// base64(prompt) (or the raw prompt when base64_prompt is false, the early-October-2025 variant).
std::string signing_message(std::string_view request_id, int64_t timestamp_ms, std::string_view user_id,
                            std::string_view prompt, bool base64_prompt = true);
// The per-window key: lowercase hex of HMAC-SHA256(secret, decimal(floor(ts / 300000))).
std::string derive_signing_key(std::string_view secret, int64_t timestamp_ms);
// X-Signature: lowercase hex of HMAC-SHA256(derive_signing_key(...) as ASCII, signing_message(...)).
std::string compute_signature(std::string_view secret, std::string_view request_id, int64_t timestamp_ms,
                              std::string_view user_id, std::string_view prompt, bool base64_prompt = true);

// Everything the signed query needs.
struct SignInput {
  std::string_view secret;
  std::string_view token;       // the JWT (travels in the query too)
  std::string_view user_id;     // the JWT payload `id` ("guest" when unknown)
  std::string_view request_id;  // a fresh UUIDv4
  std::string_view chat_id;     // for current_url / pathname
  std::string_view prompt;      // exactly the body's signature_prompt
  std::string_view user_agent;  // for the fingerprint fields
  int64_t timestamp_ms = 0;
  bool base64_prompt = true;
  bool fingerprint = true;      // add the 2026 browser fingerprint fields
};

struct Signature {
  std::string query;      // without the leading '?', fields URL-encoded, signature_timestamp last
  std::string signature;  // X-Signature (64 lowercase hex)
  int64_t timestamp_ms = 0;
};

// The signed query string (2026 field set) and X-Signature.
Signature sign_request(const SignInput& in);

// Mock side: true when `signature` matches for the window of `timestamp_ms` (the signature is a
// function of the timestamp the client sent), and that timestamp is within `max_skew_ms` of
// `now_ms` (the server accepts the current and the previous window).
bool verify_signature(std::string_view secret, std::string_view request_id, int64_t timestamp_ms,
                      std::string_view user_id, std::string_view prompt, std::string_view signature,
                      int64_t now_ms, int64_t max_skew_ms = 2 * kSignatureWindowMs);

// UTC calendar helpers (pure, no locale): "2026-03-01T10:00:00.000Z", "Sun, 01 Mar 2026 10:00:00 GMT",
// "2026-03-01 10:00:00", and the English weekday name.
std::string iso8601_ms(int64_t unix_ms);
std::string rfc1123(int64_t unix_ms);
std::string datetime_utc(int64_t unix_ms);
std::string_view weekday_utc(int64_t unix_ms);

}  // namespace zgate::zaiweb
