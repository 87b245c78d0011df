#include "zgate/obs/log.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "zgate/json/writer.hpp"
#include "zgate/obs/log_file.hpp"

namespace zgate {
namespace {

constexpr const char* kAccessLoggerName = "access";

// %j: the message, JSON-escaped, for the JSON line pattern of application logs.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    scratch_.clear();
    json::append_escaped(scratch_, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(scratch_.data(), scratch_.data() + scratch_.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }

 private:
  std::string scratch_;  // formatters run on the single logging thread; reused across lines
};

// One formatter per sink: access lines are already formatted and pass through verbatim;
// everything else goes through the application pattern. (A sink has one formatter, and the
// access and application loggers share the sink so their lines never interleave mid-line.)
class DispatchFormatter final : public spdlog::formatter {
 public:
  explicit DispatchFormatter(bool json) : json_(json) {
    app_ = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    app_->add_flag<JsonMessageFlag>('j');
    app_->set_pattern(json ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":"%j"})"
                           : "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v");
  }
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    if (msg.logger_name == kAccessLoggerName) {
      dest.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
      dest.push_back('\n');
    } else {
      app_->format(msg, dest);
    }
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<DispatchFormatter>(json_); }

 private:
  bool json_;
  std::unique_ptr<spdlog::pattern_formatter> app_;
};

struct State {
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<spdlog::logger> app;
  std::shared_ptr<spdlog::logger> access;
  std::vector<std::shared_ptr<obs::FileSink>> files;  // reopened by reopen_log_files()
};
State g_state;  // written only by init/shutdown, before workers start / after they stop

std::atomic<bool> g_access_on{true};
std::atomic<bool> g_access_json{true};
std::atomic<spdlog::logger*> g_access_raw{nullptr};

std::atomic<bool> g_has_sink{false};
std::mutex g_sink_mu;
std::function<void(std::string_view)> g_sink;

void stop_current() {
  g_access_raw.store(nullptr, std::memory_order_release);
  if (g_state.app) g_state.app->flush();
  if (g_state.access) g_state.access->flush();
  if (g_state.access) spdlog::drop(kAccessLoggerName);
  // A synchronous stderr logger as the default, so late messages are not lost.
  auto fallback = std::make_shared<spdlog::logger>("zgate", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  spdlog::set_default_logger(fallback);
  g_state.access.reset();
  g_state.app.reset();
  g_state.files.clear();
  g_state.pool.reset();  // drains the queue, then joins the logging thread
}

// "2024-05-01T12:00:00.123Z" for Unix time `ms`; the date-time part is cached per second and
// per thread.
void append_timestamp(std::string& out, int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[24];
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_secs = secs;
  }
  out.append(cached);
  fmt::format_to(std::back_inserter(out), ".{:03}Z", static_cast<int>(ms % 1000));
}

// key=value text: values are bare when safe, else JSON-quoted.
void text_value(std::string& out, std::string_view v) {
  bool bare = !v.empty();
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '"' || c == '=' || c == '\\' || u >= 0x7f) {
      bare = false;
      break;
    }
  }
  if (bare) out.append(v);
  else json::append_string(out, v);
}

}  // namespace

void init_logging(const LogConfig& cfg, bool debug) {
  stop_current();

  const bool json = cfg.format != "text";
  spdlog::sink_ptr sink;
  if (cfg.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    auto file = std::make_shared<obs::FileSink>(cfg.file, /*max_size=*/0, /*keep=*/1);
    g_state.files.push_back(file);
    sink = file;
  }
  sink->set_formatter(std::make_unique<DispatchFormatter>(json));
  // The access lines' own file, when set: written by the recorder thread alone, rotated by size.
  spdlog::sink_ptr access_sink = sink;
  if (!cfg.access_file.empty()) {
    auto file = std::make_shared<obs::FileSink>(cfg.access_file, cfg.access_max_size, cfg.access_keep);
    file->set_formatter(std::make_unique<DispatchFormatter>(json));
    g_state.files.push_back(file);
    access_sink = file;
  }

  g_state.pool = std::make_shared<spdlog::details::thread_pool>(
      std::max<std::size_t>(cfg.queue_size, 16), 1, [] { pthread_setname_np(pthread_self(), "zgate-log"); });
  // overrun_oldest: a full queue drops the oldest line instead of blocking a worker.
  g_state.app = std::make_shared<spdlog::async_logger>("zgate", sink, g_state.pool,
                                                       spdlog::async_overflow_policy::overrun_oldest);
  // The access logger is synchronous: only the access-log writer logs to it, on the recorder
  // thread, a block of lines at a time, straight into the shared sink (whose mutex keeps its
  // lines whole among the application's). Through the async queue each block was copied into a
  // message allocated on one thread and freed on another, and that churn of large blocks made
  // RSS creep under load.
  g_state.access = std::make_shared<spdlog::logger>(kAccessLoggerName, access_sink);

  auto level = spdlog::level::from_str(cfg.level);
  if (cfg.level != "off" && level == spdlog::level::off) level = spdlog::level::info;  // unknown name
  if (debug && level > spdlog::level::debug) level = spdlog::level::debug;
  g_state.app->set_level(level);
  g_state.app->flush_on(spdlog::level::warn);
  g_state.access->set_level(spdlog::level::info);

  spdlog::set_default_logger(g_state.app);
  spdlog::register_logger(g_state.access);
  spdlog::flush_every(std::chrono::seconds(1));

  g_access_json.store(json, std::memory_order_relaxed);
  g_access_on.store(cfg.access_log, std::memory_order_relaxed);
  g_access_raw.store(g_state.access.get(), std::memory_order_release);
}

void shutdown_logging() { stop_current(); }

void reopen_log_files() {
  for (auto& f : g_state.files) f->reopen_soon();
}

bool access_log_enabled() {
  return g_access_on.load(std::memory_order_relaxed) &&
         (g_has_sink.load(std::memory_order_acquire) || g_access_raw.load(std::memory_order_acquire) != nullptr);
}

void format_access(std::string& out, const AccessRecord& r, int64_t finished_ms, bool json) {
  if (json) {
    json::Writer w(out);
    w.begin_object();
    thread_local std::string ts;
    ts.clear();
    append_timestamp(ts, finished_ms);
    w.kv("ts", ts).kv("level", "info").kv("msg", "request");
    w.kv("request_id", r.request_id).kv("key", r.key_label).kv("client_ip", r.client_ip);
    w.kv("method", r.method).kv("path", r.path).kv("model", r.model).kv("upstream_model", r.upstream_model);
    w.kv("provider", r.provider).kv_bool("stream", r.stream).kv("status", r.status);
    auto us = [&w](json::Key k, int64_t v) {
      if (v < 0) w.key(k).null();
      else w.kv(k, v);
    };
    us("connect_us", r.connect_us);
    us("upstream_first_byte_us", r.upstream_first_byte_us);
    us("first_token_us", r.first_token_us);
    us("total_us", r.total_us);
    w.kv("prompt_tokens", r.prompt_tokens).kv("completion_tokens", r.completion_tokens);
    w.kv("reasoning_tokens", r.reasoning_tokens).kv("cached_tokens", r.cached_tokens);
    w.key("bytes_in").number(r.bytes_in).key("bytes_out").number(r.bytes_out);
    w.kv("error_type", r.error_type).kv("cost_usd", r.cost_usd).kv_bool("upstream_reused", r.upstream_reused);
    w.kv("attempts", int64_t{r.attempts}).kv("retries", r.retries);
    us("queue_wait_us", r.queue_wait_us);
    w.kv("queue_depth", int64_t{r.queue_depth});
    w.kv_bool("usage_estimated", r.usage_estimated);
    if (!r.cache.empty()) w.kv("cache", r.cache).kv("cost_saved_usd", r.cost_saved_usd);
    w.end_object();
    return;
  }
  out.append("ts=");
  append_timestamp(out, finished_ms);
  out.append(" level=info msg=request");
  auto s = [&out](std::string_view k, std::string_view v) {
    out.push_back(' ');
    out.append(k);
    out.push_back('=');
    text_value(out, v);
  };
  auto n = [&out](std::string_view k, auto v) { fmt::format_to(std::back_inserter(out), " {}={}", k, v); };
  auto us = [&out, &n](std::string_view k, int64_t v) {
    if (v < 0) {
      out.push_back(' ');
      out.append(k);
      out.append("=-");
    } else {
      n(k, v);
    }
  };
  s("request_id", r.request_id);
  s("key", r.key_label);
  s("client_ip", r.client_ip);
  s("method", r.method);
  s("path", r.path);
  s("model", r.model);
  s("upstream_model", r.upstream_model);
  s("provider", r.provider);
  n("stream", r.stream);
  n("status", r.status);
  us("connect_us", r.connect_us);
  us("upstream_first_byte_us", r.upstream_first_byte_us);
  us("first_token_us", r.first_token_us);
  us("total_us", r.total_us);
  n("prompt_tokens", r.prompt_tokens);
  n("completion_tokens", r.completion_tokens);
  n("reasoning_tokens", r.reasoning_tokens);
  n("cached_tokens", r.cached_tokens);
  n("bytes_in", r.bytes_in);
  n("bytes_out", r.bytes_out);
  s("error_type", r.error_type);
  n("cost_usd", r.cost_usd);
  n("upstream_reused", r.upstream_reused);
  n("attempts", r.attempts);
  s("retries", r.retries);
  us("queue_wait_us", r.queue_wait_us);
  n("queue_depth", r.queue_depth);
  n("usage_estimated", r.usage_estimated);
  if (!r.cache.empty()) {
    s("cache", r.cache);
    n("cost_saved_usd", r.cost_saved_usd);
  }
}

namespace {

// Formats lines into one buffer and hands it to the access logger as a single message per
// block (and at the end of each recorder pass): one sink write per block instead of per
// request. The buffer keeps its capacity (a block plus one line), so a warm writer allocates
// nothing of its own.
class AccessLogWriter final : public obs::RecordConsumer {
 public:
  AccessLogWriter() { buf_.reserve(kBlock + 4096); }

  void consume(const AccessRecord& r, int64_t finished_ms) override {
    if (!g_access_on.load(std::memory_order_relaxed)) return;
    const bool json = g_access_json.load(std::memory_order_relaxed);
    if (g_has_sink.load(std::memory_order_acquire)) {
      std::lock_guard lock(g_sink_mu);  // test-only path
      if (g_sink) {
        line_.clear();
        format_access(line_, r, finished_ms, json);
        g_sink(line_);
        return;
      }
    }
    format_access(buf_, r, finished_ms, json);
    buf_.push_back('\n');
    if (buf_.size() >= kBlock) write();
  }
  void end() override { write(); }
  ~AccessLogWriter() override { write(); }

 private:
  static constexpr std::size_t kBlock = 64 * 1024;

  void write() {
    if (buf_.empty()) return;
    if (spdlog::logger* logger = g_access_raw.load(std::memory_order_acquire)) {
      // The formatter ends the message with its own newline.
      logger->log(spdlog::level::info, spdlog::string_view_t(buf_.data(), buf_.size() - 1));
    }
    buf_.clear();
  }

  std::string buf_;
  std::string line_;  // the test sink's line
};

}  // namespace

std::unique_ptr<obs::RecordConsumer> make_access_log_writer() { return std::make_unique<AccessLogWriter>(); }

double cost_usd(const ModelRoute& route, const Usage& u) {
  const int64_t cached = std::clamp<int64_t>(u.cached_tokens, 0, std::max<int64_t>(u.prompt_tokens, 0));
  const int64_t uncached = std::max<int64_t>(u.prompt_tokens - cached, 0);
  const int64_t completion = std::max<int64_t>(u.completion_tokens, 0);
  return (static_cast<double>(uncached) * route.price_input + static_cast<double>(cached) * route.price_cached_input +
          static_cast<double>(completion) * route.price_output) /
         1e6;
}

void set_access_sink_for_tests(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = std::move(sink);
  g_has_sink.store(static_cast<bool>(g_sink), std::memory_order_release);
}

}  // namespace zgate
