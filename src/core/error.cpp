#include "zgate/core/error.hpp"

namespace zgate {

ApiError bad_request(std::string message, std::string param, std::string code) {
  return ApiError{400, "invalid_request_error", std::move(code), std::move(message), std::move(param), 0,
                  ErrorSource::downstream};
}
ApiError unauthorized(std::string message) {
  return ApiError{401, "authentication_error", "invalid_api_key", std::move(message), {}, 0,
                  ErrorSource::downstream};
}
ApiError not_found(std::string message, std::string code) {
  return ApiError{404, "invalid_request_error", std::move(code), std::move(message), {}, 0,
                  ErrorSource::downstream};
}
ApiError payload_too_large(std::string message) {
  return ApiError{413, "invalid_request_error", "request_too_large", std::move(message), {}, 0,
                  ErrorSource::downstream};
}
ApiError bad_gateway(std::string message, std::string code) {
  return ApiError{502, "upstream_error", std::move(code), std::move(message), {}, 0, ErrorSource::upstream};
}
ApiError gateway_timeout(std::string message) {
  return ApiError{504, "upstream_error", "upstream_timeout", std::move(message), {}, 0, ErrorSource::upstream};
}
ApiError internal_error(std::string message) {
  return ApiError{500, "server_error", "internal_error", std::move(message), {}, 0, ErrorSource::internal};
}

ApiError method_not_allowed(std::string message) {
  return ApiError{405, "invalid_request_error", "method_not_allowed", std::move(message), {}, 0,
                  ErrorSource::downstream};
}
ApiError request_timeout(std::string message) {
  return ApiError{408, "invalid_request_error", "request_timeout", std::move(message), {}, 0,
                  ErrorSource::downstream};
}
ApiError too_many_requests(std::string message, int retry_after, std::string code) {
  return ApiError{429, "rate_limit_error", std::move(code), std::move(message), {}, retry_after,
                  ErrorSource::downstream};
}
ApiError service_unavailable(std::string message, std::string code, int retry_after) {
  return ApiError{503, "server_error", std::move(code), std::move(message), {}, retry_after,
                  ErrorSource::internal};
}
ApiError upstream_unavailable(std::string message) {
  return ApiError{502, "upstream_error", "upstream_unavailable", std::move(message), {}, 0, ErrorSource::upstream};
}

}  // namespace zgate
