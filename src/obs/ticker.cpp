#include "zgate/obs/ticker.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace zgate::obs {

Ticker::Ticker(const char* name, std::chrono::milliseconds period, std::function<void()> tick)
    : period_(period), tick_(std::move(tick)) {
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), name);
}

Ticker::~Ticker() { stop(); }

void Ticker::wake() {
  // Once until the thread has run: a burst of wake-ups costs one notify.
  if (!woken_.exchange(true, std::memory_order_relaxed)) cv_.notify_one();
}

void Ticker::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Ticker::run() {
  // Background work (formatting log lines, SQLite) at a lower priority than the workers: when
  // the cores are contended, a worker that wakes takes the core from a pass of several ms
  // instead of waiting for it, which keeps the tail latency of requests down while the access
  // log and usage store are busy (docs/architecture.md). At nice +5 the thread still gets a
  // fair share of a contended core, more than it needs at full load. Relative to the
  // process's own nice value; failure is harmless.
  errno = 0;
  const int base = getpriority(PRIO_PROCESS, 0);
  if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::min(base + kBackgroundNice, 19));
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period_, [this] { return stopping_ || woken_.load(std::memory_order_relaxed); });
    if (stopping_) break;
    lock.unlock();
    woken_.store(false, std::memory_order_relaxed);
    tick_();
    lock.lock();
  }
}

}  // namespace zgate::obs
