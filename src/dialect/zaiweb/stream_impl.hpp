#pragma once
// Internal to the zai-web dialect: the state of one StreamDecoder, shared by its three parts:
// frame handling (stream.cpp), the incremental scanner of the two text buffers
// (stream_scan.cpp) and the output side: event runs, citations, tool calls (stream_output.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frame.hpp"
#include "markup.hpp"
#include "zgate/core/error.hpp"
#include "zgate/json/surrogates.hpp"
#include "zgate/model/events.hpp"
#include "zgate/dialect/zaiweb/stream.hpp"
#include "zgate/dialect/zaiweb/tools.hpp"

namespace zgate::zaiweb {
namespace detail {

constexpr std::string_view kDetailsClose = "</details>";
constexpr std::string_view kGlmClose = "</glm_block>";
constexpr std::string_view kSummaryOpen = "<summary>";
constexpr std::string_view kSummaryClose = "</summary>";
constexpr std::string_view kNewlines = "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n";

// Scanner state of one buffer; plain data so a copy is a checkpoint.
struct ScanState {
  enum class S : unsigned char { text, open_tag, d_line, d_body, summary, glm };
  S s = S::text;
  bool skip_nl = false;     // drop one '\n' next (after an opening tag, </summary>, </details>)
  bool nl_pending = false;  // details: a line break not emitted yet (dropped before </details>)
  uint32_t held_nl = 0;     // msg_ text: line breaks held back (dropped before a glm_block)
  std::size_t pos = 0;
  std::size_t region_start = 0;  // glm: offset of "<glm_block"
  std::size_t c_run = 0;    // content bytes produced by msg_ up to pos
  std::size_t r_run = 0;    // reasoning bytes produced by msg_ <details> blocks up to pos
};

struct Buffer {
  std::string text;
  ScanState st;
  std::vector<ScanState> checkpoints;  // msg_ only: states at region boundaries, ascending pos
};

struct GlmCall {
  std::string id, name, arguments;
};

}  // namespace detail

using namespace detail;

struct StreamDecoder::Impl final : ToolCallParser::Output {
  explicit Impl(DecoderOptions o) : opts(std::move(o)) {
    if (opts.tool_emulation) {
      tools.emplace(opts.trigger, opts.tool_names, opts.new_call_id);
    }
    msg.checkpoints.push_back(ScanState{});
  }

  DecoderOptions opts;
  std::string pad;  // padded copy of the payload, reused
  json::StringSpill spill;  // strings simdjson rejected, decoded (lone surrogates)
  Buffer msg, think;
  // A high surrogate ending the last piece of think_ / msg_ / the native call's arguments,
  // held until the next piece of that text shows whether its low half follows.
  json::SurrogateJoiner think_join, msg_join, args_join;
  std::size_t c_hw = 0, r_hw = 0;  // msg_ output already emitted (content / reasoning)
  std::size_t think_unmatched = 0; // thinking-delta reasoning not yet matched by a <details> in msg_
  std::optional<ToolCallParser> tools;
  std::string cite_hold;           // content held back: a possible citation marker
  std::string cite_work;
  std::string run;                 // the pending output event's text
  EventType run_type = EventType::content;
  bool think_open = false;         // think_tags: "<think>" emitted, not closed
  bool reasoning_seen = false;
  bool reasoning_break = false;    // a tool step separated two thinking segments
  bool content_seen = false;
  // Modern native tool call being assembled (delta_name / delta_arguments frames).
  bool call_active = false;
  std::string call_id, call_name, call_args;
  std::vector<GlmCall> glm_calls;
  std::string glm_pad;
  int next_index = 0;
  int tool_calls = 0;
  Usage usage;
  ApiError error;
  EventSink* sink = nullptr;
  bool started = false;
  bool saw_frame = false;
  bool done = false;

  // ---- output ------------------------------------------------------------------------------
  void flush_run();
  void append_run(EventType t, std::string_view s);
  void out_content_final(std::string_view s);
  void out_reasoning_final(std::string_view s);
  void out_reasoning_final_raw(std::string_view s);
  void emit_tool_call(std::string_view id, std::string_view name, std::string_view args);

  // ToolCallParser::Output
  void text(std::string_view t) override { cite_feed(t); }
  void call(std::string_view id, std::string_view name, std::string_view args) override;

  // Content after the tool parser: citation markers (【turn0search3】) are removed.
  void cite_feed(std::string_view t);
  void cite_flush();

  // Content produced by the msg_ scanner (after rescan suppression).
  void content_pipeline(std::string_view s);

  // ---- scanner outputs ---------------------------------------------------------------------
  // msg_ content: only the part beyond what an earlier scan already emitted.
  void msg_content(ScanState& st, std::string_view v);
  // msg_ <details> reasoning: beyond what was emitted, and beyond what thinking deltas sent.
  void msg_reasoning(ScanState& st, std::string_view v);
  void think_reasoning(std::string_view v);
  void out_text(Buffer& b, bool is_msg, std::string_view v);
  void out_reason(Buffer& b, bool is_msg, std::string_view v);
  void release_held_nl(Buffer& b);
  void flush_nl_pending(Buffer& b, bool is_msg);
  void checkpoint(Buffer& b, const ScanState& st);

  void on_glm_block(std::string_view block);

  bool declared(std::string_view name) const;

  // Scans b from its position as far as the text allows.
  void scan(Buffer& b, bool is_msg);

  void close_details(Buffer& b, bool is_msg);

  // End of a buffer's text: a tag fragment in plain text is text after all; fragments inside
  // details / glm blocks are dropped.
  void flush_buffer(Buffer& b, bool is_msg);

  void end_thinking_segment();

  // ---- message edits -----------------------------------------------------------------------
  // Byte offset of code point `cp` in msg_ (clamped to the end).
  std::size_t byte_offset(int64_t cp) const;

  void apply_edit(int64_t index, std::string_view text, bool wobbly);

  // ---- lone surrogates (json/surrogates.hpp) -------------------------------------------------
  // Appends one piece of streamed text; only a piece with lone surrogates, or one following a
  // held high surrogate, goes through the joiner.
  static void append_text(std::string& out, json::SurrogateJoiner& j, std::string_view piece, bool wobbly);
  // A held surrogate whose text goes no further becomes U+FFFD, scanned like the text before it.
  void release_think_hold();
  void release_msg_hold();

  // ---- native tool frames --------------------------------------------------------------------
  void finish_native_call();

  void on_native(const Frame& f);

  // ---- frame handling ----------------------------------------------------------------------
  void flush_all_text();

  void finalize();

  void fail(ApiError e);

  void process(const Frame& f);

  // Takes `s` as the sink of this call, sending the start event first on the first call. False
  // once the answer is done (nothing more is sent).
  bool attach(EventSink& s);
};

}  // namespace zgate::zaiweb
