// The passive upstream health: results per provider and credential from the records' upstream
// trails, the window, the states and the two outputs (JSON, Prometheus).
#include <string>

#include <catch2/catch.hpp>

#include "zgate/obs/upstream_health.hpp"

using namespace zgate;
using namespace zgate::obs;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

AccessRecord chat_record(std::string_view trail, int status, std::string_view error_type = {}) {
  AccessRecord r;
  r.upstream_trail = trail;
  r.status = status;
  r.error_type = error_type;
  r.attempts = 1;
  return r;
}

CredentialInfo cred(std::string provider, int index, std::string label) {
  CredentialInfo c;
  c.provider = std::move(provider);
  c.kind = "zhipu";
  c.index = index;
  c.label = std::move(label);
  c.fingerprint = "sha256:0123abcd";
  return c;
}

}  // namespace

TEST_CASE("every attempt of a record's trail counts for its own credential", "[health]") {
  UpstreamHealth h;
  // Key 0 got a 429, key 1 then answered.
  h.consume(chat_record("zhipu\t0\thttp_429@key1\nzhipu\t1", 200), kT0);
  const HealthStats k0 = h.stats("zhipu", 0, kT0, 300s);
  const HealthStats k1 = h.stats("zhipu", 1, kT0, 300s);
  CHECK(k0.requests == 1);
  CHECK(k0.errors == 1);
  CHECK(k0.consecutive_failures == 1);
  CHECK(k0.last_error == "http_429@key1");
  CHECK(k0.last_failure_ms == kT0);
  CHECK(k1.requests == 1);
  CHECK(k1.errors == 0);
  CHECK(k1.last_success_ms == kT0);
  const HealthStats whole = h.stats("zhipu", UpstreamHealth::kWhole, kT0, 300s);
  CHECK(whole.requests == 2);
  CHECK(whole.errors == 1);
  CHECK(whole.consecutive_failures == 0);  // the last attempt succeeded
}

TEST_CASE("the last attempt's outcome is what the client got", "[health]") {
  CHECK(classify_outcome(200, "") == AttemptResult::ok);
  CHECK(classify_outcome(400, "invalid_request_error") == AttemptResult::ok);  // the upstream answered
  CHECK(classify_outcome(502, "upstream_connect_failed") == AttemptResult::failed);
  CHECK(classify_outcome(429, "rate_limit_exceeded") == AttemptResult::failed);
  CHECK(classify_outcome(200, "upstream_closed") == AttemptResult::failed);  // cut mid-stream
  CHECK(classify_outcome(499, "client_closed_request") == AttemptResult::neutral);
  CHECK(classify_outcome(200, "client_write_timeout") == AttemptResult::neutral);
  CHECK(classify_outcome(503, "server_shutting_down") == AttemptResult::neutral);

  UpstreamHealth h;
  h.consume(chat_record("p\t-1", 504, "upstream_timeout"), kT0);
  h.consume(chat_record("p\t-1", 499, "client_closed_request"), kT0 + 1);
  const HealthStats s = h.stats("p", -1, kT0 + 1, 300s);
  CHECK(s.requests == 1);
  CHECK(s.errors == 1);
  CHECK(s.last_error == "upstream_timeout");
}

TEST_CASE("a record without a trail never reached the upstream and counts for nothing", "[health]") {
  UpstreamHealth h;
  h.consume(chat_record("", 429, "rate_limit_exceeded"), kT0);
  CHECK(h.stats("zhipu", UpstreamHealth::kWhole, kT0, 300s).requests == 0);
}

TEST_CASE("results older than the window leave the counts but not the last times", "[health]") {
  UpstreamHealth h;
  h.add("p", 0, false, "http_500", kT0);
  h.add("p", 0, true, {}, kT0 + 200'000);
  const HealthStats inside = h.stats("p", 0, kT0 + 200'000, 300s);
  CHECK(inside.requests == 2);
  CHECK(inside.errors == 1);
  const HealthStats later = h.stats("p", 0, kT0 + 400'000, 300s);
  CHECK(later.requests == 1);
  CHECK(later.errors == 0);
  CHECK(later.last_failure_ms == kT0);
  CHECK(later.last_success_ms == kT0 + 200'000);
  CHECK(h.stats("p", 0, kT0 + 2'000'000, 300s).requests == 0);
}

TEST_CASE("the state follows consecutive failures, the error rate and the pool", "[health]") {
  HealthSettings hs;
  hs.down_after_failures = 3;
  hs.degraded_error_rate = 0.5;
  HealthStats s;
  CHECK(health_state(s, hs, false, false) == "healthy");  // nothing seen yet
  s.requests = 10;
  s.errors = 4;
  CHECK(health_state(s, hs, false, false) == "healthy");
  s.errors = 5;
  CHECK(health_state(s, hs, false, false) == "degraded");
  s.errors = 0;
  s.consecutive_failures = 1;
  CHECK(health_state(s, hs, false, false) == "degraded");
  s.consecutive_failures = 3;
  CHECK(health_state(s, hs, false, false) == "down");
  CHECK(health_state(s, hs, false, true) == "resting");
  CHECK(health_state(s, hs, true, true) == "rejected");
}

TEST_CASE("the JSON report shows each provider and credential with numbers and fingerprints only", "[health]") {
  UpstreamHealth h;
  h.add("zhipu", 0, true, {}, kT0);
  h.add("zhipu", 1, false, "upstream_auth_failed", kT0 + 1000);
  std::vector<CredentialInfo> creds{cred("zhipu", 0, "1"), cred("zhipu", 1, "2")};
  creds[1].rejected = true;
  HealthSettings hs;
  const std::string j = health_json(h, creds, hs, kT0 + 2000);
  CHECK(j.find(R"("object":"upstream_health")") != std::string::npos);
  CHECK(j.find(R"("window_s":300)") != std::string::npos);
  CHECK(j.find(R"("provider":"zhipu","kind":"zhipu","state":"degraded","requests":2,"errors":1)") !=
        std::string::npos);
  CHECK(j.find(R"("credential":"1","fingerprint":"sha256:0123abcd","state":"healthy")") != std::string::npos);
  CHECK(j.find(R"("credential":"2","fingerprint":"sha256:0123abcd","state":"rejected")") != std::string::npos);
  CHECK(j.find(R"("last_success":"2026-01-01T00:00:00.000Z")") != std::string::npos);
  CHECK(j.find(R"("last_error":"upstream_auth_failed")") != std::string::npos);
}

TEST_CASE("a provider whose every credential rests is resting", "[health]") {
  UpstreamHealth h;
  std::vector<CredentialInfo> creds{cred("zhipu", 0, "1"), cred("zhipu", 1, "2")};
  creds[0].resting_ms = 4000;
  creds[1].rejected = true;
  const std::string j = health_json(h, creds, HealthSettings{}, kT0);
  CHECK(j.find(R"("provider":"zhipu","kind":"zhipu","state":"resting")") != std::string::npos);
  CHECK(j.find(R"("state":"resting","resting_ms":4000)") != std::string::npos);
}

TEST_CASE("the metrics carry one series per credential", "[health]") {
  UpstreamHealth h;
  for (int i = 0; i < 5; ++i) h.add("zhipu", 0, false, "http_503", kT0 + i);
  std::vector<CredentialInfo> creds{cred("zhipu", 0, "1"), cred("zhipu", 1, "2")};
  std::string out;
  write_health_metrics(out, h, creds, HealthSettings{}, kT0 + 10);
  CHECK(out.find("# TYPE zgate_upstream_healthy gauge") != std::string::npos);
  CHECK(out.find(R"(zgate_upstream_healthy{provider="zhipu",credential="1"} 0)") != std::string::npos);
  CHECK(out.find(R"(zgate_upstream_healthy{provider="zhipu",credential="2"} 1)") != std::string::npos);
  CHECK(out.find(R"(zgate_upstream_state{provider="zhipu",credential="1",state="down"} 1)") != std::string::npos);
  CHECK(out.find(R"(zgate_upstream_consecutive_failures{provider="zhipu",credential="1"} 5)") != std::string::npos);
  CHECK(out.find(R"(zgate_upstream_window_errors{provider="zhipu",credential="1"} 5)") != std::string::npos);
}
