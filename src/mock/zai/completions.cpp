// The zai-web completion endpoints. Checks, in order: Origin and Referer (else the WAF's 405
// page), the Bearer token (a JWT-shaped token with an id, not revoked; else 401), stream=true,
// X-FE-Version at least the minimum (else the inline 426 of transcript T11), the signature when
// the mock has a secret (else 400 "Signature validation failed", or the inline "client
// verification failed" when unsigned), the guest model allow-list (else transcript T12), the
// per-token concurrency limit (else 429). Then the scenario (see src/mock/README.md).
#include <algorithm>
#include <array>

#include "zai.hpp"
#include "zgate/core/text.hpp"
#include "zgate/dialect/zaiweb/sign.hpp"

namespace zgate::mock::zai {
namespace {

constexpr std::string_view kDefaultMinFe = "prod-fe-1.0.0";

// {major, minor, patch} of "prod-fe-X.Y.Z"; nullopt when malformed.
std::optional<std::array<int, 3>> fe_version(std::string_view v) {
  if (v.rfind("prod-fe-", 0) != 0) return std::nullopt;
  v.remove_prefix(8);
  std::array<int, 3> out{};
  for (int i = 0; i < 3; ++i) {
    std::size_t n = 0;
    int x = 0;
    while (n < v.size() && v[n] >= '0' && v[n] <= '9' && n < 6) x = x * 10 + (v[n++] - '0');
    if (n == 0) return std::nullopt;
    out[static_cast<std::size_t>(i)] = x;
    v.remove_prefix(n);
    if (i < 2) {
      if (v.empty() || v.front() != '.') return std::nullopt;
      v.remove_prefix(1);
    }
  }
  return out;
}

// Inline and HTTP-level error scenarios; nullptr for other names.
PlanPtr error_scenario(const Scenario& sc, const StreamKnobs& k) {
  const std::string& n = sc.name;
  const char* label = "";
  std::string payload;
  if (n == "err_426" || n == "t11") {
    payload = first_payload("t11");
    label = "err_426";
  } else if (n == "err_verify") {
    payload = frame_error("您的客户端校验失败", "426");
    label = "err_verify";
  } else if (n == "err_model_level" || n == "t12") {
    payload = first_payload("t12");
    label = "err_model_level";
  } else if (n == "err_top_level" || n == "t14") {
    payload = first_payload("t14");
    label = "err_top_level";
  } else if (n == "err_captcha" || n == "t15") {
    payload = first_payload("t15");
    label = "err_captcha";
  }
  if (!payload.empty()) {
    Answer a;
    a.payloads.push_back(std::move(payload));
    return stream_plan(a, k, label);
  }
  if (n == "http_400_signature") return detail_plan(400, "403: Signature validation failed: 签名验证失败", "http_400_signature");
  if (n == "http_401") return detail_plan(401, "Unauthorized", "http_401");
  if (n == "http_405") return waf_plan();
  if (n == "http_429") return detail_plan(429, "Too many concurrent requests", "http_429");
  if (n == "http_500") return simple_plan(500, "text/plain", "Internal Server Error", "http_500");
  return nullptr;
}

bool guest_blocked_model(std::string_view model) {
  // Since May 2026 guests get GLM-5 and later only with a login.
  const std::string m = text::to_lower(model);
  return m.rfind("glm-5", 0) == 0 || m.rfind("x-preview", 0) == 0;
}

}  // namespace

PlanPtr handle_completions(const MockRequest& req, MockContext& mc) {
  if (req.method != "POST") return detail_plan(405, "Method Not Allowed", "method");
  // The WAF answers requests without Origin or Referer with its HTML block page.
  if (!req.has_header("origin") || !req.has_header("referer")) return waf_plan();

  std::optional<Scenario> sc = header_scenario(req);
  StreamKnobs k = knobs(sc ? &*sc : nullptr, mc);
  if (sc && sc->name.rfind("http_", 0) == 0) {
    if (PlanPtr p = error_scenario(*sc, k)) return p;
  }

  PlanPtr err;
  auto who = authenticate(req, mc, err);
  if (!who) return err;

  ChatReq r;
  if (!parse_chat(req, r)) return detail_plan(400, "Invalid JSON body", "bad_json");
  if (!r.stream) return detail_plan(400, "stream must be true", "not_stream");
  if (!sc) {
    sc = find_scenario_marker(r.last_user_text);
    k = knobs(sc ? &*sc : nullptr, mc);
    if (sc && sc->name.rfind("http_", 0) == 0) {
      if (PlanPtr p = error_scenario(*sc, k)) return p;
    }
  }
  if (sc && sc->name == "revoke") {
    ZaiState& st = mc.dialect_state<ZaiState>();
    std::lock_guard<std::mutex> lock(st.mutex);
    st.revoked.insert(who->token);
    return detail_plan(401, "Unauthorized", "revoke");
  }

  // X-FE-Version: a missing or stale version gets the inline 426 of transcript T11.
  std::string_view min_fe = req.header("x-mock-min-fe");
  if (min_fe.empty()) min_fe = kDefaultMinFe;
  const auto have = fe_version(req.header("x-fe-version"));
  const auto need = fe_version(min_fe);
  if (!have || (need && *have < *need)) {
    Answer a;
    a.payloads.push_back(first_payload("t11"));
    return stream_plan(a, k, "fe_version");
  }

  // Signing, when the mock knows the secret.
  const std::string& secret = mc.options().zai_signing_secret;
  if (!secret.empty()) {
    const std::string_view sig = req.header("x-signature");
    if (sig.empty() || req.path() != "/api/v2/chat/completions") {
      Answer a;
      a.payloads.push_back(frame_error("您的客户端校验失败", "426"));
      return stream_plan(a, k, "unsigned");
    }
    const std::string ts = zaiweb::query_param(req.query(), "timestamp");
    const std::string sts = zaiweb::query_param(req.query(), "signature_timestamp");
    const std::string rid = zaiweb::query_param(req.query(), "requestId");
    const std::string uid = zaiweb::query_param(req.query(), "user_id");
    int64_t t = 0;
    const bool ts_ok = !ts.empty() && ts == sts && std::all_of(ts.begin(), ts.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                       ts.size() < 18;
    if (ts_ok) t = std::stoll(ts);
    if (!ts_ok || rid.empty() || uid != who->id || !r.has_signature_prompt ||
        !zaiweb::verify_signature(secret, rid, t, uid, r.signature_prompt, sig, unix_millis())) {
      return detail_plan(400, "403: Signature validation failed: 签名验证失败", "signature");
    }
  }

  if (who->guest && guest_blocked_model(r.model)) {
    Answer a;
    a.payloads.push_back(first_payload("t12"));
    return stream_plan(a, k, "guest_model");
  }

  MockContext::Slot slot = mc.try_acquire("zai\n" + who->token);
  if (!slot.ok) return detail_plan(429, "Too many concurrent requests", "concurrency");

  if (!sc) {
    Scenario d;
    if (r.tool_result_last) d.name = "tool_result";
    else if (!r.trigger.empty() && !r.tools.empty()) d.name = "tools";
    else if (r.thinking) d.name = "thinking";
    else d.name = "plain";
    sc = std::move(d);
  }

  const std::size_t chunks =
      static_cast<std::size_t>(std::max<int64_t>(1, sc->param_int("chunks", mc.options().default_chunks)));
  const std::string& n = sc->name;
  std::shared_ptr<Plan> plan;
  if (PlanPtr p = error_scenario(*sc, k)) {
    plan = std::make_shared<Plan>(*p);
  } else if (n == "t19") {
    plan = framing_plan(k);
  } else if (const auto* t = transcript(n)) {
    plan = stream_plan(replay(*t, r), k, t->name.c_str());
  } else {
    Answer a;
    const char* label = "";
    if (n == "plain" || n == "drop" || n == "require_precreate") {
      a = plain_answer(r, echo_text(r.last_user_text), chunks);
      label = n == "plain" ? "plain" : n == "drop" ? "drop" : "require_precreate";
    } else if (n == "thinking") {
      a = details_answer(r, reasoning_text(r.last_user_text, '\n'), echo_text(r.last_user_text), chunks);
      label = "thinking";
    } else if (n == "thinking_plain") {
      a = plain_thinking_answer(r, reasoning_text(r.last_user_text, '\n'), echo_text(r.last_user_text), chunks);
      label = "thinking_plain";
    } else if (n == "tools") {
      a = tool_answer(r);
      label = "tools";
    } else if (n == "tool_result") {
      a = plain_answer(r, tool_response_text(r), chunks);
      label = "tool_result";
    } else {
      return detail_plan(400, "Unknown mock scenario: " + n, "unknown_scenario");
    }
    if (n == "drop") {
      const auto keep = static_cast<std::size_t>(std::max<int64_t>(0, sc->param_int("after", 2)));
      if (a.payloads.size() > keep) a.payloads.resize(keep);
      a.end = End::close_abruptly;
    }
    if (n == "require_precreate") {
      bool known = false;
      {
        ZaiState& st = mc.dialect_state<ZaiState>();
        std::lock_guard<std::mutex> lock(st.mutex);
        known = st.chats.count(r.chat_id) > 0;
      }
      // Without /api/v1/chats/new the answer is fine but the turn ends with INTERNAL_ERROR.
      if (!known) a.payloads.back() = frame_error("Internal server error, please retry", "\"INTERNAL_ERROR\"");
    }
    plan = stream_plan(a, k, label);
  }
  plan->hold = std::move(slot.hold);
  return plan;
}

}  // namespace zgate::mock::zai
