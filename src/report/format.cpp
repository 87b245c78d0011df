// The report's JSON and CSV writers.
#include <fmt/format.h>

#include "zgate/json/writer.hpp"
#include "zgate/report/report.hpp"

namespace zgate::report {
namespace {

void latency(json::Writer& w, const obs::LatencyHistogram& h) {
  w.begin_object();
  w.kv("count", static_cast<int64_t>(h.count()));
  for (const auto& [name, p] : {std::pair{"p50", 0.5}, std::pair{"p95", 0.95}, std::pair{"p99", 0.99}}) {
    w.key_escaped(name);
    const double ms = percentile_ms(h, p);
    if (ms < 0) {
      w.null();
    } else {
      w.number(ms);
    }
  }
  w.end_object();
}

void totals(json::Writer& w, const Totals& t) {
  w.kv("requests", t.requests);
  w.kv("successes", t.successes);
  w.kv("errors", t.errors());
  w.kv("success_rate", t.success_rate());
  w.key("errors_by_type").begin_object();
  for (const auto& [type, n] : t.errors_by_type) w.key_escaped(type).number(n);
  w.end_object();
  w.key("by_status").begin_object();
  for (const auto& [status, n] : t.by_status) w.key_escaped(std::to_string(status)).number(n);
  w.end_object();
  w.kv("prompt_tokens", t.prompt_tokens);
  w.kv("completion_tokens", t.completion_tokens);
  w.kv("reasoning_tokens", t.reasoning_tokens);
  w.kv("cached_tokens", t.cached_tokens);
  w.kv("cost_usd", t.cost_usd);
  w.kv("cache_hits", t.cache_hits);
  w.kv("cost_saved_usd", t.cost_saved_usd);
  w.key("latency_ms").begin_object();
  w.key("first_token");
  latency(w, t.first_token);
  w.key("total");
  latency(w, t.total);
  w.end_object();
}

void time_or_null(json::Writer& w, const std::optional<int64_t>& ms) {
  if (ms) {
    w.string(iso_time(*ms));
  } else {
    w.null();
  }
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
void csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (const char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::string ms_text(const obs::LatencyHistogram& h, double p) {
  const double ms = percentile_ms(h, p);
  return ms < 0 ? std::string() : fmt::format("{:.1f}", ms);
}

}  // namespace

std::string to_json(const Report& r) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.kv("object", "usage_report");
  w.key("since");
  time_or_null(w, r.filter.since_ms);
  w.key("until");
  time_or_null(w, r.filter.until_ms);
  w.key("filters").begin_object();
  w.kv("key", r.filter.key);
  w.kv("model", r.filter.model);
  w.end_object();
  w.key("by").begin_array();
  for (const Dim d : r.by) w.string(dim_name(d));
  w.end_array();
  w.key("totals").begin_object();
  totals(w, r.totals);
  w.end_object();
  w.key("groups").begin_array();
  for (const Group& g : r.groups) {
    w.begin_object();
    for (size_t i = 0; i < r.by.size() && i < g.key.size(); ++i) w.key_escaped(dim_name(r.by[i])).string(g.key[i]);
    totals(w, g.totals);
    w.end_object();
  }
  w.end_array();
  w.key("series").begin_object();
  w.kv("bucket", r.bucket_ms == obs::kHourMs ? "hour" : "day");
  w.key("points").begin_array();
  for (const SeriesPoint& p : r.series) {
    w.begin_object();
    w.kv("start", iso_time(p.start_ms));
    w.kv("requests", p.requests);
    w.kv("cost_usd", p.cost_usd);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.end_object();
  return out;
}

std::string to_csv(const Report& r) {
  std::string out;
  std::vector<Group> rows = r.groups;
  std::vector<std::string> dims;
  for (const Dim d : r.by) dims.emplace_back(dim_name(d));
  if (r.by.empty()) {
    dims = {"group"};
    rows = {Group{{"total"}, r.totals}};
  }
  for (const auto& d : dims) out += d + ",";
  out +=
      "requests,successes,errors,success_rate,prompt_tokens,completion_tokens,reasoning_tokens,cached_tokens,"
      "cost_usd,first_token_p50_ms,first_token_p95_ms,first_token_p99_ms,total_p50_ms,total_p95_ms,total_p99_ms\r\n";
  for (const Group& g : rows) {
    for (const auto& v : g.key) {
      csv_field(out, v);
      out += ',';
    }
    const Totals& t = g.totals;
    out += fmt::format("{},{},{},{:.6f},{},{},{},{},{:.6f},{},{},{},{},{},{}\r\n", t.requests, t.successes, t.errors(),
                       t.success_rate(), t.prompt_tokens, t.completion_tokens, t.reasoning_tokens, t.cached_tokens,
                       t.cost_usd, ms_text(t.first_token, 0.5), ms_text(t.first_token, 0.95),
                       ms_text(t.first_token, 0.99), ms_text(t.total, 0.5), ms_text(t.total, 0.95),
                       ms_text(t.total, 0.99));
  }
  return out;
}

std::string to_json(const RequestPage& p) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.kv("object", "list");
  w.key("data").begin_array();
  for (const RequestRow& r : p.rows) {
    w.begin_object();
    w.kv("id", r.id);
    w.kv("time", iso_time(r.ts_ms));
    w.kv("ts_ms", r.ts_ms);
    w.kv("request_id", r.request_id);
    w.kv("key", r.key_label);
    w.kv("model", r.model);
    w.kv("upstream_model", r.upstream_model);
    w.kv("provider", r.provider);
    w.kv_bool("stream", r.stream);
    w.kv("status", r.status);
    w.kv("error_type", r.error_type);
    w.kv("prompt_tokens", r.prompt_tokens);
    w.kv("completion_tokens", r.completion_tokens);
    w.kv("reasoning_tokens", r.reasoning_tokens);
    w.kv("cached_tokens", r.cached_tokens);
    w.kv("cost_usd", r.cost_usd);
    w.kv("total_ms", static_cast<double>(r.total_us) / 1000.0);
    w.key("first_token_ms");
    if (r.first_token_us < 0) {
      w.null();
    } else {
      w.number(static_cast<double>(r.first_token_us) / 1000.0);
    }
    w.key("upstream_first_byte_ms");
    if (r.upstream_first_byte_us < 0) {
      w.null();
    } else {
      w.number(static_cast<double>(r.upstream_first_byte_us) / 1000.0);
    }
    w.kv("attempts", r.attempts);
    w.kv("retries", r.retries);
    w.end_object();
  }
  w.end_array();
  w.kv_bool("has_more", p.next_before.has_value());
  w.key("next_before");
  if (p.next_before) {
    w.number(*p.next_before);
  } else {
    w.null();
  }
  w.end_object();
  return out;
}

}  // namespace zgate::report
