#include "window.hpp"

#include <algorithm>
#include <cmath>

namespace zgate::alert {

int latency_bucket(int64_t us) {
  const double ms = static_cast<double>(us) / 1000.0;
  if (ms < 1) return 0;
  const int b = 1 + static_cast<int>(std::floor(std::log(ms) / std::log(kBucketRatio)));
  return std::clamp(b, 1, kLatencyBuckets - 1);
}
double bucket_upper_ms(int b) { return b == 0 ? 1.0 : std::pow(kBucketRatio, b); }

bool is_error(const AccessRecord& r) {
  if (r.status >= 500 || r.status == 429) return true;
  return r.status >= 200 && r.status < 300 && !r.error_type.empty() && r.error_type != "client_write_timeout";
}

bool is_upstream_failure(const AccessRecord& r) {
  if (r.attempts <= 0 || r.error_type.empty()) return false;
  if (r.status == 499) return false;
  return r.error_type != "client_closed_request" && r.error_type != "client_write_timeout" &&
         r.error_type != "client_read_failed" && r.error_type != "server_shutting_down";
}

bool is_chat(const AccessRecord& r) { return r.path.ends_with("/chat/completions"); }

}  // namespace zgate::alert
