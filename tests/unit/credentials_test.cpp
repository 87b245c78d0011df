// The upstream credential pool: rotation, cooldowns, keys that leave the rotation.
#include <catch2/catch.hpp>

#include "zgate/route/credentials.hpp"

using namespace zgate;
using namespace std::chrono_literals;
using Outcome = CredentialPool::Outcome;

namespace {
const auto t0 = CredentialPool::Clock::now();
}

TEST_CASE("credentials: round robin takes each key in turn", "[unit][credentials]") {
  LocalCredentialPool p(3, KeyStrategy::round_robin);
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 9; ++i) {
    const auto k = p.acquire(t0);
    REQUIRE(k.index >= 0);
    ++seen[k.index];
    p.release(k.index, Outcome::ok, 0ms, t0);
  }
  CHECK(seen[0] == 3);
  CHECK(seen[1] == 3);
  CHECK(seen[2] == 3);
}

TEST_CASE("credentials: a rate-limited key rests for its cooldown, then comes back", "[unit][credentials]") {
  LocalCredentialPool p(2, KeyStrategy::round_robin);
  p.release(0, Outcome::rate_limited, 5000ms, t0);
  for (int i = 0; i < 4; ++i) CHECK(p.acquire(t0 + 1s).index == 1);
  CHECK(p.other_usable(1, t0 + 1s) == false);
  CHECK(p.other_usable(0, t0 + 1s) == true);
  bool zero = false;
  for (int i = 0; i < 4; ++i) zero |= p.acquire(t0 + 6s).index == 0;
  CHECK(zero);
}

TEST_CASE("credentials: with every key cooling, none is given and the soonest recovery is told", "[unit][credentials]") {
  LocalCredentialPool p(2, KeyStrategy::round_robin);
  p.release(0, Outcome::rate_limited, 3000ms, t0);
  p.release(1, Outcome::quota_exhausted, 60000ms, t0);
  const auto k = p.acquire(t0 + 1s);
  CHECK(k.index == -1);
  CHECK_FALSE(k.all_rejected);
  CHECK(k.retry_after == 2000ms);
}

TEST_CASE("credentials: a rejected key leaves the rotation for good, once", "[unit][credentials]") {
  LocalCredentialPool p(2, KeyStrategy::round_robin);
  CHECK(p.release(1, Outcome::rejected, 0ms, t0));
  CHECK_FALSE(p.release(1, Outcome::rejected, 0ms, t0));  // already out: reported once
  for (int i = 0; i < 4; ++i) CHECK(p.acquire(t0 + 24h).index == 0);
  CHECK(p.release(0, Outcome::rejected, 0ms, t0));
  const auto k = p.acquire(t0);
  CHECK(k.index == -1);
  CHECK(k.all_rejected);
}

TEST_CASE("credentials: a longer cooldown is not shortened by a later short one", "[unit][credentials]") {
  LocalCredentialPool p(2, KeyStrategy::round_robin);
  p.release(1, Outcome::rejected, 0ms, t0);
  p.release(0, Outcome::quota_exhausted, 60000ms, t0);
  p.release(0, Outcome::rate_limited, 1000ms, t0);
  CHECK(p.acquire(t0 + 2s).index == -1);
  CHECK(p.acquire(t0 + 61s).index == 0);
}

TEST_CASE("credentials: a lone key never rests nor leaves", "[unit][credentials]") {
  LocalCredentialPool p(1, KeyStrategy::round_robin);
  CHECK_FALSE(p.release(0, Outcome::rejected, 0ms, t0));
  p.release(0, Outcome::rate_limited, 60000ms, t0);
  CHECK(p.acquire(t0 + 1s).index == 0);
}

TEST_CASE("credentials: least loaded picks the key with the fewest requests in flight", "[unit][credentials]") {
  LocalCredentialPool p(2, KeyStrategy::least_loaded);
  const auto a = p.acquire(t0);
  const auto b = p.acquire(t0);
  REQUIRE(a.index != b.index);  // the second goes to the idle key
  p.release(a.index, Outcome::ok, 0ms, t0);
  const auto c = p.acquire(t0);  // a's key is idle again, b's still busy
  CHECK(c.index == a.index);
}
