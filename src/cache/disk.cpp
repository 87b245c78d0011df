// The on-disk copy of the cache (SQLite), written by its own thread.
#include <pthread.h>
#include <sqlite3.h>

#include <stdexcept>

#include "zgate/cache/store.hpp"

namespace zgate::cache {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS cache_entries ("
    " key BLOB PRIMARY KEY,"
    " model TEXT NOT NULL,"
    " key_label TEXT NOT NULL,"
    " stored_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " data BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS cache_entries_stored ON cache_entries(stored_ms);";

sqlite3* open_db(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open the cache database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr, &err) != SQLITE_OK ||
      sqlite3_exec(db, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_close(db);
    throw std::runtime_error("cannot prepare the cache database " + path + ": " + msg);
  }
  return db;
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
  ~Stmt() { sqlite3_finalize(s); }
  explicit operator bool() const { return s != nullptr; }
};

}  // namespace

DiskCache::DiskCache(const std::string& path) : db_(open_db(path)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "zgate-cache");
    run();
  });
}

DiskCache::~DiskCache() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  sqlite3_close(static_cast<sqlite3*>(db_));
}

void DiskCache::push(Op op) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kQueue) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(op));
  }
  cv_.notify_one();
}

void DiskCache::put(const Key& k, std::shared_ptr<const Entry> e) { push(Op{Op::Kind::put, k, std::move(e)}); }
void DiskCache::remove(const Key& k) { push(Op{Op::Kind::remove, k, nullptr}); }
void DiskCache::remove_all() { push(Op{Op::Kind::remove_all, Key{}, nullptr}); }

void DiskCache::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void DiskCache::run() {
  auto* db = static_cast<sqlite3*>(db_);
  Stmt ins(db,
           "INSERT OR REPLACE INTO cache_entries(key, model, key_label, stored_ms, expires_ms, bytes, data) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  Stmt del(db, "DELETE FROM cache_entries WHERE key = ?1");
  std::deque<Op> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      busy_ = false;
      if (queue_.empty()) idle_cv_.notify_all();
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      batch.swap(queue_);
      busy_ = true;
    }
    // One transaction per batch.
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (Op& op : batch) {
      switch (op.kind) {
        case Op::Kind::put: {
          if (!ins) break;
          const std::string data = encode(*op.entry);
          sqlite3_bind_blob(ins.s, 1, op.key.bytes.data(), static_cast<int>(op.key.bytes.size()), SQLITE_TRANSIENT);
          sqlite3_bind_text(ins.s, 2, op.entry->model.data(), static_cast<int>(op.entry->model.size()), SQLITE_TRANSIENT);
          sqlite3_bind_text(ins.s, 3, op.entry->key_label.data(), static_cast<int>(op.entry->key_label.size()),
                            SQLITE_TRANSIENT);
          sqlite3_bind_int64(ins.s, 4, op.entry->stored_ms);
          sqlite3_bind_int64(ins.s, 5, op.entry->expires_ms);
          sqlite3_bind_int64(ins.s, 6, static_cast<sqlite3_int64>(data.size()));
          sqlite3_bind_blob(ins.s, 7, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT);
          sqlite3_step(ins.s);
          sqlite3_reset(ins.s);
          break;
        }
        case Op::Kind::remove:
          if (!del) break;
          sqlite3_bind_blob(del.s, 1, op.key.bytes.data(), static_cast<int>(op.key.bytes.size()), SQLITE_TRANSIENT);
          sqlite3_step(del.s);
          sqlite3_reset(del.s);
          break;
        case Op::Kind::remove_all: sqlite3_exec(db, "DELETE FROM cache_entries", nullptr, nullptr, nullptr); break;
      }
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    batch.clear();
  }
}

std::size_t DiskCache::load(LocalCacheStore& into, int64_t now_ms) {
  std::lock_guard lock(mu_);  // the writer thread waits meanwhile
  auto* db = static_cast<sqlite3*>(db_);
  {
    Stmt del(db, "DELETE FROM cache_entries WHERE expires_ms <= ?1");
    if (del) {
      sqlite3_bind_int64(del.s, 1, now_ms);
      sqlite3_step(del.s);
    }
  }
  std::size_t n = 0;
  std::vector<std::string> stale;  // rows that did not fit or did not decode: removed
  Stmt sel(db, "SELECT key, data FROM cache_entries ORDER BY stored_ms DESC");
  if (!sel) return 0;
  bool full = false;
  while (sqlite3_step(sel.s) == SQLITE_ROW) {
    const auto* kb = static_cast<const char*>(sqlite3_column_blob(sel.s, 0));
    const int kn = sqlite3_column_bytes(sel.s, 0);
    const auto* db_data = static_cast<const char*>(sqlite3_column_blob(sel.s, 1));
    const int dn = sqlite3_column_bytes(sel.s, 1);
    std::string kstr(kb ? kb : "", static_cast<std::size_t>(kn));
    if (full || kn != 32) {
      stale.push_back(std::move(kstr));
      continue;
    }
    auto e = decode(std::string_view(db_data ? db_data : "", static_cast<std::size_t>(dn)));
    Key k;
    std::copy(kstr.begin(), kstr.end(), k.bytes.begin());
    if (!e || !into.load(k, std::make_shared<const Entry>(std::move(*e)))) {
      if (e) full = true;
      stale.push_back(std::move(kstr));
      continue;
    }
    ++n;
  }
  if (!stale.empty()) {
    Stmt del(db, "DELETE FROM cache_entries WHERE key = ?1");
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (const std::string& k : stale) {
      sqlite3_bind_blob(del.s, 1, k.data(), static_cast<int>(k.size()), SQLITE_TRANSIENT);
      sqlite3_step(del.s);
      sqlite3_reset(del.s);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  return n;
}

DiskStats disk_stats(const std::string& path, int64_t now_ms) {
  sqlite3* db = open_db(path);
  DiskStats st;
  {
    Stmt s(db, "SELECT count(*), coalesce(sum(bytes), 0), coalesce(sum(expires_ms <= ?1), 0) FROM cache_entries");
    sqlite3_bind_int64(s.s, 1, now_ms);
    if (sqlite3_step(s.s) == SQLITE_ROW) {
      st.entries = sqlite3_column_int64(s.s, 0);
      st.bytes = sqlite3_column_int64(s.s, 1);
      st.expired = sqlite3_column_int64(s.s, 2);
    }
  }
  {
    Stmt s(db, "SELECT model, count(*) FROM cache_entries GROUP BY model ORDER BY 2 DESC, 1");
    while (sqlite3_step(s.s) == SQLITE_ROW) {
      const auto* m = reinterpret_cast<const char*>(sqlite3_column_text(s.s, 0));
      st.by_model.emplace_back(m ? m : "", sqlite3_column_int64(s.s, 1));
    }
  }
  sqlite3_close(db);
  return st;
}

int64_t disk_clear(const std::string& path, std::string_view model) {
  sqlite3* db = open_db(path);
  int64_t n = 0;
  {
    Stmt s(db, model.empty() ? "DELETE FROM cache_entries" : "DELETE FROM cache_entries WHERE model = ?1");
    if (!model.empty()) sqlite3_bind_text(s.s, 1, model.data(), static_cast<int>(model.size()), SQLITE_TRANSIENT);
    sqlite3_step(s.s);
    n = sqlite3_changes(db);
  }
  sqlite3_close(db);
  return n;
}

}  // namespace zgate::cache
