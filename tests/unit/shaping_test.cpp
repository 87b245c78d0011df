// Upstream shaping's bookkeeping (GateQueue), driven with its own time points, and its
// configuration ([[providers]] fields and [[providers.shaping]] rules).
#include <catch2/catch.hpp>

#include "zgate/config/config.hpp"
#include "zgate/route/shaping.hpp"

using namespace zgate;
using namespace std::chrono_literals;
using V = GateQueue::Verdict;

namespace {
const auto t0 = GateQueue::Clock::now();

ShapingLimits limits(unsigned max, Millis interval, std::size_t queue_max = 100, Millis timeout = Millis(30000)) {
  ShapingLimits l;
  l.max_concurrent = max;
  l.min_interval = interval;
  l.queue_max = queue_max;
  l.queue_timeout = timeout;
  return l;
}

// A queue with one slot (no interval), taken at t0.
struct OneSlotTaken {
  GateQueue q;
  ShapingLimits l = limits(1, 0ms);
  OneSlotTaken() { REQUIRE(q.arrive(l, t0).verdict == V::start); }
};
}  // namespace

TEST_CASE("shaping: up to max_concurrent start at once, the next one waits", "[unit][shaping]") {
  GateQueue q;
  const auto l = limits(2, 0ms);
  CHECK(q.arrive(l, t0).verdict == V::start);
  CHECK(q.arrive(l, t0).verdict == V::start);
  const auto a = q.arrive(l, t0);
  CHECK(a.verdict == V::wait);
  CHECK(a.depth == 0);
  CHECK(q.active() == 2);
  CHECK(q.waiting() == 1);
  CHECK_FALSE(q.next(l, t0));  // no slot is free yet
}

TEST_CASE("shaping: a freed slot goes to the head of the queue, in arrival order", "[unit][shaping]") {
  OneSlotTaken one;
  auto& [q, l] = one;
  const auto first = q.arrive(l, t0);
  const auto second = q.arrive(l, t0);
  REQUIRE(first.verdict == V::wait);
  REQUIRE(second.verdict == V::wait);
  CHECK(second.depth == 1);
  q.release(t0, t0 + 10ms);
  const auto g = q.next(l, t0 + 10ms);
  REQUIRE(g);
  CHECK(g->ticket == first.ticket);
  CHECK(g->start == t0 + 10ms);
  CHECK_FALSE(q.next(l, t0 + 10ms));  // the one slot is taken again
  CHECK(q.waiting() == 1);
}

TEST_CASE("shaping: a newcomer does not overtake the queue when a slot frees", "[unit][shaping]") {
  OneSlotTaken one;
  auto& [q, l] = one;
  REQUIRE(q.arrive(l, t0).verdict == V::wait);
  q.release(t0, t0 + 1ms);
  // Before the head was granted its slot, a new request arrives: it queues behind.
  CHECK(q.arrive(l, t0 + 1ms).verdict == V::wait);
}

TEST_CASE("shaping: a request that leaves the queue frees its place", "[unit][shaping]") {
  OneSlotTaken one;
  auto& [q, l] = one;
  const auto gone = q.arrive(l, t0);
  const auto next = q.arrive(l, t0);
  CHECK(q.leave(gone.ticket));
  CHECK(q.waiting() == 1);
  q.release(t0, t0 + 1ms);
  const auto g = q.next(l, t0 + 1ms);
  REQUIRE(g);
  CHECK(g->ticket == next.ticket);
  CHECK_FALSE(q.leave(next.ticket));  // granted meanwhile: it holds a slot now
}

TEST_CASE("shaping: past queue_max a request is refused with a wait estimate", "[unit][shaping]") {
  GateQueue q;
  const auto l = limits(1, 0ms, 2);
  REQUIRE(q.arrive(l, t0).verdict == V::start);
  q.release(t0, t0 + 2s);  // a request held its slot for 2 s
  REQUIRE(q.arrive(l, t0 + 2s).verdict == V::start);
  REQUIRE(q.arrive(l, t0 + 2s).verdict == V::wait);
  REQUIRE(q.arrive(l, t0 + 2s).verdict == V::wait);
  const auto a = q.arrive(l, t0 + 2s);
  CHECK(a.verdict == V::full);
  CHECK(a.depth == 2);
  CHECK(a.retry_after >= 2s);
}

TEST_CASE("shaping: queue_max 0 refuses at once what would wait", "[unit][shaping]") {
  GateQueue q;
  const auto l = limits(1, 0ms, 0);
  REQUIRE(q.arrive(l, t0).verdict == V::start);
  CHECK(q.arrive(l, t0).verdict == V::full);
}

TEST_CASE("shaping: min_interval spaces the starts", "[unit][shaping]") {
  GateQueue q;
  const auto l = limits(0, 100ms);
  const auto a = q.arrive(l, t0);
  const auto b = q.arrive(l, t0 + 10ms);
  const auto c = q.arrive(l, t0 + 20ms);
  REQUIRE(a.verdict == V::start);
  REQUIRE(b.verdict == V::start);
  REQUIRE(c.verdict == V::start);
  CHECK(a.start == t0);
  CHECK(b.start == t0 + 100ms);
  CHECK(c.start == t0 + 200ms);
  CHECK(b.depth == 0);  // nothing was planned after now
  CHECK(c.depth == 1);  // b's start was still ahead
  // Long after, a request starts at once.
  CHECK(q.arrive(l, t0 + 10s).start == t0 + 10s);
}

TEST_CASE("shaping: min_interval applies to granted queued requests too", "[unit][shaping]") {
  GateQueue q;
  const auto l = limits(1, 100ms);
  REQUIRE(q.arrive(l, t0).start == t0);
  REQUIRE(q.arrive(l, t0).verdict == V::wait);
  q.release(t0, t0 + 30ms);
  const auto g = q.next(l, t0 + 30ms);
  REQUIRE(g);
  CHECK(g->start == t0 + 100ms);
}

TEST_CASE("shaping: a start later than queue_timeout, or past queue_max, is refused", "[unit][shaping]") {
  GateQueue q;
  const auto l = limits(0, 1000ms, 100, 1500ms);
  REQUIRE(q.arrive(l, t0).verdict == V::start);  // at t0
  REQUIRE(q.arrive(l, t0).verdict == V::start);  // at t0 + 1 s
  const auto a = q.arrive(l, t0);                // would start at t0 + 2 s
  CHECK(a.verdict == V::full);
  CHECK(a.retry_after >= 500ms);
  GateQueue r;
  const auto one = limits(0, 1000ms, 1);
  REQUIRE(r.arrive(one, t0).verdict == V::start);
  REQUIRE(r.arrive(one, t0).verdict == V::start);  // one scheduled later: the queue is full
  CHECK(r.arrive(one, t0).verdict == V::full);
}

TEST_CASE("shaping: a raised limit lets queued requests through", "[unit][shaping]") {
  GateQueue q;
  REQUIRE(q.arrive(limits(1, 0ms), t0).verdict == V::start);
  REQUIRE(q.arrive(limits(1, 0ms), t0).verdict == V::wait);
  CHECK(q.next(limits(2, 0ms), t0));
}

TEST_CASE("shaping config: provider fields and per-model rules", "[unit][shaping][config]") {
  Config cfg;
  apply_toml(cfg, R"(
allow_no_auth = true

[[providers]]
name = "zhipu"
api_key = "k"
max_concurrent = 3
min_interval_ms = 50
queue_max = 7
queue_timeout_ms = 2000

[[providers.shaping]]
model = "glm-4.5*"
max_concurrent = 1

[[providers.shaping]]
model = "glm-4.6"
max_concurrent = 0
min_interval_ms = 0
)",
             "test.toml");
  validate(cfg);
  REQUIRE(cfg.providers.size() == 1);
  const ProviderConfig& p = cfg.providers[0];
  CHECK(p.shaping == limits(3, 50ms, 7, 2000ms));
  CHECK(p.shaping_for("glm-4.5-air") == limits(1, 50ms, 7, 2000ms));  // the rest inherited
  CHECK_FALSE(p.shaping_for("glm-4.6").active());
  CHECK(p.shaping_for("glm-4-plus") == p.shaping);
  CHECK(p.shaped());
  // /admin/config and the start-up summary show them.
  const std::string json = describe_json(cfg);
  CHECK(json.find(R"("max_concurrent":3,"min_interval_ms":50,"queue_max":7,"queue_timeout_ms":2000)") !=
        std::string::npos);
  CHECK(json.find(R"("shaping":[{"model":"glm-4.5*","max_concurrent":1,)") != std::string::npos);
  const std::string text = describe(cfg);
  CHECK(text.find("shaping glm-4.5*: max_concurrent=1") != std::string::npos);
}

TEST_CASE("shaping config: bad values name the key", "[unit][shaping][config]") {
  auto fails = [](const char* toml, const char* what) {
    Config cfg;
    try {
      apply_toml(cfg, toml, "t.toml");
    } catch (const ConfigError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(what) != std::string::npos);
      return;
    }
    FAIL("accepted: " << toml);
  };
  fails("[[providers]]\nname='a'\nmax_concurrent=-1\n", "providers[0].max_concurrent");
  fails("[[providers]]\nname='a'\nqueue_timeout_ms=0\n", "providers[0].queue_timeout_ms");
  fails("[[providers]]\nname='a'\nqueue_max=100001\n", "providers[0].queue_max");
  fails("[[providers]]\nname='a'\n[[providers.shaping]]\nmax_concurrent=1\n", "providers[0].shaping[0].model");
  fails("[[providers]]\nname='a'\n[[providers.shaping]]\nmodel='x'\nbogus=1\n", "providers[0].shaping[0].bogus");
}

TEST_CASE("shaping config: unshaped by default", "[unit][shaping][config]") {
  ProviderConfig p;
  CHECK_FALSE(p.shaped());
  CHECK(p.shaping.queue_max == 100);
  CHECK(p.shaping.queue_timeout == 30'000ms);
}

TEST_CASE("shaping config: validate() checks limits however they were set", "[unit][shaping][config]") {
  Config cfg;
  cfg.allow_no_auth = true;
  ProviderConfig p;
  p.name = "zhipu";
  p.api_key = "k";
  p.shaping.queue_timeout = Millis(0);
  cfg.providers.push_back(p);
  CHECK_THROWS_WITH(validate(cfg), Catch::Contains("providers[0] (zhipu).queue_timeout_ms"));
  cfg.providers[0].shaping.queue_timeout = Millis(1000);
  cfg.providers[0].shaping_rules.push_back(ShapingRule{});
  CHECK_THROWS_WITH(validate(cfg), Catch::Contains("providers[0] (zhipu).shaping[0].model"));
}
