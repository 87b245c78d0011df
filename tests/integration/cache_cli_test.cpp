// `zgate cache stats` run as a process (the zgate binary) over a cache file written by the
// cache's own disk writer.
#include <catch2/catch.hpp>

#include <memory>
#include <simdjson.h>
#include <string>
#include <vector>

#include "support/shell.hpp"
#include "support/temp_dir.hpp"
#include "zgate/cache/entry.hpp"
#include "zgate/cache/store.hpp"

using namespace zgate;
using zgate::testing::ShellRun;
using zgate::testing::TempDir;
using zgate::testing::run_shell;
using zgate::testing::shell_quote;

namespace {

// `dir`/cache.db with one entry stored under each of `models`.
void write_cache(const std::string& dir, const std::vector<std::string>& models) {
  cache::DiskCache disk(dir + "/cache.db");
  cache::LocalCacheStore store(1 << 24, &disk);
  int i = 0;
  for (const auto& m : models) {
    int64_t t = 0;
    cache::EntryBuilder b([&] { return t; }, 1 << 20);
    b.on_event(Event::start("up-1", "glm-4", 123));
    b.on_event(Event::content("hello"));
    b.on_event(Event::finished(FinishReason::stop));
    REQUIRE(b.complete());
    auto e = b.take();
    e->model = m;
    e->expires_ms = INT64_MAX / 2;
    cache::Key k;
    k.bytes[0] = static_cast<unsigned char>(++i);
    store.put(k, std::move(e));
  }
  disk.flush();
}

// `zgate cache <args>`.
ShellRun run(const std::string& args) { return run_shell(shell_quote(ZGATE_BIN) + " cache " + args + " 2>/dev/null"); }

}  // namespace

TEST_CASE("zgate cache stats --json: model names and the path are escaped, and it parses back",
          "[integration][cache]") {
  TempDir dir("cache-cli");
  // A model is the name a client sent when unlisted models are allowed: any characters.
  const std::string odd = "my \"model\"\\v1\n";
  write_cache(dir.path, {"glm-4.6", odd, odd});
  const auto [code, out] = run("stats --json --db " + shell_quote(dir.path + "/cache.db"));
  REQUIRE(code == 0);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(p.parse(out).get(doc) == simdjson::SUCCESS);
  CHECK(int64_t(doc["entries"]) == 3);
  CHECK(std::string_view(doc["file"]) == dir.path + "/cache.db");
  simdjson::dom::array models = doc["models"];
  REQUIRE(models.size() == 2);
  CHECK(std::string_view(models.at(0)["model"]) == odd);  // the busiest first
  CHECK(int64_t(models.at(0)["entries"]) == 2);
  CHECK(std::string_view(models.at(1)["model"]) == "glm-4.6");
}

TEST_CASE("zgate cache stats: a model name with control characters is shown escaped", "[integration][cache]") {
  TempDir dir("cache-cli");
  write_cache(dir.path, {"\x1b[31mred\x1b[0m"});
  const auto [code, out] = run("stats --db " + shell_quote(dir.path + "/cache.db"));
  REQUIRE(code == 0);
  CHECK(out.find(": 1 entry, ") != std::string::npos);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find("\\x1b[31mred\\x1b[0m") != std::string::npos);
}
