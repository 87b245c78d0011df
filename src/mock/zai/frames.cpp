// zai-web payloads ({"type":"chat:completion","data":{...}}) and their rendering as a timed SSE
// plan.
#include <algorithm>

#include "zai.hpp"
#include "zgate/json/string_scan.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::mock::zai {
namespace {

// 2025-style spacing: ", " and ": " outside strings.
std::string spaced(std::string_view compact) {
  std::string out;
  out.reserve(compact.size() + compact.size() / 8);
  json::StringScan str;
  for (const char c : compact) {
    out.push_back(c);
    if (!str.inside(c) && (c == ',' || c == ':')) out.push_back(' ');
  }
  return out;
}

}  // namespace

std::string frame_delta(std::string_view phase, std::string_view text) {
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.kv("delta_content", text).kv("phase", phase).end_object().end_object();
  return out;
}

std::string frame_edit(std::string_view phase, int64_t index, std::string_view text) {
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.kv("phase", phase).kv("edit_index", index).kv("edit_content", text).end_object().end_object();
  return out;
}

std::string frame_usage(int64_t prompt, int64_t completion, int64_t cached) {
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object().kv("phase", "other");
  w.key("usage").begin_object().kv("prompt_tokens", prompt).kv("completion_tokens", completion);
  w.kv("total_tokens", prompt + completion);
  w.key("prompt_tokens_details").begin_object().kv("cached_tokens", cached).end_object();
  w.end_object().end_object().end_object();
  return out;
}

std::string frame_done() { return R"({"type":"chat:completion","data":{"phase":"done","done":true}})"; }

// The error sits twice, in data.data.error and data.error, each with done:true.
std::string frame_error(std::string_view detail, std::string_view code_json, std::string_view error_code) {
  std::string err;
  json::Writer e(err);
  e.begin_object().kv("detail", detail).kv_raw("code", code_json);
  if (!error_code.empty()) e.kv("error_code", error_code);
  e.end_object();
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.key("data").begin_object().kv_raw("error", err).kv_bool("done", true).end_object();
  w.kv_raw("error", err).kv_bool("done", true).end_object().end_object();
  return out;
}

StreamKnobs knobs(const Scenario* sc, const MockContext& mc) {
  StreamKnobs k;
  k.delay = mc.options().default_delay;
  if (sc == nullptr) return k;
  k.delay = Millis{std::max<int64_t>(0, sc->param_int("delay_ms", k.delay.count()))};
  k.first = Millis{std::max<int64_t>(0, sc->param_int("first_ms", 0))};
  k.spaced = sc->param_int("spaced", 0) != 0;
  k.done_marker = sc->param_int("done_marker", 0) != 0;
  k.hostile = sc->param_int("hostile", 0) != 0;
  return k;
}

std::shared_ptr<Plan> sse_plan(const char* label) {
  auto p = std::make_shared<Plan>();
  p->label = label;
  p->chunked = true;
  p->headers.emplace_back("Content-Type", "text/event-stream; charset=utf-8");
  p->headers.emplace_back("Cache-Control", "no-cache");
  return p;
}

// One SSE event per payload, one write per event (or hostile cuts), delays between writes.
std::shared_ptr<Plan> stream_plan(const Answer& a, const StreamKnobs& k, const char* label) {
  auto p = sse_plan(label);
  std::vector<std::string> events;
  events.reserve(a.payloads.size() + 1);
  for (const auto& pl : a.payloads) {
    std::string ev;
    append_sse(ev, k.spaced ? spaced(pl) : pl);
    events.push_back(std::move(ev));
  }
  if (k.done_marker && a.end == End::complete) events.emplace_back("data: [DONE]\n\n");
  if (k.hostile) {
    std::string all;
    for (const auto& e : events) all += e;
    append_hostile_steps(p->steps, all, k.delay);
    if (!p->steps.empty()) p->steps.front().delay = k.first;
  } else {
    for (auto& e : events) p->steps.push_back(Step{p->steps.empty() ? k.first : k.delay, std::move(e)});
  }
  p->end = a.end;
  return p;
}

}  // namespace zgate::mock::zai
