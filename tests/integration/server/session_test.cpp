// The HTTP/1 session loop: requests pipelined on one connection, and request heads that arrive in
// pieces (a start line before its fields).
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "integration/gateway_harness.hpp"

using namespace zgate;
using namespace zgate::testing;
using namespace std::chrono_literals;

namespace {

std::size_t count_of(const std::string& s, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

std::string chat_request(std::string_view id, const std::string& body) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: zgate\r\nAuthorization: Bearer " + std::string(kClientKey) +
         "\r\nContent-Type: application/json\r\nX-Request-Id: " + std::string(id) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string health_request(int i) {
  return "GET /health HTTP/1.1\r\nHost: zgate\r\nX-Request-Id: pipe-" + std::to_string(100 + i) + "\r\n\r\n";
}

}  // namespace

TEST_CASE("session: fifty requests pipelined on one connection all get their answer, in order",
          "[integration][session]") {
  Harness h;
  RawConn c(h.port());
  REQUIRE(c.connected());
  std::string all;
  for (int i = 0; i < 50; ++i) all += health_request(i);
  REQUIRE(c.send(all));
  const std::string got = c.read_until("pipe-149", 5s);
  CHECK(count_of(got, "HTTP/1.1 200 OK") == 50);
  CHECK(count_of(got, "HTTP/1.1 400") == 0);
  CHECK(got.find("pipe-100") < got.find("pipe-149"));
}

TEST_CASE("session: pipelined chat requests with bodies all get their answer", "[integration][session]") {
  Harness h;
  RawConn c(h.port());
  REQUIRE(c.connected());
  std::string all;
  for (int i = 0; i < 20; ++i) all += chat_request("chat-" + std::to_string(100 + i), chat_body("pipelined " + std::to_string(i)));
  REQUIRE(c.send(all));
  const std::string got = c.read_until("chat-119", 10s);
  CHECK(count_of(got, "HTTP/1.1 200 OK") == 20);
}

namespace {

// Sends `pieces` in turn on `c`, giving the server 50 ms to read each on its own before the next
// (if it reads several at once the case is not exercised, but a test cannot pass wrongly).
void send_pieces(RawConn& c, std::initializer_list<std::string_view> pieces) {
  bool first = true;
  for (const std::string_view piece : pieces) {
    if (!first) std::this_thread::sleep_for(50ms);
    first = false;
    REQUIRE(c.send(piece));
  }
}

// Sends `first`, then `second`, on a new connection (send_pieces); returns what came back up to
// `until` (5 s at most).
std::string send_split(Harness& h, std::string_view first, std::string_view second, std::string_view until) {
  RawConn c(h.port());
  REQUIRE(c.connected());
  send_pieces(c, {first, second});
  return c.read_until(until, 5s);
}

}  // namespace

TEST_CASE("session: a request head whose start line arrives before its fields is parsed", "[integration][session]") {
  Harness h;
  const std::string got =
      send_split(h, "GET /health HTTP/1.1\r\nHost: zg", "ate\r\nX-Request-Id: split-1\r\n\r\n", "split-1");
  CHECK(got.rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("session: a field line starting with a space right after a separately read start line is refused",
          "[integration][session]") {
  Harness h;
  const std::string got =
      send_split(h, "GET /health HTTP/1.1\r\n", " Host: zgate\r\nX-Request-Id: fold-1\r\n\r\n", "\r\n\r\n");
  CHECK(got.rfind("HTTP/1.1 400", 0) == 0);
}

// Between requests the session holds no read buffer: it waits for the socket to be readable and
// reads into a new one. The next request, arriving later and in pieces (head, then the body's
// two halves), must be read whole on that path.
TEST_CASE("session: a kept-alive connection that waits before its next request, sent in pieces, gets both answers",
          "[integration][session]") {
  Harness h;
  RawConn c(h.port());
  REQUIRE(c.connected());
  REQUIRE(c.send(chat_request("idle-1", chat_body("first"))));
  const std::string first = c.read_until("finish_reason", 10s);
  REQUIRE(first.rfind("HTTP/1.1 200 OK", 0) == 0);
  // Give the server time to finish the first answer and go idle (if it has not, the second
  // request is read on the old path and the case is not exercised, but cannot pass wrongly).
  std::this_thread::sleep_for(100ms);
  const std::string second = chat_request("idle-2", chat_body("second, after a wait"));
  const std::size_t body_at = second.find("\r\n\r\n") + 4;
  const std::size_t half = body_at + (second.size() - body_at) / 2;
  const std::string_view all = second;
  send_pieces(c, {all.substr(0, body_at), all.substr(body_at, half - body_at), all.substr(half)});
  const std::string got = c.read_until("finish_reason", 10s);
  CHECK(got.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(got.find("idle-2") != std::string::npos);
}

TEST_CASE("session: a large body read after its head, with the next request right behind it, both answered",
          "[integration][session]") {
  Harness h;
  // echo: the mock answers with the upstream request's body, so the whole body must have arrived.
  const std::string big = chat_request("big-1", chat_body("[scenario:echo] " + std::string(300000, 'a') + " END-OF-BODY-7731"));
  const std::string next = chat_request("big-2", chat_body("the request behind it"));
  const std::size_t cut = big.find("\r\n\r\n") + 4 + 2000;  // the head and the start of the body
  // The rest of the body is read in large pieces, and the last one takes the start of the next
  // request with it: the read buffer must keep those bytes once the body is in.
  RawConn c(h.port());
  REQUIRE(c.connected());
  const std::string head_part = big.substr(0, cut), rest = big.substr(cut) + next;
  send_pieces(c, {head_part, rest});
  const std::string got = c.read_until("big-2", 10s);
  CHECK(count_of(got, "HTTP/1.1 200 OK") == 2);
  CHECK(got.find("END-OF-BODY-7731") != std::string::npos);
}

// ---- parked connections -------------------------------------------------------------------------

namespace {

bool has_metric(const std::string& metrics, const std::string& line) {
  return ("\n" + metrics).find("\n" + line + "\n") != std::string::npos;
}

// /metrics until zgate_downstream_connections_parked reads `n` (bounded: get_until's 5 s).
// /metrics until it has `line` (bounded: get_until's 5 s).
bool metrics_read(Harness& h, const std::string& line) {
  return has_metric(h.get_until("/metrics", [&](const std::string& b) { return has_metric(b, line); }), line);
}

bool parked_reads(Harness& h, int n) {
  return metrics_read(h, "zgate_downstream_connections_parked " + std::to_string(n));
}

// A chat request on `c`, answered 200, after which the connection is parked.
void answer_then_park(Harness& h, RawConn& c, std::string_view id) {
  REQUIRE(c.connected());
  REQUIRE(c.send(chat_request(id, chat_body("first"))));
  REQUIRE(c.read_until("finish_reason", 10s).rfind("HTTP/1.1 200 OK", 0) == 0);
  REQUIRE(parked_reads(h, 1));
}

}  // namespace

TEST_CASE("session: a connection idle past the park time is parked, and its next request on it is answered",
          "[integration][session][park]") {
  Harness h;
  RawConn c(h.port());
  answer_then_park(h, c, "park-1");
  // The next request wakes it: a new session on the same connection, the same credential.
  REQUIRE(c.send(chat_request("park-2", chat_body("second, after parking"))));
  const std::string got = c.read_until("finish_reason", 10s);
  CHECK(got.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(got.find("park-2") != std::string::npos);
  // And it parks again once idle.
  CHECK(parked_reads(h, 1));
}

TEST_CASE("session: a parked connection whose next request arrives in pieces gets its answer",
          "[integration][session][park]") {
  Harness h;
  RawConn c(h.port());
  answer_then_park(h, c, "park-p1");
  const std::string second = chat_request("park-p2", chat_body("second, in pieces"));
  const std::size_t body_at = second.find("\r\n\r\n") + 4;
  const std::string_view all = second;
  send_pieces(c, {all.substr(0, 20), all.substr(20, body_at - 20), all.substr(body_at)});
  const std::string got = c.read_until("finish_reason", 10s);
  CHECK(got.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(got.find("park-p2") != std::string::npos);
}

TEST_CASE("session: a parked connection is closed when its keep-alive time ends", "[integration][session][park]") {
  Harness h(GatewayOptions{[](Config& c) { c.timeouts.client_keepalive_idle = 1500ms; }, {}});
  RawConn c(h.port());
  answer_then_park(h, c, "park-k1");
  CHECK(c.wait_closed(5s));
  CHECK(parked_reads(h, 0));
}

TEST_CASE("session: a parked connection the client closes is let go", "[integration][session][park]") {
  Harness h;
  {
    RawConn c(h.port());
    answer_then_park(h, c, "park-c1");
  }
  CHECK(parked_reads(h, 0));
  CHECK(metrics_read(h, "zgate_downstream_connections 1"));  // only the scrape's own connection
}

TEST_CASE("session: a parked connection is closed at shutdown, without waiting for its keep-alive time",
          "[integration][session][park]") {
  Harness h;
  RawConn c(h.port());
  answer_then_park(h, c, "park-s1");
  const auto t0 = std::chrono::steady_clock::now();
  h.gateway().stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // the grace is 1 s, the cut 2 s; keep-alive is 75 s
  CHECK(c.wait_closed(5s));
}
