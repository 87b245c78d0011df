// The metrics aggregate (obs::Metrics) and the Prometheus text exposition format.
#include <catch2/catch.hpp>

#include <string>

#include "zgate/obs/metrics.hpp"

using namespace zgate;
using namespace zgate::obs;

namespace {

AccessRecord chat(std::string_view model, int status, bool stream = false) {
  AccessRecord r;
  r.key_label = "team-a";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.model = model;
  r.provider = "zhipu";
  r.status = status;
  r.stream = stream;
  r.attempts = 1;
  r.connect_us = 2000;
  r.upstream_first_byte_us = 30000;
  r.first_token_us = 40000;
  r.total_us = 100000;
  r.upstream_us = 99000;
  return r;
}

std::string written(const Metrics& m) {
  std::string out;
  m.write(out);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST_CASE("prom: label values escape backslash, double quote and line feed") {
  std::string out;
  prom::escape_label(out, "a\\b\"c\nd");
  CHECK(out == R"(a\\b\"c\nd)");
}

TEST_CASE("prom: labels are joined with commas") {
  std::string out;
  prom::label(out, "a", "1");
  prom::label(out, "b", "x\"y");
  CHECK(out == R"(a="1",b="x\"y")");
}

TEST_CASE("prom: numbers as the format spells them") {
  auto n = [](double v) {
    std::string s;
    prom::number(s, v);
    return s;
  };
  CHECK(n(3) == "3");
  CHECK(n(0.25) == "0.25");
  CHECK(n(1.0 / 0.0) == "+Inf");
  CHECK(n(-1.0 / 0.0) == "-Inf");
  CHECK(n(0.0 / 0.0) == "NaN");
}

TEST_CASE("prom: a family has its HELP and TYPE lines, a sample its labels in braces") {
  std::string out;
  prom::family(out, "x_total", "Things.", "counter");
  prom::sample(out, "x_total", R"(a="1")", uint64_t{7});
  prom::sample(out, "x_total", "", uint64_t{8});
  CHECK(out == "# HELP x_total Things.\n# TYPE x_total counter\nx_total{a=\"1\"} 7\nx_total 8\n");
}

TEST_CASE("histogram: buckets are cumulative and end with +Inf, then _sum and _count") {
  static constexpr double bounds[] = {0.1, 1};
  Histogram h(bounds);
  h.observe_us(50'000);
  h.observe_us(100'000);  // on a bound: in that bucket (le = less or equal)
  h.observe_us(500'000);
  h.observe_us(7'000'000);
  std::string out;
  h.write(out, "t_seconds", R"(p="z")");
  CHECK(out ==
        "t_seconds_bucket{p=\"z\",le=\"0.1\"} 2\n"
        "t_seconds_bucket{p=\"z\",le=\"1\"} 3\n"
        "t_seconds_bucket{p=\"z\",le=\"+Inf\"} 4\n"
        "t_seconds_sum{p=\"z\"} 7.65\n"
        "t_seconds_count{p=\"z\"} 4\n");
}

TEST_CASE("metrics: requests are counted by model, provider, status and stream") {
  Metrics m;
  m.set_models({"glm-4.5"});
  m.consume(chat("glm-4.5", 200), 0);
  m.consume(chat("glm-4.5", 200), 0);
  m.consume(chat("glm-4.5", 200, true), 0);
  m.consume(chat("glm-4.5", 502), 0);
  const std::string t = written(m);
  CHECK(has_line(t, R"(zgate_requests_total{model="glm-4.5",provider="zhipu",status="200",stream="false"} 2)"));
  CHECK(has_line(t, R"(zgate_requests_total{model="glm-4.5",provider="zhipu",status="200",stream="true"} 1)"));
  CHECK(has_line(t, R"(zgate_requests_total{model="glm-4.5",provider="zhipu",status="502",stream="false"} 1)"));
}

TEST_CASE("metrics: a model outside the configured routes is counted as other") {
  Metrics m;
  m.set_models({"glm-4.5"});
  m.consume(chat("anything-a-client-sends", 200), 0);
  const std::string t = written(m);
  CHECK(has_line(t, R"(zgate_requests_total{model="other",provider="zhipu",status="200",stream="false"} 1)"));
  CHECK(t.find("anything-a-client-sends") == std::string::npos);
}

TEST_CASE("metrics: the series of a family are bounded") {
  Metrics m;
  m.set_models({"glm-4.5"});
  for (int i = 0; i < static_cast<int>(Metrics::kMaxSeries) + 50; ++i) {
    AccessRecord r = chat("glm-4.5", 200);
    const std::string key = "key-" + std::to_string(i);
    r.key_label = key;
    m.consume(r, 0);
  }
  const std::string t = written(m);
  std::size_t series = 0;
  for (std::size_t p = 0; (p = t.find("\nzgate_cost_usd_total{", p)) != std::string::npos; ++p) ++series;
  CHECK(series == Metrics::kMaxSeries + 1);  // plus the overflow series
  CHECK(has_line(t, R"(zgate_cost_usd_total{model="other",key="other"} 0)"));
}

TEST_CASE("metrics: tokens and cost are summed by model and key") {
  Metrics m;
  m.set_models({"glm-4.5"});
  AccessRecord r = chat("glm-4.5", 200);
  r.prompt_tokens = 10;
  r.completion_tokens = 20;
  r.reasoning_tokens = 5;
  r.cached_tokens = 3;
  r.cost_usd = 0.25;
  m.consume(r, 0);
  m.consume(r, 0);
  const std::string t = written(m);
  CHECK(has_line(t, R"(zgate_tokens_total{model="glm-4.5",key="team-a",kind="prompt"} 20)"));
  CHECK(has_line(t, R"(zgate_tokens_total{model="glm-4.5",key="team-a",kind="completion"} 40)"));
  CHECK(has_line(t, R"(zgate_tokens_total{model="glm-4.5",key="team-a",kind="reasoning"} 10)"));
  CHECK(has_line(t, R"(zgate_tokens_total{model="glm-4.5",key="team-a",kind="cached"} 6)"));
  CHECK(has_line(t, R"(zgate_cost_usd_total{model="glm-4.5",key="team-a"} 0.5)"));
}

TEST_CASE("metrics: upstream errors by provider and type, attempts and retries") {
  Metrics m;
  AccessRecord r = chat("glm-4.5", 502);
  r.error_type = "upstream_connect_failed";
  r.attempts = 3;
  m.consume(r, 0);
  AccessRecord before_upstream = chat("glm-4.5", 401);
  before_upstream.error_type = "invalid_api_key";
  before_upstream.attempts = 0;
  m.consume(before_upstream, 0);
  const std::string t = written(m);
  CHECK(has_line(t, R"(zgate_upstream_errors_total{provider="zhipu",type="upstream_connect_failed"} 1)"));
  CHECK(t.find("invalid_api_key") == std::string::npos);
  CHECK(has_line(t, "zgate_upstream_attempts_total 3"));
  CHECK(has_line(t, "zgate_upstream_retries_total 2"));
}

TEST_CASE("metrics: latency histograms in seconds, and zgate's overhead is total minus upstream time") {
  Metrics m;
  m.consume(chat("glm-4.5", 200), 0);  // total 100 ms, upstream 99 ms
  const std::string t = written(m);
  CHECK(has_line(t, R"(zgate_upstream_connect_seconds_sum{provider="zhipu"} 0.002)"));
  CHECK(has_line(t, R"(zgate_upstream_first_byte_seconds_sum{provider="zhipu"} 0.03)"));
  CHECK(has_line(t, R"(zgate_time_to_first_token_seconds_sum{provider="zhipu"} 0.04)"));
  CHECK(has_line(t, R"(zgate_request_duration_seconds_count{provider="zhipu"} 1)"));
  CHECK(has_line(t, R"(zgate_overhead_seconds_sum 0.001)"));
  CHECK(has_line(t, R"(zgate_overhead_seconds_bucket{le="0.001"} 1)"));
  CHECK(has_line(t, R"(zgate_overhead_seconds_bucket{le="0.0005"} 0)"));
}

TEST_CASE("metrics: every family has HELP and TYPE before its samples") {
  Metrics m;
  m.consume(chat("glm-4.5", 200), 0);
  std::string t = written(m);
  LiveGauges g;
  g.pools = {{1, 2}};
  write_live(t, g, read_process_stats());
  std::string last_type;
  std::size_t pos = 0;
  while (pos < t.size()) {
    const std::size_t end = t.find('\n', pos);
    REQUIRE(end != std::string::npos);
    const std::string line = t.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("# TYPE ")) {
      last_type = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.starts_with("#")) continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    INFO(line);
    CHECK((name == last_type || name == last_type + "_bucket" || name == last_type + "_sum" ||
           name == last_type + "_count"));
  }
  CHECK(has_line(t, R"(zgate_upstream_pool_connections{worker="0",state="in_use"} 2)"));
  CHECK(t.find("zgate_build_info{version=\"") != std::string::npos);
}

TEST_CASE("process: /proc is read") {
  const ProcessStats p = read_process_stats();
  REQUIRE(p.ok);
  CHECK(p.resident_bytes > 0);
  CHECK(p.open_fds > 0);
  CHECK(p.max_fds >= p.open_fds);
}
