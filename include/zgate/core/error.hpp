#pragma once
// Gateway errors as values. Every failure that reaches a client becomes an OpenAI-style
// error body: {"error":{"message","type","param","code"}} (front/openai/error.hpp writes it).
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

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
ApiError method_not_allowed(std::string message);
ApiError request_timeout(std::string message);
ApiError too_many_requests(std::string message, int retry_after, std::string code = "rate_limit_exceeded");
ApiError service_unavailable(std::string message, std::string code, int retry_after = 0);
ApiError upstream_unavailable(std::string message);  // 502, the upstream cannot be reached

// The one error style of a request's path: a value or the ApiError the client will get
// (like C++23 std::expected<T, ApiError>). Exceptions are for start-up only.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}       // NOLINT: implicit on purpose
  Result(ApiError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const ApiError& error() const& { return std::get<1>(v_); }
  ApiError&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, ApiError> v_;
};

// Success without a value, or the error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(ApiError error) : e_(std::move(error)) {}  // NOLINT: implicit on purpose
  bool ok() const { return !e_; }
  explicit operator bool() const { return ok(); }
  const ApiError& error() const& { return *e_; }
  ApiError&& error() && { return std::move(*e_); }

 private:
  std::optional<ApiError> e_;
};

}  // namespace zgate
