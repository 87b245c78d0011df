#pragma once
// Per-worker watchdog: I/O deadlines and client hang-up detection on one coarse timer.
//
// Why not a timer per operation (beast::tcp_stream::expires_after): every read and write then
// schedules and cancels a timer (a heap insert, a cancelled handler run, sometimes a timerfd
// syscall), and watching the client for a hang-up with async_wait costs an epoll_ctl per
// request. Here arming a deadline is a clock read and two stores; one timer per worker ticks while
// anything is armed or watched. The deadlines are walked only at the first tick after the earliest
// of them is due (a lower bound kept by arm()), so thousands of open streams whose deadlines are
// far away cost the tick nothing; the walk cancels the sockets whose deadline has passed. Deadlines
// therefore fire up to one tick late (the tick is at most 50 ms and at most an eighth of the
// shortest configured timeout).
//
// Hang-ups are found through the watchdog's own epoll set: a client still watched at its second
// tick (a request that has lasted a tick or more; shorter ones cost nothing) is added to it for
// EPOLLRDHUP, and every tick asks that set, without waiting, which of its sockets hung up. An
// open, silent stream then costs nothing per tick, where polling it did (those polls were most of
// what thousands of open streams cost the worker), and a client that left is noticed within a
// tick or two.
#include <sys/epoll.h>

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
  void heartbeat(Clock::duration every, std::string_view bytes = {});
  void writing(bool w) { writing_ = w; }
  uint64_t heartbeats() const { return hb_sent_; }
  bool expired() const { return expired_; }
  // The socket moved (e.g. into a TLS stream).
  void set_socket(boost::asio::ip::tcp::socket* s);

  // While watched, a hang-up of this socket's peer (EPOLLRDHUP/EPOLLHUP/EPOLLERR) emits a terminal
  // cancellation on `signal` at every tick until unwatched; hung_up() then stays true.
  void watch(boost::asio::cancellation_signal* signal);
  void unwatch() {
    signal_ = nullptr;
    if (listed_ || reg_fd_ >= 0) unlist();
  }
  bool hung_up() const { return hung_up_; }
  // For a socket whose reads wait for readiness once they emptied it (drain.hpp): a reset that
  // came right behind the last bytes read raises no new readiness. While this is on and the
  // deadline has been armed for kProbeAfter, the socket is in the watchdog's epoll set; a
  // hang-up found there cancels the pending operation, and peer_closed() stays true until
  // re-armed.
  inline void probe_peer(bool on);  // (after Watchdog, below: on every read)
  bool peer_closed() const { return peer_closed_; }
  // Set by Watchdog::abort_all(): the server is stopping and this connection's work is being cut.
  bool aborted() const { return aborted_; }

 private:
  friend class Watchdog;
  void unlist();
  Clock::time_point due() const;  // the earliest time the walk has something to do here

  Watchdog* wd_;  // null once the watchdog is gone (frames destroyed with the io_context)
  boost::asio::ip::tcp::socket* sock_;
  Clock::time_point at_ = Clock::time_point::max();
  Clock::time_point armed_at_{};
  Clock::duration hb_every_{0};
  std::string_view hb_bytes_;
  uint64_t hb_sent_ = 0;
  bool writing_ = false;
  uint32_t watched_ticks_ = 0;  // ticks seen on the watch list
  boost::asio::cancellation_signal* signal_ = nullptr;
  Deadline* prev_ = nullptr;  // all deadlines
  Deadline* next_ = nullptr;
  Deadline* wprev_ = nullptr;  // the watch list: watched, not (or no longer) in the epoll set
  Deadline* wnext_ = nullptr;
  bool listed_ = false;
  int reg_fd_ = -1;  // the descriptor registered in the watchdog's epoll set, or -1
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
  // How long a probed read waits before its socket joins the epoll set.
  static constexpr Clock::duration kProbeAfter = std::chrono::seconds(1);
  // Sockets added to the epoll set so far (tests), and walks of all deadlines.
  uint64_t registrations() const { return registrations_; }
  uint64_t walks() const { return walks_; }
  // Cuts the work of every registered connection (the server's shutdown grace has passed): each
  // Deadline is marked aborted(), a watched one gets a terminal cancellation (its exchange ends
  // and the request is answered and recorded), any other has its pending operation cancelled.
  void abort_all();

 private:
  friend class Deadline;
  void add(Deadline* d);
  void remove(Deadline* d);
  void list(Deadline* d);    // onto the watch list
  void unlink(Deadline* d);  // off it
  void start();
  void on_tick();
  void walk(Clock::time_point now);
  bool enroll(Deadline* d);  // into the epoll set; false if that failed
  void drop(Deadline* d);    // out of the epoll set
  void poll_set();
  void send_heartbeat(Deadline& d, Clock::time_point now);

  boost::asio::steady_timer timer_;
  Clock::duration tick_;
  Deadline* head_ = nullptr;   // all deadlines
  Deadline* whead_ = nullptr;  // the watch list
  std::size_t size_ = 0;
  std::size_t enrolled_ = 0;  // sockets in the epoll set
  // No deadline is due before this (a lower bound: arm() lowers it, the walk recomputes it).
  Clock::time_point next_due_ = Clock::time_point::max();
  bool ticking_ = false;
  int epfd_;
  // Cleared by the destructor: a tick already queued when the watchdog goes does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<epoll_event> events_;
  uint64_t registrations_ = 0;
  uint64_t walks_ = 0;
};

inline void Deadline::probe_peer(bool on) {
  probe_ = on;
  if (!wd_) return;
  if (on) {
    const auto due = armed_at_ + Watchdog::kProbeAfter;
    if (due < wd_->next_due_) wd_->next_due_ = due;
  } else if (reg_fd_ >= 0 && !signal_) {
    wd_->drop(this);
  }
}

}  // namespace zgate::io
