// `zgate health`: one GET /health against a running zgate, for a container HEALTHCHECK.
// Plain POSIX sockets with one deadline over connect, send and receive; no Asio, no config
// loading, so it starts in a millisecond and never hangs.
#include "zgate/cli/health.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "zgate/core/text.hpp"

namespace zgate::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::optional<uint16_t> parse_port(std::string_view s) { return text::parse_port(text::trim(s)); }

// "host:port" or "[v6]:port", as zgate's own --listen takes it.
bool parse_listen(std::string_view s, HealthTarget& t, std::string& error) {
  s = text::trim(s);
  std::string_view h, p;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      error = "expected [v6-address]:port, got '" + std::string(s) + "'";
      return false;
    }
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected host:port, got '" + std::string(s) + "'";
      return false;
    }
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
  }
  const auto port = parse_port(p);
  if (!port) {
    error = "port '" + std::string(p) + "' is not a number from 1 to 65535";
    return false;
  }
  t.host = std::string(h);
  t.port = *port;
  return true;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout or error (error set).
bool wait_for(int fd, short events, Clock::time_point deadline, const char* what, std::string& error) {
  for (;;) {
    const int left = remaining_ms(deadline);
    if (left == 0) {
      error = std::string("timed out while ") + what;
      return false;
    }
    pollfd pfd{fd, events, 0};
    const int r = ::poll(&pfd, 1, left);
    if (r > 0) return true;
    if (r == 0) {
      error = std::string("timed out while ") + what;
      return false;
    }
    if (errno != EINTR) {
      error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
  }
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Connects to one resolved address before the deadline; the socket stays non-blocking.
int connect_one(const addrinfo* ai, Clock::time_point deadline, std::string& error) {
  Fd s;
  s.fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (s.fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (::connect(s.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      error = std::string("connect: ") + std::strerror(errno);
      return -1;
    }
    if (!wait_for(s.fd, POLLOUT, deadline, "connecting", error)) return -1;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      error = std::string("connect: ") + std::strerror(so_error ? so_error : errno);
      return -1;
    }
  }
  const int fd = s.fd;
  s.fd = -1;
  return fd;
}

}  // namespace

std::optional<HealthTarget> health_target(const char* listen, const char* env_listen, const char* env_port,
                                          std::string& error) {
  HealthTarget t{"127.0.0.1", 8080};
  if (listen) {
    if (!parse_listen(listen, t, error)) {
      error = "--listen: " + error;
      return std::nullopt;
    }
  } else if (env_listen) {
    if (!parse_listen(env_listen, t, error)) {
      error = "ZGATE_LISTEN: " + error;
      return std::nullopt;
    }
  } else if (env_port) {
    const auto p = parse_port(env_port);
    if (!p) {
      error = std::string("PORT: '") + env_port + "' is not a number from 1 to 65535";
      return std::nullopt;
    }
    t.port = *p;
  }
  if (t.host.empty() || t.host == "0.0.0.0") t.host = "127.0.0.1";
  if (t.host == "::" || t.host == "::0") t.host = "::1";
  return t;
}

int probe_health(const HealthTarget& target, int timeout_ms, std::string& error) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(target.port);
  if (const int rc = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "resolving '" + target.host + "': " + ::gai_strerror(rc);
    return 0;
  }
  int fd = -1;
  for (const addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) fd = connect_one(ai, deadline, error);
  ::freeaddrinfo(res);
  if (fd < 0) return 0;
  Fd s;
  s.fd = fd;

  const bool v6 = target.host.find(':') != std::string::npos;
  const std::string request = "GET /health HTTP/1.1\r\nHost: " + (v6 ? "[" + target.host + "]" : target.host) + ":" +
                              port + "\r\nUser-Agent: zgate-health\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline, "sending", error)) return 0;
    } else {
      error = std::string("send: ") + std::strerror(errno);
      return 0;
    }
  }

  // Only the status line matters: "HTTP/1.x NNN ...".
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 1024) {
    if (!wait_for(fd, POLLIN, deadline, "waiting for the answer", error)) return 0;
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      head.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      error = std::string("recv: ") + std::strerror(errno);
      return 0;
    }
  }
  if (head.size() < 12 || head.compare(0, 7, "HTTP/1.") != 0 || head[8] != ' ') {
    error = head.empty() ? "connection closed without an answer" : "not an HTTP answer";
    return 0;
  }
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') {
      error = "not an HTTP status line";
      return 0;
    }
    code = code * 10 + (head[i] - '0');
  }
  return code;
}

int run_health(int argc, char** argv) {
  static constexpr std::string_view usage =
      "Usage: zgate health [--listen HOST:PORT] [--timeout-ms N]\n"
      "Asks a running zgate's GET /health; exit code 0 on a 200, 1 otherwise.\n"
      "The address is --listen, else ZGATE_LISTEN, else PORT, else 127.0.0.1:8080;\n"
      "a wildcard host (0.0.0.0, ::) is asked on loopback. --timeout-ms: 2000 by default.\n";
  const char* listen = nullptr;
  int timeout_ms = 2000;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string_view flag) -> const char* {
      if (a.size() > flag.size() && a.substr(0, flag.size()) == flag && a[flag.size()] == '=')
        return argv[i] + flag.size() + 1;
      if (a == flag && i + 1 < argc) return argv[++i];
      return nullptr;
    };
    if (a == "-h" || a == "--help") {
      std::cout << usage;
      return 0;
    }
    if (const char* v = value("--listen")) {
      listen = v;
    } else if (const char* t = value("--timeout-ms")) {
      const auto n = parse_port(t);  // 1..65535 ms is plenty
      if (!n) {
        std::cerr << "zgate health: --timeout-ms: '" << t << "' is not a number from 1 to 65535\n";
        return 1;
      }
      timeout_ms = *n;
    } else {
      std::cerr << "zgate health: unknown argument '" << a << "'\n" << usage;
      return 1;
    }
  }
  std::string error;
  const auto target = health_target(listen, std::getenv("ZGATE_LISTEN"), std::getenv("PORT"), error);
  if (!target) {
    std::cerr << "zgate health: " << error << "\n";
    return 1;
  }
  const bool v6 = target->host.find(':') != std::string::npos;
  const std::string url =
      "http://" + (v6 ? "[" + target->host + "]" : target->host) + ":" + std::to_string(target->port) + "/health";
  const int code = probe_health(*target, timeout_ms, error);
  if (code == 200) {
    std::cout << "zgate health: " << url << ": 200\n";
    return 0;
  }
  if (code == 0) {
    std::cerr << "zgate health: " << url << ": " << error << "\n";
  } else {
    std::cerr << "zgate health: " << url << ": " << code << "\n";
  }
  return 1;
}

}  // namespace zgate::cli
