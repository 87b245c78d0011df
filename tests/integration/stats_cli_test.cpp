// `zgate stats` run as a process (the zgate binary) over a usage store written by the usage
// store itself: the readable report, --json and --csv parsed back, where the store is looked
// for, prune, and the errors an operator can make.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <simdjson.h>
#include <sstream>
#include <string>

#include "zgate/obs/usage_store.hpp"
#include "support/shell.hpp"
#include "support/temp_dir.hpp"

using namespace zgate;
using zgate::testing::ShellRun;
using zgate::testing::TempDir;
using zgate::testing::run_shell;
using zgate::testing::shell_quote;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A store in `dir`/usage.db: two glm-4.5 successes for "ops", one glm-4.6 rate limit for "dev",
// and one "ops" row 40 days old.
void write_store(const std::string& dir) {
  UsageStore store({dir + "/usage.db"});
  auto row = [](std::string_view id, std::string_view key, std::string_view model, int status,
                std::string_view error) {
    return AccessRecord{.request_id = id, .key_label = key, .method = "POST", .path = "/v1/chat/completions",
                        .model = model, .upstream_model = model, .provider = "default", .stream = false,
                        .status = status, .upstream_first_byte_us = 900, .first_token_us = status == 200 ? 1000 : -1,
                        .total_us = 5000, .prompt_tokens = 10, .completion_tokens = 20, .reasoning_tokens = 0,
                        .cached_tokens = 0, .error_type = error, .cost_usd = status == 200 ? 0.5 : 0,
                        .client_ip = "127.0.0.1", .retries = ""};
  };
  const int64_t now = now_ms();
  store.begin();
  store.consume(row("old", "ops", "glm-4.5", 200, ""), now - 40LL * 86'400'000);
  store.consume(row("a", "ops", "glm-4.5", 200, ""), now - 60'000);
  store.consume(row("b", "ops", "glm-4.5", 200, ""), now - 30'000);
  store.consume(row("c", "dev", "glm-4.6", 429, "rate_limit_exceeded"), now - 10'000);
  store.end();
}

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs `zgate stats <args>` with `env` (NAME=value ...) prepended; stdout is a pipe.
Run stats(const std::string& args, const std::string& env = "") {
  TempDir tmp("stats");
  const std::string err_file = tmp.path + "/stderr";
  const ShellRun sh = run_shell("env -u ZGATE_DATA_DIR " + env + " " + shell_quote(ZGATE_BIN) + " stats " + args + " 2>" +
                                shell_quote(err_file));
  Run r{sh.code, sh.out, ""};
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

}  // namespace

TEST_CASE("zgate stats: the readable report, plain when piped", "[integration][stats]") {
  TempDir dir("stats");
  write_store(dir.path);
  const auto r = stats("--db " + shell_quote(dir.path + "/usage.db") + " --since 1d --by model");
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("Totals") != std::string::npos);
  CHECK(r.out.find("rate_limit_exceeded 1") != std::string::npos);
  CHECK(r.out.find("By model") != std::string::npos);
  CHECK(r.out.find("glm-4.6") != std::string::npos);
  CHECK(r.out.find("time to first token") != std::string::npos);
  CHECK(r.out.find("per hour") != std::string::npos);
  CHECK(r.out.find("\x1b[") == std::string::npos);
}

TEST_CASE("zgate stats --json parses back, and the store is found through --data-dir and ZGATE_DATA_DIR",
          "[integration][stats]") {
  TempDir dir("stats");
  write_store(dir.path);
  simdjson::dom::parser p;
  for (const auto& [args, env] : std::vector<std::pair<std::string, std::string>>{
           {"--data-dir " + shell_quote(dir.path), ""}, {"", "ZGATE_DATA_DIR=" + shell_quote(dir.path)}}) {
    const auto r = stats(args + " --json --by key --since 24h", env);
    REQUIRE(r.code == 0);
    simdjson::dom::element doc;
    REQUIRE(p.parse(r.out).get(doc) == simdjson::SUCCESS);
    CHECK(int64_t(doc["totals"]["requests"]) == 3);
    CHECK(int64_t(doc["totals"]["errors_by_type"]["rate_limit_exceeded"]) == 1);
    CHECK(std::string_view(doc["groups"].at(0)["key"]) == "ops");
    CHECK(int64_t(doc["groups"].at(0)["requests"]) == 2);
  }
}

TEST_CASE("zgate stats --csv: a header and one row per group", "[integration][stats]") {
  TempDir dir("stats");
  write_store(dir.path);
  const auto r = stats("--db " + shell_quote(dir.path + "/usage.db") + " --csv --by model,status --model glm-4.5");
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("model,status,requests,successes,errors,", 0) == 0);
  CHECK(r.out.find("\r\nglm-4.5,200,3,3,0,") != std::string::npos);  // all time: the old row too
  CHECK(r.out.find("glm-4.6") == std::string::npos);
}

TEST_CASE("zgate stats prune deletes the old rows and says how many", "[integration][stats]") {
  TempDir dir("stats");
  write_store(dir.path);
  const std::string db = " --db " + shell_quote(dir.path + "/usage.db");
  auto r = stats("prune --older-than 30d" + db);
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("deleted 1 row finished before ", 0) == 0);
  r = stats("prune --older-than 30d" + db);
  CHECK(r.out.rfind("deleted 0 rows", 0) == 0);
  r = stats("--json" + db);
  CHECK(r.out.find("\"requests\":3,") != std::string::npos);
}

TEST_CASE("zgate stats: a missing store, a bad duration and an unknown --by are clear errors",
          "[integration][stats]") {
  TempDir dir("stats");
  auto r = stats("--data-dir " + shell_quote(dir.path + "/nothing"));
  CHECK(r.code == 1);
  CHECK(r.err.find("no usage store at '" + dir.path + "/nothing/usage.db'") != std::string::npos);
  write_store(dir.path);
  const std::string db = " --db " + shell_quote(dir.path + "/usage.db");
  r = stats("--since 3x" + db);
  CHECK(r.code == 2);
  CHECK(r.err.find("--since: bad duration '3x'") != std::string::npos);
  r = stats("--by colour" + db);
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown breakdown 'colour'") != std::string::npos);
  r = stats("prune --older-than soon" + db);
  CHECK(r.code == 2);
  CHECK(r.err.find("--older-than: bad duration 'soon'") != std::string::npos);
  r = stats("--json --csv" + db);
  CHECK(r.code == 2);
}

TEST_CASE("zgate stats: a model name with control characters is shown escaped, not sent to the terminal",
          "[integration][stats]") {
  // The model of a request refused as model_not_found is the name the client sent, any bytes.
  TempDir dir("stats");
  {
    UsageStore store({dir.path + "/usage.db"});
    store.begin();
    store.consume(AccessRecord{.request_id = "x", .key_label = "ops", .method = "POST",
                               .path = "/v1/chat/completions", .model = "\x1b]0;owned\x07\x1b[2Jglm\n",
                               .upstream_model = "", .provider = "", .stream = false, .status = 404,
                               .upstream_first_byte_us = -1, .first_token_us = -1, .total_us = 100,
                               .prompt_tokens = 0, .completion_tokens = 0, .reasoning_tokens = 0,
                               .cached_tokens = 0, .error_type = "model_not_found", .cost_usd = 0,
                               .client_ip = "127.0.0.1", .retries = ""},
                  now_ms() - 1000);
    store.end();
  }
  const auto r = stats("--db " + shell_quote(dir.path + "/usage.db") + " --since 1d --by model");
  REQUIRE(r.code == 0);
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK(r.out.find('\x07') == std::string::npos);
  CHECK(r.out.find("\\x1b]0;owned\\x07\\x1b[2Jglm\\x0a") != std::string::npos);
}
