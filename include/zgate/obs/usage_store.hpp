#pragma once
// The usage store: one row per chat request (who, which model, tokens, cost, timings) in a
// SQLite database, for billing and per-key reports (see the README for queries).
//
// The request path never touches SQLite: record() copies the row into its thread's batch (an
// uncontended lock and a few appends into buffers that keep their capacity, so no allocation
// once warm), and a writer thread inserts every batch in one transaction each `flush_every`.
// A thread's batch is bounded; rows beyond it are dropped and counted, never blocking.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "zgate/obs/log.hpp"

namespace zgate {

struct UsageStoreOptions {
  std::string path;                                    // the database file; created if missing
  std::chrono::milliseconds flush_every{100};          // how often batches are written
  std::size_t max_rows_per_thread = 65536;             // per batch; beyond it rows are dropped
  int retention_days = 0;                              // rows older than this are deleted; 0 = keep
};

struct UsageStoreStats {
  uint64_t written = 0;  // rows committed
  uint64_t dropped = 0;  // rows lost to a full batch or a failed write
};

class UsageStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class UsageStore {
 public:
  // Opens (creating the file, its directory and the schema if needed) and starts the writer.
  // Throws UsageStoreError naming the path if the database cannot be opened or written.
  explicit UsageStore(UsageStoreOptions opts);
  ~UsageStore();  // writes what is queued, then closes
  UsageStore(const UsageStore&) = delete;
  UsageStore& operator=(const UsageStore&) = delete;

  // Queues one request's row; `finished_ms` is the Unix time in milliseconds. Never blocks on
  // I/O; returns false (and counts a drop) when this thread's batch is full.
  bool record(const AccessRecord& r, int64_t finished_ms);
  // Writes everything recorded before the call (tests, shutdown).
  void flush();
  UsageStoreStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace zgate
