// TailHub (the live tail's recorder side) with plain records: framing, filters, the bound, and
// the buffer hand-over between the recorder thread and a subscriber's worker.
#include <catch2/catch.hpp>

#include <atomic>

#include "zgate/obs/tail.hpp"

using namespace zgate;
using namespace zgate::obs;

namespace {

AccessRecord record(std::string_view id, int status = 200) {
  AccessRecord r;
  r.request_id = id;
  r.key_label = "k";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.model = "glm-4.5";
  r.status = status;
  return r;
}

void pass(TailHub& hub, std::initializer_list<AccessRecord> rs) {
  hub.begin();
  for (const auto& r : rs) hub.consume(r, 1'700'000'000'000);
  hub.end();
}

std::size_t count(std::string_view s, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string_view::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("tail hub: each matching record becomes one SSE event with the JSON access line", "[tail]") {
  TailHub hub;
  std::atomic<int> wakes{0};
  auto sub = hub.subscribe(TailFilter{}, [&] { ++wakes; });
  REQUIRE(sub);
  pass(hub, {record("a"), record("b")});
  CHECK(wakes == 1);  // once per pass, not per line
  std::string out;
  CHECK(sub->take(out));
  CHECK(out.starts_with("data: {"));
  CHECK(out.ends_with("}\n\n"));
  CHECK(count(out, "data: ") == 2);
  CHECK(count(out, "\n\n") == 2);
  CHECK(out.find("\"request_id\":\"a\"") < out.find("\"request_id\":\"b\""));
  hub.unsubscribe(sub);
}

TEST_CASE("tail hub: a filter passes only its records", "[tail]") {
  TailHub hub;
  TailFilter errors;
  errors.errors_only = true;
  auto sub = hub.subscribe(errors, [] {});
  pass(hub, {record("ok"), record("bad", 502)});
  std::string out;
  sub->take(out);
  CHECK(count(out, "data: ") == 1);
  CHECK(out.find("\"request_id\":\"bad\"") != std::string::npos);
  hub.unsubscribe(sub);
}

TEST_CASE("tail hub: take swaps buffers, so a worker's buffer comes back to it with its capacity", "[tail]") {
  TailHub hub;
  auto sub = hub.subscribe(TailFilter{}, [] {});
  std::string out;
  out.reserve(1 << 16);
  const char* worker_buffer = out.data();
  pass(hub, {record("one")});
  sub->take(out);  // the hub's buffer now; the worker's went to the hub
  REQUIRE(out.find("\"request_id\":\"one\"") != std::string::npos);
  pass(hub, {record("two")});
  sub->take(out);  // and back: the second pass was appended into the worker's first buffer
  CHECK(out.data() == worker_buffer);
  CHECK(out.find("\"request_id\":\"two\"") != std::string::npos);
  CHECK(out.find("\"request_id\":\"one\"") == std::string::npos);
  hub.unsubscribe(sub);
}

TEST_CASE("tail hub: a subscriber over its bound is dropped, counted, and told it ended", "[tail]") {
  TailHub hub(TailLimits{.max_subscribers = 4, .max_queued_bytes = 1500});
  auto sub = hub.subscribe(TailFilter{}, [] {});
  // Taken but not yet written still counts: two passes without a second take overflow.
  pass(hub, {record("1"), record("2")});
  std::string out;
  CHECK(sub->take(out));
  pass(hub, {record("3"), record("4"), record("5")});
  CHECK(sub->dropped());
  CHECK_FALSE(sub->take(out));
  CHECK(out.empty());
  CHECK(hub.stats().dropped == 1);
  hub.unsubscribe(sub);
}
