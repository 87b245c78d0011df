#include "zgate/obs/ticker.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace zgate::obs {
namespace {
std::atomic<BackgroundPriority> g_priority{BackgroundPriority::nice};
}  // namespace

void set_background_priority(BackgroundPriority p) { g_priority.store(p, std::memory_order_relaxed); }
BackgroundPriority background_priority() { return g_priority.load(std::memory_order_relaxed); }

void lower_this_thread() {
  errno = 0;
  const int base = getpriority(PRIO_PROCESS, 0);
  if (background_priority() == BackgroundPriority::idle) {
    // Nice 19 first: it is what remains if SCHED_IDLE is refused (seccomp, some container
    // runtimes), and the weight the thread keeps should it ever be switched back.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
    sched_param sp{};
    sp.sched_priority = 0;
    sched_setscheduler(0, SCHED_IDLE, &sp);
    return;
  }
  if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::min(base + Ticker::kBackgroundNice, 19));
}

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
  // log and usage store are busy (docs/architecture.md).
  lower_this_thread();
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
