#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace zgate::testing {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// OpenSSL writes to sockets with write(2), which raises SIGPIPE on a closed peer; a test that
// provokes closed connections must see an error value instead of dying.
const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

int remaining_ms(Clock::time_point deadline) {
  // Rounded up, so a wait never ends before its deadline.
  const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

milliseconds since(Clock::time_point t0) { return std::chrono::duration_cast<milliseconds>(Clock::now() - t0); }

std::string ssl_error_text() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

std::string HttpResult::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return {};
}

struct HttpConnection::Impl {
  std::string host;
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  std::string error;
  std::string in;  // bytes read but not consumed (keep-alive leftovers)

  ~Impl() {
    close();
    if (ctx) SSL_CTX_free(ctx);
  }

  void close() {
    if (ssl) {
      SSL_free(ssl);
      ssl = nullptr;
    }
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    in.clear();
  }

  bool fail(std::string msg) {
    error = std::move(msg);
    close();
    return false;
  }

  // Waits for `events` on the socket until `deadline`. False on timeout or poll error.
  bool wait(short events, Clock::time_point deadline) {
    for (;;) {
      pollfd p{fd, events, 0};
      const int r = ::poll(&p, 1, remaining_ms(deadline));
      if (r > 0) return true;
      if (r == 0) return false;
      if (errno != EINTR) return false;
    }
  }

  bool connect(uint16_t port, Clock::time_point deadline, bool tls, const std::string& ca_file) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0 || !res)
      return fail(std::string("resolve failed: ") + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, &freeaddrinfo);
    fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) return fail(std::string("connect: ") + std::strerror(errno));
      if (!wait(POLLOUT, deadline)) return fail("connect: timeout");
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return fail(std::string("connect: ") + std::strerror(err));
    }
    if (!tls) return true;

    if (!ctx) {
      ctx = SSL_CTX_new(TLS_client_method());
      if (!ctx) return fail(ssl_error_text());
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      const int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                     : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
      if (ok != 1) return fail("cannot load CA: " + ssl_error_text());
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    in6_addr a6{};
    in_addr a4{};
    const bool is_ip = inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      SSL_set1_host(ssl, host.c_str());
    }
    for (;;) {
      const int r = SSL_connect(ssl);
      if (r == 1) return true;
      const int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ) {
        if (!wait(POLLIN, deadline)) return fail("TLS handshake: timeout");
      } else if (e == SSL_ERROR_WANT_WRITE) {
        if (!wait(POLLOUT, deadline)) return fail("TLS handshake: timeout");
      } else {
        return fail("TLS handshake: " + ssl_error_text());
      }
    }
  }

  bool write_all(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      if (fd < 0) return fail("not connected");
      if (ssl) {
        const int r = SSL_write(ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
        if (r > 0) {
          data.remove_prefix(static_cast<std::size_t>(r));
          continue;
        }
        const int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ ? !wait(POLLIN, deadline)
                                     : e == SSL_ERROR_WANT_WRITE ? !wait(POLLOUT, deadline) : true)
          return fail(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? "write: timeout"
                                                                              : "write: " + ssl_error_text());
      } else {
        const ssize_t r = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (r > 0) {
          data.remove_prefix(static_cast<std::size_t>(r));
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          if (!wait(POLLOUT, deadline)) return fail("write: timeout");
        } else {
          return fail(std::string("write: ") + std::strerror(errno));
        }
      }
    }
    return true;
  }

  // Appends what the socket has to `in`. >0 bytes read, 0 = peer closed, -1 = timeout/error
  // (error set, connection left open so the caller can decide).
  long read_some(Clock::time_point deadline) {
    char buf[16384];
    for (;;) {
      if (fd < 0) {
        error = "not connected";
        return -1;
      }
      if (ssl) {
        const int r = SSL_read(ssl, buf, sizeof buf);
        if (r > 0) {
          in.append(buf, static_cast<std::size_t>(r));
          return r;
        }
        const int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          if (!wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
            error = "timeout";
            return -1;
          }
          continue;
        }
        // A close without close_notify (OpenSSL 3 reports it as an SSL error): treat as EOF;
        // the HTTP framing decides whether the response was complete.
        ERR_clear_error();
        return 0;
      }
      const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r > 0) {
        in.append(buf, static_cast<std::size_t>(r));
        return r;
      }
      if (r == 0) return 0;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (!wait(POLLIN, deadline)) {
          error = "timeout";
          return -1;
        }
        continue;
      }
      if (errno == ECONNRESET) return 0;
      error = std::string("read: ") + std::strerror(errno);
      return -1;
    }
  }

  HttpResult exchange(const std::string& method, const std::string& target, const HeaderList& headers,
                      const std::string& body, milliseconds timeout, AbortWhen abort);
};

HttpResult HttpConnection::Impl::exchange(const std::string& method, const std::string& target,
                                          const HeaderList& headers, const std::string& body, milliseconds timeout,
                                          AbortWhen abort) {
  HttpResult res;
  const auto t0 = Clock::now();
  const auto deadline = t0 + timeout;
  const auto abort_at = abort.after.count() > 0 ? t0 + abort.after : Clock::time_point::max();
  if (fd < 0) {
    res.error = error.empty() ? "not connected" : error;
    return res;
  }

  std::string head = method + " " + target + " HTTP/1.1\r\n";
  bool has_host = false, has_length = false;
  for (const auto& [k, v] : headers) {
    has_host |= iequal(k, "host");
    has_length |= iequal(k, "content-length") || iequal(k, "transfer-encoding");
    head += k + ": " + v + "\r\n";
  }
  if (!has_host) head += "Host: " + host + "\r\n";
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH"))
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  head += "\r\n";
  head += body;
  if (!write_all(head, deadline)) {
    res.error = error;
    return res;
  }

  auto aborted = [&]() {
    res.error = "aborted by client";
    close();
    return res;
  };
  const auto read_deadline = [&] { return std::min(deadline, abort_at); };
  // Reads more bytes; returns false with res.error set when the response cannot continue.
  bool eof = false;
  auto more = [&](const char* what) -> int {  // 1 = got bytes, 0 = eof, -1 = error/timeout, -2 = abort time
    const long r = read_some(read_deadline());
    if (r > 0) return 1;
    if (r == 0) {
      eof = true;
      return 0;
    }
    if (Clock::now() >= abort_at && abort_at < deadline) return -2;
    res.error = std::string(what) + ": " + error;
    return -1;
  };

  // ---- head (skipping interim 1xx responses)
  std::size_t head_end = 0;
  for (;;) {
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > 1024 * 1024) {
        res.error = "response head too large";
        close();
        return res;
      }
      const int m = more("reading response head");
      if (m == -2) return aborted();
      if (m < 0) {
        close();
        return res;
      }
      if (m == 0) {
        res.error = "connection closed before the response head";
        close();
        return res;
      }
    }
    const std::string_view h(in.data(), head_end);
    const auto line_end = h.find("\r\n");
    const std::string_view status_line = h.substr(0, line_end);
    const auto sp = status_line.find(' ');
    if (status_line.substr(0, 5) != "HTTP/" || sp == std::string_view::npos) {
      res.error = "malformed status line";
      close();
      return res;
    }
    res.status = std::atoi(std::string(status_line.substr(sp + 1, 3)).c_str());
    res.headers.clear();
    std::size_t pos = line_end == std::string_view::npos ? h.size() : line_end + 2;
    while (pos < h.size()) {
      auto e = h.find("\r\n", pos);
      if (e == std::string_view::npos) e = h.size();
      const std::string_view line = h.substr(pos, e - pos);
      const auto colon = line.find(':');
      if (colon != std::string_view::npos)
        res.headers.emplace_back(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
      pos = e + 2;
    }
    in.erase(0, head_end + 4);
    if (res.status >= 100 && res.status < 200) continue;
    break;
  }
  res.head_at = since(t0);

  const std::string te = res.header("transfer-encoding");
  const bool chunked = te.find("chunked") != std::string::npos;
  const std::string cl = res.header("content-length");
  const bool no_body = method == "HEAD" || res.status == 204 || res.status == 304;
  bool until_close = !no_body && !chunked && cl.empty();
  const std::string conn = res.header("connection");
  res.keep_alive = !until_close && !iequal(conn, "close");

  std::size_t body_bytes = 0;
  auto over_bytes = [&] { return body_bytes >= abort.body_bytes; };
  if (over_bytes() && abort.body_bytes == 0) return aborted();

  if (no_body) {
    res.complete = true;
  } else if (chunked) {
    // More bytes inside the chunked body, or why it ends here (error set; abort: time to give up).
    enum class Next { read, stop, abort };
    auto more_chunked = [&](const char* what) {
      const int m = more(what);
      if (m == -2) return Next::abort;
      if (m == 0) res.error = "connection closed inside the chunked body";
      return m > 0 ? Next::read : Next::stop;
    };
    std::string pending;  // the current chunk's data so far
    std::size_t need = 0;  // data bytes still missing in the current chunk
    bool in_data = false;
    for (;;) {
      if (!in_data) {
        const auto e = in.find("\r\n");
        if (e == std::string::npos) {
          const Next n = more_chunked("reading chunk size");
          if (n == Next::abort) return aborted();
          if (n == Next::stop) break;
          continue;
        }
        const std::string size_line = in.substr(0, e);
        need = std::strtoull(size_line.c_str(), nullptr, 16);
        in.erase(0, e + 2);
        if (need == 0) {
          // Trailers (usually none) end with an empty line.
          std::size_t t;
          while ((t = in.find("\r\n")) != 0) {
            if (t != std::string::npos) {
              in.erase(0, t + 2);
              continue;
            }
            const int m = more("reading trailers");
            if (m <= 0) break;
          }
          if (in.rfind("\r\n", 0) == 0) in.erase(0, 2);
          res.complete = true;
          break;
        }
        in_data = true;
        pending.clear();
      }
      if (!in.empty() && need > 0) {
        const std::size_t take = std::min(need, in.size());
        pending.append(in, 0, take);
        res.body.append(in, 0, take);
        in.erase(0, take);
        need -= take;
        body_bytes += take;
      }
      if (need == 0) {
        if (in.size() < 2) {
          const Next n = more_chunked("reading chunk end");
          if (n == Next::abort) return aborted();
          if (n == Next::stop) break;
          continue;
        }
        in.erase(0, 2);  // CRLF after the data
        res.chunks.emplace_back(since(t0), std::move(pending));
        pending.clear();
        in_data = false;
        if (over_bytes()) return aborted();
        continue;
      }
      if (over_bytes()) return aborted();
      const Next n = more_chunked("reading chunk data");
      if (n == Next::abort) return aborted();
      if (n == Next::stop) break;
    }
  } else {
    const std::size_t total = until_close ? std::numeric_limits<std::size_t>::max()
                                          : static_cast<std::size_t>(std::strtoull(cl.c_str(), nullptr, 10));
    for (;;) {
      if (!in.empty() && res.body.size() < total) {
        const std::size_t take = std::min(total - res.body.size(), in.size());
        res.chunks.emplace_back(since(t0), in.substr(0, take));
        res.body.append(in, 0, take);
        in.erase(0, take);
        body_bytes += take;
      }
      if (res.body.size() >= total) {
        res.complete = true;
        break;
      }
      if (over_bytes()) return aborted();
      const int m = more("reading body");
      if (m == -2) return aborted();
      if (m < 0) break;
      if (m == 0) {
        if (until_close) res.complete = true;
        else res.error = "connection closed before the whole body (Content-Length)";
        break;
      }
    }
  }
  if (!res.complete || !res.keep_alive || eof) close();
  if (!res.complete && res.error.empty()) res.error = "incomplete response";
  return res;
}

HttpConnection::HttpConnection(const std::string& host, uint16_t port, milliseconds timeout, bool tls,
                               const std::string& ca_file)
    : impl_(std::make_unique<Impl>()) {
  (void)sigpipe_ignored;
  impl_->host = host;
  impl_->connect(port, Clock::now() + timeout, tls, ca_file);
}

HttpConnection::~HttpConnection() = default;

bool HttpConnection::is_open() const { return impl_->fd >= 0; }
const std::string& HttpConnection::error() const { return impl_->error; }
void HttpConnection::close() { impl_->close(); }

HttpResult HttpConnection::request(const std::string& method, const std::string& target, const HeaderList& headers,
                                   const std::string& body, milliseconds timeout, AbortWhen abort) {
  return impl_->exchange(method, target, headers, body, timeout, abort);
}

bool HttpConnection::send_raw(std::string_view bytes, milliseconds timeout) {
  return impl_->write_all(bytes, Clock::now() + timeout);
}

bool HttpConnection::wait_closed_by_peer(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (impl_->fd >= 0) {
    const long r = impl_->read_some(deadline);
    if (r == 0) {
      impl_->close();
      return true;
    }
    if (r < 0) return false;
    impl_->in.clear();  // discard whatever arrives meanwhile
  }
  return true;
}

namespace {

// One request on a connection of its own; `timeout` covers the connect too.
HttpResult request_once(const std::string& host, uint16_t port, const std::string& method, const std::string& target,
                        const HeaderList& headers, const std::string& body, milliseconds timeout, bool tls,
                        const std::string& ca_file, AbortWhen abort) {
  const auto t0 = Clock::now();
  HttpConnection c(host, port, timeout, tls, ca_file);
  if (!c.is_open()) {
    HttpResult r;
    r.error = c.error();
    return r;
  }
  const auto left = std::max(milliseconds{1}, timeout - since(t0));
  return c.request(method, target, headers, body, left, abort);
}

}  // namespace

HttpResult http_request(const std::string& host, uint16_t port, const std::string& method, const std::string& target,
                        const HeaderList& headers, const std::string& body, milliseconds timeout, bool tls,
                        const std::string& ca_file) {
  return request_once(host, port, method, target, headers, body, timeout, tls, ca_file, AbortWhen{});
}

HttpResult http_request_abort_after(const std::string& host, uint16_t port, const std::string& method,
                                    const std::string& target, const HeaderList& headers, const std::string& body,
                                    std::size_t abort_after_bytes, milliseconds abort_after, milliseconds timeout,
                                    bool tls, const std::string& ca_file) {
  return request_once(host, port, method, target, headers, body, timeout, tls, ca_file,
                      AbortWhen{abort_after_bytes, abort_after});
}

std::vector<std::string> sse_payloads(std::string_view body) {
  std::vector<std::string> out;
  std::string data;
  bool have = false;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    auto e = body.find('\n', pos);
    const bool last = e == std::string_view::npos;
    std::string_view line = body.substr(pos, last ? std::string_view::npos : e - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (have) out.push_back(std::move(data));
      data.clear();
      have = false;
    } else if (line.substr(0, 5) == "data:") {
      std::string_view v = line.substr(5);
      if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (have) data.push_back('\n');
      data.append(v);
      have = true;
    }
    if (last) break;
    pos = e + 1;
  }
  if (have) out.push_back(std::move(data));
  return out;
}

}  // namespace zgate::testing
