// zai-web tool emulation: complete tool-call blocks parsed into calls (XML or JSON shape).
#include "tool_blocks.hpp"

#include <utility>

#include <simdjson.h>

#include "zgate/core/text.hpp"
#include "zgate/json/dom.hpp"
#include "zgate/json/string_scan.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::zaiweb::detail {
namespace {

using text::trim;

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

}  // namespace

std::size_t balanced_end(std::string_view s) {
  int depth = 0;
  json::StringScan str;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (str.inside(c)) continue;
    if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

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

namespace {

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

}  // namespace

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
  if (json::thread_dom_parser().parse(padded).get(root) != simdjson::SUCCESS) return false;
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

}  // namespace zgate::zaiweb::detail
