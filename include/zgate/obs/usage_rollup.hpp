#pragma once
// The usage store's hourly rollup: one row per (hour, model, key, provider, status, error type)
// with its counts, tokens, cost and two latency histograms (time to first token, total time).
// Reports read it instead of millions of raw rows; the rows above its watermark (not rolled up
// yet) and the partial hours at a report's edges are read raw, so a report stays exact.
//
// Maintained off the request path: the usage store's checkpoint thread rolls up the rows
// inserted since the last pass (by id watermark), and a store of an older schema gets the
// table built from its rows when it is opened.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;

namespace zgate::obs {

constexpr int64_t kHourMs = 3'600'000;

// Latencies in fixed log-scale buckets: bucket 0 holds [0, 64 us), then 8 buckets per doubling
// (each 2^(1/8) = 9.05% wider than the last) up to 2^31 us (about 36 minutes), then one overflow
// bucket. A percentile is interpolated geometrically inside its bucket, so it lies within the
// true value's bucket: off by less than 9.1% of the value (above 64 us).
class LatencyHistogram {
 public:
  static constexpr int kPerOctave = 8;
  static constexpr int kFirstOctave = 6;   // 64 us
  static constexpr int kLastOctave = 31;
  static constexpr int kBuckets = 2 + (kLastOctave - kFirstOctave) * kPerOctave;

  static int bucket_of(int64_t us);
  static double lower_bound(int bucket);  // us
  static double upper_bound(int bucket);  // us

  void add(int64_t us) { ++counts_[bucket_of(us)]; ++total_; }
  void add_bucket(int bucket, uint64_t n) { counts_[bucket] += n; total_ += n; }
  void merge(const LatencyHistogram& o);
  uint64_t count() const { return total_; }
  // The p-th quantile (0 < p <= 1) in microseconds; -1 when empty.
  double percentile(double p) const;

  // Sparse encoding (bucket index byte, LEB128 count) of the non-empty buckets.
  void encode(std::string& out) const;
  // Adds an encoded histogram; false if the bytes are malformed (nothing partial is kept).
  bool decode_add(const void* data, int size);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

// The rollup's tables (created if missing) in `db`'s open transaction or as their own.
bool create_rollup_tables(sqlite3* db, std::string& error);

// Rolls up to `max_rows` rows above the watermark into the rollup and moves the watermark, in
// the caller's transaction when one is open, else in one of its own (BEGIN IMMEDIATE). Returns
// the rows rolled up (0 when up to date), or -1 with `error` set.
int64_t rollup_usage(sqlite3* db, int64_t max_rows, std::string& error);

// Deletes the rows finished before `cutoff_ms` and their share of the rollup (whole hours
// dropped, the hour the cutoff falls in rebuilt from its remaining rows), in one transaction.
// Returns the raw rows deleted, or -1 with `error` set.
int64_t prune_usage(sqlite3* db, int64_t cutoff_ms, std::string& error);

// The watermark: rows with an id at or below it are in the rollup. 0 when the store has no
// rollup (an older schema opened read-only).
int64_t rollup_watermark(sqlite3* db);

}  // namespace zgate::obs
