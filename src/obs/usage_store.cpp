#include "zgate/obs/usage_store.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "zgate/obs/ticker.hpp"
#include "zgate/obs/usage_rollup.hpp"

namespace zgate {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS requests (
  id                     INTEGER PRIMARY KEY,
  ts_ms                  INTEGER NOT NULL,  -- Unix time (ms) when the request finished
  request_id             TEXT NOT NULL,
  key_label              TEXT NOT NULL,     -- the client key's label, never the key
  model                  TEXT NOT NULL,     -- as the client asked
  upstream_model         TEXT NOT NULL,
  provider               TEXT NOT NULL,
  stream                 INTEGER NOT NULL,
  status                 INTEGER NOT NULL,
  error_type             TEXT NOT NULL,     -- '' on success
  prompt_tokens          INTEGER NOT NULL,
  completion_tokens      INTEGER NOT NULL,
  reasoning_tokens       INTEGER NOT NULL,
  cached_tokens          INTEGER NOT NULL,
  cost_usd               REAL NOT NULL,
  total_us               INTEGER NOT NULL,
  first_token_us         INTEGER NOT NULL,  -- -1 = no token was sent
  upstream_first_byte_us INTEGER NOT NULL,  -- -1 = the upstream never answered
  attempts               INTEGER NOT NULL DEFAULT 1,   -- upstream attempts; 0 = not called
  retries                TEXT NOT NULL DEFAULT '',     -- why earlier attempts failed, comma-separated
  queue_wait_us          INTEGER NOT NULL DEFAULT -1,  -- upstream shaping's wait; -1 = not shaped
  queue_depth            INTEGER NOT NULL DEFAULT 0,   -- requests ahead at the upstream gate on arrival
  usage_estimated        INTEGER NOT NULL DEFAULT 0,   -- 1 = tokens and cost are zgate's estimate
  cache_hit              INTEGER NOT NULL DEFAULT 0,   -- 1 = answered from the response cache
  cost_saved_usd         REAL NOT NULL DEFAULT 0       -- a cache hit: what the answer cost when stored
);
-- Rows arrive in time order, so this index only ever grows at its end (cheap to keep); it serves
-- time-range reports and the retention delete. An index on key_label would be updated at a
-- random position on every insert and cost more than the insert itself, so reports by key
-- filter a time range instead.
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_ms);
)sql";

// The schema's version (PRAGMA user_version): 1 had no attempts/retries columns; a store of
// version 1 gains them (existing rows: 1 attempt, no retries). 3 added the hourly rollup
// (obs/usage_rollup.hpp), built from the existing rows when an older store is opened. 4 added
// upstream shaping's queue_wait_us and queue_depth (existing rows: -1, not shaped; 0). 5 added
// usage_estimated (existing rows: 0, the upstream's own usage). 6 added the response cache's
// cache_hit and cost_saved_usd (existing rows: 0, 0).
constexpr int kSchemaVersion = 6;

// Rows rolled up per transaction: while migrating, and per checkpoint tick (a tick that finds
// more goes on at once rather than waiting a second).
constexpr int64_t kRollupChunk = 100'000;
constexpr const char* kMigrateFrom1 = R"sql(
ALTER TABLE requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE requests ADD COLUMN retries TEXT NOT NULL DEFAULT '';
)sql";
constexpr const char* kMigrateFrom3 = R"sql(
ALTER TABLE requests ADD COLUMN queue_wait_us INTEGER NOT NULL DEFAULT -1;
ALTER TABLE requests ADD COLUMN queue_depth INTEGER NOT NULL DEFAULT 0;
)sql";
constexpr const char* kMigrateFrom4 = R"sql(
ALTER TABLE requests ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
)sql";
constexpr const char* kMigrateFrom5 = R"sql(
ALTER TABLE requests ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN cost_saved_usd REAL NOT NULL DEFAULT 0;
)sql";

// The row's columns, grouped by type; each names the record field it holds. Both the INSERT
// statement and the binding of a row follow these tables, so their orders cannot disagree.
// Five more columns come first: ts_ms (the finish time), stream, cost_usd, usage_estimated and
// cost_saved_usd.
template <class T>
struct Column {
  const char* name;
  T AccessRecord::*field;
};
constexpr Column<std::string_view> kTextColumns[] = {
    {"request_id", &AccessRecord::request_id}, {"key_label", &AccessRecord::key_label},
    {"model", &AccessRecord::model},           {"upstream_model", &AccessRecord::upstream_model},
    {"provider", &AccessRecord::provider},     {"error_type", &AccessRecord::error_type},
    {"retries", &AccessRecord::retries},
};
constexpr Column<int64_t> kInt64Columns[] = {
    {"prompt_tokens", &AccessRecord::prompt_tokens},   {"completion_tokens", &AccessRecord::completion_tokens},
    {"reasoning_tokens", &AccessRecord::reasoning_tokens}, {"cached_tokens", &AccessRecord::cached_tokens},
    {"total_us", &AccessRecord::total_us},             {"first_token_us", &AccessRecord::first_token_us},
    {"upstream_first_byte_us", &AccessRecord::upstream_first_byte_us},
    {"queue_wait_us", &AccessRecord::queue_wait_us},
};
constexpr Column<int> kIntColumns[] = {
    {"status", &AccessRecord::status}, {"attempts", &AccessRecord::attempts}, {"queue_depth", &AccessRecord::queue_depth},
    {"cache_hit", &AccessRecord::cache_hit}};
constexpr int kColumns =
    static_cast<int>(5 + std::size(kTextColumns) + std::size(kInt64Columns) + std::size(kIntColumns));

// Rows per multi-row INSERT: the statement overhead (step, halt, reset) is paid once per batch
// of 32 rows; the rest of a pass is written one by one.
constexpr int kRowsPerStatement = 32;

std::string insert_sql(int rows) {
  std::string sql = "INSERT INTO requests (ts_ms, stream, cost_usd, usage_estimated, cost_saved_usd";
  auto names = [&sql](const auto& columns) {
    for (const auto& c : columns) (sql += ", ") += c.name;
  };
  names(kTextColumns);
  names(kInt64Columns);
  names(kIntColumns);
  std::string row = "(?";
  for (int c = 1; c < kColumns; ++c) row += ",?";
  row += ")";
  sql += ") VALUES ";
  for (int r = 0; r < rows; ++r) (sql += r == 0 ? "" : ",") += row;
  return sql;
}

std::string sqlite_message(sqlite3* db, int rc) {
  return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

}  // namespace

class UsageStore::Impl {
 public:
  explicit Impl(UsageStoreOptions o) : opts(std::move(o)) {
    open();
    maybe_expire();
    checkpointer.emplace("zgate-ckpt", std::chrono::seconds(1), [this] { checkpoint(); });
  }

  ~Impl() {
    checkpointer.reset();
    sqlite3_close(ckpt_db);
    sqlite3_finalize(insert);
    sqlite3_finalize(insert_many);
    // The last connection to close checkpoints what is left and removes the WAL.
    sqlite3_close(db);
  }

  void begin() {
    in_tx = false;
    ok = true;
    rows = 0;
    npending = 0;
  }

  void consume(const AccessRecord& r, int64_t finished_ms) {
    if (r.model.empty() || r.key_label.empty()) return;  // not an authenticated chat request
    if (!in_tx) {  // a pass without usage rows does not touch the database
      in_tx = true;
      ok = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    ++rows;
    if (!ok) return;
    // The record's views stay valid until end(), so rows wait here (a fixed array, no copy of
    // their text) until a full multi-row INSERT can be bound.
    pending[npending++] = {r, finished_ms};
    if (npending == kRowsPerStatement) {
      for (int i = 0; i < kRowsPerStatement; ++i) bind(insert_many, i, pending[i]);
      step(insert_many);
      npending = 0;
    }
  }

  void end() {
    if (!in_tx) return;
    for (int i = 0; ok && i < npending; ++i) {
      bind(insert, 0, pending[i]);
      step(insert);
    }
    npending = 0;
    sqlite3_clear_bindings(insert);  // the text bindings point into the recorder's rings
    sqlite3_clear_bindings(insert_many);
    if (ok && opts.rollup == UsageStoreOptions::Rollup::recorder_thread) {
      std::string error;
      ok = obs::rollup_usage(db, std::numeric_limits<int64_t>::max(), error) >= 0;
    }
    if (ok) ok = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    in_tx = false;
    if (ok) {
      written.fetch_add(rows, std::memory_order_relaxed);
    } else {
      spdlog::warn("usage store '{}': {} rows lost: {}", opts.path, rows, sqlite3_errmsg(db));
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      failed.fetch_add(rows, std::memory_order_relaxed);
    }
    maybe_expire();
  }

  UsageStoreOptions opts;
  std::atomic<uint64_t> written{0}, failed{0};  // rows committed / lost, since the start

 private:
  struct Pending {
    AccessRecord r;
    int64_t ts_ms;
  };

  void open() {
    std::error_code ec;
    const auto parent = std::filesystem::path(opts.path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    int rc = sqlite3_open_v2(opts.path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) fail("cannot open", rc);
    sqlite3_busy_timeout(db, 2000);  // another process (a report) may hold a lock briefly
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    // Inserts touch only the right edge of the table and of the time index: a small page cache
    // (512 KiB instead of 2 MiB) is enough and keeps the idle footprint down.
    exec("PRAGMA cache_size=-512");
    // Checkpoints (copying the WAL into the database, with an fdatasync each) run on their own
    // thread and connection: inline, a busy disk stalls the recorder thread with them, long
    // enough for the workers' rings to fill. Commits themselves only append to the
    // WAL (synchronous=NORMAL), so the recorder thread never waits for the disk.
    exec("PRAGMA wal_autocheckpoint=0");
    migrate();
    rc = sqlite3_prepare_v3(db, insert_sql(1).c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_prepare_v3(db, insert_sql(kRowsPerStatement).c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert_many,
                              nullptr);
    }
    if (rc != SQLITE_OK) fail("cannot prepare the insert", rc);
    rc = sqlite3_open_v2(opts.path.c_str(), &ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) fail(std::string("cannot open for checkpoints: ") + sqlite_message(ckpt_db, rc));
    sqlite3_busy_timeout(ckpt_db, 2000);
    // A connection that has not read the database yet has no WAL open, and a checkpoint through
    // it does nothing; this opens it (and keeps its page cache small: it only copies pages).
    rc = sqlite3_exec(ckpt_db, "PRAGMA cache_size=-64; PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(std::string("cannot open for checkpoints: ") + sqlite_message(ckpt_db, rc));
  }

  // Each second: rolls up the rows inserted since the last tick (unless the recorder does it in
  // its own transactions), then a PASSIVE checkpoint, which copies what it can without blocking
  // the writer. The rollup's transaction takes the write lock for as long as it runs (a second's
  // rows); the recorder waits for it (busy timeout) while the workers' rings absorb the records.
  void checkpoint() {
    if (opts.rollup == UsageStoreOptions::Rollup::checkpoint_thread) {
      std::string error;
      int64_t n;
      while ((n = obs::rollup_usage(ckpt_db, kRollupChunk, error)) == kRollupChunk) {
      }
      if (n < 0) spdlog::warn("usage store '{}': rollup failed: {}", opts.path, error);
    }
    const int rc = sqlite3_wal_checkpoint_v2(ckpt_db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("usage store '{}': checkpoint failed: {}", opts.path, sqlite3_errmsg(ckpt_db));
    }
  }

  // Closes what open() got so far and throws `reason`, prefixed with the path.
  [[noreturn]] void fail(const std::string& reason) {
    sqlite3_close(ckpt_db);
    ckpt_db = nullptr;
    sqlite3_finalize(insert);
    sqlite3_finalize(insert_many);
    insert = insert_many = nullptr;
    sqlite3_close(db);
    db = nullptr;
    throw UsageStoreError("usage store '" + opts.path + "': " + reason);
  }
  [[noreturn]] void fail(const char* what, int rc) { fail(std::string(what) + ": " + sqlite_message(db, rc)); }

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string reason = err ? err : "error";
      sqlite3_free(err);
      fail(reason);
    }
  }

  // Creates the table in a new store, or brings an older store's table up to kSchemaVersion.
  void migrate() {
    sqlite3_stmt* st = nullptr;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      version = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (version > kSchemaVersion) {
      fail("the usage store was written by a newer zgate (schema version " + std::to_string(version) + ")");
    }
    exec("BEGIN IMMEDIATE");
    if (version == 1) exec(kMigrateFrom1);
    if (version >= 1 && version < 4) exec(kMigrateFrom3);
    if (version >= 1 && version < 5) exec(kMigrateFrom4);
    if (version >= 1 && version < 6) exec(kMigrateFrom5);
    exec(kSchema);
    std::string error;
    if (!obs::create_rollup_tables(db, error)) fail("cannot create the rollup: " + error);
    if (version < 3) {
      // An older store: its rows are rolled up now, so reports are fast from the first one.
      for (;;) {
        const int64_t n = obs::rollup_usage(db, kRollupChunk, error);
        if (n < 0) fail("cannot build the rollup: " + error);
        if (n < kRollupChunk) break;
      }
    }
    exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    exec("COMMIT");
  }

  // Binds `p` as the n-th row (0-based) of statement `st`, in insert_sql()'s column order.
  static void bind(sqlite3_stmt* st, int n, const Pending& p) {
    const AccessRecord& r = p.r;
    int col = n * kColumns;
    sqlite3_bind_int64(st, ++col, p.ts_ms);
    sqlite3_bind_int(st, ++col, r.stream ? 1 : 0);
    sqlite3_bind_double(st, ++col, r.cost_usd);
    sqlite3_bind_int(st, ++col, r.usage_estimated ? 1 : 0);
    sqlite3_bind_double(st, ++col, r.cost_saved_usd);
    for (const auto& c : kTextColumns) {
      const std::string_view v = r.*c.field;
      sqlite3_bind_text(st, ++col, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    }
    for (const auto& c : kInt64Columns) sqlite3_bind_int64(st, ++col, r.*c.field);
    for (const auto& c : kIntColumns) sqlite3_bind_int(st, ++col, r.*c.field);
  }

  void step(sqlite3_stmt* st) {
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
  }

  // Deletes rows past the retention period, at most once an hour.
  void maybe_expire() {
    if (opts.retention_days <= 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (expired_at && now - *expired_at < std::chrono::hours(1)) return;
    expired_at = now;
    const int64_t cutoff = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() -
                           int64_t{opts.retention_days} * 86'400'000;
    std::string error;
    if (obs::prune_usage(db, cutoff, error) < 0) {
      spdlog::warn("usage store '{}': expiring old rows failed: {}", opts.path, error);
    }
  }

  sqlite3* db = nullptr;       // the recorder thread's
  sqlite3* ckpt_db = nullptr;  // the checkpointer's
  sqlite3_stmt* insert = nullptr;       // one row
  sqlite3_stmt* insert_many = nullptr;  // kRowsPerStatement rows
  // The current pass (recorder thread only).
  bool in_tx = false, ok = true;
  uint64_t rows = 0;
  Pending pending[kRowsPerStatement];
  int npending = 0;
  std::optional<std::chrono::steady_clock::time_point> expired_at;
  std::optional<obs::Ticker> checkpointer;  // started once the database is open
};

UsageStore::UsageStore(UsageStoreOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
UsageStore::~UsageStore() = default;

void UsageStore::begin() { impl_->begin(); }
void UsageStore::consume(const AccessRecord& r, int64_t finished_ms) { impl_->consume(r, finished_ms); }
void UsageStore::end() { impl_->end(); }

UsageStoreStats UsageStore::stats() const {
  UsageStoreStats s;
  s.written = impl_->written.load(std::memory_order_relaxed);
  s.failed = impl_->failed.load(std::memory_order_relaxed);
  return s;
}

}  // namespace zgate
