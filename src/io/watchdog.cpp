#include "zgate/io/watchdog.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace zgate::io {

Deadline::Deadline(Watchdog& wd, boost::asio::ip::tcp::socket* sock) : wd_(&wd), sock_(sock) { wd_->add(this); }

Deadline::~Deadline() {
  if (wd_) wd_->remove(this);
}

void Deadline::arm(Clock::duration d) {
  armed_at_ = Clock::now();
  at_ = armed_at_ + d;
  expired_ = false;
  peer_closed_ = false;
  if (wd_ && !wd_->ticking_) wd_->start();
}

Watchdog::Watchdog(boost::asio::io_context& ioc, Clock::duration tick)
    : timer_(ioc),
      tick_(tick),
      eager_ticks_(static_cast<uint32_t>(std::max<Clock::rep>(1, kEagerPoll / tick))),
      slow_every_(static_cast<uint32_t>(std::max<Clock::rep>(1, kSlowPoll / tick))) {}

Watchdog::~Watchdog() {
  *alive_ = false;
  for (Deadline* d = head_; d;) {
    Deadline* next = d->next_;
    d->wd_ = nullptr;
    d->prev_ = d->next_ = nullptr;
    d = next;
  }
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

void Watchdog::abort_all() {
  for (Deadline* d = head_; d; d = d->next_) {
    d->aborted_ = true;
    if (d->signal_) {
      d->signal_->emit(boost::asio::cancellation_type::terminal);
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

void Watchdog::on_tick() {
  ticking_ = false;
  if (!head_) return;  // nothing registered: stay idle until the next arm()
  const auto now = Clock::now();
  pfds_.clear();
  watched_.clear();
  bool armed = false;
  bool watching = false;
  const bool slow_round = ++ticks_ % slow_every_ == 0;
  for (Deadline* d = head_; d; d = d->next_) {
    if (d->at_ != Clock::time_point::max()) {
      armed = true;
      if (now >= d->at_) {
        // Cancelled at every tick until re-armed: an operation started after an expiry (the
        // phase's deadline covers several operations) is cut too.
        d->expired_ = true;
        boost::system::error_code ignored;
        if (d->sock_ && d->sock_->is_open()) d->sock_->cancel(ignored);
      }
    }
    if (d->hb_every_.count() != 0 && !d->writing_ && !d->hung_up_ && now - d->armed_at_ >= d->hb_every_) {
      send_heartbeat(*d, now);
    }
    if (d->signal_) {
      if (d->hung_up_ || d->aborted_) {
        d->signal_->emit(boost::asio::cancellation_type::terminal);
      } else if (d->sock_ && d->sock_->is_open()) {
        watching = true;
        if (d->watched_ticks_ < eager_ticks_) {
          ++d->watched_ticks_;
        } else if (!slow_round) {
          continue;
        }
        pfds_.push_back(pollfd{d->sock_->native_handle(), static_cast<short>(POLLIN | POLLRDHUP), 0});
        watched_.push_back(d);
      }
    } else if (d->probe_ && slow_round && d->at_ != Clock::time_point::max() && !d->peer_closed_ &&
               now - d->armed_at_ >= kEagerPoll && d->sock_ && d->sock_->is_open()) {
      pfds_.push_back(pollfd{d->sock_->native_handle(), static_cast<short>(POLLIN | POLLRDHUP), 0});
      watched_.push_back(d);
    }
  }
  polled_ += pfds_.size();
  if (!pfds_.empty() && ::poll(pfds_.data(), pfds_.size(), 0) > 0) {
    for (std::size_t i = 0; i < pfds_.size(); ++i) {
      if ((pfds_[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) continue;
      Deadline* d = watched_[i];
      if (d->signal_) {
        d->hung_up_ = true;
        d->signal_->emit(boost::asio::cancellation_type::terminal);
      } else {  // a probed socket
        d->peer_closed_ = true;
        boost::system::error_code ignored;
        d->sock_->cancel(ignored);
      }
    }
  }
  // Keep ticking while a deadline is armed or a socket is watched; otherwise the next arm()
  // starts the timer again.
  if (armed || watching) start();
}

}  // namespace zgate::io
