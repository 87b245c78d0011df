// zai-web stream output: text runs become reasoning / content events (or <think> tags), citation
// markers are removed, tool calls (emulated, native, glm_block) become tool_call events.
#include <algorithm>

#include <simdjson.h>

#include "stream_impl.hpp"
#include "zgate/json/dom.hpp"
#include "zgate/json/read.hpp"

namespace zgate::zaiweb {
namespace {

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

}  // namespace

void StreamDecoder::Impl::flush_run() {
  if (run.empty()) return;
  sink->on_event(run_type == EventType::reasoning ? Event::reasoning(run) : Event::content(run));
  run.clear();
}

void StreamDecoder::Impl::append_run(EventType t, std::string_view s) {
  if (s.empty()) return;
  if (run_type != t) {
    flush_run();
    run_type = t;
  }
  run.append(s);
}

void StreamDecoder::Impl::out_content_final(std::string_view s) {
  if (s.empty()) return;
  if (think_open) {
    append_run(EventType::content, "</think>");
    think_open = false;
  }
  content_seen = true;
  append_run(EventType::content, s);
}

void StreamDecoder::Impl::out_reasoning_final(std::string_view s) {
  if (s.empty()) return;
  if (reasoning_break && reasoning_seen) {
    reasoning_break = false;
    out_reasoning_final_raw("\n\n");
  }
  reasoning_break = false;
  out_reasoning_final_raw(s);
}

void StreamDecoder::Impl::out_reasoning_final_raw(std::string_view s) {
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

void StreamDecoder::Impl::emit_tool_call(std::string_view id, std::string_view name, std::string_view args) {
  flush_run();
  std::string generated;
  if (id.empty()) {
    generated = opts.new_call_id ? opts.new_call_id() : new_call_id();
    id = generated;
  }
  sink->on_event(Event::tool_call(next_index++, id, name, args));
  ++tool_calls;
}

void StreamDecoder::Impl::call(std::string_view id, std::string_view name, std::string_view args) {
  emit_tool_call(id, name, args);
}

// Content after the tool parser: citation markers (【turn0search3】) are removed.
void StreamDecoder::Impl::cite_feed(std::string_view t) {
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

void StreamDecoder::Impl::cite_flush() {
  if (cite_hold.empty()) return;
  std::string h;
  h.swap(cite_hold);
  out_content_final(h);
}

// Content produced by the msg_ scanner (after rescan suppression).
void StreamDecoder::Impl::content_pipeline(std::string_view s) {
  if (s.empty()) return;
  if (tools) tools->feed(s, *this); else cite_feed(s);
}

void StreamDecoder::Impl::on_glm_block(std::string_view block) {
  const std::size_t gt = block.find('>');
  if (gt == std::string_view::npos || block.size() < gt + 1 + kGlmClose.size()) return;
  const std::string_view body = block.substr(gt + 1, block.size() - gt - 1 - kGlmClose.size());
  const simdjson::padded_string_view padded = json::pad(body, glm_pad);
  simdjson::dom::element root;
  if (json::thread_dom_parser().parse(padded.data(), padded.size(), false).get(root) != simdjson::SUCCESS) return;
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

bool StreamDecoder::Impl::declared(std::string_view name) const {
  return std::find(opts.tool_names.begin(), opts.tool_names.end(), name) != opts.tool_names.end();
}

}  // namespace zgate::zaiweb
