// The ticker: runs its function every period on its own thread, at once when woken, and never
// after stop() has returned.
#include <catch2/catch.hpp>

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

TEST_CASE("ticker: the thread runs at a lower priority than the process", "[unit][ticker]") {
  const int base = getpriority(PRIO_PROCESS, 0);
  std::atomic<int> nice{-100};
  Ticker t("zgate-test", 1h, [&] { nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); });
  t.wake();
  for (int i = 0; i < 200 && nice == -100; ++i) std::this_thread::sleep_for(10ms);
  CHECK(nice == std::min(base + Ticker::kBackgroundNice, 19));
  CHECK(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())) == base);  // the caller's is unchanged
}
