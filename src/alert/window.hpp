// The alert engine's counters: which records count as errors and upstream failures, a rule's
// window kept as time slots, and the latency histogram of p95 rules. Private to the alert module.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "zgate/alert/alert.hpp"

namespace zgate::alert {

// Latency histogram: bucket 0 is under 1 ms, bucket i >= 1 ends at 1.1^i ms; the last one is
// open. 150 buckets reach past 10 minutes, each within 10% of the values it holds.
constexpr int kLatencyBuckets = 150;
constexpr double kBucketRatio = 1.1;
// A window is kept in at most this many slots (one per second, or coarser for long windows).
constexpr int64_t kMaxSlots = 600;

int latency_bucket(int64_t us);
double bucket_upper_ms(int b);

// What an error is for error_rate: the upstream or zgate failed the request (5xx), it was
// rate limited (429), or a stream that began ended with an in-band error. Client mistakes
// (other 4xx) and a client that left (499) are not errors.
bool is_error(const AccessRecord& r);
// An upstream failure for upstream_failures: the upstream was called and the request still
// failed, not because of the client.
bool is_upstream_failure(const AccessRecord& r);
bool is_chat(const AccessRecord& r);

// A rule's window as slots: `step` seconds each, `n` of them.
struct Slots {
  int64_t step = 1, n = 1;
  explicit Slots(std::chrono::seconds window) {
    const int64_t w = std::max<int64_t>(window.count(), 1);
    step = (w + kMaxSlots - 1) / kMaxSlots;
    n = (w + step - 1) / step;
  }
};

struct Slot {
  int64_t idx = -1;  // the slot's number (Unix seconds / step); -1 = empty
  uint64_t count = 0, errors = 0;
  int64_t latency_sum_us = 0;
};

// Counters of one rule, fed by the recorder thread, read by the alert thread (under Impl::mu).
struct RuleData {
  const AlertRule rule;
  Slots slots;
  std::vector<Slot> ring;
  std::vector<uint32_t> hist;  // p95 rules: kLatencyBuckets per slot
  uint64_t run = 0;            // upstream_failures: failures in a row
  int64_t seen_drops = -1;     // recorder_drops: the cumulative count at the last evaluation
  explicit RuleData(AlertRule r) : rule(std::move(r)), slots(rule.window) {
    ring.resize(static_cast<std::size_t>(slots.n));
    if (rule.kind == AlertKind::latency && rule.stat == "p95")
      hist.assign(static_cast<std::size_t>(slots.n) * kLatencyBuckets, 0);
  }
  Slot& slot_at(int64_t unix_s) {
    const int64_t idx = unix_s / slots.step;
    const std::size_t pos = static_cast<std::size_t>(idx % slots.n);
    Slot& s = ring[pos];
    if (s.idx != idx) {
      s = Slot{idx};
      if (!hist.empty()) std::fill_n(hist.begin() + static_cast<std::ptrdiff_t>(pos) * kLatencyBuckets, kLatencyBuckets, 0u);
    }
    return s;
  }
  bool matches(const AccessRecord& r) const {
    return (rule.key.empty() || r.key_label == rule.key) && (rule.model.empty() || r.model == rule.model);
  }
};

}  // namespace zgate::alert
