#include "zgate/obs/ticker.hpp"

#include <pthread.h>

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
