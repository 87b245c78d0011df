// The usage store's reports at scale, reproducibly (fixed seed):
//
//   zgate_usagebench generate --db PATH [--rows 10000000] [--days 30]
//       a store of synthetic rows over the last `days` days (a daily cycle), then its hourly rollup
//       (built as a store of an older schema gets it), both timed
//   zgate_usagebench report --db PATH [--runs 3]
//       times typical reports (all time, by model, by key and day, the last 24 hours by hour)
//   zgate_usagebench recorder [--rows 200000]
//       the usage store's cost per row on the recorder thread (begin/consume/end, passes of
//       1000 rows): without a rollup, with the rollup on the checkpoint thread (the default)
//       and in the recorder's own transaction
//
// The figures are in docs/benchmark.md.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/obs/usage_rollup.hpp"
#include "zgate/obs/usage_store.hpp"
#include "zgate/report/report.hpp"

using namespace zgate;
using Clock = std::chrono::steady_clock;

namespace {

const char* arg(int argc, char** argv, std::string_view name, const char* fallback) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (name == argv[i]) return argv[i + 1];
  }
  return fallback;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A plausible mix: 6 models over 2 providers, 40 keys, ~96% successes, log-normal latencies.
struct Synth {
  std::mt19937_64 rng{20261203};
  const char* models[6] = {"glm-4.6", "glm-4.5", "glm-4.5-air", "glm-4.5-flash", "glm-4.5v", "glm-z1"};
  const char* providers[6] = {"zhipu", "zhipu", "zhipu", "zai", "zhipu", "zai"};
  std::vector<std::string> keys;
  std::lognormal_distribution<double> ttft{std::log(600'000.0), 0.6}, gen{std::log(3'000'000.0), 0.8};
  std::geometric_distribution<int> model_pick{0.35};
  std::geometric_distribution<int> key_pick{0.08};
  Synth() {
    for (int i = 0; i < 40; ++i) keys.push_back("team-" + std::to_string(i));
  }
  struct Row {
    int model, key, status;
    const char* error;
    int64_t prompt, completion, reasoning, cached, total_us, ft_us;
    double cost;
  };
  Row next() {
    Row r{};
    r.model = std::min(model_pick(rng), 5);
    r.key = std::min(key_pick(rng), 39);
    const auto u = rng() % 1000;
    r.status = u < 960 ? 200 : u < 980 ? 429 : u < 990 ? 502 : u < 995 ? 499 : 400;
    r.error = r.status == 200 ? "" : r.status == 429 ? "rate_limit_exceeded" : r.status == 502 ? "upstream_error"
              : r.status == 499 ? "client_closed" : "invalid_request_error";
    const bool ok = r.status == 200;
    r.prompt = ok ? 200 + static_cast<int64_t>(rng() % 4000) : 0;
    r.completion = ok ? 50 + static_cast<int64_t>(rng() % 1500) : 0;
    r.reasoning = ok && r.model >= 4 ? static_cast<int64_t>(rng() % 800) : 0;
    r.cached = ok ? static_cast<int64_t>(rng() % 500) : 0;
    r.ft_us = ok ? static_cast<int64_t>(ttft(rng)) : -1;
    r.total_us = ok ? r.ft_us + static_cast<int64_t>(gen(rng)) : static_cast<int64_t>(rng() % 200'000);
    r.cost = static_cast<double>(r.prompt) * 0.6e-6 + static_cast<double>(r.completion) * 2.2e-6;
    return r;
  }
};

int generate(const std::string& path, int64_t rows, int days) {
  std::filesystem::remove(path);
  { UsageStore schema({path}); }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 1;
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536", nullptr, nullptr,
               nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO requests (ts_ms, request_id, key_label, model, upstream_model, provider, stream, "
                     "status, error_type, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, "
                     "cost_usd, total_us, first_token_us, upstream_first_byte_us) VALUES "
                     "(?,?,?,?,?,?,1,?,?,?,?,?,?,?,?,?,?)",
                     -1, &st, nullptr);
  Synth s;
  const int64_t end = now_ms();
  const int64_t span = int64_t{days} * 86'400'000;
  const int64_t start = end - span;
  // A daily cycle: row i of n lands at warp(i/n), whose slope 1 - A cos(...) makes the rows three
  // times as dense at 14:00 UTC as at 02:00 (A = 0.5), as traffic that follows a working day.
  constexpr double kPi = 3.14159265358979323846, A = 0.5;
  const double start_day_frac = static_cast<double>(start % 86'400'000) / 86'400'000.0;
  const double phase = -2 * kPi * (14.0 / 24.0 - start_day_frac);
  auto warp = [&](double u) {
    const double w = 2 * kPi * days;
    return static_cast<int64_t>(static_cast<double>(span) *
                                (u - A / w * (std::sin(w * u + phase) - std::sin(phase))));
  };
  const auto t = Clock::now();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  char id[32];
  for (int64_t i = 0; i < rows; ++i) {
    const auto r = s.next();
    std::snprintf(id, sizeof id, "req-%012lld", static_cast<long long>(i));
    sqlite3_bind_int64(st, 1, start + warp(static_cast<double>(i) / static_cast<double>(rows)));
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s.keys[r.key].c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s.models[r.model], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, s.models[r.model], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, s.providers[r.model], -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, r.status);
    sqlite3_bind_text(st, 8, r.error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, r.prompt);
    sqlite3_bind_int64(st, 10, r.completion);
    sqlite3_bind_int64(st, 11, r.reasoning);
    sqlite3_bind_int64(st, 12, r.cached);
    sqlite3_bind_double(st, 13, r.cost);
    sqlite3_bind_int64(st, 14, r.total_us);
    sqlite3_bind_int64(st, 15, r.ft_us);
    sqlite3_bind_int64(st, 16, r.ft_us >= 0 ? r.ft_us - 1000 : -1);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (i % 500'000 == 499'999) {
      sqlite3_exec(db, "COMMIT; BEGIN", nullptr, nullptr, nullptr);
    }
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_finalize(st);
  std::printf("inserted %lld rows over %d days in %.1f s\n", static_cast<long long>(rows), days, seconds_since(t));
  const auto t2 = Clock::now();
  std::string err;
  int64_t n, total = 0;
  while ((n = obs::rollup_usage(db, 100'000, err)) > 0) total += n;
  if (n < 0) {
    std::fprintf(stderr, "rollup failed: %s\n", err.c_str());
    return 1;
  }
  sqlite3_stmt* c = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM requests_hourly", -1, &c, nullptr);
  sqlite3_step(c);
  std::printf("rolled up %lld rows into %lld rollup rows in %.1f s\n", static_cast<long long>(total),
              static_cast<long long>(sqlite3_column_int64(c, 0)), seconds_since(t2));
  sqlite3_finalize(c);
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return 0;
}

int report_bench(const std::string& path, int runs) {
  std::string err;
  auto store = report::Store::open(path, err);
  if (!store) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  struct Case {
    const char* name;
    report::Filter f;
    std::vector<report::Dim> by;
  };
  const int64_t now = now_ms();
  std::vector<Case> cases = {
      {"all time, totals", {}, {}},
      {"all time, --by model", {}, {report::Dim::model}},
      {"all time, --by key,day", {}, {report::Dim::key, report::Dim::day}},
      {"--since 7d --by model,status", {now - 7 * 86'400'000, std::nullopt, "", ""}, {report::Dim::model, report::Dim::status}},
      {"--since 24h --by hour", {now - 86'400'000, std::nullopt, "", ""}, {report::Dim::hour}},
      {"all time, --key team-3 --by model", {std::nullopt, std::nullopt, "team-3", ""}, {report::Dim::model}},
  };
  for (const auto& c : cases) {
    std::vector<double> times;
    report::Report r;
    for (int i = 0; i < runs; ++i) {
      const auto t = Clock::now();
      if (!store->usage(c.f, c.by, r, err)) {
        std::fprintf(stderr, "%s\n", err.c_str());
        return 1;
      }
      times.push_back(seconds_since(t));
    }
    std::sort(times.begin(), times.end());
    std::printf("%-36s %10lld requests  %6zu groups  %7lld rollup + %6lld raw rows  best %.3f s  median %.3f s\n",
                c.name, static_cast<long long>(r.totals.requests), r.groups.size(),
                static_cast<long long>(r.rollup_rows), static_cast<long long>(r.raw_rows), times.front(),
                times[times.size() / 2]);
  }
  return 0;
}

int recorder_bench(int64_t rows) {
  Synth s;
  std::vector<Synth::Row> data;
  for (int64_t i = 0; i < rows; ++i) data.push_back(s.next());
  std::vector<std::string> ids;
  for (int64_t i = 0; i < rows; ++i) ids.push_back("req-" + std::to_string(i));
  using Rollup = UsageStoreOptions::Rollup;
  for (const Rollup mode : {Rollup::off, Rollup::checkpoint_thread, Rollup::recorder_thread}) {
    const std::string path = "/tmp/zgate-usagebench-" + std::to_string(::getpid()) + ".db";
    std::filesystem::remove(path);
    double took = 0;
    {
      UsageStoreOptions o{path};
      o.rollup = mode;
      UsageStore store(o);
      const int64_t start = now_ms();
      for (int64_t i = 0; i < rows; i += 1000) {
        const auto t = Clock::now();
        store.begin();
        for (int64_t j = i; j < std::min(rows, i + 1000); ++j) {
          const auto& r = data[j];
          AccessRecord a{.request_id = ids[j], .key_label = s.keys[r.key], .method = "POST",
                         .path = "/v1/chat/completions", .model = s.models[r.model],
                         .upstream_model = s.models[r.model], .provider = s.providers[r.model], .stream = true,
                         .status = r.status, .upstream_first_byte_us = r.ft_us, .first_token_us = r.ft_us,
                         .total_us = r.total_us, .prompt_tokens = r.prompt, .completion_tokens = r.completion,
                         .reasoning_tokens = r.reasoning, .cached_tokens = r.cached, .error_type = r.error,
                         .cost_usd = r.cost, .client_ip = "127.0.0.1", .retries = ""};
          store.consume(a, start + j);
        }
        store.end();
        took += seconds_since(t);
        // Passes come 100 ms apart in the gateway; a short pause lets the checkpoint thread's
        // rollup interleave as it would.
        if ((i / 1000) % 10 == 9) ::usleep(20'000);
      }
    }
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    std::printf("recorder thread, rollup %-26s %.2f us per row (%lld rows, passes of 1000)\n",
                mode == Rollup::off                 ? "off:"
                : mode == Rollup::recorder_thread ? "in its transaction:"
                                                  : "on the checkpoint thread:",
                took * 1e6 / static_cast<double>(rows),
                static_cast<long long>(rows));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view cmd = argc > 1 ? argv[1] : "";
  const std::string db = arg(argc, argv, "--db", "");
  if (cmd == "generate" && !db.empty()) {
    return generate(db, std::atoll(arg(argc, argv, "--rows", "10000000")), std::atoi(arg(argc, argv, "--days", "30")));
  }
  if (cmd == "report" && !db.empty()) return report_bench(db, std::atoi(arg(argc, argv, "--runs", "3")));
  if (cmd == "recorder") return recorder_bench(std::atoll(arg(argc, argv, "--rows", "200000")));
  std::fprintf(stderr,
               "usage: zgate_usagebench generate --db PATH [--rows N] [--days D]\n"
               "       zgate_usagebench report --db PATH [--runs N]\n"
               "       zgate_usagebench recorder [--rows N]\n");
  return 2;
}
