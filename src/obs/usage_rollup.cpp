#include "zgate/obs/usage_rollup.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>

#include <sqlite3.h>

namespace zgate::obs {

// ---- the histogram ------------------------------------------------------------------------

int LatencyHistogram::bucket_of(int64_t us) {
  if (us < (int64_t{1} << kFirstOctave)) return 0;
  const double octaves = std::log2(static_cast<double>(us)) - kFirstOctave;
  const int b = 1 + static_cast<int>(octaves * kPerOctave);
  return b >= kBuckets - 1 ? kBuckets - 1 : b;
}

double LatencyHistogram::lower_bound(int bucket) {
  if (bucket <= 0) return 0;
  return std::exp2(kFirstOctave + static_cast<double>(bucket - 1) / kPerOctave);
}

double LatencyHistogram::upper_bound(int bucket) {
  if (bucket >= kBuckets - 1) return lower_bound(bucket);
  return std::exp2(kFirstOctave + static_cast<double>(bucket) / kPerOctave);
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  total_ += o.total_;
}

double LatencyHistogram::percentile(double p) const {
  if (total_ == 0) return -1;
  const double rank = p * static_cast<double>(total_);
  double seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    const double next = seen + static_cast<double>(counts_[i]);
    if (next >= rank) {
      const double frac = std::clamp((rank - seen) / static_cast<double>(counts_[i]), 0.0, 1.0);
      const double lo = lower_bound(i), hi = upper_bound(i);
      if (i == 0) return hi * frac;          // linear below 64 us
      return lo * std::pow(hi / lo, frac);  // geometric inside a log-scale bucket
    }
    seen = next;
  }
  return lower_bound(kBuckets - 1);
}

void LatencyHistogram::encode(std::string& out) const {
  for (int i = 0; i < kBuckets; ++i) {
    uint64_t n = counts_[i];
    if (n == 0) continue;
    out.push_back(static_cast<char>(i));
    do {
      const auto low = static_cast<unsigned char>(n & 0x7f);
      n >>= 7;
      out.push_back(static_cast<char>(n ? low | 0x80 : low));
    } while (n);
  }
}

bool LatencyHistogram::decode_add(const void* data, int size) {
  // Two passes: the first only checks, so a malformed blob adds nothing.
  for (const bool apply : {false, true}) {
    const auto* p = static_cast<const unsigned char*>(data);
    const auto* end = p + (size > 0 ? size : 0);
    while (p < end) {
      const int b = *p++;
      if (b >= kBuckets) return false;
      uint64_t n = 0;
      int shift = 0;
      for (;;) {
        if (p == end || shift > 63) return false;
        const unsigned char c = *p++;
        n |= static_cast<uint64_t>(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80)) break;
      }
      if (apply) add_bucket(b, n);
    }
  }
  return true;
}

// ---- the tables -------------------------------------------------------------------------

namespace {

constexpr const char* kRollupSchema = R"sql(
CREATE TABLE IF NOT EXISTS requests_hourly (
  hour              INTEGER NOT NULL,  -- ts_ms / 3600000 (UTC hours since the epoch)
  model             TEXT NOT NULL,
  key_label         TEXT NOT NULL,
  provider          TEXT NOT NULL,
  status            INTEGER NOT NULL,
  error_type        TEXT NOT NULL,
  requests          INTEGER NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  reasoning_tokens  INTEGER NOT NULL,
  cached_tokens     INTEGER NOT NULL,
  cost_usd          REAL NOT NULL,
  total_hist        BLOB NOT NULL,     -- LatencyHistogram of total_us
  first_token_hist  BLOB NOT NULL,     -- LatencyHistogram of first_token_us (rows with a token)
  PRIMARY KEY (hour, model, key_label, provider, status, error_type)
) WITHOUT ROWID;
-- Rows of `requests` with an id at or below the watermark are in requests_hourly.
CREATE TABLE IF NOT EXISTS rollup_state (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  watermark INTEGER NOT NULL
);
INSERT OR IGNORE INTO rollup_state (id, watermark) VALUES (1, 0);
)sql";

using Key = std::tuple<int64_t, std::string, std::string, std::string, int, std::string>;
struct Agg {
  int64_t requests = 0, prompt = 0, completion = 0, reasoning = 0, cached = 0;
  double cost = 0;
  LatencyHistogram total, first_token;
};

// The columns every aggregating query selects, in this order.
constexpr const char* kRowColumns =
    "ts_ms, model, key_label, provider, status, error_type, prompt_tokens, completion_tokens, reasoning_tokens, "
    "cached_tokens, cost_usd, total_us, first_token_us, id";

std::string text(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

// Steps `st` to its end, adding each row to `out`; the last id seen goes to `last_id`.
bool aggregate(sqlite3_stmt* st, std::map<Key, Agg>& out, int64_t& last_id, int64_t& rows) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Agg& a = out[Key{sqlite3_column_int64(st, 0) / kHourMs, text(st, 1), text(st, 2), text(st, 3),
                     sqlite3_column_int(st, 4), text(st, 5)}];
    ++a.requests;
    a.prompt += sqlite3_column_int64(st, 6);
    a.completion += sqlite3_column_int64(st, 7);
    a.reasoning += sqlite3_column_int64(st, 8);
    a.cached += sqlite3_column_int64(st, 9);
    a.cost += sqlite3_column_double(st, 10);
    a.total.add(sqlite3_column_int64(st, 11));
    if (const int64_t ft = sqlite3_column_int64(st, 12); ft >= 0) a.first_token.add(ft);
    last_id = sqlite3_column_int64(st, 13);
    ++rows;
  }
  return rc == SQLITE_DONE;
}

struct Stmt {
  sqlite3_stmt* st = nullptr;
  Stmt(sqlite3* db, const std::string& sql) { sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr); }
  ~Stmt() { sqlite3_finalize(st); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  explicit operator bool() const { return st != nullptr; }
};

// Adds each aggregate to its rollup row (read, merge, write back).
bool merge_into_rollup(sqlite3* db, const std::map<Key, Agg>& aggs) {
  Stmt get(db,
           "SELECT requests, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd, total_hist, "
           "first_token_hist FROM requests_hourly WHERE hour=? AND model=? AND key_label=? AND provider=? AND "
           "status=? AND error_type=?");
  Stmt put(db,
           "INSERT OR REPLACE INTO requests_hourly (hour, model, key_label, provider, status, error_type, requests, "
           "prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd, total_hist, "
           "first_token_hist) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!get || !put) return false;
  std::string total_blob, ft_blob;
  for (const auto& entry : aggs) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const auto& k = entry.first;
    Agg a = entry.second;
    auto bind_key = [&k](sqlite3_stmt* st) {
      sqlite3_bind_int64(st, 1, std::get<0>(k));
      sqlite3_bind_text(st, 2, std::get<1>(k).data(), static_cast<int>(std::get<1>(k).size()), SQLITE_STATIC);
      sqlite3_bind_text(st, 3, std::get<2>(k).data(), static_cast<int>(std::get<2>(k).size()), SQLITE_STATIC);
      sqlite3_bind_text(st, 4, std::get<3>(k).data(), static_cast<int>(std::get<3>(k).size()), SQLITE_STATIC);
      sqlite3_bind_int(st, 5, std::get<4>(k));
      sqlite3_bind_text(st, 6, std::get<5>(k).data(), static_cast<int>(std::get<5>(k).size()), SQLITE_STATIC);
    };
    bind_key(get.st);
    const int rc = sqlite3_step(get.st);
    if (rc == SQLITE_ROW) {
      a.requests += sqlite3_column_int64(get.st, 0);
      a.prompt += sqlite3_column_int64(get.st, 1);
      a.completion += sqlite3_column_int64(get.st, 2);
      a.reasoning += sqlite3_column_int64(get.st, 3);
      a.cached += sqlite3_column_int64(get.st, 4);
      a.cost += sqlite3_column_double(get.st, 5);
      if (!a.total.decode_add(sqlite3_column_blob(get.st, 6), sqlite3_column_bytes(get.st, 6)) ||
          !a.first_token.decode_add(sqlite3_column_blob(get.st, 7), sqlite3_column_bytes(get.st, 7))) {
        sqlite3_reset(get.st);
        return false;
      }
    } else if (rc != SQLITE_DONE) {
      sqlite3_reset(get.st);
      return false;
    }
    sqlite3_reset(get.st);
    total_blob.clear();
    ft_blob.clear();
    a.total.encode(total_blob);
    a.first_token.encode(ft_blob);
    bind_key(put.st);
    sqlite3_bind_int64(put.st, 7, a.requests);
    sqlite3_bind_int64(put.st, 8, a.prompt);
    sqlite3_bind_int64(put.st, 9, a.completion);
    sqlite3_bind_int64(put.st, 10, a.reasoning);
    sqlite3_bind_int64(put.st, 11, a.cached);
    sqlite3_bind_double(put.st, 12, a.cost);
    sqlite3_bind_blob(put.st, 13, total_blob.data(), static_cast<int>(total_blob.size()), SQLITE_STATIC);
    sqlite3_bind_blob(put.st, 14, ft_blob.data(), static_cast<int>(ft_blob.size()), SQLITE_STATIC);
    const bool ok = sqlite3_step(put.st) == SQLITE_DONE;
    sqlite3_reset(put.st);
    if (!ok) return false;
  }
  return true;
}

// Runs `body` in the caller's transaction, or in one of its own.
template <class F>
bool in_transaction(sqlite3* db, F&& body) {
  const bool own = sqlite3_get_autocommit(db) != 0;
  if (own && sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
  if (!body()) {
    if (own) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  }
  return !own || sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
}

}  // namespace

bool create_rollup_tables(sqlite3* db, std::string& error) {
  if (sqlite3_exec(db, kRollupSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

int64_t rollup_watermark(sqlite3* db) {
  Stmt st(db, "SELECT watermark FROM rollup_state WHERE id = 1");
  if (!st || sqlite3_step(st.st) != SQLITE_ROW) return 0;
  return sqlite3_column_int64(st.st, 0);
}

int64_t rollup_usage(sqlite3* db, int64_t max_rows, std::string& error) {
  if (sqlite3_get_autocommit(db)) {
    // Nothing new: done without taking the write lock (the checkpoint thread asks every second).
    Stmt any(db, "SELECT 1 FROM requests WHERE id > (SELECT watermark FROM rollup_state WHERE id = 1) LIMIT 1");
    if (any && sqlite3_step(any.st) == SQLITE_DONE) return 0;
  }
  int64_t rows = 0;
  const bool ok = in_transaction(db, [&] {
    const int64_t from = rollup_watermark(db);
    Stmt sel(db, std::string("SELECT ") + kRowColumns + " FROM requests WHERE id > ? ORDER BY id LIMIT ?");
    if (!sel) return false;
    sqlite3_bind_int64(sel.st, 1, from);
    sqlite3_bind_int64(sel.st, 2, max_rows);
    std::map<Key, Agg> aggs;
    int64_t last = from;
    if (!aggregate(sel.st, aggs, last, rows)) return false;
    if (rows == 0) return true;
    if (!merge_into_rollup(db, aggs)) return false;
    Stmt mark(db, "UPDATE rollup_state SET watermark = ? WHERE id = 1");
    if (!mark) return false;
    sqlite3_bind_int64(mark.st, 1, last);
    return sqlite3_step(mark.st) == SQLITE_DONE;
  });
  if (!ok) {
    error = sqlite3_errmsg(db);
    return -1;
  }
  return rows;
}

int64_t prune_usage(sqlite3* db, int64_t cutoff_ms, std::string& error) {
  int64_t deleted = 0;
  const bool ok = in_transaction(db, [&] {
    {
      Stmt del(db, "DELETE FROM requests WHERE ts_ms < ?");
      if (!del) return false;
      sqlite3_bind_int64(del.st, 1, cutoff_ms);
      if (sqlite3_step(del.st) != SQLITE_DONE) return false;
      deleted = sqlite3_changes64(db);
    }
    Stmt has(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests_hourly'");
    if (!has || sqlite3_step(has.st) != SQLITE_ROW) return true;  // an older store: no rollup
    const int64_t hour = cutoff_ms >= 0 ? cutoff_ms / kHourMs : (cutoff_ms - kHourMs + 1) / kHourMs;
    Stmt drop(db, "DELETE FROM requests_hourly WHERE hour <= ?");
    if (!drop) return false;
    // The cutoff's own hour is dropped too and rebuilt below from the rows it keeps.
    sqlite3_bind_int64(drop.st, 1, hour);
    if (sqlite3_step(drop.st) != SQLITE_DONE) return false;
    Stmt sel(db, std::string("SELECT ") + kRowColumns +
                     " FROM requests WHERE ts_ms >= ? AND ts_ms < ? AND id <= ? ORDER BY id");
    if (!sel) return false;
    sqlite3_bind_int64(sel.st, 1, hour * kHourMs);
    sqlite3_bind_int64(sel.st, 2, (hour + 1) * kHourMs);
    sqlite3_bind_int64(sel.st, 3, rollup_watermark(db));
    std::map<Key, Agg> aggs;
    int64_t last = 0, rows = 0;
    return aggregate(sel.st, aggs, last, rows) && merge_into_rollup(db, aggs);
  });
  if (!ok) {
    error = sqlite3_errmsg(db);
    return -1;
  }
  return deleted;
}

}  // namespace zgate::obs
