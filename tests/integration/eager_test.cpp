// io::try_write, io::write_rest, io::write_all and io::parse_buffered: the synchronous fast
// paths finish what can be finished at once and hand the rest to Asio intact. Real loopback
// sockets, bounded run_for().
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include "integration/socket_pair.hpp"
#include "zgate/io/eager.hpp"
#include "zgate/io/watchdog.hpp"

namespace net = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

namespace {

// The writing side in non-blocking mode, as the gateway sets its sockets.
struct Pair : zgate::testing::SocketPair {
  explicit Pair(net::io_context& ioc) : SocketPair(ioc) { a.non_blocking(true); }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// Reads `want` bytes (or what came in 10 s) from the other end while the loop runs the writer,
// then lets the loop finish what it was doing.
std::string read_while_running(net::io_context& ioc, Pair& p, std::size_t want) {
  std::string got;
  std::array<char, 65536> chunk;
  p.b.non_blocking(true);
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (got.size() < want && std::chrono::steady_clock::now() < until) {
    ioc.run_for(1ms);
    boost::system::error_code ec;
    got.append(chunk.data(), p.b.read_some(net::buffer(chunk), ec));
  }
  ioc.run_for(50ms);
  return got;
}

}  // namespace

TEST_CASE("eager write: a small write completes without the event loop", "[integration][eager]") {
  net::io_context ioc;
  Pair p(ioc);
  const std::string head = "HTTP/1.1 200 OK\r\n", body = "hello";
  std::optional<std::tuple<boost::system::error_code, std::size_t>> result;
  net::co_spawn(ioc, [&]() -> net::awaitable<void> {
    result = co_await zgate::io::write_all(p.a, std::array<net::const_buffer, 2>{net::buffer(head), net::buffer(body)});
  }, net::detached);
  // One handler (the coroutine's start) is all it takes: the write itself never waits.
  ioc.poll_one();
  REQUIRE(result.has_value());
  CHECK(!std::get<0>(*result));
  CHECK(std::get<1>(*result) == head.size() + body.size());
  std::string got(head.size() + body.size(), '\0');
  net::read(p.b, net::buffer(got));
  CHECK(got == head + body);
}

TEST_CASE("eager write: what the socket cannot take at once is written asynchronously, in order",
          "[integration][eager]") {
  net::io_context ioc;
  Pair p(ioc);
  // Far more than the loopback socket buffers hold, so the synchronous part stops short.
  const std::string a = pattern(3 << 20), b = pattern(5 << 20).substr(17);
  std::optional<std::tuple<boost::system::error_code, std::size_t>> result;
  net::co_spawn(ioc, [&]() -> net::awaitable<void> {
    result = co_await zgate::io::write_all(p.a, std::array<net::const_buffer, 2>{net::buffer(a), net::buffer(b)});
  }, net::detached);
  const std::string got = read_while_running(ioc, p, a.size() + b.size());
  REQUIRE(result.has_value());
  CHECK(!std::get<0>(*result));
  CHECK(std::get<1>(*result) == a.size() + b.size());
  REQUIRE(got.size() == a.size() + b.size());
  CHECK(got == a + b);
}

TEST_CASE("eager write: a socket the peer reset reports the error", "[integration][eager]") {
  net::io_context ioc;
  Pair p(ioc);
  p.b.set_option(net::socket_base::linger(true, 0));
  p.b.close();  // RST
  std::this_thread::sleep_for(20ms);
  const std::string data = pattern(1 << 16);
  std::optional<std::tuple<boost::system::error_code, std::size_t>> result;
  net::co_spawn(ioc, [&]() -> net::awaitable<void> {
    result = co_await zgate::io::write_all(p.a, std::array<net::const_buffer, 1>{net::buffer(data)});
  }, net::detached);
  ioc.run_for(2s);
  REQUIRE(result.has_value());
  CHECK(std::get<0>(*result));
}

TEST_CASE("eager write: try_write finishes a small write with no coroutine at all", "[integration][eager]") {
  net::io_context ioc;
  Pair p(ioc);
  const std::string a = "abc", b = "defgh";
  const auto w = zgate::io::try_write(p.a, std::array<net::const_buffer, 2>{net::buffer(a), net::buffer(b)});
  CHECK(w.complete);
  CHECK(!w.ec);
  CHECK(w.n == 8);
  std::string got(8, '\0');
  net::read(p.b, net::buffer(got));
  CHECK(got == "abcdefgh");
}

TEST_CASE("eager write: try_write on a blocking socket writes nothing and leaves it to write_rest",
          "[integration][eager]") {
  net::io_context ioc;
  zgate::testing::SocketPair p(ioc);  // left in blocking mode
  const std::string data = "hello";
  const std::array<net::const_buffer, 1> bufs{net::buffer(data)};
  const auto w = zgate::io::try_write(p.a, bufs);
  CHECK(!w.complete);
  CHECK(w.n == 0);
  std::optional<zgate::io::Written> rest;
  net::co_spawn(ioc, [&]() -> net::awaitable<void> { rest = co_await zgate::io::write_rest(p.a, bufs, w); },
                net::detached);
  ioc.run_for(2s);
  REQUIRE(rest.has_value());
  CHECK(rest->complete);
  CHECK(!rest->ec);
  CHECK(rest->n == data.size());
  std::string got(data.size(), '\0');
  net::read(p.b, net::buffer(got));
  CHECK(got == data);
}

TEST_CASE("eager write: write_rest carries on exactly where a partial try_write stopped", "[integration][eager]") {
  net::io_context ioc;
  Pair p(ioc);
  const std::string a = pattern(3 << 20), b = pattern(2 << 20).substr(5);
  const std::array<net::const_buffer, 2> bufs{net::buffer(a), net::buffer(b)};
  const auto w = zgate::io::try_write(p.a, bufs);
  REQUIRE(!w.complete);  // more than the loopback buffers hold
  CHECK(!w.ec);
  CHECK(w.n > 0);
  CHECK(w.n < a.size() + b.size());
  std::optional<zgate::io::Written> rest;
  net::co_spawn(ioc, [&]() -> net::awaitable<void> { rest = co_await zgate::io::write_rest(p.a, bufs, w); },
                net::detached);
  const std::string got = read_while_running(ioc, p, a.size() + b.size());
  REQUIRE(rest.has_value());
  CHECK(!rest->ec);
  CHECK(rest->n == a.size() + b.size());
  REQUIRE(got.size() == a.size() + b.size());
  CHECK(got == a + b);
}

TEST_CASE("eager parse: a body already buffered with the head is parsed at once, at every split",
          "[integration][eager]") {
  const std::string msg = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
  const std::size_t head_end = msg.find("\r\n\r\n") + 4;
  for (std::size_t cut = head_end; cut <= msg.size(); ++cut) {
    INFO("buffered: " << cut << " of " << msg.size());
    http::request_parser<http::string_body> p;
    boost::beast::flat_buffer buf;
    auto put = [&](std::string_view s) {
      const auto mb = buf.prepare(s.size());
      net::buffer_copy(mb, net::buffer(s.data(), s.size()));
      buf.commit(s.size());
    };
    put(std::string_view(msg).substr(0, cut));
    boost::system::error_code ec;
    // The head first, as the gateway reads it.
    while (!p.is_header_done()) buf.consume(p.put(buf.data(), ec));
    REQUIRE(!ec);
    const bool done = zgate::io::parse_buffered(p, buf, ec);
    CHECK(!ec);
    CHECK(done == (cut == msg.size()));
    if (!done) {
      put(std::string_view(msg).substr(cut));
      CHECK(zgate::io::parse_buffered(p, buf, ec));
      CHECK(!ec);
    }
    CHECK(p.is_done());
    CHECK(p.get().body() == "hello world");
  }
}

TEST_CASE("eager parse: a malformed chunked body is an error, not a wait", "[integration][eager]") {
  const std::string msg = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n";
  http::response_parser<http::string_body> p;
  boost::beast::flat_buffer buf;
  const auto mb = buf.prepare(msg.size());
  net::buffer_copy(mb, net::buffer(msg));
  buf.commit(msg.size());
  boost::system::error_code ec;
  while (!p.is_header_done()) buf.consume(p.put(buf.data(), ec));
  REQUIRE(!ec);
  CHECK(zgate::io::parse_buffered(p, buf, ec));
  CHECK(ec);
}

namespace {
void put(boost::beast::flat_buffer& buf, std::string_view s) {
  const auto mb = buf.prepare(s.size());
  net::buffer_copy(mb, net::buffer(s.data(), s.size()));
  buf.commit(s.size());
}

// The peer closes the connection now: what after_read makes of it.
template <bool isRequest>
boost::system::error_code eof_now(http::basic_parser<isRequest>& p, boost::beast::flat_buffer& buf) {
  (void)zgate::io::read_buffer(buf);
  return zgate::io::after_read(p, buf, net::error::eof, 0);
}

// `bytes` read into `buf` and fed to `p`: a whole response head, then a body not complete yet.
void feed_head_and_part_of_body(http::response_parser<http::string_body>& p, boost::beast::flat_buffer& buf,
                                std::string_view bytes) {
  boost::system::error_code ec;
  put(buf, bytes);
  REQUIRE(zgate::io::parse_head_buffered(p, buf, ec));
  REQUIRE(!zgate::io::parse_buffered(p, buf, ec));
}
}  // namespace

TEST_CASE("eager head: a head arriving in two pieces is complete only with its last byte, at every split",
          "[integration][eager]") {
  const std::string msg = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  const std::size_t head_end = msg.find("\r\n\r\n") + 4;
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    INFO("first piece: " << cut << " of " << msg.size());
    http::request_parser<http::string_body> p;
    boost::beast::flat_buffer buf;
    boost::system::error_code ec;
    put(buf, std::string_view(msg).substr(0, cut));
    const bool done = zgate::io::parse_head_buffered(p, buf, ec);
    CHECK(!ec);
    CHECK(done == (cut >= head_end));
    put(buf, std::string_view(msg).substr(cut));
    if (!done) {
      CHECK(zgate::io::parse_head_buffered(p, buf, ec));
      CHECK(!ec);
    }
    REQUIRE(p.is_header_done());
    CHECK(p.get().target() == "/v1/chat/completions");
    // The body is left in the buffer for the body read.
    CHECK(buf.size() == 5);
  }
}

TEST_CASE("eager head: a malformed head is an error, not a wait", "[integration][eager]") {
  http::request_parser<http::string_body> p;
  boost::beast::flat_buffer buf;
  put(buf, "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  boost::system::error_code ec;
  CHECK(zgate::io::parse_head_buffered(p, buf, ec));
  CHECK(ec);
}

TEST_CASE("eager head: a head over the parser's limit is header_limit", "[integration][eager]") {
  http::request_parser<http::string_body> p;
  p.header_limit(64);
  boost::beast::flat_buffer buf;
  put(buf, "GET / HTTP/1.1\r\nX-Long: " + std::string(200, 'a'));
  boost::system::error_code ec;
  CHECK(zgate::io::parse_head_buffered(p, buf, ec));
  CHECK(ec == http::error::header_limit);
}

TEST_CASE("eager read: the end of the stream maps as Beast's reads map it", "[integration][eager]") {
  boost::system::error_code ec;
  SECTION("before any byte of a message: end_of_stream") {
    http::request_parser<http::string_body> p;
    boost::beast::flat_buffer buf;
    CHECK(eof_now(p, buf) == http::error::end_of_stream);
  }
  SECTION("within a head: partial_message") {
    http::request_parser<http::string_body> p;
    boost::beast::flat_buffer buf;
    put(buf, "GET / HTTP/1.1\r\nHo");
    CHECK(!zgate::io::parse_head_buffered(p, buf, ec));
    CHECK(eof_now(p, buf) == http::error::partial_message);
  }
  SECTION("within a body of known length: partial_message") {
    http::response_parser<http::string_body> p;
    boost::beast::flat_buffer buf;
    feed_head_and_part_of_body(p, buf, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(eof_now(p, buf) == http::error::partial_message);
  }
  SECTION("a body delimited by the close: complete") {
    http::response_parser<http::string_body> p;
    boost::beast::flat_buffer buf;
    feed_head_and_part_of_body(p, buf, "HTTP/1.1 200 OK\r\n\r\nabc");
    CHECK(!eof_now(p, buf));
    CHECK(p.is_done());
    CHECK(p.get().body() == "abc");
  }
  SECTION("other errors pass through, and the bytes read are kept") {
    http::request_parser<http::string_body> p;
    boost::beast::flat_buffer buf;
    const auto mb = zgate::io::read_buffer(buf);
    CHECK(mb.size() >= 512);
    std::memcpy(mb.data(), "GET", 3);
    CHECK(zgate::io::after_read(p, buf, net::error::connection_reset, 3) == net::error::connection_reset);
    CHECK(buf.size() == 3);
  }
}

// io::draining_read_buffer (a DrainingBuffer) on a socket with io::drain_hints(): a read that
// emptied the socket leaves the next one to wait for readiness instead of trying it at once. The
// probe: with SO_RCVLOWAT above what is queued, epoll does not report the socket readable, but a
// receive tried at once still returns the queued bytes, so a read that completes with them was
// tried at once.
namespace {

struct ReadProbe {
  net::io_context ioc;
  Pair p{ioc};
  std::array<char, 64> small{};
  std::optional<std::size_t> got;  // what the read in progress returned, once it completed
  boost::system::error_code ec;    // and its error

  ReadProbe() { REQUIRE(zgate::io::drain_hints(p.b.native_handle())); }

  template <class Buffer>
  void start(Buffer buf) {
    got.reset();
    p.b.async_read_some(buf, [this](boost::system::error_code e, std::size_t k) {
      ec = e;
      got = k;
    });
  }
  // Runs the loop until the read completed or `ticks` times 5 ms passed.
  void run(int ticks) {
    for (int i = 0; i < ticks && !got; ++i) {
      if (ioc.stopped()) ioc.restart();
      ioc.run_for(5ms);
    }
  }
  // Sends `bytes` from a and reads them on b into `buf` (a read woken by epoll).
  template <class Buffer>
  std::size_t first_read(const std::string& bytes, Buffer buf) {
    start(buf);
    run(2);
    REQUIRE_FALSE(got);
    net::write(p.a, net::buffer(bytes));
    run(400);
    return got.value_or(0);
  }
  std::size_t queued() {
    int n = 0;
    REQUIRE(ioctl(p.b.native_handle(), FIONREAD, &n) == 0);
    return static_cast<std::size_t>(n);
  }
  // Queues 10 more bytes for b, which epoll will not report as readable.
  void queue_below_lowat() {
    const int lowat = 4096;
    REQUIRE(setsockopt(p.b.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat) == 0);
    const std::size_t before = queued();
    net::write(p.a, net::buffer(std::string("0123456789")));
    for (int i = 0; i < 400 && queued() < before + 10; ++i) std::this_thread::sleep_for(5ms);
    REQUIRE(queued() == before + 10);
  }
};

}  // namespace

TEST_CASE("draining read: a plain read tries the socket at once (the probe sees it)", "[integration][eager]") {
  ReadProbe r;
  REQUIRE(r.first_read("hello", net::buffer(r.small)) == 5);
  r.queue_below_lowat();
  r.start(net::buffer(r.small));
  r.run(4);
  CHECK(r.got == std::optional<std::size_t>(10));
}

TEST_CASE("draining read: after a short read the next read waits for readiness", "[integration][eager]") {
  ReadProbe r;
  boost::beast::flat_buffer buf;
  REQUIRE(r.first_read("hello", zgate::io::draining_read_buffer(buf)) == 5);  // room for 512: short
  r.queue_below_lowat();
  r.start(zgate::io::draining_read_buffer(buf));
  r.run(4);
  CHECK_FALSE(r.got.has_value());  // not tried at once
  // Readiness still wakes it.
  net::write(r.p.a, net::buffer(std::string(4096, 'x')));
  r.run(400);
  CHECK(r.got.value_or(0) >= 10);
}

TEST_CASE("draining read: a read that filled its buffer lets the next one try at once", "[integration][eager]") {
  ReadProbe r;
  boost::beast::flat_buffer buf(512);
  const auto first = zgate::io::draining_read_buffer(buf);
  REQUIRE(first.size() == 512);
  REQUIRE(r.first_read(std::string(600, 'y'), first) == 512);  // full: more is waiting
  r.queue_below_lowat();
  r.start(zgate::io::draining_read_buffer(buf));
  r.run(4);
  CHECK(r.got == std::optional<std::size_t>(88 + 10));
}

TEST_CASE("draining read: the end of the stream that came with the last bytes is read at once",
          "[integration][eager]") {
  ReadProbe r;
  boost::beast::flat_buffer buf;
  r.start(zgate::io::draining_read_buffer(buf));
  r.run(2);
  net::write(r.p.a, net::buffer(std::string("last bytes")));
  r.p.a.shutdown(net::socket_base::shutdown_send);  // data and FIN queued before the read runs
  r.run(400);
  REQUIRE(r.got == std::optional<std::size_t>(10));
  r.start(zgate::io::draining_read_buffer(buf));
  r.run(4);  // no new readiness edge comes: the read must be tried at once
  CHECK(r.got == std::optional<std::size_t>(0));
  CHECK(r.ec == net::error::eof);
}

TEST_CASE("draining read: a reset that came with the last bytes is found by the watchdog's probe",
          "[integration][eager]") {
  ReadProbe r;
  zgate::io::Watchdog wd(r.ioc, 5ms);
  zgate::io::Deadline dl(wd, &r.p.b);
  dl.probe_peer(true);
  boost::beast::flat_buffer buf;
  r.start(zgate::io::draining_read_buffer(buf));
  r.run(2);
  net::write(r.p.a, net::buffer(std::string("last bytes")));
  r.p.a.set_option(net::socket_base::linger(true, 0));
  r.p.a.close();  // a reset right behind the data: no readiness edge follows the read
  r.run(400);
  REQUIRE(r.got == std::optional<std::size_t>(10));
  dl.arm(60s);
  r.start(zgate::io::draining_read_buffer(buf));
  r.run(4);
  CHECK_FALSE(r.got.has_value());
  CHECK_FALSE(dl.peer_closed());
  // In the watchdog's epoll set once the read has waited kProbeAfter, and found at the next tick
  // (+ slack for a loaded host).
  const auto limit = zgate::io::Watchdog::kProbeAfter + 2s;
  r.run(static_cast<int>(limit / 5ms));
  REQUIRE(r.got.has_value());
  CHECK(r.ec == net::error::operation_aborted);
  CHECK(dl.peer_closed());
}

// io::Warm: the lines a draining read prefetches as its receive returns. A hint, so what can be
// checked is what the list keeps, that any address in it is safe, and that reads are unchanged.
TEST_CASE("warm list: keeps what is added, in order, up to its size; null and far addresses are left out",
          "[integration][eager]") {
  zgate::io::Warm w;
  w.clear();
  std::array<long, zgate::io::Warm::kMax + 4> xs{};
  w.add(nullptr);
  CHECK(w.size() == 0);
  for (auto& x : xs) w.add(&x);
  REQUIRE(w.size() == zgate::io::Warm::kMax);
  for (int i = 0; i < w.size(); ++i) CHECK(w.at(i) == &xs[static_cast<std::size_t>(i)]);
  w.clear();
  CHECK(w.size() == 0);
  w.add(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(&w) + (std::uintptr_t{1} << 33)));  // 8 GiB away
  CHECK(w.size() == 0);
}

TEST_CASE("draining read: a read that prefetches a warm list, unmapped addresses included, reads the same bytes",
          "[integration][eager]") {
  ReadProbe r;
  zgate::io::Warm w;
  w.clear();
  std::array<char, 64> line{};
  w.add(line.data());
  w.add(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(&w) + (std::uintptr_t{1} << 30)));  // likely unmapped
  REQUIRE(w.size() == 2);
  boost::beast::flat_buffer buf;
  REQUIRE(r.first_read("hello", zgate::io::draining_read_buffer(buf, &w)) == 5);
  buf.commit(5);
  CHECK(boost::beast::buffers_to_string(buf.data()) == "hello");
  // The next read still waits for readiness (the socket was emptied), and readiness wakes it.
  r.start(zgate::io::draining_read_buffer(buf, &w));
  r.run(4);
  CHECK_FALSE(r.got.has_value());
  net::write(r.p.a, net::buffer(std::string("world")));
  r.run(400);
  CHECK(r.got == std::optional<std::size_t>(5));
}

#if defined(ZGATE_DRAINING_READS)
TEST_CASE("warm frames: a coroutine adds its own frame and its stack's bottom, and goes on at once",
          "[integration][eager]") {
  net::io_context ioc;
  // What warm_frames adds, as it gives it (a Warm list keeps only addresses within 2 GiB of
  // itself, which depends on the allocator: under ASan each size class has its own region).
  struct Seen {
    std::vector<const void*> at;
    void add(const void* p) { at.push_back(p); }
  } outer, inner;
  bool done = false;
  auto nested = [&]() -> net::awaitable<void> { co_await zgate::io::warm_frames(&inner); };
  auto top = [&]() -> net::awaitable<void> {
    co_await zgate::io::warm_frames(&outer);
    co_await nested();
    co_await zgate::io::warm_frames(static_cast<zgate::io::Warm*>(nullptr));  // no list: it still goes on
    done = true;
  };
  net::co_spawn(ioc, top(), net::detached);
  ioc.run_for(5s);  // returns once the coroutine has ended (no work is left)
  REQUIRE(done);
  REQUIRE(outer.at.size() == 2);
  REQUIRE(inner.at.size() == 2);
  CHECK(outer.at[0] != nullptr);
  CHECK(outer.at[1] != nullptr);
  CHECK(outer.at[0] != inner.at[0]);  // each its own frame
  CHECK(outer.at[1] == inner.at[1]);  // one coroutine stack: the same bottom
}
#endif
