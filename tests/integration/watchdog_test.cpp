// io::Watchdog: deadlines cancel the pending operation of their socket, hang-ups of a watched
// socket emit a cancellation, and the timer stops when nothing needs it. Real loopback sockets,
// one io_context run by the test thread with bounded run_for().
#include <chrono>
#include <optional>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include "integration/socket_pair.hpp"
#include "zgate/io/watchdog.hpp"

namespace net = boost::asio;
using namespace std::chrono_literals;
using zgate::io::Deadline;
using zgate::io::Watchdog;

using Pair = zgate::testing::SocketPair;

// A watchdog ticking every 10 ms and a connected socket pair on one io_context.
struct Rig {
  net::io_context ioc;
  Watchdog wd{ioc, 10ms};
  Pair p{ioc};
};

TEST_CASE_METHOD(Rig, "watchdog: an expired deadline cancels the pending read and says so", "[integration][watchdog]") {
  Deadline dl(wd, &p.a);
  char byte;
  std::optional<boost::system::error_code> result;
  const auto t0 = std::chrono::steady_clock::now();
  auto t1 = t0;
  dl.arm(50ms);
  p.a.async_read_some(net::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
    result = ec;
    t1 = std::chrono::steady_clock::now();
    ioc.stop();  // the expired deadline keeps the watchdog ticking until re-armed
  });
  ioc.run_for(2s);
  REQUIRE(result.has_value());
  CHECK(*result == net::error::operation_aborted);
  CHECK(dl.expired());
  const auto took = t1 - t0;
  CHECK(took >= 50ms);
  CHECK(took < 500ms);
}

TEST_CASE_METHOD(Rig, "watchdog: a read that completes in time is not cut, and re-arming clears expiry", "[integration][watchdog]") {
  Deadline dl(wd, &p.a);
  char byte;
  std::optional<boost::system::error_code> result;
  dl.arm(300ms);
  p.a.async_read_some(net::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
    result = ec;
    dl.disarm();
  });
  net::write(p.b, net::buffer("x", 1));
  ioc.run_for(600ms);
  REQUIRE(result.has_value());
  CHECK(!*result);
  CHECK(!dl.expired());
}

TEST_CASE_METHOD(Rig, "watchdog: a disarmed deadline never cancels", "[integration][watchdog]") {
  Deadline dl(wd, &p.a);
  dl.arm(20ms);
  dl.disarm();
  char byte;
  bool done = false;
  p.a.async_read_some(net::buffer(&byte, 1), [&](boost::system::error_code, std::size_t) { done = true; });
  ioc.run_for(200ms);
  CHECK(!done);
  CHECK(!dl.expired());
}

TEST_CASE_METHOD(Rig, "watchdog: a watched peer's hang-up emits a terminal cancellation", "[integration][watchdog]") {
  Deadline dl(wd, &p.b);
  net::cancellation_signal signal;
  int emitted = 0;
  signal.slot().assign([&](net::cancellation_type t) {
    if ((t & net::cancellation_type::terminal) != net::cancellation_type::none) ++emitted;
  });
  dl.arm(10s);  // keeps the watchdog ticking
  dl.watch(&signal);
  net::write(p.a, net::buffer("pipelined", 9));  // pending data alone is not a hang-up
  ioc.run_for(100ms);
  CHECK(emitted == 0);
  CHECK(!dl.hung_up());
  p.a.close();
  ioc.run_for(100ms);
  CHECK(dl.hung_up());
  CHECK(emitted >= 1);
  dl.unwatch();
  const int before = emitted;
  ioc.run_for(60ms);
  CHECK(emitted == before);  // no more emissions once unwatched
}

TEST_CASE_METHOD(Rig, "watchdog: a client watched for long joins the epoll set once and costs no walk per tick",
                 "[integration][watchdog]") {
  Deadline dl(wd, &p.b);
  net::cancellation_signal signal;
  dl.arm(10s);  // keeps the watchdog ticking, as a stream's write deadline does
  dl.watch(&signal);
  ioc.run_for(1s);  // about 100 ticks
  CHECK(wd.registrations() == 1);
  CHECK(wd.walks() <= 2);  // nothing is due for 10 s
  CHECK_FALSE(dl.hung_up());
  p.a.close();
  const auto closed = std::chrono::steady_clock::now();
  while (!dl.hung_up() && std::chrono::steady_clock::now() - closed < 2s) ioc.run_for(5ms);
  CHECK(dl.hung_up());
  CHECK(std::chrono::steady_clock::now() - closed < 300ms);  // a tick or two (10 ms) and slack
  dl.unwatch();
}

TEST_CASE_METHOD(Rig, "watchdog: a watch shorter than a tick never joins the epoll set", "[integration][watchdog]") {
  Deadline dl(wd, &p.b);
  net::cancellation_signal signal;
  dl.arm(10s);
  for (int i = 0; i < 20; ++i) {
    dl.watch(&signal);
    ioc.poll();  // no tick is due between watch and unwatch
    dl.unwatch();
    ioc.run_for(15ms);
  }
  CHECK(wd.registrations() == 0);
}

TEST_CASE_METHOD(Rig, "watchdog: a client that hung up while in the epoll set is emitted at every tick until unwatched",
                 "[integration][watchdog]") {
  Deadline dl(wd, &p.b);
  net::cancellation_signal signal;
  int emitted = 0;
  signal.slot().assign([&](net::cancellation_type) { ++emitted; });
  dl.arm(10s);
  dl.watch(&signal);
  ioc.run_for(100ms);
  REQUIRE(wd.registrations() == 1);
  p.a.close();
  ioc.run_for(200ms);
  CHECK(dl.hung_up());
  CHECK(emitted >= 3);  // first found, then again at each tick
  dl.unwatch();
  const int before = emitted;
  ioc.run_for(60ms);
  CHECK(emitted == before);
}

TEST_CASE_METHOD(Rig, "watchdog: a deadline armed after far-away ones is still cut in time", "[integration][watchdog]") {
  Deadline far(wd, &p.a);
  far.arm(60s);
  ioc.run_for(50ms);  // a walk sets the next due time 60 s away
  Deadline near(wd, &p.b);
  char byte;
  std::optional<boost::system::error_code> result;
  near.arm(40ms);
  p.b.async_read_some(net::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) { result = ec; });
  const auto t0 = std::chrono::steady_clock::now();
  while (!result && std::chrono::steady_clock::now() - t0 < 2s) ioc.run_for(10ms);
  REQUIRE(result.has_value());
  CHECK(*result == net::error::operation_aborted);
  CHECK(near.expired());
  CHECK_FALSE(far.expired());
}

TEST_CASE_METHOD(Rig, "watchdog: the timer stops when nothing is armed or watched", "[integration][watchdog]") {
  {
    Deadline dl(wd, &p.a);
    dl.arm(5ms);
    ioc.run_for(100ms);
    CHECK(dl.expired());
    dl.disarm();
    ioc.restart();
    ioc.run_for(50ms);  // the last tick sees nothing armed and does not re-arm
  }
  CHECK(wd.size() == 0);
  ioc.restart();
  // With no pending work the io_context returns at once instead of waiting for ticks.
  const auto t0 = std::chrono::steady_clock::now();
  ioc.run_for(1s);
  CHECK(std::chrono::steady_clock::now() - t0 < 200ms);
}

TEST_CASE("watchdog: the tick follows the shortest timeout within 5..50 ms", "[integration][watchdog]") {
  CHECK(Watchdog::tick_for(std::chrono::seconds(10)) == std::chrono::milliseconds(50));
  CHECK(Watchdog::tick_for(std::chrono::milliseconds(240)) == std::chrono::milliseconds(30));
  CHECK(Watchdog::tick_for(std::chrono::milliseconds(1)) == std::chrono::milliseconds(5));
}
