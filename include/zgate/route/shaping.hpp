#pragma once
// The bookkeeping of upstream shaping (docs/shaping.md) for one gate, i.e. one upstream
// credential and upstream model: the slots in use (requests running upstream), when the next
// request may start, and the FIFO queue of requests waiting for a slot. Pure and not
// thread-safe: the server keeps one per gate under a small mutex and does the waiting and the
// waking; tests drive it with their own time points.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

#include "zgate/config/config.hpp"

namespace zgate {

class GateQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Time = Clock::time_point;

  enum class Verdict : unsigned char {
    start,  // a slot is taken: start at `start` (now, or later to keep min_interval)
    wait,   // queued as `ticket`: wait for grant() to name it
    full,   // refused: the queue is full, or the start would be later than queue_timeout
  };
  struct Arrival {
    Verdict verdict = Verdict::start;
    Time start{};           // Verdict::start: when the request may start
    uint64_t ticket = 0;    // Verdict::wait: the place in the queue
    std::size_t depth = 0;  // requests ahead of this one when it arrived (queued or due to start later)
    Clock::duration retry_after{};  // Verdict::full: an estimate of when trying again may succeed
  };
  // A queued request that got a slot, and when it may start.
  struct Grant {
    uint64_t ticket = 0;
    Time start{};
  };

  // A request arrives under limits `l`.
  Arrival arrive(const ShapingLimits& l, Time now);
  // A request that held a slot since `started` ends at `now`; its slot is free.
  void release(Time started, Time now);
  // The head of the queue when a slot is free for it (it is taken and the head leaves the
  // queue); nothing otherwise. The caller wakes the request named. Call it until it returns
  // nothing after every arrive() and release(): a reload may have raised the limit.
  std::optional<Grant> next(const ShapingLimits& l, Time now);
  // A queued request leaves without a slot (it timed out, or its client left). False when it
  // is no longer queued: a grant for it was made meanwhile, and it holds a slot it must release.
  bool leave(uint64_t ticket);

  // The wait a newcomer could expect with `ahead` requests before it (for Retry-After).
  Clock::duration estimate(const ShapingLimits& l, std::size_t ahead, Time now) const;

  std::size_t waiting() const { return queue_.size(); }
  unsigned active() const { return active_; }

 private:
  // Takes a slot for a start at `now` or later, keeping min_interval between starts.
  Time take(const ShapingLimits& l, Time now);

  std::deque<uint64_t> queue_;
  uint64_t next_ticket_ = 1;
  unsigned active_ = 0;
  Time next_start_{};  // no start before this (last start + min_interval)
  // A running average of how long a request holds its slot (the exchange's duration), for the
  // Retry-After estimate; zero until a request ended.
  Clock::duration mean_hold_{};
};

}  // namespace zgate
