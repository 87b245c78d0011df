#include "zgate/cli/stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "data_file.hpp"
#include "zgate/core/text.hpp"

namespace zgate::cli {
namespace {

struct Style {
  bool on;
  std::string bold(std::string_view s) const { return wrap("1", s); }
  std::string dim(std::string_view s) const { return wrap("2", s); }
  std::string green(std::string_view s) const { return wrap("32", s); }
  std::string red(std::string_view s) const { return wrap("31", s); }
  std::string cyan(std::string_view s) const { return wrap("36", s); }
  std::string wrap(const char* code, std::string_view s) const {
    return on ? fmt::format("\x1b[{}m{}\x1b[0m", code, s) : std::string(s);
  }
};

// 1234567 -> "1,234,567"
std::string grouped(int64_t n) {
  std::string d = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string money(double usd) { return usd >= 100 ? fmt::format("${:.2f}", usd) : fmt::format("${:.4f}", usd); }

std::string ms(const obs::LatencyHistogram& h, double p) {
  const double v = report::percentile_ms(h, p);
  if (v < 0) return "-";
  return v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
}

std::string pct(double f) { return fmt::format("{:.1f}%", f * 100); }

// Display width of UTF-8 text (the block characters are one column each).
size_t width(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}
std::string pad(std::string_view s, size_t w, bool right) {
  const size_t n = width(s);
  const std::string fill(w > n ? w - n : 0, ' ');
  return right ? fill + std::string(s) : std::string(s) + fill;
}

// A table with its first `left` columns aligned left, the rest right.
std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                  size_t left, const Style& st) {
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i) w[i] = width(head[i]);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  }
  std::string out = "  ";
  for (size_t i = 0; i < head.size(); ++i) out += st.dim(pad(head[i], w[i], i >= left)) + "  ";
  out += "\n";
  for (const auto& r : rows) {
    out += "  ";
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) out += pad(r[i], w[i], i >= left) + "  ";
    out += "\n";
  }
  return out;
}

std::string bar(double value, double max, size_t cols) {
  static constexpr const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  if (max <= 0 || value <= 0) return "";
  const auto eighths = static_cast<size_t>(value / max * static_cast<double>(cols * 8) + 0.5);
  std::string out;
  for (size_t i = 0; i < eighths / 8; ++i) out += "█";
  out += kEighths[eighths % 8];
  if (out.empty()) out = "▏";
  return out;
}

std::string spark(const std::vector<double>& v) {
  static constexpr const char* kLevels[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
  std::string out;
  for (const double x : v) {
    out += x <= 0 || max <= 0 ? " " : kLevels[std::min<size_t>(7, static_cast<size_t>(x / max * 7.999))];
  }
  return out;
}

std::string chart(const report::Report& r, const Style& st) {
  if (r.series.empty()) return {};
  const bool hourly = r.bucket_ms == obs::kHourMs;
  std::string out = st.bold(hourly ? "Requests and cost per hour (UTC)" : "Requests and cost per day (UTC)") + "\n";
  double max_req = 0, max_cost = 0;
  for (const auto& p : r.series) {
    max_req = std::max(max_req, static_cast<double>(p.requests));
    max_cost = std::max(max_cost, p.cost_usd);
  }
  auto label = [&](int64_t ms) {
    const std::string t = report::iso_time(ms);
    return hourly ? t.substr(0, 10) + " " + t.substr(11, 5) : t.substr(0, 10);
  };
  if (r.series.size() <= 48) {  // one bar per line
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : r.series) {
      rows.push_back({label(p.start_ms), grouped(p.requests), st.cyan(pad(bar(static_cast<double>(p.requests), max_req, 30), 30, false)),
                      money(p.cost_usd)});
    }
    return out + table({hourly ? "hour" : "day", "requests", "", "cost"}, rows, 1, st);
  }
  // Sparklines, 72 steps per line.
  for (size_t from = 0; from < r.series.size(); from += 72) {
    const size_t to = std::min(r.series.size(), from + 72);
    std::vector<double> req, cost;
    for (size_t i = from; i < to; ++i) {
      req.push_back(static_cast<double>(r.series[i].requests));
      cost.push_back(r.series[i].cost_usd);
    }
    out += fmt::format("  {} .. {}\n", label(r.series[from].start_ms), label(r.series[to - 1].start_ms));
    out += "  requests " + st.cyan(spark(req)) + "\n";
    out += "  cost     " + st.cyan(spark(cost)) + "\n";
  }
  out += st.dim(fmt::format("  peak: {} requests, {} per {}\n", grouped(static_cast<int64_t>(max_req)), money(max_cost),
                            hourly ? "hour" : "day"));
  return out;
}

std::vector<std::string> latency_cells(const report::Totals& t) {
  return {ms(t.first_token, 0.5), ms(t.first_token, 0.95), ms(t.first_token, 0.99),
          ms(t.total, 0.5),       ms(t.total, 0.95),       ms(t.total, 0.99)};
}

int usage_error(const std::string& message) {
  std::cerr << "zgate stats: " << message << "\n";
  return 2;
}

int failure(const std::string& message) {
  std::cerr << "zgate stats: " << message << "\n";
  return 1;
}

bool color_wanted() {
  const char* no = std::getenv("NO_COLOR");
  return ::isatty(STDOUT_FILENO) == 1 && !(no && *no);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string db_path(const std::string& db, const std::string& data_dir) { return data_file(db, data_dir, "usage.db"); }

}  // namespace

std::string format_report(const report::Report& r, bool color) {
  const Style st{color};
  const report::Totals& t = r.totals;
  std::string out;
  out += st.bold("zgate usage") + "  " +
         (r.filter.since_ms ? report::iso_time(*r.filter.since_ms) : std::string("first row")) + " .. " +
         (r.filter.until_ms ? report::iso_time(*r.filter.until_ms) : std::string("now"));
  if (!r.filter.key.empty()) out += "  key=" + r.filter.key;
  if (!r.filter.model.empty()) out += "  model=" + r.filter.model;
  out += "\n\n" + st.bold("Totals") + "\n";
  const std::string rate = pct(t.success_rate());
  out += fmt::format("  {}  {}   {} {}   {} {}\n", st.dim("requests      "), grouped(t.requests), st.dim("success"),
                     t.errors() == 0 ? st.green(rate) : st.red(rate), st.dim("errors"), grouped(t.errors()));
  if (!t.errors_by_type.empty()) {
    std::string s;
    for (const auto& [type, n] : t.errors_by_type) s += (s.empty() ? "" : ", ") + text::printable(type) + " " + grouped(n);
    out += "  " + st.dim("errors by type") + "  " + s + "\n";
  }
  if (!t.by_status.empty()) {
    std::string s;
    for (const auto& [status, n] : t.by_status) s += (s.empty() ? "" : ", ") + std::to_string(status) + " " + grouped(n);
    out += "  " + st.dim("by status     ") + "  " + s + "\n";
  }
  out += fmt::format("  {}  prompt {}  completion {}  reasoning {}  cached {}\n", st.dim("tokens        "),
                     grouped(t.prompt_tokens), grouped(t.completion_tokens), grouped(t.reasoning_tokens),
                     grouped(t.cached_tokens));
  out += fmt::format("  {}  {}\n", st.dim("cost          "), money(t.cost_usd));
  if (t.cache_hits > 0)
    out += fmt::format("  {}  {} hits, {} saved\n", st.dim("cache         "), grouped(t.cache_hits), money(t.cost_saved_usd));
  out += "\n";
  out += st.bold("Latency (ms)") + "\n";
  {
    const auto c = latency_cells(t);
    out += table({"", "p50", "p95", "p99"},
                 {{"time to first token", c[0], c[1], c[2]}, {"total time", c[3], c[4], c[5]}}, 1, st);
  }
  out += "\n";
  if (!r.by.empty()) {
    std::string title = "By";
    std::vector<std::string> head;
    for (size_t i = 0; i < r.by.size(); ++i) {
      head.emplace_back(report::dim_name(r.by[i]));
      title += (i ? " + " : " ") + head.back();
    }
    for (const char* h : {"requests", "success", "prompt", "completion", "cost", "ttft p50", "p95", "p99",
                          "total p50", "p95", "p99"}) {
      head.emplace_back(h);
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : r.groups) {
      std::vector<std::string> row;
      for (const auto& k : g.key) row.push_back(k.empty() ? "-" : text::printable(k));  // data: a model a client named
      const report::Totals& x = g.totals;
      for (auto& s : {grouped(x.requests), pct(x.success_rate()), grouped(x.prompt_tokens),
                      grouped(x.completion_tokens), money(x.cost_usd)}) {
        row.push_back(s);
      }
      for (auto& s : latency_cells(x)) row.push_back(s);
      rows.push_back(std::move(row));
    }
    out += st.bold(title) + "\n" + table(head, rows, r.by.size(), st) + "\n";
  }
  out += chart(r, st);
  return out;
}

int run_stats(int argc, char** argv) {
  CLI::App app{"zgate stats: reports over the usage store", "zgate stats"};
  std::string db, data_dir, since, until, key, model, older_than;
  std::vector<std::string> by;
  bool as_json = false, as_csv = false;
  add_data_file_options(app, db, data_dir, "the usage store", "usage.db");
  app.add_option("--since", since, "from: a UTC date/time (2026-12-01, 2026-12-01T10:00) or a duration back (24h, 7d)");
  app.add_option("--until", until, "until (exclusive), same forms as --since");
  app.add_option("--key", key, "only this client key label");
  app.add_option("--model", model, "only this model");
  app.add_option("--by", by, "break down by model, key, provider, day, hour, status, error (repeat or comma list)");
  auto* json_flag = app.add_flag("--json", as_json, "print the report as JSON");
  app.add_flag("--csv", as_csv, "print the breakdown as CSV")->excludes(json_flag);
  auto* prune = app.add_subcommand("prune", "delete rows older than a duration");
  prune->add_option("--older-than", older_than, "e.g. 30d, 12h")->required();
  add_data_file_options(*prune, db, data_dir, "the usage store", "usage.db");
  if (auto status = parse_args(app, argc, argv, "zgate stats")) return *status;
  const int64_t now = now_ms();
  std::string error;
  const std::string path = db_path(db, data_dir);

  if (prune->parsed()) {
    int64_t age = 0;
    if (!report::parse_duration(older_than, age, error)) return usage_error("--older-than: " + error);
    auto store = report::Store::open(path, error);
    if (!store) return failure(error);
    const int64_t n = store->prune(now - age, error);
    if (n < 0) return failure("prune failed: " + error);
    std::cout << "deleted " << n << " row" << (n == 1 ? "" : "s") << " finished before " << report::iso_time(now - age)
              << "\n";
    return 0;
  }

  report::Filter f;
  f.key = key;
  f.model = model;
  int64_t t = 0;
  if (!since.empty()) {
    if (!report::parse_time(since, now, t, error)) return usage_error("--since: " + error);
    f.since_ms = t;
  }
  if (!until.empty()) {
    if (!report::parse_time(until, now, t, error)) return usage_error("--until: " + error);
    f.until_ms = t;
  }
  std::vector<report::Dim> dims;
  for (const auto& b : by) {
    if (!report::parse_dims(b, dims, error)) return usage_error("--by: " + error);
  }
  auto store = report::Store::open(path, error);
  if (!store) return failure(error);
  report::Report r;
  if (!store->usage(f, dims, r, error)) return failure(error);
  if (as_json) {
    std::cout << report::to_json(r) << "\n";
  } else if (as_csv) {
    std::cout << report::to_csv(r);
  } else {
    std::cout << format_report(r, color_wanted());
  }
  return 0;
}

}  // namespace zgate::cli
