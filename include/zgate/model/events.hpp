#pragma once
// The normalised event stream. Every upstream dialect (zhipu v4, zai-web, ...) decodes its
// wire format into these events; one OpenAI encoder, the access log and the usage accounting
// consume them. A new dialect is one more decoder; a new front (another client API) is one
// more encoder.
//
// Events carry views (into the decoder's parse buffers) that are valid only during
// EventSink::on_event; a sink that keeps data copies it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "zgate/core/error.hpp"

namespace zgate {

enum class FinishReason : unsigned char {
  none,
  stop,
  length,
  tool_calls,
  content_filter,
  error,  // the upstream failed mid-answer (zhipu `network_error`); surfaced as an error event
};

std::string_view to_string(FinishReason r);

// `prefix` + `n` random alphanumerics (core/ids.hpp's per-thread generator: ids, not secrets).
std::string random_alnum_id(std::string_view prefix, std::size_t n);
// "call_" + 24 random alphanumerics: the id given to a tool call the upstream sent without one.
std::string new_call_id();

struct Usage {
  bool present = false;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;  // includes reasoning tokens
  int64_t total_tokens = 0;
  int64_t cached_tokens = 0;      // part of prompt_tokens
  int64_t reasoning_tokens = 0;   // part of completion_tokens (0 when the upstream does not say)
};

enum class EventType : unsigned char {
  start,      // first frame: id = upstream response id, name = upstream model, created = unix seconds
  reasoning,  // text = reasoning delta
  content,    // text = answer delta
  tool_call,  // index = call index; id / name set on a call's first fragment (may repeat later,
              // the encoder emits them once); text = arguments fragment (may be empty)
  finish,     // finish = reason (once, at the end of the answer)
  usage,      // usage = token counts (may come more than once; the last one wins)
  error,      // error = an upstream failure after the response began
};

struct Event {
  EventType type = EventType::content;
  std::string_view text;
  std::string_view id;
  std::string_view name;
  int index = 0;
  int64_t created = 0;
  FinishReason finish = FinishReason::none;
  const Usage* usage = nullptr;
  const ApiError* error = nullptr;

  static Event start(std::string_view id, std::string_view model, int64_t created) {
    Event e; e.type = EventType::start; e.id = id; e.name = model; e.created = created; return e;
  }
  static Event reasoning(std::string_view t) { Event e; e.type = EventType::reasoning; e.text = t; return e; }
  static Event content(std::string_view t) { Event e; e.type = EventType::content; e.text = t; return e; }
  static Event tool_call(int index, std::string_view id, std::string_view name, std::string_view args) {
    Event e; e.type = EventType::tool_call; e.index = index; e.id = id; e.name = name; e.text = args; return e;
  }
  static Event finished(FinishReason r) { Event e; e.type = EventType::finish; e.finish = r; return e; }
  static Event usage_of(const Usage& u) { Event e; e.type = EventType::usage; e.usage = &u; return e; }
  static Event failed(const ApiError& err) { Event e; e.type = EventType::error; e.error = &err; return e; }
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_event(const Event& e) = 0;
};

}  // namespace zgate
