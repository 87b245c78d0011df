#pragma once
// The usage store: one row per chat request (who, which model, tokens, cost, timings) in a
// SQLite database, for billing and per-key reports (see the README for queries).
//
// It is a recorder consumer (obs/recorder.hpp): the request path only copies its record into
// the worker's ring, and the recorder thread inserts each pass's rows in one transaction,
// binding the text straight from the ring. Rows are kept for chat requests that were
// authenticated and named a model (a record with a key label and a model).
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "zgate/obs/recorder.hpp"

namespace zgate {

struct UsageStoreOptions {
  std::string path;         // the database file; created if missing
  int retention_days = 0;   // rows older than this are deleted (at start, then hourly); 0 = keep
  // Where the hourly rollup (obs/usage_rollup.hpp) is kept up to date: on the checkpoint thread
  // each second (the default); in the recorder's own transactions (costlier per row on the
  // recorder thread: bench/usage_report.cpp measures both); or not at all (reports then read the
  // rows above the watermark raw: still exact, slower; for measurements).
  enum class Rollup { checkpoint_thread, recorder_thread, off };
  Rollup rollup = Rollup::checkpoint_thread;
};

struct UsageStoreStats {
  uint64_t written = 0;  // rows committed
  uint64_t failed = 0;   // rows lost to a failed write
};

class UsageStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class UsageStore final : public obs::RecordConsumer {
 public:
  // Opens (creating the file, its directory and the schema if needed). Throws UsageStoreError
  // naming the path if the database cannot be opened or written.
  explicit UsageStore(UsageStoreOptions opts);
  ~UsageStore() override;

  // One recorder pass: BEGIN; the rows, 32 per INSERT; COMMIT.
  void begin() override;
  void consume(const AccessRecord& r, int64_t finished_ms) override;
  void end() override;

  // Safe from any thread.
  UsageStoreStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;  // with the declared destructor: neither copyable nor movable
};

}  // namespace zgate
