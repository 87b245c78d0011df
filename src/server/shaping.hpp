#pragma once
// Upstream shaping (docs/shaping.md): per upstream credential and upstream model, a gate that
// lets at most max_concurrent requests run upstream at once, starts them at least min_interval
// apart, and queues the rest in arrival order (bounded in length and in wait). A credential's
// concurrency is the whole process's, so the gates are shared by all workers: each has a small
// mutex, taken only by requests of shaped providers, and a waiter is woken by a post to its own
// worker's executor (no worker thread ever blocks). Private to src/server.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "zgate/config/config.hpp"
#include "zgate/core/error.hpp"
#include "zgate/route/shaping.hpp"

namespace zgate {

struct ShapingGate;

// A slot held at a gate: released (and handed to the head of its queue) when this ends.
class GatePass {
 public:
  GatePass() = default;
  GatePass(GatePass&& o) noexcept { *this = std::move(o); }
  GatePass& operator=(GatePass&& o) noexcept;
  ~GatePass() { release(); }
  void release();
  explicit operator bool() const { return gate_ != nullptr; }

 private:
  friend class LocalShapingStore;
  ShapingGate* gate_ = nullptr;
  ShapingLimits limits_;
  GateQueue::Time started_{};
};

// Which gate a request passes: the provider, the upstream credential (key index; -1 = the
// provider's only one) and the upstream model.
struct GateKey {
  std::string_view provider;
  int credential = -1;
  std::string_view model;
};

// How the wait at a gate ended.
struct GateEntry {
  enum class Kind : unsigned char { pass, refused, cancelled } kind = Kind::pass;
  GatePass pass;        // Kind::pass: the slot, held until the upstream exchange ends
  ApiError error;       // Kind::refused: the 429 to answer
  int64_t wait_us = 0;  // time spent waiting (queued, or for min_interval)
  std::size_t depth = 0;  // requests ahead on arrival
};

// The shared state of upstream shaping: one gate per upstream credential and model. Behind an
// interface so that replicas can share it later (a shared store instead of the local one).
class ShapingStore {
 public:
  virtual ~ShapingStore() = default;
  // Waits on the calling coroutine's executor for a slot at `key` under `limits`. A
  // cancellation of the coroutine (its client left, the shutdown grace passed) ends the wait at
  // once and leaves the queue: Kind::cancelled.
  virtual boost::asio::awaitable<GateEntry> enter(const GateKey& key, const ShapingLimits& limits) = 0;
  // Requests waiting now (queued, or holding a slot until min_interval lets them start), over
  // all gates (a gauge), and requests refused since the start.
  virtual int64_t waiting() const = 0;
  virtual uint64_t refused() const = 0;
};

// The in-process store: gates live as long as the process (one per credential and model seen).
class LocalShapingStore final : public ShapingStore {
 public:
  LocalShapingStore();
  ~LocalShapingStore() override;
  boost::asio::awaitable<GateEntry> enter(const GateKey& key, const ShapingLimits& limits) override;
  int64_t waiting() const override { return waiting_.load(std::memory_order_relaxed); }
  uint64_t refused() const override { return refused_.load(std::memory_order_relaxed); }

 private:
  friend class GatePass;
  ShapingGate& gate(const GateKey& key);
  static void release(ShapingGate& g, const ShapingLimits& limits, GateQueue::Time started);

  std::mutex mu_;  // the map only
  std::unordered_map<std::string, std::unique_ptr<ShapingGate>> gates_;
  std::atomic<int64_t> waiting_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace zgate
