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
  return r;
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
  return "req_" + ids::random_hex(24);
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
