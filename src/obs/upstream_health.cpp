#include "zgate/obs/upstream_health.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "zgate/json/writer.hpp"
#include "zgate/obs/metrics.hpp"

namespace zgate::obs {

AttemptResult classify_outcome(int status, std::string_view error_type) {
  // The client left or timed out, or zgate ended the request itself: nothing about the upstream.
  if (status == 499 || error_type.starts_with("client_") || error_type == "server_shutting_down")
    return AttemptResult::neutral;
  if (status >= 500 || status == 429 || status == 401) return AttemptResult::failed;
  if (status == 403 && error_type.starts_with("upstream_")) return AttemptResult::failed;  // captcha, forbidden
  // A stream that began and ended with an in-band error (the upstream broke off, or sent one).
  if (status == 200 && !error_type.empty()) return AttemptResult::failed;
  // Answered: a 200, or a refusal of the request itself (400, 404, ...), which says the upstream
  // is up.
  return AttemptResult::ok;
}

void UpstreamHealth::consume(const AccessRecord& r, int64_t finished_ms) {
  std::string_view trail = r.upstream_trail;
  while (!trail.empty()) {
    const std::size_t nl = trail.find('\n');
    std::string_view line = trail.substr(0, nl);
    trail = nl == std::string_view::npos ? std::string_view() : trail.substr(nl + 1);
    const std::size_t t1 = line.find('\t');
    if (t1 == std::string_view::npos) continue;
    const std::string_view provider = line.substr(0, t1);
    std::string_view rest = line.substr(t1 + 1);
    const std::size_t t2 = rest.find('\t');
    const std::string_view key = rest.substr(0, t2);
    int credential = -1;
    std::from_chars(key.data(), key.data() + key.size(), credential);
    if (t2 != std::string_view::npos) {
      add(provider, credential, false, rest.substr(t2 + 1), finished_ms);
      continue;
    }
    // The attempt whose outcome the client got.
    switch (classify_outcome(r.status, r.error_type)) {
      case AttemptResult::ok: add(provider, credential, true, {}, finished_ms); break;
      case AttemptResult::failed: {
        const std::string status = r.error_type.empty() ? "http_" + std::to_string(r.status) : std::string();
        add(provider, credential, false, r.error_type.empty() ? std::string_view(status) : r.error_type, finished_ms);
        break;
      }
      case AttemptResult::neutral: break;
    }
  }
}

void UpstreamHealth::add(std::string_view provider, int credential, bool ok, std::string_view error, int64_t ms) {
  std::lock_guard lock(mu_);
  add_one(provider, credential, ok, error, ms);
  add_one(provider, kWhole, ok, error, ms);
}

void UpstreamHealth::add_one(std::string_view provider, int credential, bool ok, std::string_view error, int64_t ms) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.credential == credential && e.provider == provider; });
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxEntries) return;
    it = entries_.emplace(entries_.end());
    it->provider = std::string(provider);
    it->credential = credential;
  }
  Entry& e = *it;
  const int64_t epoch = ms / kBucketMs;
  Bucket& b = e.buckets[static_cast<std::size_t>(epoch) % kBuckets];
  if (b.epoch != epoch) b = Bucket{epoch, 0, 0};
  ++b.requests;
  if (ok) {
    e.consecutive = 0;
    e.last_success_ms = std::max(e.last_success_ms, ms);
  } else {
    ++b.errors;
    ++e.consecutive;
    if (ms >= e.last_failure_ms) {
      e.last_failure_ms = ms;
      e.last_error = std::string(error);
    }
  }
}

HealthStats UpstreamHealth::stats(std::string_view provider, int credential, int64_t now_ms, Millis window) const {
  HealthStats s;
  std::lock_guard lock(mu_);
  for (const Entry& e : entries_) {
    if (e.credential != credential || e.provider != provider) continue;
    const int64_t now_epoch = now_ms / kBucketMs;
    const int64_t n = std::clamp<int64_t>((window.count() + kBucketMs - 1) / kBucketMs, 1, kBuckets);
    for (const Bucket& b : e.buckets) {
      if (b.epoch > now_epoch - n && b.epoch <= now_epoch) {
        s.requests += b.requests;
        s.errors += b.errors;
      }
    }
    s.consecutive_failures = e.consecutive;
    s.last_success_ms = e.last_success_ms;
    s.last_failure_ms = e.last_failure_ms;
    s.last_error = e.last_error;
    break;
  }
  return s;
}

std::string_view health_state(const HealthStats& s, const HealthSettings& h, bool rejected, bool resting) {
  if (rejected) return "rejected";
  if (resting) return "resting";
  if (s.consecutive_failures >= h.down_after_failures) return "down";
  if (s.consecutive_failures > 0) return "degraded";
  if (s.requests > 0 && static_cast<double>(s.errors) >= h.degraded_error_rate * static_cast<double>(s.requests))
    return "degraded";
  return "healthy";
}

namespace {

double error_rate(const HealthStats& s) {
  return s.requests > 0 ? static_cast<double>(s.errors) / static_cast<double>(s.requests) : 0.0;
}

// "2026-01-02T03:04:05.678Z", or null for 0.
void utc(json::Writer& w, int64_t ms) {
  if (ms <= 0) {
    w.null();
    return;
  }
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  w.string(fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000));
}

void figures(json::Writer& w, const HealthStats& s) {
  w.kv("requests", s.requests).kv("errors", s.errors).kv("error_rate", error_rate(s));
  w.kv("consecutive_failures", s.consecutive_failures);
  w.key("last_success");
  utc(w, s.last_success_ms);
  w.key("last_failure");
  utc(w, s.last_failure_ms);
  w.key("last_error");
  if (s.last_failure_ms > 0) {
    w.string(s.last_error);
  } else {
    w.null();
  }
}

// The provider's state: its credentials' pool states when none is usable, else its own results.
std::string_view provider_state(const HealthStats& whole, const HealthSettings& h,
                                const std::vector<const CredentialInfo*>& creds) {
  bool all_rejected = !creds.empty(), none_usable = !creds.empty();
  for (const CredentialInfo* c : creds) {
    if (!c->rejected) all_rejected = false;
    if (!c->rejected && c->resting_ms <= 0) none_usable = false;
  }
  return health_state(whole, h, all_rejected, none_usable);
}

// The credentials grouped by provider, in the given order.
std::vector<std::vector<const CredentialInfo*>> by_provider(const std::vector<CredentialInfo>& creds) {
  std::vector<std::vector<const CredentialInfo*>> out;
  for (const CredentialInfo& c : creds) {
    if (out.empty() || out.back().front()->provider != c.provider) out.emplace_back();
    out.back().push_back(&c);
  }
  return out;
}

}  // namespace

std::string health_json(const UpstreamHealth& health, const std::vector<CredentialInfo>& creds,
                        const HealthSettings& h, int64_t now_ms) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.kv("object", "upstream_health");
  w.kv("window_s", static_cast<int64_t>(h.window.count() / 1000));
  w.kv("down_after_failures", h.down_after_failures).kv("degraded_error_rate", h.degraded_error_rate);
  w.key("providers").begin_array();
  for (const auto& group : by_provider(creds)) {
    const CredentialInfo& first = *group.front();
    const HealthStats whole = health.stats(first.provider, UpstreamHealth::kWhole, now_ms, h.window);
    w.begin_object();
    w.kv("provider", first.provider).kv("kind", first.kind).kv("state", provider_state(whole, h, group));
    figures(w, whole);
    w.key("credentials").begin_array();
    for (const CredentialInfo* c : group) {
      const HealthStats s = health.stats(c->provider, c->index, now_ms, h.window);
      w.begin_object();
      w.kv("credential", c->label);
      w.key("fingerprint");
      if (c->fingerprint.empty()) {
        w.null();
      } else {
        w.string(c->fingerprint);
      }
      w.kv("state", health_state(s, h, c->rejected, c->resting_ms > 0));
      w.kv("resting_ms", c->resting_ms);
      figures(w, s);
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

void write_health_metrics(std::string& out, const UpstreamHealth& health, const std::vector<CredentialInfo>& creds,
                          const HealthSettings& h, int64_t now_ms) {
  struct Row {
    std::string labels;
    HealthStats s;
    std::string_view state;
  };
  std::vector<Row> rows;
  rows.reserve(creds.size());
  for (const CredentialInfo& c : creds) {
    Row r;
    prom::label(r.labels, "provider", c.provider);
    prom::label(r.labels, "credential", c.label);
    r.s = health.stats(c.provider, c.index, now_ms, h.window);
    r.state = health_state(r.s, h, c.rejected, c.resting_ms > 0);
    rows.push_back(std::move(r));
  }
  prom::family(out, "zgate_upstream_healthy",
               "1 when the upstream credential is healthy (GET /health/upstream says why not)", "gauge");
  for (const Row& r : rows) prom::sample(out, "zgate_upstream_healthy", r.labels, int64_t{r.state == "healthy"});
  prom::family(out, "zgate_upstream_state",
               "The upstream credential's state (healthy, degraded, down, resting, rejected): 1 for the current one",
               "gauge");
  for (const Row& r : rows) {
    std::string l = r.labels;
    prom::label(l, "state", r.state);
    prom::sample(out, "zgate_upstream_state", l, int64_t{1});
  }
  prom::family(out, "zgate_upstream_consecutive_failures",
               "Failed upstream attempts of the credential since its last success", "gauge");
  for (const Row& r : rows)
    prom::sample(out, "zgate_upstream_consecutive_failures", r.labels, int64_t{r.s.consecutive_failures});
  prom::family(out, "zgate_upstream_window_attempts", "Upstream attempts of the credential in the health window",
               "gauge");
  for (const Row& r : rows) prom::sample(out, "zgate_upstream_window_attempts", r.labels, r.s.requests);
  prom::family(out, "zgate_upstream_window_errors", "Failed upstream attempts of the credential in the health window",
               "gauge");
  for (const Row& r : rows) prom::sample(out, "zgate_upstream_window_errors", r.labels, r.s.errors);
}

}  // namespace zgate::obs
