// zai-web stream scanner: the two text buffers (thinking deltas, the message) scanned for
// <details> / <summary> / <glm_block> markup as text arrives, and edits that rewrite the message.
#include <algorithm>

#include "stream_impl.hpp"

namespace zgate::zaiweb {
namespace {

// The closing tag of a region being skipped (<summary>, <glm_block>): its position, or npos
// with the scan moved up to where a split closing tag could start (only that suffix is kept
// unscanned).
std::size_t find_close(const std::string& t, ScanState& st, std::string_view close) {
  const std::size_t e = t.find(close, st.pos);
  if (e == std::string::npos && t.size() > st.pos + close.size()) st.pos = t.size() - close.size();
  return e;
}

}  // namespace

// msg_ content: only the part beyond what an earlier scan already emitted.
void StreamDecoder::Impl::msg_content(ScanState& st, std::string_view v) {
  const std::size_t start = st.c_run;
  st.c_run += v.size();
  if (st.c_run <= c_hw) return;
  std::size_t skip = c_hw > start ? c_hw - start : 0;
  while (skip < v.size() && is_cont(v[skip])) ++skip;
  c_hw = st.c_run;
  content_pipeline(v.substr(skip));
}

// msg_ <details> reasoning: beyond what was emitted, and beyond what thinking deltas sent.
void StreamDecoder::Impl::msg_reasoning(ScanState& st, std::string_view v) {
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

void StreamDecoder::Impl::think_reasoning(std::string_view v) {
  if (v.empty()) return;
  think_unmatched += v.size();
  out_reasoning_final(v);
}

void StreamDecoder::Impl::out_text(Buffer& b, bool is_msg, std::string_view v) {
  if (is_msg) msg_content(b.st, v); else think_reasoning(v);
}

void StreamDecoder::Impl::out_reason(Buffer& b, bool is_msg, std::string_view v) {
  if (is_msg) msg_reasoning(b.st, v); else think_reasoning(v);
}

void StreamDecoder::Impl::release_held_nl(Buffer& b) {
  while (b.st.held_nl > 0) {
    const uint32_t n = std::min<uint32_t>(b.st.held_nl, static_cast<uint32_t>(kNewlines.size()));
    b.st.held_nl -= n;
    msg_content(b.st, kNewlines.substr(0, n));
  }
}

void StreamDecoder::Impl::flush_nl_pending(Buffer& b, bool is_msg) {
  if (!b.st.nl_pending) return;
  b.st.nl_pending = false;
  out_reason(b, is_msg, "\n");
}

void StreamDecoder::Impl::checkpoint(Buffer& b, const ScanState& st) {
  if (!b.checkpoints.empty() && b.checkpoints.back().pos >= st.pos) return;
  b.checkpoints.push_back(st);
}

// Scans b from its position as far as the text allows.
void StreamDecoder::Impl::scan(Buffer& b, bool is_msg) {
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
        const std::size_t e = find_close(t, st, kSummaryClose);
        if (e == std::string::npos) return;
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
        const std::size_t e = find_close(t, st, kGlmClose);
        if (e == std::string::npos) return;
        on_glm_block(std::string_view(t).substr(st.region_start, e + kGlmClose.size() - st.region_start));
        st.pos = e + kGlmClose.size();
        st.s = S::text;
        checkpoint(b, st);
        continue;
      }
    }
  }
}

void StreamDecoder::Impl::close_details(Buffer& b, bool is_msg) {
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
void StreamDecoder::Impl::flush_buffer(Buffer& b, bool is_msg) {
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

void StreamDecoder::Impl::end_thinking_segment() {
  release_think_hold();
  if (think.text.empty() && think.st.s == ScanState::S::text) return;
  flush_buffer(think, false);
  think.text.clear();
  think.st = ScanState{};
}

// Byte offset of code point `cp` in msg_ (clamped to the end).
std::size_t StreamDecoder::Impl::byte_offset(int64_t cp) const {
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

void StreamDecoder::Impl::apply_edit(int64_t index, std::string_view text, bool wobbly) {
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

// Appends one piece of streamed text; only a piece with lone surrogates, or one following a
// held high surrogate, goes through the joiner.
void StreamDecoder::Impl::append_text(std::string& out, json::SurrogateJoiner& j, std::string_view piece, bool wobbly) {
  if (!wobbly && !j.holding()) {
    out.append(piece);
  } else {
    j.feed(piece, out);
  }
}

// A held surrogate whose text goes no further becomes U+FFFD, scanned like the text before it.
void StreamDecoder::Impl::release_think_hold() {
  if (!think_join.holding()) return;
  think_join.flush(think.text);
  scan(think, false);
}

void StreamDecoder::Impl::release_msg_hold() {
  if (!msg_join.holding()) return;
  msg_join.flush(msg.text);
  scan(msg, true);
}

}  // namespace zgate::zaiweb
