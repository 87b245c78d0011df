// v4 scenarios: a scenario name and the parsed request become a Plan. The names and what
// each sends are listed in src/mock/README.md.
#include <algorithm>
#include <array>
#include <cstdio>

#include "v4.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::mock::v4 {
namespace {

constexpr std::string_view kJson = "application/json; charset=UTF-8";
constexpr std::string_view kSse = "text/event-stream;charset=UTF-8";

ToolCall make_call(MockContext& mc, std::string name, std::string args) {
  const uint64_t seq = mc.next_seq();
  return ToolCall{std::move(name), std::move(args), v4_stream_tool_id(seq), v4_tool_id(seq)};
}

std::vector<ToolCall> calls_for(const Build& b, bool parallel) {
  std::vector<ToolCall> calls;
  const auto& tools = b.rq.tools;
  if (tools.empty()) {
    calls.push_back(make_call(b.mc, parallel ? "add" : "get_weather", parallel ? R"({"a":2,"b":3})" : R"({"location":"Lisbon"})"));
    if (parallel) calls.push_back(make_call(b.mc, "multiply", R"({"a":4,"b":5})"));
    return calls;
  }
  calls.push_back(make_call(b.mc, tools[0].name, tools[0].args));
  if (parallel) {
    const auto& second = tools.size() > 1 ? tools[1] : tools[0];
    calls.push_back(make_call(b.mc, second.name, tools.size() > 1 ? second.args : second.args_alt));
  }
  return calls;
}

void add_steps(Plan& p, const std::vector<std::string>& events, Millis delay) {
  for (const auto& e : events) p.steps.push_back(Step{p.steps.empty() ? Millis{0} : delay, e});
}

PlanPtr answer_plan(const Build& b, const Answer& a, const char* label) {
  auto p = std::make_shared<Plan>();
  p->label = label;
  if (b.rq.stream) {
    p->chunked = true;
    p->headers.emplace_back("Content-Type", kSse);
    p->headers.emplace_back("Cache-Control", "no-cache");
    add_steps(*p, stream_events(b.head, b.rq, a, b.chunks), b.delay);
    p->steps.push_back(Step{p->steps.empty() ? Millis{0} : b.delay, "data: [DONE]\n\n"});
  } else {
    p->headers.emplace_back("Content-Type", kJson);
    p->steps.push_back(Step{Millis{0}, nonstream_body(b.head, b.rq, a)});
  }
  if (!b.mc.options().fast) p->headers.emplace_back("x-log-id", b.head.id);
  return p;
}

// `text` after a newline when `newline` (GLM's thinking answers begin with one). Built by
// appending: GCC 12 at -O3 warns (-Wrestrict, wrongly) on "\n" + text.
std::string after_newline(bool newline, std::string_view text) {
  std::string s;
  s.reserve(text.size() + 1);
  if (newline) s.push_back('\n');
  s.append(text);
  return s;
}

Answer default_answer(const Build& b) {
  Answer a;
  if (b.rq.thinking) a.reasoning = after_newline(true, reasoning_text(b.rq.last_user_text, ' '));
  a.content = after_newline(b.rq.thinking, echo_text(b.rq.last_user_text));
  return a;
}

// Keeps the first `keep` steps (whole body halves when not streamed) and ends with `end`.
PlanPtr truncate(PlanPtr full, std::size_t keep, End end, const char* label) {
  auto p = std::make_shared<Plan>(*full);
  p->label = label;
  if (!p->chunked && p->steps.size() == 1) {  // non-streamed: send half the body
    std::string& body = p->steps[0].bytes;
    const std::string second = body.substr(body.size() / 2);
    body.resize(body.size() / 2);
    p->steps.push_back(Step{Millis{0}, second});  // counted in Content-Length, never sent
    keep = 1;
  }
  // Content-Length must announce the full body, so remember it before cutting.
  if (!p->chunked) {
    p->headers.emplace_back("Content-Length", std::to_string(p->body_size()));
  }
  if (p->steps.size() > keep) p->steps.resize(keep);
  p->end = end;
  return p;
}

struct ErrorDef {
  std::string_view name;
  int status;
  std::string_view code;
  std::string_view message;
};

constexpr std::array<ErrorDef, 12> kErrors{{
    {"err_401", 401, "401", "令牌已过期或验证不正确"},
    {"err_1002", 401, "1002",
     "Authorization Token is invalid, please ensure that the Authorization Token is correctly provided."},
    {"err_1113", 429, "1113", "余额不足或无可用资源包,请充值。"},
    {"err_1302", 429, "1302",
     "High concurrency usage of this API, please reduce concurrency or contact customer service to increase limits"},
    {"err_1303", 429, "1303",
     "High frequency usage of this API, please reduce frequency or contact customer service to increase limits"},
    {"err_1305", 429, "1305", "The service may be temporarily overloaded, please try again later"},
    {"err_1305_503", 503, "1305", "The service may be temporarily overloaded, please try again later"},
    {"err_1211", 400, "1211", "Unknown Model, please check the model code."},
    {"err_1214", 400, "1214", "messages 参数非法。请检查文档。"},
    {"err_1210", 400, "1210", "API 调用参数有误，请检查文档。"},
    {"err_500", 500, "500", "Internal Error"},
    {"err_503", 503, "503", "Service Unavailable"},
}};

}  // namespace

PlanPtr bodyless_plan(const Scenario& sc) {
  for (const auto& e : kErrors)
    if (sc.name == e.name) return v4_error_plan(e.status, e.code, e.message, e.name.data());
  if (sc.name == "err_1301") {
    return simple_plan(400, std::string(kJson),
                       R"({"contentFilter":[{"level":1,"role":"user"}],"error":{"code":"1301","message":"System detected potentially unsafe or sensitive content in input or generation. Please avoid using prompts that may generate sensitive content. Thank you for your cooperation."}})",
                       "err_1301");
  }
  if (sc.name == "err_html") {
    return simple_plan(502, "text/html",
                       "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
                       "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                       "err_html");
  }
  if (sc.name == "hang") {
    auto p = std::make_shared<Plan>();
    p->hang_before_headers = true;
    p->label = "hang";
    return p;
  }
  if (sc.name == "drop_before_headers") {
    auto p = std::make_shared<Plan>();
    p->close_before_headers = true;
    p->label = "drop_before_headers";
    return p;
  }
  return nullptr;
}

namespace {

constexpr std::string_view kMultibyte[] = {
    "你好，世界！", " 🌍 Grüße aus zgate-mock", " — 日本語のテキスト、", "한국어 텍스트", " emoji 👋🏽🚀",
    " ∑ €uro ½", " 完了。"};

}  // namespace

PlanPtr build_plan(Build& b) {
  const std::string& name = b.sc.name;
  Answer a = default_answer(b);

  if (name == "plain" || name == "slow_headers") {
    if (name == "plain") {
      a.reasoning.clear();
      a.content = echo_text(b.rq.last_user_text);
    }
    auto p = answer_plan(b, a, name == "plain" ? "plain" : "slow_headers");
    if (name == "slow_headers") {
      auto q = std::make_shared<Plan>(*p);
      q->delay_headers = Millis{b.sc.param_int("delay_ms", 1000)};
      return q;
    }
    return p;
  }
  if (name == "reasoning" || name == "format2026") {
    a.reasoning = after_newline(true, reasoning_text(b.rq.last_user_text, ' '));
    a.content = after_newline(true, echo_text(b.rq.last_user_text));
    return answer_plan(b, a, name == "reasoning" ? "reasoning" : "format2026");
  }
  if (name == "tool_result") {
    a.content = after_newline(b.rq.thinking, tool_result_text(b.rq.last_tool_content));
    return answer_plan(b, a, "tool_result");
  }
  if (name == "tools" || name == "tools_parallel" || name == "tool_stream" || name == "tool_stream_repeat" ||
      name == "tool_stream_finish_args" || name == "tool_index_missing") {
    a.content = "I'll check that.";
    if (b.rq.thinking) a.reasoning = "Use the tool.";
    a.finish = "tool_calls";
    a.calls = calls_for(b, name == "tools_parallel");
    a.tool_mode = name == "tool_stream"               ? ToolMode::fragmented
                  : name == "tool_stream_repeat"      ? ToolMode::repeat
                  : name == "tool_stream_finish_args" ? ToolMode::finish_args
                  : name == "tool_index_missing"      ? ToolMode::index_missing
                                                      : ToolMode::whole;
    if (a.tool_mode != ToolMode::whole && a.tool_mode != ToolMode::index_missing) a.content.clear();
    return answer_plan(b, a, "tools");
  }
  if (name == "content_filter") {
    a.reasoning.clear();
    a.content = "Sure, here is";
    a.finish = "sensitive";
    a.content_filter = true;
    return answer_plan(b, a, "content_filter");
  }
  if (name == "length") {
    a.finish = "length";
    a.completion_tokens = b.rq.max_tokens > 0 ? b.rq.max_tokens : 64;
    return answer_plan(b, a, "length");
  }
  if (name == "network_error") {
    a.finish = "network_error";
    return answer_plan(b, a, "network_error");
  }
  if (name == "error_frame") {
    std::string err;
    json::Writer w(err);
    const std::string message = "Network error, error id: " + b.head.id + ", please contact customer service";
    w.begin_object().key("error").begin_object().kv("code", "1234").kv("message", message).end_object().end_object();
    if (!b.rq.stream) return v4_error_plan(500, "1234", message, "error_frame");
    auto p = std::make_shared<Plan>();
    p->label = "error_frame";
    p->chunked = true;
    p->headers.emplace_back("Content-Type", kSse);
    a.reasoning.clear();
    auto events = stream_events(b.head, b.rq, a, 2);
    events.pop_back();  // no finish chunk: the error frame replaces it
    add_steps(*p, events, b.delay);
    std::string frame;
    append_sse(frame, err);
    p->steps.push_back(Step{b.delay, std::move(frame)});
    if (b.sc.has("abrupt")) {
      p->end = End::close_abruptly;
    } else {
      p->headers.emplace_back("Connection", "close");
    }
    return p;
  }
  if (name == "multibyte") {
    a.reasoning.clear();
    a.content.clear();
    for (auto s : kMultibyte) a.content += s;
    auto full = answer_plan(b, a, "multibyte");
    // Re-cut the whole body inside UTF-8 sequences and inside "data: ", one write each.
    auto p = std::make_shared<Plan>(*full);
    std::string all;
    for (const auto& s : full->steps) all += s.bytes;
    p->steps.clear();
    append_hostile_steps(p->steps, all, std::max(b.delay, Millis{2}));
    return p;
  }
  if (name == "long") {
    const std::size_t bytes = static_cast<std::size_t>(std::max<int64_t>(1, b.sc.param_int("bytes", 256 * 1024)));
    std::string text;
    text.reserve(bytes + 128);
    for (int line = 1; text.size() < bytes; ++line) {
      char buf[96];
      const int n = std::snprintf(buf, sizeof buf, "Line %05d: the quick brown fox jumps over the lazy dog.\n", line);
      text.append(buf, static_cast<std::size_t>(n));
    }
    text.resize(bytes);
    a.reasoning.clear();
    a.content = std::move(text);
    b.chunks = static_cast<std::size_t>(b.sc.param_int("chunks", 512));
    return answer_plan(b, a, "long");
  }
  if (name == "json_answer") {
    // An upstream that ignores `stream`: a whole JSON answer to a streamed request.
    V4Request rq = b.rq;
    rq.stream = false;
    const Build nb{b.req, rq, b.sc, b.mc, b.head, b.delay, b.chunks};
    return answer_plan(nb, a, "json_answer");
  }
  if (name == "echo") {
    a.reasoning.clear();
    a.content.assign(b.req.body);
    return answer_plan(b, a, "echo");
  }
  if (name == "slow") {
    b.chunks = static_cast<std::size_t>(std::max<int64_t>(1, b.sc.param_int("chunks", 64)));
    b.delay = Millis{std::max<int64_t>(0, b.sc.param_int("delay_ms", 20))};
    a.reasoning.clear();
    a.content = echo_text(b.rq.last_user_text) + " Counting:";
    for (std::size_t i = 1; i <= b.chunks; ++i) a.content += " " + std::to_string(i);
    if (!b.rq.stream) {
      // A non-streamed answer arrives when the model is done.
      auto p = std::make_shared<Plan>(*answer_plan(b, a, "slow"));
      p->delay_headers = b.delay * static_cast<int64_t>(b.chunks);
      return p;
    }
    return answer_plan(b, a, "slow");
  }
  if (name == "hang_mid_stream" || name == "drop") {
    a.reasoning.clear();
    const auto keep = static_cast<std::size_t>(std::max<int64_t>(0, b.sc.param_int("after", 2)));
    return truncate(answer_plan(b, a, "truncated"), keep, name == "drop" ? End::close_abruptly : End::hang,
                    name == "drop" ? "drop" : "hang_mid_stream");
  }
  return nullptr;
}

}  // namespace zgate::mock::v4
