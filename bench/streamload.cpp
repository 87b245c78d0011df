// zgate_streamload: a small load client for chat completion endpoints that counts every chunk.
//
//   --mode stream   N concurrent keep-alive connections, each running streaming requests back
//                   to back. Per stream: time to first token (first `data:` event carrying
//                   content) and the gap between consecutive SSE events. Reports TTFT and gap
//                   percentiles, streams completed, content chunks received vs --expect-chunks,
//                   stalled streams (a gap above --stall-ms) and missing chunks.
//   --mode latency  sequential non-stream requests on one keep-alive connection; p50/p99/p99.9
//                   of the full request latency after a warm-up.
//   --idle N        (stream mode) also N idle keep-alive connections: each sends one non-stream
//                   request before the streams start, reads the answer, then stays open and
//                   silent until the end; the result counts those the server closed meanwhile.
//   --settle S      (stream mode) S seconds without traffic once the idle connections are up,
//                   before the streams' connections open, so that a script sampling the server
//                   sees it with only those (the result gives the wall-clock times).
//   --history BYTES a conversation: BYTES of earlier user and assistant turns before the question
//                   (the default body is one short question).
//   --procs N       (stream mode) run in N processes, each with its share of --connections and
//                   --idle: one process cannot hold more sockets than its descriptor limit
//                   (RLIMIT_NOFILE), and a run of 10,000 streams plus 10,000 idle connections
//                   needs more. The parent forks the children before any thread or socket exists,
//                   keeps the phases in step over pipes (idle connections up, settle, streams'
//                   connections up, one common start time) and prints one merged report.
//
// Plain POSIX sockets and epoll (one epoll per thread, 1-2 threads): the client shares a small
// machine with the processes it measures, so it stays as cheap as possible. Everything is
// bounded in time (--duration, --timeout); it never hangs. The last line of output is
// `RESULT key=value ...` for scripts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

// Waits for `events` on fd until `deadline_us`; false on timeout.
bool wait_fd(int fd, short events, int64_t deadline_us) {
  for (;;) {
    const int64_t left = deadline_us - now_us();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left / 1000 + 1, 1000)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

struct Options {
  std::string mode = "stream";
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/v1/chat/completions";
  std::vector<std::string> headers;
  std::string model = "glm-4.6";
  std::string body;          // explicit body; otherwise built from the fields below
  int chunks = 64;           // mock pacing scenario: chunks and delay
  int delay_ms = 20;
  int connections = 64;
  int threads = 1;
  double duration = 5;       // seconds of measured load (stream: after every connection warmed up)
  int warmup_streams = 1;    // stream: streams per connection before counting starts
  double stagger = -1;       // stream: first starts spread over this many seconds (-1 = auto)
  double timeout = 30;       // extra seconds allowed to finish after the load window
  int expect_chunks = -1;    // content chunks per stream (-1 = --chunks)
  double stall_ms = -1;      // gap above this = a stall (-1 = 5 x delay, at least 50 ms)
  int requests = 5000;       // latency: measured requests
  int warmup_requests = 500; // latency: warm-up requests
  int idle = 0;              // stream: idle keep-alive connections held open alongside
  int history = 0;           // bytes of earlier turns sent before the question (a conversation)
  double settle = 0;         // stream: seconds of quiet after the idle connections are up
  int procs = 1;             // stream: processes sharing the connections (one descriptor limit each)
  bool quiet = false;
};

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "zgate_streamload: %s\n", msg);
  std::fprintf(stderr,
               "usage: zgate_streamload --port P [--host 127.0.0.1] [--mode stream|latency]\n"
               "  [--path /v1/chat/completions] [--header 'Name: value']... [--model M] [--body JSON]\n"
               "  [--chunks 64 --delay-ms 20] [--connections N] [--threads 1|2] [--duration S]\n"
               "  [--warmup-streams N] [--stagger S] [--timeout S] [--expect-chunks N] [--stall-ms MS]\n"
               "  [--requests N] [--warmup-requests N] [--idle N] [--settle S] [--history BYTES] [--procs N]\n"
               "  [--quiet]\n"
               "  --procs N (1-16, stream mode): split --connections and --idle over N processes, for more\n"
               "  sockets than one process's descriptor limit allows; one merged report\n");
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + std::string(a)).c_str());
      return argv[++i];
    };
    if (a == "--mode") o.mode = val();
    else if (a == "--host") o.host = val();
    else if (a == "--port") o.port = std::atoi(val());
    else if (a == "--path") o.path = val();
    else if (a == "--header") o.headers.emplace_back(val());
    else if (a == "--model") o.model = val();
    else if (a == "--body") o.body = val();
    else if (a == "--chunks") o.chunks = std::atoi(val());
    else if (a == "--delay-ms") o.delay_ms = std::atoi(val());
    else if (a == "--connections" || a == "-c") o.connections = std::atoi(val());
    else if (a == "--threads") o.threads = std::atoi(val());
    else if (a == "--duration") o.duration = std::atof(val());
    else if (a == "--warmup-streams") o.warmup_streams = std::max(0, std::atoi(val()));
    else if (a == "--stagger") o.stagger = std::atof(val());
    else if (a == "--timeout") o.timeout = std::atof(val());
    else if (a == "--expect-chunks") o.expect_chunks = std::atoi(val());
    else if (a == "--stall-ms") o.stall_ms = std::atof(val());
    else if (a == "--requests") o.requests = std::atoi(val());
    else if (a == "--warmup-requests") o.warmup_requests = std::atoi(val());
    else if (a == "--idle") o.idle = std::max(0, std::atoi(val()));
    else if (a == "--settle") o.settle = std::clamp(std::atof(val()), 0.0, 60.0);
    else if (a == "--history") o.history = std::clamp(std::atoi(val()), 0, 64 << 20);
    else if (a == "--procs") o.procs = std::clamp(std::atoi(val()), 1, 16);
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--help" || a == "-h") usage(nullptr);
    else usage(("unknown option " + std::string(a)).c_str());
  }
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (o.mode != "stream" && o.mode != "latency") usage("--mode is stream or latency");
  o.threads = std::clamp(o.threads, 1, 2);
  o.connections = std::max(1, o.connections);
  o.duration = std::clamp(o.duration, 0.1, 3600.0);
  o.timeout = std::clamp(o.timeout, 1.0, 3600.0);
  if (o.expect_chunks < 0) o.expect_chunks = o.chunks;
  if (o.stall_ms < 0) o.stall_ms = std::max(50.0, 5.0 * o.delay_ms);
  const double stream_len = o.chunks * o.delay_ms / 1000.0;
  // Spread the first starts over one stream's length, and at most ~1000 new streams a second:
  // a proxy opens an upstream connection for each, and a flood of them measures the
  // upstream's accept loop rather than the proxy.
  if (o.stagger < 0) o.stagger = std::clamp(std::max(stream_len, o.connections / 1000.0), 0.05, 10.0);
  return o;
}

std::string build_request(const Options& o, bool stream) {
  std::string body = o.body;
  if (body.empty()) {
    body = "{\"model\":\"" + o.model + "\",\"stream\":" + (stream ? "true" : "false") + ",\"messages\":[";
    // --history: earlier turns, user and assistant in turn, up to 1,000 bytes of text each.
    static constexpr std::string_view kWords = "The gateway relays every chunk as soon as it arrives. ";
    for (int left = o.history, turn = 0; left > 0; ++turn) {
      const int n = std::min(left, 1000);
      left -= n;
      body += std::string("{\"role\":\"") + (turn % 2 ? "assistant" : "user") + "\",\"content\":\"";
      for (int i = 0; i < n; ++i) body += kWords[static_cast<std::size_t>(i) % kWords.size()];
      body += "\"},";
    }
    body += "{\"role\":\"user\",\"content\":\"";
    if (stream) {
      body += "[scenario:slow chunks=" + std::to_string(o.chunks) + " delay_ms=" + std::to_string(o.delay_ms) + "] ";
    }
    body += "Say hello to the benchmark.\"}]}";
  }
  std::string r = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                  "\r\nContent-Type: application/json\r\nAccept: " + (stream ? "text/event-stream" : "application/json") +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& h : o.headers) r += h + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

bool resolve(const Options& o, sockaddr_storage& ss, socklen_t& len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(o.host.c_str(), std::to_string(o.port).c_str(), &hints, &res) != 0 || !res) return false;
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

int open_socket(const sockaddr_storage& ss, socklen_t len, bool nonblocking) {
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len);
  if (rc != 0 && !(nonblocking && errno == EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// ---- HTTP/1.1 response reading (head, then Content-Length or chunked body) -------------------

struct HttpReader {
  enum class State { head, body_length, chunk_size, chunk_data, chunk_crlf, trailers, done, error };
  State state = State::head;
  std::string head;
  int status = 0;
  bool chunked = false;
  bool close = false;
  int64_t remaining = 0;  // body_length: bytes left; chunk_data: bytes left in the chunk
  std::string line;       // partial chunk-size / trailer line

  void reset() {
    state = State::head;
    head.clear();
    status = 0;
    chunked = close = false;
    remaining = 0;
    line.clear();
  }
  bool done() const { return state == State::done; }
  bool failed() const { return state == State::error; }

  static bool iequal_prefix(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
    return true;
  }

  bool parse_head() {
    // "HTTP/1.1 200 OK\r\n" then headers.
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return false;
    status = std::atoi(head.c_str() + 9);
    bool have_length = false;
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
      const std::size_t eol = head.find("\r\n", pos);
      if (eol == std::string::npos || eol == pos) break;
      std::string_view h(head.data() + pos, eol - pos);
      if (iequal_prefix(h, "content-length:")) {
        remaining = std::atoll(std::string(h.substr(15)).c_str());
        have_length = true;
      } else if (iequal_prefix(h, "transfer-encoding:")) {
        chunked = h.find("chunked") != std::string_view::npos;
      } else if (iequal_prefix(h, "connection:")) {
        close = h.find("close") != std::string_view::npos;
      }
      pos = eol + 2;
    }
    if (head.compare(0, 8, "HTTP/1.0") == 0) close = true;
    if (chunked) state = State::chunk_size;
    else if (have_length) state = remaining > 0 ? State::body_length : State::done;
    else return false;  // read-until-close bodies are not used by the targets we measure
    return true;
  }

  // Consumes bytes; calls body(string_view) with decoded body bytes. Returns bytes consumed
  // (stops at the end of the message so leftovers could be the next response).
  // Hands `body` what of p[i, n) belongs to the current body part (`remaining` bytes) and moves
  // `i` past it; true when the part is complete.
  template <class F>
  bool take_body(const char* p, std::size_t n, std::size_t& i, F& body) {
    const std::size_t take = static_cast<std::size_t>(std::min<int64_t>(remaining, static_cast<int64_t>(n - i)));
    body(std::string_view(p + i, take));
    i += take;
    remaining -= static_cast<int64_t>(take);
    return remaining == 0;
  }

  template <class F>
  std::size_t feed(const char* p, std::size_t n, F&& body) {
    std::size_t i = 0;
    while (i < n && state != State::done && state != State::error) {
      switch (state) {
        case State::head: {
          // Append and look for the end of the head.
          const std::size_t before = head.size();
          head.append(p + i, n - i);
          const std::size_t end = head.find("\r\n\r\n", before > 3 ? before - 3 : 0);
          if (end == std::string::npos) {
            if (head.size() > 64 * 1024) state = State::error;
            return n;
          }
          const std::size_t used = end + 4 - before;
          head.resize(end + 4);
          i += used;
          if (!parse_head()) state = State::error;
          break;
        }
        case State::body_length: {
          if (take_body(p, n, i, body)) state = State::done;
          break;
        }
        case State::chunk_size:
        case State::trailers: {
          const char* nl = static_cast<const char*>(std::memchr(p + i, '\n', n - i));
          if (!nl) {
            line.append(p + i, n - i);
            if (line.size() > 4096) state = State::error;
            return n;
          }
          line.append(p + i, static_cast<std::size_t>(nl - (p + i)));
          i = static_cast<std::size_t>(nl - p) + 1;
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (state == State::trailers) {
            if (line.empty()) state = State::done;
          } else {
            char* endp = nullptr;
            const long long sz = std::strtoll(line.c_str(), &endp, 16);
            if (endp == line.c_str() || sz < 0) {
              state = State::error;
            } else if (sz == 0) {
              state = State::trailers;
            } else {
              remaining = sz;
              state = State::chunk_data;
            }
          }
          line.clear();
          break;
        }
        case State::chunk_data: {
          if (take_body(p, n, i, body)) {
            state = State::chunk_crlf;
            remaining = 2;
          }
          break;
        }
        case State::chunk_crlf: {
          // Skip "\r\n" after the chunk data.
          while (i < n && remaining > 0) {
            ++i;
            --remaining;
          }
          if (remaining == 0) state = State::chunk_size;
          break;
        }
        default: break;
      }
    }
    return i;
  }
};

// ---- statistics ------------------------------------------------------------------------------

double pct(std::vector<uint32_t>& v, double p) {  // v sorted
  if (v.empty()) return 0;
  const double idx = p / 100.0 * static_cast<double>(v.size() - 1);
  return v[static_cast<std::size_t>(std::llround(idx))];
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- stream mode -----------------------------------------------------------------------------

struct StreamStats {
  std::vector<uint32_t> ttft_us;  // per counted stream
  std::vector<uint32_t> cold_ttft_us;  // warm-up streams (the first on each connection)
  std::vector<uint32_t> gap_us;   // every gap between consecutive events of counted streams
  uint64_t started = 0, counted = 0, completed = 0, incomplete = 0, errors = 0, http_errors = 0;
  uint64_t chunks = 0, events = 0, stalled_streams = 0, stall_gaps = 0, missing = 0, extra = 0;
  uint64_t connect_failures = 0, reconnects = 0, no_content = 0;
  uint32_t max_gap_us = 0;
};

struct Conn {
  int fd = -1;
  enum class St { connecting, idle, sending, reading, closed } st = St::closed;
  HttpReader rd;
  std::size_t sent = 0;
  int64_t t_start = 0;    // request write began
  int64_t t_last = -1;    // last event arrival
  int64_t ttft = -1;
  bool counted = false;   // not a warm-up stream
  int streams = 0;        // streams finished (or failed) on this connection
  bool done_marker = false;
  int content_chunks = 0;
  int events = 0;
  bool stalled = false;
  std::string sse;        // unfinished SSE event bytes
  std::vector<uint32_t> gaps;
};

// The measurement window, shared by the worker threads: it opens once every connection has
// run its warm-up streams (the first streams pay for connection setup through a proxy) or at
// the warm-up deadline, and lasts --duration; no stream starts after it closes.
struct Window {
  std::atomic<int> warmed{0};  // connections done with their warm-up streams
  int total = 0;
  int64_t warm_deadline = 0;
  int64_t duration_us = 0;
  std::atomic<int64_t> opened{0};
  std::atomic<int64_t> load_end{INT64_MAX};

  int64_t current_load_end(int64_t now) {
    int64_t le = load_end.load(std::memory_order_relaxed);
    if (le != INT64_MAX) return le;
    if (warmed.load(std::memory_order_relaxed) >= total || now >= warm_deadline) {
      int64_t expected = INT64_MAX;
      if (load_end.compare_exchange_strong(expected, now + duration_us)) opened.store(now);
      return load_end.load();
    }
    return INT64_MAX;
  }
};

class StreamWorker {
 public:
  StreamWorker(const Options& o, const sockaddr_storage& ss, socklen_t sl, int n_conns, int index, int n_workers,
               Window& win)
      : o_(o), ss_(ss), sl_(sl), conns_(static_cast<std::size_t>(n_conns)), index_(index), n_workers_(n_workers),
        win_(win) {
    req_ = build_request(o, true);
    stall_us_ = static_cast<int64_t>(o.stall_ms * 1000);
  }

  // Phase 1: connect every connection (bounded by `deadline`); returns connections up.
  int connect_all(int64_t deadline) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    int up = 0;
    constexpr std::size_t kBatch = 128;  // keep the listen backlog from overflowing
    for (std::size_t base = 0; base < conns_.size() && now_us() < deadline; base += kBatch) {
      std::size_t pending = 0;
      for (std::size_t i = base; i < std::min(conns_.size(), base + kBatch); ++i) {
        if (start_connect(i)) ++pending;
      }
      while (pending > 0 && now_us() < deadline) {
        epoll_event evs[256];
        const int n = epoll_wait(ep_, evs, 256, 100);
        for (int k = 0; k < n; ++k) {
          Conn& c = conns_[evs[k].data.u64];
          if (c.st != Conn::St::connecting) continue;
          --pending;
          if (finish_connect(c)) ++up;
        }
      }
    }
    for (auto& c : conns_)
      if (c.st == Conn::St::connecting) close_conn(c), ++stats.connect_failures;
    return up;
  }

  // Phase 2: warm-up streams, then streams until the window closes; running streams may finish
  // until `timeout` after that. `abs_end` bounds everything.
  void run(int64_t t0, int64_t abs_end) {
    const auto stagger = static_cast<int64_t>(o_.stagger * 1e6);
    const std::size_t total = conns_.size() * static_cast<std::size_t>(n_workers_);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      const std::size_t global = i * static_cast<std::size_t>(n_workers_) + static_cast<std::size_t>(index_);
      schedule(i, t0 + static_cast<int64_t>(static_cast<double>(stagger) * static_cast<double>(global) /
                                            static_cast<double>(std::max<std::size_t>(1, total))));
    }
    std::vector<epoll_event> evs(1024);
    const auto timeout_us = static_cast<int64_t>(o_.timeout * 1e6);
    for (;;) {
      int64_t now = now_us();
      load_end_ = win_.current_load_end(now);
      if (now >= abs_end || (load_end_ != INT64_MAX && now >= load_end_ + timeout_us)) break;
      while (!due_.empty() && due_.top().first <= now) {
        const std::size_t i = due_.top().second;
        due_.pop();
        if (now < load_end_) launch(i, now);
      }
      if (active_ == 0 && (due_.empty() || now >= load_end_)) break;
      int wait_ms = 50;
      if (!due_.empty()) wait_ms = static_cast<int>(std::clamp<int64_t>((due_.top().first - now) / 1000, 0, 50));
      const int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), wait_ms);
      if (n <= 0) continue;
      const int64_t t = now_us();  // one timestamp per wake-up: events of one batch arrived together
      for (int k = 0; k < n; ++k) on_ready(conns_[evs[k].data.u64], evs[k].events, t);
    }
    // Streams still open: incomplete.
    for (auto& c : conns_) {
      if (c.st == Conn::St::sending || c.st == Conn::St::reading) {
        if (c.counted) {
          ++stats.incomplete;
          stats.missing += static_cast<uint64_t>(std::max(0, o_.expect_chunks - c.content_chunks));
        }
      }
      close_conn(c);
    }
    ::close(ep_);
  }

  StreamStats stats;

 private:
  void schedule(std::size_t i, int64_t at) { due_.emplace(at, i); }

  // Starts the next stream on connection i (connecting first when it is closed).
  void launch(std::size_t i, int64_t now) {
    Conn& c = conns_[i];
    if (c.st == Conn::St::closed) {
      if (!start_connect(i)) {
        ++stats.connect_failures;
        schedule(i, now + 100'000);
        return;
      }
      ++stats.reconnects;
      ++active_;
      return;  // the stream starts when the connect completes
    }
    if (c.st != Conn::St::idle) return;
    ++active_;
    start_stream(c, now);
  }

  bool start_connect(std::size_t i) {
    Conn& c = conns_[i];
    c.fd = open_socket(ss_, sl_, true);
    if (c.fd < 0) return false;
    c.st = Conn::St::connecting;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  }

  bool finish_connect(Conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      close_conn(c);
      ++stats.connect_failures;
      return false;
    }
    c.st = Conn::St::idle;
    set_events(c, EPOLLIN | EPOLLRDHUP);
    return true;
  }

  void set_events(Conn& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = static_cast<uint64_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void close_conn(Conn& c) {
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c.fd = -1;
    c.st = Conn::St::closed;
  }

  void start_stream(Conn& c, int64_t now) {
    c.rd.reset();
    c.sse.clear();
    c.gaps.clear();
    c.sent = 0;
    c.t_start = now;
    c.t_last = -1;
    c.ttft = -1;
    c.content_chunks = 0;
    c.events = 0;
    c.stalled = false;
    c.done_marker = false;
    c.counted = c.streams >= o_.warmup_streams;
    ++stats.started;
    c.st = Conn::St::sending;
    send_some(c);
  }

  void send_some(Conn& c) {
    while (c.sent < req_.size()) {
      const ssize_t n = ::send(c.fd, req_.data() + c.sent, req_.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_events(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
        return;
      }
      fail_stream(c);
      return;
    }
    if (c.st == Conn::St::sending) {
      c.st = Conn::St::reading;
      set_events(c, EPOLLIN | EPOLLRDHUP);
    }
  }

  void stream_ended(Conn& c) {
    if (++c.streams == o_.warmup_streams) win_.warmed.fetch_add(1, std::memory_order_relaxed);
  }

  void fail_stream(Conn& c) {
    stream_ended(c);
    ++stats.errors;
    if (c.counted) {
      ++stats.incomplete;
      stats.missing += static_cast<uint64_t>(std::max(0, o_.expect_chunks - c.content_chunks));
    }
    close_conn(c);
    --active_;
    schedule(index_of(c), now_us() + 10'000);  // reconnect shortly, if the load window is still open
  }

  std::size_t index_of(const Conn& c) const { return static_cast<std::size_t>(&c - conns_.data()); }

  void on_ready(Conn& c, uint32_t events, int64_t t) {
    if (c.st == Conn::St::connecting) {
      if (finish_connect(c)) {
        start_stream(c, t);  // a reconnect: start right away
      } else {
        --active_;
        schedule(index_of(c), t + 100'000);
      }
      return;
    }
    if (c.st == Conn::St::sending && (events & EPOLLOUT)) send_some(c);
    if (c.fd < 0) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_some(c, t);
  }

  void read_some(Conn& c, int64_t t) {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (c.st != Conn::St::reading && c.st != Conn::St::sending) {
          // Bytes while idle: unexpected; drop the connection.
          ++stats.errors;
          close_conn(c);
          schedule(index_of(c), t + 10'000);
          return;
        }
        const std::size_t used = c.rd.feed(buf, static_cast<std::size_t>(n), [&](std::string_view body) {
          on_body(c, body, t);
        });
        (void)used;
        if (c.rd.failed()) {
          fail_stream(c);
          return;
        }
        if (c.rd.done()) {
          finish_stream(c, t);
          if (c.fd < 0) return;
        }
        if (static_cast<std::size_t>(n) < sizeof buf) return;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 && errno == EINTR) continue;
      // Closed by the peer (or an error).
      if (c.st == Conn::St::reading || c.st == Conn::St::sending) {
        fail_stream(c);
      } else {
        close_conn(c);  // an idle keep-alive connection closed: the next launch reconnects
      }
      return;
    }
  }

  void on_body(Conn& c, std::string_view body, int64_t t) {
    if (c.rd.status != 200) return;  // error bodies are not SSE
    // Split into events at blank lines ("\n\n"; "\r\n\r\n" is handled by trimming '\r').
    std::size_t start = 0;
    if (!c.sse.empty()) {
      // Join with the unfinished event, then rescan from slightly before the join.
      const std::size_t scan_from = c.sse.size() > 1 ? c.sse.size() - 1 : 0;
      c.sse.append(body);
      std::size_t from = scan_from, cut = 0;
      for (;;) {
        const std::size_t e = find_event_end(c.sse, from);
        if (e == std::string::npos) break;
        on_event(c, std::string_view(c.sse).substr(cut, e - cut), t);
        cut = from = e + 2;
      }
      c.sse.erase(0, cut);
      return;
    }
    for (;;) {
      const std::size_t e = find_event_end(body, start);
      if (e == std::string_view::npos) break;
      on_event(c, body.substr(start, e - start), t);
      start = e + 2;
    }
    if (start < body.size()) c.sse.assign(body.substr(start));
  }

  static std::size_t find_event_end(std::string_view s, std::size_t from) {
    for (std::size_t i = from; i + 1 < s.size(); ++i) {
      const void* hit = std::memchr(s.data() + i, '\n', s.size() - i - 1);
      if (!hit) return std::string_view::npos;
      i = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
      if (s[i + 1] == '\n') return i;
      if (s[i + 1] == '\r' && i + 2 < s.size() && s[i + 2] == '\n') return i + 1;  // "\n\r\n"
    }
    return std::string_view::npos;
  }

  void on_event(Conn& c, std::string_view ev, int64_t t) {
    while (!ev.empty() && (ev.front() == '\r' || ev.front() == '\n')) ev.remove_prefix(1);
    if (ev.substr(0, 5) != "data:") return;  // comments, keep-alives
    ++c.events;
    if (c.t_last >= 0) {
      const int64_t gap = t - c.t_last;
      c.gaps.push_back(static_cast<uint32_t>(std::min<int64_t>(gap, UINT32_MAX)));
      if (gap > stall_us_) c.stalled = true;
    }
    c.t_last = t;
    std::string_view data = ev.substr(5);
    if (!data.empty() && data.front() == ' ') data.remove_prefix(1);
    if (data.substr(0, 6) == "[DONE]") {
      c.done_marker = true;
      return;
    }
    // A content delta: "content":"<something>" (reasoning_content does not match: the quote
    // before `content` is required).
    const std::size_t k = data.find("\"content\":\"");
    if (k != std::string_view::npos && k + 11 < data.size() && data[k + 11] != '"') {
      ++c.content_chunks;
      if (c.ttft < 0) c.ttft = t - c.t_start;
    }
  }

  void finish_stream(Conn& c, int64_t t) {
    stream_ended(c);
    const bool ok = c.rd.status == 200 && c.done_marker;
    if (!c.counted && c.ttft >= 0) stats.cold_ttft_us.push_back(static_cast<uint32_t>(std::min<int64_t>(c.ttft, UINT32_MAX)));
    if (c.rd.status != 200) ++stats.http_errors;
    if (c.counted) {
      ++stats.counted;
      if (ok) ++stats.completed;
      else ++stats.incomplete;
      stats.chunks += static_cast<uint64_t>(c.content_chunks);
      stats.events += static_cast<uint64_t>(c.events);
      if (c.content_chunks < o_.expect_chunks) stats.missing += static_cast<uint64_t>(o_.expect_chunks - c.content_chunks);
      if (c.content_chunks > o_.expect_chunks) stats.extra += static_cast<uint64_t>(c.content_chunks - o_.expect_chunks);
      if (c.ttft >= 0) stats.ttft_us.push_back(static_cast<uint32_t>(std::min<int64_t>(c.ttft, UINT32_MAX)));
      else ++stats.no_content;
      if (c.stalled) ++stats.stalled_streams;
      for (uint32_t g : c.gaps) {
        stats.gap_us.push_back(g);
        if (g > stall_us_) ++stats.stall_gaps;
        stats.max_gap_us = std::max(stats.max_gap_us, g);
      }
    }
    const bool keep = !c.rd.close && c.rd.status == 200;
    c.st = Conn::St::idle;
    if (!keep) close_conn(c);
    --active_;
    if (t < load_end_) launch(index_of(c), t);  // the next stream right away while the window is open
  }

  const Options& o_;
  sockaddr_storage ss_;
  socklen_t sl_;
  std::vector<Conn> conns_;
  int index_, n_workers_;
  int ep_ = -1;
  std::string req_;
  int64_t stall_us_ = 0;
  Window& win_;
  int64_t load_end_ = INT64_MAX;
  int active_ = 0;  // connections connecting or running a stream
  std::priority_queue<std::pair<int64_t, std::size_t>, std::vector<std::pair<int64_t, std::size_t>>,
                      std::greater<>> due_;  // (time, connection): streams waiting to start
};

// ---- idle keep-alive connections ---------------------------------------------------------------

// Connections that made one non-stream request and then stay open without a word: what a server
// keeps for each keep-alive client between requests.
struct IdleSet {
  std::vector<int> fds;
  uint64_t failed = 0;  // could not connect or got no complete 200 answer

  // Opens `n` connections in batches, one request each; bounded by `deadline`.
  void open(const Options& o, const sockaddr_storage& ss, socklen_t sl, int n, int64_t deadline) {
    const std::string req = build_request(o, false);
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    struct Pending {
      int fd;
      std::size_t sent = 0;
      HttpReader rd = {};
    };
    constexpr int kBatch = 256;
    char buf[16384];
    for (int base = 0; base < n && now_us() < deadline; base += kBatch) {
      std::vector<Pending> batch;
      for (int i = base; i < std::min(n, base + kBatch); ++i) {
        const int fd = open_socket(ss, sl, true);
        if (fd < 0) {
          ++failed;
          continue;
        }
        batch.push_back(Pending{fd});
      }
      for (std::size_t k = 0; k < batch.size(); ++k) {
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = k;
        epoll_ctl(ep, EPOLL_CTL_ADD, batch[k].fd, &ev);
      }
      std::size_t left = batch.size();
      while (left > 0 && now_us() < deadline) {
        epoll_event evs[256];
        const int m = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < m; ++e) {
          Pending& p = batch[evs[e].data.u64];
          if (p.fd < 0) continue;
          bool bad = false;
          while (p.sent < req.size()) {
            const ssize_t w = ::send(p.fd, req.data() + p.sent, req.size() - p.sent, MSG_NOSIGNAL);
            if (w > 0) p.sent += static_cast<std::size_t>(w);
            else { bad = !(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)); break; }
          }
          while (!bad && p.sent == req.size() && !p.rd.done()) {
            const ssize_t r = ::recv(p.fd, buf, sizeof buf, 0);
            if (r > 0) p.rd.feed(buf, static_cast<std::size_t>(r), [](std::string_view) {});
            else { bad = !(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)); break; }
            if (p.rd.failed()) bad = true;
          }
          if (bad || (p.rd.done() && (p.rd.status != 200 || p.rd.close))) {
            epoll_ctl(ep, EPOLL_CTL_DEL, p.fd, nullptr);
            ::close(p.fd);
            p.fd = -1;
            ++failed;
            --left;
          } else if (p.rd.done()) {
            epoll_ctl(ep, EPOLL_CTL_DEL, p.fd, nullptr);
            fds.push_back(p.fd);
            p.fd = -1;
            --left;
          } else if (p.sent == req.size()) {
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.u64 = evs[e].data.u64;
            epoll_ctl(ep, EPOLL_CTL_MOD, p.fd, &ev);
          }
        }
      }
      for (auto& p : batch)
        if (p.fd >= 0) ::close(p.fd), ++failed;
    }
    ::close(ep);
  }

  // Connections still open (not closed by the server, no bytes pending); closes them all.
  uint64_t close_all() {
    uint64_t open = 0;
    for (int fd : fds) {
      char c;
      const ssize_t r = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++open;
      ::close(fd);
    }
    fds.clear();
    return open;
  }
};

// Adds x's streams and counters to s (the merge of the threads' and the processes' statistics).
void add_stats(StreamStats& s, const StreamStats& x) {
  s.ttft_us.insert(s.ttft_us.end(), x.ttft_us.begin(), x.ttft_us.end());
  s.cold_ttft_us.insert(s.cold_ttft_us.end(), x.cold_ttft_us.begin(), x.cold_ttft_us.end());
  s.gap_us.insert(s.gap_us.end(), x.gap_us.begin(), x.gap_us.end());
  s.started += x.started; s.counted += x.counted; s.completed += x.completed; s.incomplete += x.incomplete;
  s.errors += x.errors; s.http_errors += x.http_errors; s.chunks += x.chunks; s.events += x.events;
  s.stalled_streams += x.stalled_streams; s.stall_gaps += x.stall_gaps; s.missing += x.missing; s.extra += x.extra;
  s.connect_failures += x.connect_failures; s.reconnects += x.reconnects; s.no_content += x.no_content;
  s.max_gap_us = std::max(s.max_gap_us, x.max_gap_us);
}

// What `total` connections process (or thread) `k` of `n` takes: total/n, one more for the first total%n.
int share_of(int total, int n, int k) { return total / n + (k < total % n ? 1 : 0); }

// ---- stream mode over several processes (--procs) ----------------------------------------------

// Reads exactly `n` bytes from a non-blocking pipe by `deadline`; false on timeout, end of file or error.
bool read_full(int fd, void* data, std::size_t n, int64_t deadline) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r > 0) {
      p += r;
      n -= static_cast<std::size_t>(r);
    } else if (r == 0) {
      return false;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(fd, POLLIN, deadline)) return false;
    } else if (errno != EINTR) {
      return false;
    }
  }
  return true;
}

// Writes all `n` bytes to a non-blocking pipe by `deadline`, a part at a time; false on timeout or error.
bool write_full(int fd, const void* data, std::size_t n, int64_t deadline) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, deadline)) return false;
    } else if (w == 0 || errno != EINTR) {
      return false;
    }
  }
  return true;
}

// One process's part of a stream run; a child sends its own to the parent at the end.
struct StreamShare {
  StreamStats s;
  uint64_t connected = 0, idle_up = 0, idle_failed = 0, idle_open = 0;
  int64_t opened = 0;  // steady clock when its measurement window opened (0: never)
  double cpu = 0;      // CPU seconds used during the load
  double wall = 0;     // seconds the load took
};

// StreamStats' counters, in one order for both ends of the pipe.
std::array<uint64_t*, 15> counters(StreamStats& s) {
  return {&s.started, &s.counted, &s.completed, &s.incomplete, &s.errors, &s.http_errors, &s.chunks, &s.events,
          &s.stalled_streams, &s.stall_gaps, &s.missing, &s.extra, &s.connect_failures, &s.reconnects,
          &s.no_content};
}

// A StreamShare on the pipe: this fixed part, then the TTFT, warm-up TTFT and gap vectors' elements.
struct ShareHead {
  uint64_t counters[15];
  uint64_t n_ttft, n_cold_ttft, n_gap;
  uint64_t connected, idle_up, idle_failed, idle_open;
  int64_t opened;
  double cpu, wall;
  uint32_t max_gap_us;
};

bool send_share(int fd, StreamShare& sh, int64_t deadline) {
  ShareHead h{};
  const auto c = counters(sh.s);
  for (std::size_t k = 0; k < c.size(); ++k) h.counters[k] = *c[k];
  h.n_ttft = sh.s.ttft_us.size();
  h.n_cold_ttft = sh.s.cold_ttft_us.size();
  h.n_gap = sh.s.gap_us.size();
  h.connected = sh.connected;
  h.idle_up = sh.idle_up;
  h.idle_failed = sh.idle_failed;
  h.idle_open = sh.idle_open;
  h.opened = sh.opened;
  h.cpu = sh.cpu;
  h.wall = sh.wall;
  h.max_gap_us = sh.s.max_gap_us;
  auto vec = [&](const std::vector<uint32_t>& v) {
    return write_full(fd, v.data(), v.size() * sizeof(uint32_t), deadline);
  };
  return write_full(fd, &h, sizeof h, deadline) && vec(sh.s.ttft_us) && vec(sh.s.cold_ttft_us) && vec(sh.s.gap_us);
}

bool recv_share(int fd, StreamShare& sh, int64_t deadline) {
  ShareHead h{};
  if (!read_full(fd, &h, sizeof h, deadline)) return false;
  constexpr uint64_t kMaxElements = uint64_t{1} << 32;  // far beyond any run; guards against a garbled head
  if (h.n_ttft > kMaxElements || h.n_cold_ttft > kMaxElements || h.n_gap > kMaxElements) return false;
  const auto c = counters(sh.s);
  for (std::size_t k = 0; k < c.size(); ++k) *c[k] = h.counters[k];
  sh.connected = h.connected;
  sh.idle_up = h.idle_up;
  sh.idle_failed = h.idle_failed;
  sh.idle_open = h.idle_open;
  sh.opened = h.opened;
  sh.cpu = h.cpu;
  sh.wall = h.wall;
  sh.s.max_gap_us = h.max_gap_us;
  auto vec = [&](std::vector<uint32_t>& v, uint64_t n) {
    v.resize(static_cast<std::size_t>(n));
    return read_full(fd, v.data(), v.size() * sizeof(uint32_t), deadline);
  };
  return vec(sh.s.ttft_us, h.n_ttft) && vec(sh.s.cold_ttft_us, h.n_cold_ttft) && vec(sh.s.gap_us, h.n_gap);
}

// The processes of one stream run. The parent (rank 0) forks the children before any thread or socket
// exists; two pipes per child keep the phases in step: a child writes a phase byte up when it is done with a
// phase and waits for the parent's answer down (the go-ahead after --settle, then the start time). At the end
// a child writes its StreamShare up and exits. Every wait is bounded; a child whose parent dies gets SIGTERM.
// With one process there are no children and every step returns at once.
class ProcGroup {
 public:
  int n = 1;
  int rank = 0;  // 0: the parent

  bool child() const { return rank > 0; }

  // Parent: forks procs - 1 children; false (the children stopped, the reason printed) on failure.
  bool spawn(int procs) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t parent = ::getpid();
    for (int r = 1; r < procs; ++r) {
      int up[2], down[2];
      if (::pipe2(up, O_CLOEXEC | O_NONBLOCK) != 0) return spawn_failed("pipe");
      if (::pipe2(down, O_CLOEXEC | O_NONBLOCK) != 0) {
        ::close(up[0]);
        ::close(up[1]);
        return spawn_failed("pipe");
      }
      const pid_t pid = ::fork();
      if (pid < 0) {
        for (int fd : {up[0], up[1], down[0], down[1]}) ::close(fd);
        return spawn_failed("fork");
      }
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
        // The earlier children's pipe ends: closed, so that the parent sees end of file when one dies.
        for (const Child& k : kids_) ::close(k.up), ::close(k.down);
        kids_.clear();
        ::close(up[0]);
        ::close(down[1]);
        up_ = up[1];
        down_ = down[0];
        rank = r;
        n = procs;
        return true;
      }
      ::close(up[1]);
      ::close(down[0]);
      kids_.push_back(Child{pid, up[0], down[1]});
    }
    n = procs;
    return true;
  }

  // Child: reports `phase` done, then waits for the parent's answer (`len` bytes) by `deadline`; exits when
  // the parent is gone or silent.
  void child_step(char phase, void* answer, std::size_t len, int64_t deadline) {
    if (!write_full(up_, &phase, 1, deadline) || !read_full(down_, answer, len, deadline))
      child_lost("waiting for the other processes");
  }

  // Child: sends its part to the parent and exits.
  [[noreturn]] void child_finish(StreamShare& sh, int64_t deadline) {
    if (!send_share(up_, sh, deadline)) child_lost("sending its results");
    ::_exit(0);
  }

  // Parent: waits until every child reported `phase`, by `deadline`; false (children stopped) otherwise.
  bool gather(char phase, int64_t deadline, const char* what) {
    for (std::size_t k = 0; k < kids_.size(); ++k) {
      char c = 0;
      if (!read_full(kids_[k].up, &c, 1, deadline) || c != phase) return lost(k, what, deadline);
    }
    return true;
  }

  // Parent: sends `len` bytes to every child.
  bool release(const void* data, std::size_t len, const char* what) {
    const int64_t deadline = now_us() + 10'000'000;
    for (std::size_t k = 0; k < kids_.size(); ++k)
      if (!write_full(kids_[k].down, data, len, deadline)) return lost(k, what, deadline);
    return true;
  }

  // Parent: reads every child's part, one child after the other (each child only waits on its own pipe),
  // then reaps them.
  bool collect(std::vector<StreamShare>& parts, int64_t deadline) {
    parts.resize(kids_.size());
    for (std::size_t k = 0; k < kids_.size(); ++k)
      if (!recv_share(kids_[k].up, parts[k], deadline)) return lost(k, "sending its results", deadline);
    reap(now_us() + 5'000'000);
    return true;
  }

 private:
  struct Child {
    pid_t pid;
    int up;    // child to parent (parent's read end)
    int down;  // parent to child (parent's write end)
    bool reaped = false;
  };
  std::vector<Child> kids_;  // the parent's
  int up_ = -1, down_ = -1;  // a child's own ends

  [[noreturn]] void child_lost(const char* what) {
    std::fprintf(stderr, "zgate_streamload: process %d: the parent is gone or silent while %s\n", rank, what);
    ::_exit(1);
  }

  bool spawn_failed(const char* what) {
    std::fprintf(stderr, "zgate_streamload: %s: %s\n", what, std::strerror(errno));
    stop();
    return false;
  }

  // Parent: child k failed while `what`; says how, stops every child.
  bool lost(std::size_t k, const char* what, int64_t deadline) {
    Child& c = kids_[k];
    const bool late = now_us() >= deadline;
    int st = 0;
    pid_t r = 0;
    for (int i = 0; i < 20 && r == 0; ++i) {  // a child that closed its pipe is about to end: wait for it a bit
      r = ::waitpid(c.pid, &st, WNOHANG);
      if (r == 0) ::usleep(10'000);
    }
    char how[64];
    if (r == c.pid) {
      c.reaped = true;
      if (WIFEXITED(st)) std::snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
      else if (WIFSIGNALED(st)) std::snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(st));
      else std::snprintf(how, sizeof how, "ended");
    } else {
      std::snprintf(how, sizeof how, "%s", late ? "did not answer in time" : "closed its pipe");
    }
    std::fprintf(stderr, "zgate_streamload: process %zu of %d (pid %d) %s while %s\n", k + 1, n,
                 static_cast<int>(c.pid), how, what);
    stop();
    return false;
  }

  // Parent: ends the children still running and reaps them.
  void stop() {
    for (const Child& c : kids_)
      if (!c.reaped) ::kill(c.pid, SIGTERM);
    reap(now_us() + 2'000'000);
  }

  // Parent: reaps every child by `deadline` (SIGKILL for any still running then) and closes the pipes.
  void reap(int64_t deadline) {
    for (Child& c : kids_) {
      while (!c.reaped) {
        int st = 0;
        const pid_t r = ::waitpid(c.pid, &st, WNOHANG);
        if (r == c.pid || (r < 0 && errno != EINTR)) {
          c.reaped = true;
        } else if (now_us() >= deadline) {
          ::kill(c.pid, SIGKILL);
          ::waitpid(c.pid, &st, 0);
          c.reaped = true;
        } else if (r == 0) {
          ::usleep(10'000);
        }
      }
      if (c.up >= 0) ::close(c.up);
      if (c.down >= 0) ::close(c.down);
      c.up = c.down = -1;
    }
  }
};

int run_stream(const Options& o, const sockaddr_storage& ss, socklen_t sl) {
  // --procs: the children first, before any thread or socket exists.
  ProcGroup procs;
  if (o.procs > 1 && !procs.spawn(o.procs)) return 1;
  const int my_conns = share_of(o.connections, procs.n, procs.rank);
  const int my_idle = share_of(o.idle, procs.n, procs.rank);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(my_conns + my_idle) + 64) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(my_conns + my_idle) + 64);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::vector<std::unique_ptr<StreamWorker>> workers;
  Window win;
  // Worker indexes run over every process's threads, so that the staggered first starts interleave.
  for (int w = 0; w < o.threads; ++w) {
    workers.push_back(std::make_unique<StreamWorker>(o, ss, sl, share_of(my_conns, o.threads, w),
                                                     procs.rank * o.threads + w, o.threads * procs.n, win));
  }
  // Idle keep-alive connections first (each with its one request behind it), then the streams'.
  IdleSet idle;
  const int64_t idle_deadline = now_us() + static_cast<int64_t>(std::min(o.timeout, 60.0) * 1e6);
  if (my_idle > 0) idle.open(o, ss, sl, my_idle, idle_deadline);
  std::size_t idle_up = idle.fds.size();
  auto unix_ms = [] {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
  };
  // The waits between processes: a phase's own bound plus this much.
  constexpr int64_t kSlackUs = 10'000'000;
  char go = 0;
  if (procs.child()) {
    procs.child_step('I', &go, 1, idle_deadline + 2 * kSlackUs + static_cast<int64_t>(o.settle * 1e6));
  } else if (!procs.gather('I', idle_deadline + kSlackUs, "opening its idle connections")) {
    return 1;
  }
  const long long idle_ready_unix_ms = unix_ms();
  if (o.settle > 0 && !procs.child()) std::this_thread::sleep_for(std::chrono::duration<double>(o.settle));
  if (!procs.child() && !procs.release("S", 1, "waiting for the end of --settle")) return 1;
  // Connect phase (not measured).
  const int64_t connect_deadline = now_us() + static_cast<int64_t>(std::min(o.timeout, 30.0) * 1e6);
  std::vector<int> up(workers.size(), 0);
  {
    std::vector<std::thread> ts;
    for (std::size_t w = 0; w < workers.size(); ++w)
      ts.emplace_back([&, w] { up[w] = workers[w]->connect_all(connect_deadline); });
    for (auto& t : ts) t.join();
  }
  int connected = 0;
  for (int u : up) connected += u;
  // The start and the hard end of the load, the same in every process (the steady clock is system-wide).
  struct Start {
    int64_t t0, abs_end;
  } start{};
  if (procs.child()) {
    procs.child_step('C', &start, sizeof start, connect_deadline + 2 * kSlackUs);
  } else if (!procs.gather('C', connect_deadline + kSlackUs, "connecting its streams' connections")) {
    return 1;
  }
  const long long conns_ready_unix_ms = unix_ms();

  const int64_t t0 = procs.child() ? start.t0 : now_us() + 20'000;
  // Wall-clock time of t0, so that a script sampling the server can tell when the load began.
  const int64_t t0_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      20;
  win.total = o.warmup_streams > 0 ? connected : 0;
  win.duration_us = static_cast<int64_t>(o.duration * 1e6);
  // Warm-up: the staggered first starts plus the streams themselves, bounded by --timeout.
  win.warm_deadline = t0 + static_cast<int64_t>((o.stagger + o.timeout) * 1e6);
  const int64_t abs_end =
      procs.child() ? start.abs_end : win.warm_deadline + static_cast<int64_t>((o.duration + o.timeout) * 1e6);
  if (!procs.child()) {
    start = {t0, abs_end};
    if (!procs.release(&start, sizeof start, "waiting for the start time")) return 1;
  }
  const double cpu0 = cpu_seconds();
  const int64_t w0 = now_us();
  {
    std::vector<std::thread> ts;
    for (auto& w : workers) ts.emplace_back([&, wp = w.get()] { wp->run(t0, abs_end); });
    for (auto& t : ts) t.join();
  }
  double wall = static_cast<double>(now_us() - w0) / 1e6;
  double cpu = cpu_seconds() - cpu0;
  uint64_t idle_open = idle.close_all();
  uint64_t idle_failed = idle.failed;

  StreamStats s;
  for (auto& w : workers) add_stats(s, w->stats);
  int64_t opened = win.opened.load();
  if (procs.child()) {
    StreamShare mine{std::move(s), static_cast<uint64_t>(connected), idle_up, idle_failed, idle_open, opened, cpu,
                     wall};
    procs.child_finish(mine, abs_end + 120'000'000);
  }
  // The other processes' parts, merged like the threads'. Their CPU adds up over the longest wall time. Each
  // process has its own measurement window; warmup_s is from the earliest opening among the processes with
  // connections up.
  std::vector<StreamShare> parts;
  if (!procs.collect(parts, std::max(now_us(), abs_end) + 60'000'000)) return 1;
  if (connected == 0) opened = 0;
  for (StreamShare& x : parts) {
    add_stats(s, x.s);
    if (x.connected > 0 && x.opened > 0 && (opened <= 0 || x.opened < opened)) opened = x.opened;
    connected += static_cast<int>(x.connected);
    idle_up += static_cast<std::size_t>(x.idle_up);
    idle_failed += x.idle_failed;
    idle_open += x.idle_open;
    cpu += x.cpu;
    wall = std::max(wall, x.wall);
  }
  if (opened <= 0) opened = win.opened.load();  // no process had a connection up
  std::sort(s.ttft_us.begin(), s.ttft_us.end());
  std::sort(s.cold_ttft_us.begin(), s.cold_ttft_us.end());
  const double warmup_s = opened > 0 ? static_cast<double>(opened - t0) / 1e6 : -1;
  std::sort(s.gap_us.begin(), s.gap_us.end());
  const uint64_t expected = s.counted * static_cast<uint64_t>(o.expect_chunks);
  const double cpu_pct = wall > 0 ? 100.0 * cpu / wall : 0;
  const bool saturated = cpu_pct >= 90.0 * o.threads * procs.n;
  const double ttft_max = s.ttft_us.empty() ? 0 : s.ttft_us.back();
  char who[64];  // "1 thread(s)", or with --procs "1 thread(s) x 2 process(es)"
  if (procs.n > 1) std::snprintf(who, sizeof who, "%d thread(s) x %d process(es)", o.threads, procs.n);
  else std::snprintf(who, sizeof who, "%d thread(s)", o.threads);
  if (!o.quiet) {
    std::printf("stream: %d/%d connections up, %s, pacing %d x %d ms, stall > %.0f ms\n", connected, o.connections,
                who, o.chunks, o.delay_ms, o.stall_ms);
    std::printf("  streams: started %llu, counted %llu, completed %llu, incomplete %llu, errors %llu (http %llu)\n",
                (unsigned long long)s.started, (unsigned long long)s.counted, (unsigned long long)s.completed,
                (unsigned long long)s.incomplete, (unsigned long long)s.errors, (unsigned long long)s.http_errors);
    std::printf("  chunks: received %llu, expected %llu, missing %llu, extra %llu; SSE events %llu\n",
                (unsigned long long)s.chunks, (unsigned long long)expected, (unsigned long long)s.missing,
                (unsigned long long)s.extra, (unsigned long long)s.events);
    std::printf("  TTFT us: p50 %.0f  p99 %.0f  max %.0f   (warm-up streams: p50 %.0f  p99 %.0f; warm-up took %.2f s)\n",
                pct(s.ttft_us, 50), pct(s.ttft_us, 99), ttft_max, pct(s.cold_ttft_us, 50), pct(s.cold_ttft_us, 99),
                warmup_s);
    std::printf("  gap  us: p50 %.0f  p99 %.0f  p99.9 %.0f  max %u\n", pct(s.gap_us, 50), pct(s.gap_us, 99),
                pct(s.gap_us, 99.9), s.max_gap_us);
    if (o.idle > 0)
      std::printf("  idle keep-alive connections: %zu/%d up (%llu failed), %llu still open at the end\n", idle_up, o.idle,
                  (unsigned long long)idle_failed, (unsigned long long)idle_open);
    std::printf("  stalled streams %llu (gaps over threshold %llu); client CPU %.0f%% of %s%s\n",
                (unsigned long long)s.stalled_streams, (unsigned long long)s.stall_gaps, cpu_pct, who,
                saturated ? "  [LOAD GENERATOR SATURATED]" : "");
  }
  std::printf(
      "RESULT mode=stream conns=%d connected=%d started=%llu counted=%llu completed=%llu incomplete=%llu errors=%llu "
      "http_errors=%llu chunks=%llu expected=%llu missing=%llu extra=%llu events=%llu stalled=%llu stall_gaps=%llu "
      "ttft_p50=%.0f ttft_p99=%.0f ttft_max=%.0f gap_p50=%.0f gap_p99=%.0f gap_p999=%.0f gap_max=%u "
      "client_cpu=%.0f saturated=%d connect_failures=%llu cold_ttft_p50=%.0f cold_ttft_p99=%.0f warmup_s=%.2f "
      "gap_p90=%.0f idle=%d idle_up=%zu idle_failed=%llu idle_open_at_end=%llu t0_unix_ms=%lld stagger_s=%.2f "
      "idle_ready_unix_ms=%lld conns_ready_unix_ms=%lld procs=%d\n",
      o.connections, connected, (unsigned long long)s.started, (unsigned long long)s.counted,
      (unsigned long long)s.completed, (unsigned long long)s.incomplete, (unsigned long long)s.errors,
      (unsigned long long)s.http_errors, (unsigned long long)s.chunks, (unsigned long long)expected,
      (unsigned long long)s.missing, (unsigned long long)s.extra, (unsigned long long)s.events,
      (unsigned long long)s.stalled_streams, (unsigned long long)s.stall_gaps, pct(s.ttft_us, 50), pct(s.ttft_us, 99),
      ttft_max, pct(s.gap_us, 50), pct(s.gap_us, 99), pct(s.gap_us, 99.9), s.max_gap_us, cpu_pct, saturated ? 1 : 0,
      (unsigned long long)s.connect_failures, pct(s.cold_ttft_us, 50), pct(s.cold_ttft_us, 99), warmup_s,
      pct(s.gap_us, 90), o.idle, idle_up, (unsigned long long)idle_failed, (unsigned long long)idle_open,
      (long long)t0_unix_ms, o.stagger, idle_ready_unix_ms, conns_ready_unix_ms, procs.n);
  return s.counted > 0 ? 0 : 1;
}

// ---- latency mode ------------------------------------------------------------------------------

int run_latency(const Options& o, const sockaddr_storage& ss, socklen_t sl) {
  const std::string req = build_request(o, false);
  const int64_t hard_end = now_us() + static_cast<int64_t>((o.duration + o.timeout) * 1e6);
  const int64_t per_request = 10'000'000;  // 10 s per request at most
  int fd = -1;
  std::vector<uint32_t> lat;
  lat.reserve(static_cast<std::size_t>(o.requests));
  uint64_t errors = 0, reconnects = 0, non200 = 0;
  HttpReader rd;
  char buf[65536];
  const int total = o.warmup_requests + o.requests;
  const double cpu0 = cpu_seconds();
  int64_t measured_from = 0;
  int done = 0;
  for (int i = 0; i < total && now_us() < hard_end; ++i) {
    if (fd < 0) {
      fd = open_socket(ss, sl, false);
      if (fd < 0) {
        ++errors;
        ::usleep(10'000);
        continue;
      }
      ++reconnects;
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (i == o.warmup_requests) measured_from = now_us();
    rd.reset();
    const int64_t t = now_us();
    const int64_t deadline = std::min(hard_end, t + per_request);
    bool ok = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
    while (ok && !rd.done()) {
      if (!wait_fd(fd, POLLIN, deadline)) { ok = false; break; }
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) { ok = false; break; }
      rd.feed(buf, static_cast<std::size_t>(n), [](std::string_view) {});
      if (rd.failed()) ok = false;
    }
    const int64_t elapsed = now_us() - t;
    if (!ok) {
      ++errors;
      ::close(fd);
      fd = -1;
      continue;
    }
    if (rd.status != 200) ++non200;
    if (i >= o.warmup_requests) {
      lat.push_back(static_cast<uint32_t>(std::min<int64_t>(elapsed, UINT32_MAX)));
      ++done;
    }
    if (rd.close) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) ::close(fd);
  const double wall = measured_from ? static_cast<double>(now_us() - measured_from) / 1e6 : 0;
  const double cpu = cpu_seconds() - cpu0;
  std::vector<uint32_t> sorted = lat;
  std::sort(sorted.begin(), sorted.end());
  double mean = 0;
  for (uint32_t v : sorted) mean += v;
  if (!sorted.empty()) mean /= static_cast<double>(sorted.size());
  const double rps = wall > 0 ? done / wall : 0;
  if (!o.quiet) {
    std::printf("latency: %d requests after %d warm-up, %.0f req/s, errors %llu, non-200 %llu, reconnects %llu\n",
                done, o.warmup_requests, rps, (unsigned long long)errors, (unsigned long long)non200,
                (unsigned long long)(reconnects > 0 ? reconnects - 1 : 0));
    std::printf("  us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.0f  mean %.1f\n", pct(sorted, 50),
                pct(sorted, 90), pct(sorted, 99), pct(sorted, 99.9), sorted.empty() ? 0.0 : sorted.back() * 1.0, mean);
  }
  std::printf(
      "RESULT mode=latency requests=%d errors=%llu non200=%llu p50=%.0f p90=%.0f p99=%.0f p999=%.0f max=%.0f "
      "mean=%.1f rps=%.0f client_cpu=%.0f\n",
      done, (unsigned long long)errors, (unsigned long long)non200, pct(sorted, 50), pct(sorted, 90), pct(sorted, 99),
      pct(sorted, 99.9), sorted.empty() ? 0.0 : sorted.back() * 1.0, mean, rps,
      wall > 0 ? 100.0 * cpu / wall : 0.0);
  return done > 0 && non200 == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  sockaddr_storage ss{};
  socklen_t sl = 0;
  if (!resolve(o, ss, sl)) {
    std::fprintf(stderr, "zgate_streamload: cannot resolve %s\n", o.host.c_str());
    return 2;
  }
  return o.mode == "stream" ? run_stream(o, ss, sl) : run_latency(o, ss, sl);
}
