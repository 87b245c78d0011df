#pragma once
// Logging: an asynchronous spdlog logger (bounded queue, oldest lines dropped when full, so
// the request path never blocks on logging) as the default logger, plus an `access` logger
// that the access-log writer hands its pre-formatted lines to. Use spdlog::info/debug/... with
// fmt format strings: the level is checked before anything is formatted.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "zgate/config/config.hpp"
#include "zgate/obs/access_record.hpp"
#include "zgate/obs/recorder.hpp"
#include "zgate/model/events.hpp"

namespace zgate {

// Call once at start, before workers run (calling again re-initialises). `debug` forces at
// least debug level. Neither this nor shutdown_logging() may run while a recorder holding an
// access-log writer is running (the gateway's stops with it).
void init_logging(const LogConfig& cfg, bool debug);
// Flushes and stops the logging thread; log calls after this are dropped.
void shutdown_logging();
// The log files (log.file, log.access_file) are reopened at their paths before their next line
// (SIGUSR1, after logrotate renamed them). Any thread; returns at once.
void reopen_log_files();

// The access-log writer: a recorder consumer (obs/recorder.hpp) that formats each record as
// one line (JSON or key=value text, per LogConfig::format) on the recorder thread and hands
// the lines to the log output in blocks. Add it to a recorder only when access_log_enabled().
std::unique_ptr<obs::RecordConsumer> make_access_log_writer();

// Appends the access line for `r` (finished at `finished_ms`, Unix milliseconds) in the given
// format, without a newline.
void format_access(std::string& out, const AccessRecord& r, int64_t finished_ms, bool json);

// Whether access lines are written anywhere (access_log on, and a logger or a test sink).
bool access_log_enabled();

// USD cost of a request: ((prompt - cached) * in + cached * cached_in + completion * out) / 1e6.
double cost_usd(const ModelRoute& route, const Usage& usage);

// Test hook: while set, the access-log writer hands each line to `sink` (on the recorder
// thread) instead of the logger, even if init_logging was never called. Pass an empty
// function to unset.
void set_access_sink_for_tests(std::function<void(std::string_view)> sink);

}  // namespace zgate
