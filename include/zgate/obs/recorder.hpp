#pragma once
// The recorder: how a finished request reaches the access log and the usage store without
// costing the request path a lock, an allocation or a syscall.
//
// Each thread that records gets its own fixed-size RecordRing (allocated on its first record,
// never grown); record() copies the request's fields into it and returns. One recorder thread
// drains every ring each `flush_every` (sooner when a ring is half full) and hands each record
// to the consumers in turn — the access-log writer formats the line there, the usage store
// inserts the row there — so formatting and SQLite never run on a worker. A full ring drops
// the record and counts it; memory stays the same whatever the load or however slow the disk.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "zgate/obs/access_record.hpp"

namespace zgate::obs {

// Receives records on the recorder thread (or the thread calling flush()), one pass at a
// time: begin(), consume() for each record, end(). The record's views stay valid until end()
// returns, so a consumer may hold on to them within the pass.
class RecordConsumer {
 public:
  virtual ~RecordConsumer() = default;
  virtual void begin() {}
  virtual void consume(const AccessRecord& r, int64_t finished_ms) = 0;
  virtual void end() {}
};

struct RecorderOptions {
  std::size_t ring_bytes = 2 * 1024 * 1024;      // per recording thread
  std::chrono::milliseconds flush_every{100};    // how often the rings are drained
  // The no-loss fallback for a recorder thread that cannot run (SCHED_IDLE on CPUs the workers
  // keep busy): when a ring passes half full and the recorder has not finished a pass for
  // `max_lag`, the recording thread runs the pass itself (formatting, SQLite) before it goes
  // on. A record then waits at most about `max_lag` (or until its ring is half full) to be
  // handed over, and a full ring stays what it was before: a disk or consumer too slow for the
  // load. Off = a starved recorder drops records once the ring is full (counted).
  bool worker_fallback = true;
  std::chrono::milliseconds max_lag{500};
  // Tests: no recorder thread at all (passes run only from flush() and the fallback).
  bool start_thread = true;
};

// Ring size per worker for `workers` workers: an 8 MiB budget shared among them, in powers of two,
// at least 256 KiB each (with more workers each one sees less of the load). One worker's 8 MiB
// hold tens of thousands of records: enough to ride out a disk stall.
std::size_t ring_bytes_for(unsigned workers);

struct RecorderStats {
  uint64_t recorded = 0;  // records handed to the consumers
  uint64_t dropped = 0;   // records lost to a full ring
  uint64_t worker_passes = 0;  // passes a recording thread ran itself (the fallback)
};

class Recorder {
 public:
  // Starts the recorder thread. Consumers are called in the given order.
  explicit Recorder(std::vector<std::unique_ptr<RecordConsumer>> consumers, RecorderOptions opts = {});
  ~Recorder();  // hands over everything recorded, then stops
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Any thread. Never blocks, never allocates once the thread's ring exists; false (counted as
  // dropped) when the ring is full.
  bool record(const AccessRecord& r, int64_t finished_ms);
  // Hands every record recorded before the call to the consumers (tests, shutdown).
  void flush();
  RecorderStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace zgate::obs
