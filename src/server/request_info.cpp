#include "request_info.hpp"

#include "zgate/core/ids.hpp"
#include "zgate/obs/log.hpp"

namespace zgate {

AccessRecord to_record(const RequestInfo& c, std::string_view method, std::string_view target,
                       std::string_view client_ip) {
  AccessRecord r{};
  r.request_id = c.request_id;
  r.key_label = c.key_label;
  r.method = method;
  r.path = target.substr(0, target.find('?'));
  r.model = c.model;
  r.upstream_model = c.upstream_model;
  r.provider = c.provider;
  r.stream = c.stream;
  r.status = c.status;
  r.connect_us = c.upstream_first_byte_us < 0 && c.connect_us == 0 ? -1 : c.connect_us;
  r.upstream_first_byte_us = c.upstream_first_byte_us;
  r.first_token_us = c.first_token_us;
  r.total_us = c.micros();
  r.upstream_us = c.upstream_us;
  if (c.upstream_since_us >= 0) r.upstream_us = (c.upstream_us < 0 ? 0 : c.upstream_us) + r.total_us - c.upstream_since_us;
  r.prompt_tokens = c.outcome.usage.prompt_tokens;
  r.completion_tokens = c.outcome.usage.completion_tokens;
  r.reasoning_tokens = c.outcome.usage.reasoning_tokens;
  r.cached_tokens = c.outcome.usage.cached_tokens;
  r.bytes_in = c.bytes_in;
  r.bytes_out = c.bytes_out;
  r.error_type = c.error_type;
  r.cost_usd = c.route ? cost_usd(*c.route, c.outcome.usage) : 0.0;
  r.upstream_reused = c.upstream_reused;
  r.client_ip = client_ip;
  r.attempts = c.attempts;
  r.retries = c.retries;
  r.upstream_trail = c.upstream_trail;
  r.queue_wait_us = c.queue_wait_us;
  r.queue_depth = c.queue_depth;
  r.usage_estimated = c.usage_estimated;
  r.cache = c.cache;
  r.cache_hit = c.cache_hit ? 1 : 0;
  r.cost_saved_usd = c.cost_saved_usd;
  return r;
}

namespace {
// "<name>;dur=<ms with 3 decimals>"
// Assembled on the stack (digits from the right, the name and separators to their left) and
// appended at once: it runs up to four times on every chat response.
template <std::size_t N>
void timing(std::string& out, const char (&label)[N], int64_t us) {
  static_assert(N <= 24, "the buffer holds a label of up to 23 characters");
  const std::string_view name(label, N - 1);
  if (us < 0) us = 0;
  char buf[64];
  char* p = buf + sizeof buf;
  const int64_t frac = us % 1000;
  *--p = static_cast<char>('0' + frac % 10);
  *--p = static_cast<char>('0' + frac / 10 % 10);
  *--p = static_cast<char>('0' + frac / 100);
  *--p = '.';
  int64_t ms = us / 1000;
  do {
    *--p = static_cast<char>('0' + ms % 10);
    ms /= 10;
  } while (ms > 0);
  static constexpr std::string_view kDur = ";dur=";
  p -= kDur.size();
  kDur.copy(p, kDur.size());
  p -= name.size();
  name.copy(p, name.size());
  if (out.back() != ' ') {
    *--p = ' ';
    *--p = ',';
  }
  out.append(p, static_cast<std::size_t>(buf + sizeof buf - p));
}
}  // namespace

void server_timing(std::string& h, const RequestInfo& c) {
  h.append("Server-Timing: ", 15);
  if (c.attempts > 0) {
    timing(h, "upstream-connect", c.connect_us);
    if (c.upstream_first_byte_us >= 0) timing(h, "upstream-first-byte", c.upstream_first_byte_us);
  }
  if (c.queue_wait_us > 0) timing(h, "upstream-queue", c.queue_wait_us);
  timing(h, "zgate", c.own_us());
  h.append("\r\n", 2);
}

std::string request_id_from(std::string_view given) {
  if (!given.empty() && given.size() <= 128) {
    bool ok = true;
    for (char ch : given) {
      const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '-' || ch == '_' || ch == '.' || ch == ':';
      if (!plain) { ok = false; break; }
    }
    if (ok) return std::string(given);
  }
  return ids::random_hex("req_", 24);
}

ApiError shutdown_error() {
  return service_unavailable("zgate is shutting down and could not finish this answer in time; retry the request.",
                             "server_shutting_down", 1);
}

ApiError overloaded(std::string_view what, std::size_t limit, std::string_view setting) {
  return service_unavailable("zgate is at its limit of " + std::to_string(limit) + " " + std::string(what) + " (" +
                                 std::string(setting) + "); retry shortly.",
                             "server_overloaded", 1);
}

}  // namespace zgate
