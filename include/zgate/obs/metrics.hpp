#pragma once
// Prometheus metrics: the aggregate of finished requests and the text exposition format.
//
// The request path does nothing for metrics: Metrics is a recorder consumer (obs/recorder.hpp),
// so counters, token and cost sums and latency histograms are updated on the recorder thread
// from the AccessRecords every request already produces. A scrape formats the aggregate under
// a mutex only the recorder thread and the scraper take, then appends live gauges (requests in
// flight, pools, process) that the server reads at scrape time.
//
// Label cardinality is bounded: a model outside the configured routes is counted as "other"
// (a client can send any name), and each family holds at most kMaxSeries label sets (more
// land in one overflow series with every label "other").
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/obs/recorder.hpp"

namespace zgate::obs {

// ---- the text exposition format (version 0.0.4) --------------------------------------------
namespace prom {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Appends `v` escaped as a label value: backslash, double quote and line feed.
void escape_label(std::string& out, std::string_view v);
// `name="value"` (value escaped), preceded by a comma unless `out` is empty or ends in '{'.
void label(std::string& out, std::string_view name, std::string_view value);
// "# HELP name help\n# TYPE name type\n"
void family(std::string& out, std::string_view name, std::string_view help, std::string_view type);
// "name{labels} value\n" ("name value\n" when `labels` is empty).
void sample(std::string& out, std::string_view name, std::string_view labels, double value);
void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t value);
void sample(std::string& out, std::string_view name, std::string_view labels, int64_t value);
// A number as the format spells it: integers without a fraction, +Inf, -Inf, NaN.
void number(std::string& out, double v);

}  // namespace prom

// A cumulative histogram of durations with fixed bucket bounds (upper bounds, ascending, in
// seconds). Observations are whole microseconds and summed as such, so the sum is exact.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size() + 1, 0) {}
  void observe_us(int64_t us);
  // The `_bucket` lines (cumulative, ending with le="+Inf"), `_sum` and `_count`; `labels` are
  // put before `le`.
  void write(std::string& out, std::string_view name, std::string_view labels) const;
  uint64_t count() const { return count_; }

 private:
  std::span<const double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is above every bound
  int64_t sum_us_ = 0;
  uint64_t count_ = 0;
};

// Values read at scrape time by the server (not from records).
struct LiveGauges {
  int64_t in_flight = 0, chats_in_flight = 0, streams = 0;
  uint64_t connections = 0;
  int64_t parked = 0;  // of `connections`: idle, parked without a coroutine
  struct Pool {
    uint64_t idle = 0, in_use = 0;
  };
  std::vector<Pool> pools;  // per worker; empty = not gathered
  uint64_t recorded = 0, dropped = 0;
  uint64_t recorder_worker_passes = 0;  // the recorder's no-loss fallback (obs/recorder.hpp)
  bool usage_store = false;
  uint64_t usage_written = 0, usage_failed = 0;
  uint64_t tails_open = 0, tail_lines = 0, tails_dropped = 0;  // the admin live tail
  bool capture = false;                                        // [capture] on
  uint64_t capture_written = 0, capture_dropped = 0;
  double start_time_seconds = 0;  // Unix time the process started
  // Upstream shaping: requests waiting at a gate now, and refused (429) since the start.
  int64_t queue_waiting = 0;
  uint64_t queue_refused = 0;
};

// The standard process_* metrics, from /proc/self (ok = false elsewhere).
struct ProcessStats {
  bool ok = false;
  double cpu_seconds = 0;
  uint64_t resident_bytes = 0, virtual_bytes = 0, open_fds = 0, max_fds = 0;
};
ProcessStats read_process_stats();

// Appends the live gauges, zgate_build_info and the process_* metrics.
void write_live(std::string& out, const LiveGauges& g, const ProcessStats& p);

class Metrics final : public RecordConsumer {
 public:
  static constexpr std::size_t kMaxSeries = 1000;  // label sets per family
  static constexpr std::string_view kOther = "other";

  Metrics();
  // The model names counted under their own label (the configured routes); any other is
  // "other". Any thread (a reload calls it).
  void set_models(std::vector<std::string> models);

  void consume(const AccessRecord& r, int64_t finished_ms) override;

  // Appends the aggregate in the exposition format. Any thread.
  void write(std::string& out) const;

 private:
  struct Tokens {
    uint64_t prompt = 0, completion = 0, reasoning = 0, cached = 0;
    double cost_usd = 0;
  };
  struct Timings {
    Timings();
    Histogram connect, first_byte, first_token, total;
  };
  // A series' labels: two texts and a number (requests: model, provider, status * 2 + stream;
  // tokens: model, key; errors: provider, type; timings: provider). Looked up by KeyView, so
  // a record of a series already seen allocates nothing; the labels are formatted at scrape
  // time. n = -1: the overflow series.
  struct Key {
    std::string a, b;
    int n = 0;
  };
  struct KeyView {
    std::string_view a, b;
    int n = 0;
  };
  struct KeyLess {
    using is_transparent = void;
    template <class X, class Y>
    bool operator()(const X& x, const Y& y) const {
      if (x.n != y.n) return x.n < y.n;
      if (const int c = std::string_view(x.a).compare(y.a); c != 0) return c < 0;
      return std::string_view(x.b) < std::string_view(y.b);
    }
  };
  template <class V>
  using Family = std::map<Key, V, KeyLess>;
  // The series of one family, bounded by kMaxSeries (then the overflow series).
  template <class V>
  static V& series(Family<V>& m, KeyView k);

  mutable std::mutex mu_;
  std::set<std::string, std::less<>> models_;
  Family<uint64_t> requests_;
  Family<Tokens> tokens_;
  Family<uint64_t> errors_;
  Family<Timings> timings_;
  struct QueueWait {
    QueueWait();
    Histogram wait;
  };
  Family<QueueWait> queue_waits_;  // shaped providers only
  Histogram overhead_;
  uint64_t attempts_ = 0, retries_ = 0;
  // The response cache: requests answered from it (hits and coalesced waiters), sent upstream
  // while it was on (misses), and let past it (bypass); the cost the hits saved.
  uint64_t cache_hits_ = 0, cache_misses_ = 0, cache_bypass_ = 0;
  double cache_saved_usd_ = 0;

 public:
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;
};

}  // namespace zgate::obs
