#include "zgate/obs/recorder.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "zgate/obs/record_ring.hpp"
#include "zgate/obs/ticker.hpp"

namespace zgate::obs {
namespace {
std::atomic<uint64_t> g_next_id{1};

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

class Recorder::Impl {
 public:
  Impl(std::vector<std::unique_ptr<RecordConsumer>> c, RecorderOptions o) : consumers(std::move(c)), opts(o) {
    // Last: the thread starts calling pass() as soon as it is built.
    if (opts.start_thread) {
      ticker.emplace("zgate-recorder", opts.flush_every, [this] {
        pass();
        warn_dropped(false);
      });
    }
  }

  ~Impl() {
    if (ticker) ticker->stop();
    pass();
    warn_dropped(true);
  }

  bool record(const AccessRecord& r, int64_t finished_ms) {
    RecordRing& ring = thread_ring();
    if (!ring.push(r, finished_ms)) {
      // Full while the recorder thread has not run for max_lag (it is starved, or stuck in a
      // pass): wait for its pass and run one here, rather than lose the record.
      if (!opts.worker_fallback || !lagging() || (help(/*wait=*/true), !ring.push(r, finished_ms))) {
        dropped.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    }
    // Half full: wake the recorder thread early, so a burst drains before the ring fills; if it
    // has not run for max_lag, drain here unless it is in a pass right now.
    if (ring.used() > ring.capacity() / 2) {
      if (ticker) ticker->wake();
      if (opts.worker_fallback && lagging()) help(/*wait=*/false);
    }
    return true;
  }

  // No pass has finished for max_lag (read only when a ring is half full).
  bool lagging() const {
    return steady_ns() - last_pass_ns.load(std::memory_order_relaxed) >=
           std::chrono::duration_cast<std::chrono::nanoseconds>(opts.max_lag).count();
  }

  // The fallback: a pass on the recording thread. Without `wait`, only if no pass is running.
  void help(bool wait) {
    std::unique_lock passing(pass_mu, std::defer_lock);
    if (wait) passing.lock();
    else if (!passing.try_lock()) return;
    worker_passes.fetch_add(1, std::memory_order_relaxed);
    pass_locked();
  }

  // Hands every ring's records to the consumers, then frees their space. One pass at a time.
  void pass() {
    std::lock_guard passing(pass_mu);
    pass_locked();
  }

  void pass_locked() {
    {
      std::lock_guard lock(rings_mu);
      snapshot.clear();
      for (auto& r : rings) snapshot.push_back(r.get());
    }
    bool any = false;
    for (RecordRing* ring : snapshot) any = any || ring->used() > 0;
    if (!any) {
      last_pass_ns.store(steady_ns(), std::memory_order_relaxed);
      return;
    }
    positions.resize(snapshot.size());
    uint64_t n = 0;
    for (auto& c : consumers) c->begin();
    for (std::size_t i = 0; i < snapshot.size(); ++i) {
      positions[i] = snapshot[i]->read([&](const AccessRecord& r, int64_t ts) {
        for (auto& c : consumers) c->consume(r, ts);
        ++n;
      });
    }
    for (auto& c : consumers) c->end();
    // Only now: the consumers may have kept views into the rings until end().
    for (std::size_t i = 0; i < snapshot.size(); ++i) snapshot[i]->release(positions[i]);
    recorded.fetch_add(n, std::memory_order_relaxed);
    last_pass_ns.store(steady_ns(), std::memory_order_relaxed);
  }

  std::atomic<uint64_t> recorded{0}, dropped{0}, worker_passes{0};

 private:
  RecordRing& thread_ring() {
    // This thread's ring in this recorder. The id (not the address) tells recorders apart, as a
    // recorder created after another was destroyed may live at the same address.
    thread_local uint64_t owner = 0;
    thread_local RecordRing* ring = nullptr;
    if (owner != id) {
      auto r = std::make_unique<RecordRing>(opts.ring_bytes);
      ring = r.get();
      std::lock_guard lock(rings_mu);
      rings.push_back(std::move(r));
      owner = id;
    }
    return *ring;
  }

  // Reports drops not reported yet, at most every 10 s (an overload would otherwise add a log
  // line per pass), or now if `final`.
  void warn_dropped(bool final) {
    const uint64_t d = dropped.load(std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    if (d == warned || (!final && warned_at && now - *warned_at < std::chrono::seconds(10))) return;
    spdlog::warn("{} requests were neither logged nor stored: the access log / usage store could not keep up",
                 d - warned);
    warned = d;
    warned_at = now;
  }

  const uint64_t id = g_next_id.fetch_add(1);
  std::vector<std::unique_ptr<RecordConsumer>> consumers;
  RecorderOptions opts;
  std::mutex rings_mu;
  std::vector<std::unique_ptr<RecordRing>> rings;  // one per thread that recorded (under rings_mu)
  std::mutex pass_mu;                  // one pass at a time: the thread, flush(), the destructor
  std::vector<RecordRing*> snapshot;   // reused by pass() (under pass_mu)
  std::vector<uint64_t> positions;     // likewise
  uint64_t warned = 0;    // drops reported so far (the recorder thread, then the destructor)
  std::optional<std::chrono::steady_clock::time_point> warned_at;
  std::atomic<int64_t> last_pass_ns{steady_ns()};  // when the last pass finished
  std::optional<Ticker> ticker;
};

std::size_t ring_bytes_for(unsigned workers) {
  constexpr std::size_t kBudget = 8 * 1024 * 1024, kMin = 256 * 1024;
  // A power of two, as the ring would round up to one.
  return std::max(std::bit_floor(kBudget / std::max(workers, 1u)), kMin);
}

Recorder::Recorder(std::vector<std::unique_ptr<RecordConsumer>> consumers, RecorderOptions opts)
    : impl_(std::make_unique<Impl>(std::move(consumers), opts)) {}
Recorder::~Recorder() = default;

bool Recorder::record(const AccessRecord& r, int64_t finished_ms) { return impl_->record(r, finished_ms); }

void Recorder::flush() { impl_->pass(); }

RecorderStats Recorder::stats() const {
  return {impl_->recorded.load(std::memory_order_relaxed), impl_->dropped.load(std::memory_order_relaxed),
          impl_->worker_passes.load(std::memory_order_relaxed)};
}

}  // namespace zgate::obs
