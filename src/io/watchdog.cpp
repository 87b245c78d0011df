#include "zgate/io/watchdog.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace zgate::io {

namespace {
// What the epoll set asks of its sockets: a peer's hang-up only (EPOLLHUP and EPOLLERR are always
// reported). Pending request bytes are not a hang-up.
constexpr uint32_t kHangUp = EPOLLRDHUP;
constexpr uint32_t kHangUpSeen = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::size_t kEventsPerCall = 256;
}  // namespace

Deadline::Deadline(Watchdog& wd, boost::asio::ip::tcp::socket* sock) : wd_(&wd), sock_(sock) { wd_->add(this); }

Deadline::~Deadline() {
  if (!wd_) return;
  if (listed_ || reg_fd_ >= 0) unlist();
  wd_->remove(this);
}

void Deadline::arm(Clock::duration d) {
  armed_at_ = Clock::now();
  at_ = armed_at_ + d;
  expired_ = false;
  peer_closed_ = false;
  if (!wd_) return;
  const auto due = probe_ ? std::min(at_, armed_at_ + Watchdog::kProbeAfter) : at_;
  if (due < wd_->next_due_) wd_->next_due_ = due;
  if (!wd_->ticking_) wd_->start();
}

void Deadline::heartbeat(Clock::duration every, std::string_view bytes) {
  hb_every_ = every;
  hb_bytes_ = bytes;
  if (wd_ && every.count() != 0) wd_->next_due_ = std::min(wd_->next_due_, armed_at_ + every);
}

void Deadline::watch(boost::asio::cancellation_signal* signal) {
  signal_ = signal;
  hung_up_ = false;
  watched_ticks_ = 0;
  if (wd_ && !listed_ && reg_fd_ < 0) wd_->list(this);
}

void Deadline::set_socket(boost::asio::ip::tcp::socket* s) {
  if (reg_fd_ >= 0 && wd_) wd_->drop(this);
  sock_ = s;
}

void Deadline::unlist() {
  if (listed_) wd_->unlink(this);
  if (reg_fd_ >= 0) wd_->drop(this);
}

Clock::time_point Deadline::due() const {
  auto t = at_;  // an expired deadline stays due: it is cancelled at every walk until re-armed
  if (hb_every_.count() != 0 && !hung_up_) t = std::min(t, armed_at_ + hb_every_);
  if (probe_ && at_ != Clock::time_point::max() && !peer_closed_ && reg_fd_ < 0) {
    t = std::min(t, armed_at_ + Watchdog::kProbeAfter);
  }
  return t;
}

Watchdog::Watchdog(boost::asio::io_context& ioc, Clock::duration tick)
    : timer_(ioc), tick_(tick), epfd_(::epoll_create1(EPOLL_CLOEXEC)), events_(kEventsPerCall) {
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "watchdog epoll set");
}

Watchdog::~Watchdog() {
  *alive_ = false;
  for (Deadline* d = head_; d;) {
    Deadline* next = d->next_;
    d->wd_ = nullptr;
    d->prev_ = d->next_ = d->wprev_ = d->wnext_ = nullptr;
    d->listed_ = false;
    d->reg_fd_ = -1;  // the set goes with its descriptor
    d = next;
  }
  ::close(epfd_);
}

Clock::duration Watchdog::tick_for(Clock::duration shortest_timeout) {
  return std::clamp<Clock::duration>(shortest_timeout / 8, std::chrono::milliseconds(5), std::chrono::milliseconds(50));
}

void Watchdog::add(Deadline* d) {
  d->next_ = head_;
  if (head_) head_->prev_ = d;
  head_ = d;
  ++size_;
}

void Watchdog::remove(Deadline* d) {
  if (d->prev_) d->prev_->next_ = d->next_;
  else if (head_ == d) head_ = d->next_;
  if (d->next_) d->next_->prev_ = d->prev_;
  d->prev_ = d->next_ = nullptr;
  --size_;
}

void Watchdog::list(Deadline* d) {
  d->wprev_ = nullptr;
  d->wnext_ = whead_;
  if (whead_) whead_->wprev_ = d;
  whead_ = d;
  d->listed_ = true;
  if (!ticking_) start();
}

void Watchdog::unlink(Deadline* d) {
  if (d->wprev_) d->wprev_->wnext_ = d->wnext_;
  else whead_ = d->wnext_;
  if (d->wnext_) d->wnext_->wprev_ = d->wprev_;
  d->wprev_ = d->wnext_ = nullptr;
  d->listed_ = false;
}

bool Watchdog::enroll(Deadline* d) {
  if (!d->sock_ || !d->sock_->is_open()) return false;
  const int fd = d->sock_->native_handle();
  epoll_event ev{};
  ev.events = kHangUp;
  ev.data.ptr = d;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  d->reg_fd_ = fd;
  ++enrolled_;
  ++registrations_;
  return true;
}

// A socket closed while in the set has left it with its descriptor, and the number may belong to
// another socket by now: only a socket still open under the registered number is removed.
void Watchdog::drop(Deadline* d) {
  if (d->sock_ && d->sock_->is_open() && d->sock_->native_handle() == d->reg_fd_) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, d->reg_fd_, nullptr);
  }
  d->reg_fd_ = -1;
  --enrolled_;
}

void Watchdog::abort_all() {
  for (Deadline* d = head_; d; d = d->next_) {
    d->aborted_ = true;
    if (d->signal_) {
      d->signal_->emit(boost::asio::cancellation_type::terminal);
      // Emitted again at every tick until unwatched, from the watch list.
      if (d->reg_fd_ >= 0) drop(d);
      if (!d->listed_) list(d);
    } else if (d->sock_ && d->sock_->is_open()) {
      boost::system::error_code ignored;
      d->sock_->cancel(ignored);
    }
  }
}

// Writes a stream's heartbeat chunk. The stream's coroutine is waiting for the upstream (no
// write of its own is in progress: writing_ is false) and runs on this thread, so the bytes
// cannot interleave with a chunk. Sent only when poll() says the socket is writable, which on
// Linux means at least a third of its send buffer is free, far more than a heartbeat: so it is
// written whole or not at all; a short write (not seen in practice) would break the framing, and
// the socket is then shut down rather than let the client read a corrupt body.
void Watchdog::send_heartbeat(Deadline& d, Clock::time_point now) {
  d.armed_at_ = now;
  if (!d.sock_ || !d.sock_->is_open() || d.hb_bytes_.empty()) return;
  const int fd = d.sock_->native_handle();
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0) return;  // a client that does not read: skip
  const ssize_t n = ::send(fd, d.hb_bytes_.data(), d.hb_bytes_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == static_cast<ssize_t>(d.hb_bytes_.size())) {
    ++d.hb_sent_;
  } else if (n > 0) {
    boost::system::error_code ignored;
    d.sock_->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  }
}

void Watchdog::start() {
  ticking_ = true;
  timer_.expires_after(tick_);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec) return;
    on_tick();
  });
}

// Asks the epoll set, without waiting, which of its sockets hung up.
void Watchdog::poll_set() {
  for (;;) {
    const int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), 0);
    for (int i = 0; i < n; ++i) {
      if ((events_[i].events & kHangUpSeen) == 0) continue;
      auto* d = static_cast<Deadline*>(events_[i].data.ptr);
      drop(d);  // reported once: a watched one is emitted again from the watch list
      if (d->signal_) {
        d->hung_up_ = true;
        d->signal_->emit(boost::asio::cancellation_type::terminal);
        if (!d->listed_) list(d);
      } else {  // a probed socket
        d->peer_closed_ = true;
        boost::system::error_code ignored;
        d->sock_->cancel(ignored);
      }
    }
    if (n < static_cast<int>(events_.size())) return;
  }
}

void Watchdog::walk(Clock::time_point now) {
  ++walks_;
  auto next = Clock::time_point::max();
  for (Deadline* d = head_; d; d = d->next_) {
    if (d->at_ != Clock::time_point::max() && now >= d->at_) {
      // Cancelled at every walk until re-armed: an operation started after an expiry (the
      // phase's deadline covers several operations) is cut too.
      d->expired_ = true;
      boost::system::error_code ignored;
      if (d->sock_ && d->sock_->is_open()) d->sock_->cancel(ignored);
    }
    if (d->hb_every_.count() != 0 && !d->writing_ && !d->hung_up_ && now - d->armed_at_ >= d->hb_every_) {
      send_heartbeat(*d, now);
    }
    if (d->probe_ && d->at_ != Clock::time_point::max() && !d->peer_closed_ && d->reg_fd_ < 0 && !d->signal_ &&
        now - d->armed_at_ >= kProbeAfter && !enroll(d)) {
      // Not added (the socket closed): nothing to probe until re-armed.
      d->probe_ = false;
    }
    next = std::min(next, d->due());
  }
  next_due_ = next;
}

void Watchdog::on_tick() {
  ticking_ = false;
  // The watch list: watched clients not in the epoll set. At its second tick a watched client
  // joins the set (shorter requests never pay for it); one that hung up or was aborted is
  // emitted again until unwatched.
  for (Deadline* d = whead_; d;) {
    Deadline* next = d->wnext_;
    if (!d->signal_) {
      d->unlist();
    } else if (d->hung_up_ || d->aborted_) {
      d->signal_->emit(boost::asio::cancellation_type::terminal);
    } else if (++d->watched_ticks_ >= 2) {
      if (d->reg_fd_ < 0 && enroll(d)) unlink(d);
    }
    d = next;
  }
  if (enrolled_ > 0) poll_set();
  const auto now = Clock::now();
  if (now >= next_due_) walk(now);
  // Keep ticking while something is due, watched or in the set; otherwise the next arm() or
  // watch() starts the timer again.
  if (next_due_ != Clock::time_point::max() || whead_ || enrolled_ > 0) start();
}

}  // namespace zgate::io
