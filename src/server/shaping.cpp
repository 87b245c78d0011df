#include "shaping.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace zgate {

namespace net = boost::asio;
using Clock = GateQueue::Clock;

namespace {

constexpr auto nothrow = net::as_tuple(net::use_awaitable);

// One queued request: its timer runs on its own worker's executor and is cancelled there (by a
// post) when a grant names it.
struct Waiter {
  explicit Waiter(const net::any_io_executor& ex) : timer(ex), executor(ex) {}
  net::steady_timer timer;
  net::any_io_executor executor;
  bool granted = false;  // under the gate's mutex
  GateQueue::Time start{};
};

int retry_after_seconds(Clock::duration d) {
  const auto s = std::chrono::ceil<std::chrono::seconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(s, 1, 3600));
}

int64_t micros(Clock::duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }

}  // namespace

struct ShapingGate {
  std::string provider, model;
  std::mutex mu;
  GateQueue queue;
  std::unordered_map<uint64_t, std::shared_ptr<Waiter>> waiters;  // by ticket
  LocalShapingStore* store = nullptr;

  // Wakes every queued request a slot is free for; under mu.
  void grant(const ShapingLimits& l, GateQueue::Time now) {
    while (auto g = queue.next(l, now)) {
      const auto it = waiters.find(g->ticket);
      if (it == waiters.end()) continue;  // cannot happen: a waiter leaves the queue before the map
      Waiter& w = *it->second;
      w.granted = true;
      w.start = g->start;
      net::post(w.executor, [w = it->second] { w->timer.cancel(); });
    }
  }
};

GatePass& GatePass::operator=(GatePass&& o) noexcept {
  if (this != &o) {
    release();
    gate_ = std::exchange(o.gate_, nullptr);
    limits_ = o.limits_;
    started_ = o.started_;
  }
  return *this;
}

void GatePass::release() {
  if (!gate_) return;
  LocalShapingStore::release(*std::exchange(gate_, nullptr), limits_, started_);
}

LocalShapingStore::LocalShapingStore() = default;
LocalShapingStore::~LocalShapingStore() = default;

ShapingGate& LocalShapingStore::gate(const GateKey& key) {
  std::string name;
  name.reserve(key.provider.size() + key.model.size() + 8);
  name.append(key.provider).push_back('\0');
  name.append(std::to_string(key.credential)).push_back('\0');
  name.append(key.model);
  std::lock_guard lock(mu_);
  auto& g = gates_[name];
  if (!g) {
    g = std::make_unique<ShapingGate>();
    g->provider = key.provider;
    g->model = key.model;
    g->store = this;
  }
  return *g;
}

void LocalShapingStore::release(ShapingGate& g, const ShapingLimits& limits, GateQueue::Time started) {
  const auto now = Clock::now();
  std::lock_guard lock(g.mu);
  g.queue.release(started, now);
  g.grant(limits, now);
}

net::awaitable<GateEntry> LocalShapingStore::enter(const GateKey& key, const ShapingLimits& limits) {
  GateEntry e;
  ShapingGate& g = gate(key);
  const auto t0 = Clock::now();
  auto ex = co_await net::this_coro::executor;
  std::shared_ptr<Waiter> w;
  GateQueue::Arrival a;
  {
    std::lock_guard lock(g.mu);
    a = g.queue.arrive(limits, t0);
    if (a.verdict == GateQueue::Verdict::wait) {
      w = std::make_shared<Waiter>(ex);
      g.waiters.emplace(a.ticket, w);
      g.grant(limits, t0);  // a reload may have raised the limit
    }
  }
  e.depth = a.depth;
  auto refuse = [&](std::string why, Clock::duration retry) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    e.kind = GateEntry::Kind::refused;
    const int ra = retry_after_seconds(retry);
    e.error = too_many_requests(
        fmt::format("Upstream '{}' is at its limit for model '{}' (max_concurrent = {}, min_interval_ms = {}, "
                    "queue_max = {}, queue_timeout_ms = {}): {}; retry in {} s.",
                    key.provider, key.model, limits.max_concurrent, limits.min_interval.count(), limits.queue_max,
                    limits.queue_timeout.count(), why, ra),
        ra);
  };
  if (a.verdict == GateQueue::Verdict::full) {
    refuse(a.depth >= limits.queue_max ? fmt::format("{} requests are already waiting", a.depth)
                                       : std::string("the next start is beyond queue_timeout_ms"),
           a.retry_after);
    co_return e;
  }

  GateQueue::Time start = a.start;
  if (w) {
    // Queued: wait for a grant (which cancels the timer), the timeout, or a cancellation.
    waiting_.fetch_add(1, std::memory_order_relaxed);
    w->timer.expires_at(t0 + limits.queue_timeout);
    auto [ec] = co_await w->timer.async_wait(nothrow);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    bool granted;
    Clock::duration retry{};
    {
      std::lock_guard lock(g.mu);
      granted = w->granted;
      if (!granted) {
        g.queue.leave(a.ticket);
        retry = g.queue.estimate(limits, g.queue.waiting(), Clock::now());
      }
      g.waiters.erase(a.ticket);
      start = w->start;
    }
    e.wait_us = micros(Clock::now() - t0);
    if (!granted) {
      if (!ec) {
        refuse(fmt::format("no slot within queue_timeout_ms ({} requests were ahead)", a.depth), retry);
      } else {
        e.kind = GateEntry::Kind::cancelled;
      }
      co_return e;
    }
    // Granted; a cancellation that raced the grant is the caller's to see (its client's state).
  }
  e.pass.gate_ = &g;
  e.pass.limits_ = limits;
  e.pass.started_ = start;
  if (start > Clock::now()) {
    // The slot is ours, but min_interval puts its start later.
    net::steady_timer timer(ex, start);
    waiting_.fetch_add(1, std::memory_order_relaxed);
    auto [ec] = co_await timer.async_wait(nothrow);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    if (ec) {
      e.pass.release();
      e.kind = GateEntry::Kind::cancelled;
    }
  }
  e.wait_us = micros(Clock::now() - t0);
  co_return e;
}

}  // namespace zgate
