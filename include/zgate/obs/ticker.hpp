#pragma once
// A named background thread that runs one function every `period`, or at once when woken: the
// recorder's drain and the usage store's checkpoints. It runs at background priority (below).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace zgate::obs {

// How zgate's background threads (recorder, checkpoints, capture, alerts and webhooks, admin
// queries, the log writer) share a CPU with the workers:
//   idle: SCHED_IDLE, so that a background thread runs only when no worker wants the CPU and
//         never adds to a request's latency, even on one CPU; nice 19 where SCHED_IDLE is
//         refused. A starved recorder is covered by the recorder's fallback (a worker drains the
//         rings itself when they fill and the recorder thread has not run for a while), so no
//         record is lost to it.
//   nice: nice +5 relative to the process: background threads get a smaller but fair share of
//         a contended CPU (the default: under a load that keeps every CPU busy, `idle` starves
//         the recorder into large, late passes).
enum class BackgroundPriority { idle, nice };

// Process-wide; set at start, before the background threads start (a restart-only setting).
void set_background_priority(BackgroundPriority p);
BackgroundPriority background_priority();
// Lowers the calling thread to the background priority. Failure is harmless (it keeps running
// at the process's priority).
void lower_this_thread();

class Ticker {
 public:
  // The thread's nice value above the process's (it yields to the workers) with
  // BackgroundPriority::nice.
  static constexpr int kBackgroundNice = 5;

  // Starts the thread; `name` (at most 15 characters) is what top -H, perf and gdb show.
  Ticker(const char* name, std::chrono::milliseconds period, std::function<void()> tick);
  ~Ticker();  // stop()
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  // Any thread, no lock: runs the function soon instead of at the end of the period. A wake-up
  // that races the thread going to sleep is not lost for longer than one period.
  void wake();
  // Waits for a running call to return, then ends the thread. Idempotent.
  void stop();

 private:
  void run();

  const std::chrono::milliseconds period_;
  const std::function<void()> tick_;
  std::atomic<bool> woken_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace zgate::obs
