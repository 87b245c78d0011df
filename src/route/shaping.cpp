#include "zgate/route/shaping.hpp"

#include <algorithm>

namespace zgate {

namespace {
bool free_slot(const ShapingLimits& l, unsigned active) { return l.max_concurrent == 0 || active < l.max_concurrent; }
}  // namespace

GateQueue::Time GateQueue::take(const ShapingLimits& l, Time now) {
  const Time start = std::max(now, next_start_);
  next_start_ = start + l.min_interval;
  ++active_;
  return start;
}

GateQueue::Clock::duration GateQueue::estimate(const ShapingLimits& l, std::size_t ahead, Time now) const {
  Clock::duration d = next_start_ > now ? next_start_ - now : Clock::duration::zero();
  d += l.min_interval * static_cast<int64_t>(ahead);
  if (l.max_concurrent > 0) {
    // Each round of max_concurrent requests ahead frees its slots after about one hold.
    d += mean_hold_ * static_cast<int64_t>(ahead / l.max_concurrent + 1);
  }
  return d;
}

GateQueue::Arrival GateQueue::arrive(const ShapingLimits& l, Time now) {
  Arrival a;
  // Requests that hold a slot but start later (min_interval) are waiting too.
  std::size_t later = 0;
  if (l.min_interval.count() > 0 && next_start_ - l.min_interval > now) {
    const auto gap = next_start_ - l.min_interval - now;  // to the last start planned
    later = static_cast<std::size_t>((gap + l.min_interval - Clock::duration(1)) / l.min_interval);
  }
  a.depth = queue_.size() + later;
  if (queue_.empty() && free_slot(l, active_)) {
    const Time start = std::max(now, next_start_);
    if (start > now && (later >= l.queue_max || start - now > l.queue_timeout)) {
      a.verdict = Verdict::full;
      a.retry_after = std::max<Clock::duration>(start - now - l.queue_timeout, l.min_interval);
      return a;
    }
    a.start = take(l, now);
    return a;
  }
  if (a.depth >= l.queue_max) {
    a.verdict = Verdict::full;
    a.retry_after = estimate(l, a.depth, now);
    return a;
  }
  a.verdict = Verdict::wait;
  a.ticket = next_ticket_++;
  queue_.push_back(a.ticket);
  return a;
}

void GateQueue::release(Time started, Time now) {
  if (active_ > 0) --active_;
  const auto hold = std::max(now - started, Clock::duration::zero());
  mean_hold_ = mean_hold_ == Clock::duration::zero() ? hold : mean_hold_ + (hold - mean_hold_) / 8;
}

std::optional<GateQueue::Grant> GateQueue::next(const ShapingLimits& l, Time now) {
  if (queue_.empty() || !free_slot(l, active_)) return std::nullopt;
  Grant g{.ticket = queue_.front(), .start = take(l, now)};
  queue_.pop_front();
  return g;
}

bool GateQueue::leave(uint64_t ticket) {
  const auto it = std::find(queue_.begin(), queue_.end(), ticket);
  if (it == queue_.end()) return false;
  queue_.erase(it);
  return true;
}

}  // namespace zgate
