// The response cache end to end (docs/cache.md): hits and misses for stream and non-stream
// clients, bypass by header and by temperature, nothing stored from a cut stream or an
// abandoned one, tenant isolation with scope = "key", the usage row and metrics of a hit, the
// disk copy across a restart, /admin/cache, and paced replay.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "integration/gateway_harness.hpp"
#include "support/temp_dir.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

constexpr const char* kOtherKey = "sk-integration-test-key-0002";

// The cache on for every route, in memory only.
void cache_on(Config& c) {
  c.cache.enabled = true;
  c.cache.disk = false;
}

std::string det(const std::string& text, bool stream = false, const std::string& extra = "") {
  return chat_body(text, stream, std::string(R"("temperature":0)") + (extra.empty() ? "" : "," + extra));
}

// The answer's text: every content delta (stream) or the message content (whole).
std::string content_of(const HttpResult& r) {
  std::string out;
  const std::string key = "\"content\":\"";
  std::size_t pos = 0;
  while ((pos = r.body.find(key, pos)) != std::string::npos) {
    pos += key.size();
    const auto end = r.body.find('"', pos);
    out += r.body.substr(pos, end - pos);
    pos = end;
  }
  return out;
}

uint64_t upstream_calls(Harness& h) { return h.mock().stats().requests; }

// Starts a slow stream, reads its first content chunk, then hangs up.
void abandon_stream(Harness& h, const std::string& body) {
  RawConn conn(h.port());
  REQUIRE(conn.connected());
  REQUIRE(conn.send(raw_chat_request(body)));
  const std::string got = conn.read_until("\"content\":\"", std::chrono::seconds(5));
  REQUIRE(got.find("\"content\":\"") != std::string::npos);
  conn.close();
}

// Waits (bounded) until the gateway has recorded `n` requests; the access lines.
std::vector<std::string> wait_lines(Harness& h, std::size_t before, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    h.gateway().flush_records();
    auto l = access_lines().snapshot();
    if (l.size() >= before + n) return std::vector<std::string>(l.begin() + static_cast<long>(before), l.end());
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace

TEST_CASE("cache: a repeated deterministic request is a hit, answered without the upstream", "[integration][cache]") {
  Harness h({cache_on, {}});
  auto a = h.post_chat(det("cache me"));
  REQUIRE(a.status == 200);
  CHECK(a.header("X-Cache") == "MISS");
  auto b = h.post_chat(det("cache me"));
  REQUIRE(b.status == 200);
  CHECK(b.header("X-Cache") == "HIT");
  CHECK(upstream_calls(h) == 1);
  CHECK(content_of(b) == content_of(a));
  CHECK_FALSE(content_of(a).empty());
  // A fresh completion id; the usage is the original answer's.
  CHECK_THAT(b.body, Catch::Contains("\"usage\""));
  CHECK_THAT(b.body, Catch::Contains("\"object\":\"chat.completion\""));
}

TEST_CASE("cache: a stream is replayed; one entry serves stream and non-stream clients", "[integration][cache]") {
  Harness h({cache_on, {}});
  const std::string usage = R"("stream_options":{"include_usage":true})";
  auto live = h.post_chat(det("[scenario:plain chunks=5] stream me", true, usage));
  REQUIRE(live.status == 200);
  CHECK(live.header("X-Cache") == "MISS");
  auto hit = h.post_chat(det("[scenario:plain chunks=5] stream me", true, usage));
  REQUIRE(hit.status == 200);
  CHECK(hit.header("X-Cache") == "HIT");
  CHECK(hit.header("Content-Type") == "text/event-stream");
  CHECK(content_of(hit) == content_of(live));
  const auto le = sse_data(live.body), he = sse_data(hit.body);
  REQUIRE(he.size() == le.size());
  CHECK(he.back() == "[DONE]");
  CHECK_THAT(he[he.size() - 2], Catch::Contains("\"usage\""));
  // Without include_usage, and as one body: still the same entry.
  auto plain = h.post_chat(det("[scenario:plain chunks=5] stream me", true));
  CHECK(plain.header("X-Cache") == "HIT");
  CHECK(plain.body.find("\"usage\"") == std::string::npos);
  auto whole = h.post_chat(det("[scenario:plain chunks=5] stream me"));
  CHECK(whole.header("X-Cache") == "HIT");
  CHECK(content_of(whole) == content_of(live));
  CHECK(upstream_calls(h) == 1);
}

TEST_CASE("cache: X-Zgate-Cache: off and Cache-Control: no-store bypass it", "[integration][cache]") {
  Harness h({cache_on, {}});
  REQUIRE(h.post_chat(det("bypass")).header("X-Cache") == "MISS");
  auto off = h.post_chat(det("bypass"), {{"X-Zgate-Cache", "off"}});
  CHECK(off.header("X-Cache") == "BYPASS");
  auto no_store = h.post_chat(det("bypass"), {{"Cache-Control", "no-store"}});
  CHECK(no_store.header("X-Cache") == "BYPASS");
  CHECK(upstream_calls(h) == 3);
  // no-cache: not read, but the fresh answer is stored.
  auto no_cache = h.post_chat(det("bypass"), {{"Cache-Control", "no-cache"}});
  CHECK(no_cache.header("X-Cache") == "MISS");
  CHECK(upstream_calls(h) == 4);
  CHECK(h.post_chat(det("bypass")).header("X-Cache") == "HIT");
}

TEST_CASE("cache: a non-zero temperature bypasses it (deterministic_only)", "[integration][cache]") {
  Harness h({cache_on, {}});
  const std::string body = chat_body("warm", false, R"("temperature":0.7)");
  CHECK(h.post_chat(body).header("X-Cache") == "BYPASS");
  CHECK(h.post_chat(body).header("X-Cache") == "BYPASS");
  CHECK(upstream_calls(h) == 2);
  // Without a temperature the upstream samples too.
  CHECK(h.post_chat(chat_body("warm")).header("X-Cache") == "BYPASS");
}

TEST_CASE("cache: off for a route, no X-Cache header; X-Zgate-Cache: on turns it on", "[integration][cache]") {
  Harness h;
  auto a = h.post_chat(det("quiet"));
  CHECK(a.header("X-Cache").empty());
  CHECK(h.post_chat(det("asked"), {{"X-Zgate-Cache", "on"}}).header("X-Cache") == "MISS");
  CHECK(h.post_chat(det("asked"), {{"X-Zgate-Cache", "on"}}).header("X-Cache") == "HIT");
  CHECK(h.post_chat(det("asked")).header("X-Cache").empty());
}

TEST_CASE("cache: a route or key with cache = false keeps it off", "[integration][cache]") {
  Harness h({[](Config& c) {
               cache_on(c);
               c.api_keys[0].policy.cache = 0;
             },
             {}});
  CHECK(h.post_chat(det("nope"), {{"X-Zgate-Cache", "on"}}).header("X-Cache").empty());
}

TEST_CASE("cache: a cut upstream stream stores nothing", "[integration][cache]") {
  Harness h({cache_on, {}});
  const std::string body = det("[scenario:drop after=2] cut", true);
  auto a = h.post_chat(body);
  CHECK(a.header("X-Cache") == "MISS");
  auto b = h.post_chat(body);
  CHECK(b.header("X-Cache") == "MISS");
  CHECK(upstream_calls(h) == 2);
  const std::string err = det("[scenario:error_frame] cut", true);
  CHECK(h.post_chat(err).header("X-Cache") == "MISS");
  CHECK(h.post_chat(err).header("X-Cache") == "MISS");
}

TEST_CASE("cache: a stream its client abandons stores nothing", "[integration][cache]") {
  Harness h({cache_on, {}});
  const std::string body = det("[scenario:slow chunks=20 delay_ms=20] abandon", true);
  const std::size_t before = access_lines().snapshot().size();
  abandon_stream(h, body);
  const auto lines = wait_lines(h, before, 1);
  CHECK_THAT(lines.back(), Catch::Contains("\"status\":499"));
  auto again = h.post_chat(body);
  CHECK(again.header("X-Cache") == "MISS");
}

TEST_CASE("cache: scope = key keeps one tenant's answers from another", "[integration][cache]") {
  Harness h({[](Config& c) {
               cache_on(c);
               c.cache.scope = "key";
               c.api_keys.push_back(ApiKey{"other", kOtherKey});
             },
             {}});
  REQUIRE(h.post_chat(det("secret plan")).header("X-Cache") == "MISS");
  const Headers other{{"Authorization", std::string("Bearer ") + kOtherKey}};
  auto b = http_request("127.0.0.1", h.port(), "POST", "/v1/chat/completions",
                        {{"Authorization", std::string("Bearer ") + kOtherKey}, {"Content-Type", "application/json"}},
                        det("secret plan"), 5000ms);
  CHECK(b.header("X-Cache") == "MISS");
  CHECK(h.post_chat(det("secret plan")).header("X-Cache") == "HIT");
  CHECK(upstream_calls(h) == 2);
}

TEST_CASE("cache: a hit is recorded with no upstream tokens or cost, and the cost it saved", "[integration][cache]") {
  TempDir dir("cache");
  Harness h({[&](Config& c) {
               cache_on(c);
               c.usage_store = true;
               c.data_dir = dir.path;
             },
             {}});
  const std::size_t before = access_lines().snapshot().size();
  REQUIRE(h.post_chat(det("count me")).status == 200);
  REQUIRE(h.post_chat(det("count me")).header("X-Cache") == "HIT");
  const auto lines = wait_lines(h, before, 2);
  CHECK_THAT(lines[0], Catch::Contains("\"cache\":\"miss\""));
  CHECK_THAT(lines[1], Catch::Contains("\"cache\":\"hit\""));
  CHECK_THAT(lines[1], Catch::Contains("\"prompt_tokens\":0"));
  CHECK_THAT(lines[1], Catch::Contains("\"attempts\":0"));
  // The usage row.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((dir.path + "/usage.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT cache_hit, prompt_tokens, completion_tokens, cost_usd, cost_saved_usd "
                                 "FROM requests ORDER BY id", -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::tuple<int, int64_t, int64_t, double, double>> rows;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (rows.size() < 2) {
    rows.clear();
    while (sqlite3_step(st) == SQLITE_ROW) {
      rows.emplace_back(sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                        sqlite3_column_double(st, 3), sqlite3_column_double(st, 4));
    }
    sqlite3_reset(st);
    if (rows.size() >= 2) break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    h.gateway().flush_records();
    std::this_thread::sleep_for(10ms);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  REQUIRE(rows.size() == 2);
  const auto& [miss_hit, miss_p, miss_c, miss_cost, miss_saved] = rows[0];
  const auto& [hit, p, cpl, cost, saved] = rows[1];
  CHECK(miss_hit == 0);
  CHECK(miss_cost > 0);
  CHECK(miss_saved == 0);
  CHECK(hit == 1);
  CHECK(p == 0);
  CHECK(cpl == 0);
  CHECK(cost == 0);
  CHECK(saved == Approx(miss_cost));
  // /metrics
  auto m = h.get("/metrics");
  CHECK_THAT(m.body, Catch::Contains("zgate_cache_hits_total 1"));
  CHECK_THAT(m.body, Catch::Contains("zgate_cache_misses_total 1"));
  CHECK_THAT(m.body, Catch::Contains("zgate_cache_entries 1"));
}

TEST_CASE("cache: the disk copy survives a restart", "[integration][cache]") {
  TempDir dir("cache");
  auto tweak = [&](Config& c) {
    c.cache.enabled = true;
    c.cache.disk = true;
    c.data_dir = dir.path;
  };
  std::string first;
  {
    Harness h({tweak, {}});
    auto a = h.post_chat(det("remember me", true));
    REQUIRE(a.header("X-Cache") == "MISS");
    first = content_of(a);
  }
  CHECK(std::filesystem::exists(dir.path + "/cache.db"));
  Harness h({tweak, {}});
  auto b = h.post_chat(det("remember me", true));
  CHECK(b.header("X-Cache") == "HIT");
  CHECK(content_of(b) == first);
  CHECK(upstream_calls(h) == 0);
}

TEST_CASE("cache: GET /admin/cache shows it, DELETE /admin/cache empties it", "[integration][cache]") {
  Harness h({[](Config& c) {
               cache_on(c);
               c.admin_key = "admin-secret-key-0001";
             },
             {}});
  const Headers admin{{"Authorization", "Bearer admin-secret-key-0001"}};
  REQUIRE(h.post_chat(det("one")).status == 200);
  REQUIRE(h.post_chat(chat_body("two", false, R"("temperature":0)", "glm-4.5-air")).status == 200);
  auto st = h.get("/admin/cache", admin);
  REQUIRE(st.status == 200);
  CHECK_THAT(st.body, Catch::Contains("\"entries\":2"));
  auto del_model = http_request("127.0.0.1", h.port(), "DELETE", "/admin/cache?model=glm-4.5-air", admin, "", 5000ms);
  CHECK(del_model.status == 200);
  CHECK_THAT(del_model.body, Catch::Contains("\"deleted\":1"));
  CHECK(h.post_chat(det("one")).header("X-Cache") == "HIT");
  auto del_key = http_request("127.0.0.1", h.port(), "DELETE", "/admin/cache?key_prefix=ites", admin, "", 5000ms);
  CHECK_THAT(del_key.body, Catch::Contains("\"deleted\":1"));
  CHECK(h.post_chat(det("one")).header("X-Cache") == "MISS");
  auto all = http_request("127.0.0.1", h.port(), "DELETE", "/admin/cache", admin, "", 5000ms);
  CHECK_THAT(all.body, Catch::Contains("\"deleted\":1"));
  auto bad = http_request("127.0.0.1", h.port(), "DELETE", "/admin/cache?colour=red", admin, "", 5000ms);
  CHECK(bad.status == 400);
  CHECK(http_request("127.0.0.1", h.port(), "DELETE", "/admin/cache", {}, "", 5000ms).status == 401);
}

TEST_CASE("cache: paced replay follows the recorded timing divided by replay_speed", "[integration][cache]") {
  Harness h({[](Config& c) {
               cache_on(c);
               c.cache.replay = "paced";
               c.cache.replay_speed = 2.0;
               c.cache.replay_max_delay = 10s;
             },
             {}});
  // Five content events 160 ms apart: a generous pacing, so scheduling noise stays small.
  const std::string body = det("[scenario:slow chunks=5 delay_ms=160] paced", true);
  // The span between the first and the last chunk carrying content.
  auto span = [](const HttpResult& r) {
    std::chrono::milliseconds first{-1}, last{0};
    for (const auto& [at, piece] : r.chunks) {
      if (piece.find("\"content\":\"") == std::string::npos) continue;
      if (first.count() < 0) first = at;
      last = at;
    }
    return (last - first).count();
  };
  auto live = h.post_chat(body);
  REQUIRE(live.header("X-Cache") == "MISS");
  auto paced = h.post_chat(body);
  REQUIRE(paced.header("X-Cache") == "HIT");
  CHECK(content_of(paced) == content_of(live));
  const double expected = static_cast<double>(span(live)) / 2.0;
  REQUIRE(expected >= 250);
  CHECK(static_cast<double>(span(paced)) >= expected * 0.9);
  CHECK(static_cast<double>(span(paced)) <= expected * 1.1);
}

TEST_CASE("cache: concurrent identical requests make one upstream call; waiters stream as it comes",
          "[integration][cache][coalesce]") {
  Harness h({cache_on, {}});
  // Ten content events 60 ms apart: the answer takes about 600 ms upstream.
  const std::string body = det("[scenario:slow chunks=10 delay_ms=60] together", true);
  constexpr int kClients = 4;
  std::vector<HttpResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) threads.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = h.post_chat(body); });
  for (auto& t : threads) t.join();
  CHECK(upstream_calls(h) == 1);
  int misses = 0;
  for (const auto& r : results) {
    REQUIRE(r.status == 200);
    CHECK(content_of(r) == content_of(results[0]));
    if (r.header("X-Cache") == "MISS") ++misses;
    // The first content arrived well before the answer ended: events came as the upstream sent them.
    std::chrono::milliseconds first{-1};
    for (const auto& [at, piece] : r.chunks) {
      if (piece.find("\"content\":\"") != std::string::npos) {
        first = at;
        break;
      }
    }
    REQUIRE(first.count() >= 0);
    CHECK(first + 200ms < r.chunks.back().first);
  }
  CHECK(misses == 1);
  CHECK_FALSE(content_of(results[0]).empty());
}

TEST_CASE("cache: when the leading request's upstream fails, waiters go upstream themselves",
          "[integration][cache][coalesce]") {
  Harness h({[](Config& c) {
               cache_on(c);
               c.retry.attempts = 1;
             },
             {}});
  // A whole (non-stream) answer that fails: the waiters have sent nothing and retry, each once.
  const std::string body = det("[scenario:err_500] fails");
  std::vector<HttpResult> results(3);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) threads.emplace_back([&, i] { results[i] = h.post_chat(body); });
  for (auto& t : threads) t.join();
  for (const auto& r : results) CHECK(r.status >= 500);
  CHECK(upstream_calls(h) == 3);
}

TEST_CASE("cache: when the leading request's client leaves, the upstream answer goes on for the waiters",
          "[integration][cache][coalesce]") {
  Harness h({[](Config& c) {
               cache_on(c);
               c.admin_key = "admin-secret-key-0001";
             },
             {}});
  const Headers admin{{"Authorization", "Bearer admin-secret-key-0001"}};
  // Twelve content events 60 ms apart.
  const std::string body = det("[scenario:slow chunks=12 delay_ms=60] leader leaves", true);
  RawConn leader(h.port());
  REQUIRE(leader.connected());
  REQUIRE(leader.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                      std::string(kClientKey) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body));
  REQUIRE(leader.read_until("\"content\":\"", 5s).find("X-Cache: MISS") != std::string::npos);
  HttpResult waiter;
  std::thread t([&] { waiter = h.post_chat(body); });
  // Once the second request waits on the flight, the leader's client hangs up.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (h.get("/admin/cache", admin).body.find("\"waiting\":1") == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
  leader.close();
  t.join();
  CHECK(waiter.status == 200);
  CHECK(waiter.complete);
  CHECK_THAT(waiter.body, Catch::Contains("[DONE]"));
  CHECK(sse_data(waiter.body).size() >= 12);
  CHECK(upstream_calls(h) == 1);
  CHECK(waiter.header("X-Cache") == "HIT");
}
