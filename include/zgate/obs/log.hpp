#pragma once
// Logging: an asynchronous spdlog logger (bounded queue, oldest lines dropped when full, so
// the request path never blocks on logging) as the default logger, plus an `access` logger
// writing one pre-formatted line per request. Use spdlog::info/debug/... with fmt format
// strings: the level is checked before anything is formatted.
#include <cstdint>
#include <functional>
#include <string_view>

#include "zgate/config/config.hpp"
#include "zgate/translate/events.hpp"

namespace zgate {

// Call once at start, before workers run (calling again re-initialises). `debug` forces at
// least debug level.
void init_logging(const LogConfig& cfg, bool debug);
void flush_logs();
// Flushes and stops the logging thread; log calls after this are dropped.
void shutdown_logging();

// One finished request. Time fields are microseconds since the request started; -1 = the
// phase was not reached. Views need only live for the call.
struct AccessRecord {
  std::string_view request_id, key_label, method, path, model, upstream_model, provider;
  bool stream = false;
  int status = 0;
  int64_t connect_us = -1, upstream_first_byte_us = -1, first_token_us = -1, total_us = -1;
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0, cached_tokens = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  std::string_view error_type;  // "" = success
  double cost_usd = 0;
  bool upstream_reused = false;  // the upstream connection came from the pool
  std::string_view client_ip;
};

// Writes one access line (JSON or key=value text, per LogConfig::format). A no-op, before any
// formatting, when the access log is off.
void log_access(const AccessRecord& r);

// Appends the access line for `r` in the given format (no newline); exposed for tests.
void format_access(std::string& out, const AccessRecord& r, bool json);

// Whether log_access would write anything (access_log on, or a test sink set).
bool access_log_enabled();

// USD cost of a request: ((prompt - cached) * in + cached * cached_in + completion * out) / 1e6.
double cost_usd(const ModelRoute& route, const Usage& usage);

// Test hook: while set, access lines go synchronously to `sink` (and not to the logger), even
// if init_logging was never called. Pass an empty function to unset.
void set_access_sink_for_tests(std::function<void(std::string_view)> sink);

}  // namespace zgate
