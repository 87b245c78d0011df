#pragma once
// In-process harness: zgate-mock and zgate on loopback port 0, with a small config.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "zgate/config/config.hpp"
#include "zgate/mock/mock_server.hpp"
#include "zgate/obs/log.hpp"
#include "zgate/route/router.hpp"
#include "zgate/server/gateway.hpp"

namespace zgate::testing {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kClientKey = "sk-integration-test-key-0001";

// Collects access-log lines (the test hook delivers them from the recorder thread).
struct AccessLines {
  std::mutex mu;
  std::vector<std::string> lines;
  void add(std::string_view l) {
    std::lock_guard lock(mu);
    lines.emplace_back(l);
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return lines;
  }
};

inline AccessLines& access_lines() {
  static AccessLines a;
  static bool once = [] {
    LogConfig lc;
    lc.level = "warn";
    lc.access_log = true;
    lc.format = "json";
    init_logging(lc, false);
    set_access_sink_for_tests([](std::string_view l) { access_lines().add(l); });
    return true;
  }();
  (void)once;
  return a;
}

// A loopback port bound but not listening, held for the object's life: connections to it are
// refused, and no other process can take the port meanwhile.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      socklen_t len = sizeof a;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  uint16_t port() const { return port_; }  // 0 if it could not be bound
  // A zhipu base URL on this port.
  std::string v4_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/paas/v4"; }

 private:
  int fd_;
  uint16_t port_ = 0;
};

struct GatewayOptions {
  std::function<void(Config&)> tweak;  // adjust the config before start
  mock::Options mock;
};

// Gateway::set_reloader (POST /admin/reload), given the gateway.
using HarnessReloader = std::function<Gateway::ReloadResult(Gateway&)>;

class Harness {
 public:
  // `housekeeping`: Gateway::set_housekeeping, if given; `reloader`: Gateway::set_reloader.
  explicit Harness(GatewayOptions o = {}, std::function<void()> housekeeping = {}, HarnessReloader reloader = {})
      : mock_(o.mock) {
    access_lines();
    auto c = std::make_shared<Config>();
    c->listen_host = "127.0.0.1";
    c->listen_port = 0;
    c->workers = 2;
    c->api_keys = {ApiKey{"itest", kClientKey}};
    ProviderConfig p;
    p.name = "default";
    p.kind = ProviderKind::zhipu;
    p.base_url = mock_.base_url() + "/api/paas/v4";
    p.api_key = "upstream-key";
    c->providers.push_back(p);
    c->default_provider = "default";
    c->timeouts.shutdown_grace = 1000ms;
    c->usage_store = false;  // on only where a test gives it a temporary data_dir
    if (o.tweak) o.tweak(*c);
    validate(*c);
    cfg_ = c;
    gateway_ = std::make_unique<Gateway>(cfg_);
    if (housekeeping) gateway_->set_housekeeping(std::move(housekeeping));
    if (reloader) gateway_->set_reloader([this, f = std::move(reloader)] { return f(*gateway_); });
    port_ = gateway_->start();
  }
  ~Harness() { gateway_->stop(); }

  uint16_t port() const { return port_; }
  mock::MockServer& mock() { return mock_; }
  Gateway& gateway() { return *gateway_; }
  const Config& config() const { return *cfg_; }

  HttpResult post_chat(const std::string& body, Headers extra = {}, std::chrono::milliseconds timeout = 10s) {
    Headers h{{"Authorization", std::string("Bearer ") + kClientKey}, {"Content-Type", "application/json"}};
    for (auto& kv : extra) h.push_back(kv);
    return http_request("127.0.0.1", port_, "POST", "/v1/chat/completions", h, body, timeout);
  }
  HttpResult get(const std::string& target, Headers h = {}) {
    return http_request("127.0.0.1", port_, "GET", target, h, "", 5000ms);
  }
  // GET `target` (answered 200) until `done` holds for its body, every 20 ms for at most 5 s (what
  // the recorder hands over reaches the endpoints within its flush interval); the last body
  // either way.
  std::string get_until(const std::string& target, const std::function<bool(const std::string&)>& done,
                        Headers h = {}) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      const HttpResult r = get(target, h);
      REQUIRE(r.status == 200);
      if (done(r.body) || std::chrono::steady_clock::now() > deadline) return r.body;
      std::this_thread::sleep_for(20ms);
    }
  }

 private:
  mock::MockServer mock_;
  std::shared_ptr<Config> cfg_;
  std::unique_ptr<Gateway> gateway_;
  uint16_t port_ = 0;
};

inline std::string chat_body(const std::string& user_text, bool stream = false, const std::string& extra = "",
                             const std::string& model = "glm-4.5") {
  std::string s = R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + user_text + R"("}])";
  if (stream) s += R"(,"stream":true)";
  if (!extra.empty()) s += "," + extra;
  s += "}";
  return s;
}

// A whole HTTP/1.1 chat completions request with `body`, for a RawConn, authorized by the
// client key.
inline std::string raw_chat_request(const std::string& body) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kClientKey) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The "tools" member of a chat body: one function tool with an object schema.
inline std::string one_tool(const std::string& name) {
  return R"("tools":[{"type":"function","function":{"name":")" + name + R"(","parameters":{"type":"object"}}}])";
}

// The `data:` payloads of an SSE body, in order.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const auto end = body.find("\n\n", pos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end == std::string::npos ? body.size() : end + 2;
  }
  return out;
}

// A raw loopback TCP connection for the cases a well-behaved HTTP client cannot produce
// (slow headers, hanging up mid-response).
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawConn() { close(); }
  bool connected() const { return connected_; }
  bool send(std::string_view s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
  // Reads until `needle` appears, the peer closes, or the timeout passes.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (got.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        peer_closed_ = true;
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }
  // True if the peer closed the connection within the timeout.
  bool wait_closed(std::chrono::milliseconds timeout) {
    read_until(std::string_view("\x01\x02never\x03"), timeout);
    return peer_closed_;
  }
  // Shuts both directions down (a send blocked in another thread returns); the descriptor stays.
  void shutdown() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool peer_closed_ = false;
};

}  // namespace zgate::testing
