// The admin live tail (GET /admin/requests/stream) and /admin/config, against a real gateway.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>

#include "integration/gateway_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/usage_db.hpp"

using namespace zgate;
using namespace zgate::testing;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kAdminKey = "sk-admin-integration-key-0123456789";

GatewayOptions with_admin(std::function<void(Config&)> more = {}) {
  GatewayOptions o;
  o.tweak = [more](Config& c) {
    c.admin_key = kAdminKey;
    if (more) more(c);
  };
  return o;
}

// A raw client of the tail; `rcvbuf` > 0 shrinks its receive buffer (set before connecting).
class TailClient {
 public:
  TailClient(uint16_t port, const std::string& query = "", int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    const std::string req = "GET /admin/requests/stream" + query + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                            kAdminKey + "\r\n\r\n";
    REQUIRE(::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  }
  ~TailClient() { ::close(fd_); }
  // Reads until `needle` is in what was read so far, the peer closes, or the timeout passes.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buf[8192];
    while (got.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        return false;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // Like read_until, for an occurrence of `needle` at or after `from`.
  bool read_until_from(std::string_view needle, std::size_t from, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (got.find(needle, from) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || (!read_until("\x01never\x02", std::min(left, std::chrono::milliseconds(20))) && closed))
        return got.find(needle, from) != std::string::npos;
    }
    return true;
  }
  // Reads what has arrived already, without waiting.
  void drain() {
    char buf[8192];
    for (pollfd p{fd_, POLLIN, 0}; ::poll(&p, 1, 0) > 0;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        return;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
  }
  bool wait_closed(std::chrono::milliseconds timeout) {
    read_until("\x01never\x02", timeout);
    return closed;
  }
  std::string got;
  bool closed = false;

 private:
  int fd_ = -1;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Latencies (ms) of `n` chat requests, one after another.
std::vector<double> chat_latencies(Harness& h, int n, std::atomic<int>& ok) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (h.post_chat(chat_body("lat")).status == 200) ++ok;
    out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return out;
}

}  // namespace

TEST_CASE("tail: a finished request reaches the live tail within 200 ms of its response's end") {
  Harness h(with_admin());
  TailClient tail(h.port());
  REQUIRE(tail.read_until("\r\n\r\n", 2000ms));
  CHECK(tail.got.starts_with("HTTP/1.1 200"));
  CHECK(tail.got.find("text/event-stream") != std::string::npos);
  for (int i = 0; i < 3; ++i) {
    const std::string id = "tail-latency-" + std::to_string(i);
    REQUIRE(h.post_chat(chat_body("hi"), {{"X-Request-Id", id}}).status == 200);
    const auto ended = Clock::now();
    REQUIRE(tail.read_until("\"request_id\":\"" + id + "\"", 2000ms));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - ended).count();
    INFO("record " << i << " reached the tail " << ms << " ms after the response ended");
    CHECK(ms < 200);
  }
  // The line is the JSON access line, as an SSE event.
  const auto at = tail.got.find("data: {");
  REQUIRE(at != std::string::npos);
  CHECK(tail.got.find("\"key\":\"itest\"", at) != std::string::npos);
  CHECK(tail.got.find("\"model\":\"glm-4.5\"", at) != std::string::npos);
}

TEST_CASE("tail: the filters pass only the matching records") {
  Harness h(with_admin());
  TailClient errors(h.port(), "?errors_only=1");
  TailClient by_status(h.port(), "?status=404");
  REQUIRE(errors.read_until("\r\n\r\n", 2000ms));
  REQUIRE(by_status.read_until("\r\n\r\n", 2000ms));
  REQUIRE(h.post_chat(chat_body("fine"), {{"X-Request-Id", "tail-ok"}}).status == 200);
  REQUIRE(h.get("/nowhere", {{"X-Request-Id", "tail-404"}}).status == 404);
  REQUIRE(errors.read_until("tail-404", 2000ms));
  REQUIRE(by_status.read_until("tail-404", 2000ms));
  CHECK(errors.got.find("tail-ok") == std::string::npos);
  CHECK(by_status.got.find("tail-ok") == std::string::npos);
}

TEST_CASE("tail: a bad filter is a 400 naming the parameter") {
  Harness h(with_admin());
  const auto r = h.get("/admin/requests/stream?status=abc", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  CHECK(r.status == 400);
  CHECK(r.body.find("\"param\":\"status\"") != std::string::npos);
  const auto u = h.get("/admin/requests/stream?colour=red", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  CHECK(u.status == 400);
  CHECK(u.body.find("colour") != std::string::npos);
}

TEST_CASE("admin endpoints: a client key or no key is refused; without an admin key they do not exist") {
  Harness h(with_admin());
  for (const char* path : {"/admin/requests/stream", "/admin/config"}) {
    INFO(path);
    CHECK(h.get(path).status == 401);
    CHECK(h.get(path, {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 401);
    CHECK(h.get(path, {{"x-api-key", kClientKey}}).status == 401);
  }
  Harness off;
  CHECK(off.get("/admin/requests/stream", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 404);
  CHECK(off.get("/admin/config", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 404);
}

TEST_CASE("tail: more tails than allowed get 503; stopping the gateway ends the open ones at once") {
  auto h = std::make_unique<Harness>(with_admin());
  std::vector<std::unique_ptr<TailClient>> tails;
  for (int i = 0; i < 16; ++i) {
    tails.push_back(std::make_unique<TailClient>(h->port()));
    REQUIRE(tails.back()->read_until("\r\n\r\n", 2000ms));
    REQUIRE(tails.back()->got.starts_with("HTTP/1.1 200"));
  }
  TailClient extra(h->port());
  REQUIRE(extra.read_until("\r\n\r\n", 2000ms));
  CHECK(extra.got.starts_with("HTTP/1.1 503"));
  const auto t0 = Clock::now();
  h->gateway().stop();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  CHECK(ms < 500);  // the shutdown grace (1000 ms here) is not waited for
  for (auto& t : tails) CHECK(t->wait_closed(1000ms));
}

TEST_CASE("tail: a client that never reads is dropped without slowing requests or losing usage rows") {
  const TempDir tmp("tail");
  const std::string& dir = tmp.path;
  constexpr int kChats = 40;
  std::atomic<int> ok{0};
  double before_p50 = 0, before_max = 0, during_p50 = 0, during_max = 0;
  {
    Harness h(with_admin([&dir](Config& c) {
      c.usage_store = true;
      c.data_dir = dir;
      c.limits.tail_buffer = 1024 * 1024;
    }));
    const auto before = chat_latencies(h, kChats / 2, ok);
    before_p50 = percentile(before, 0.5);
    before_max = percentile(before, 1.0);

    TailClient stuck(h.port(), "", 4096);
    REQUIRE(stuck.read_until("\r\n\r\n", 2000ms));  // subscribed; from now on it reads nothing
    // Enough records to overflow its queue (limits.tail_buffer, 1 MiB here) and the socket buffers: ~550-byte lines of
    // GET /v1/models from 4 threads.
    std::atomic<int> answered{0};
    std::vector<std::thread> loaders;
    for (int t = 0; t < 4; ++t) {
      loaders.emplace_back([&] {
        for (int i = 0; i < 800; ++i) {
          if (h.get("/v1/models", {{"Authorization", std::string("Bearer ") + kClientKey}}).status == 200) ++answered;
        }
      });
    }
    const auto during = chat_latencies(h, kChats / 2, ok);
    for (auto& t : loaders) t.join();
    during_p50 = percentile(during, 0.5);
    during_max = percentile(during, 1.0);
    // Dropped: the gateway closes the stuck tail (what it had buffered can still be read).
    const bool closed = stuck.wait_closed(5000ms);
    INFO("the stuck tail read " << stuck.got.size() << " bytes after all; " << answered << " loads answered");
    CHECK(closed);
    h.gateway().stop();
  }
  INFO("chat latency ms before: p50 " << before_p50 << " max " << before_max << "; with the stuck tail: p50 "
                                      << during_p50 << " max " << during_max);
  CHECK(ok == kChats);
  // A stuck tail costs the request path nothing: what changes is the machine's load (the
  // pipelined load runs meanwhile), bounded loosely for a shared CI machine.
  CHECK(during_p50 < before_p50 * 3 + 20);
  int stored = -1;
  each_usage_row(dir, "SELECT count(*) FROM requests", [&](sqlite3_stmt* st) { stored = sqlite3_column_int(st, 0); });
  CHECK(stored == kChats);
}

TEST_CASE("admin config: the admin key gets the running configuration with no secret in it") {
  Harness h(with_admin([](Config& c) { c.providers[0].headers = {{"X-Extra", "extra-header-secret-value"}}; }));
  const auto r = h.get("/admin/config", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.body.find("\"label\":\"itest\"") != std::string::npos);
  for (const std::string& secret : {std::string(kAdminKey), std::string(kClientKey), std::string("upstream-key"),
                                   std::string("extra-header-secret-value")}) {
    INFO(secret);
    CHECK(r.body.find(secret) == std::string::npos);
  }
}

namespace {

std::vector<std::string> file_lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("capture: a captured chat request is one line with masked, truncated bodies") {
  const TempDir tmp("capture");
  const std::string& dir = tmp.path;
  {
    Harness h(with_admin([&dir](Config& c) {
      c.capture.enabled = true;
      c.capture.max_bytes = 200;
      c.data_dir = dir;
    }));
    // The client key and the upstream key in the prompt: both must be masked.
    REQUIRE(h.post_chat(chat_body(std::string("my key is ") + kClientKey + " and upstream-key"),
                        {{"X-Request-Id", "cap-plain"}}).status == 200);
    REQUIRE(h.post_chat(chat_body("stream me", true), {{"X-Request-Id", "cap-stream"}}).status == 200);
    h.gateway().stop();
  }
  const auto lines = file_lines(dir + "/capture.jsonl");
  REQUIRE(lines.size() == 2);
  const std::string& plain = lines[0].find("cap-plain") != std::string::npos ? lines[0] : lines[1];
  const std::string& stream = lines[0].find("cap-stream") != std::string::npos ? lines[0] : lines[1];
  CHECK(plain.find(R"("key":"itest")") != std::string::npos);
  CHECK(plain.find("my key is ***") != std::string::npos);
  CHECK(plain.find(kClientKey) == std::string::npos);
  CHECK(plain.find("upstream-key") == std::string::npos);
  CHECK(plain.find(R"("response":"{)") != std::string::npos);
  CHECK(stream.find(R"("stream":true)") != std::string::npos);
  CHECK(stream.find("stream me") != std::string::npos);  // the request body, kept while the stream ran
  CHECK(stream.find(R"("response":"data: )") != std::string::npos);
  CHECK(stream.find(R"("response_truncated":true)") != std::string::npos);  // a stream is longer than 200 bytes
}

TEST_CASE("capture: off (the default), nothing is written") {
  const TempDir tmp("capture");
  const std::string& dir = tmp.path;
  {
    Harness h(with_admin([&dir](Config& c) { c.data_dir = dir; }));
    REQUIRE(h.post_chat(chat_body("not captured")).status == 200);
    h.gateway().stop();
  }
  CHECK_FALSE(std::filesystem::exists(dir + "/capture.jsonl"));
}

TEST_CASE("capture: only the listed key labels are captured") {
  const TempDir tmp("capture");
  const std::string& dir = tmp.path;
  {
    Harness h(with_admin([&dir](Config& c) {
      c.capture.enabled = true;
      c.capture.keys = {"someone-else"};
      c.data_dir = dir;
    }));
    REQUIRE(h.post_chat(chat_body("not this key")).status == 200);
    h.gateway().stop();
  }
  CHECK(file_lines(dir + "/capture.jsonl").empty());
}

TEST_CASE("tail: with the access log and the usage store off, an open tail still gets every record") {
  access_lines();  // the harness's logging, then the access log turned off for this gateway
  LogConfig off;
  off.level = "warn";
  off.access_log = false;
  init_logging(off, false);
  REQUIRE_FALSE(access_log_enabled());
  {
    Harness h(with_admin());
    TailClient tail(h.port());
    REQUIRE(tail.read_until("\r\n\r\n", 2000ms));
    REQUIRE(h.post_chat(chat_body("hi"), {{"X-Request-Id", "tail-no-log"}}).status == 200);
    CHECK(tail.read_until("\"request_id\":\"tail-no-log\"", 2000ms));
  }
  LogConfig on = off;
  on.access_log = true;
  init_logging(on, false);
}

TEST_CASE("tail: an idle tail gets a keep-alive comment every stream_heartbeat") {
  Harness h(with_admin([](Config& c) { c.timeouts.stream_heartbeat = 100ms; }));
  TailClient tail(h.port());
  REQUIRE(tail.read_until("\r\n\r\n", 2000ms));
  const auto t0 = Clock::now();
  REQUIRE(tail.read_until(": keep-alive\n\n", 2000ms));
  const auto first = tail.got.find(": keep-alive\n\n");
  CHECK(tail.read_until_from(": keep-alive\n\n", first + 1, 2000ms));
  CHECK(Clock::now() - t0 >= 150ms);  // two of them, 100 ms apart
}

TEST_CASE("tail: its writes do not need the request worker: a tail goes on while the only worker is busy") {
  // The housekeeping hook runs on the worker's thread: once asked, it holds that thread until released.
  std::atomic<bool> hold{false};
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> entered_once{false};
  auto housekeeping = [&, released] {
    if (!hold.load() || entered_once.exchange(true)) return;
    entered.set_value();
    released.wait_for(10s);
  };
  Harness h(with_admin([](Config& c) {
              c.workers = 1;
              c.timeouts.stream_heartbeat = 100ms;
            }),
            housekeeping);
  struct Release {  // before the harness stops the worker
    std::promise<void>& p;
    ~Release() { p.set_value(); }
  } release_at_end{release};
  TailClient tail(h.port());
  REQUIRE(tail.read_until("\r\n\r\n", 2000ms));
  REQUIRE(tail.got.starts_with("HTTP/1.1 200"));
  hold = true;
  // The hook runs every 5 s.
  REQUIRE(entered.get_future().wait_for(7s) == std::future_status::ready);
  // What the worker wrote before it was held (loopback hands a write over at once) is not what counts.
  tail.drain();
  const std::size_t from = tail.got.size();
  CHECK(tail.read_until_from(": keep-alive\n\n", from, 1000ms));
}

TEST_CASE("tail: a client that hangs up ends its tail at once") {
  Harness h(with_admin([](Config& c) { c.timeouts.stream_heartbeat = 60s; }));
  const Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  {
    TailClient tail(h.port());
    REQUIRE(tail.read_until("\r\n\r\n", 2000ms));
    const std::string open = h.get_until("/metrics", [](const std::string& b) { return b.find("zgate_admin_tails_open 1\n") != std::string::npos; }, admin);
    REQUIRE(open.find("zgate_admin_tails_open 1\n") != std::string::npos);
  }
  // Noticed by the read that waits on the client, not by the next heartbeat a minute later.
  const std::string after = h.get_until("/metrics", [](const std::string& b) { return b.find("zgate_admin_tails_open 0\n") != std::string::npos; }, admin);
  CHECK(after.find("zgate_admin_tails_open 0\n") != std::string::npos);
}
