// The usage store (a recorder consumer): rows recorded on any thread land in SQLite, only
// authenticated chat requests are stored, old rows expire, and a bad path is a clear error.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "zgate/obs/record_ring.hpp"
#include "zgate/obs/usage_store.hpp"
#include "support/temp_dir.hpp"

using namespace zgate;
using zgate::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// The store's file, in a directory the store has to create.
std::string db_file(const TempDir& dir) { return dir.file("sub/usage.db"); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AccessRecord sample(std::string_view id, std::string_view key, int64_t prompt) {
  // No method, path, error, client address or retries.
  return AccessRecord{.request_id = id, .key_label = key, .method = {}, .path = {}, .model = "glm-4.6",
                      .upstream_model = "glm-4.6", .provider = "default", .stream = true, .status = 200,
                      .upstream_first_byte_us = 200, .first_token_us = 300, .total_us = 1500,
                      .prompt_tokens = prompt, .completion_tokens = 7, .reasoning_tokens = 2, .cached_tokens = 1,
                      .error_type = {}, .cost_usd = 0.25, .client_ip = {}, .retries = {}};
}

// `r` after `attempts` upstream attempts, the earlier ones failing for `retries`.
AccessRecord with_retries(AccessRecord r, int attempts, std::string_view retries) {
  r.attempts = attempts;
  r.retries = retries;
  return r;
}

// Runs `sql` (one row, integer or text columns) against the database file directly.
std::vector<std::string> query_row(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const auto* t = sqlite3_column_text(st, i);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// A usage store behind its own recorder, as the gateway runs it.
struct Store {
  UsageStore* store;
  obs::Recorder rec;
  explicit Store(UsageStoreOptions o, std::chrono::milliseconds every = 1h)
      : Store(std::make_unique<UsageStore>(std::move(o)), every) {}
  bool record(const AccessRecord& r, int64_t ts) { return rec.record(r, ts); }
  void flush() { rec.flush(); }
  UsageStoreStats stats() const { return store->stats(); }

 private:
  Store(std::unique_ptr<UsageStore> s, std::chrono::milliseconds every)
      : store(s.get()), rec(one(std::move(s)), {obs::RecordRing::kMinBytes, every}) {}
  static std::vector<std::unique_ptr<obs::RecordConsumer>> one(std::unique_ptr<UsageStore> s) {
    std::vector<std::unique_ptr<obs::RecordConsumer>> v;
    v.push_back(std::move(s));
    return v;
  }
};

}  // namespace

TEST_CASE("usage store: a recorded row is written with every field", "[unit][usage]") {
  TempDir dir("usage");
  Store store({db_file(dir)});
  const int64_t ts = now_ms();
  REQUIRE(store.record(sample("req-1", "ops", 11), ts));
  store.flush();
  CHECK(store.stats().written == 1);
  const auto row = query_row(db_file(dir),
                             "SELECT ts_ms, request_id, key_label, model, upstream_model, provider, stream, status, "
                             "error_type, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd, "
                             "total_us, first_token_us, upstream_first_byte_us FROM requests");
  REQUIRE(row.size() == 17);
  CHECK(row[0] == std::to_string(ts));
  CHECK(row[1] == "req-1");
  CHECK(row[2] == "ops");
  CHECK(row[3] == "glm-4.6");
  CHECK(row[4] == "glm-4.6");
  CHECK(row[5] == "default");
  CHECK(row[6] == "1");
  CHECK(row[7] == "200");
  CHECK(row[8] == "");
  CHECK(row[9] == "11");
  CHECK(row[10] == "7");
  CHECK(row[11] == "2");
  CHECK(row[12] == "1");
  CHECK(row[13] == "0.25");
  CHECK(row[14] == "1500");
  CHECK(row[15] == "300");
  CHECK(row[16] == "200");
}

TEST_CASE("usage store: rows from several threads are all written", "[unit][usage]") {
  TempDir dir("usage");
  Store store({db_file(dir)}, 20ms);
  constexpr int kThreads = 4, kRows = 500;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&store, t] {
      const std::string key = "key-" + std::to_string(t);
      for (int i = 0; i < kRows; ++i) {
        const std::string id = key + "-" + std::to_string(i);
        while (!store.record(sample(id, key, i), now_ms())) std::this_thread::sleep_for(1ms);
      }
    });
  }
  for (auto& t : ts) t.join();
  store.flush();
  CHECK(store.stats().written == kThreads * kRows);
  CHECK(store.stats().failed == 0);
  const auto row = query_row(db_file(dir), "SELECT COUNT(*), COUNT(DISTINCT request_id), SUM(prompt_tokens), "
                                       "COUNT(DISTINCT key_label) FROM requests");
  REQUIRE(row.size() == 4);
  CHECK(row[0] == std::to_string(kThreads * kRows));
  CHECK(row[1] == std::to_string(kThreads * kRows));
  CHECK(row[2] == std::to_string(kThreads * (kRows * (kRows - 1) / 2)));
  CHECK(row[3] == std::to_string(kThreads));
}

TEST_CASE("usage store: only requests with a key label and a model are stored", "[unit][usage]") {
  TempDir dir("usage");
  Store store({db_file(dir)});
  auto no_key = sample("no-key", "", 1);
  auto no_model = sample("no-model", "k", 1);
  no_model.model = "";
  store.record(no_key, now_ms());
  store.record(no_model, now_ms());
  store.record(sample("kept", "k", 1), now_ms());
  store.flush();
  CHECK(store.stats().written == 1);
  CHECK(query_row(db_file(dir), "SELECT group_concat(request_id, ',') FROM requests").at(0) == "kept");
}

TEST_CASE("usage store: the checkpointer copies committed rows into the database file", "[unit][usage]") {
  TempDir dir("usage");
  const auto db_size = [&] { return std::filesystem::file_size(db_file(dir)); };
  {
    Store store({db_file(dir)});
    const auto empty = db_size();  // the schema only
    for (int i = 0; i < 3000; ++i) {
      if (!store.record(sample("r" + std::to_string(i), "k", i), now_ms())) {  // this test's ring is small
        store.flush();
        REQUIRE(store.record(sample("r" + std::to_string(i), "k", i), now_ms()));
      }
    }
    store.flush();  // committed: in the WAL
    for (int i = 0; i < 50 && db_size() <= empty; ++i) std::this_thread::sleep_for(100ms);
    CHECK(db_size() > empty);  // checkpointed without any write of ours waiting for it
  }
  CHECK_FALSE(std::filesystem::exists(db_file(dir) + "-wal"));  // closing checkpoints the rest
  CHECK(query_row(db_file(dir), "SELECT COUNT(*) FROM requests").at(0) == "3000");
}

TEST_CASE("usage store: rows survive a restart and new rows are appended", "[unit][usage]") {
  TempDir dir("usage");
  {
    Store a({db_file(dir)});
    a.record(sample("one", "k", 1), now_ms());
  }  // the recorder's destructor hands over what is queued
  {
    Store b({db_file(dir)});
    b.record(sample("two", "k", 2), now_ms());
    b.flush();
  }
  CHECK(query_row(db_file(dir), "SELECT group_concat(request_id, ',') FROM (SELECT request_id FROM requests ORDER BY id)")
            .at(0) == "one,two");
}

TEST_CASE("usage store: rows past the retention period are deleted", "[unit][usage]") {
  TempDir dir("usage");
  UsageStoreOptions o{db_file(dir)};
  o.retention_days = 30;
  {
    Store store(o);
    store.record(sample("old", "k", 1), now_ms() - int64_t{31} * 86'400'000);
    store.record(sample("recent", "k", 1), now_ms() - int64_t{29} * 86'400'000);
    store.flush();
    // Expiry runs at most hourly: the first ran at opening, before these rows existed.
    CHECK(query_row(db_file(dir), "SELECT COUNT(*) FROM requests").at(0) == "2");
  }
  UsageStore reopened(o);  // opening expires
  CHECK(query_row(db_file(dir), "SELECT group_concat(request_id, ',') FROM requests").at(0) == "recent");
}

TEST_CASE("usage store: a path that cannot be opened is an error naming it", "[unit][usage]") {
  TempDir dir("usage");
  const std::string file = dir.file("plain-file");
  { std::FILE* f = std::fopen(file.c_str(), "w"); REQUIRE(f); std::fclose(f); }
  const std::string bad = file + "/usage.db";  // a directory inside a regular file
  try {
    UsageStore store({bad});
    FAIL("no error");
  } catch (const UsageStoreError& e) {
    CHECK(std::string(e.what()).find(bad) != std::string::npos);
  }
}

TEST_CASE("usage store: attempts and retries are stored", "[unit][usage]") {
  TempDir dir("usage");
  Store store({db_file(dir)});
  REQUIRE(store.record(with_retries(sample("req-retried", "ops", 3), 3, "http_429,upstream_connect_failed"), now_ms()));
  store.flush();
  const auto row = query_row(db_file(dir), "SELECT attempts, retries FROM requests");
  REQUIRE(row.size() == 2);
  CHECK(row[0] == "3");
  CHECK(row[1] == "http_429,upstream_connect_failed");
}

TEST_CASE("usage store: a row keeps upstream shaping's queue wait and depth", "[unit][usage][shaping]") {
  TempDir dir("usage");
  Store store({db_file(dir)});
  AccessRecord r = sample("req-queued", "ops", 3);
  r.queue_wait_us = 125'000;
  r.queue_depth = 4;
  REQUIRE(store.record(r, now_ms()));
  REQUIRE(store.record(sample("req-unshaped", "ops", 3), now_ms()));
  store.flush();
  CHECK(query_row(db_file(dir), "SELECT queue_wait_us, queue_depth FROM requests WHERE request_id = 'req-queued'") ==
        std::vector<std::string>{"125000", "4"});
  CHECK(query_row(db_file(dir), "SELECT queue_wait_us, queue_depth FROM requests WHERE request_id = 'req-unshaped'") ==
        std::vector<std::string>{"-1", "0"});
}

TEST_CASE("usage store: a row says whether its usage is an estimate", "[unit][usage]") {
  TempDir dir("usage");
  Store store({db_file(dir)});
  AccessRecord r = sample("req-cut", "ops", 3);
  r.usage_estimated = true;
  REQUIRE(store.record(r, now_ms()));
  REQUIRE(store.record(sample("req-whole", "ops", 3), now_ms()));
  store.flush();
  CHECK(query_row(db_file(dir), "SELECT usage_estimated FROM requests WHERE request_id = 'req-cut'") ==
        std::vector<std::string>{"1"});
  CHECK(query_row(db_file(dir), "SELECT usage_estimated FROM requests WHERE request_id = 'req-whole'") ==
        std::vector<std::string>{"0"});
}

TEST_CASE("usage store: a store of schema version 4 gains usage_estimated, 0 on its rows", "[unit][usage]") {
  TempDir dir("usage");
  {
    Store store({db_file(dir)});
    REQUIRE(store.record(sample("old", "ops", 2), now_ms()));
    store.flush();
  }
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(db_file(dir).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "ALTER TABLE requests DROP COLUMN usage_estimated; ALTER TABLE requests DROP COLUMN cache_hit; "
                             "ALTER TABLE requests DROP COLUMN cost_saved_usd; PRAGMA user_version = 4;", nullptr,
                         nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  {
    Store store({db_file(dir)});
    AccessRecord r = sample("new", "ops", 2);
    r.usage_estimated = true;
    REQUIRE(store.record(r, now_ms()));
    store.flush();
  }
  CHECK(query_row(db_file(dir), "SELECT usage_estimated FROM requests WHERE request_id = 'old'") ==
        std::vector<std::string>{"0"});
  CHECK(query_row(db_file(dir), "SELECT usage_estimated FROM requests WHERE request_id = 'new'") ==
        std::vector<std::string>{"1"});
  CHECK(query_row(db_file(dir), "PRAGMA user_version") == std::vector<std::string>{"6"});
}

TEST_CASE("usage store: a store of schema version 1 gains the new columns and keeps its rows", "[unit][usage]") {
  TempDir dir("usage");
  {
    std::filesystem::create_directories(std::filesystem::path(db_file(dir)).parent_path());
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(db_file(dir).c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
    const char* v1 = R"sql(
      CREATE TABLE requests (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL,
        key_label TEXT NOT NULL, model TEXT NOT NULL, upstream_model TEXT NOT NULL, provider TEXT NOT NULL,
        stream INTEGER NOT NULL, status INTEGER NOT NULL, error_type TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL, total_us INTEGER NOT NULL, first_token_us INTEGER NOT NULL,
        upstream_first_byte_us INTEGER NOT NULL);
      CREATE INDEX requests_ts ON requests(ts_ms);
      INSERT INTO requests VALUES (1, 1, 'old', 'ops', 'm', 'm', 'p', 0, 200, '', 1, 1, 0, 0, 0.0, 10, 5, 3);
      PRAGMA user_version = 1;)sql";
    REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  {
    Store store({db_file(dir)});
    REQUIRE(store.record(with_retries(sample("new", "ops", 2), 2, "http_503"), now_ms()));
    store.flush();
  }
  CHECK(query_row(db_file(dir), "SELECT attempts, retries FROM requests WHERE request_id = 'old'") ==
        std::vector<std::string>{"1", ""});
  CHECK(query_row(db_file(dir), "SELECT attempts, retries FROM requests WHERE request_id = 'new'") ==
        std::vector<std::string>{"2", "http_503"});
  CHECK(query_row(db_file(dir), "SELECT queue_wait_us, queue_depth FROM requests WHERE request_id = 'old'") ==
        std::vector<std::string>{"-1", "0"});
  CHECK(query_row(db_file(dir), "SELECT usage_estimated FROM requests WHERE request_id = 'old'") ==
        std::vector<std::string>{"0"});
  CHECK(query_row(db_file(dir), "SELECT cache_hit, cost_saved_usd FROM requests WHERE request_id = 'old'") ==
        std::vector<std::string>{"0", "0.0"});
  CHECK(query_row(db_file(dir), "PRAGMA user_version") == std::vector<std::string>{"6"});
  // The old row was rolled up when the store was opened.
  CHECK(query_row(db_file(dir), "SELECT requests, prompt_tokens FROM requests_hourly WHERE hour = 0") ==
        std::vector<std::string>{"1", "1"});
}

TEST_CASE("usage store: the checkpoint thread rolls new rows up into the hourly rollup", "[unit][usage]") {
  TempDir dir("usage");
  Store store({db_file(dir)});
  const int64_t ts = now_ms();
  REQUIRE(store.record(sample("req-1", "ops", 11), ts));
  REQUIRE(store.record(sample("req-2", "ops", 4), ts));
  store.flush();
  const std::string sql = "SELECT requests, prompt_tokens FROM requests_hourly WHERE hour = " +
                          std::to_string(ts / 3'600'000) + " AND key_label = 'ops'";
  std::vector<std::string> row;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((row = query_row(db_file(dir), sql.c_str())) != std::vector<std::string>{"2", "15"} &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(row == std::vector<std::string>{"2", "15"});
  CHECK(query_row(db_file(dir), "SELECT watermark FROM rollup_state") == std::vector<std::string>{"2"});
}

TEST_CASE("usage store: with the rollup on the recorder thread it is written in the recorder's transaction",
          "[unit][usage]") {
  TempDir dir("usage");
  UsageStoreOptions o{db_file(dir)};
  o.rollup = UsageStoreOptions::Rollup::recorder_thread;
  Store store(o);
  const int64_t ts = now_ms();
  REQUIRE(store.record(sample("req-1", "ops", 11), ts));
  store.flush();
  CHECK(query_row(db_file(dir), "SELECT watermark FROM rollup_state") == std::vector<std::string>{"1"});
  CHECK(query_row(db_file(dir), "SELECT sum(requests) FROM requests_hourly") == std::vector<std::string>{"1"});
}
