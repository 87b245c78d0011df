// upstream::Exchange against a scripted loopback server: bodies split at awkward places, the
// pool's keep-alive and its transparent resend of a stale connection, and each failure mode.
// The server is a plain blocking thread; the client runs on the test's io_context with bounded
// run_for() loops.
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include "zgate/io/watchdog.hpp"
#include "zgate/upstream/client.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using zgate::upstream::Failure;

namespace {

// A loopback server that runs `script` once per accepted connection (on its own thread, with
// blocking sockets) until `connections` have been served.
class ScriptedServer {
 public:
  using Script = std::function<void(tcp::socket&, int index)>;
  ScriptedServer(int connections, Script script)
      : acc_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)), script_(std::move(script)) {
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        tcp::socket s(ioc_);
        boost::system::error_code ec;
        acc_.accept(s, ec);
        if (ec) return;
        ++accepted;
        script_(s, i);
      }
    });
  }
  ~ScriptedServer() {
    boost::system::error_code ec;
    acc_.close(ec);
    thread_.join();
  }
  uint16_t port() const { return acc_.local_endpoint().port(); }
  std::atomic<int> accepted{0};

 private:
  net::io_context ioc_;
  tcp::acceptor acc_;
  Script script_;
  std::thread thread_;
};

// Reads one request (head and Content-Length body) from `s`; false when the peer closed.
bool read_request(tcp::socket& s) {
  std::string got;
  char buf[4096];
  boost::system::error_code ec;
  std::size_t head_end;
  while ((head_end = got.find("\r\n\r\n")) == std::string::npos) {
    const std::size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) return false;
    got.append(buf, n);
  }
  std::size_t length = 0;
  if (auto p = got.find("Content-Length: "); p != std::string::npos) length = std::stoul(got.substr(p + 16));
  while (got.size() < head_end + 4 + length) {
    const std::size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) return false;
    got.append(buf, n);
  }
  return true;
}

// Writes `pieces` one by one, each as its own segment (Nagle off, a pause between them), so the
// client sees them in separate reads.
void send_pieces(tcp::socket& s, const std::vector<std::string>& pieces) {
  s.set_option(tcp::no_delay(true));
  for (const auto& p : pieces) {
    boost::system::error_code ec;
    net::write(s, net::buffer(p), ec);
    if (ec) return;
    std::this_thread::sleep_for(2ms);
  }
}

// A script that reads the request and answers `bytes` (all in one piece).
ScriptedServer::Script answer_once(std::string bytes) {
  return [bytes = std::move(bytes)](tcp::socket& s, int) {
    if (!read_request(s)) return;
    send_pieces(s, {bytes});
  };
}

struct Client {
  Client() : watchdog(ioc, 5ms), pool(ioc.get_executor(), limits, watchdog) {}
  net::io_context ioc;
  zgate::Limits limits;
  zgate::Timeouts timeouts;
  zgate::io::Watchdog watchdog;
  zgate::upstream::Pool pool;

  zgate::upstream::Endpoint endpoint(uint16_t port) {
    zgate::upstream::Endpoint ep;
    ep.host = "127.0.0.1";
    ep.port = port;
    ep.key = "http|127.0.0.1|" + std::to_string(port);
    return ep;
  }

  struct Result {
    Failure start = Failure::none, body = Failure::none;
    int status = 0;
    int retry_after = -1;
    std::string text;
    bool reused = false;
  };

  // One exchange: start, then the body (read_some pieces, or read_all), then release.
  Result exchange(const zgate::upstream::Endpoint& ep, bool read_all = false) {
    std::optional<Result> out;
    ioc.restart();  // the previous exchange may have left the loop out of work, and so stopped
    net::co_spawn(ioc, [&]() -> net::awaitable<void> {
      Result r;
      zgate::upstream::Exchange ex(pool, nullptr, ep, timeouts, limits);
      zgate::UpstreamRequest req;
      req.target = "/v4/chat/completions";
      req.headers = {{"Content-Type", "application/json"}};
      req.body = R"({"model":"glm-4.6"})";
      r.start = co_await ex.start(req);
      if (r.start == Failure::none) {
        r.status = ex.status();
        r.retry_after = ex.retry_after();
        r.reused = ex.timings().reused;
        if (read_all) {
          r.body = co_await ex.read_all(r.text);
        } else {
          for (;;) {
            std::string_view piece;
            r.body = co_await ex.read_some(piece);
            if (r.body != Failure::none || piece.empty()) break;
            r.text.append(piece);
          }
        }
        if (r.body == Failure::none) ex.release();
      }
      out = r;
    }, net::detached);
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!out && std::chrono::steady_clock::now() < until) ioc.run_for(5ms);
    REQUIRE(out);
    return *out;
  }
};

}  // namespace

TEST_CASE("upstream exchange: a Content-Length body split across reads arrives whole, in order",
          "[integration][upstream]") {
  ScriptedServer server(1, [](tcp::socket& s, int) {
    if (!read_request(s)) return;
    send_pieces(s, {"HTTP/1.1 200 OK\r\nContent-Le", "ngth: 11\r\nContent-Type: application/json\r\n\r\nhel", "lo ",
                    "world"});
  });
  Client c;
  const auto r = c.exchange(c.endpoint(server.port()));
  CHECK(r.start == Failure::none);
  CHECK(r.body == Failure::none);
  CHECK(r.status == 200);
  CHECK(r.text == "hello world");
}

TEST_CASE("upstream exchange: a chunked body split inside its size lines is decoded", "[integration][upstream]") {
  ScriptedServer server(1, [](tcp::socket& s, int) {
    if (!read_request(s)) return;
    send_pieces(s, {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n", "1",
                    "0\r\ndata: {\"ab\":12}\n\r", "\n5\r\nxy", "z\n\n\r\n0\r", "\n\r\n"});
  });
  Client c;
  const auto r = c.exchange(c.endpoint(server.port()));
  CHECK(r.body == Failure::none);
  CHECK(r.text == "data: {\"ab\":12}\nxyz\n\n");
}

TEST_CASE("upstream exchange: a kept-alive connection is pooled and reused", "[integration][upstream]") {
  ScriptedServer server(1, [](tcp::socket& s, int) {
    for (int i = 0; i < 2; ++i) {
      if (!read_request(s)) return;
      send_pieces(s, {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"});
    }
  });
  Client c;
  const auto ep = c.endpoint(server.port());
  const auto first = c.exchange(ep);
  CHECK_FALSE(first.reused);
  CHECK(c.pool.stats().idle == 1);
  const auto second = c.exchange(ep);
  CHECK(second.reused);
  CHECK(second.text == "ok");
  CHECK(server.accepted == 1);
  CHECK(c.pool.stats().reuses == 1);
}

TEST_CASE("upstream exchange: large answers of known length arrive whole, and the connection is reused after",
          "[integration][upstream]") {
  // Each 300 KB body is read in pieces of up to 64 KiB; the connection then gives its large
  // buffers back before it idles in the pool, and serves the next answer the same way.
  std::string big(300000, 'a');
  for (std::size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('b' + i / 1000 % 20);
  ScriptedServer server(1, [&big](tcp::socket& s, int) {
    for (int i = 0; i < 2; ++i) {
      if (!read_request(s)) return;
      send_pieces(s, {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big});
    }
  });
  Client c;
  const auto ep = c.endpoint(server.port());
  const auto first = c.exchange(ep, /*read_all=*/true);
  CHECK(first.body == Failure::none);
  CHECK(first.text == big);
  const auto second = c.exchange(ep);
  CHECK(second.reused);
  CHECK(second.body == Failure::none);
  CHECK(second.text == big);
  CHECK(server.accepted == 1);
}

TEST_CASE("upstream exchange: a response with Connection: close is not pooled", "[integration][upstream]") {
  ScriptedServer server(1, answer_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
  Client c;
  const auto r = c.exchange(c.endpoint(server.port()));
  CHECK(r.text == "ok");
  CHECK(c.pool.stats().idle == 0);
}

TEST_CASE("upstream exchange: a pooled connection the upstream closed is replaced before any byte",
          "[integration][upstream]") {
  // The first connection answers once and closes. Back in the pool for less than
  // limits.pool_check_idle, it is taken without a health check and fails on use: the request is
  // resent on a new connection, once, without the caller seeing it.
  std::atomic<bool> closed{false};
  ScriptedServer server(2, [&](tcp::socket& s, int index) {
    if (!read_request(s)) return;
    send_pieces(s, {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + std::string(index == 0 ? "first" : "again")});
    if (index == 0) {
      s.close();
      closed = true;
    }
  });
  Client c;
  const auto ep = c.endpoint(server.port());
  CHECK(c.exchange(ep).text == "first");
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!closed && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  REQUIRE(closed);
  const auto r = c.exchange(ep);
  CHECK(r.start == Failure::none);
  CHECK(r.text == "again");
  CHECK(c.pool.stats().retries == 1);
  CHECK(server.accepted == 2);
}

TEST_CASE("upstream exchange: an upstream that closes mid-body is a failure, not a short body",
          "[integration][upstream]") {
  ScriptedServer server(1, [](tcp::socket& s, int) {
    if (!read_request(s)) return;
    send_pieces(s, {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten!!"});
    s.close();
  });
  Client c;
  const auto r = c.exchange(c.endpoint(server.port()));
  CHECK(r.start == Failure::none);
  CHECK((r.body == Failure::closed || r.body == Failure::protocol));
  CHECK(c.pool.stats().idle == 0);
}

TEST_CASE("upstream exchange: read_all refuses a body over max_upstream_body", "[integration][upstream]") {
  ScriptedServer server(1, [](tcp::socket& s, int) {
    if (!read_request(s)) return;
    send_pieces(s, {"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n", std::string(4096, 'x')});
  });
  Client c;
  c.limits.max_upstream_body = 1024;
  const auto r = c.exchange(c.endpoint(server.port()), /*read_all=*/true);
  CHECK(r.body == Failure::too_large);
}

TEST_CASE("upstream exchange: an upstream that never answers times out after upstream_first_byte",
          "[integration][upstream]") {
  std::atomic<bool> done{false};
  ScriptedServer server(1, [&](tcp::socket& s, int) {
    read_request(s);
    // Hold the connection open without answering until the client has given up.
    while (!done) std::this_thread::sleep_for(1ms);
  });
  Client c;
  c.timeouts.upstream_first_byte = 150ms;
  const auto started = std::chrono::steady_clock::now();
  const auto r = c.exchange(c.endpoint(server.port()));
  const auto took = std::chrono::steady_clock::now() - started;
  done = true;
  CHECK(r.start == Failure::timeout);
  CHECK(took >= 150ms);
  CHECK(took < 5s);
}

TEST_CASE("upstream exchange: the status and Retry-After of an error response are read", "[integration][upstream]") {
  ScriptedServer server(
      1, answer_once("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}"));
  Client c;
  const auto r = c.exchange(c.endpoint(server.port()));
  CHECK(r.status == 429);
  CHECK(r.retry_after == 7);
  CHECK(r.text == "{}");
}

TEST_CASE("upstream exchange: a connection refused is a connect failure", "[integration][upstream]") {
  uint16_t port;
  {
    net::io_context ioc;
    tcp::acceptor acc(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = acc.local_endpoint().port();
  }  // closed: nothing listens there now
  Client c;
  const auto r = c.exchange(c.endpoint(port));
  CHECK(r.start == Failure::connect);
}
