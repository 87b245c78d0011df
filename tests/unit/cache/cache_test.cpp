// The response cache's pure part: key normalisation, the entry builder and its encoding, the
// replay schedule, the in-memory LRU (bytes, TTL with the clock passed in) and the disk copy.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "zgate/cache/entry.hpp"
#include "zgate/cache/store.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/front/openai/request.hpp"
#include "support/chat_helpers.hpp"

using namespace zgate;
using namespace zgate::cache;

namespace {

ChatRequest parse(std::string body) { return test::parse_chat(std::move(body)); }

Key key_of(const std::string& body, std::string_view scope = {}) {
  ModelRoute route;
  route.name = "glm";
  route.upstream_model = "glm-4";
  return make_key(parse(body), route, "zhipu", "glm-4", scope);
}

// An entry of `text` split in `parts` content events, `gap_us` apart.
std::shared_ptr<Entry> entry_of(const std::string& text, int parts = 1, int64_t gap_us = 1000,
                                int64_t expires_ms = 1'000'000) {
  int64_t t = 0;
  EntryBuilder b([&] { return t; }, 1 << 20);
  b.on_event(Event::start("up-1", "glm-4", 123));
  const std::size_t n = text.size() / static_cast<std::size_t>(parts);
  for (int i = 0; i < parts; ++i) {
    t += gap_us;
    b.on_event(Event::content(std::string_view(text).substr(static_cast<std::size_t>(i) * n,
                                                             i + 1 == parts ? std::string::npos : n)));
  }
  t += gap_us;
  b.on_event(Event::finished(FinishReason::stop));
  b.on_event(Event::usage_of(test::usage_of(5, 7, 12)));
  REQUIRE(b.complete());
  auto e = b.take();
  e->model = "glm";
  e->expires_ms = expires_ms;
  return e;
}

// The id, model and time every replay and its live counterpart are encoded with.
openai::StreamOptions replay_options(bool include_usage) {
  return openai::StreamOptions{.id = "chatcmpl-x", .model = "glm", .created = 1, .include_usage = include_usage};
}

std::string stream_of(const Entry& e, bool include_usage) {
  std::string out;
  openai::StreamEncoder enc(out, replay_options(include_usage));
  replay(e, enc);
  enc.finish();
  return out;
}

Key key_n(int i) {
  Key k;
  k.bytes[0] = static_cast<unsigned char>(i);
  k.bytes[1] = static_cast<unsigned char>(i >> 8);
  k.bytes[31] = 0;  // one shard
  return k;
}

}  // namespace

TEST_CASE("cache key: field order and whitespace do not change it", "[cache]") {
  const Key a = key_of(R"({"model":"glm","temperature":0,"messages":[{"role":"user","content":"hi"}],
    "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}}}]})");
  const Key b = key_of(R"({ "messages" : [ {"content":"hi","role":"user"} ], "temperature":0.0, "model":"glm",
    "tools":[{"function":{"parameters":{"properties":{"b":{"type":"integer"},"a":{"type":"string"}},"type":"object"},"name":"f"},"type":"function"}]})");
  CHECK(a == b);
}

TEST_CASE("cache key: stream and include_usage do not change it", "[cache]") {
  CHECK(key_of(R"({"model":"glm","messages":[{"role":"user","content":"hi"}]})") ==
        key_of(R"({"model":"glm","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})"));
}

TEST_CASE("cache key: what the answer depends on changes it", "[cache]") {
  const std::string base = R"({"model":"glm","temperature":0,"messages":[{"role":"user","content":"hi"}]})";
  const Key k = key_of(base);
  CHECK_FALSE(k == key_of(R"({"model":"glm","temperature":0,"messages":[{"role":"user","content":"hi!"}]})"));
  CHECK_FALSE(k == key_of(R"({"model":"glm","temperature":0,"messages":[{"role":"system","content":"hi"}]})"));
  CHECK_FALSE(k == key_of(R"({"model":"glm","temperature":0.5,"messages":[{"role":"user","content":"hi"}]})"));
  CHECK_FALSE(k == key_of(R"({"model":"glm","temperature":0,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})"));
  CHECK_FALSE(k == key_of(R"({"model":"glm","temperature":0,"stop":["x"],"messages":[{"role":"user","content":"hi"}]})"));
  CHECK_FALSE(k == key_of(R"({"model":"glm","temperature":0,"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"hi"}]})"));
  CHECK_FALSE(k == key_of(R"({"model":"glm","temperature":0,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"hi"}]})"));
  CHECK_FALSE(k == key_of(base, "team-a"));
  CHECK_FALSE(key_of(base, "team-a") == key_of(base, "team-b"));
  ModelRoute r;
  CHECK_FALSE(make_key(parse(base), r, "zhipu", "glm-4", "") == make_key(parse(base), r, "zhipu", "glm-4.5", ""));
  CHECK_FALSE(make_key(parse(base), r, "zhipu", "glm-4", "") == make_key(parse(base), r, "zai", "glm-4", ""));
}

TEST_CASE("cache key: hex round trip", "[cache]") {
  const Key k = key_of(R"({"model":"glm","messages":[{"role":"user","content":"hi"}]})");
  REQUIRE(k.hex().size() == 64);
  auto back = Key::from_hex(k.hex());
  REQUIRE(back);
  CHECK(*back == k);
  CHECK_FALSE(Key::from_hex("xyz"));
}

TEST_CASE("cache: canonical_json sorts keys at every depth", "[cache]") {
  CHECK(canonical_json(R"( {"b": [ {"z":1,"y":2} ], "a" : "s"} )") == R"({"a":"s","b":[{"y":2,"z":1}]})");
  CHECK(canonical_json("not json") == "not json");
}

TEST_CASE("cache: deterministic requests", "[cache]") {
  CHECK(deterministic(parse(R"({"model":"glm","temperature":0,"messages":[{"role":"user","content":"hi"}]})")));
  CHECK_FALSE(deterministic(parse(R"({"model":"glm","temperature":0.7,"messages":[{"role":"user","content":"hi"}]})")));
  CHECK_FALSE(deterministic(parse(R"({"model":"glm","messages":[{"role":"user","content":"hi"}]})")));
  CHECK(deterministic(parse(R"({"model":"glm","do_sample":false,"messages":[{"role":"user","content":"hi"}]})")));
}

TEST_CASE("cache entry: replays as the live stream did, with and without usage", "[cache]") {
  auto e = entry_of("Hello world", 3);
  // The same events fed live.
  std::string live;
  {
    openai::StreamEncoder enc(live, replay_options(true));
    enc.on_event(Event::start("up-1", "glm-4", 123));
    enc.on_event(Event::content("Hel"));
    enc.on_event(Event::content("lo "));
    enc.on_event(Event::content("world"));
    enc.on_event(Event::finished(FinishReason::stop));
    enc.on_event(Event::usage_of(test::usage_of(5, 7, 12)));
    enc.finish();
  }
  CHECK(stream_of(*e, true) == live);
  CHECK(stream_of(*e, false).find("\"usage\"") == std::string::npos);
  openai::ResponseAggregator agg(replay_options(false));
  replay(*e, agg);
  std::string body;
  agg.write(body);
  CHECK(body.find(R"("content":"Hello world")") != std::string::npos);
  CHECK(body.find(R"("total_tokens":12)") != std::string::npos);
}

TEST_CASE("cache entry: encode and decode round trip", "[cache]") {
  auto e = entry_of("Hello world, with \"quotes\" and \n newlines", 4);
  e->key_label = "team-a";
  e->upstream_model = "glm-4";
  e->stored_ms = 42;
  e->cost_usd = 0.00125;
  const std::string bytes = encode(*e);
  auto d = decode(bytes);
  REQUIRE(d);
  CHECK(d->model == e->model);
  CHECK(d->key_label == "team-a");
  CHECK(d->stored_ms == 42);
  CHECK(d->expires_ms == e->expires_ms);
  CHECK(d->cost_usd == e->cost_usd);
  CHECK(d->usage.total_tokens == 12);
  CHECK(d->events.size() == e->events.size());
  CHECK(stream_of(*d, true) == stream_of(*e, true));
  CHECK(encode(*d) == bytes);
  CHECK_FALSE(decode(bytes.substr(0, bytes.size() - 1)));
  CHECK_FALSE(decode("ZGC2" + bytes.substr(4)));
}

TEST_CASE("cache entry: errors, a missing finish and oversize answers are not complete", "[cache]") {
  {
    EntryBuilder b(nullptr, 1 << 20);
    b.on_event(Event::content("partial"));
    CHECK_FALSE(b.complete());  // a cut stream: no finish
  }
  {
    EntryBuilder b(nullptr, 1 << 20);
    b.on_event(Event::content("partial"));
    ApiError err = bad_gateway("boom");
    b.on_event(Event::failed(err));
    b.on_event(Event::finished(FinishReason::stop));
    CHECK_FALSE(b.complete());
  }
  {
    EntryBuilder b(nullptr, 1 << 20);
    b.on_event(Event::finished(FinishReason::error));
    CHECK_FALSE(b.complete());
  }
  {
    EntryBuilder b(nullptr, 64);
    b.on_event(Event::content(std::string(100, 'x')));
    b.on_event(Event::finished(FinishReason::stop));
    CHECK(b.oversize());
    CHECK_FALSE(b.complete());
  }
}

TEST_CASE("cache replay schedule: gaps divided by the speed and capped", "[cache]") {
  auto e = entry_of("abcdef", 3, 100'000);  // events at 0, 100, 200, 300, 400 ms (usage at 400)
  const auto d1 = replay_delays(*e, 1.0, 0);
  REQUIRE(d1.size() == e->events.size());
  CHECK(d1 == std::vector<int64_t>{0, 100'000, 100'000, 100'000, 100'000, 0});
  CHECK(replay_delays(*e, 2.0, 0) == std::vector<int64_t>{0, 50'000, 50'000, 50'000, 50'000, 0});
  CHECK(replay_delays(*e, 1.0, 30'000) == std::vector<int64_t>{0, 30'000, 30'000, 30'000, 30'000, 0});
}

TEST_CASE("cache store: hit, miss and replacement", "[cache]") {
  LocalCacheStore s(1 << 24);
  const Key k = key_n(1);
  CHECK_FALSE(s.get(k, 0));
  s.put(k, entry_of("one"));
  auto got = s.get(k, 0);
  REQUIRE(got);
  CHECK(stream_of(*got, false).find("one") != std::string::npos);
  s.put(k, entry_of("two"));
  CHECK(stream_of(*s.get(k, 0), false).find("two") != std::string::npos);
  const Stats st = s.stats();
  CHECK(st.entries == 1);
  CHECK(st.hits == 2);
  CHECK(st.misses == 1);
}

TEST_CASE("cache store: an entry expires at its TTL", "[cache]") {
  LocalCacheStore s(1 << 24);
  const Key k = key_n(2);
  s.put(k, entry_of("x", 1, 1000, /*expires_ms=*/5000));
  CHECK(s.get(k, 4999));
  CHECK_FALSE(s.get(k, 5000));
  CHECK(s.stats().entries == 0);
  CHECK(s.stats().expirations == 1);
}

TEST_CASE("cache store: bounded by bytes, least recently used evicted first", "[cache]") {
  const std::size_t one = entry_of(std::string(1000, 'a'))->bytes();
  // Room for three entries in the shard all these keys fall in.
  LocalCacheStore s(LocalCacheStore::kShards * (3 * one + one / 2));
  for (int i = 0; i < 3; ++i) s.put(key_n(i), entry_of(std::string(1000, 'a')));
  CHECK(s.stats().entries == 3);
  CHECK(s.get(key_n(0), 0));  // 0 is now the most recent: 1 is the oldest
  s.put(key_n(3), entry_of(std::string(1000, 'a')));
  CHECK(s.stats().entries == 3);
  CHECK(s.stats().bytes <= s.stats().max_bytes);
  CHECK(s.get(key_n(0), 0));
  CHECK_FALSE(s.get(key_n(1), 0));
  CHECK(s.get(key_n(2), 0));
  CHECK(s.get(key_n(3), 0));
  CHECK(s.stats().evictions == 1);
  // An entry larger than a shard is not stored.
  LocalCacheStore tiny(LocalCacheStore::kShards * (one / 2));
  tiny.put(key_n(9), entry_of(std::string(1000, 'a')));
  CHECK(tiny.stats().entries == 0);
}

TEST_CASE("cache store: erase by model and by prefix", "[cache]") {
  LocalCacheStore s(1 << 24);
  auto a = entry_of("a");
  a->model = "m1";
  a->key_label = "team-a";
  auto b = entry_of("b");
  b->model = "m2";
  b->key_label = "team-b";
  s.put(key_n(1), a);
  s.put(key_n(2), b);
  CHECK(s.erase(Filter{.model = "m1"}) == 1);
  CHECK_FALSE(s.get(key_n(1), 0));
  CHECK(s.erase(Filter{.prefix = "team-"}) == 1);
  s.put(key_n(1), a);
  CHECK(s.erase(Filter{.prefix = key_n(1).hex().substr(0, 6)}) == 1);
  s.put(key_n(1), a);
  s.put(key_n(2), b);
  CHECK(s.erase(Filter{}) == 2);
  CHECK(s.stats().bytes == 0);
}

TEST_CASE("cache disk: entries survive a restart, expired ones are dropped", "[cache]") {
  const auto dir = std::filesystem::temp_directory_path() / ("zgate-cache-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "cache.db").string();
  {
    DiskCache disk(path);
    LocalCacheStore s(1 << 24, &disk);
    s.put(key_n(1), entry_of("kept", 1, 1000, 10'000));
    s.put(key_n(2), entry_of("expired", 1, 1000, 500));
    s.put(key_n(3), entry_of("removed", 1, 1000, 10'000));
    s.erase(Filter{.prefix = key_n(3).hex()});
    disk.flush();
  }
  {
    const DiskStats st = disk_stats(path, 1000);
    CHECK(st.entries == 2);
    CHECK(st.expired == 1);
  }
  {
    DiskCache disk(path);
    LocalCacheStore s(1 << 24, &disk);
    CHECK(disk.load(s, 1000) == 1);
    auto got = s.get(key_n(1), 1000);
    REQUIRE(got);
    CHECK(stream_of(*got, false).find("kept") != std::string::npos);
    CHECK_FALSE(s.get(key_n(2), 1000));
  }
  CHECK(disk_stats(path, 1000).entries == 1);  // the expired row was deleted at load
  CHECK(disk_clear(path, "") == 1);
  CHECK(disk_stats(path, 1000).entries == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cache flight: waiters read the leader's events as they come and are woken", "[cache]") {
  Flights flights;
  bool leader = false;
  const Key k = key_n(7);
  auto f = flights.join_or_lead(k, leader);
  CHECK(leader);
  bool second_leads = true;
  auto g = flights.join_or_lead(k, second_leads);
  CHECK_FALSE(second_leads);
  CHECK(g == f);
  int wakes = 0;
  const uint64_t id = g->subscribe([&] { ++wakes; });
  CHECK(f->waiters() == 1);
  std::string out;
  openai::StreamEncoder enc(out, replay_options(false));
  std::size_t next = 0;
  f->publish(Event::start("up", "glm-4", 1));
  f->publish(Event::content("Hel"));
  f->notify();
  CHECK(wakes == 1);
  CHECK(g->read(next, enc) == Flight::State::running);
  CHECK(out.find("Hel") != std::string::npos);
  f->publish(Event::content("lo"));
  f->publish(Event::finished(FinishReason::stop));
  f->end(true);
  CHECK(wakes == 2);
  CHECK(g->read(next, enc) == Flight::State::done);
  CHECK(out.find("\"lo\"") != std::string::npos);
  g->unsubscribe(id);
  CHECK(f->waiters() == 0);
  flights.remove(k, f);
  CHECK(flights.size() == 0);
  auto h2 = flights.join_or_lead(k, leader);
  CHECK(leader);  // a new flight after the first ended
  CHECK(h2 != f);
}

TEST_CASE("cache flight: a failed flight tells its waiters", "[cache]") {
  Flight f;
  f.publish(Event::content("partial"));
  f.end(false);
  std::string out;
  openai::StreamEncoder enc(out, openai::StreamOptions{});
  std::size_t next = 0;
  CHECK(f.read(next, enc) == Flight::State::failed);
}
