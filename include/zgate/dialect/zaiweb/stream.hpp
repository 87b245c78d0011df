#pragma once
// The response half of the zai-web dialect: chat.z.ai's SSE frames (docs/protocols/zai-web.md)
// decoded into the normalised event stream.
//
// What it copes with:
//  - `thinking` text, either plain (2026) or Open-WebUI markdown (`<details …>`, optional
//    `<summary>…</summary>`, `> ` line prefixes), cleaned into reasoning even when a tag or a
//    "\n>" is split across frames. Only a suffix that could start a tag/prefix is held back.
//  - The message text model: `delta_content` appends, `edit_content` replaces from
//    character `edit_index` (code points). Visible text is derived from that buffer; a
//    re-written part never re-emits what was already sent (the thinking -> answer transition
//    re-sends the whole `<details>` block: its reasoning only "catches up" what is missing).
//  - `<glm_block>` (legacy) and `delta_name`/`delta_arguments` (modern) tool frames: calls of
//    declared tools become tool_call events, server-side tools (search, ...) stay hidden.
//  - `【turn0search0】`-style citation markers: stripped (their targets are hidden tool output).
//  - Usage from any frame, the last one wins, sent once at the end; only `done` ends a turn.
//  - Errors at the top level, in `data.error` and in `data.data.error`: Event::failed.
//  - Prompt-injected tool calls (zaiweb_tools.hpp) in the answer text, when enabled.
//  - The stream closing without `done`: on_end() flushes held text, then fails (incomplete).
//  - Lone UTF-16 surrogate escapes (json/surrogates.hpp): a character split between two
//    deltas of the same text (thinking, answer, tool arguments) is rejoined; what cannot be
//    paired becomes U+FFFD, and the frame is never dropped for it.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/model/dialect.hpp"
#include "zgate/model/events.hpp"

namespace zgate::zaiweb {

// What to do with the upstream's reasoning: OpenAI reasoning_content deltas, content wrapped
// in <think>…</think>, or nothing.
enum class ThinkingMode : unsigned char { reasoning, think_tags, strip };
// "reasoning" | "think_tags" | "strip" (unknown -> reasoning).
ThinkingMode parse_thinking_mode(std::string_view s);

struct DecoderOptions {
  ThinkingMode thinking = ThinkingMode::reasoning;
  bool tool_emulation = false;           // parse prompt-injected calls in the answer text
  std::string trigger;                   // the trigger the request taught (tool_emulation)
  std::vector<std::string> tool_names;   // declared function tools (native frames + emulation)
  std::string model;                     // reported in Event::start
  std::function<std::string()> new_call_id;  // ids for calls that carry none (empty = random)
};

class StreamDecoder final : public zgate::StreamDecoder {
 public:
  explicit StreamDecoder(DecoderOptions opts);
  ~StreamDecoder() override;

  void on_data(std::string_view data, std::string_view event_name, EventSink& sink) override;
  // True after the `done` frame ([DONE] too) or an error.
  bool done() const override;
  // The stream closed: flushes held text; without a `done` frame the answer is incomplete
  // and an error event (502 upstream_incomplete) follows.
  void on_end(EventSink& sink) override;

  // The last usage seen (present = false when none).
  const Usage& usage() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // with the declared destructor: neither copyable nor movable
};

}  // namespace zgate::zaiweb
