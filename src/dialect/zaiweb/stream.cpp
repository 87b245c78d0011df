// zai-web stream decoding (spec zai-web.md §7, §8).
//
// Two text buffers are scanned incrementally with the same little state machine:
//  - think_: `thinking` deltas. Plain text is reasoning; a `<details>` wrapper is unwrapped.
//  - msg_:   everything else, under the truncate-at-index model of §7.5 (delta appends, edit
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
#include "zgate/front/openai/encoder.hpp"
#include "zgate/dialect/zaiweb/stream.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include <fmt/format.h>
#include <simdjson.h>

#include "zgate/json/read.hpp"
#include "zgate/json/surrogates.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"
#include "zgate/dialect/zaiweb/tools.hpp"

namespace zgate::zaiweb {

ThinkingMode parse_thinking_mode(std::string_view s) {
  if (s == "think_tags" || s == "think-tags" || s == "tags") return ThinkingMode::think_tags;
  if (s == "strip" || s == "none" || s == "drop") return ThinkingMode::strip;
  return ThinkingMode::reasoning;
}

namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kDetailsClose = "</details>";
constexpr std::string_view kGlmClose = "</glm_block>";
constexpr std::string_view kSummaryOpen = "<summary>";
constexpr std::string_view kSummaryClose = "</summary>";
constexpr std::string_view kNewlines = "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n";

bool is_cont(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// 1 = v starts with pattern, 0 = v is a proper prefix of it, -1 = neither.
int prefix_state(std::string_view v, std::string_view pattern) {
  const std::size_t n = std::min(v.size(), pattern.size());
  if (v.substr(0, n) != pattern.substr(0, n)) return -1;
  return v.size() >= pattern.size() ? 1 : 0;
}

// An opening tag `<name` followed by a blank, '>' or '/': 1 / 0 (undecided) / -1.
int tag_state(std::string_view v, std::string_view name) {
  const int st = prefix_state(v, name);
  if (st <= 0) return st;
  if (v.size() == name.size()) return 0;
  const char c = v[name.size()];
  return c == ' ' || c == '>' || c == '/' || c == '\n' || c == '\t' ? 1 : -1;
}

// `【turn0search3】`-style citation marker at the start of s (s starts with "【"):
// length when complete, 0 when s may still become one, -1 when it is not one.
long citation_state(std::string_view s) {
  constexpr std::string_view kOpen = "\xE3\x80\x90";   // 【
  constexpr std::string_view kClose = "\xE3\x80\x91";  // 】
  constexpr std::string_view kTurn = "turn";
  std::size_t i = kOpen.size();
  for (std::size_t k = 0; k < kTurn.size(); ++k, ++i) {
    if (i >= s.size()) return 0;
    if (s[i] != kTurn[k]) return -1;
  }
  // digits+ letters+ digits+
  for (int group = 0; group < 3; ++group) {
    const std::size_t start = i;
    while (i < s.size() && (group == 1 ? (s[i] >= 'a' && s[i] <= 'z') : (s[i] >= '0' && s[i] <= '9'))) {
      ++i;
      if (i > 48) return -1;
    }
    if (i >= s.size()) return 0;
    if (i == start) return -1;
  }
  const int st = prefix_state(s.substr(i), kClose);
  if (st < 0) return -1;
  if (st == 0) return 0;
  return static_cast<long>(i + kClose.size());
}

// Nested JSON (glm_block bodies) is parsed with a parser of its own: the frame's strings still
// live in the thread parser's buffers while the frame is being processed.
simdjson::dom::parser& block_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// The fields of one frame, as views into the thread parser's string buffer.
struct Frame {
  std::string_view phase, delta, edit, delta_name, delta_args, call_id;
  int64_t edit_index = 0;
  bool has_phase = false, has_delta = false, has_edit = false, has_index = false, has_name = false,
       has_args = false;
  bool done = false;
  bool has_usage = false;
  Usage usage;
  bool has_error = false;
  std::string_view err_detail, err_code_str, err_error_code;
  int64_t err_code_num = 0;
  bool err_code_is_num = false;
  std::string_view top_detail;  // FastAPI-style {"detail": "..."} without an envelope
  bool has_envelope = false;    // a `data` object or a `phase`
  // Where strings simdjson rejected are decoded (lone surrogate escapes), and whether any was.
  json::StringSpill* spill = nullptr;
  bool wobbly = false;
};

// `delta`: streamed text whose lone surrogates are kept for the decoder's SurrogateJoiners;
// elsewhere they become U+FFFD.
simdjson::error_code get_sv(od::value v, std::string_view& out, bool& present, Frame& f, bool delta = false) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t != od::json_type::string) return simdjson::SUCCESS;  // null / other: absent
  if (auto e = json::get_string_lenient(v, out, *f.spill, delta, f.wobbly)) return e;
  present = true;
  return simdjson::SUCCESS;
}

simdjson::error_code get_i64(od::value v, int64_t& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t != od::json_type::number) return simdjson::SUCCESS;
  double d;
  if (v.get_int64().get(out) == simdjson::SUCCESS) return simdjson::SUCCESS;
  if (auto e = v.get_double().get(d)) return e;
  out = json::saturate_to_int64(d);
  return simdjson::SUCCESS;
}

simdjson::error_code parse_usage(od::value v, Usage& u) {
  od::object obj;
  if (auto e = v.get_object().get(obj)) return e;
  u = Usage{};
  u.present = true;
  for (auto field : obj) {
    std::string_view k;
    if (auto e = field.unescaped_key().get(k)) return e;
    od::value fv = field.value();
    if (k == "prompt_tokens") { if (auto e = get_i64(fv, u.prompt_tokens)) return e; }
    else if (k == "completion_tokens") { if (auto e = get_i64(fv, u.completion_tokens)) return e; }
    else if (k == "total_tokens") { if (auto e = get_i64(fv, u.total_tokens)) return e; }
    else if (k == "prompt_tokens_details" || k == "completion_tokens_details") {
      od::json_type t;
      if (auto e = fv.type().get(t)) return e;
      if (t != od::json_type::object) continue;
      const bool prompt = k == "prompt_tokens_details";
      for (auto inner : fv.get_object()) {
        std::string_view ik;
        if (auto e = inner.unescaped_key().get(ik)) return e;
        if (prompt && ik == "cached_tokens") { if (auto e = get_i64(inner.value(), u.cached_tokens)) return e; }
        if (!prompt && ik == "reasoning_tokens") { if (auto e = get_i64(inner.value(), u.reasoning_tokens)) return e; }
      }
    }
  }
  if (u.total_tokens == 0) u.total_tokens = u.prompt_tokens + u.completion_tokens;
  return simdjson::SUCCESS;
}

simdjson::error_code parse_error(od::value v, Frame& f) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t == od::json_type::null) return simdjson::SUCCESS;
  if (t == od::json_type::string) {
    if (f.has_error) return simdjson::SUCCESS;
    f.has_error = true;
    return json::get_string_lenient(v, f.err_detail, *f.spill, false, f.wobbly);
  }
  if (t == od::json_type::boolean) {  // "error": false
    bool b = false;
    if (auto e = v.get_bool().get(b)) return e;
    if (b && !f.has_error) f.has_error = true;
    return simdjson::SUCCESS;
  }
  if (t != od::json_type::object) return simdjson::SUCCESS;
  const bool first = !f.has_error;
  f.has_error = true;
  for (auto field : v.get_object()) {
    std::string_view k;
    if (auto e = field.unescaped_key().get(k)) return e;
    if (!first) continue;  // data.error and data.data.error carry the same error: keep the first
    od::value fv = field.value();
    bool present = false;
    if (k == "detail" || ((k == "message" || k == "msg") && f.err_detail.empty())) {
      if (auto e = get_sv(fv, f.err_detail, present, f)) return e;
    } else if (k == "code") {
      od::json_type ct;
      if (auto e = fv.type().get(ct)) return e;
      if (ct == od::json_type::number) {
        if (auto e = get_i64(fv, f.err_code_num)) return e;
        f.err_code_is_num = true;
      } else if (auto e = get_sv(fv, f.err_code_str, present, f)) {
        return e;
      }
    } else if (k == "error_code") {
      if (auto e = get_sv(fv, f.err_error_code, present, f)) return e;
    }
  }
  return simdjson::SUCCESS;
}

// One object level: the envelope, `data`, or the nested error copy `data.data`.
simdjson::error_code parse_level(od::object obj, Frame& f, int depth) {
  for (auto field : obj) {
    std::string_view k;
    if (auto e = field.unescaped_key().get(k)) return e;
    od::value v = field.value();
    if (k == "data") {
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      if (t == od::json_type::object && depth < 2) {
        f.has_envelope = true;
        od::object inner;
        if (auto e = v.get_object().get(inner)) return e;
        if (auto e = parse_level(inner, f, depth + 1)) return e;
      }
    } else if (k == "phase") {
      if (auto e = get_sv(v, f.phase, f.has_phase, f)) return e;
      if (f.has_phase) f.has_envelope = true;
    } else if (k == "delta_content") {
      if (auto e = get_sv(v, f.delta, f.has_delta, f, true)) return e;
    } else if (k == "edit_content") {
      if (auto e = get_sv(v, f.edit, f.has_edit, f, true)) return e;
    } else if (k == "edit_index") {
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      if (t == od::json_type::number) {
        if (auto e = get_i64(v, f.edit_index)) return e;
        f.has_index = true;
      }
    } else if (k == "done") {
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      bool b = false;
      if (t == od::json_type::boolean) {
        if (auto e = v.get_bool().get(b)) return e;
      }
      f.done = f.done || b;
    } else if (k == "usage") {
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      if (t == od::json_type::object) {
        if (auto e = parse_usage(v, f.usage)) return e;
        f.has_usage = true;
      }
    } else if (k == "error") {
      if (auto e = parse_error(v, f)) return e;
    } else if (k == "delta_name") {
      if (auto e = get_sv(v, f.delta_name, f.has_name, f)) return e;
    } else if (k == "delta_arguments") {
      if (auto e = get_sv(v, f.delta_args, f.has_args, f, true)) return e;
    } else if (k == "metadata") {
      od::json_type t;
      if (auto e = v.type().get(t)) return e;
      if (t != od::json_type::object) continue;
      for (auto inner : v.get_object()) {
        std::string_view ik;
        if (auto e = inner.unescaped_key().get(ik)) return e;
        bool present = false;
        if (ik == "tool_call_id") {
          if (auto e = get_sv(inner.value(), f.call_id, present, f)) return e;
        }
      }
    } else if (k == "detail" && depth == 0) {
      bool present = false;
      if (auto e = get_sv(v, f.top_detail, present, f)) return e;
    }
  }
  return simdjson::SUCCESS;
}

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

}  // namespace

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
  // Modern native tool call being assembled (§7.9).
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
  void flush_run() {
    if (run.empty()) return;
    sink->on_event(run_type == EventType::reasoning ? Event::reasoning(run) : Event::content(run));
    run.clear();
  }
  void append_run(EventType t, std::string_view s) {
    if (s.empty()) return;
    if (run_type != t) {
      flush_run();
      run_type = t;
    }
    run.append(s);
  }
  void out_content_final(std::string_view s) {
    if (s.empty()) return;
    if (think_open) {
      append_run(EventType::content, "</think>");
      think_open = false;
    }
    content_seen = true;
    append_run(EventType::content, s);
  }
  void out_reasoning_final(std::string_view s) {
    if (s.empty()) return;
    if (reasoning_break && reasoning_seen) {
      reasoning_break = false;
      out_reasoning_final_raw("\n\n");
    }
    reasoning_break = false;
    out_reasoning_final_raw(s);
  }
  void out_reasoning_final_raw(std::string_view s) {
    reasoning_seen = true;
    switch (opts.thinking) {
      case ThinkingMode::reasoning: append_run(EventType::reasoning, s); break;
      case ThinkingMode::think_tags:
        if (!think_open) {
          append_run(EventType::content, "<think>");
          think_open = true;
        }
        append_run(EventType::content, s);
        break;
      case ThinkingMode::strip: break;
    }
  }
  void emit_tool_call(std::string_view id, std::string_view name, std::string_view args) {
    flush_run();
    std::string generated;
    if (id.empty()) {
      generated = opts.new_call_id ? opts.new_call_id() : openai::new_call_id();
      id = generated;
    }
    sink->on_event(Event::tool_call(next_index++, id, name, args));
    ++tool_calls;
  }

  // ToolCallParser::Output
  void text(std::string_view t) override { cite_feed(t); }
  void call(std::string_view id, std::string_view name, std::string_view args) override {
    emit_tool_call(id, name, args);
  }

  // Content after the tool parser: citation markers are removed (§7.10).
  void cite_feed(std::string_view t) {
    if (t.empty()) return;
    std::string_view data = t;
    if (!cite_hold.empty()) {
      cite_work.assign(cite_hold);
      cite_work.append(t);
      cite_hold.clear();
      data = cite_work;
    }
    std::size_t emitted = 0, i = 0;
    while ((i = data.find("\xE3\x80\x90", i)) != std::string_view::npos) {
      const long st = citation_state(data.substr(i));
      if (st < 0) { i += 3; continue; }
      out_content_final(data.substr(emitted, i - emitted));
      if (st == 0) {
        cite_hold.assign(data.substr(i));
        return;
      }
      i += static_cast<std::size_t>(st);
      emitted = i;
    }
    out_content_final(data.substr(emitted));
  }
  void cite_flush() {
    if (cite_hold.empty()) return;
    std::string h;
    h.swap(cite_hold);
    out_content_final(h);
  }

  // Content produced by the msg_ scanner (after rescan suppression).
  void content_pipeline(std::string_view s) {
    if (s.empty()) return;
    if (tools) tools->feed(s, *this); else cite_feed(s);
  }

  // ---- scanner outputs ---------------------------------------------------------------------
  // msg_ content: only the part beyond what an earlier scan already emitted.
  void msg_content(ScanState& st, std::string_view v) {
    const std::size_t start = st.c_run;
    st.c_run += v.size();
    if (st.c_run <= c_hw) return;
    std::size_t skip = c_hw > start ? c_hw - start : 0;
    while (skip < v.size() && is_cont(v[skip])) ++skip;
    c_hw = st.c_run;
    content_pipeline(v.substr(skip));
  }
  // msg_ <details> reasoning: beyond what was emitted, and beyond what thinking deltas sent.
  void msg_reasoning(ScanState& st, std::string_view v) {
    const std::size_t start = st.r_run;
    st.r_run += v.size();
    if (st.r_run <= r_hw) return;
    std::size_t skip = r_hw > start ? r_hw - start : 0;
    r_hw = st.r_run;
    const std::size_t m = std::min(think_unmatched, v.size() - skip);
    think_unmatched -= m;
    skip += m;
    while (skip < v.size() && is_cont(v[skip])) ++skip;
    out_reasoning_final(v.substr(skip));
  }
  void think_reasoning(std::string_view v) {
    if (v.empty()) return;
    think_unmatched += v.size();
    out_reasoning_final(v);
  }
  void out_text(Buffer& b, bool is_msg, std::string_view v) {
    if (is_msg) msg_content(b.st, v); else think_reasoning(v);
  }
  void out_reason(Buffer& b, bool is_msg, std::string_view v) {
    if (is_msg) msg_reasoning(b.st, v); else think_reasoning(v);
  }
  void release_held_nl(Buffer& b) {
    while (b.st.held_nl > 0) {
      const uint32_t n = std::min<uint32_t>(b.st.held_nl, static_cast<uint32_t>(kNewlines.size()));
      b.st.held_nl -= n;
      msg_content(b.st, kNewlines.substr(0, n));
    }
  }
  void flush_nl_pending(Buffer& b, bool is_msg) {
    if (!b.st.nl_pending) return;
    b.st.nl_pending = false;
    out_reason(b, is_msg, "\n");
  }
  void checkpoint(Buffer& b, const ScanState& st) {
    if (!b.checkpoints.empty() && b.checkpoints.back().pos >= st.pos) return;
    b.checkpoints.push_back(st);
  }

  void on_glm_block(std::string_view block) {
    const std::size_t gt = block.find('>');
    if (gt == std::string_view::npos || block.size() < gt + 1 + kGlmClose.size()) return;
    const std::string_view body = block.substr(gt + 1, block.size() - gt - 1 - kGlmClose.size());
    const simdjson::padded_string_view padded = json::pad(body, glm_pad);
    simdjson::dom::element root;
    if (block_parser().parse(padded.data(), padded.size(), false).get(root) != simdjson::SUCCESS) return;
    simdjson::dom::element meta;
    if (root.at_pointer("/data/metadata").get(meta) != simdjson::SUCCESS) return;
    std::string_view id, name, args;
    if (meta["id"].get_string().get(id) != simdjson::SUCCESS) id = {};
    if (meta["name"].get_string().get(name) != simdjson::SUCCESS) return;
    if (meta["arguments"].get_string().get(args) != simdjson::SUCCESS) {
      simdjson::dom::element a;
      if (meta["arguments"].get(a) == simdjson::SUCCESS && a.is_object()) {
        glm_pad = simdjson::minify(a);  // padded copy no longer needed
        args = glm_pad;
      }
    }
    if (!declared(name)) return;  // a server-side tool (search, ...): hidden
    // The block may be rewritten later (the `null,` edit): keep one entry per call id.
    for (auto& c : glm_calls) {
      if (!id.empty() ? c.id == id : c.name == name) {
        c.arguments.assign(args);
        return;
      }
    }
    glm_calls.push_back(GlmCall{std::string(id), std::string(name), std::string(args)});
  }

  bool declared(std::string_view name) const {
    return std::find(opts.tool_names.begin(), opts.tool_names.end(), name) != opts.tool_names.end();
  }

  // Scans b from its position as far as the text allows.
  void scan(Buffer& b, bool is_msg) {
    using S = ScanState::S;
    ScanState& st = b.st;
    const std::string& t = b.text;
    while (st.pos < t.size()) {
      switch (st.s) {
        case S::text: {
          if (st.skip_nl) {
            st.skip_nl = false;
            if (t[st.pos] == '\n') { ++st.pos; continue; }
          }
          std::size_t j = st.pos;
          while (j < t.size() && t[j] != '<' && !(is_msg && t[j] == '\n')) ++j;
          if (j > st.pos) {
            if (is_msg) release_held_nl(b);
            out_text(b, is_msg, std::string_view(t).substr(st.pos, j - st.pos));
            st.pos = j;
            continue;
          }
          if (t[st.pos] == '\n') {  // msg_ only: hold line breaks until we see what follows
            ++st.held_nl;
            ++st.pos;
            continue;
          }
          const std::string_view v = std::string_view(t).substr(st.pos);
          const int d = tag_state(v, "<details");
          const int g = is_msg ? tag_state(v, "<glm_block") : -1;
          const int c = prefix_state(v, kDetailsClose);
          if (d == 0 || g == 0 || c == 0) return;  // hold: may become a tag
          if (d == 1) {
            if (is_msg) checkpoint(b, st);
            st.s = S::open_tag;
            st.pos += 8;
            continue;
          }
          if (g == 1) {
            checkpoint(b, st);
            st.held_nl = 0;  // the spacing before a hidden block is part of it
            st.region_start = st.pos;
            st.s = S::glm;
            st.pos += 10;
            continue;
          }
          if (c == 1) {  // a stray closing tag (thinking residue): never shown
            st.pos += kDetailsClose.size();
            st.skip_nl = true;
            continue;
          }
          if (is_msg) release_held_nl(b);
          out_text(b, is_msg, v.substr(0, 1));
          ++st.pos;
          continue;
        }
        case S::open_tag: {
          const std::size_t gt = t.find('>', st.pos);
          if (gt == std::string::npos) { st.pos = t.size(); return; }
          st.pos = gt + 1;
          st.s = S::d_line;
          st.skip_nl = true;
          st.nl_pending = false;
          continue;
        }
        case S::d_line: {
          if (st.skip_nl) {
            st.skip_nl = false;
            if (t[st.pos] == '\n') { ++st.pos; continue; }
          }
          const std::string_view v = std::string_view(t).substr(st.pos);
          if (v[0] == '>') {
            if (v.size() < 2) return;  // "> " or ">\n"?
            st.pos += v[1] == ' ' ? 2 : 1;
            st.s = S::d_body;
            continue;
          }
          if (v[0] == '<') {
            const int c = prefix_state(v, kDetailsClose);
            const int sm = prefix_state(v, kSummaryOpen);
            if (c == 0 || sm == 0) return;
            if (c == 1) { close_details(b, is_msg); continue; }
            if (sm == 1) {
              st.pos += kSummaryOpen.size();
              st.s = S::summary;
              continue;
            }
          }
          st.s = S::d_body;
          continue;
        }
        case S::summary: {
          const std::size_t e = t.find(kSummaryClose, st.pos);
          if (e == std::string::npos) {
            if (t.size() > st.pos + kSummaryClose.size()) st.pos = t.size() - kSummaryClose.size();
            return;
          }
          st.pos = e + kSummaryClose.size();
          st.s = S::d_line;
          st.skip_nl = true;
          continue;
        }
        case S::d_body: {
          std::size_t j = st.pos;
          while (j < t.size() && t[j] != '\n' && t[j] != '<') ++j;
          if (j > st.pos) {
            flush_nl_pending(b, is_msg);
            out_reason(b, is_msg, std::string_view(t).substr(st.pos, j - st.pos));
            st.pos = j;
            continue;
          }
          if (t[st.pos] == '\n') {
            flush_nl_pending(b, is_msg);
            st.nl_pending = true;
            ++st.pos;
            st.s = S::d_line;
            continue;
          }
          const int c = prefix_state(std::string_view(t).substr(st.pos), kDetailsClose);
          if (c == 0) return;
          if (c == 1) { close_details(b, is_msg); continue; }
          flush_nl_pending(b, is_msg);
          out_reason(b, is_msg, "<");
          ++st.pos;
          continue;
        }
        case S::glm: {
          const std::size_t e = t.find(kGlmClose, st.pos);
          if (e == std::string::npos) {
            if (t.size() > st.pos + kGlmClose.size()) st.pos = t.size() - kGlmClose.size();
            return;
          }
          on_glm_block(std::string_view(t).substr(st.region_start, e + kGlmClose.size() - st.region_start));
          st.pos = e + kGlmClose.size();
          st.s = S::text;
          checkpoint(b, st);
          continue;
        }
      }
    }
  }

  void close_details(Buffer& b, bool is_msg) {
    ScanState& st = b.st;
    st.pos += kDetailsClose.size();
    st.nl_pending = false;  // the line break before </details> is not part of the reasoning
    st.s = ScanState::S::text;
    st.skip_nl = true;
    if (is_msg) {
      think_unmatched = 0;  // this block accounted for the thinking streamed so far
      checkpoint(b, st);
    }
  }

  // End of a buffer's text: a tag fragment in plain text is text after all; fragments inside
  // details / glm blocks are dropped.
  void flush_buffer(Buffer& b, bool is_msg) {
    ScanState& st = b.st;
    if (st.s == ScanState::S::text) {
      if (st.pos < b.text.size()) {
        if (is_msg) release_held_nl(b);
        out_text(b, is_msg, std::string_view(b.text).substr(st.pos));
        st.pos = b.text.size();
      }
      if (is_msg) release_held_nl(b);
    }
  }

  void end_thinking_segment() {
    release_think_hold();
    if (think.text.empty() && think.st.s == ScanState::S::text) return;
    flush_buffer(think, false);
    think.text.clear();
    think.st = ScanState{};
  }

  // ---- message edits -----------------------------------------------------------------------
  // Byte offset of code point `cp` in msg_ (clamped to the end).
  std::size_t byte_offset(int64_t cp) const {
    if (cp <= 0) return 0;
    const std::string& t = msg.text;
    int64_t n = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (!is_cont(t[i])) {
        if (n == cp) return i;
        ++n;
      }
    }
    return t.size();
  }

  void apply_edit(int64_t index, std::string_view text, bool wobbly) {
    // A held half pair counts as one character of the text being edited.
    msg_join.flush(msg.text);
    const std::size_t b = byte_offset(index);
    if (b < msg.st.pos) {
      // Rewrites scanned text: resume from the last region boundary at or before the edit.
      while (msg.checkpoints.size() > 1 && msg.checkpoints.back().pos > b) msg.checkpoints.pop_back();
      msg.st = msg.checkpoints.back();
    }
    msg.text.resize(b);
    append_text(msg.text, msg_join, text, wobbly);
  }

  // ---- lone surrogates (json/surrogates.hpp) -------------------------------------------------
  // Appends one piece of streamed text; only a piece with lone surrogates, or one following a
  // held high surrogate, goes through the joiner.
  static void append_text(std::string& out, json::SurrogateJoiner& j, std::string_view piece, bool wobbly) {
    if (!wobbly && !j.holding()) {
      out.append(piece);
    } else {
      j.feed(piece, out);
    }
  }
  // A held surrogate whose text goes no further becomes U+FFFD, scanned like the text before it.
  void release_think_hold() {
    if (!think_join.holding()) return;
    think_join.flush(think.text);
    scan(think, false);
  }
  void release_msg_hold() {
    if (!msg_join.holding()) return;
    msg_join.flush(msg.text);
    scan(msg, true);
  }

  // ---- native tool frames --------------------------------------------------------------------
  void finish_native_call() {
    if (!call_active) return;
    call_active = false;
    args_join.flush(call_args);
    if (declared(call_name)) emit_tool_call(call_id, call_name, call_args);
  }

  void on_native(const Frame& f) {
    if (f.has_name && !f.delta_name.empty()) {
      finish_native_call();
      call_active = true;
      call_name.assign(f.delta_name);
      call_id.clear();
      call_args.clear();
      args_join.reset();
    }
    if (!call_active) {
      call_active = true;
      call_name.clear();
      call_id.clear();
      call_args.clear();
      args_join.reset();
    }
    if (!f.call_id.empty() && call_id.empty()) call_id.assign(f.call_id);
    append_text(call_args, args_join, f.delta_args, f.wobbly);
  }

  // ---- frame handling ----------------------------------------------------------------------
  void flush_all_text() {
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

  void finalize() {
    if (done) return;
    flush_all_text();
    finish_native_call();
    for (const auto& c : glm_calls) emit_tool_call(c.id, c.name, c.arguments);
    glm_calls.clear();
    if (usage.present) sink->on_event(Event::usage_of(usage));
    sink->on_event(Event::finished(tool_calls > 0 ? FinishReason::tool_calls : FinishReason::stop));
    done = true;
  }

  void fail(ApiError e) {
    if (done) return;
    flush_all_text();
    error = std::move(e);
    sink->on_event(Event::failed(error));
    done = true;
  }

  void process(const Frame& f) {
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
        apply_edit(f.edit_index, f.edit, f.wobbly);
        scan(msg, true);
      }
      if (f.has_delta && !f.delta.empty()) {
        release_msg_hold();
        append_text(think.text, think_join, f.delta, f.wobbly);
        scan(think, false);
        // Keep the thinking buffer small: what was scanned is never looked at again (it has
        // no edits and no checkpoints), so only the held-back suffix stays.
        if (think.st.pos > 0) {
          think.text.erase(0, think.st.pos);
          think.st.pos = 0;
        }
      }
    } else if (phase == "answer" || phase == "tool_call" || phase == "other" || phase == "done") {
      if (edit) apply_edit(f.edit_index, f.edit, f.wobbly);
      if (f.has_delta && !f.delta.empty()) {
        release_think_hold();
        append_text(msg.text, msg_join, f.delta, f.wobbly);
      }
      if (edit || (f.has_delta && !f.delta.empty())) scan(msg, true);
    }
    // tool_response output and unknown phases (search, ...) stay hidden.

    if (f.done || phase == "done") finalize();
  }
};

StreamDecoder::StreamDecoder(DecoderOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
StreamDecoder::~StreamDecoder() = default;

bool StreamDecoder::done() const { return impl_->done; }
const Usage& StreamDecoder::usage() const { return impl_->usage; }

void StreamDecoder::on_data(std::string_view data, std::string_view /*event_name*/, EventSink& sink) {
  Impl& d = *impl_;
  if (d.done) return;
  d.sink = &sink;
  if (!d.started) {
    d.started = true;
    sink.on_event(Event::start({}, d.opts.model, 0));
  }
  while (!data.empty() && (data.front() == ' ' || data.front() == '\t' || data.front() == '\r' || data.front() == '\n')) {
    data.remove_prefix(1);
  }
  while (!data.empty() && (data.back() == ' ' || data.back() == '\t' || data.back() == '\r' || data.back() == '\n')) {
    data.remove_suffix(1);
  }
  if (data.empty() || data.front() != '{') {
    if (data == "[DONE]") d.finalize();
    return;  // keep-alives, non-JSON lines: tolerated (§7.1)
  }
  const simdjson::padded_string_view padded = json::pad(data, d.pad);
  d.spill.reset();
  od::document doc;
  if (json::thread_parser().iterate(padded).get(doc) != simdjson::SUCCESS) return;
  od::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return;
  Frame f;
  f.spill = &d.spill;
  if (parse_level(root, f, 0) != simdjson::SUCCESS) return;  // malformed: ignored like other noise
  d.process(f);
  if (!d.done) d.flush_run();
}

void StreamDecoder::on_end(EventSink& sink) {
  Impl& d = *impl_;
  if (d.done) return;
  d.sink = &sink;
  if (!d.started) {
    d.started = true;
    sink.on_event(Event::start({}, d.opts.model, 0));
  }
  ApiError e = bad_gateway(
      d.saw_frame ? "chat.z.ai closed the stream before the answer was finished (no done frame); the answer above "
                    "is incomplete. Retry the request."
                  : "chat.z.ai closed the stream without sending anything. Retry the request.",
      "upstream_incomplete");
  d.fail(std::move(e));
}

}  // namespace zgate::zaiweb
