#include "zgate/obs/usage_store.hpp"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

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
  upstream_first_byte_us INTEGER NOT NULL   -- -1 = the upstream never answered
);
-- Rows arrive in time order, so this index only ever grows at its end (cheap to keep); it serves
-- time-range reports and the retention delete. An index on key_label would be updated at a
-- random position on every insert and cost more than the insert itself, so reports by key
-- filter a time range instead.
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_ms);
PRAGMA user_version = 1;
)sql";

constexpr int kColumns = 17;
// Rows per multi-row INSERT. Statement overhead (step, halt, reset) was about a fifth of a
// single-row insert's instructions; batches are written 32 rows per statement, the rest one by one.
constexpr int kRowsPerStatement = 32;

std::string insert_sql(int rows) {
  std::string sql =
      "INSERT INTO requests (ts_ms, request_id, key_label, model, upstream_model, provider, stream, status, "
      "error_type, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd, total_us, "
      "first_token_us, upstream_first_byte_us) VALUES ";
  for (int r = 0; r < rows; ++r) sql += r == 0 ? "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  return sql;
}

enum Text : unsigned { request_id, key_label, model, upstream_model, provider, error_type, kTexts };

// One row with its text fields as (offset, length) into the batch's shared text buffer, so a
// row costs no allocation of its own.
struct Row {
  int64_t ts_ms, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, total_us, first_token_us,
      first_byte_us;
  double cost_usd;
  int status;
  bool stream;
  uint32_t off[kTexts];
  uint32_t len[kTexts];
};

struct Batch {
  std::mutex mu;
  std::vector<Row> rows;  // appended by the owning thread (under mu)
  std::string text;
};

std::atomic<uint64_t> g_next_store_id{1};

constexpr std::size_t kKeepRows = 4096;  // batch capacity always kept (about 0.5 MiB with its text)

std::string sqlite_message(sqlite3* db, int rc) {
  return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

}  // namespace

class UsageStore::Impl {
 public:
  explicit Impl(UsageStoreOptions o) : opts(std::move(o)) {
    open();
    writer = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(stop_mu);
      stopping = true;
    }
    stop_cv.notify_one();
    if (writer.joinable()) writer.join();
    write_all();
    sqlite3_finalize(insert);
    sqlite3_finalize(insert_many);
    sqlite3_close(db);
    std::lock_guard lock(batches_mu);
    for (Batch* b : batches) delete b;
  }

  bool record(const AccessRecord& r, int64_t finished_ms) {
    Batch& b = thread_batch();
    std::lock_guard lock(b.mu);
    if (b.rows.size() >= opts.max_rows_per_thread) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    Row row;
    row.ts_ms = finished_ms;
    row.prompt_tokens = r.prompt_tokens;
    row.completion_tokens = r.completion_tokens;
    row.reasoning_tokens = r.reasoning_tokens;
    row.cached_tokens = r.cached_tokens;
    row.total_us = r.total_us;
    row.first_token_us = r.first_token_us;
    row.first_byte_us = r.upstream_first_byte_us;
    row.cost_usd = r.cost_usd;
    row.status = r.status;
    row.stream = r.stream;
    const std::string_view texts[kTexts] = {r.request_id, r.key_label, r.model, r.upstream_model, r.provider, r.error_type};
    for (unsigned i = 0; i < kTexts; ++i) {
      row.off[i] = static_cast<uint32_t>(b.text.size());
      row.len[i] = static_cast<uint32_t>(texts[i].size());
      b.text.append(texts[i]);
    }
    b.rows.push_back(row);
    return true;
  }

  void write_all() {
    std::lock_guard writing(write_mu);
    std::vector<Batch*> snapshot;
    {
      std::lock_guard lock(batches_mu);
      snapshot = batches;
    }
    for (Batch* b : snapshot) {
      // The batch's buffers and the writer's spares swap places, so both keep their capacity.
      {
        std::lock_guard lock(b->mu);
        spare_rows.swap(b->rows);
        spare_text.swap(b->text);
      }
      const std::size_t n = spare_rows.size();
      if (n > 0) write_rows();
      spare_rows.clear();
      spare_text.clear();
      // Buffers keep their capacity, so steady load allocates nothing; but one that grew during
      // a burst or a slow disk is given back once it is mostly unused, or the memory held would
      // stay at the worst moment's high-water mark.
      if (spare_rows.capacity() > kKeepRows && n < spare_rows.capacity() / 4) {
        std::vector<Row>().swap(spare_rows);
        std::string().swap(spare_text);
      }
    }
    maybe_expire();
  }

  UsageStoreOptions opts;
  std::atomic<uint64_t> written{0}, dropped{0};  // rows committed / lost, since the start

 private:
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
    exec(kSchema);
    rc = sqlite3_prepare_v3(db, insert_sql(1).c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_prepare_v3(db, insert_sql(kRowsPerStatement).c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert_many,
                              nullptr);
    }
    if (rc != SQLITE_OK) fail("cannot prepare the insert", rc);
  }

  // Closes what open() got so far and throws `reason`, prefixed with the path.
  [[noreturn]] void fail(const std::string& reason) {
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

  Batch& thread_batch() {
    // A thread's batch in this store. The id (not the address) tells stores apart, since a
    // store created after another was destroyed may live at the same address.
    thread_local uint64_t owner = 0;
    thread_local Batch* batch = nullptr;
    if (owner != id) {
      batch = new Batch;
      std::lock_guard lock(batches_mu);
      batches.push_back(batch);
      owner = id;
    }
    return *batch;
  }

  // Binds `row` as the n-th row (0-based) of statement `st`.
  void bind(sqlite3_stmt* st, int n, const Row& row) {
    const int b = n * kColumns;
    sqlite3_bind_int64(st, b + 1, row.ts_ms);
    static constexpr int kColumn[kTexts] = {2, 3, 4, 5, 6, 9};
    for (unsigned i = 0; i < kTexts; ++i) {
      sqlite3_bind_text(st, b + kColumn[i], spare_text.data() + row.off[i], static_cast<int>(row.len[i]),
                        SQLITE_STATIC);
    }
    sqlite3_bind_int(st, b + 7, row.stream ? 1 : 0);
    sqlite3_bind_int(st, b + 8, row.status);
    sqlite3_bind_int64(st, b + 10, row.prompt_tokens);
    sqlite3_bind_int64(st, b + 11, row.completion_tokens);
    sqlite3_bind_int64(st, b + 12, row.reasoning_tokens);
    sqlite3_bind_int64(st, b + 13, row.cached_tokens);
    sqlite3_bind_double(st, b + 14, row.cost_usd);
    sqlite3_bind_int64(st, b + 15, row.total_us);
    sqlite3_bind_int64(st, b + 16, row.first_token_us);
    sqlite3_bind_int64(st, b + 17, row.first_byte_us);
  }

  void write_rows() {
    bool ok = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK;
    std::size_t i = 0;
    const std::size_t n = spare_rows.size();
    for (; ok && n - i >= kRowsPerStatement; i += kRowsPerStatement) {
      for (int r = 0; r < kRowsPerStatement; ++r) bind(insert_many, r, spare_rows[i + r]);
      ok = sqlite3_step(insert_many) == SQLITE_DONE;
      sqlite3_reset(insert_many);
    }
    for (; ok && i < n; ++i) {
      bind(insert, 0, spare_rows[i]);
      ok = sqlite3_step(insert) == SQLITE_DONE;
      sqlite3_reset(insert);
    }
    sqlite3_clear_bindings(insert);  // the text bindings point into spare_text
    sqlite3_clear_bindings(insert_many);
    if (ok) ok = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    if (ok) {
      written.fetch_add(spare_rows.size(), std::memory_order_relaxed);
      return;
    }
    spdlog::warn("usage store '{}': {} rows lost: {}", opts.path, spare_rows.size(), sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    dropped.fetch_add(spare_rows.size(), std::memory_order_relaxed);
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
    const std::string sql = "DELETE FROM requests WHERE ts_ms < " + std::to_string(cutoff);
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      spdlog::warn("usage store '{}': expiring old rows failed: {}", opts.path, sqlite3_errmsg(db));
    }
  }

  void run() {
    std::unique_lock lock(stop_mu);
    while (!stopping) {
      stop_cv.wait_for(lock, opts.flush_every);
      lock.unlock();
      write_all();
      if (const uint64_t d = dropped.load(std::memory_order_relaxed); d > dropped_warned) {
        spdlog::warn("usage store '{}': {} rows dropped (the writer could not keep up)", opts.path, d - dropped_warned);
        dropped_warned = d;
      }
      lock.lock();
    }
  }

  const uint64_t id = g_next_store_id.fetch_add(1);
  sqlite3* db = nullptr;
  sqlite3_stmt* insert = nullptr;       // one row
  sqlite3_stmt* insert_many = nullptr;  // kRowsPerStatement rows
  std::mutex batches_mu;
  std::vector<Batch*> batches;  // one per thread that recorded; freed with the store
  std::mutex write_mu;          // one writer at a time: the thread, flush(), the destructor
  std::vector<Row> spare_rows;
  std::string spare_text;
  std::optional<std::chrono::steady_clock::time_point> expired_at;
  uint64_t dropped_warned = 0;  // drops already reported (writer thread only)
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread writer;
};

UsageStore::UsageStore(UsageStoreOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
UsageStore::~UsageStore() = default;

bool UsageStore::record(const AccessRecord& r, int64_t finished_ms) { return impl_->record(r, finished_ms); }

void UsageStore::flush() { impl_->write_all(); }

UsageStoreStats UsageStore::stats() const {
  UsageStoreStats s;
  s.written = impl_->written.load(std::memory_order_relaxed);
  s.dropped = impl_->dropped.load(std::memory_order_relaxed);
  return s;
}

}  // namespace zgate
