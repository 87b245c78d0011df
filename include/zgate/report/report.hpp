#pragma once
// Reports over the usage store (obs/usage_store.hpp): totals, breakdowns, a time series, a
// paginated list of requests, and pruning. Used by `zgate stats` and the admin endpoints
// (GET /admin/usage, GET /admin/requests).
//
// Whole hours inside the range are read from the hourly rollup (obs/usage_rollup.hpp); the
// partial hours at the range's edges and the rows not rolled up yet are read raw. Counts, tokens
// and cost are therefore exact; latency percentiles come from log-scale histograms (within one
// bucket of the true value: less than 9.1% off).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/core/error.hpp"
#include "zgate/obs/usage_rollup.hpp"

namespace zgate::report {

// A breakdown dimension (`--by`).
enum class Dim { model, key, provider, day, hour, status, error };
std::string_view dim_name(Dim d);
// "model,key" (comma-separated, repeated allowed); false with `error` naming the bad one.
bool parse_dims(std::string_view list, std::vector<Dim>& out, std::string& error);

// "30m", "24h", "7d", "90s" (a positive whole number and a unit); false with `error` set.
bool parse_duration(std::string_view text, int64_t& ms, std::string& error);
// An absolute UTC time ("2026-12-01", "2026-12-01T10:00", "2026-12-01 10:00:05", with or
// without "Z") or a duration back from `now_ms` ("24h" = 24 hours ago).
bool parse_time(std::string_view text, int64_t now_ms, int64_t& ms, std::string& error);
// "2026-12-01T10:00:00Z" (UTC, seconds).
std::string iso_time(int64_t ms);

struct Filter {
  std::optional<int64_t> since_ms;  // inclusive
  std::optional<int64_t> until_ms;  // exclusive
  std::string key;                  // a key label; "" = any
  std::string model;                // "" = any
};

struct Totals {
  int64_t requests = 0;
  int64_t successes = 0;  // error_type ''
  std::map<std::string, int64_t> errors_by_type;
  std::map<int, int64_t> by_status;
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0, cached_tokens = 0;
  double cost_usd = 0;
  // The response cache (report totals only, not per group): requests answered from it and the
  // cost they saved.
  int64_t cache_hits = 0;
  double cost_saved_usd = 0;
  obs::LatencyHistogram first_token;  // requests that sent a token
  obs::LatencyHistogram total;
  int64_t errors() const { return requests - successes; }
  double success_rate() const { return requests ? static_cast<double>(successes) / static_cast<double>(requests) : 0; }
};

struct Group {
  std::vector<std::string> key;  // one value per `by` dimension, in its order
  Totals totals;
};

struct SeriesPoint {
  int64_t start_ms = 0;
  int64_t requests = 0;
  double cost_usd = 0;
};

struct Report {
  Filter filter;
  std::vector<Dim> by;
  Totals totals;
  std::vector<Group> groups;         // by requests, most first; by time when `by` starts with day or hour
  int64_t bucket_ms = obs::kHourMs;  // the series' step: an hour, or a day for ranges over 3 days
  std::vector<SeriesPoint> series;   // every step from the first to the last, empty ones included
  // How it was computed.
  int64_t rollup_rows = 0;  // rollup rows read
  int64_t raw_rows = 0;     // raw rows read (range edges, rows not rolled up yet)
};

struct RequestFilter {
  std::optional<int64_t> since_ms, until_ms;
  std::string key, model;
  std::optional<int> status;
  std::optional<std::string> error_type;  // "" = successes only
  int limit = 50;
  std::optional<int64_t> before;  // cursor: rows with a smaller id
};

struct RequestRow {
  int64_t id = 0, ts_ms = 0;
  std::string request_id, key_label, model, upstream_model, provider, error_type, retries;
  bool stream = false;
  int status = 0, attempts = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0, cached_tokens = 0;
  double cost_usd = 0;
  int64_t total_us = 0, first_token_us = -1, upstream_first_byte_us = -1;
};

struct RequestPage {
  std::vector<RequestRow> rows;       // newest first
  std::optional<int64_t> next_before;  // set when there are more rows
};

// One open usage store. Not thread-safe: one thread uses it at a time.
class Store {
 public:
  // Opens an existing store; null with `error` set when it is missing or not a usage store.
  static std::unique_ptr<Store> open(const std::string& path, std::string& error);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // False with `error` set when the database fails.
  bool usage(const Filter& f, const std::vector<Dim>& by, Report& out, std::string& error);
  bool requests(const RequestFilter& f, RequestPage& out, std::string& error);
  // Deletes rows finished before `cutoff_ms`; the count, or -1 with `error` set.
  int64_t prune(int64_t cutoff_ms, std::string& error);

 private:
  Store() = default;
  struct Db;
  std::unique_ptr<Db> db_;
};

// Writers. The JSON parses back (it is the /admin/usage body); the CSV has one row per group
// (one "total" row without a breakdown), RFC 4180 quoting, CRLF line ends.
std::string to_json(const Report& r);
std::string to_csv(const Report& r);
std::string to_json(const RequestPage& p);

// Latency in milliseconds from a histogram's percentile (-1 when empty).
double percentile_ms(const obs::LatencyHistogram& h, double p);

}  // namespace zgate::report

// ---- the admin endpoints' parameters -----------------------------------------------------

namespace zgate::report {

// The query string's parameters, percent-decoded ('+' is a space), in order.
std::vector<std::pair<std::string, std::string>> parse_query_string(std::string_view query);

struct UsageQuery {
  Filter filter;
  std::vector<Dim> by;
};
// GET /admin/usage?since=&until=&key=&model=&by= (by repeatable or a comma list). A bad value
// or an unknown parameter is a 400 naming it.
Result<UsageQuery> usage_query(std::string_view query, int64_t now_ms);

constexpr int kDefaultRequestLimit = 50;
constexpr int kMaxRequestLimit = 1000;
// GET /admin/requests?key=&model=&status=&error_type=&since=&until=&limit=&before=
Result<RequestFilter> requests_query(std::string_view query, int64_t now_ms);

}  // namespace zgate::report
