#pragma once
// Passive upstream health: per provider and per credential (a zhipu API key, a zai-web token or
// identity), what recent upstream attempts came to. A recorder consumer: it reads each record's
// upstream trail (which provider and credential every attempt used, and why the earlier ones
// failed) on the recorder thread, so the request path does nothing for it. GET /health/upstream
// and /metrics read it together with the credential pools' state (resting, rejected).
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"
#include "zgate/obs/recorder.hpp"

namespace zgate::obs {

// One credential's (or a whole provider's) recent results.
struct HealthStats {
  int64_t requests = 0, errors = 0;  // attempts and failed attempts in the window
  int consecutive_failures = 0;      // failed attempts since the last success
  int64_t last_success_ms = 0, last_failure_ms = 0;  // Unix milliseconds; 0 = none seen
  std::string last_error;            // why the last failure failed (an error type, "http_429", ...)
};

// What the server knows of one credential when the health is read (never the secret itself).
struct CredentialInfo {
  std::string provider;
  std::string kind;          // "zhipu" | "zai-web"
  int index = -1;            // the key's index in its pool; -1 = the provider's only identity
  std::string label;         // "1", "2", ... (the number the logs use), or "guest" / "none"
  std::string fingerprint;   // "sha256:…" of the key or token; "" for a guest or no key
  bool rejected = false;     // the pool took it out of rotation
  int64_t resting_ms = 0;    // > 0: the pool rests it this much longer
};

// An attempt whose outcome says nothing about the upstream (the client left, zgate shut down).
enum class AttemptResult : unsigned char { ok, failed, neutral };
// The outcome of a request's last attempt, from what its record says the client got.
AttemptResult classify_outcome(int status, std::string_view error_type);

class UpstreamHealth final : public RecordConsumer {
 public:
  static constexpr int kWhole = -2;               // `credential` of a provider's own figures
  static constexpr int64_t kBucketMs = 10'000;    // the window is counted in 10 s buckets
  static constexpr std::size_t kBuckets = 360;    // an hour of them: the longest window
  static constexpr std::size_t kMaxEntries = 4096;

  // Recorder thread: every attempt in the record's upstream trail.
  void consume(const AccessRecord& r, int64_t finished_ms) override;
  // One attempt of `credential` (a key index, or -1) of `provider`, finished at `ms`; also
  // counted for the provider as a whole.
  void add(std::string_view provider, int credential, bool ok, std::string_view error, int64_t ms);
  // Any thread: the figures of one credential (or kWhole) over the `window` before `now_ms`.
  HealthStats stats(std::string_view provider, int credential, int64_t now_ms, Millis window) const;

 private:
  struct Bucket {
    int64_t epoch = -1;
    uint32_t requests = 0, errors = 0;
  };
  struct Entry {
    std::string provider;
    int credential = -1;
    std::array<Bucket, kBuckets> buckets{};
    int consecutive = 0;
    int64_t last_success_ms = 0, last_failure_ms = 0;
    std::string last_error;
  };
  void add_one(std::string_view provider, int credential, bool ok, std::string_view error, int64_t ms);
  mutable std::mutex mu_;  // the recorder thread and the readers (rare: an endpoint, a scrape)
  std::vector<Entry> entries_;
};

// The state of a credential: "rejected" or "resting" as its pool says, else from its results:
// "down" after health.down_after_failures consecutive failures, "degraded" after any failure
// since the last success or at an error rate of health.degraded_error_rate in the window,
// "healthy" otherwise (also when nothing was seen yet).
std::string_view health_state(const HealthStats& s, const HealthSettings& h, bool rejected, bool resting);

// GET /health/upstream's body: every provider with its own figures and state and those of each
// of its credentials. Times in UTC (ISO 8601).
std::string health_json(const UpstreamHealth& health, const std::vector<CredentialInfo>& creds,
                        const HealthSettings& h, int64_t now_ms);
// The zgate_upstream_* families of /metrics, one series per credential.
void write_health_metrics(std::string& out, const UpstreamHealth& health, const std::vector<CredentialInfo>& creds,
                          const HealthSettings& h, int64_t now_ms);

}  // namespace zgate::obs
