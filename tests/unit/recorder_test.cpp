// The recorder: records from any thread reach every consumer in order, on the recorder thread
// without a flush; a pass is begin/consume.../end with views valid until end; a full ring
// drops (counted) instead of blocking; the destructor hands over what is left; a recorder thread
// that cannot run (SCHED_IDLE behind busy workers) loses nothing: the recording thread drains.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "zgate/obs/record_ring.hpp"
#include "zgate/obs/recorder.hpp"

using namespace zgate;
using namespace std::chrono_literals;

namespace {

struct Seen {
  std::mutex mu;
  std::vector<std::string> ids;  // request ids, in the order consumed
  std::vector<std::string> events;
  std::size_t size() {
    std::lock_guard lock(mu);
    return ids.size();
  }
};

// Records what it is given; copies the views only at end(), so it also checks they are still
// valid then.
class Collect final : public obs::RecordConsumer {
 public:
  explicit Collect(Seen& s, std::string name = "c") : seen_(s), name_(std::move(name)) {}
  void begin() override {
    std::lock_guard lock(seen_.mu);
    seen_.events.push_back(name_ + ".begin");
  }
  void consume(const AccessRecord& r, int64_t) override {
    views_.push_back(r.request_id);
    std::lock_guard lock(seen_.mu);
    seen_.events.push_back(name_ + ".consume");
  }
  void end() override {
    std::lock_guard lock(seen_.mu);
    for (auto v : views_) seen_.ids.emplace_back(v);
    views_.clear();
    seen_.events.push_back(name_ + ".end");
  }

 private:
  Seen& seen_;
  std::string name_;
  std::vector<std::string_view> views_;
};

// Blocks inside consume() until opened, holding the recorder's pass.
class Gate final : public obs::RecordConsumer {
 public:
  void consume(const AccessRecord&, int64_t) override {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  bool wait_entered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [this] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

AccessRecord rec(std::string_view id) {
  AccessRecord r;
  r.request_id = id;
  r.model = "glm-4.5";
  return r;
}

std::vector<std::unique_ptr<obs::RecordConsumer>> consumers(std::unique_ptr<obs::RecordConsumer> a,
                                                            std::unique_ptr<obs::RecordConsumer> b = nullptr) {
  std::vector<std::unique_ptr<obs::RecordConsumer>> v;
  v.push_back(std::move(a));
  if (b) v.push_back(std::move(b));
  return v;
}

}  // namespace

TEST_CASE("recorder: a pass is begin, consume for each record, end, for each consumer", "[unit][recorder]") {
  Seen seen;
  obs::Recorder r(consumers(std::make_unique<Collect>(seen, "a"), std::make_unique<Collect>(seen, "b")),
                  {obs::RecordRing::kMinBytes, 1h});
  r.record(rec("1"), 0);
  r.record(rec("2"), 0);
  r.flush();
  CHECK(seen.events == std::vector<std::string>{"a.begin", "b.begin", "a.consume", "b.consume", "a.consume",
                                                "b.consume", "a.end", "b.end"});
  CHECK(seen.ids == std::vector<std::string>{"1", "2", "1", "2"});
  r.flush();  // nothing new: no pass at all
  CHECK(seen.events.size() == 8);
  CHECK(r.stats().recorded == 2);
}

TEST_CASE("recorder: records from several threads all arrive, each thread's in order", "[unit][recorder]") {
  Seen seen;
  obs::Recorder r(consumers(std::make_unique<Collect>(seen)), {obs::RecordRing::kMinBytes, 5ms});
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&r, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = std::to_string(t) + ":" + std::to_string(i);
        while (!r.record(rec(id), i)) std::this_thread::sleep_for(1ms);  // the test waits; workers never do
      }
    });
  }
  for (auto& t : ts) t.join();
  r.flush();
  std::map<int, int> next;
  bool in_order = true;
  for (const auto& id : seen.ids) {
    const int t = std::stoi(id.substr(0, id.find(':')));
    in_order = in_order && std::stoi(id.substr(id.find(':') + 1)) == next[t]++;
  }
  CHECK(in_order);
  CHECK(seen.ids.size() == kThreads * kEach);
  CHECK(r.stats().recorded == kThreads * kEach);
}

TEST_CASE("recorder: the recorder thread hands records over on its own", "[unit][recorder]") {
  Seen seen;
  obs::Recorder r(consumers(std::make_unique<Collect>(seen)), {obs::RecordRing::kMinBytes, 20ms});
  r.record(rec("x"), 0);
  for (int i = 0; i < 250 && seen.size() == 0; ++i) std::this_thread::sleep_for(20ms);
  CHECK(seen.size() == 1);
}

TEST_CASE("recorder: a ring half full wakes the recorder thread before its timer", "[unit][recorder]") {
  Seen seen;
  obs::Recorder r(consumers(std::make_unique<Collect>(seen)), {obs::RecordRing::kMinBytes, 1h});
  const std::string big(1000, 'x');
  // Just past half the ring, and no further: the recorder thread (at a lower priority) may be
  // slow to run on a busy machine, and more records would only fill the ring.
  const std::size_t half = obs::RecordRing::kMinBytes / 2 / obs::RecordRing::encoded_size(rec(big)) + 1;
  for (std::size_t i = 0; i < half; ++i) REQUIRE(r.record(rec(big), 0));
  for (int i = 0; i < 1000 && seen.size() == 0; ++i) std::this_thread::sleep_for(10ms);  // bounded: 10 s
  CHECK(seen.size() > 0);  // drained without flush() and long before the hour
  CHECK(r.stats().dropped == 0);
}

TEST_CASE("recorder: a full ring drops and counts instead of blocking", "[unit][recorder]") {
  auto gate = std::make_unique<Gate>();
  Gate& g = *gate;
  Seen seen;
  // Without the fallback (background_priority = "nice"), whose full ring waits instead.
  obs::Recorder r(consumers(std::move(gate), std::make_unique<Collect>(seen)),
                  {.ring_bytes = obs::RecordRing::kMinBytes, .flush_every = 1h, .worker_fallback = false});
  REQUIRE(r.record(rec("first"), 0));
  std::thread flusher([&r] { r.flush(); });  // stuck in the gate until opened
  REQUIRE(g.wait_entered());
  const std::string big(1000, 'y');
  int accepted = 0, refused = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) (r.record(rec(big), 0) ? accepted : refused)++;
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);  // never waited for the stuck pass
  CHECK(refused > 0);
  CHECK(r.stats().dropped == static_cast<uint64_t>(refused));
  g.open();
  flusher.join();
  r.flush();
  CHECK(seen.size() == static_cast<std::size_t>(1 + accepted));
}

namespace {
// More records than the smallest ring holds three times over, with no recorder thread: only
// the fallback can make room.
constexpr int kOverfill = 3;

// A smallest ring whose recorder thread never runs (not started, no timed flush); the recording
// thread drains it itself past `max_lag` when `worker_fallback`.
obs::RecorderOptions stalled(bool worker_fallback, std::chrono::milliseconds max_lag) {
  return {.ring_bytes = obs::RecordRing::kMinBytes,
          .flush_every = 1h,
          .worker_fallback = worker_fallback,
          .max_lag = max_lag,
          .start_thread = false};
}

struct Overfilled {
  int records = 0;  // recorded: kOverfill rings' worth of large records
  int refused = 0;  // of them
};

Overfilled overfill(obs::Recorder& r) {
  const std::string big(1000, 'z');
  Overfilled o{
      .records = static_cast<int>(kOverfill * obs::RecordRing::kMinBytes / obs::RecordRing::encoded_size(rec(big)))};
  for (int i = 0; i < o.records; ++i) o.refused += r.record(rec(big), 0) ? 0 : 1;
  return o;
}
}  // namespace

TEST_CASE("recorder: a recorder thread that does not run loses nothing: the recording thread drains its ring",
          "[unit][recorder]") {
  Seen seen;
  obs::Recorder r(consumers(std::make_unique<Collect>(seen)), stalled(true, 0ms));
  const auto [n, refused] = overfill(r);
  CHECK(refused == 0);
  CHECK(r.stats().dropped == 0);
  CHECK(r.stats().worker_passes > 0);
  r.flush();
  CHECK(seen.size() == static_cast<std::size_t>(n));
}

TEST_CASE("recorder: without the fallback, a recorder thread that does not run drops (counted) once the ring is full",
          "[unit][recorder]") {
  Seen seen;
  obs::Recorder r(consumers(std::make_unique<Collect>(seen)), stalled(false, 0ms));
  const int n = overfill(r).records;
  CHECK(r.stats().dropped > 0);
  CHECK(r.stats().worker_passes == 0);
  r.flush();
  CHECK(seen.size() + r.stats().dropped == static_cast<std::size_t>(n));
}

TEST_CASE("recorder: the fallback waits for max_lag: a recorder that ran recently is left to do its work",
          "[unit][recorder]") {
  Seen seen;
  obs::Recorder r(consumers(std::make_unique<Collect>(seen)), stalled(true, 1h));
  const std::string big(1000, 'z');
  // Past half the ring: a lagging recorder would be helped here.
  const std::size_t half = obs::RecordRing::kMinBytes / 2 / obs::RecordRing::encoded_size(rec(big)) + 1;
  for (std::size_t i = 0; i < half; ++i) REQUIRE(r.record(rec(big), 0));
  CHECK(r.stats().worker_passes == 0);
  CHECK(seen.size() == 0);
}

TEST_CASE("recorder: the destructor hands over what is still queued", "[unit][recorder]") {
  Seen seen;
  {
    obs::Recorder r(consumers(std::make_unique<Collect>(seen)), {obs::RecordRing::kMinBytes, 1h});
    r.record(rec("last"), 0);
  }
  CHECK(seen.ids == std::vector<std::string>{"last"});
}

TEST_CASE("recorder: the workers' rings share 8 MiB, at least 256 KiB each, in powers of two", "[unit][recorder]") {
  CHECK(obs::ring_bytes_for(0) == 8u << 20);
  CHECK(obs::ring_bytes_for(1) == 8u << 20);
  CHECK(obs::ring_bytes_for(2) == 4u << 20);
  CHECK(obs::ring_bytes_for(4) == 2u << 20);
  CHECK(obs::ring_bytes_for(6) == 1u << 20);  // 1.33 MiB rounded down: a ring would round up
  CHECK(obs::ring_bytes_for(16) == 512u << 10);
  CHECK(obs::ring_bytes_for(32) == 256u << 10);
  CHECK(obs::ring_bytes_for(128) == 256u << 10);
}
