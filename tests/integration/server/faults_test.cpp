// Fault injection: upstream failures zgate-mock's scenarios do not script (garbage instead of
// HTTP, a reset mid-stream, 429 with Retry-After) come from a scripted raw upstream in this file;
// the rest (a lone surrogate split across events, 50 streams open at shutdown, reloads during
// traffic) run against zgate-mock.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "integration/gateway_harness.hpp"
#include "support/loopback_server.hpp"
#include "server/retry.hpp"
#include "zgate/config/default_models.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

// One scripted answer: the raw bytes written once the request was read, then the connection
// closes (with a reset instead of a FIN when `reset`).
struct Scripted {
  std::string bytes;
  bool reset = false;
};

// A loopback upstream that answers its n-th connection with the n-th script (the last one
// repeats), and notes when each connection arrived.
class ScriptedUpstream {
 public:
  explicit ScriptedUpstream(std::vector<Scripted> script)
      : script_(std::move(script)), server_([this](int c) { answer(c); }) {}
  std::string v4_url() const { return server_.url("/api/paas/v4"); }
  std::vector<std::chrono::steady_clock::time_point> arrivals() const { return server_.arrivals(); }

 private:
  void answer(int c) {
    read_http_request(c, std::chrono::seconds(2));
    const Scripted& s = script_[std::min(answered_++, script_.size() - 1)];
    (void)::send(c, s.bytes.data(), s.bytes.size(), MSG_NOSIGNAL);
    if (s.reset) {
      linger l{1, 0};  // close() sends RST
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(c);
  }

  std::vector<Scripted> script_;
  std::size_t answered_ = 0;  // the server thread's
  LoopbackServer server_;  // last: stops before the members its handler uses go
};

std::string http_answer(int status, std::string_view extra_headers, std::string_view body,
                        std::string_view type = "application/json") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

constexpr std::string_view kAnswer =
    R"({"id":"x1","created":1,"model":"glm-4.5","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})";
constexpr std::string_view kBusy = R"({"error":{"code":"1302","message":"busy"}})";

GatewayOptions upstream_at(const std::string& url, std::function<void(Config&)> more = {}) {
  GatewayOptions o;
  o.tweak = [url, more](Config& c) {
    c.providers[0].base_url = url;
    if (more) more(c);
  };
  return o;
}

std::string auth_header() { return std::string("Authorization: Bearer ") + kClientKey + "\r\n"; }

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

// A stream request for `text` through `up` answers 200 with `first` (a content delta), then an
// error event and [DONE].
void check_stream_ends_in_error(const ScriptedUpstream& up, const std::string& text, std::string_view first) {
  Harness h(upstream_at(up.v4_url()));
  const auto r = h.post_chat(chat_body(text, true));
  REQUIRE(r.status == 200);
  const auto events = sse_data(r.body);
  INFO(r.body);
  REQUIRE(events.size() >= 3);
  CHECK(has(r.body, first));
  CHECK(has(events[events.size() - 2], R"("error")"));
  CHECK(events.back() == "[DONE]");
}

}  // namespace

// ---- backoff ----------------------------------------------------------------------------------

TEST_CASE("faults: 429 with Retry-After, twice, then an answer: each retry waits what the upstream asked",
          "[integration][faults][retry]") {
  const std::string busy = http_answer(429, "Retry-After: 1\r\n", kBusy);
  ScriptedUpstream up({{busy}, {busy}, {http_answer(200, "", kAnswer)}});
  Harness h(upstream_at(up.v4_url(), [](Config& c) {
    c.retry.base_delay = 1ms;  // without Retry-After the waits would be a few milliseconds
    c.retry.budget = 10'000ms;
  }));
  const auto r = h.post_chat(chat_body("retry after"));
  CHECK(r.status == 200);
  const auto at = up.arrivals();
  REQUIRE(at.size() == 3);
  CHECK(at[1] - at[0] >= 950ms);
  CHECK(at[2] - at[1] >= 950ms);
}

TEST_CASE("faults: backoff without Retry-After is full jitter under min(max_delay, base_delay * 2^n)",
          "[integration][faults][retry]") {
  RetryPolicy p;
  p.base_delay = 100ms;
  p.max_delay = 1000ms;
  for (const auto& [attempt, cap] : std::vector<std::pair<int, std::chrono::milliseconds>>{
           {0, 100ms}, {2, 400ms}, {3, 800ms}, {9, 1000ms}}) {
    std::chrono::steady_clock::duration longest{};
    for (int i = 0; i < 2000; ++i) {
      const auto d = backoff_delay(p, attempt, -1);
      REQUIRE(d >= std::chrono::steady_clock::duration::zero());
      REQUIRE(d <= cap);
      longest = std::max(longest, d);
    }
    CHECK(longest > cap / 2);  // spread over the range, not stuck at zero
  }
  CHECK(backoff_delay(p, 0, 3) == std::chrono::seconds(3));  // Retry-After wins
}

// ---- garbage and resets -----------------------------------------------------------------------

TEST_CASE("faults: an upstream that answers garbage instead of HTTP gets the client a 502, recorded",
          "[integration][faults]") {
  ScriptedUpstream up({{"\x16\x03\x01 this is not HTTP at all\r\n\r\n"}});
  Harness h(upstream_at(up.v4_url()));
  const std::size_t before = access_lines().snapshot().size();
  const auto r = h.post_chat(chat_body("garbage"), {{"X-Request-Id", "fault-garbage"}});
  CHECK(r.status == 502);
  CHECK(has(r.body, R"("type":"upstream_error")"));
  std::string line;
  for (int i = 0; i < 250 && line.empty(); ++i) {
    const auto lines = access_lines().snapshot();
    for (std::size_t j = before; j < lines.size(); ++j)
      if (has(lines[j], "fault-garbage")) line = lines[j];
    std::this_thread::sleep_for(20ms);
  }
  CHECK(has(line, R"("status":502)"));
}

TEST_CASE("faults: a 200 whose JSON body is malformed gets the client a 502 saying so",
          "[integration][faults]") {
  ScriptedUpstream up({{http_answer(200, "", R"({"unexpected": [1, 2)")}});
  Harness h(upstream_at(up.v4_url(), [](Config& c) { c.retry.attempts = 1; }));
  const auto r = h.post_chat(chat_body("not a completion"));
  INFO(r.body);
  CHECK(r.status == 502);
  CHECK(has(r.body, R"("type":"upstream_error")"));
  CHECK(has(r.body, "upstream sent malformed JSON"));
}

TEST_CASE("faults: a stream whose next event is not JSON delivers the good event, then an error and [DONE]",
          "[integration][faults]") {
  const std::string sse =
      "data: {\"id\":\"s1\",\"created\":1,\"model\":\"glm-4.5\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
      "\"assistant\",\"content\":\"Hello\"}}]}\n\ndata: {\"id\":\"s1\",\"choices\":[{ this is not json\n\n";
  ScriptedUpstream up({{http_answer(200, "", sse, "text/event-stream")}});
  check_stream_ends_in_error(up, "bad event", R"("content":"Hello")");
}

TEST_CASE("faults: an upstream connection reset mid-stream ends the stream with an error event and [DONE]",
          "[integration][faults]") {
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string event =
      "data: {\"id\":\"s2\",\"created\":1,\"model\":\"glm-4.5\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
      "\"assistant\",\"content\":\"Part\"}}]}\n\n";
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", event.size());
  ScriptedUpstream up({{head + size + event + "\r\n", /*reset=*/true}});
  check_stream_ends_in_error(up, "reset", R"("content":"Part")");
}

namespace {
// `body` as a chunked body, cut into chunks of at most `max` bytes, with the last chunk.
std::string chunked(std::string_view body, std::size_t max) {
  std::string out;
  for (std::size_t at = 0; at < body.size(); at += max) {
    const std::string_view part = body.substr(at, max);
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    out.append(size).append(part).append("\r\n");
  }
  return out + "0\r\n\r\n";
}

const std::string kChunkedSseHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
const std::string kPartEvent =
    "data: {\"id\":\"s3\",\"created\":1,\"model\":\"glm-4.5\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"Part\"}}]}\n\n";
}  // namespace

TEST_CASE("faults: a JSON answer sent in many chunks, all in one read, is answered whole",
          "[integration][faults]") {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  ScriptedUpstream up({{head + chunked(kAnswer, 7)}});
  Harness h(upstream_at(up.v4_url()));
  const auto r = h.post_chat(chat_body("chunked json"));
  CHECK(r.status == 200);
  CHECK(has(r.body, R"("content":"ok")"));
  CHECK(has(r.body, R"("total_tokens":2)"));
}

TEST_CASE("faults: a stream whose chunk framing breaks ends with an error naming it, then [DONE]",
          "[integration][faults]") {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", kPartEvent.size());
  // The second chunk's size is not hexadecimal.
  ScriptedUpstream up({{kChunkedSseHead + size + kPartEvent + "\r\nzz\r\nnot an event\r\n"}});
  Harness h(upstream_at(up.v4_url()));
  const auto r = h.post_chat(chat_body("bad framing", true));
  REQUIRE(r.status == 200);
  INFO(r.body);
  CHECK(has(r.body, R"("content":"Part")"));
  CHECK(has(r.body, "a chunk size is not a hexadecimal number"));
  CHECK(sse_data(r.body).back() == "[DONE]");
}

TEST_CASE("faults: an upstream that closes a stream before its last chunk ends it with an error and [DONE]",
          "[integration][faults]") {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", kPartEvent.size());
  ScriptedUpstream up({{kChunkedSseHead + size + kPartEvent + "\r\n"}});  // then a FIN, no last chunk
  check_stream_ends_in_error(up, "closed early", R"("content":"Part")");
}

// A reset right behind the last bytes raises no readiness for a read that waits for one once
// the socket was emptied (drain.hpp): the watchdog's look at the socket must find it, well
// before the first-byte (300 s) or stream-gap (120 s) timeout.
namespace {
void check_reset_behind_partial_answer(const std::string& partial, const std::string& text) {
  ScriptedUpstream up({{partial, /*reset=*/true}});
  Harness h(upstream_at(up.v4_url(), [](Config& c) { c.retry.attempts = 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = h.post_chat(chat_body(text));
  CHECK(r.status == 502);
  CHECK(has(r.body, R"("type":"upstream_error")"));
  CHECK(std::chrono::steady_clock::now() - t0 < 8s);
}
}  // namespace

TEST_CASE("faults: an upstream reset right behind part of a response head gets the client a 502 in seconds",
          "[integration][faults]") {
  check_reset_behind_partial_answer("HTTP/1.1 200 OK\r\nContent-Type: appl", "reset behind head");
}

TEST_CASE("faults: an upstream reset right behind part of a JSON body gets the client a 502 in seconds",
          "[integration][faults]") {
  check_reset_behind_partial_answer(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"id\":\"x1\",",
      "reset behind body");
}

// ---- a lone surrogate split across events -----------------------------------------------------

TEST_CASE("faults: an emoji split into two lone surrogate escapes across zai-web events reaches the client whole",
          "[integration][faults][zaiweb]") {
  GatewayOptions o;
  o.tweak = [](Config& c) {
    auto& p = c.providers[0];
    p.kind = ProviderKind::zai_web;
    p.base_url = p.base_url.substr(0, p.base_url.find("/api/paas/v4"));
    p.api_key.clear();
    p.api_keys.clear();
    c.models = default_models(ProviderKind::zai_web, p.name);
  };
  Harness h(o);
  const auto streamed = h.post_chat(chat_body("[scenario:split_surrogate]", true));
  REQUIRE(streamed.status == 200);
  INFO(streamed.body);
  CHECK_FALSE(has(streamed.body, R"("error")"));
  CHECK(has(streamed.body, R"("finish_reason":"stop")"));
  CHECK(sse_data(streamed.body).back() == "[DONE]");
  const auto whole = h.post_chat(chat_body("[scenario:split_surrogate]"));
  REQUIRE(whole.status == 200);
  INFO(whole.body);
  // The pair is rejoined: U+1F30F, as UTF-8 or as its escaped pair.
  CHECK((has(whole.body, "Earth \xF0\x9F\x8C\x8F!") || has(whole.body, "Earth \\ud83c\\udf0f!")));
}

TEST_CASE("faults: a surrogate pair split across two zhipu stream events reaches the client whole",
          "[integration][faults]") {
  auto event = [](std::string_view content) {
    return "data: {\"id\":\"s3\",\"created\":1,\"model\":\"glm-4.5\",\"choices\":[{\"index\":0,\"delta\":{"
           "\"role\":\"assistant\",\"content\":\"" + std::string(content) + "\"}}]}\n\n";
  };
  const std::string sse = event("Earth \\ud83c") + event("\\udf0f!") +
                          "data: {\"id\":\"s3\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                          "data: [DONE]\n\n";
  ScriptedUpstream up({{http_answer(200, "", sse, "text/event-stream")}});
  Harness h(upstream_at(up.v4_url()));
  const auto r = h.post_chat(chat_body("surrogates", true));
  REQUIRE(r.status == 200);
  INFO(r.body);
  CHECK_FALSE(has(r.body, R"("error")"));
  CHECK(has(r.body, R"("finish_reason":"stop")"));
  std::string text;  // the content deltas joined
  for (const auto& e : sse_data(r.body)) {
    const std::size_t p = e.find(R"("content":")");
    if (p != std::string::npos) text += e.substr(p + 11, e.find('"', p + 11) - p - 11);
  }
  CHECK((text == "Earth \xF0\x9F\x8C\x8F!" || text == "Earth \\ud83c\\udf0f!"));
}

// ---- shutdown with 50 open streams ------------------------------------------------------------

TEST_CASE("faults: 50 streams open at shutdown each end with [DONE] and leave one record",
          "[integration][faults][shutdown]") {
  auto h = std::make_unique<Harness>(GatewayOptions{[](Config& c) {
    c.timeouts.shutdown_grace = 500ms;
    c.limits.max_connections = 1000;
  }, {}});
  const std::size_t before = access_lines().snapshot().size();
  constexpr int kStreams = 50;
  std::vector<std::unique_ptr<RawConn>> conns;
  const std::string body = chat_body("[scenario:slow chunks=400 delay_ms=25]", true);
  for (int i = 0; i < kStreams; ++i) {
    auto& c = conns.emplace_back(std::make_unique<RawConn>(h->port()));
    REQUIRE(c->connected());
    REQUIRE(c->send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth_header() + "X-Request-Id: stop50-" +
                    std::to_string(i) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  }
  std::vector<std::string> got(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    got[i] = conns[i]->read_until("chat.completion.chunk", std::chrono::seconds(10));
    REQUIRE(has(got[i], "HTTP/1.1 200"));
  }
  std::thread stopper([&] { h->gateway().stop(); });
  for (int i = 0; i < kStreams; ++i) got[i] += conns[i]->read_until("\r\n0\r\n\r\n", std::chrono::seconds(10));
  stopper.join();
  int clean = 0;
  for (const auto& g : got) {
    if (has(g, "data: [DONE]") && has(g, "\r\n0\r\n\r\n")) ++clean;
  }
  CHECK(clean == kStreams);
  std::set<std::string> recorded;
  for (int i = 0; i < 250 && recorded.size() < kStreams; ++i) {
    const auto lines = access_lines().snapshot();
    for (std::size_t j = before; j < lines.size(); ++j) {
      const std::size_t p = lines[j].find("stop50-");
      if (p != std::string::npos) recorded.insert(lines[j].substr(p, lines[j].find('"', p) - p));
    }
    std::this_thread::sleep_for(20ms);
  }
  CHECK(recorded.size() == kStreams);
}

// ---- reloads during traffic -------------------------------------------------------------------

TEST_CASE("faults: reloads with good and refused configurations during traffic fail no request",
          "[integration][faults][reload]") {
  Harness h;
  std::atomic<bool> done{false};
  std::atomic<int> sent{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      while (!done) {
        const bool stream = t % 2 == 1;
        const auto r = h.post_chat(chat_body(stream ? "[scenario:slow chunks=4 delay_ms=10]" : "traffic", stream));
        ++sent;
        if (r.status != 200 || (stream && !has(r.body, "data: [DONE]"))) ++failed;
      }
    });
  }
  int applied = 0, refused = 0;
  for (int i = 0; i < 10; ++i) {
    auto next = std::make_shared<Config>(h.config());
    if (i % 2 == 1) {
      next->providers[0].base_url = "https://127.0.0.1:1/api/paas/v4";
      next->providers[0].ca_file = "/nonexistent/ca.pem";  // cannot be built: refused
    } else {
      next->retry.attempts = 2 + i % 3;  // a harmless change
    }
    const auto r = h.gateway().reload(next);
    (r.applied ? applied : refused)++;
    std::this_thread::sleep_for(50ms);
  }
  done = true;
  for (auto& c : clients) c.join();
  CHECK(applied == 5);
  CHECK(refused == 5);
  CHECK(sent > 10);
  CHECK(failed == 0);
}
