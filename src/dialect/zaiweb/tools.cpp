#include "zgate/front/openai/encoder.hpp"
#include "zgate/dialect/zaiweb/tools.hpp"

#include <algorithm>
#include <chrono>

#include <simdjson.h>

#include "zgate/json/writer.hpp"

namespace zgate::zaiweb {
namespace {

constexpr std::string_view kCallsOpen = "<function_calls>";
constexpr std::string_view kCallsClose = "</function_calls>";
constexpr std::string_view kToolCallsKey = "\"tool_calls\"";
constexpr std::size_t kMaxBlock = 1024 * 1024;  // a "call" larger than this is prose, not a call

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Compares `v` with `pattern`: 1 = v starts with pattern, 0 = v is a proper prefix of it
// (undecided), -1 = mismatch.
int prefix_state(std::string_view v, std::string_view pattern) {
  const std::size_t n = std::min(v.size(), pattern.size());
  if (v.substr(0, n) != pattern.substr(0, n)) return -1;
  return v.size() >= pattern.size() ? 1 : 0;
}

simdjson::dom::parser& dom_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// End (one past the closing brace) of the balanced JSON value starting at s[0] == '{' or '[';
// npos while it is unterminated.
std::size_t balanced_end(std::string_view s) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// Position of `close` at or after `from`, skipping CDATA sections (whose content may contain
// anything); npos when absent.
std::size_t find_close(std::string_view s, std::size_t from, std::string_view close) {
  while (from <= s.size()) {
    const std::size_t c = s.find(close, from);
    const std::size_t cd = s.find("<![CDATA[", from);
    if (cd != std::string_view::npos && (c == std::string_view::npos || cd < c)) {
      const std::size_t e = s.find("]]>", cd + 9);
      if (e == std::string_view::npos) return std::string_view::npos;
      from = e + 3;
      continue;
    }
    return c;
  }
  return std::string_view::npos;
}

// The text of an XML fragment: CDATA sections verbatim (an unclosed one runs to the end),
// entities decoded elsewhere.
void append_xml_text(std::string& out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 9, "<![CDATA[") == 0) {
      const std::size_t e = s.find("]]>", i + 9);
      const std::size_t end = e == std::string_view::npos ? s.size() : e;
      out.append(s.substr(i + 9, end - i - 9));
      i = e == std::string_view::npos ? s.size() : e + 3;
      continue;
    }
    if (s[i] == '&') {
      static constexpr std::pair<std::string_view, char> kEnt[] = {
          {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool done = false;
      for (const auto& [ent, ch] : kEnt) {
        if (s.compare(i, ent.size(), ent) == 0) {
          out.push_back(ch);
          i += ent.size();
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out.push_back(s[i++]);
  }
}

// Inner text of the first <tag ...>…</tag> in `s` (unclosed: to the end). False when absent.
bool element_text(std::string_view s, std::string_view tag, std::string& out, std::size_t* after = nullptr) {
  std::size_t from = 0;
  std::string open_tag = "<";
  open_tag.append(tag);
  std::size_t p = 0;
  while ((p = s.find(open_tag, from)) != std::string_view::npos) {
    const std::size_t q = p + open_tag.size();
    if (q < s.size() && (s[q] == '>' || s[q] == ' ' || s[q] == '/')) break;
    from = q;
  }
  if (p == std::string_view::npos) return false;
  const std::size_t gt = s.find('>', p);
  if (gt == std::string_view::npos) return false;
  if (s[gt - 1] == '/') {  // <tag/>: empty
    out.clear();
    if (after != nullptr) *after = gt + 1;
    return true;
  }
  std::string close_tag = "</";
  close_tag.append(tag).push_back('>');
  const std::size_t c = find_close(s, gt + 1, close_tag);
  const std::size_t end = c == std::string_view::npos ? s.size() : c;
  out.clear();
  append_xml_text(out, s.substr(gt + 1, end - gt - 1));
  if (after != nullptr) *after = c == std::string_view::npos ? s.size() : c + close_tag.size();
  return true;
}

// Value of attribute `name` in the opening tag at the start of `tag_text`.
std::string_view attribute(std::string_view tag_text, std::string_view name) {
  const std::size_t gt = tag_text.find('>');
  const std::string_view head = tag_text.substr(0, gt);
  std::size_t p = 0;
  while ((p = head.find(name, p)) != std::string_view::npos) {
    std::size_t q = p + name.size();
    while (q < head.size() && head[q] == ' ') ++q;
    if (p > 0 && head[p - 1] == ' ' && q < head.size() && head[q] == '=') {
      ++q;
      while (q < head.size() && head[q] == ' ') ++q;
      if (q < head.size() && (head[q] == '"' || head[q] == '\'')) {
        const std::size_t e = head.find(head[q], q + 1);
        if (e != std::string_view::npos) return head.substr(q + 1, e - q - 1);
      }
    }
    p = q;
  }
  return {};
}

struct ParsedCall {
  std::string id, name, arguments;
};

// <args_kv><arg name="k"><![CDATA[v]]></arg>…</args_kv> -> {"k":"v",…}
std::string args_from_kv(std::string_view kv) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  std::size_t p = 0;
  std::string value;
  while ((p = kv.find("<arg", p)) != std::string_view::npos) {
    const std::size_t q = p + 4;
    if (q >= kv.size() || (kv[q] != ' ' && kv[q] != '>')) { p = q; continue; }
    const std::string_view name = attribute(kv.substr(p), "name");
    const std::size_t gt = kv.find('>', p);
    if (gt == std::string_view::npos) break;
    const std::size_t c = find_close(kv, gt + 1, "</arg>");
    const std::size_t end = c == std::string_view::npos ? kv.size() : c;
    value.clear();
    append_xml_text(value, kv.substr(gt + 1, end - gt - 1));
    if (!name.empty()) w.key_escaped(name).string(value);
    p = c == std::string_view::npos ? kv.size() : c + 6;
  }
  w.end_object();
  return out;
}

bool parse_xml_calls(std::string_view block, std::vector<ParsedCall>& calls) {
  std::size_t p = 0;
  std::string text;
  while ((p = block.find("<function_call", p)) != std::string_view::npos) {
    const std::size_t q = p + 14;
    if (q >= block.size() || (block[q] != '>' && block[q] != ' ')) { p = q; continue; }
    // The call runs to its closing tag, or (repair) to the next call / the end.
    std::size_t end = find_close(block, q, "</function_call>");
    const std::size_t next = block.find("<function_call", q);
    if (end == std::string_view::npos || (next != std::string_view::npos && next < end)) {
      end = next == std::string_view::npos ? block.size() : next;
    }
    const std::string_view body = block.substr(q, end - q);
    ParsedCall call;
    if (element_text(body, "tool", text) || element_text(body, "name", text)) call.name = std::string(trim(text));
    if (element_text(body, "args_json", text) || element_text(body, "arguments", text) ||
        element_text(body, "parameters", text)) {
      call.arguments = std::string(trim(text));
    } else if (const std::size_t kv = body.find("<args_kv"); kv != std::string_view::npos) {
      call.arguments = args_from_kv(body.substr(kv));
    }
    if (call.arguments.empty()) call.arguments = "{}";
    if (call.name.empty()) return false;
    calls.push_back(std::move(call));
    p = end;
  }
  return !calls.empty();
}

bool parse_json_calls(std::string_view json, std::vector<ParsedCall>& calls) {
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (dom_parser().parse(padded).get(root) != simdjson::SUCCESS) return false;
  simdjson::dom::array arr;
  if (root["tool_calls"].get_array().get(arr) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element item : arr) {
    simdjson::dom::element fn = item;
    simdjson::dom::element inner;
    if (item["function"].get(inner) == simdjson::SUCCESS && inner.is_object()) fn = inner;
    ParsedCall call;
    std::string_view sv;
    if (item["id"].get_string().get(sv) == simdjson::SUCCESS) call.id = std::string(sv);
    if (fn["name"].get_string().get(sv) != simdjson::SUCCESS) return false;
    call.name = std::string(trim(sv));
    simdjson::dom::element args;
    if (fn["arguments"].get(args) == simdjson::SUCCESS) {
      if (args.get_string().get(sv) == simdjson::SUCCESS) call.arguments = std::string(trim(sv));
      else if (!args.is_null()) call.arguments = simdjson::minify(args);
    }
    if (call.arguments.empty()) call.arguments = "{}";
    calls.push_back(std::move(call));
  }
  return !calls.empty();
}

}  // namespace

std::string make_trigger(std::string_view random_alnum) {
  std::string t = "<Function_";
  t.append(random_alnum);
  t.append("_Start/>");
  return t;
}

std::string render_tool_prompt(const ChatRequest& req, std::string_view trigger) {
  std::string out;
  int n = 0;
  for (const auto& t : req.tools) {
    if (t.type != "function" || t.name.empty()) continue;
    if (n++ == 0) {
      out.append(
          "# Tools\n\n"
          "You can call the tools (functions) listed below. Each has a name, a description and a JSON Schema "
          "for its arguments.\n");
    }
    out.append("\n## ").append(t.name).append("\n");
    if (!t.description.empty()) out.append("Description: ").append(t.description).append("\n");
    out.append("Arguments (JSON Schema): ")
        .append(t.parameters.empty() ? std::string_view("{\"type\":\"object\",\"properties\":{}}")
                                     : std::string_view(t.parameters))
        .append("\n");
  }
  if (n == 0) return {};
  out.append("\n# How to call tools\n\n"
             "To call tools, write this exact trigger line, then one <function_calls> block:\n\n");
  out.append(trigger);
  out.append(
      "\n<function_calls>\n"
      "<function_call>\n"
      "<tool>TOOL_NAME</tool>\n"
      "<args_json><![CDATA[{\"argument\": \"value\"}]]></args_json>\n"
      "</function_call>\n"
      "</function_calls>\n\n"
      "Rules:\n"
      "- <tool> is exactly one of the tool names above; <args_json> is one JSON object that matches the tool's "
      "schema, inside CDATA.\n"
      "- To call several tools at once, put several <function_call> elements in the one <function_calls> block.\n"
      "- Stop right after </function_calls>. The results come back in the next message as "
      "<tool_response tool=\"TOOL_NAME\">…</tool_response>.\n"
      "- Write the trigger line only to really call a tool: never when talking about tools, never in your "
      "reasoning, never inside a code block.\n"
      "- Do not say that you will use a tool without calling it in the same reply.\n"
      "- When no tool is needed, answer normally in plain text.\n");
  switch (req.tool_choice) {
    case ToolChoice::none:
      out.append("\nIn this reply, do NOT call any tool: answer in plain text.\n");
      break;
    case ToolChoice::required:
      out.append("\nIn this reply you MUST call at least one tool.\n");
      break;
    case ToolChoice::named:
      out.append("\nIn this reply you MUST call the tool `").append(req.tool_choice_name).append("`.\n");
      break;
    default:
      break;
  }
  return out;
}

void append_tool_calls_text(std::string& out, const std::vector<ToolCall>& calls, std::string_view trigger) {
  if (calls.empty()) return;
  if (!trigger.empty()) out.append(trigger).push_back('\n');
  out.append("<function_calls>\n");
  for (const auto& c : calls) {
    out.append("<function_call>\n<tool>").append(c.name).append("</tool>\n<args_json><![CDATA[");
    // "]]>" cannot appear inside CDATA: split it across two sections.
    std::string_view a = c.arguments.empty() ? std::string_view("{}") : std::string_view(c.arguments);
    std::size_t p;
    while ((p = a.find("]]>")) != std::string_view::npos) {
      out.append(a.substr(0, p + 2)).append("]]><![CDATA[>");
      a.remove_prefix(p + 3);
    }
    out.append(a).append("]]></args_json>\n</function_call>\n");
  }
  out.append("</function_calls>");
}

void append_tool_result_text(std::string& out, std::string_view tool_name, std::string_view content) {
  out.append("<tool_response tool=\"");
  for (const char c : tool_name) {
    if (c == '"') out.append("&quot;"); else if (c == '<') out.append("&lt;"); else out.push_back(c);
  }
  out.append("\">\n").append(content).append("\n</tool_response>");
}

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
    if (c.id.empty()) c.id = new_id_ ? new_id_() : openai::new_call_id();
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
