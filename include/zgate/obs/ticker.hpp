#pragma once
// A named background thread that runs one function every `period`, or at once when woken: the
// recorder's drain and the usage store's checkpoints. It runs at a lower priority (nice +5)
// than the rest of the process.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace zgate::obs {

class Ticker {
 public:
  // The thread's nice value above the process's (it yields to the workers).
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
