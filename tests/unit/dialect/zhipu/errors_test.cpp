// Mapping of zhipu v4 error responses to OpenAI errors (business codes: docs/protocols/zhipu-v4.md).
#include <initializer_list>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "zgate/dialect/zhipu/request.hpp"

using namespace zgate;

namespace {

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, std::string_view p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Each business code, answered with `http_status`, maps to `status` and `type`.
void check_codes(std::initializer_list<const char*> codes, int http_status, int status, std::string_view type) {
  for (const char* code : codes) {
    INFO(code);
    const ApiError x = zhipu::map_error(http_status, std::string(R"({"error":{"code":")") + code + R"(","message":"m"}})");
    CHECK(x.status == status);
    CHECK(x.type == type);
  }
}

}  // namespace

TEST_CASE("zhipu errors: bigmodel.cn 401 is an authentication error", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(401, R"({"error":{"code":"401","message":"令牌已过期或验证不正确"}})");
  CHECK(e.status == 401);
  CHECK(e.type == "authentication_error");
  CHECK(e.code == "invalid_api_key");
  CHECK(e.message == "The upstream rejected zgate's credentials: 令牌已过期或验证不正确 (upstream code 401)");
  CHECK(e.retry_after == 0);
  CHECK(e.source == ErrorSource::upstream);
}

TEST_CASE("zhipu errors: Z.ai codes 1000-1004 are authentication errors", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(
      401, R"({"error":{"code":"1002","message":"Authorization Token is invalid, please ensure that the Authorization Token is correctly provided."}})");
  CHECK(e.status == 401);
  CHECK(e.code == "invalid_api_key");
  CHECK(ends_with(e.message, "correctly provided. (upstream code 1002)"));
  CHECK(starts_with(e.message, "The upstream rejected zgate's credentials: "));
  // By business code even if the status says otherwise.
  check_codes({"1000", "1001", "1003", "1004"}, 400, 401, "authentication_error");
}

TEST_CASE("zhipu errors: 1302 concurrency limit is a retryable rate limit", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(
      429, R"({"error":{"code":"1302","message":"High concurrency usage of this API, please reduce concurrency or contact customer service to increase limits"}})");
  CHECK(e.status == 429);
  CHECK(e.type == "rate_limit_error");
  CHECK(e.code == "rate_limit_exceeded");
  CHECK(e.retry_after == 1);
  CHECK(e.message ==
        "High concurrency usage of this API, please reduce concurrency or contact customer service to increase "
        "limits (upstream code 1302)");
  CHECK(e.source == ErrorSource::upstream);
}

TEST_CASE("zhipu errors: 1303 and 1305 are retryable rate limits", "[unit][zhipu][errors]") {
  const ApiError overload = zhipu::map_error(
      429, R"({"error":{"code":"1305","message":"The service may be temporarily overloaded, please try again later"}})");
  CHECK(overload.status == 429);
  CHECK(overload.code == "rate_limit_exceeded");
  CHECK(overload.retry_after == 1);
  CHECK(overload.message == "The service may be temporarily overloaded, please try again later (upstream code 1305)");
  // The same codes with HTTP 503: the business code decides.
  const ApiError variant = zhipu::map_error(
      503, R"({"error":{"code":"1305","message":"The service may be temporarily overloaded, please try again later"}})");
  CHECK(variant.status == 429);
  CHECK(variant.retry_after == 1);
  const ApiError freq = zhipu::map_error(429, R"({"error":{"code":"1303","message":"too frequent"}})");
  CHECK(freq.status == 429);
  CHECK(freq.retry_after == 1);
}

TEST_CASE("zhipu errors: 1113 insufficient balance is insufficient_quota", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(429, R"({"error":{"code":"1113","message":"余额不足或无可用资源包,请充值。"}})");
  CHECK(e.status == 429);
  CHECK(e.type == "insufficient_quota");
  CHECK(e.code == "insufficient_quota");
  CHECK(e.retry_after == 0);
  CHECK(e.message == "余额不足或无可用资源包,请充值。 (upstream code 1113)");
}

TEST_CASE("zhipu errors: quota and account codes are 429 without Retry-After", "[unit][zhipu][errors]") {
  for (const char* code : {"1304", "1308", "1309", "1310", "1313", "1112", "1121"}) {
    INFO(code);
    const ApiError e = zhipu::map_error(429, std::string(R"({"error":{"code":")") + code + R"(","message":"limit"}})");
    CHECK(e.status == 429);
    CHECK(e.type == "rate_limit_error");
    CHECK(e.code == "rate_limit_exceeded");
    CHECK(e.retry_after == 0);
    CHECK(e.message == std::string("limit (upstream code ") + code + ")");
  }
}

TEST_CASE("zhipu errors: 1301 content filter is content_policy_violation", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(
      400, R"({"contentFilter":[{"level":1,"role":"user"}],"error":{"code":"1301","message":"System detected potentially unsafe or sensitive content in input or generation. Please avoid using prompts that may generate sensitive content. Thank you for your cooperation."}})");
  CHECK(e.status == 400);
  CHECK(e.type == "invalid_request_error");
  CHECK(e.code == "content_policy_violation");
  CHECK(starts_with(e.message, "System detected potentially unsafe"));
  CHECK(ends_with(e.message, "cooperation. (upstream code 1301)"));
}

TEST_CASE("zhipu errors: contentFilter without a code is content_policy_violation", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(400, R"({"contentFilter":[{"level":0,"role":"assistant"}],"error":{"message":"blocked"}})");
  CHECK(e.status == 400);
  CHECK(e.code == "content_policy_violation");
  CHECK(e.message == "blocked");
}

TEST_CASE("zhipu errors: 1211 unknown model is a 404 model_not_found", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(400, R"({"error":{"code":"1211","message":"Unknown Model, please check the model code."}})");
  CHECK(e.status == 404);
  CHECK(e.type == "invalid_request_error");
  CHECK(e.code == "model_not_found");
  CHECK(e.message == "Unknown Model, please check the model code. (upstream code 1211)");
}

TEST_CASE("zhipu errors: 1261 prompt too long is context_length_exceeded", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(400, R"({"error":{"code":"1261","message":"Prompt exceeds max length"}})");
  CHECK(e.status == 400);
  CHECK(e.code == "context_length_exceeded");
  CHECK(e.message == "Prompt exceeds max length (upstream code 1261)");
}

TEST_CASE("zhipu errors: 12xx validation errors keep the upstream message", "[unit][zhipu][errors]") {
  const ApiError a = zhipu::map_error(400, R"({"error":{"code":"1214","message":"messages 参数非法。请检查文档。"}})");
  CHECK(a.status == 400);
  CHECK(a.type == "invalid_request_error");
  CHECK(a.message == "messages 参数非法。请检查文档。 (upstream code 1214)");
  const ApiError b = zhipu::map_error(400, R"({"error":{"code":"1214","message":"tools[0].type:type cannot be empty."}})");
  CHECK(b.message == "tools[0].type:type cannot be empty. (upstream code 1214)");
  const ApiError c = zhipu::map_error(400, R"({"error":{"code":"1210","message":"API 调用参数有误，请检查文档。"}})");
  CHECK(c.status == 400);
  CHECK(c.message == "API 调用参数有误，请检查文档。 (upstream code 1210)");
  check_codes({"1212", "1213", "1215", "1220"}, 403, 400, "invalid_request_error");
}

TEST_CASE("zhipu errors: upstream-side business codes are 502", "[unit][zhipu][errors]") {
  for (const char* code : {"1230", "1234", "1235", "1260"}) {
    INFO(code);
    const ApiError e = zhipu::map_error(500, std::string(R"({"error":{"code":")") + code + R"(","message":"oops"}})");
    CHECK(e.status == 502);
    CHECK(e.type == "upstream_error");
    CHECK(e.message == std::string("oops (upstream code ") + code + ")");
  }
}

TEST_CASE("zhipu errors: upstream 5xx is 502 and 503 stays 503", "[unit][zhipu][errors]") {
  const ApiError e500 = zhipu::map_error(500, R"({"error":{"code":"500","message":"Internal error"}})");
  CHECK(e500.status == 502);
  CHECK(e500.type == "upstream_error");
  CHECK(e500.message == "Internal error (upstream code 500)");
  const ApiError e503 = zhipu::map_error(503, R"({"error":{"message":"busy"}})");
  CHECK(e503.status == 503);
  CHECK(e503.type == "upstream_error");
  CHECK(e503.message == "busy");
  CHECK(zhipu::map_error(504, R"({"error":{"code":"9999","message":"x"}})").status == 502);
}

TEST_CASE("zhipu errors: an integer code is read like a string code", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(429, R"({"error":{"message":"High concurrency","code":1302}})");
  CHECK(e.status == 429);
  CHECK(e.code == "rate_limit_exceeded");
  CHECK(e.retry_after == 1);
  CHECK(e.message == "High concurrency (upstream code 1302)");
  CHECK(zhipu::map_error(400, R"({"error":{"code":1211,"message":"m"}})").status == 404);
}

TEST_CASE("zhipu errors: other 4xx keep their status", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(434, R"({"error":{"code":"1220","message":"no permission"}})");
  CHECK(e.status == 400);  // 12xx decides first
  const ApiError f = zhipu::map_error(404, R"({"error":{"code":"9001","message":"not here"}})");
  CHECK(f.status == 404);
  CHECK(f.type == "invalid_request_error");
  CHECK(f.message == "not here (upstream code 9001)");
  const ApiError g = zhipu::map_error(429, R"({"error":{"code":"1110","message":"inactive"}})");
  CHECK(g.status == 429);
  CHECK(g.type == "rate_limit_error");
  CHECK(g.retry_after == 0);
}

TEST_CASE("zhipu errors: an unexpected status with an error body is 502", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(200, R"({"error":{"code":"9999","message":"strange"}})");
  CHECK(e.status == 502);
  CHECK(e.type == "upstream_error");
  CHECK(e.message == "strange (upstream code 9999)");
}

TEST_CASE("zhipu errors: a non-JSON body is 502 quoting the status and the start of it", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(502, "<html><body>Bad Gateway</body></html>");
  CHECK(e.status == 502);
  CHECK(e.type == "upstream_error");
  CHECK(e.source == ErrorSource::upstream);
  CHECK(e.message.find("HTTP 502") != std::string::npos);
  CHECK(e.message.find("<html><body>Bad Gateway</body></html>") != std::string::npos);
  // A 429 from a proxy in plain text is not a v4 rate limit either.
  CHECK(zhipu::map_error(429, "Too Many Requests").status == 502);
}

TEST_CASE("zhipu errors: only the first 200 bytes of a non-JSON body are quoted", "[unit][zhipu][errors]") {
  const std::string body = std::string(199, 'a') + "\xC3\xA9" + std::string(300, 'z');  // é straddles byte 200
  const ApiError e = zhipu::map_error(500, body);
  CHECK(e.status == 502);
  CHECK(e.message.find(std::string(199, 'a')) != std::string::npos);
  CHECK(e.message.find('z') == std::string::npos);
  CHECK(e.message.find('\xC3') == std::string::npos);  // no half character
}

TEST_CASE("zhipu errors: an empty body is 502 naming the status", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(429, "");
  CHECK(e.status == 502);
  CHECK(e.type == "upstream_error");
  CHECK(e.message.find("HTTP 429") != std::string::npos);
  CHECK(zhipu::map_error(500, " \r\n").message.find("HTTP 500") != std::string::npos);
}

TEST_CASE("zhipu errors: JSON without an error object quotes the body", "[unit][zhipu][errors]") {
  const ApiError e = zhipu::map_error(400, R"({"detail":"bad"})");
  CHECK(e.status == 400);
  CHECK(e.message.find(R"({"detail":"bad"})") != std::string::npos);
}

TEST_CASE("zhipu errors: only failures that may pass are retryable", "[unit][zhipu][errors]") {
  auto code = [](int status, const char* c) {
    return zhipu::map_error(status, std::string(R"({"error":{"code":")") + c + R"(","message":"m"}})");
  };
  CHECK(code(429, "1302").retryable);
  CHECK(code(429, "1303").retryable);
  CHECK(code(429, "1305").retryable);
  CHECK(code(503, "1305").retryable);
  CHECK(code(500, "500").retryable);
  CHECK(code(500, "1234").retryable);
  CHECK(zhipu::map_error(502, "<html>bad gateway</html>").retryable);
  CHECK(zhipu::map_error(503, "").retryable);
  CHECK_FALSE(code(429, "1113").retryable);
  CHECK_FALSE(code(429, "1304").retryable);
  CHECK_FALSE(code(401, "1002").retryable);
  CHECK_FALSE(code(400, "1210").retryable);
  CHECK_FALSE(code(400, "1301").retryable);
}
