// zai-web stream decoding: chat.z.ai's SSE frames (docs/protocols/zai-web.md) into normalised
// events. This file handles frames; stream_scan.cpp the text buffers; stream_output.cpp events.
//
// Two text buffers are scanned incrementally with the same little state machine:
//  - think_: `thinking` deltas. Plain text is reasoning; a `<details>` wrapper is unwrapped.
//  - msg_:   everything else, under the truncate-at-index model (delta appends, edit
//            replaces from a code-point index). Outside tags it is content; `<details>` is
//            reasoning; `<glm_block>` is a (hidden) tool block.
// A scan stops where the rest of the buffer could still become a tag ("<det", "\n>"), so only
// that suffix is ever held back; the bytes stay in the buffer, nothing is copied aside.
//
// Edits that rewrite already-scanned text restore the scanner state saved at the last region
// boundary before the edit and scan again; output counters make the rescan emit only what goes
// beyond what was already emitted, so nothing is duplicated or retracted. Reasoning in a msg_
// `<details>` block is first matched against reasoning already streamed from thinking deltas
// (the transition frame re-sends the whole block), and only the surplus is emitted.
#include "zgate/dialect/zaiweb/stream.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include "stream_impl.hpp"
#include "zgate/core/text.hpp"
#include "zgate/json/read.hpp"
#include "zgate/dialect/zaiweb/errors.hpp"

namespace zgate::zaiweb {

namespace od = simdjson::ondemand;

ThinkingMode parse_thinking_mode(std::string_view s) {
  if (s == "think_tags" || s == "think-tags" || s == "tags") return ThinkingMode::think_tags;
  if (s == "strip" || s == "none" || s == "drop") return ThinkingMode::strip;
  return ThinkingMode::reasoning;
}

void StreamDecoder::Impl::finish_native_call() {
  if (!call_active) return;
  call_active = false;
  args_join.flush(call_args);
  if (declared(call_name)) emit_tool_call(call_id, call_name, call_args);
}

void StreamDecoder::Impl::on_native(const Frame& f) {
  const auto start = [this](std::string_view name) {
    call_active = true;
    call_name.assign(name);
    call_id.clear();
    call_args.clear();
    args_join.reset();
  };
  if (f.has_name && !f.delta_name.empty()) {
    finish_native_call();
    start(f.delta_name);
  }
  if (!call_active) start({});
  if (!f.call_id.empty() && call_id.empty()) call_id.assign(f.call_id);
  append_text(call_args, args_join, f.delta_args, f.spill.wobbly);
}

void StreamDecoder::Impl::flush_all_text() {
  end_thinking_segment();
  release_msg_hold();
  flush_buffer(msg, true);
  if (tools) tools->finish(*this);
  cite_flush();
  if (think_open) {
    append_run(EventType::content, "</think>");
    think_open = false;
  }
  flush_run();
}

void StreamDecoder::Impl::finalize() {
  if (done) return;
  flush_all_text();
  finish_native_call();
  for (const auto& c : glm_calls) emit_tool_call(c.id, c.name, c.arguments);
  glm_calls.clear();
  if (usage.present) sink->on_event(Event::usage_of(usage));
  sink->on_event(Event::finished(tool_calls > 0 ? FinishReason::tool_calls : FinishReason::stop));
  done = true;
}

void StreamDecoder::Impl::fail(ApiError e) {
  if (done) return;
  flush_all_text();
  error = std::move(e);
  sink->on_event(Event::failed(error));
  done = true;
}

void StreamDecoder::Impl::process(const Frame& f) {
  saw_frame = true;
  if (f.has_error || (!f.has_envelope && !f.top_detail.empty())) {
    const std::string code = f.err_code_is_num ? fmt::format("{}", f.err_code_num) : std::string(f.err_code_str);
    const std::string_view detail = f.has_error ? f.err_detail : f.top_detail;
    fail(classify_stream_error(detail, code, f.err_error_code, content_seen || reasoning_seen || tool_calls > 0));
    return;
  }
  if (f.has_usage) usage = f.usage;

  std::string_view phase = f.phase;
  if (phase.empty() && (f.has_delta || f.has_edit)) phase = "answer";  // seed-era frames
  const bool thinking = phase == "thinking";
  const bool tool_phase = phase == "tool_call" || phase == "tool_response";
  if (!thinking && phase != "other" && !phase.empty()) end_thinking_segment();
  if (tool_phase && reasoning_seen) reasoning_break = true;
  if (phase != "tool_call" && phase != "other" && !phase.empty()) finish_native_call();

  // An empty edit_content without an index (done frames carry one) changes nothing; an
  // indexed one truncates.
  const bool edit = f.has_edit && (f.has_index || !f.edit.empty());
  if (phase == "tool_call" && (f.has_name || f.has_args)) {
    on_native(f);
  } else if (thinking) {
    if (edit) {
      apply_edit(f.edit_index, f.edit, f.spill.wobbly);
      scan(msg, true);
    }
    if (f.has_delta && !f.delta.empty()) {
      release_msg_hold();
      append_text(think.text, think_join, f.delta, f.spill.wobbly);
      scan(think, false);
      // Keep the thinking buffer small: what was scanned is never looked at again (it has
      // no edits and no checkpoints), so only the held-back suffix stays.
      if (think.st.pos > 0) {
        think.text.erase(0, think.st.pos);
        think.st.pos = 0;
      }
    }
  } else if (phase == "answer" || phase == "tool_call" || phase == "other" || phase == "done") {
    if (edit) apply_edit(f.edit_index, f.edit, f.spill.wobbly);
    if (f.has_delta && !f.delta.empty()) {
      release_think_hold();
      append_text(msg.text, msg_join, f.delta, f.spill.wobbly);
    }
    if (edit || (f.has_delta && !f.delta.empty())) scan(msg, true);
  }
  // tool_response output and unknown phases (search, ...) stay hidden.

  if (f.done || phase == "done") finalize();
}


StreamDecoder::StreamDecoder(DecoderOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
StreamDecoder::~StreamDecoder() = default;

bool StreamDecoder::done() const { return impl_->done; }
const Usage& StreamDecoder::usage() const { return impl_->usage; }

bool StreamDecoder::Impl::attach(EventSink& s) {
  if (done) return false;
  sink = &s;
  if (!started) {
    started = true;
    s.on_event(Event::start({}, opts.model, 0));
  }
  return true;
}

void StreamDecoder::on_data(std::string_view data, std::string_view /*event_name*/, EventSink& sink) {
  Impl& d = *impl_;
  if (!d.attach(sink)) return;
  data = text::trim(data);
  if (data.empty() || data.front() != '{') {
    if (data == "[DONE]") d.finalize();
    return;  // keep-alives, non-JSON lines: tolerated, as the browser does
  }
  const simdjson::padded_string_view padded = json::pad(data, d.pad);
  d.spill.reset();
  od::document doc;
  if (json::thread_parser().iterate(padded).get(doc) != simdjson::SUCCESS) return;
  od::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return;
  Frame f;
  f.spill.buffers = &d.spill;
  if (parse_frame(root, f) != simdjson::SUCCESS) return;  // malformed: ignored like other noise
  d.process(f);
  if (!d.done) d.flush_run();
}

void StreamDecoder::on_end(EventSink& sink) {
  Impl& d = *impl_;
  if (!d.attach(sink)) return;
  ApiError e = bad_gateway(
      d.saw_frame ? "chat.z.ai closed the stream before the answer was finished (no done frame); the answer above "
                    "is incomplete. Retry the request."
                  : "chat.z.ai closed the stream without sending anything. Retry the request.",
      "upstream_incomplete");
  d.fail(std::move(e));
}

}  // namespace zgate::zaiweb
