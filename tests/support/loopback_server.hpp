// Test helpers for hand-made loopback peers: a listening socket on 127.0.0.1 with a port the
// kernel picks, an accept loop on its own thread, and a bounded read of one HTTP request.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace zgate::testing {

// A TCP socket listening on 127.0.0.1 with `backlog`; its port goes to `port`.
inline int listen_on_loopback(int backlog, uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, backlog) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// One request read from `fd`: the head and a Content-Length body, or what came within `limit`.
inline std::string read_http_request(int fd, std::chrono::milliseconds limit) {
  std::string got;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::size_t head = got.find("\r\n\r\n");
    if (head != std::string::npos) {
      const std::size_t cl = got.find("Content-Length: ");
      const std::size_t want = cl == std::string::npos ? 0 : std::stoul(got.substr(cl + 16));
      if (got.size() >= head + 4 + want) break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// A loopback server whose thread accepts connections one at a time, notes when each came, and
// hands it to `on_connection`, which owns the descriptor from then on (closes it, or keeps it
// open). Declare it after whatever the handler uses, so it stops first.
class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(int)> on_connection)
      : on_connection_(std::move(on_connection)), fd_(listen_on_loopback(16, port_)) {
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return port_; }
  // An http URL on this server with `path`.
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  // When each connection was accepted, in order.
  std::vector<std::chrono::steady_clock::time_point> arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      {
        std::lock_guard lock(mu_);
        arrivals_.push_back(std::chrono::steady_clock::now());
      }
      on_connection_(c);
    }
  }

  std::function<void(int)> on_connection_;
  uint16_t port_ = 0;
  int fd_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
  std::thread thread_;
};

}  // namespace zgate::testing
