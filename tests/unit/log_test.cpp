// Access log lines and cost accounting (obs). Lines are captured with the test sink.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>
#include <chrono>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "zgate/json/read.hpp"
#include "zgate/obs/log.hpp"
#include "zgate/obs/recorder.hpp"

using namespace zgate;

namespace {

// An access line parsed as a JSON object (the test fails when it is not one).
struct JsonLine {
  std::string buf;  // the padded copy the document reads
  simdjson::ondemand::document doc;
  simdjson::ondemand::object o;
  explicit JsonLine(const std::string& line) {
    REQUIRE(json::thread_parser().iterate(json::pad(line, buf)).get(doc) == simdjson::SUCCESS);
    REQUIRE(doc.get_object().get(o) == simdjson::SUCCESS);
  }
  // The string field `key` (the test fails when it is missing or not a string).
  std::string_view str(const char* key) {
    std::string_view s;
    REQUIRE(o[key].get_string().get(s) == simdjson::SUCCESS);
    return s;
  }
};

AccessRecord sample() {
  return AccessRecord{.request_id = "req-1",
                      .key_label = "ops",
                      .method = "POST",
                      .path = "/v1/chat/completions",
                      .model = "glm-4.5",
                      .upstream_model = "glm-4.5",
                      .provider = "default",
                      .stream = true,
                      .status = 200,
                      .connect_us = 1500,
                      .upstream_first_byte_us = 90000,
                      .first_token_us = -1,
                      .total_us = 250000,
                      .prompt_tokens = 100,
                      .completion_tokens = 20,
                      .bytes_in = 512,
                      .bytes_out = 2048,
                      .error_type = {},
                      .cost_usd = 0.0001,
                      .client_ip = "127.0.0.1",
                      .retries = {}};
}

struct SinkGuard {
  std::vector<std::string> lines;
  SinkGuard() {
    set_access_sink_for_tests([this](std::string_view l) { lines.emplace_back(l); });
  }
  ~SinkGuard() { set_access_sink_for_tests({}); }
};

constexpr int64_t kFinished = 1'714'564'800'123;  // 2024-05-01T12:00:00.123Z

// One record through the access-log writer, as a recorder pass gives it.
void write_one(const AccessRecord& r) {
  auto writer = make_access_log_writer();
  writer->begin();
  writer->consume(r, kFinished);
  writer->end();
}

}  // namespace

TEST_CASE("log: cost_usd prices uncached, cached and completion tokens", "[unit][log]") {
  ModelRoute m;
  m.price_input = 0.60;
  m.price_output = 2.20;
  m.price_cached_input = 0.11;
  Usage u;
  u.prompt_tokens = 1'000'000;
  u.cached_tokens = 200'000;
  u.completion_tokens = 500'000;
  // 800k * 0.60 + 200k * 0.11 + 500k * 2.20, per million.
  CHECK(cost_usd(m, u) == Approx(0.8 * 0.60 + 0.2 * 0.11 + 0.5 * 2.20));
  Usage none;
  CHECK(cost_usd(m, none) == 0);
}

TEST_CASE("log: one JSON access line per request with every field", "[unit][log]") {
  SinkGuard sink;
  write_one(sample());
  REQUIRE(sink.lines.size() == 1);
  const std::string& line = sink.lines[0];
  JsonLine j(line);
  auto& o = j.o;
  CHECK(j.str("ts") == "2024-05-01T12:00:00.123Z");  // when the request finished
  CHECK(j.str("level") == "info");
  CHECK(j.str("msg") == "request");
  CHECK(j.str("request_id") == "req-1");
  CHECK(j.str("key") == "ops");
  int64_t n = 0;
  REQUIRE(o["status"].get_int64().get(n) == simdjson::SUCCESS);
  CHECK(n == 200);
  REQUIRE(o["upstream_first_byte_us"].get_int64().get(n) == simdjson::SUCCESS);
  CHECK(n == 90000);
  bool is_null = false;
  REQUIRE(o["first_token_us"].is_null().get(is_null) == simdjson::SUCCESS);
  CHECK(is_null);  // -1 = not reached
  REQUIRE(o["bytes_out"].get_int64().get(n) == simdjson::SUCCESS);
  CHECK(n == 2048);
  double cost = 0;
  REQUIRE(o["cost_usd"].get_double().get(cost) == simdjson::SUCCESS);
  CHECK(cost == Approx(0.0001));
  bool reused = true;
  REQUIRE(o["upstream_reused"].get_bool().get(reused) == simdjson::SUCCESS);
  CHECK_FALSE(reused);
  REQUIRE(o["queue_wait_us"].is_null().get(is_null) == simdjson::SUCCESS);
  CHECK(is_null);  // not shaped
  REQUIRE(o["queue_depth"].get_int64().get(n) == simdjson::SUCCESS);
  CHECK(n == 0);
  bool estimated = true;
  REQUIRE(o["usage_estimated"].get_bool().get(estimated) == simdjson::SUCCESS);
  CHECK_FALSE(estimated);
}

TEST_CASE("log: an estimated usage says so in both access line formats", "[unit][log]") {
  auto r = sample();
  r.usage_estimated = true;
  std::string json, text;
  format_access(json, r, kFinished, /*json=*/true);
  format_access(text, r, kFinished, /*json=*/false);
  CHECK_THAT(json, Catch::Contains("\"usage_estimated\":true"));
  CHECK_THAT(text, Catch::EndsWith(" usage_estimated=true"));
}

TEST_CASE("log: an access line with long values that all need escaping is whole and valid JSON", "[unit][log]") {
  // Every byte of these values escapes to six (control characters): the line's room is sized
  // for the worst case, and what was in the buffer before the line stays.
  const std::string path(70000, '\x01'), retries(5000, '"');
  auto r = sample();
  r.path = path;
  r.retries = retries;
  r.error_type = "x\ny";
  std::string out = "before|";
  format_access(out, r, kFinished, /*json=*/true);
  REQUIRE_THAT(out, Catch::StartsWith("before|{\"ts\":") && Catch::EndsWith("\"usage_estimated\":false}"));
  const std::string line = out.substr(7);
  JsonLine j(line);
  CHECK(j.str("path") == path);
  CHECK(j.str("error_type") == "x\ny");
  CHECK(j.str("retries") == retries);
  std::string text;
  format_access(text, r, kFinished, /*json=*/false);
  CHECK_THAT(text, Catch::Contains(" error_type=\"x\\ny\" ") && Catch::EndsWith(" usage_estimated=false"));
  CHECK(text.size() > 6 * path.size());
}

TEST_CASE("log: text access lines are key=value with quoted values when needed", "[unit][log]") {
  auto r = sample();
  r.error_type = "upstream error";
  std::string out;
  format_access(out, r, kFinished, /*json=*/false);
  CHECK_THAT(out, Catch::StartsWith("ts=2024-05-01T12:00:00.123Z ") && Catch::Contains(" level=info msg=request request_id=req-1 key=ops") &&
                      Catch::Contains(" status=200 ") && Catch::Contains(" first_token_us=- ") &&
                      Catch::Contains(" error_type=\"upstream error\" ") && Catch::Contains(" stream=true "));
}

TEST_CASE("log: the access log off writes nothing", "[unit][log]") {
  SinkGuard sink;
  LogConfig off;
  off.access_log = false;
  off.level = "off";
  init_logging(off, false);
  CHECK_FALSE(access_log_enabled());
  write_one(sample());
  CHECK(sink.lines.empty());

  LogConfig on;
  on.level = "off";
  init_logging(on, false);
  CHECK(access_log_enabled());
  write_one(sample());
  CHECK(sink.lines.size() == 1);
  shutdown_logging();
}

TEST_CASE("log: the async logger writes access lines raw and app lines as JSON", "[unit][log]") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("zgate-log-test-" + std::to_string(::getpid()) + ".log")).string();
  std::filesystem::remove(path);
  LogConfig cfg;
  cfg.file = path;
  cfg.level = "info";
  init_logging(cfg, false);
  spdlog::info("hello \"quoted\" {}", 42);
  spdlog::debug("not at info level");
  write_one(sample());
  shutdown_logging();  // drains the queue

  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::filesystem::remove(path);
  REQUIRE(lines.size() == 2);
  // The access line is written by the writer's own call, the application line by the logging
  // thread: their order in the file is not fixed.
  const bool app_first = lines[0].find(R"("logger":"zgate")") != std::string::npos;
  CHECK_THAT(lines[app_first ? 0 : 1],
             Catch::StartsWith("{\"ts\":\"") &&
                 Catch::EndsWith(R"("level":"info","logger":"zgate","msg":"hello \"quoted\" 42"})"));
  CHECK_THAT(lines[app_first ? 1 : 0],
             Catch::StartsWith("{\"ts\":\"") && Catch::Contains(R"("msg":"request","request_id":"req-1")"));
}

namespace {
// The file's complete lines: a line the logger is still writing (no newline yet) is not one, so
// a reader racing the writer never counts half a line.
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  for (std::size_t start = 0, nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(all.substr(start, nl - start));
  return lines;
}
}  // namespace

TEST_CASE("log: access lines recorded on several threads arrive whole, none lost, without a flush", "[unit][log]") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("zgate-log-batch-" + std::to_string(::getpid()) + ".log")).string();
  std::filesystem::remove(path);
  LogConfig cfg;
  cfg.file = path;
  init_logging(cfg, false);
  constexpr int kThreads = 3, kPerThread = 400;
  std::vector<std::string> lines;
  {
    std::vector<std::unique_ptr<obs::RecordConsumer>> writers;
    writers.push_back(make_access_log_writer());
    obs::Recorder recorder(std::move(writers));  // the gateway's defaults: 2 MiB rings, every 100 ms
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&recorder] {
        for (int i = 0; i < kPerThread; ++i) recorder.record(sample(), kFinished);
      });
    }
    for (auto& th : threads) th.join();
    CHECK(recorder.stats().dropped == 0);
    // The recorder thread hands the lines over on its own (every 100 ms); wait for them,
    // bounded, without calling flush() or shutdown_logging().
    for (int tries = 0; tries < 100 && lines.size() < kThreads * kPerThread; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      spdlog::get("access") ? spdlog::get("access")->flush() : void();
      lines = read_lines(path);
    }
  }
  shutdown_logging();
  std::filesystem::remove(path);
  REQUIRE(lines.size() == static_cast<std::size_t>(kThreads * kPerThread));
  for (const auto& l : lines) {
    REQUIRE_THAT(l, Catch::StartsWith("{\"ts\":\"2024-05-01T12:00:00.123Z\"") && Catch::EndsWith("}") &&
                        Catch::Contains(R"("request_id":"req-1")"));
  }
}
