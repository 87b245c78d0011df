// Test helper: reading the usage store's SQLite file (usage.db in a data_dir) directly.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <string>

namespace zgate::testing {

// Runs `select` on `dir`/usage.db, opened read-only, and hands each result row (the statement) to
// `on_row`; returns how many rows there were.
template <class OnRow>
int each_usage_row(const std::string& dir, const char* select, OnRow on_row) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((dir + "/usage.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  const int prepared = sqlite3_prepare_v2(db, select, -1, &st, nullptr);
  if (prepared != SQLITE_OK) sqlite3_close(db);
  REQUIRE(prepared == SQLITE_OK);
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    on_row(st);
    ++n;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

}  // namespace zgate::testing
