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

namespace {

struct TickPriority {
  int nice = -100;
  int policy = -100;
};

// Sets the background priority `p`, has a ticker tick once, and returns the nice value and the
// scheduling policy its thread ticked with. Bounded (10 s): a thread at SCHED_IDLE on busy cores
// may wait for one.
TickPriority tick_priority(zgate::obs::BackgroundPriority p) {
  zgate::obs::set_background_priority(p);
  std::atomic<int> nice{-100}, policy{-100};
  Ticker t("zgate-test", 1h, [&] {
    nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    policy = sched_getscheduler(0);  // last: once it is set, so is nice
  });
  t.wake();
  for (int i = 0; i < 1000 && policy == -100; ++i) std::this_thread::sleep_for(10ms);
  return {nice, policy};
}

}  // namespace

TEST_CASE("ticker: background priority idle runs the thread at SCHED_IDLE (or nice 19 where refused)",
          "[unit][ticker]") {
  const int base = getpriority(PRIO_PROCESS, 0);
  const auto [nice, policy] = tick_priority(zgate::obs::BackgroundPriority::idle);
  zgate::obs::set_background_priority(zgate::obs::BackgroundPriority::nice);  // the default, for later tests
  CHECK((policy == SCHED_IDLE || nice == 19));
  CHECK(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())) == base);  // the caller's is unchanged
  CHECK(sched_getscheduler(0) != SCHED_IDLE);
}

TEST_CASE("ticker: background priority nice runs the thread at nice +5 relative to the process", "[unit][ticker]") {
  const int base = getpriority(PRIO_PROCESS, 0);
  const auto [nice, policy] = tick_priority(zgate::obs::BackgroundPriority::nice);
  CHECK(nice == std::min(base + Ticker::kBackgroundNice, 19));
  CHECK(policy == SCHED_OTHER);
  CHECK(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())) == base);  // the caller's is unchanged
}
