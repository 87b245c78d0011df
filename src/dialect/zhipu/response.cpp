#include "zgate/dialect/zhipu/response.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "zgate/core/text.hpp"
#include "zgate/json/read.hpp"
#include "zgate/json/walk.hpp"
#include "zgate/model/usage.hpp"

namespace zgate::zhipu {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

// A call index above this is not tracked for index-less placement (a hostile upstream must
// not make us allocate per index).
constexpr int kMaxTrackedCalls = 256;

// Everything one payload says, as views into the padded input or the parser's string buffer.
// Valid until the next iterate() on this thread's parser.
struct Parsed {
  std::string_view id, model;
  int64_t created = 0;
  bool has_choices = false;  // a `choices` array was present (possibly empty)
  bool has_choice = false;   // choices[0] was an object
  bool has_message = false;  // choices[0] had a delta / message object
  std::string_view reasoning, content, finish;
  bool has_error = false;
  std::string_view error_code, error_message;
  // Where strings simdjson rejected are decoded (lone surrogate escapes), and whether any was.
  json::Spill spill;
};

using Calls = std::vector<V4StreamDecoder::CallView>;

// A string, or empty for null and other types. `delta`: streamed text whose lone
// surrogates are kept for the decoder's SurrogateJoiner; elsewhere they become U+FFFD.
error_code get_text(od::value& v, std::string_view& out, Parsed& p, bool delta = false) {
  out = {};
  return json::get_text(v, out, p.spill, delta);
}

// Tool arguments: a JSON string on the wire, but the OpenAPI schema says object, so an
// object or array is passed on as its raw JSON text.
error_code get_arguments(od::value& v, std::string_view& out, Parsed& p) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (t == od::json_type::object || t == od::json_type::array) return simdjson::to_json_string(v).get(out);
  return get_text(v, out, p, true);
}

// The text of a business code sent as a string or as a number.
error_code get_code(od::value& v, std::string_view& out, Parsed& p) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (t == od::json_type::number) {
    out = text::trim(v.raw_json_token());  // the token may carry trailing whitespace
    return SUCCESS;
  }
  return get_text(v, out, p);
}

// One element of `tool_calls`; one that is not an object still takes its array position.
error_code parse_tool_call(od::value& v, Parsed& p, Calls& calls) {
  V4StreamDecoder::CallView c;
  ZG_TRY(json::if_object(v, [&](od::raw_json_string k, od::value& fv) -> error_code {
    if (k == "index") {
      int64_t i = -1;
      ZG_TRY(json::get_int(fv, i));
      c.index = (i < 0 || i > INT32_MAX) ? -1 : static_cast<int>(i);
      return SUCCESS;
    }
    if (k == "id") return get_text(fv, c.id, p);
    if (k == "function") {
      return json::if_object(fv, [&](od::raw_json_string fk, od::value& ffv) -> error_code {
        if (fk == "name") return get_text(ffv, c.name, p);
        if (fk == "arguments") return get_arguments(ffv, c.arguments, p);
        return SUCCESS;
      });
    }
    return SUCCESS;  // `type` is always "function" here; the encoder writes it.
  }));
  calls.push_back(c);
  return SUCCESS;
}

// `delta` (stream) or `message` (non-stream). `role` repeats on every delta: ignored.
error_code parse_message(od::value& v, Parsed& p, Calls& calls) {
  return json::if_object(
      v,
      [&](od::raw_json_string k, od::value& fv) -> error_code {
        if (k == "content") return get_text(fv, p.content, p, true);
        if (k == "reasoning_content") return get_text(fv, p.reasoning, p, true);
        if (k == "tool_calls") return json::if_array(fv, [&](od::value& ev) { return parse_tool_call(ev, p, calls); });
        return SUCCESS;
      },
      &p.has_message);
}

// Only the first choice matters: the gateway never asks for n > 1; the others are skipped unread.
error_code parse_choices(od::value& v, Parsed& p, Calls& calls) {
  return json::if_array(
      v,
      [&](od::value& cv) -> error_code {
        if (p.has_choice) return SUCCESS;
        return json::if_object(
            cv,
            [&](od::raw_json_string k, od::value& fv) -> error_code {
              if (k == "delta" || k == "message") return parse_message(fv, p, calls);
              if (k == "finish_reason") return get_text(fv, p.finish, p);
              return SUCCESS;
            },
            &p.has_choice);
      },
      &p.has_choices);
}

error_code parse_error_object(od::value& v, Parsed& p) {
  return json::if_object(
      v,
      [&](od::raw_json_string k, od::value& fv) -> error_code {
        if (k == "code") return get_code(fv, p.error_code, p);
        if (k == "message") return get_text(fv, p.error_message, p);
        return SUCCESS;
      },
      &p.has_error);
}

// One pass over the top-level fields, in whatever order the upstream sent them (2025 bodies
// are alphabetical: choices before id). `object`, `request_id`, `web_search`,
// `content_filter` are skipped.
error_code parse_payload(simdjson::padded_string_view input, Parsed& p, Calls& calls, Usage& usage) {
  od::document doc;
  ZG_TRY(json::thread_parser().iterate(input).get(doc));
  od::object root;
  ZG_TRY(doc.get_object().get(root));
  return json::for_each_member(root, [&](od::raw_json_string k, od::value& v) -> error_code {
    if (k == "choices") return parse_choices(v, p, calls);
    if (k == "id") return get_text(v, p.id, p);
    if (k == "model") return get_text(v, p.model, p);
    if (k == "created") return json::get_int(v, p.created);
    if (k == "usage") return read_usage(v, usage);
    if (k == "error") return parse_error_object(v, p);
    return SUCCESS;
  });
}

ApiError malformed(error_code e) {
  return bad_gateway(fmt::format("upstream sent malformed JSON: {}", simdjson::error_message(e)));
}

ApiError network_error() {
  return bad_gateway("The upstream failed while generating the answer (network_error)");
}

}  // namespace

FinishReason map_finish_reason(std::string_view v4) {
  if (v4.empty()) return FinishReason::none;
  if (v4 == "stop") return FinishReason::stop;
  if (v4 == "tool_calls") return FinishReason::tool_calls;
  if (v4 == "length" || v4 == "model_context_window_exceeded") return FinishReason::length;
  if (v4 == "sensitive" || v4 == "content_filter") return FinishReason::content_filter;
  if (v4 == "network_error") return FinishReason::error;
  return FinishReason::stop;
}

int V4StreamDecoder::resolve_index(const CallView& c, int position, bool alone) {
  int idx = c.index;
  if (idx < 0) {
    if (!c.id.empty()) {
      const auto it = std::find(call_ids_.begin(), call_ids_.end(), c.id);
      idx = it != call_ids_.end() ? static_cast<int>(it - call_ids_.begin())
                                  : std::max(position, static_cast<int>(call_ids_.size()));
    } else {
      idx = (alone && last_index_ >= 0) ? last_index_ : position;
    }
  }
  if (idx < kMaxTrackedCalls) {
    if (call_ids_.size() <= static_cast<std::size_t>(idx)) call_ids_.resize(idx + 1);
    if (call_ids_[idx].empty() && !c.id.empty()) call_ids_[idx].assign(c.id);
  }
  last_index_ = idx;
  return idx;
}

void V4StreamDecoder::emit_text(EventSink& sink, int field, Event e) {
  text_.clear();
  auto it = std::find_if(held_.begin(), held_.end(), [field](const Held& h) { return h.field == field; });
  if (it != held_.end()) {
    it->joiner.feed(e.text, text_);
    if (!it->joiner.holding()) held_.erase(it);
  } else {
    json::SurrogateJoiner j;
    j.feed(e.text, text_);
    if (j.holding()) held_.push_back(Held{field, j});
  }
  e.text = text_;
  if (e.type != EventType::tool_call && e.text.empty()) return;
  sink.on_event(e);
}

void V4StreamDecoder::release(EventSink& sink, bool keep_reasoning, bool keep_content,
                              const std::vector<int>* keep_calls) {
  // Reasoning, content, then calls by index: the order events of one chunk have.
  std::sort(held_.begin(), held_.end(), [](const Held& a, const Held& b) { return a.field < b.field; });
  for (std::size_t i = 0; i < held_.size();) {
    const int field = held_[i].field;
    const bool keep = field == -2   ? keep_reasoning
                      : field == -1 ? keep_content
                                    : keep_calls != nullptr &&
                                          std::find(keep_calls->begin(), keep_calls->end(), field) != keep_calls->end();
    if (keep) {
      ++i;
      continue;
    }
    held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
    const std::string_view r = json::kReplacementChar;
    sink.on_event(field == -2 ? Event::reasoning(r) : field == -1 ? Event::content(r) : Event::tool_call(field, {}, {}, r));
  }
}

void V4StreamDecoder::on_end(EventSink& sink) {
  if (holding()) release(sink);
}

void V4StreamDecoder::on_data(std::string_view data, std::string_view /*event_name*/, EventSink& sink) {
  if (done_) return;
  data = text::trim(data);
  if (data.empty()) return;  // keep-alive
  if (data == "[DONE]") {
    done_ = true;
    if (holding()) release(sink);
    return;
  }
  Parsed p;
  calls_.clear();
  usage_ = Usage{};
  spill_.reset();
  p.spill.buffers = &spill_;
  if (const error_code e = parse_payload(json::pad(data, buf_), p, calls_, usage_); e != SUCCESS) {
    if (holding()) release(sink);
    error_ = malformed(e);
    done_ = true;
    sink.on_event(Event::failed(error_));
    return;
  }
  if (p.has_error && !p.has_choices) {
    // {"error":{...}} after the 200: the SDKs raise it, we turn it into an in-band error.
    if (holding()) release(sink);
    error_ = in_band_error(p.error_code, p.error_message);
    done_ = true;
    sink.on_event(Event::failed(error_));
    return;
  }
  if (!started_) {
    started_ = true;
    sink.on_event(Event::start(p.id, p.model, p.created));
  }
  const bool alone = calls_.size() == 1;
  if (!p.spill.wobbly && !holding()) {
    if (!p.reasoning.empty()) sink.on_event(Event::reasoning(p.reasoning));
    if (!p.content.empty()) sink.on_event(Event::content(p.content));
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      const CallView& c = calls_[i];
      sink.on_event(Event::tool_call(resolve_index(c, static_cast<int>(i), alone), c.id, c.name, c.arguments));
    }
  } else {
    // Lone surrogates in this chunk's text, or one held from an earlier chunk: each field's
    // text goes through its joiner. A held surrogate whose field has no text here is released
    // first when other text comes, so it lands before that text.
    call_index_.clear();
    bool any_text = !p.reasoning.empty() || !p.content.empty();
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      call_index_.push_back(resolve_index(calls_[i], static_cast<int>(i), alone));
      any_text = any_text || !calls_[i].arguments.empty();
    }
    if (any_text && holding()) {
      std::vector<int> with_text;
      for (std::size_t i = 0; i < calls_.size(); ++i)
        if (!calls_[i].arguments.empty()) with_text.push_back(call_index_[i]);
      release(sink, !p.reasoning.empty(), !p.content.empty(), &with_text);
    }
    if (!p.reasoning.empty()) emit_text(sink, -2, Event::reasoning(p.reasoning));
    if (!p.content.empty()) emit_text(sink, -1, Event::content(p.content));
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      const CallView& c = calls_[i];
      emit_text(sink, call_index_[i], Event::tool_call(call_index_[i], c.id, c.name, c.arguments));
    }
  }
  if (usage_.present) sink.on_event(Event::usage_of(usage_));
  const FinishReason r = map_finish_reason(p.finish);
  if (r != FinishReason::none && holding()) release(sink);
  switch (r) {
    case FinishReason::none: break;
    case FinishReason::error:
      error_ = network_error();
      done_ = true;
      sink.on_event(Event::failed(error_));
      break;
    default: sink.on_event(Event::finished(r)); break;
  }
}

Result<void> decode_response(std::string_view body, EventSink& sink) {
  std::string buf;
  std::vector<V4StreamDecoder::CallView> calls;
  Usage usage;
  json::StringSpill spill;
  Parsed p;
  p.spill.buffers = &spill;
  if (const error_code e = parse_payload(json::pad(body, buf), p, calls, usage); e != SUCCESS) return malformed(e);
  if (p.has_error && !p.has_choices) return in_band_error(p.error_code, p.error_message);
  if (!p.has_choice || !p.has_message) return bad_gateway("upstream sent a response without choices[0].message");
  const FinishReason r = map_finish_reason(p.finish);
  // Nothing was sent to the client yet: a plain 502 beats a half answer.
  if (r == FinishReason::error) return network_error();
  if (p.spill.wobbly) {
    // Whole texts: a lone surrogate left in them has no other half to wait for.
    const auto fix = [&spill](std::string_view& t) {
      std::string& s = spill.next();
      json::append_wtf8_as_utf8(s, t);
      t = s;
    };
    fix(p.reasoning);
    fix(p.content);
    for (auto& c : calls) fix(c.arguments);
  }
  sink.on_event(Event::start(p.id, p.model, p.created));
  if (!p.reasoning.empty()) sink.on_event(Event::reasoning(p.reasoning));
  if (!p.content.empty()) sink.on_event(Event::content(p.content));
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto& c = calls[i];
    // The non-standard `index` of non-stream calls, else the array position.
    const int idx = c.index >= 0 ? c.index : static_cast<int>(i);
    sink.on_event(Event::tool_call(idx, c.id, c.name, c.arguments));
  }
  if (usage.present) sink.on_event(Event::usage_of(usage));
  if (r != FinishReason::none) sink.on_event(Event::finished(r));
  return {};
}

}  // namespace zgate::zhipu
