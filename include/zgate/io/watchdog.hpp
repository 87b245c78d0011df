#pragma once
// Per-worker watchdog: I/O deadlines and client hang-up detection on one coarse timer.
//
// Why not a timer per operation (beast::tcp_stream::expires_after): every read and write then
// schedules and cancels a timer (a heap insert, a cancelled handler run, sometimes a timerfd
// syscall), and watching the client for a hang-up with async_wait costs an epoll_ctl per
// request. Here arming a deadline is a clock read and a store; one timer per worker ticks while
// anything is registered, cancels the sockets whose deadline has passed, and polls the watched
// client sockets for a hang-up in a single poll() call. Deadlines therefore fire up to one tick
// late (the tick is at most 50 ms and at most an eighth of the shortest configured timeout).
// A client watched for over a second (a long stream, thousands of them open at once) is polled
// every kSlowPoll instead of every tick: the polls were most of what an open, silent stream cost
// the worker, and a client that left is still noticed within kSlowPoll (at once when a write to
// it fails).
#include <poll.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace zgate::io {

using Clock = std::chrono::steady_clock;

class Watchdog;

// The deadline of whatever operation is pending on one socket. Arm it before each read or
// write; when it passes, the watchdog cancels the socket (the operation ends with
// operation_aborted) and expired() says it was a timeout. Lives on the watchdog's thread.
class Deadline {
 public:
  Deadline(Watchdog& wd, boost::asio::ip::tcp::socket* sock);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void arm(Clock::duration d);
  void disarm() { at_ = Clock::time_point::max(); }

  // Heartbeats of an open stream: while `every` is non-zero, at the first tick when nothing has
  // been armed on this socket for `every` and no write is in progress (writing(true) ... false
  // around any write that waits), the watchdog writes `bytes` (a whole chunk of the body) to the
  // socket itself. Zero turns them off; do so before the last chunk of a body.
  void heartbeat(Clock::duration every, std::string_view bytes = {}) {
    hb_every_ = every;
    hb_bytes_ = bytes;
  }
  void writing(bool w) { writing_ = w; }
  uint64_t heartbeats() const { return hb_sent_; }
  bool expired() const { return expired_; }
  // The socket moved (e.g. into a TLS stream).
  void set_socket(boost::asio::ip::tcp::socket* s) { sock_ = s; }

  // While watched, a hang-up of this socket's peer (POLLRDHUP/POLLHUP/POLLERR) emits a terminal
  // cancellation on `signal` at every tick until unwatched; hung_up() then stays true.
  void watch(boost::asio::cancellation_signal* signal) {
    signal_ = signal;
    hung_up_ = false;
    watched_ticks_ = 0;
  }
  void unwatch() { signal_ = nullptr; }
  bool hung_up() const { return hung_up_; }
  // For a socket whose reads wait for readiness once they emptied it (drain.hpp): a reset that
  // came right behind the last bytes read raises no new readiness. While this is on and the
  // deadline has been armed for kEagerPoll, the watchdog polls the socket every kSlowPoll; a
  // hang-up it finds cancels the pending operation, and peer_closed() stays true until re-armed.
  void probe_peer(bool on) { probe_ = on; }
  bool peer_closed() const { return peer_closed_; }
  // Set by Watchdog::abort_all(): the server is stopping and this connection's work is being cut.
  bool aborted() const { return aborted_; }

 private:
  friend class Watchdog;
  Watchdog* wd_;  // null once the watchdog is gone (frames destroyed with the io_context)
  boost::asio::ip::tcp::socket* sock_;
  Clock::time_point at_ = Clock::time_point::max();
  Clock::time_point armed_at_{};
  Clock::duration hb_every_{0};
  std::string_view hb_bytes_;
  uint64_t hb_sent_ = 0;
  bool writing_ = false;
  uint32_t watched_ticks_ = 0;  // ticks since watch(), up to the watchdog's eager_ticks_
  boost::asio::cancellation_signal* signal_ = nullptr;
  Deadline* prev_ = nullptr;
  Deadline* next_ = nullptr;
  bool expired_ = false;
  bool hung_up_ = false;
  bool aborted_ = false;
  bool probe_ = false;
  bool peer_closed_ = false;
};

class Watchdog {
 public:
  Watchdog(boost::asio::io_context& ioc, Clock::duration tick);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  Clock::duration tick() const { return tick_; }
  std::size_t size() const { return size_; }
  // The tick for a configuration: an eighth of the shortest timeout, within [5 ms, 50 ms].
  static Clock::duration tick_for(Clock::duration shortest_timeout);
  // How often a client watched for longer than kEagerPoll is polled for a hang-up.
  static constexpr Clock::duration kEagerPoll = std::chrono::seconds(1);
  static constexpr Clock::duration kSlowPoll = std::chrono::milliseconds(250);
  // Sockets polled for a hang-up so far, one per socket per poll (tests).
  uint64_t polled() const { return polled_; }
  // Cuts the work of every registered connection (the server's shutdown grace has passed): each
  // Deadline is marked aborted(), a watched one gets a terminal cancellation (its exchange ends
  // and the request is answered and recorded), any other has its pending operation cancelled.
  void abort_all();

 private:
  friend class Deadline;
  void add(Deadline* d);
  void remove(Deadline* d);
  void start();
  void on_tick();
  void send_heartbeat(Deadline& d, Clock::time_point now);

  boost::asio::steady_timer timer_;
  Clock::duration tick_;
  Deadline* head_ = nullptr;
  std::size_t size_ = 0;
  bool ticking_ = false;
  // Cleared by the destructor: a tick already queued when the watchdog goes does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<pollfd> pfds_;
  std::vector<Deadline*> watched_;
  uint32_t eager_ticks_;  // kEagerPoll in ticks
  uint32_t slow_every_;   // kSlowPoll in ticks
  uint64_t ticks_ = 0;
  uint64_t polled_ = 0;
};

}  // namespace zgate::io
