// Reports over the usage store (report/report.hpp): a fixture store built here, every breakdown
// and filter checked against a brute-force count of the same rows, whether the rows are rolled up
// or not; percentiles within the histogram's resolution; the range's partial hours; the JSON and
// CSV writers parsed back; the request list's pages; prune.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <simdjson.h>
#include <string>
#include <vector>

#include "zgate/obs/usage_rollup.hpp"
#include "zgate/obs/usage_store.hpp"
#include "zgate/report/report.hpp"
#include "support/temp_dir.hpp"

using namespace zgate;
using zgate::testing::TempDir;
using report::Dim;

namespace {

constexpr int64_t kHour = 3'600'000;

struct Row {
  int64_t ts;
  std::string model, key, provider;
  int status;
  std::string error;
  int64_t prompt, completion, reasoning, cached;
  double cost;
  int64_t total_us, ft_us;
};

int64_t t0() {
  int64_t ms = 0;
  std::string err;
  REQUIRE(report::parse_time("2026-11-01T00:00:00Z", 0, ms, err));
  return ms;
}

// 300 rows, one a minute over five hours from t0; three models (one with a comma and a quote
// in its name, for the CSV), two keys, two providers, two kinds of error.
std::vector<Row> fixture_rows() {
  std::vector<Row> rows;
  for (int i = 0; i < 300; ++i) {
    Row r;
    r.ts = t0() + int64_t{i} * 60'000 + 7;
    r.model = i % 3 == 0 ? "glm-4.5-air" : i % 3 == 1 ? "glm-4.6" : "odd,\"model\"";
    r.key = i % 2 ? "alice" : "bob";
    r.provider = i % 3 == 0 ? "zai" : "zhipu";
    r.status = i % 10 == 0 ? 429 : i % 15 == 0 ? 502 : 200;
    r.error = i % 10 == 0 ? "rate_limit_exceeded" : i % 15 == 0 ? "upstream_error" : "";
    r.prompt = i;
    r.completion = 2 * i;
    r.reasoning = i % 5;
    r.cached = i % 3;
    r.cost = 0.001 * i;
    r.total_us = (i + 1) * 1000;
    r.ft_us = i % 10 == 0 ? -1 : (i + 1) * 100;
    rows.push_back(r);
  }
  return rows;
}

void exec(sqlite3* db, const std::string& sql) { REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK); }

// A store with the rows, the first `rolled` of them rolled up.
struct Fixture {
  TempDir dir{"report"};
  std::vector<Row> rows = fixture_rows();
  explicit Fixture(int64_t rolled = 300) {
    { UsageStore schema({dir.file("usage.db")}); }  // creates the schema
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.file("usage.db").c_str(), &db) == SQLITE_OK);
    exec(db, "BEGIN");
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db,
                               "INSERT INTO requests (ts_ms, request_id, key_label, model, upstream_model, provider, "
                               "stream, status, error_type, prompt_tokens, completion_tokens, reasoning_tokens, "
                               "cached_tokens, cost_usd, total_us, first_token_us, upstream_first_byte_us) VALUES "
                               "(?,?,?,?,?,?,1,?,?,?,?,?,?,?,?,?,0)",
                               -1, &st, nullptr) == SQLITE_OK);
    int n = 0;
    for (const Row& r : rows) {
      const std::string id = "req-" + std::to_string(n++);
      sqlite3_bind_int64(st, 1, r.ts);
      sqlite3_bind_text(st, 2, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 3, r.key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 4, r.model.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 5, r.model.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 6, r.provider.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 7, r.status);
      sqlite3_bind_text(st, 8, r.error.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 9, r.prompt);
      sqlite3_bind_int64(st, 10, r.completion);
      sqlite3_bind_int64(st, 11, r.reasoning);
      sqlite3_bind_int64(st, 12, r.cached);
      sqlite3_bind_double(st, 13, r.cost);
      sqlite3_bind_int64(st, 14, r.total_us);
      sqlite3_bind_int64(st, 15, r.ft_us);
      REQUIRE(sqlite3_step(st) == SQLITE_DONE);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    exec(db, "COMMIT");
    std::string err;
    if (rolled > 0) REQUIRE(obs::rollup_usage(db, rolled, err) == rolled);
    sqlite3_close(db);
  }
  std::unique_ptr<report::Store> open() {
    std::string err;
    auto s = report::Store::open(dir.file("usage.db"), err);
    REQUIRE(s);
    return s;
  }
  report::Report usage(const report::Filter& f, std::vector<Dim> by = {}) {
    report::Report r;
    std::string err;
    REQUIRE(open()->usage(f, by, r, err));
    return r;
  }
};

bool matches(const Row& r, const report::Filter& f) {
  return (!f.since_ms || r.ts >= *f.since_ms) && (!f.until_ms || r.ts < *f.until_ms) &&
         (f.key.empty() || r.key == f.key) && (f.model.empty() || r.model == f.model);
}

// The exact value at quantile p (nearest rank) of the sorted values.
double exact_percentile(std::vector<int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return static_cast<double>(v[std::max<size_t>(rank, 1) - 1]);
}

// Checks `t` against the rows that `pick` selects, counted one by one.
void check_totals(const report::Totals& t, const std::vector<Row>& rows, const std::function<bool(const Row&)>& pick) {
  int64_t n = 0, ok = 0, prompt = 0, completion = 0, reasoning = 0, cached = 0;
  double cost = 0;
  std::map<std::string, int64_t> errors;
  std::map<int, int64_t> statuses;
  std::vector<int64_t> totals, fts;
  for (const Row& r : rows) {
    if (!pick(r)) continue;
    ++n;
    if (r.error.empty()) {
      ++ok;
    } else {
      ++errors[r.error];
    }
    ++statuses[r.status];
    prompt += r.prompt;
    completion += r.completion;
    reasoning += r.reasoning;
    cached += r.cached;
    cost += r.cost;
    totals.push_back(r.total_us);
    if (r.ft_us >= 0) fts.push_back(r.ft_us);
  }
  CHECK(t.requests == n);
  CHECK(t.successes == ok);
  CHECK(t.errors_by_type == errors);
  CHECK(t.by_status == statuses);
  CHECK(t.prompt_tokens == prompt);
  CHECK(t.completion_tokens == completion);
  CHECK(t.reasoning_tokens == reasoning);
  CHECK(t.cached_tokens == cached);
  CHECK(t.cost_usd == Approx(cost));
  CHECK(t.total.count() == totals.size());
  CHECK(t.first_token.count() == fts.size());
  for (const double p : {0.5, 0.95, 0.99}) {
    if (!totals.empty()) CHECK(std::abs(t.total.percentile(p) / exact_percentile(totals, p) - 1) < 0.091);
    if (!fts.empty()) CHECK(std::abs(t.first_token.percentile(p) / exact_percentile(fts, p) - 1) < 0.091);
  }
}

std::string dim_value(const Row& r, Dim d) {
  switch (d) {
    case Dim::model: return r.model;
    case Dim::key: return r.key;
    case Dim::provider: return r.provider;
    case Dim::day: return report::iso_time(r.ts).substr(0, 10);
    case Dim::hour: return report::iso_time(r.ts).substr(0, 13) + ":00Z";
    case Dim::status: return std::to_string(r.status);
    case Dim::error: return r.error;
  }
  return {};
}

// Every group of `rep` against a brute-force count, and no group missing.
void check_groups(const report::Report& rep, const std::vector<Row>& rows, const report::Filter& f) {
  std::set<std::vector<std::string>> expected;
  for (const Row& r : rows) {
    if (!matches(r, f)) continue;
    std::vector<std::string> k;
    for (Dim d : rep.by) k.push_back(dim_value(r, d));
    expected.insert(k);
  }
  REQUIRE(rep.groups.size() == expected.size());
  const bool by_time = rep.by[0] == Dim::day || rep.by[0] == Dim::hour;
  for (size_t i = 1; i < rep.groups.size(); ++i) {
    if (by_time) {
      CHECK(rep.groups[i - 1].key < rep.groups[i].key);
    } else {
      CHECK(rep.groups[i - 1].totals.requests >= rep.groups[i].totals.requests);
    }
  }
  for (const auto& g : rep.groups) {
    CHECK(expected.count(g.key) == 1);
    check_totals(g.totals, rows, [&](const Row& r) {
      if (!matches(r, f)) return false;
      for (size_t i = 0; i < rep.by.size(); ++i) {
        if (dim_value(r, rep.by[i]) != g.key[i]) return false;
      }
      return true;
    });
  }
}

}  // namespace

TEST_CASE("report: totals over the whole store are exact, rolled up, partly rolled up or raw", "[unit][report]") {
  for (const int64_t rolled : {int64_t{300}, int64_t{137}, int64_t{0}}) {
    Fixture fx(rolled);
    const auto rep = fx.usage({});
    check_totals(rep.totals, fx.rows, [](const Row&) { return true; });
    if (rolled == 0) CHECK(rep.rollup_rows == 0);
    if (rolled == 300) CHECK(rep.raw_rows == 0);  // whole hours only, all rolled up
  }
}

TEST_CASE("report: every breakdown, alone and as a tuple, matches a count of the rows", "[unit][report]") {
  Fixture fx(200);
  for (const auto& by : std::vector<std::vector<Dim>>{{Dim::model}, {Dim::key}, {Dim::provider}, {Dim::day}, {Dim::hour},
                                                       {Dim::status}, {Dim::error}, {Dim::model, Dim::key},
                                                       {Dim::hour, Dim::status, Dim::provider}}) {
    const auto rep = fx.usage({}, by);
    CHECK(rep.by == by);
    check_groups(rep, fx.rows, {});
  }
}

TEST_CASE("report: since/until cutting hours in the middle count the edge hours' rows exactly", "[unit][report]") {
  Fixture fx;
  report::Filter f;
  f.since_ms = t0() + 30 * 60'000 + 5;     // inside hour 0
  f.until_ms = t0() + 4 * kHour + 600'007;  // inside hour 4
  const auto rep = fx.usage(f, {Dim::hour});
  check_totals(rep.totals, fx.rows, [&](const Row& r) { return matches(r, f); });
  check_groups(rep, fx.rows, f);
  CHECK(rep.raw_rows > 0);     // the edges
  CHECK(rep.rollup_rows > 0);  // hours 1 to 3
  // A range inside one hour is all raw.
  f.since_ms = t0() + kHour + 60'000;
  f.until_ms = t0() + kHour + 20 * 60'000;
  const auto inner = fx.usage(f);
  CHECK(inner.rollup_rows == 0);
  check_totals(inner.totals, fx.rows, [&](const Row& r) { return matches(r, f); });
}

TEST_CASE("report: key and model filters, alone and together", "[unit][report]") {
  Fixture fx(250);
  for (const auto& [key, model] : std::vector<std::pair<std::string, std::string>>{
           {"alice", ""}, {"", "glm-4.6"}, {"bob", "glm-4.5-air"}, {"nobody", ""}}) {
    report::Filter f;
    f.key = key;
    f.model = model;
    f.since_ms = t0() + 10 * 60'000;
    const auto rep = fx.usage(f, {Dim::model});
    check_totals(rep.totals, fx.rows, [&](const Row& r) { return matches(r, f); });
    check_groups(rep, fx.rows, f);
  }
}

TEST_CASE("report: the series has one point per hour, empty hours included, and per day over a long range",
          "[unit][report]") {
  Fixture fx;
  report::Filter f;
  f.since_ms = t0() - kHour;
  f.until_ms = t0() + 6 * kHour;
  auto rep = fx.usage(f);
  CHECK(rep.bucket_ms == kHour);
  REQUIRE(rep.series.size() == 7);
  CHECK(rep.series[0].start_ms == t0() - kHour);
  CHECK(rep.series[0].requests == 0);
  for (int h = 1; h <= 5; ++h) CHECK(rep.series[h].requests == 60);
  CHECK(rep.series[6].requests == 0);
  f.until_ms = t0() + 10 * 24 * kHour;
  rep = fx.usage(f);
  CHECK(rep.bucket_ms == 24 * kHour);
  REQUIRE(rep.series.size() == 11);  // the day before t0, then ten days
  CHECK(rep.series[1].requests == 300);
  CHECK(rep.series[1].cost_usd == Approx(0.001 * 299 * 300 / 2));
}

TEST_CASE("report: the JSON parses back with the same figures", "[unit][report]") {
  Fixture fx;
  const auto rep = fx.usage({}, {Dim::model, Dim::error});
  const std::string text = report::to_json(rep);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(text).get(doc) == simdjson::SUCCESS);
  CHECK(int64_t(doc["totals"]["requests"]) == 300);
  CHECK(int64_t(doc["totals"]["errors_by_type"]["rate_limit_exceeded"]) == 30);
  CHECK(int64_t(doc["totals"]["by_status"]["502"]) == rep.totals.by_status.at(502));
  CHECK(double(doc["totals"]["latency_ms"]["total"]["p50"]) == Approx(report::percentile_ms(rep.totals.total, 0.5)));
  simdjson::dom::array groups = doc["groups"];
  CHECK(groups.size() == rep.groups.size());
  std::string_view first_model = doc["groups"].at(0)["model"];
  CHECK(first_model == rep.groups[0].key[0]);
  CHECK(std::string_view(doc["series"]["bucket"]) == "hour");
  CHECK(doc["since"].is_null());
}

namespace {
// RFC 4180 records (quoted fields, doubled quotes, CRLF).
std::vector<std::vector<std::string>> parse_csv(std::string_view s) {
  std::vector<std::vector<std::string>> out(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        out.back().back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.back().emplace_back();
    } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      ++i;
      if (i + 1 < s.size()) out.emplace_back(1);
    } else {
      out.back().back() += c;
    }
  }
  return out;
}
}  // namespace

TEST_CASE("report: the CSV parses back, a name with a comma and quotes quoted", "[unit][report]") {
  Fixture fx;
  const auto rep = fx.usage({}, {Dim::model});
  const auto csv = parse_csv(report::to_csv(rep));
  REQUIRE(csv.size() == 1 + rep.groups.size());
  CHECK(csv[0][0] == "model");
  CHECK(csv[0][1] == "requests");
  std::map<std::string, std::string> requests;
  for (size_t i = 1; i < csv.size(); ++i) {
    REQUIRE(csv[i].size() == csv[0].size());
    requests[csv[i][0]] = csv[i][1];
  }
  CHECK(requests.at("odd,\"model\"") == "100");
  CHECK(requests.at("glm-4.6") == "100");
  // Without a breakdown: one "total" row.
  const auto total = parse_csv(report::to_csv(fx.usage({})));
  REQUIRE(total.size() == 2);
  CHECK(total[1][0] == "total");
  CHECK(total[1][1] == "300");
}

TEST_CASE("report: the request list pages newest first with a cursor, and filters", "[unit][report]") {
  Fixture fx;
  auto store = fx.open();
  std::string err;
  report::RequestFilter f;
  f.limit = 40;
  std::vector<int64_t> ids;
  for (;;) {
    report::RequestPage page;
    REQUIRE(store->requests(f, page, err));
    for (const auto& r : page.rows) ids.push_back(r.id);
    if (!page.next_before) break;
    CHECK(page.rows.size() == 40);
    f.before = page.next_before;
  }
  CHECK(ids.size() == 300);
  CHECK(std::is_sorted(ids.rbegin(), ids.rend()));
  CHECK(std::set<int64_t>(ids.begin(), ids.end()).size() == 300);

  report::RequestFilter g;
  g.status = 429;
  g.key = "bob";
  g.limit = 1000;
  report::RequestPage page;
  REQUIRE(store->requests(g, page, err));
  CHECK(page.rows.size() == 30);  // every tenth row: even, so bob's
  CHECK_FALSE(page.next_before);
  for (const auto& r : page.rows) CHECK(r.error_type == "rate_limit_exceeded");
  g = {};
  g.error_type = "";
  g.since_ms = t0() + kHour;
  g.until_ms = t0() + 2 * kHour;
  REQUIRE(store->requests(g, page, err));
  CHECK(page.rows.size() == 50);  // 60 minutes minus 6 rate-limited and 4 upstream errors
}

TEST_CASE("report: prune deletes the old rows, says how many, and the report agrees", "[unit][report]") {
  Fixture fx(299);
  const int64_t cutoff = t0() + 2 * kHour + 30 * 60'000;  // mid-hour
  {
    std::string err;
    CHECK(fx.open()->prune(cutoff, err) == 150);
  }
  const auto rep = fx.usage({}, {Dim::hour});
  check_totals(rep.totals, fx.rows, [&](const Row& r) { return r.ts >= cutoff; });
  check_groups(rep, fx.rows, report::Filter{cutoff, std::nullopt, "", ""});
  std::string err;
  CHECK(fx.open()->prune(cutoff, err) == 0);
}

TEST_CASE("report: a missing store is a clear error", "[unit][report]") {
  TempDir dir("report");
  std::string err;
  CHECK_FALSE(report::Store::open(dir.file("usage.db"), err));
  CHECK(err.find("no usage store at") != std::string::npos);
}

TEST_CASE("report: durations, times and breakdown names parse, and bad ones are named", "[unit][report]") {
  int64_t ms = 0;
  std::string err;
  CHECK(report::parse_duration("30m", ms, err));
  CHECK(ms == 1'800'000);
  CHECK(report::parse_duration("7d", ms, err));
  CHECK(ms == 7 * 24 * kHour);
  for (const char* bad : {"", "0d", "-1h", "10", "3x", "h", "1.5h"}) {
    CHECK_FALSE(report::parse_duration(bad, ms, err));
    CHECK(err.find("bad duration") != std::string::npos);
  }
  CHECK(report::parse_time("24h", 100 * kHour, ms, err));
  CHECK(ms == 76 * kHour);
  CHECK(report::parse_time("1970-01-02", 0, ms, err));
  CHECK(ms == 24 * kHour);
  CHECK(report::parse_time("1970-01-01T01:02:03Z", 0, ms, err));
  CHECK(ms == 3'723'000);
  CHECK(report::parse_time("1970-01-01 01:02", 0, ms, err));
  CHECK(ms == 3'720'000);
  for (const char* bad : {"2026-13-01", "2026-02-30", "2026-1-1", "yesterday", "2026-01-01T25:00"}) {
    CHECK_FALSE(report::parse_time(bad, 0, ms, err));
  }
  CHECK(report::iso_time(3'723'000) == "1970-01-01T01:02:03Z");
  std::vector<Dim> dims;
  CHECK(report::parse_dims("model, key", dims, err));
  CHECK(report::parse_dims("model,day", dims, err));
  CHECK(dims == std::vector<Dim>{Dim::model, Dim::key, Dim::day});
  CHECK_FALSE(report::parse_dims("model,colour", dims, err));
  CHECK(err.find("'colour'") != std::string::npos);
}

TEST_CASE("report: the latency histogram round-trips and refuses malformed bytes", "[unit][report]") {
  obs::LatencyHistogram h;
  for (const int64_t us : std::vector<int64_t>{0, 10, 63, 64, 1000, 1000, 250000, int64_t{1} << 40}) h.add(us);
  std::string blob;
  h.encode(blob);
  obs::LatencyHistogram back;
  REQUIRE(back.decode_add(blob.data(), static_cast<int>(blob.size())));
  CHECK(back.count() == h.count());
  CHECK(back.percentile(0.5) == h.percentile(0.5));
  // Every bucket's bounds hold the values that fall in it.
  for (int64_t us = 64; us < (int64_t{1} << 31); us = us * 5 / 4 + 1) {
    const int b = obs::LatencyHistogram::bucket_of(us);
    CHECK(obs::LatencyHistogram::lower_bound(b) <= static_cast<double>(us) * (1 + 1e-12));
    CHECK(obs::LatencyHistogram::upper_bound(b) >= static_cast<double>(us) * (1 - 1e-12));
  }
  const std::string bad = "\xff\x01";
  obs::LatencyHistogram none;
  CHECK_FALSE(none.decode_add(bad.data(), 2));
  const std::string cut = std::string("\x05\x80", 2);  // a count that never ends
  CHECK_FALSE(none.decode_add(cut.data(), 2));
  CHECK(none.count() == 0);
}

TEST_CASE("report: admin query strings are percent-decoded and checked", "[unit][report]") {
  const auto p = report::parse_query_string("model=glm%2D4.6&key=a+b&&by=model%2Ckey&x");
  REQUIRE(p.size() == 4);
  CHECK(p[0] == std::pair<std::string, std::string>{"model", "glm-4.6"});
  CHECK(p[1].second == "a b");
  CHECK(p[3] == std::pair<std::string, std::string>{"x", ""});
  auto u = report::usage_query("by=model%2Ckey&by=day&since=2h&key=ops", 10 * kHour);
  REQUIRE(u);
  CHECK(u->by == std::vector<Dim>{Dim::model, Dim::key, Dim::day});
  CHECK(u->filter.since_ms == 8 * kHour);
  CHECK(u->filter.key == "ops");
  auto r = report::requests_query("", 0);
  REQUIRE(r);
  CHECK(r->limit == 50);
  CHECK_FALSE(r->error_type);
  r = report::requests_query("error_type=&limit=1000&before=17&status=429", 0);
  REQUIRE(r);
  CHECK(r->error_type == std::string());
  CHECK(r->limit == 1000);
  CHECK(r->before == 17);
  CHECK(r->status == 429);
  const auto bad = report::requests_query("limit=5&limit=1001", 0);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().status == 400);
  CHECK(bad.error().param == "limit");
}
