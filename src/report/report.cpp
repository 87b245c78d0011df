#include "zgate/report/report.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <unordered_map>

#include <sqlite3.h>

#include "zgate/core/text.hpp"

namespace zgate::report {
namespace {

constexpr int64_t kDayMs = 24 * obs::kHourMs;

constexpr std::pair<std::string_view, Dim> kDims[] = {
    {"model", Dim::model}, {"key", Dim::key},       {"provider", Dim::provider}, {"day", Dim::day},
    {"hour", Dim::hour},   {"status", Dim::status}, {"error", Dim::error},
};

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

bool digits(std::string_view s, int n, int& out) {
  if (s.size() < static_cast<size_t>(n)) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

struct Stmt {
  sqlite3_stmt* st = nullptr;
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &st, nullptr); }
  ~Stmt() { sqlite3_finalize(st); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  explicit operator bool() const { return st != nullptr; }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // The usage queries' parameters: the range [?1, ?2) and the filters on key (?3) and model (?4).
  void range(int64_t from, int64_t until, const Filter& f) {
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, until);
    text(3, f.key);
    text(4, f.model);
  }
};

std::string col_text(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string();
}
std::string_view col_view(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string_view();
}

std::string day_of(int64_t hour) { return iso_time(hour * obs::kHourMs).substr(0, 10); }
std::string hour_of(int64_t hour) { return iso_time(hour * obs::kHourMs).substr(0, 13) + ":00Z"; }

// Groups rows (rollup or raw) by the `by` tuple, and keeps the totals and the hourly series.
class Aggregator {
 public:
  Aggregator(const std::vector<Dim>& by, Report& out) : by_(by), out_(out) {}

  struct Row {
    int64_t hour;
    std::string_view model, key, provider, error_type;
    int status;
    int64_t requests, prompt, completion, reasoning, cached;
    double cost;
  };

  // One rollup row (its histograms encoded) or one raw row (its two latencies).
  bool add_rollup(const Row& r, const void* total, int total_n, const void* ft, int ft_n) {
    Totals& g = group(r);
    count(g, r);
    count(out_.totals, r);
    return g.total.decode_add(total, total_n) && g.first_token.decode_add(ft, ft_n) &&
           out_.totals.total.decode_add(total, total_n) && out_.totals.first_token.decode_add(ft, ft_n);
  }
  void add_raw(const Row& r, int64_t total_us, int64_t first_token_us) {
    Totals& g = group(r);
    count(g, r);
    count(out_.totals, r);
    g.total.add(total_us);
    out_.totals.total.add(total_us);
    if (first_token_us >= 0) {
      g.first_token.add(first_token_us);
      out_.totals.first_token.add(first_token_us);
    }
  }

  void finish(const Filter& f) {
    for (auto& [k, i] : index_) out_.groups[i].key = split(k);
    // In time order when the first dimension is a time; else the busiest first.
    const bool by_time = !by_.empty() && (by_[0] == Dim::day || by_[0] == Dim::hour);
    std::stable_sort(out_.groups.begin(), out_.groups.end(), [by_time](const Group& a, const Group& b) {
      if (!by_time && a.totals.requests != b.totals.requests) return a.totals.requests > b.totals.requests;
      return a.key < b.key;
    });
    if (series_.empty() && (!f.since_ms || !f.until_ms)) return;
    const int64_t lo = f.since_ms ? floor_div(*f.since_ms, obs::kHourMs) : series_.begin()->first;
    const int64_t hi =
        f.until_ms ? floor_div(*f.until_ms - 1, obs::kHourMs) + 1 : std::prev(series_.end())->first + 1;
    if (hi <= lo) return;
    const bool daily = (hi - lo) > 72;
    out_.bucket_ms = daily ? kDayMs : obs::kHourMs;
    const int64_t step = daily ? 24 : 1;
    const int64_t first = daily ? floor_div(lo, 24) * 24 : lo;
    for (int64_t h = first; h < hi; h += step) out_.series.push_back({h * obs::kHourMs, 0, 0});
    for (const auto& [h, p] : series_) {
      const int64_t i = (h - first) / step;
      if (i < 0 || i >= static_cast<int64_t>(out_.series.size())) continue;
      out_.series[i].requests += p.first;
      out_.series[i].cost_usd += p.second;
    }
  }

 private:
  Totals& group(const Row& r) {
    key_.clear();
    for (const Dim d : by_) {
      switch (d) {
        case Dim::model: key_ += r.model; break;
        case Dim::key: key_ += r.key; break;
        case Dim::provider: key_ += r.provider; break;
        case Dim::day: key_ += day_of(r.hour); break;
        case Dim::hour: key_ += hour_of(r.hour); break;
        case Dim::status: key_ += std::to_string(r.status); break;
        case Dim::error: key_ += r.error_type; break;
      }
      key_ += '\x1f';
    }
    auto [it, fresh] = index_.try_emplace(key_, out_.groups.size());
    if (fresh) out_.groups.emplace_back();
    auto& s = series_[r.hour];
    s.first += r.requests;
    s.second += r.cost;
    return out_.groups[it->second].totals;
  }

  static void count(Totals& t, const Row& r) {
    t.requests += r.requests;
    if (r.error_type.empty()) {
      t.successes += r.requests;
    } else {
      t.errors_by_type[std::string(r.error_type)] += r.requests;
    }
    t.by_status[r.status] += r.requests;
    t.prompt_tokens += r.prompt;
    t.completion_tokens += r.completion;
    t.reasoning_tokens += r.reasoning;
    t.cached_tokens += r.cached;
    t.cost_usd += r.cost;
  }

  static std::vector<std::string> split(const std::string& k) {
    std::vector<std::string> v;
    size_t start = 0;
    for (size_t i = 0; i < k.size(); ++i) {
      if (k[i] == '\x1f') {
        v.push_back(k.substr(start, i - start));
        start = i + 1;
      }
    }
    return v;
  }

  const std::vector<Dim>& by_;
  Report& out_;
  std::string key_;
  std::unordered_map<std::string, size_t> index_;
  std::map<int64_t, std::pair<int64_t, double>> series_;  // hour -> requests, cost
};

}  // namespace

std::string_view dim_name(Dim d) {
  for (const auto& [name, dim] : kDims) {
    if (dim == d) return name;
  }
  return "?";
}

bool parse_dims(std::string_view list, std::vector<Dim>& out, std::string& error) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = zgate::text::trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    auto it = std::find_if(std::begin(kDims), std::end(kDims), [&](const auto& p) { return p.first == item; });
    if (it == std::end(kDims)) {
      error = "unknown breakdown '" + std::string(item) + "' (use model, key, provider, day, hour, status, error)";
      return false;
    }
    if (std::find(out.begin(), out.end(), it->second) == out.end()) out.push_back(it->second);
  }
  return true;
}

bool parse_duration(std::string_view text, int64_t& ms, std::string& error) {
  text = zgate::text::trim(text);
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  int64_t scale = 0;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = obs::kHourMs;
  if (unit == "d") scale = kDayMs;
  if (unit == "w") scale = 7 * kDayMs;
  if (ec != std::errc() || end == text.data() || n <= 0 || scale == 0 ||
      n > std::numeric_limits<int64_t>::max() / scale) {
    error = "bad duration '" + std::string(text) + "' (use a positive number and s, m, h, d or w: 30m, 24h, 7d)";
    return false;
  }
  ms = n * scale;
  return true;
}

bool parse_time(std::string_view text, int64_t now_ms, int64_t& ms, std::string& error) {
  text = zgate::text::trim(text);
  if (!text.empty() && text.back() >= 'a' && text.back() <= 'z') {  // relative: "24h"
    int64_t d = 0;
    if (!parse_duration(text, d, error)) return false;
    ms = now_ms - d;
    return true;
  }
  // YYYY-MM-DD[(T| )HH:MM[:SS]][Z]
  std::string_view s = text;
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) s.remove_suffix(1);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  bool ok = s.size() >= 10 && digits(s, 4, y) && s[4] == '-' && digits(s.substr(5), 2, mo) && s[7] == '-' &&
            digits(s.substr(8), 2, d);
  if (ok && s.size() > 10) {
    ok = (s[10] == 'T' || s[10] == ' ') && s.size() >= 16 && digits(s.substr(11), 2, h) && s[13] == ':' &&
         digits(s.substr(14), 2, mi);
    if (ok && s.size() > 16) ok = s.size() == 19 && s[16] == ':' && digits(s.substr(17), 2, sec);
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(ok ? mo : 0)}, day{static_cast<unsigned>(ok ? d : 0)}};
  if (!ok || !ymd.ok() || h > 23 || mi > 59 || sec > 59) {
    error = "bad time '" + std::string(text) +
            "' (use a UTC date or time such as 2026-12-01 or 2026-12-01T10:00:00Z, or a duration back from now "
            "such as 24h or 7d)";
    return false;
  }
  ms = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count() +
       ((int64_t{h} * 60 + mi) * 60 + sec) * 1000;
  return true;
}

std::string iso_time(int64_t ms) {
  using namespace std::chrono;
  const int64_t days = floor_div(ms, kDayMs);
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  const int64_t rest = (ms - days * kDayMs) / 1000;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(rest / 3600),
                static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60));
  return buf;
}

double percentile_ms(const obs::LatencyHistogram& h, double p) {
  const double us = h.percentile(p);
  return us < 0 ? -1 : us / 1000.0;
}

// ---- the store ----------------------------------------------------------------------------

struct Store::Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

Store::~Store() = default;

std::unique_ptr<Store> Store::open(const std::string& path, std::string& error) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    error = "no usage store at '" + path + "' (zgate writes <data dir>/usage.db; see --db and --data-dir)";
    return nullptr;
  }
  std::unique_ptr<Store> s(new Store);
  s->db_ = std::make_unique<Db>();
  if (sqlite3_open_v2(path.c_str(), &s->db_->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    error = "cannot open the usage store '" + path + "': " + sqlite3_errmsg(s->db_->db);
    return nullptr;
  }
  sqlite3_busy_timeout(s->db_->db, 5000);  // the gateway's recorder may hold the write lock briefly
  sqlite3_exec(s->db_->db, "PRAGMA cache_size=-16384", nullptr, nullptr, nullptr);
  Stmt check(s->db_->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests'");
  if (!check || sqlite3_step(check.st) != SQLITE_ROW) {
    error = "'" + path + "' is not a zgate usage store (no requests table)";
    return nullptr;
  }
  return s;
}

bool Store::usage(const Filter& f, const std::vector<Dim>& by, Report& out, std::string& error) {
  sqlite3* db = db_->db;
  out = Report{};
  out.filter = f;
  out.by = by;
  Aggregator agg(by, out);
  // One read transaction: the rollup, its watermark and the raw rows are one snapshot.
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
    return false;
  }
  struct End {
    sqlite3* db;
    ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end{db};
  Stmt has(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests_hourly'");
  const bool rollup = has && sqlite3_step(has.st) == SQLITE_ROW;
  const int64_t watermark = rollup ? obs::rollup_watermark(db) : 0;

  const int64_t since = f.since_ms.value_or(std::numeric_limits<int64_t>::min() / 4);
  const int64_t until = f.until_ms.value_or(std::numeric_limits<int64_t>::max() / 4);
  // Whole hours [h_lo, h_hi) come from the rollup; the rest of [since, until) is read raw.
  int64_t h_lo = floor_div(since + obs::kHourMs - 1, obs::kHourMs);
  int64_t h_hi = floor_div(until, obs::kHourMs);
  if (!rollup || h_hi <= h_lo) h_lo = h_hi = floor_div(since, obs::kHourMs);

  auto fail = [&] {
    error = sqlite3_errmsg(db);
    return false;
  };
  if (h_hi > h_lo) {
    Stmt st(db,
            "SELECT hour, model, key_label, provider, status, error_type, requests, prompt_tokens, completion_tokens, "
            "reasoning_tokens, cached_tokens, cost_usd, total_hist, first_token_hist FROM requests_hourly "
            "WHERE hour >= ?1 AND hour < ?2 AND (?3 = '' OR key_label = ?3) AND (?4 = '' OR model = ?4)");
    if (!st) return fail();
    st.range(h_lo, h_hi, f);
    int rc;
    while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) {
      const Aggregator::Row r{sqlite3_column_int64(st.st, 0), col_view(st.st, 1), col_view(st.st, 2),
                              col_view(st.st, 3), col_view(st.st, 5), sqlite3_column_int(st.st, 4),
                              sqlite3_column_int64(st.st, 6), sqlite3_column_int64(st.st, 7),
                              sqlite3_column_int64(st.st, 8), sqlite3_column_int64(st.st, 9),
                              sqlite3_column_int64(st.st, 10), sqlite3_column_double(st.st, 11)};
      if (!agg.add_rollup(r, sqlite3_column_blob(st.st, 12), sqlite3_column_bytes(st.st, 12),
                          sqlite3_column_blob(st.st, 13), sqlite3_column_bytes(st.st, 13))) {
        error = "the usage store's rollup holds a malformed histogram";
        return false;
      }
      ++out.rollup_rows;
    }
    if (rc != SQLITE_DONE) return fail();
  }

  // Raw rows: [since, h_lo) and [h_hi, until) by the time index; inside the rollup's hours
  // only the rows above the watermark (by id: "+ts_ms" keeps the planner off the time index).
  auto raw = [&](const char* where, int64_t a, int64_t b) {
    const std::string sql = std::string(
                                "SELECT ts_ms, model, key_label, provider, status, error_type, prompt_tokens, "
                                "completion_tokens, reasoning_tokens, cached_tokens, cost_usd, total_us, "
                                "first_token_us FROM requests WHERE ") +
                            where + " AND (?3 = '' OR key_label = ?3) AND (?4 = '' OR model = ?4)";
    Stmt st(db, sql.c_str());
    if (!st) return false;
    st.range(a, b, f);
    sqlite3_bind_int64(st.st, 5, watermark);
    int rc;
    while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) {
      const Aggregator::Row r{floor_div(sqlite3_column_int64(st.st, 0), obs::kHourMs), col_view(st.st, 1),
                              col_view(st.st, 2), col_view(st.st, 3), col_view(st.st, 5),
                              sqlite3_column_int(st.st, 4), 1, sqlite3_column_int64(st.st, 6),
                              sqlite3_column_int64(st.st, 7), sqlite3_column_int64(st.st, 8),
                              sqlite3_column_int64(st.st, 9), sqlite3_column_double(st.st, 10)};
      agg.add_raw(r, sqlite3_column_int64(st.st, 11), sqlite3_column_int64(st.st, 12));
      ++out.raw_rows;
    }
    return rc == SQLITE_DONE;
  };
  if (h_hi > h_lo) {
    if (!raw("ts_ms >= ?1 AND ts_ms < ?2", since, h_lo * obs::kHourMs) ||
        !raw("ts_ms >= ?1 AND ts_ms < ?2", h_hi * obs::kHourMs, until) ||
        !raw("id > ?5 AND +ts_ms >= ?1 AND +ts_ms < ?2", h_lo * obs::kHourMs, h_hi * obs::kHourMs)) {
      return fail();
    }
  } else if (!raw("ts_ms >= ?1 AND ts_ms < ?2", since, until)) {
    return fail();
  }
  agg.finish(f);
  // The response cache's hits and saved cost, over the raw rows (the hourly rollup does not
  // keep them); a store older than the cache's columns has none.
  Stmt col(db, "SELECT 1 FROM pragma_table_info('requests') WHERE name = 'cache_hit'");
  if (col && sqlite3_step(col.st) == SQLITE_ROW) {
    Stmt st(db,
            "SELECT count(*), coalesce(sum(cost_saved_usd), 0) FROM requests WHERE cache_hit = 1 AND ts_ms >= ?1 "
            "AND ts_ms < ?2 AND (?3 = '' OR key_label = ?3) AND (?4 = '' OR model = ?4)");
    if (!st) return fail();
    st.range(since, until, f);
    if (sqlite3_step(st.st) == SQLITE_ROW) {
      out.totals.cache_hits = sqlite3_column_int64(st.st, 0);
      out.totals.cost_saved_usd = sqlite3_column_double(st.st, 1);
    }
  }
  return true;
}

// Newest first by id, walking the table backwards from the cursor ("+ts_ms" keeps the planner off
// the time index, which would sort the whole range before returning the first row).
bool Store::requests(const RequestFilter& f, RequestPage& out, std::string& error) {
  sqlite3* db = db_->db;
  out = RequestPage{};
  Stmt st(db,
          "SELECT id, ts_ms, request_id, key_label, model, upstream_model, provider, stream, status, error_type, "
          "prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd, total_us, first_token_us, "
          "upstream_first_byte_us, attempts, retries FROM requests "
          "WHERE id < ?1 AND +ts_ms >= ?2 AND +ts_ms < ?3 AND (?4 = '' OR key_label = ?4) AND (?5 = '' OR model = ?5) "
          "AND (?6 IS NULL OR status = ?6) AND (?7 IS NULL OR error_type = ?7) ORDER BY id DESC LIMIT ?8");
  if (!st) {
    error = sqlite3_errmsg(db);
    return false;
  }
  sqlite3_bind_int64(st.st, 1, f.before.value_or(std::numeric_limits<int64_t>::max()));
  sqlite3_bind_int64(st.st, 2, f.since_ms.value_or(std::numeric_limits<int64_t>::min()));
  sqlite3_bind_int64(st.st, 3, f.until_ms.value_or(std::numeric_limits<int64_t>::max()));
  st.text(4, f.key);
  st.text(5, f.model);
  if (f.status) sqlite3_bind_int(st.st, 6, *f.status);
  if (f.error_type) st.text(7, *f.error_type);
  sqlite3_bind_int64(st.st, 8, int64_t{f.limit} + 1);  // one more tells whether a next page exists
  int rc;
  while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) {
    if (static_cast<int>(out.rows.size()) == f.limit) {
      out.next_before = out.rows.back().id;
      break;
    }
    RequestRow r;
    r.id = sqlite3_column_int64(st.st, 0);
    r.ts_ms = sqlite3_column_int64(st.st, 1);
    r.request_id = col_text(st.st, 2);
    r.key_label = col_text(st.st, 3);
    r.model = col_text(st.st, 4);
    r.upstream_model = col_text(st.st, 5);
    r.provider = col_text(st.st, 6);
    r.stream = sqlite3_column_int(st.st, 7) != 0;
    r.status = sqlite3_column_int(st.st, 8);
    r.error_type = col_text(st.st, 9);
    r.prompt_tokens = sqlite3_column_int64(st.st, 10);
    r.completion_tokens = sqlite3_column_int64(st.st, 11);
    r.reasoning_tokens = sqlite3_column_int64(st.st, 12);
    r.cached_tokens = sqlite3_column_int64(st.st, 13);
    r.cost_usd = sqlite3_column_double(st.st, 14);
    r.total_us = sqlite3_column_int64(st.st, 15);
    r.first_token_us = sqlite3_column_int64(st.st, 16);
    r.upstream_first_byte_us = sqlite3_column_int64(st.st, 17);
    r.attempts = sqlite3_column_int(st.st, 18);
    r.retries = col_text(st.st, 19);
    out.rows.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

int64_t Store::prune(int64_t cutoff_ms, std::string& error) { return obs::prune_usage(db_->db, cutoff_ms, error); }

}  // namespace zgate::report
