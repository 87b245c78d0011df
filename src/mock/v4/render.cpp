// Renders a v4 Answer: as SSE chunks (usage on the finish chunk) or as one JSON body whose keys
// are in the wire's alphabetical order.
#include <algorithm>

#include "v4.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::mock::v4 {
namespace {

struct Usage {
  int64_t prompt = 1, completion = 1, cached = 0, reasoning = 0;
};

void write_usage_stream(json::Writer& w, const Usage& u, bool f2026) {
  w.key("usage").begin_object();
  w.kv("prompt_tokens", u.prompt).kv("completion_tokens", u.completion).kv("total_tokens", u.prompt + u.completion);
  w.key("prompt_tokens_details").begin_object().kv("cached_tokens", u.cached).end_object();
  if (f2026) w.key("completion_tokens_details").begin_object().kv("reasoning_tokens", u.reasoning).end_object();
  w.end_object();
}

// Non-streamed bodies use the wire's alphabetical key order.
void write_usage_sorted(json::Writer& w, const Usage& u, bool f2026) {
  w.key("usage").begin_object();
  w.kv("completion_tokens", u.completion);
  if (f2026) w.key("completion_tokens_details").begin_object().kv("reasoning_tokens", u.reasoning).end_object();
  w.kv("prompt_tokens", u.prompt);
  w.key("prompt_tokens_details").begin_object().kv("cached_tokens", u.cached).end_object();
  w.kv("total_tokens", u.prompt + u.completion);
  w.end_object();
}

// One SSE event "data: {...}\n\n" for a chunk whose delta is written by `delta`.
template <class F>
std::string chunk_event(const Head& h, F&& delta, std::string_view finish = {}, const Usage* usage = nullptr,
                        bool content_filter = false) {
  std::string out = "data: ";
  json::Writer w(out);
  w.begin_object().kv("id", h.id).kv("created", h.created).kv("model", h.model);
  if (h.f2026) w.kv("object", "chat.completion.chunk");
  w.key("choices").begin_array().begin_object().kv("index", 0);
  if (!finish.empty()) w.kv("finish_reason", finish);
  w.key("delta").begin_object();
  delta(w);
  w.end_object().end_object().end_array();
  if (content_filter)
    w.key("content_filter").begin_array().begin_object().kv("role", "assistant").kv("level", 1).end_object().end_array();
  if (usage) write_usage_stream(w, *usage, h.f2026);
  w.end_object();
  out.append("\n\n", 2);
  return out;
}

Usage usage_for(const V4Request& rq, const Answer& a) {
  Usage u;
  u.prompt = std::max<int64_t>(1, static_cast<int64_t>(rq.body_size / 4));
  std::size_t out_bytes = a.content.size() + a.reasoning.size();
  for (const auto& c : a.calls) out_bytes += c.args.size() + c.name.size();
  u.reasoning = static_cast<int64_t>(a.reasoning.size() / 4);
  u.completion = a.completion_tokens > 0 ? a.completion_tokens
                                         : std::max<int64_t>(1, static_cast<int64_t>(out_bytes / 4));
  if (u.reasoning > u.completion) u.reasoning = u.completion;
  return u;
}

}  // namespace

// Stream events of an answer (without [DONE]); content is cut into `chunks` pieces.
std::vector<std::string> stream_events(const Head& h, const V4Request& rq, const Answer& a, std::size_t chunks) {
  std::vector<std::string> ev;
  if (!a.reasoning.empty()) {
    // The first thinking delta is a lone "\n" next to an empty content, as upstream sends it
    // (tests/fixtures/zhipu/t06_reasoning.sse).
    std::string_view reasoning = a.reasoning;
    if (reasoning.front() == '\n') {
      ev.push_back(chunk_event(h, [](json::Writer& w) { w.kv("role", "assistant").kv("content", "").kv("reasoning_content", "\n"); }));
      reasoning.remove_prefix(1);
    }
    for (auto piece : split_pieces(reasoning, 4))
      ev.push_back(chunk_event(h, [&](json::Writer& w) { w.kv("role", "assistant").kv("reasoning_content", piece); }));
  }
  std::string_view content = a.content;
  if (!a.reasoning.empty() && !content.empty() && content.front() == '\n') {
    // GLM's answer after thinking starts with a lone "\n" delta (same fixture).
    ev.push_back(chunk_event(h, [](json::Writer& w) { w.kv("role", "assistant").kv("content", "\n"); }));
    content.remove_prefix(1);
  }
  for (auto piece : split_pieces(content, std::max<std::size_t>(1, chunks)))
    ev.push_back(chunk_event(h, [&](json::Writer& w) { w.kv("role", "assistant").kv("content", piece); }));

  std::string_view finish_fragment;  // tool_stream_finish_args: rides on the finish chunk
  for (std::size_t i = 0; i < a.calls.size(); ++i) {
    const auto& c = a.calls[i];
    const int64_t index = a.tool_mode == ToolMode::index_missing ? -1 : static_cast<int64_t>(i);
    auto whole = [&](json::Writer& w, std::string_view args) {
      w.key("tool_calls").begin_array().begin_object().kv("id", c.stream_id).kv("index", index).kv("type", "function");
      w.key("function").begin_object().kv("name", c.name).kv("arguments", args).end_object();
      w.end_object().end_array();
    };
    if (a.tool_mode == ToolMode::whole || a.tool_mode == ToolMode::index_missing) {
      ev.push_back(chunk_event(h, [&](json::Writer& w) { whole(w, c.args); }));
      continue;
    }
    // tool_stream: a head fragment with id/name and empty arguments, then argument pieces.
    ev.push_back(chunk_event(h, [&](json::Writer& w) { whole(w, ""); }));
    auto pieces = split_pieces(c.args, 3);
    if (a.tool_mode == ToolMode::finish_args && i + 1 == a.calls.size() && !pieces.empty()) {
      finish_fragment = pieces.back();
      pieces.pop_back();
    }
    for (auto piece : pieces) {
      if (a.tool_mode == ToolMode::repeat) {
        ev.push_back(chunk_event(h, [&](json::Writer& w) { whole(w, piece); }));
      } else {
        ev.push_back(chunk_event(h, [&](json::Writer& w) {
          w.key("tool_calls").begin_array().begin_object().kv("index", index);
          w.key("function").begin_object().kv("arguments", piece).end_object();
          w.end_object().end_array();
        }));
      }
    }
  }
  const Usage u = usage_for(rq, a);
  const int64_t last_index = static_cast<int64_t>(a.calls.size()) - 1;
  ev.push_back(chunk_event(
      h,
      [&](json::Writer& w) {
        w.kv("role", "assistant").kv("content", "");
        if (!finish_fragment.empty()) {
          w.key("tool_calls").begin_array().begin_object().kv("index", last_index);
          w.key("function").begin_object().kv("arguments", finish_fragment).end_object();
          w.end_object().end_array();
        }
      },
      a.finish, &u, a.content_filter));
  return ev;
}

std::string nonstream_body(const Head& h, const V4Request& rq, const Answer& a) {
  std::string out;
  json::Writer w(out);
  w.begin_object().key("choices").begin_array().begin_object();
  w.kv("finish_reason", a.finish).kv("index", 0);
  w.key("message").begin_object().kv("content", a.content);
  if (!a.reasoning.empty()) w.kv("reasoning_content", a.reasoning);
  w.kv("role", "assistant");
  if (!a.calls.empty()) {
    w.key("tool_calls").begin_array();
    for (std::size_t i = 0; i < a.calls.size(); ++i) {
      const auto& c = a.calls[i];
      w.begin_object().key("function").begin_object().kv("arguments", c.args).kv("name", c.name).end_object();
      w.kv("id", c.id).kv("index", static_cast<int64_t>(i)).kv("type", "function").end_object();
    }
    w.end_array();
  }
  w.end_object().end_object().end_array();
  if (a.content_filter)
    w.key("content_filter").begin_array().begin_object().kv("level", 1).kv("role", "assistant").end_object().end_array();
  w.kv("created", h.created).kv("id", h.id).kv("model", h.model);
  if (h.f2026) w.kv("object", "chat.completion");
  w.kv("request_id", h.request_id.empty() ? std::string_view(h.id) : h.request_id);
  write_usage_sorted(w, usage_for(rq, a), h.f2026);
  w.end_object();
  return out;
}

}  // namespace zgate::mock::v4
