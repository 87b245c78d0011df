// zai-web identities and the plain JSON/HTML answers every route shares.
#include "zai.hpp"
#include "zgate/core/encoding.hpp"
#include "zgate/core/ids.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::mock::zai {
namespace {

std::string mint_token(std::string_view id, std::string_view email) {
  std::string payload;
  json::Writer w(payload);
  w.begin_object().kv("id", id).kv("email", email).end_object();
  std::string sig(64, '\0');
  for (auto& c : sig) c = static_cast<char>(ids::next_random() & 0xFF);
  std::string token;
  encoding::append_base64url(token, R"({"alg":"ES256","typ":"JWT"})");
  token.push_back('.');
  encoding::append_base64url(token, payload);
  token.push_back('.');
  encoding::append_base64url(token, sig);
  return token;
}

Identity identity_of(std::string_view token) {
  Identity id;
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return id;
  const auto payload = encoding::base64_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload) return id;
  simdjson::dom::object obj;
  if (dom().parse(*payload).get_object().get(obj) != simdjson::SUCCESS) return id;
  std::string_view s;
  if (obj["id"].get_string().get(s) != simdjson::SUCCESS || s.empty()) return id;
  id.id = std::string(s);
  if (obj["email"].get_string().get(s) == simdjson::SUCCESS) id.email = std::string(s);
  id.guest = id.email.empty() || id.email.rfind("Guest-", 0) == 0;
  id.token = std::string(token);
  id.ok = true;
  return id;
}

}  // namespace

simdjson::dom::parser& dom() {
  thread_local simdjson::dom::parser p;
  return p;
}

PlanPtr json_plan(int status, std::string body, const char* label) {
  return simple_plan(status, "application/json", std::move(body), label);
}

PlanPtr detail_plan(int status, std::string_view detail, const char* label) {
  std::string body;
  json::Writer w(body);
  w.begin_object().kv("detail", detail).end_object();
  return json_plan(status, std::move(body), label);
}

PlanPtr waf_plan() {
  return simple_plan(405, "text/html; charset=utf-8",
                     "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>405</title></head><body><div>"
                     "<img src=\"https://errors.aliyun.com/images/TB1TpamHpXXXXaJXXXXeB7nYVXX-104-162.png\">"
                     "<h3>Sorry, your request has been blocked as it may cause potential threats to the server's "
                     "security.</h3><p>traceid: 0bc1a2d3e4f5mock</p></div></body></html>",
                     "waf");
}

Identity new_guest() {
  Identity id;
  id.id = ids::uuid4();
  id.email = "Guest-" + std::to_string(unix_millis()) + "@guest.com";
  id.guest = true;
  id.token = mint_token(id.id, id.email);
  id.ok = true;
  return id;
}

std::string_view bearer(const MockRequest& req) { return bearer_token(req.header("authorization")).value_or(""); }

std::optional<Identity> authenticate(const MockRequest& req, MockContext& mc, PlanPtr& err) {
  Identity id = identity_of(bearer(req));
  if (!id.ok) {
    err = detail_plan(401, "Unauthorized", "auth");
    return std::nullopt;
  }
  ZaiState& st = mc.dialect_state<ZaiState>();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (st.revoked.count(id.token) > 0) {
    err = detail_plan(401, "Unauthorized", "revoked");
    return std::nullopt;
  }
  return id;
}

}  // namespace zgate::mock::zai
