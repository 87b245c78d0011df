#include "zgate/obs/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <dirent.h>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "zgate/config/config.hpp"

namespace zgate::obs {

// ---- exposition format ----------------------------------------------------------------------
namespace prom {

void escape_label(std::string& out, std::string_view v) {
  for (char ch : v) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += ch;
    }
  }
}

void label(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty() && out.back() != '{') out += ',';
  out += name;
  out += "=\"";
  escape_label(out, value);
  out += '"';
}

void family(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    fmt::format_to(std::back_inserter(out), "{}", static_cast<int64_t>(v));
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);  // shortest round-trip form
  }
}

namespace {
void head(std::string& out, std::string_view name, std::string_view labels) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
}
}  // namespace

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  head(out, name, labels);
  number(out, value);
  out += '\n';
}
void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t value) {
  head(out, name, labels);
  fmt::format_to(std::back_inserter(out), "{}\n", value);
}
void sample(std::string& out, std::string_view name, std::string_view labels, int64_t value) {
  head(out, name, labels);
  fmt::format_to(std::back_inserter(out), "{}\n", value);
}

}  // namespace prom

// ---- histograms -----------------------------------------------------------------------------

void Histogram::observe_us(int64_t us) {
  const double v = static_cast<double>(us) / 1e6;
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_us_ += us;
  ++count_;
}

void Histogram::write(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string bucket = std::string(name) + "_bucket";
  std::string l;
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    l.assign(labels);
    std::string le;
    if (i < bounds_.size()) {
      prom::number(le, bounds_[i]);
    } else {
      le = "+Inf";
    }
    prom::label(l, "le", le);
    prom::sample(out, bucket, l, cumulative);
  }
  prom::sample(out, std::string(name) + "_sum", labels, static_cast<double>(sum_us_) / 1e6);
  prom::sample(out, std::string(name) + "_count", labels, count_);
}

namespace {

// Upstream phases and whole requests: from a pooled connection's fraction of a millisecond to
// a long reasoning answer.
constexpr double kLatency[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                               1,     2.5,    5,     10,   30,    60,   120, 300};
// zgate's own time per request: finer, as it is usually well under a millisecond.
constexpr double kOverhead[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                0.01,    0.025,  0.05,    0.1,    0.25,  1};

}  // namespace

Metrics::Timings::Timings() : connect(kLatency), first_byte(kLatency), first_token(kLatency), total(kLatency) {}
Metrics::QueueWait::QueueWait() : wait(kLatency) {}

// ---- the aggregate --------------------------------------------------------------------------

Metrics::Metrics() : overhead_(kOverhead) {}

void Metrics::set_models(std::vector<std::string> models) {
  std::lock_guard lock(mu_);
  models_.clear();
  for (auto& m : models) models_.insert(std::move(m));
}

template <class V>
V& Metrics::series(Family<V>& m, KeyView k) {
  if (auto it = m.find(k); it != m.end()) return it->second;
  if (m.size() < kMaxSeries) return m.try_emplace(Key{std::string(k.a), std::string(k.b), k.n}).first->second;
  return m.try_emplace(Key{std::string(kOther), std::string(kOther), -1}).first->second;
}

void Metrics::consume(const AccessRecord& r, int64_t) {
  std::lock_guard lock(mu_);
  const std::string_view model = r.model.empty() || models_.contains(r.model) ? r.model : kOther;
  ++series(requests_, {model, r.provider, r.status * 2 + (r.stream ? 1 : 0)});

  if (!r.key_label.empty() && !r.model.empty()) {
    Tokens& t = series(tokens_, {model, r.key_label, 0});
    t.prompt += static_cast<uint64_t>(std::max<int64_t>(r.prompt_tokens, 0));
    t.completion += static_cast<uint64_t>(std::max<int64_t>(r.completion_tokens, 0));
    t.reasoning += static_cast<uint64_t>(std::max<int64_t>(r.reasoning_tokens, 0));
    t.cached += static_cast<uint64_t>(std::max<int64_t>(r.cached_tokens, 0));
    t.cost_usd += r.cost_usd;
  }

  if (!r.cache.empty()) {
    if (r.cache_hit) {
      ++cache_hits_;
      cache_saved_usd_ += r.cost_saved_usd;
    } else if (r.cache == "bypass") {
      ++cache_bypass_;
    } else {
      ++cache_misses_;
    }
  }

  if (r.attempts > 0) {
    attempts_ += static_cast<uint64_t>(r.attempts);
    retries_ += static_cast<uint64_t>(r.attempts - 1);
    if (!r.error_type.empty()) ++series(errors_, {r.provider, r.error_type, 0});
  }

  if (!r.provider.empty()) {
    Timings& t = series(timings_, {r.provider, {}, 0});
    if (r.connect_us >= 0 && r.attempts > 0) t.connect.observe_us(r.connect_us);
    if (r.upstream_first_byte_us >= 0) t.first_byte.observe_us(r.upstream_first_byte_us);
    if (r.first_token_us >= 0) t.first_token.observe_us(r.first_token_us);
    if (r.total_us >= 0) t.total.observe_us(r.total_us);
    if (r.queue_wait_us >= 0) series(queue_waits_, {r.provider, {}, 0}).wait.observe_us(r.queue_wait_us);
  }
  if (r.total_us >= 0) overhead_.observe_us(std::max<int64_t>(r.total_us - std::max<int64_t>(r.upstream_us, 0), 0));
}

namespace {
// The label set of a series key: names for its two texts (the second omitted when null).
void labels(std::string& out, const char* a, const char* b, std::string_view va, std::string_view vb) {
  out.clear();
  prom::label(out, a, va);
  if (b) prom::label(out, b, vb);
}
}  // namespace

void Metrics::write(std::string& out) const {
  std::lock_guard lock(mu_);
  prom::family(out, "zgate_requests_total",
               "Requests answered (chat, models, errors), by model (\"other\": not a configured route), "
               "provider, HTTP status and stream.",
               "counter");
  std::string l;
  for (const auto& [k, n] : requests_) {
    labels(l, "model", "provider", k.a, k.b);
    if (k.n < 0) {
      l += R"(,status="other",stream="other")";
    } else {
      fmt::format_to(std::back_inserter(l), ",status=\"{}\",stream=\"{}\"", k.n / 2, k.n % 2 ? "true" : "false");
    }
    prom::sample(out, "zgate_requests_total", l, n);
  }

  struct TokenKind {
    const char* name;
    uint64_t Tokens::*field;
  };
  static constexpr TokenKind kinds[] = {{"prompt", &Tokens::prompt},
                                        {"completion", &Tokens::completion},
                                        {"reasoning", &Tokens::reasoning},
                                        {"cached", &Tokens::cached}};
  prom::family(out, "zgate_tokens_total",
               "Tokens the upstream reported, by model, client key label and kind (prompt, completion, "
               "reasoning, cached; reasoning is part of completion, cached part of prompt).",
               "counter");
  for (const auto& [k, t] : tokens_) {
    for (const auto& kind : kinds) {
      labels(l, "model", "key", k.a, k.b);
      prom::label(l, "kind", kind.name);
      prom::sample(out, "zgate_tokens_total", l, t.*kind.field);
    }
  }
  prom::family(out, "zgate_cost_usd_total", "Cost in US dollars at the configured prices, by model and client key label.",
               "counter");
  for (const auto& [k, t] : tokens_) {
    labels(l, "model", "key", k.a, k.b);
    prom::sample(out, "zgate_cost_usd_total", l, t.cost_usd);
  }

  prom::family(out, "zgate_upstream_errors_total",
               "Requests that reached an upstream and ended in an error, by provider and error type.", "counter");
  for (const auto& [k, n] : errors_) {
    labels(l, "provider", "type", k.a, k.b);
    prom::sample(out, "zgate_upstream_errors_total", l, n);
  }
  prom::family(out, "zgate_upstream_attempts_total", "Upstream attempts made (first tries and retries).", "counter");
  prom::sample(out, "zgate_upstream_attempts_total", "", attempts_);
  prom::family(out, "zgate_upstream_retries_total", "Upstream attempts that were retries of an earlier failed one.",
               "counter");
  prom::sample(out, "zgate_upstream_retries_total", "", retries_);
  prom::family(out, "zgate_cache_hits_total", "Chat requests answered from the response cache (hits and coalesced).",
               "counter");
  prom::sample(out, "zgate_cache_hits_total", "", cache_hits_);
  prom::family(out, "zgate_cache_misses_total", "Cacheable chat requests that went to the upstream.", "counter");
  prom::sample(out, "zgate_cache_misses_total", "", cache_misses_);
  prom::family(out, "zgate_cache_bypass_total",
               "Chat requests the cache could have served but was told not to (header, temperature).", "counter");
  prom::sample(out, "zgate_cache_bypass_total", "", cache_bypass_);
  prom::family(out, "zgate_cache_saved_usd_total", "What the cache hits would have cost upstream, USD.", "counter");
  prom::sample(out, "zgate_cache_saved_usd_total", "", cache_saved_usd_);

  struct Hist {
    const char* name;
    const char* help;
    Histogram Timings::*h;
  };
  static constexpr Hist hists[] = {
      {"zgate_upstream_connect_seconds",
       "Time to obtain a ready upstream connection (connect and TLS; 0 for a pooled one), by provider.",
       &Timings::connect},
      {"zgate_upstream_first_byte_seconds", "From sending the upstream request to its response head, by provider.",
       &Timings::first_byte},
      {"zgate_time_to_first_token_seconds", "From the request's arrival to its first token sent, by provider.",
       &Timings::first_token},
      {"zgate_request_duration_seconds", "From the request's arrival to its last byte sent, by provider.",
       &Timings::total},
  };
  for (const auto& h : hists) {
    prom::family(out, h.name, h.help, "histogram");
    for (const auto& [k, t] : timings_) {
      labels(l, "provider", nullptr, k.a, {});
      (t.*h.h).write(out, h.name, l);
    }
  }
  prom::family(out, "zgate_upstream_queue_wait_seconds",
               "Time requests of shaped providers waited for an upstream slot (queued, or for min_interval), "
               "by provider.",
               "histogram");
  for (const auto& [k, q] : queue_waits_) {
    labels(l, "provider", nullptr, k.a, {});
    q.wait.write(out, "zgate_upstream_queue_wait_seconds", l);
  }
  prom::family(out, "zgate_overhead_seconds",
               "zgate's own time per request: its duration minus the time spent in upstream exchanges and "
               "retry waits (includes reading the request body and writing the answer).",
               "histogram");
  overhead_.write(out, "zgate_overhead_seconds", "");
}

// ---- live gauges and the process ------------------------------------------------------------

ProcessStats read_process_stats() {
  ProcessStats p;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return p;
  // Fields after the command name (which may hold spaces) in parentheses.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return p;
  std::istringstream in(line.substr(close + 2));
  std::string f[24];
  for (auto& s : f) in >> s;
  // f[0] is field 3 (state): utime is field 14, stime 15, vsize 23, rss 24 (pages).
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  p.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
  p.virtual_bytes = std::stoull(f[20]);
  p.resident_bytes = std::stoull(f[21]) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (DIR* d = opendir("/proc/self/fd")) {
    uint64_t n = 0;
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    p.open_fds = n > 0 ? n - 1 : 0;  // not counting the directory's own descriptor
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = rl.rlim_cur;
  p.ok = true;
  return p;
}

void write_live(std::string& out, const LiveGauges& g, const ProcessStats& p) {
  auto gauge = [&](const char* name, const char* help, auto value) {
    prom::family(out, name, help, "gauge");
    prom::sample(out, name, "", value);
  };
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    prom::family(out, name, help, "counter");
    prom::sample(out, name, "", value);
  };
  gauge("zgate_requests_in_flight", "Requests being answered now (those recorded: not /health, /metrics).",
        g.in_flight);
  gauge("zgate_chat_requests_in_flight", "Chat requests being answered now.",
        g.chats_in_flight);
  gauge("zgate_streams_open", "Streams open now.", g.streams);
  gauge("zgate_downstream_connections", "Client connections open now.", g.connections);
  gauge("zgate_downstream_connections_parked",
        "Of the client connections open now: idle between requests for over a second, parked without a coroutine.",
        g.parked);
  gauge("zgate_upstream_queue_waiting", "Requests waiting now for an upstream slot or for their start (upstream shaping).",
        g.queue_waiting);
  counter("zgate_upstream_queue_refused_total",
          "Requests answered 429 by upstream shaping (queue full or queue_timeout passed).", g.queue_refused);
  if (!g.pools.empty()) {
    prom::family(out, "zgate_upstream_pool_connections",
                 "Upstream connections per worker: idle in the pool, or in use by a request.", "gauge");
    std::string l;
    for (std::size_t i = 0; i < g.pools.size(); ++i) {
      const std::string w = std::to_string(i);
      l.clear();
      prom::label(l, "worker", w);
      prom::label(l, "state", "idle");
      prom::sample(out, "zgate_upstream_pool_connections", l, g.pools[i].idle);
      l.clear();
      prom::label(l, "worker", w);
      prom::label(l, "state", "in_use");
      prom::sample(out, "zgate_upstream_pool_connections", l, g.pools[i].in_use);
    }
  }
  counter("zgate_recorder_records_total", "Finished requests handed to the access log, usage store and metrics.",
          g.recorded);
  counter("zgate_recorder_dropped_total",
          "Finished requests lost to a full recorder ring (missing from the log, store and these metrics).", g.dropped);
  counter("zgate_recorder_worker_passes_total",
          "Recorder passes a worker ran itself because the background recorder thread had not run (SCHED_IDLE "
          "starved by busy workers).",
          g.recorder_worker_passes);
  if (g.usage_store) {
    counter("zgate_usage_store_rows_written_total", "Rows committed to the usage store.", g.usage_written);
    counter("zgate_usage_store_rows_failed_total", "Rows lost to a failed usage store write.", g.usage_failed);
  }
  gauge("zgate_admin_tails_open", "Live tails (GET /admin/requests/stream) open now.", g.tails_open);
  counter("zgate_admin_tail_lines_total", "Request lines queued to live tails.", g.tail_lines);
  counter("zgate_admin_tails_dropped_total", "Live tails ended because their client did not keep up.",
          g.tails_dropped);
  if (g.capture) {
    counter("zgate_capture_written_total", "Requests whose bodies were written to the capture file.",
            g.capture_written);
    counter("zgate_capture_dropped_total", "Captures lost to a full hand-over queue.", g.capture_dropped);
  }
  prom::family(out, "zgate_build_info", "zgate's version (the value is always 1).", "gauge");
  std::string l;
  prom::label(l, "version", kVersion);
  prom::sample(out, "zgate_build_info", l, uint64_t{1});
  gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.",
        g.start_time_seconds);
  if (p.ok) {
    prom::family(out, "process_cpu_seconds_total", "Total user and system CPU time spent, in seconds.", "counter");
    prom::sample(out, "process_cpu_seconds_total", "", p.cpu_seconds);
    gauge("process_resident_memory_bytes", "Resident memory size, in bytes.", p.resident_bytes);
    gauge("process_virtual_memory_bytes", "Virtual memory size, in bytes.", p.virtual_bytes);
    gauge("process_open_fds", "Open file descriptors.", p.open_fds);
    gauge("process_max_fds", "The limit of open file descriptors.", p.max_fds);
  }
}

}  // namespace zgate::obs
