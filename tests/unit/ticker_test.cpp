// The ticker: runs its function every period on its own thread, at once when woken, never after
// stop() has returned, at the background priority (SCHED_IDLE or nice +5).
#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "zgate/obs/ticker.hpp"

using namespace std::chrono_literals;
using zgate::obs::Ticker;

TEST_CASE("ticker: the function runs every period", "[unit][ticker]") {
  std::atomic<int> n{0};
  Ticker t("zgate-test", 10ms, [&] { ++n; });
  for (int i = 0; i < 200 && n < 3; ++i) std::this_thread::sleep_for(10ms);
  CHECK(n >= 3);
}

TEST_CASE("ticker: wake runs the function long before the period", "[unit][ticker]") {
  std::atomic<int> n{0};
  Ticker t("zgate-test", 1h, [&] { ++n; });
  t.wake();
  for (int i = 0; i < 200 && n == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(n == 1);
}

TEST_CASE("ticker: nothing runs after stop returns, and stop can be called again", "[unit][ticker]") {
  std::atomic<int> n{0};
  Ticker t("zgate-test", 1ms, [&] { ++n; });
  std::this_thread::sleep_for(20ms);
  t.stop();
  const int at_stop = n;
  t.wake();
  std::this_thread::sleep_for(20ms);
  CHECK(n == at_stop);
  t.stop();
}

TEST_CASE("ticker: background priority idle runs the thread at SCHED_IDLE (or nice 19 where refused)",
          "[unit][ticker]") {
  zgate::obs::set_background_priority(zgate::obs::BackgroundPriority::idle);
  const int base = getpriority(PRIO_PROCESS, 0);
  std::atomic<int> policy{-100}, nice{-100};
  Ticker t("zgate-test", 1h, [&] {
    nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    policy = sched_getscheduler(0);
  });
  t.wake();
  // Bounded (10 s): a thread at SCHED_IDLE on busy cores may wait for one.
  for (int i = 0; i < 1000 && policy == -100; ++i) std::this_thread::sleep_for(10ms);
  CHECK((policy == SCHED_IDLE || nice == 19));
  CHECK(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())) == base);  // the caller's is unchanged
  CHECK(sched_getscheduler(0) != SCHED_IDLE);
}

TEST_CASE("ticker: background priority nice runs the thread at nice +5 relative to the process", "[unit][ticker]") {
  zgate::obs::set_background_priority(zgate::obs::BackgroundPriority::nice);
  const int base = getpriority(PRIO_PROCESS, 0);
  std::atomic<int> nice{-100}, policy{-100};
  Ticker t("zgate-test", 1h, [&] {
    nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    policy = sched_getscheduler(0);
  });
  t.wake();
  for (int i = 0; i < 1000 && nice == -100; ++i) std::this_thread::sleep_for(10ms);
  zgate::obs::set_background_priority(zgate::obs::BackgroundPriority::nice);  // the default, for later tests
  CHECK(nice == std::min(base + Ticker::kBackgroundNice, 19));
  CHECK(policy == SCHED_OTHER);
  CHECK(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())) == base);  // the caller's is unchanged
}
