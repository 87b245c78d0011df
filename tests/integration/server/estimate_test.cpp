// Answers the upstream never reported usage for (a stream the client abandons) are billed an
// estimate: the usage store row says so (usage_estimated = 1, tokens and cost > 0) and the key's
// budget is charged; a whole stream keeps the upstream's own numbers.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "integration/gateway_harness.hpp"
#include "zgate/front/openai/request.hpp"
#include "zgate/policy/limit_store.hpp"
#include "support/temp_dir.hpp"
#include "support/usage_db.hpp"

using namespace zgate;
using namespace zgate::testing;

namespace {

struct Row {
  int64_t prompt = 0, completion = 0, estimated = -1;
  double cost = 0;
  int status = 0;
};

// The usage store's rows, oldest first.
std::vector<Row> rows(const std::string& dir) {
  std::vector<Row> out;
  const char* select =
      "SELECT prompt_tokens, completion_tokens, usage_estimated, cost_usd, status FROM requests ORDER BY id";
  each_usage_row(dir, select, [&](sqlite3_stmt* st) {
    out.push_back(Row{sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                      sqlite3_column_double(st, 3), sqlite3_column_int(st, 4)});
  });
  return out;
}

// The body abandon_stream() sends.
const std::string kAbandoned = chat_body("[scenario:slow chunks=200 delay_ms=20]", true);

// Starts a slow stream, reads its first content chunks, then hangs up.
void abandon_stream(Harness& h) {
  RawConn conn(h.port());
  REQUIRE(conn.connected());
  const std::string& body = kAbandoned;
  REQUIRE(conn.send(raw_chat_request(body)));
  const std::string got = conn.read_until("\"content\":\"", std::chrono::seconds(5));
  REQUIRE(got.find("200") != std::string::npos);
  REQUIRE(got.find("\"content\":\"") != std::string::npos);
  conn.close();
}

// Flushes the recorder until the store holds `n` rows (the handler ends just after the hang-up).
std::vector<Row> wait_rows(Harness& h, const std::string& dir, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    h.gateway().flush_records();
    auto r = rows(dir);
    if (r.size() >= n) return r;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

TEST_CASE("estimate: a stream the client abandons is stored with estimated tokens and cost", "[integration][estimate]") {
  TempDir dir("estimate");
  Harness h({[&](Config& c) {
               c.usage_store = true;
               c.data_dir = dir.path;
             },
             {}});
  abandon_stream(h);
  const auto r = wait_rows(h, dir.path, 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == 499);
  CHECK(r[0].estimated == 1);
  // The prompt's estimate is the request's, although the conversation was freed once the
  // upstream accepted it.
  std::string padded = kAbandoned;
  padded.reserve(padded.size() + simdjson::SIMDJSON_PADDING);  // the parser's padding contract
  const Result<ChatRequest> sent = openai::parse_chat_request(padded);
  REQUIRE(sent.ok());
  CHECK(r[0].prompt == policy::estimate_prompt_tokens(*sent));
  CHECK(r[0].prompt > 0);
  CHECK(r[0].completion > 0);
  CHECK(r[0].cost > 0);
}

TEST_CASE("estimate: a whole stream keeps the upstream's usage, not estimated", "[integration][estimate]") {
  TempDir dir("estimate");
  Harness h({[&](Config& c) {
               c.usage_store = true;
               c.data_dir = dir.path;
             },
             {}});
  auto a = h.post_chat(chat_body("hello there", true, R"("stream_options":{"include_usage":true})"));
  REQUIRE(a.status == 200);
  // The usage chunk the client got carries the upstream's numbers.
  const auto events = sse_data(a.body);
  REQUIRE(events.size() >= 2);
  const std::string& usage = events[events.size() - 2];
  REQUIRE(usage.find("\"usage\"") != std::string::npos);
  const auto r = wait_rows(h, dir.path, 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].estimated == 0);
  CHECK_THAT(usage, Catch::Contains("\"prompt_tokens\":" + std::to_string(r[0].prompt) + ","));
  CHECK_THAT(usage, Catch::Contains("\"completion_tokens\":" + std::to_string(r[0].completion) + ","));
}

TEST_CASE("estimate: abandoned streams spend the key's budget until it is refused", "[integration][estimate][limits]") {
  Harness h({[](Config& c) { c.api_keys[0].policy.budget_day_usd = 0.000001; }, {}});
  policy::LocalLimitStore& store = h.gateway().limit_store();
  policy::KeySlot* slot = store.key("itest");
  abandon_stream(h);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (store.usage(slot, store.now_ms()).spent_day <= 0 || store.usage(slot, store.now_ms()).in_flight > 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
  auto r = h.post_chat(chat_body("hello"));
  CHECK(r.status == 429);
  CHECK_THAT(r.body, Catch::Contains("budget_day_usd"));
}
