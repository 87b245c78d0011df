#include "zgate/obs/log.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
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
#include "zgate/obs/ticker.hpp"

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
      std::max<std::size_t>(cfg.queue_size, 16), 1, [] {
        pthread_setname_np(pthread_self(), "zgate-log");
        obs::lower_this_thread();
      });
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

namespace {

// One access line written into room sized beforehand: the fixed text, every number at its widest
// and every string at its worst (escaped, 6 bytes a byte), so no field checks capacity or grows
// the string. The recorder thread does this per request for the access log and the live tail; a
// general JSON writer spent most of a line's time on per-field capacity checks and separators.
class Line {
 public:
  // Into a buffer on the stack when the worst case fits (then one append), else into `out`
  // grown by the worst case and cut back to what was written.
  Line(std::string& out, std::size_t string_bytes) : out_(out) {
    const std::size_t need = kFixed + 6 * string_bytes;
    if (need <= sizeof stack_) {
      p_ = stack_;
    } else {
      start_ = out_.size();
      out_.resize(start_ + need);
      p_ = out_.data() + start_;
      in_out_ = true;
    }
  }
  ~Line() {
    if (in_out_) out_.resize(static_cast<std::size_t>(p_ - out_.data()));
    else out_.append(stack_, static_cast<std::size_t>(p_ - stack_));
  }
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  void lit(std::string_view s) {
    if (s.empty()) return;  // an empty view's data() may be null, which memcpy must not get
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void json_str(std::string_view s) {
    *p_++ = '"';
    p_ = json::write_escaped(p_, s);
    *p_++ = '"';
  }
  // key=value text: bare when safe, else JSON-quoted.
  void text_str(std::string_view s) {
    bool bare = !s.empty();
    for (const char c : s) {
      if (kQuote[static_cast<unsigned char>(c)]) {
        bare = false;
        break;
      }
    }
    if (bare) lit(s);
    else json_str(s);
  }
  void num(int64_t v) {
    const fmt::format_int f(v);
    lit({f.data(), f.size()});
  }
  void num(uint64_t v) {
    const fmt::format_int f(v);
    lit({f.data(), f.size()});
  }
  // A duration in microseconds, or `none` when it was not measured (-1).
  void us(int64_t v, std::string_view none) {
    if (v < 0) lit(none);
    else num(v);
  }
  void dbl(double v) {
    if (std::isfinite(v)) p_ = fmt::format_to(p_, "{}", v);
    else lit("null");
  }
  void boolean(bool v) { lit(v ? std::string_view("true") : std::string_view("false")); }
  // "2024-05-01T12:00:00.123Z" for Unix time `ms`; the date-time part is cached per second and
  // per thread.
  void timestamp(int64_t ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    thread_local std::time_t cached_secs = -1;
    thread_local char cached[24];
    if (secs != cached_secs) {
      std::tm tm{};
      gmtime_r(&secs, &tm);
      std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
      cached_secs = secs;
    }
    lit(cached);
    const int milli = static_cast<int>(ms % 1000);
    const char frac[5] = {'.', static_cast<char>('0' + milli / 100), static_cast<char>('0' + milli / 10 % 10),
                          static_cast<char>('0' + milli % 10), 'Z'};
    lit({frac, sizeof frac});
  }

 private:
  // Bytes that make a text value quoted: space and controls, '"', '=', '\\', DEL and non-ASCII.
  static constexpr auto kQuote = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) t[c] = c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f;
    return t;
  }();
  // The keys and separators of either format, numbers at 24 characters each, quotes.
  static constexpr std::size_t kFixed = 2048;
  std::string& out_;
  std::size_t start_ = 0;
  bool in_out_ = false;
  char* p_ = nullptr;
  char stack_[4096];
};

}  // namespace

namespace {

// Each field of an access line once, in order; the format is the emitter's.
template <typename Emit>
void access_fields(Emit& e, const AccessRecord& r) {
  e.str("request_id", r.request_id);
  e.str("key", r.key_label);
  e.str("client_ip", r.client_ip);
  e.str("method", r.method);
  e.str("path", r.path);
  e.str("model", r.model);
  e.str("upstream_model", r.upstream_model);
  e.str("provider", r.provider);
  e.boolean("stream", r.stream);
  e.num("status", int64_t{r.status});
  e.us("connect_us", r.connect_us);
  e.us("upstream_first_byte_us", r.upstream_first_byte_us);
  e.us("first_token_us", r.first_token_us);
  e.us("total_us", r.total_us);
  e.num("prompt_tokens", r.prompt_tokens);
  e.num("completion_tokens", r.completion_tokens);
  e.num("reasoning_tokens", r.reasoning_tokens);
  e.num("cached_tokens", r.cached_tokens);
  e.num("bytes_in", r.bytes_in);
  e.num("bytes_out", r.bytes_out);
  e.str("error_type", r.error_type);
  e.dbl("cost_usd", r.cost_usd);
  e.boolean("upstream_reused", r.upstream_reused);
  e.num("attempts", int64_t{r.attempts});
  e.str("retries", r.retries);
  e.us("queue_wait_us", r.queue_wait_us);
  e.num("queue_depth", int64_t{r.queue_depth});
  e.boolean("usage_estimated", r.usage_estimated);
  if (!r.cache.empty()) {  // only when the response cache was consulted
    e.str("cache", r.cache);
    e.dbl("cost_saved_usd", r.cost_saved_usd);
  }
}

// One field: ,"name":value in JSON (a duration not measured is null), or " name=value" in text
// (values bare when safe, else JSON-quoted; a duration not measured is -). The name's length is
// known at compile time, so its copy is a few moves, not a call.
template <bool Json>
struct Emit {
  Line& l;
  template <std::size_t N>
  void key(const char (&k)[N]) {
    l.lit(Json ? std::string_view(",\"") : std::string_view(" "));
    l.lit({k, N - 1});
    l.lit(Json ? std::string_view("\":") : std::string_view("="));
  }
  template <std::size_t N>
  void str(const char (&k)[N], std::string_view v) {
    key(k);
    if constexpr (Json) l.json_str(v);
    else l.text_str(v);
  }
  template <std::size_t N, typename Int>
  void num(const char (&k)[N], Int v) { key(k); l.num(v); }
  template <std::size_t N>
  void us(const char (&k)[N], int64_t v) { key(k); l.us(v, Json ? "null" : "-"); }
  template <std::size_t N>
  void dbl(const char (&k)[N], double v) { key(k); l.dbl(v); }
  template <std::size_t N>
  void boolean(const char (&k)[N], bool v) { key(k); l.boolean(v); }
};

}  // namespace

void format_access(std::string& out, const AccessRecord& r, int64_t finished_ms, bool json) {
  const std::size_t strings = r.request_id.size() + r.key_label.size() + r.client_ip.size() + r.method.size() +
                              r.path.size() + r.model.size() + r.upstream_model.size() + r.provider.size() +
                              r.error_type.size() + r.retries.size() + r.cache.size();
  Line l(out, strings);
  if (json) {
    l.lit(R"({"ts":")");
    l.timestamp(finished_ms);
    l.lit(R"(","level":"info","msg":"request")");
    Emit<true> e{l};
    access_fields(e, r);
    l.lit("}");
  } else {
    l.lit("ts=");
    l.timestamp(finished_ms);
    l.lit(" level=info msg=request");
    Emit<false> e{l};
    access_fields(e, r);
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
