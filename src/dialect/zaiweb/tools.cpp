// zai-web tool emulation, response side: ToolCallParser finds tool-call blocks in streamed
// answer text, holding back only a suffix that may start a marker.
#include "zgate/dialect/zaiweb/tools.hpp"

#include <algorithm>

#include "markup.hpp"
#include "tool_blocks.hpp"
#include "zgate/core/text.hpp"
#include "zgate/model/events.hpp"

namespace zgate::zaiweb {
namespace {

using namespace detail;
using text::trim;

constexpr std::string_view kCallsOpen = "<function_calls>";
constexpr std::string_view kCallsClose = "</function_calls>";
constexpr std::string_view kToolCallsKey = "\"tool_calls\"";
constexpr std::size_t kMaxBlock = 1024 * 1024;  // a "call" larger than this is prose, not a call

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// ToolCallParser

namespace {

enum class Probe : unsigned char { no, partial, yes };

// After an opening fence line: does the fenced content start like a call?
Probe probe_call_start(std::string_view v, std::string_view trigger) {
  std::size_t i = 0;
  while (i < v.size() && is_blank(v[i])) ++i;
  if (i == v.size()) return Probe::partial;
  v.remove_prefix(i);
  if (v[0] == '{') {
    std::size_t j = 1;
    while (j < v.size() && is_blank(v[j])) ++j;
    if (j == v.size()) return Probe::partial;
    const int st = prefix_state(v.substr(j), kToolCallsKey);
    return st < 0 ? Probe::no : st == 0 ? Probe::partial : Probe::yes;
  }
  int best = -1;
  if (!trigger.empty()) best = std::max(best, prefix_state(v, trigger));
  best = std::max(best, prefix_state(v, kCallsOpen));
  return best < 0 ? Probe::no : best == 0 ? Probe::partial : Probe::yes;
}

}  // namespace

ToolCallParser::ToolCallParser(std::string trigger, std::vector<std::string> tool_names,
                               std::function<std::string()> new_id)
    : trigger_(std::move(trigger)), names_(std::move(tool_names)), new_id_(std::move(new_id)) {}

void ToolCallParser::emit_text(std::string_view t, Output& out) {
  if (t.empty() || drop_text_) return;
  out.text(t);
}

void ToolCallParser::scan_text(std::string_view data, Output& out) {
  std::size_t emitted = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    const bool candidate = c == '<' || (line_start_ && (c == '`' || c == '{'));
    if (candidate) {
      const std::string_view v = data.substr(i);
      Probe r = Probe::no;
      Kind kind = Kind::none;
      if (!trigger_.empty()) {
        const int st = prefix_state(v, trigger_);
        if (st == 1) { r = Probe::yes; kind = Kind::trigger; }
        else if (st == 0) r = Probe::partial;
      }
      if (r == Probe::no && line_start_) {
        if (c == '<') {
          const int st = prefix_state(v, kCallsOpen);
          if (st == 1) { r = Probe::yes; kind = Kind::xml; }
          else if (st == 0) r = Probe::partial;
        } else if (c == '`') {
          const int st = prefix_state(v, "```");
          if (st == 0) {
            r = Probe::partial;
          } else if (st == 1) {
            // Info string: "", json, xml (anything else is an ordinary code block).
            const std::size_t nl = v.find('\n');
            const std::string_view info = trim(v.substr(3, nl == std::string_view::npos ? v.size() - 3 : nl - 3));
            const bool ok_info = info.empty() || info == "json" || info == "JSON" || info == "xml";
            if (nl == std::string_view::npos) {
              r = ok_info || (info.size() < 4 && (prefix_state("json", info) >= 0 || prefix_state("xml", info) >= 0))
                      ? Probe::partial : Probe::no;
            } else if (ok_info) {
              r = probe_call_start(v.substr(nl + 1), trigger_);
              if (r == Probe::yes) kind = Kind::fence;
            }
          }
        } else if (c == '{') {
          r = probe_call_start(v, trigger_);  // v starts with '{': only `{"tool_calls"` qualifies
          if (r == Probe::yes) kind = Kind::json;
        }
      }
      if (r == Probe::partial) {
        emit_text(data.substr(emitted, i - emitted), out);
        held_.assign(v);
        return;
      }
      if (r == Probe::yes) {
        emit_text(data.substr(emitted, i - emitted), out);
        held_.assign(v);
        mode_ = Mode::block;
        kind_ = kind;
        return;
      }
    }
    if (c == '\n') line_start_ = true;
    else if (c != ' ' && c != '\t' && c != '\r') line_start_ = false;
  }
  emit_text(data.substr(emitted), out);
}

void ToolCallParser::feed(std::string_view text, Output& out) {
  if (text.empty()) return;
  if (mode_ == Mode::block) {
    held_.append(text);
  } else if (held_.empty()) {
    scan_text(text, out);
  } else {
    work_.assign(held_);
    work_.append(text);
    held_.clear();
    scan_text(work_, out);
  }
  while (mode_ == Mode::block && try_complete(out, false)) {
  }
}

void ToolCallParser::finish(Output& out) {
  while (mode_ == Mode::block && try_complete(out, true)) {
  }
  if (mode_ == Mode::text && !held_.empty()) {
    std::string rest;
    rest.swap(held_);
    emit_text(rest, out);
  }
}

// Emits held_[0, upto) as text, then re-scans the rest of the block as text.
void ToolCallParser::release_block(Output& out, std::size_t upto) {
  std::string block;
  block.swap(held_);
  mode_ = Mode::text;
  kind_ = Kind::none;
  upto = std::min(upto, block.size());
  emit_text(std::string_view(block).substr(0, upto), out);
  if (upto > 0) {
    const char last = block[upto - 1];
    line_start_ = last == '\n';
  }
  if (upto < block.size()) scan_text(std::string_view(block).substr(upto), out);
}

bool ToolCallParser::parse_and_emit(std::string_view block, Output& out) {
  std::vector<ParsedCall> calls;
  // Strip an enclosing fence and a trigger line; what remains is XML or JSON.
  std::string_view b = trim(block);
  if (b.substr(0, 3) == "```") {
    const std::size_t nl = b.find('\n');
    b = nl == std::string_view::npos ? std::string_view() : b.substr(nl + 1);
    if (b.size() >= 3 && b.substr(b.size() - 3) == "```") b.remove_suffix(3);
    b = trim(b);
  }
  if (!trigger_.empty() && b.substr(0, trigger_.size()) == trigger_) b = trim(b.substr(trigger_.size()));
  bool ok = false;
  if (!b.empty() && b[0] == '{') {
    const std::size_t e = balanced_end(b);
    ok = e != std::string_view::npos && parse_json_calls(b.substr(0, e), calls);
  } else if (b.substr(0, kCallsOpen.size()) == kCallsOpen) {
    ok = parse_xml_calls(b, calls);
  }
  if (!ok) return false;
  if (!names_.empty()) {
    for (const auto& c : calls) {
      if (std::find(names_.begin(), names_.end(), c.name) == names_.end()) return false;
    }
  }
  for (auto& c : calls) {
    if (c.id.empty()) c.id = new_id_ ? new_id_() : new_call_id();
    out.call(c.id, c.name, c.arguments);
    ++calls_;
  }
  return true;
}

bool ToolCallParser::try_complete(Output& out, bool at_end) {
  const std::string_view b = held_;
  std::size_t end = std::string_view::npos;  // one past the block
  bool mismatch = false;

  // Where the call body starts: after the trigger, or after the opening fence line.
  std::size_t body = 0;
  if (kind_ == Kind::trigger) {
    body = trigger_.size();
  } else if (kind_ == Kind::fence) {
    const std::size_t nl = b.find('\n');
    body = nl == std::string_view::npos ? b.size() : nl + 1;
  }
  std::string_view rest = b.substr(body);
  std::size_t lead = 0;
  while (lead < rest.size() && is_blank(rest[lead])) ++lead;
  // A trigger may be followed by a fence line wrapping the block.
  bool inner_fence = false;
  if (kind_ == Kind::trigger && rest.substr(lead, 3) == "```") {
    const std::size_t nl = rest.find('\n', lead);
    if (nl == std::string_view::npos) {
      if (!at_end && rest.size() - lead < 16) return false;
      mismatch = true;
    } else {
      inner_fence = true;
      lead = nl + 1;
      while (lead < rest.size() && is_blank(rest[lead])) ++lead;
    }
  }
  const std::string_view start = rest.substr(lead);
  if (!mismatch) {
    if (kind_ == Kind::fence) {
      // The block ends at the closing fence.
      const std::size_t close = rest.find("```");
      if (close != std::string_view::npos) end = body + close + 3;
    } else if (!start.empty() && start[0] == '{') {
      const std::size_t e = balanced_end(start);
      if (e != std::string_view::npos) end = body + lead + e;
    } else {
      const int st = prefix_state(start, kCallsOpen);
      if (st < 0 || (kind_ == Kind::trigger && start.empty() && at_end)) {
        mismatch = true;
      } else if (st == 1) {
        const std::size_t c = find_close(start, kCallsOpen.size(), kCallsClose);
        if (c != std::string_view::npos) end = body + lead + c + kCallsClose.size();
      }
    }
    if (end != std::string_view::npos && inner_fence) {
      // Swallow the closing fence of a trigger-wrapped block.
      std::size_t j = end;
      while (j < b.size() && is_blank(b[j])) ++j;
      if (b.substr(j, 3) == "```") end = j + 3;
      else if (j + 3 > b.size() && !at_end && prefix_state(b.substr(j), "```") == 0) return false;
    }
  }

  if (mismatch) {
    // Not a call after all: the marker is ordinary text.
    release_block(out, kind_ == Kind::trigger ? trigger_.size() : 1);
    return true;
  }
  if (end == std::string_view::npos) {
    if (!at_end) {
      if (held_.size() > kMaxBlock) release_block(out, held_.size());
      return false;
    }
    end = b.size();  // unterminated at the end of the answer: try it as it is (repairs below)
  }
  const bool ok = parse_and_emit(b.substr(0, end), out);
  if (!ok) {
    release_block(out, end);
    return true;
  }
  drop_text_ = true;  // prose after a call block is the model talking past its turn
  std::string tail(b.substr(end));
  held_.clear();
  mode_ = Mode::text;
  kind_ = Kind::none;
  line_start_ = true;
  if (!tail.empty()) scan_text(tail, out);
  return true;
}

}  // namespace zgate::zaiweb
