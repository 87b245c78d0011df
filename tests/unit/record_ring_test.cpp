// The record ring: records come back field for field, across the end of the block at every
// offset, a full ring refuses without writing, space is only reused after release(), long
// texts are cut on a character boundary, and a producer and a consumer thread lose nothing.
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "zgate/obs/record_ring.hpp"

using namespace zgate;
using obs::RecordRing;

namespace {

// Owns the texts a record points at.
struct Owned {
  std::string id, key, method, path, model, upstream_model, provider, error, ip;
  AccessRecord r;
  Owned(int n, std::size_t text_len) {
    id = "req-" + std::to_string(n);
    key = std::string(text_len, static_cast<char>('a' + n % 26));
    method = "POST";
    path = "/v1/chat/completions";
    model = "glm-" + std::to_string(n % 7);
    upstream_model = "glm-4.5-air";
    provider = n % 2 ? "default" : "";
    error = n % 3 ? "" : "upstream_error";
    ip = "10.0.0." + std::to_string(n % 256);
    r.request_id = id;
    r.key_label = key;
    r.method = method;
    r.path = path;
    r.model = model;
    r.upstream_model = upstream_model;
    r.provider = provider;
    r.error_type = error;
    r.client_ip = ip;
    r.stream = n % 2 == 0;
    r.upstream_reused = n % 5 == 0;
    r.status = 200 + n % 400;
    r.connect_us = n % 4 ? -1 : n;
    r.upstream_first_byte_us = n * 3;
    r.first_token_us = -1;
    r.total_us = int64_t{n} * 1'000'000'007;
    r.prompt_tokens = n;
    r.completion_tokens = n * 2;
    r.reasoning_tokens = n % 11;
    r.cached_tokens = n % 13;
    r.bytes_in = static_cast<uint64_t>(n) << 33;
    r.bytes_out = static_cast<uint64_t>(n) + 1;
    r.cost_usd = n * 0.125;
    r.queue_wait_us = n % 3 ? -1 : int64_t{n} * 1'000'003;
    r.queue_depth = n % 17;
    r.usage_estimated = n % 2 == 1;
  }
};

void check_same(const AccessRecord& a, const AccessRecord& b) {
  CHECK(a.request_id == b.request_id);
  CHECK(a.key_label == b.key_label);
  CHECK(a.method == b.method);
  CHECK(a.path == b.path);
  CHECK(a.model == b.model);
  CHECK(a.upstream_model == b.upstream_model);
  CHECK(a.provider == b.provider);
  CHECK(a.error_type == b.error_type);
  CHECK(a.client_ip == b.client_ip);
  CHECK(a.retries == b.retries);
  CHECK(a.upstream_trail == b.upstream_trail);
  CHECK(a.attempts == b.attempts);
  CHECK(a.stream == b.stream);
  CHECK(a.upstream_reused == b.upstream_reused);
  CHECK(a.status == b.status);
  CHECK(a.connect_us == b.connect_us);
  CHECK(a.upstream_first_byte_us == b.upstream_first_byte_us);
  CHECK(a.first_token_us == b.first_token_us);
  CHECK(a.total_us == b.total_us);
  CHECK(a.prompt_tokens == b.prompt_tokens);
  CHECK(a.completion_tokens == b.completion_tokens);
  CHECK(a.reasoning_tokens == b.reasoning_tokens);
  CHECK(a.cached_tokens == b.cached_tokens);
  CHECK(a.bytes_in == b.bytes_in);
  CHECK(a.bytes_out == b.bytes_out);
  CHECK(a.cost_usd == b.cost_usd);
  CHECK(a.queue_wait_us == b.queue_wait_us);
  CHECK(a.queue_depth == b.queue_depth);
  CHECK(a.usage_estimated == b.usage_estimated);
}

constexpr std::size_t kHeader = 152;  // the fixed part of an encoded record

std::size_t text_bytes(const AccessRecord& r) {
  return r.request_id.size() + r.key_label.size() + r.method.size() + r.path.size() + r.model.size() +
         r.upstream_model.size() + r.provider.size() + r.error_type.size() + r.client_ip.size();
}

// Reads everything, releases it, and returns how many records there were.
std::size_t drain(RecordRing& ring) {
  std::size_t n = 0;
  ring.release(ring.read([&](const AccessRecord&, int64_t) { ++n; }));
  return n;
}

// Pushes `rec` into a small ring, hands each record read back to `check`, and returns how many
// there were.
template <class Check>
int round_trip(const AccessRecord& rec, Check check) {
  RecordRing ring(RecordRing::kMinBytes);
  REQUIRE(ring.push(rec, 7));
  int n = 0;
  ring.release(ring.read([&](const AccessRecord& r, int64_t) {
    check(r);
    ++n;
  }));
  return n;
}

}  // namespace

TEST_CASE("record ring: a record comes back with every field and its timestamp", "[unit][ring]") {
  RecordRing ring(0);
  CHECK(ring.capacity() == RecordRing::kMinBytes);
  const Owned a(6, 5), b(7, 0);
  REQUIRE(ring.push(a.r, 1'714'564'800'123));
  REQUIRE(ring.push(b.r, -5));
  std::vector<int64_t> ts;
  int i = 0;
  ring.release(ring.read([&](const AccessRecord& r, int64_t t) {
    check_same(r, i++ == 0 ? a.r : b.r);
    ts.push_back(t);
  }));
  CHECK(i == 2);
  CHECK(ts == std::vector<int64_t>{1'714'564'800'123, -5});
  CHECK(ring.used() == 0);
  CHECK(drain(ring) == 0);
}

TEST_CASE("record ring: a record that meets the end of the block at any offset comes back whole", "[unit][ring]") {
  const Owned filler(1, 4);
  const std::size_t base = text_bytes(Owned(1, 0).r);  // the filler's texts but its key
  const std::size_t step = RecordRing::encoded_size(filler.r);
  REQUIRE(step == kHeader + text_bytes(filler.r));  // no alignment padding in the filler
  const Owned big(2, 900), small(3, 1);
  const std::size_t big_size = RecordRing::encoded_size(big.r);
  for (std::size_t start = RecordRing::kMinBytes - big_size - 64; start <= RecordRing::kMinBytes; start += 8) {
    RecordRing ring(RecordRing::kMinBytes);
    // Move the write position to `start`: fillers (each read and released at once), then one
    // record whose text tops up the rest. The loop leaves between one and two fillers' worth.
    std::size_t at = 0;
    while (start - at >= 2 * step) {
      REQUIRE(ring.push(filler.r, 0));
      drain(ring);
      at += step;
    }
    const Owned pad(1, start - at - kHeader - base);
    REQUIRE(RecordRing::encoded_size(pad.r) == start - at);
    REQUIRE(ring.push(pad.r, 0));
    drain(ring);
    REQUIRE(ring.push(big.r, 1));
    REQUIRE(ring.push(small.r, 2));
    int n = 0;
    ring.release(ring.read([&](const AccessRecord& r, int64_t t) {
      check_same(r, n == 0 ? big.r : small.r);
      CHECK(t == n + 1);
      ++n;
    }));
    CHECK(n == 2);
    CHECK(ring.used() == 0);
  }
}

TEST_CASE("record ring: a full ring refuses a record and writes nothing of it", "[unit][ring]") {
  RecordRing ring(RecordRing::kMinBytes);
  const Owned rec(9, 300);
  std::size_t accepted = 0;
  while (ring.push(rec.r, 0)) ++accepted;
  CHECK(accepted == RecordRing::kMinBytes / RecordRing::encoded_size(rec.r));
  CHECK_FALSE(ring.push(rec.r, 0));
  CHECK(drain(ring) == accepted);
  CHECK(ring.push(rec.r, 0));  // room again once released
  CHECK(drain(ring) == 1);
}

TEST_CASE("record ring: space is reused only after release, so views stay valid until then", "[unit][ring]") {
  RecordRing ring(RecordRing::kMinBytes);
  const Owned rec(10, 1000);
  while (ring.push(rec.r, 0)) {
  }
  std::vector<AccessRecord> seen;
  const uint64_t pos = ring.read([&](const AccessRecord& r, int64_t) { seen.push_back(r); });
  CHECK_FALSE(ring.push(Owned(11, 1000).r, 0));  // read but not released: still full
  for (const auto& r : seen) check_same(r, rec.r);
  ring.release(pos);
  CHECK(ring.push(Owned(11, 1000).r, 0));
}

TEST_CASE("record ring: texts longer than the limit are cut at a character boundary", "[unit][ring]") {
  CHECK(obs::utf8_prefix("hello", 10) == "hello");
  CHECK(obs::utf8_prefix("hello", 3) == "hel");
  CHECK(obs::utf8_prefix("h\xC3\xA9llo", 2) == "h");           // é cut after its first byte
  CHECK(obs::utf8_prefix("h\xC3\xA9llo", 3) == "h\xC3\xA9");   // é whole
  CHECK(obs::utf8_prefix("\xE2\x82\xAC!", 2) == "");           // € is 3 bytes
  CHECK(obs::utf8_prefix("a\xF0\x9F\x98\x80", 4) == "a");      // 4-byte emoji
  CHECK(obs::utf8_prefix("a\xF0\x9F\x98\x80", 5) == "a\xF0\x9F\x98\x80");

  RecordRing ring(RecordRing::kMinBytes);
  std::string model(RecordRing::kMaxText - 1, 'm');
  model += "\xC3\xA9tail";  // the é straddles the limit
  const std::string path(5000, 'p');
  AccessRecord r;
  r.model = model;
  r.path = path;
  REQUIRE(ring.push(r, 0));
  ring.release(ring.read([&](const AccessRecord& got, int64_t) {
    CHECK(got.model == std::string(RecordRing::kMaxText - 1, 'm'));
    CHECK(got.path == std::string(RecordRing::kMaxText, 'p'));
  }));
}

namespace {

// A producer thread pushes 200,000 records into a ring of `bytes` while this thread reads them:
// every record arrives, in order.
void check_threads_hand_over(std::size_t bytes) {
  RecordRing ring(bytes);
  constexpr int kRecords = 200'000;
  std::thread producer([&] {
    for (int i = 0; i < kRecords; ++i) {
      const std::string id = std::to_string(i);
      AccessRecord r;
      r.request_id = id;
      r.key_label = std::string_view("abcdefghijklmnopqrstuvwxyz").substr(0, i % 27);
      r.prompt_tokens = i;
      while (!ring.push(r, i)) std::this_thread::yield();
    }
  });
  int next = 0;
  bool in_order = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (next < kRecords && std::chrono::steady_clock::now() < deadline) {
    ring.release(ring.read([&](const AccessRecord& r, int64_t ts) {
      in_order = in_order && r.prompt_tokens == next && ts == next && r.request_id == std::to_string(next) &&
                 r.key_label.size() == static_cast<std::size_t>(next % 27);
      ++next;
    }));
  }
  producer.join();
  CHECK(in_order);
  CHECK(next == kRecords);
}

}  // namespace

TEST_CASE("record ring: a producer and a consumer thread hand over every record in order", "[unit][ring]") {
  check_threads_hand_over(RecordRing::kMinBytes);
}

TEST_CASE("record ring: attempts and retry reasons come back", "[unit][ring]") {
  Owned o(5, 3);
  o.r.attempts = 3;
  o.r.retries = "http_429,upstream_connect_failed";
  CHECK(round_trip(o.r, [&](const AccessRecord& r) { check_same(r, o.r); }) == 1);
}

TEST_CASE("record ring: the upstream trail comes back", "[unit][ring]") {
  Owned o(5, 3);
  o.r.attempts = 2;
  o.r.upstream_trail = "zhipu\t0\thttp_429@key1\nzhipu\t1";
  CHECK(round_trip(o.r, [](const AccessRecord& r) {
          CHECK(r.upstream_trail == "zhipu\t0\thttp_429@key1\nzhipu\t1");
        }) == 1);
}

TEST_CASE("record ring: with the consumer keeping up, records stay in the first kRewindAfter bytes of a large block",
          "[unit][ring]") {
  RecordRing ring(1024 * 1024);
  const Owned rec(12, 300);
  const std::size_t size = RecordRing::encoded_size(rec.r);
  const char* first = nullptr;
  std::size_t furthest = 0;
  int n = 0;
  // Six times the block's size in all: without going back early, every page would be touched.
  for (std::size_t written = 0; written < 6 * ring.capacity(); written += size) {
    REQUIRE(ring.push(rec.r, n));
    ring.release(ring.read([&](const AccessRecord& r, int64_t t) {
      check_same(r, rec.r);
      CHECK(t == n);
      if (!first) first = r.request_id.data();
      furthest = std::max(furthest, static_cast<std::size_t>(r.request_id.data() - first));
    }));
    ++n;
  }
  CHECK(furthest < RecordRing::kRewindAfter + size);
  CHECK(ring.used() == 0);
}

TEST_CASE("record ring: a backlog past kRewindAfter is kept whole, and the block's start is reused once freed",
          "[unit][ring]") {
  RecordRing ring(256 * 1024);
  int pushed = 0, next = 0;
  bool in_order = true;
  auto push = [&] {
    const Owned o(pushed, 200);
    REQUIRE(ring.push(o.r, pushed));
    ++pushed;
  };
  auto consume = [&] {
    ring.release(ring.read([&](const AccessRecord& got, int64_t t) {
      in_order = in_order && t == next && got.prompt_tokens == next;
      ++next;
    }));
  };
  while (ring.used() < 2 * RecordRing::kRewindAfter) push();  // ~128 KiB unread
  for (int i = 0; i < 100; ++i) push();  // behind the unread backlog: the block's start is not free
  consume();
  CHECK(next == pushed);
  for (int round = 0; round < 2000; ++round) {  // the start is free again: records go back to it
    push();
    if (round % 3 == 2) consume();
  }
  consume();
  CHECK(in_order);
  CHECK(next == pushed);
  CHECK(ring.used() == 0);
}

TEST_CASE("record ring: a producer and a consumer thread hand over every record in order in a large block",
          "[unit][ring]") {
  check_threads_hand_over(1024 * 1024);  // past kRewindAfter: records go back to the start early
}
