#pragma once
// Gateway errors as values. Every failure that reaches a client becomes an OpenAI-style
// error body: {"error":{"message","type","param","code"}}.
#include <string>
#include <string_view>

namespace zgate {

// Who is at fault, for logs and metrics (Pingora-style error source).
enum class ErrorSource : unsigned char { downstream, upstream, internal };

struct ApiError {
  int status = 500;          // HTTP status sent to the client
  std::string type;          // OpenAI error type: invalid_request_error, authentication_error, ...
  std::string code;          // OpenAI error code: invalid_api_key, model_not_found, ... (may be empty)
  std::string message;       // human-readable; names what is wrong
  std::string param;         // offending request field, if any
  int retry_after = 0;       // seconds for a Retry-After header; 0 = none
  ErrorSource source = ErrorSource::downstream;
  // An upstream failure that may pass (overload, concurrency or frequency limits, a 5xx): the
  // gateway may try the request again while nothing has been sent to the client.
  bool retryable = false;
};

// Common constructors (status + type filled in consistently).
ApiError bad_request(std::string message, std::string param = {}, std::string code = {});
ApiError unauthorized(std::string message);
ApiError not_found(std::string message, std::string code = {});
ApiError payload_too_large(std::string message);
ApiError bad_gateway(std::string message, std::string code = "upstream_error");
ApiError gateway_timeout(std::string message);
ApiError internal_error(std::string message);

// Appends the JSON error body for `e` to `out`.
void append_error_body(std::string& out, const ApiError& e);
std::string error_body(const ApiError& e);

}  // namespace zgate
