#pragma once
// OpenAI function calling over chat.z.ai by prompt injection (docs/protocols/zai-web.md).
//
// The web backend has no client function calling, so the request teaches the model a text
// protocol: a tool turn is a per-request random trigger line followed by one XML block
//   <Function_xxxx_Start/>
//   <function_calls>
//     <function_call><tool>NAME</tool><args_json><![CDATA[{...}]]></args_json></function_call>
//   </function_calls>
// and the answer text is scanned for it. The trigger is unguessable, so prose that talks
// about tools (or quotes this very format) is not mistaken for a call. History is rendered in
// the same protocol: earlier calls as trigger blocks, results as <tool_response> user text;
// wire tool_calls / role "tool" are never sent upstream.
//
// The parser also accepts the JSON shape (`{"tool_calls":[...]}`, in a ```json fence
// or bare at a line start) and a bare <function_calls> block at a line start, but only when
// every call names a declared tool; anything that does not parse is released unchanged.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/model/request.hpp"

namespace zgate::zaiweb {

// "<Function_" + random + "_Start/>". `random` should be >= 8 alphanumerics from a CSPRNG.
std::string make_trigger(std::string_view random_alnum);

// The system-prompt section that lists the request's function tools (name, description, JSON
// schema) and teaches the call format with `trigger`. tool_choice: none -> "do not call tools
// now"; required -> "you must call a tool"; named -> "you must call NAME". Empty when the
// request has no function tools.
std::string render_tool_prompt(const ChatRequest& req, std::string_view trigger);

// An earlier assistant turn's calls, in the taught format (trigger line + <function_calls>).
// Without a trigger (emulation off) the block is rendered without the trigger line.
void append_tool_calls_text(std::string& out, const std::vector<ToolCall>& calls, std::string_view trigger);

// A tool result as user text: <tool_response tool="NAME">content</tool_response>.
void append_tool_result_text(std::string& out, std::string_view tool_name, std::string_view content);

// Incremental detector/parser of tool calls in streamed answer text.
class ToolCallParser {
 public:
  class Output {
   public:
    virtual ~Output() = default;
    virtual void text(std::string_view t) = 0;  // text to pass through, in order
    virtual void call(std::string_view id, std::string_view name, std::string_view arguments) = 0;
  };

  // `tool_names`: the declared function tools (empty = accept any name). `new_id` makes the ids
  // of calls that carry none (empty = random "call_" + 24 alphanumerics).
  ToolCallParser(std::string trigger, std::vector<std::string> tool_names,
                 std::function<std::string()> new_id = {});

  // Normal text is passed on at once; only a suffix that may begin a call marker is held.
  void feed(std::string_view text, Output& out);
  // End of the answer: releases held text, or parses an unterminated block if it is a valid call.
  void finish(Output& out);
  int calls() const { return calls_; }

 private:
  enum class Mode : unsigned char { text, block };
  enum class Kind : unsigned char { none, trigger, xml, fence, json };
  void scan_text(std::string_view data, Output& out);
  // Inspects the collected block: true when it was completed (and emitted or released).
  bool try_complete(Output& out, bool at_end);
  void release_block(Output& out, std::size_t upto);
  bool parse_and_emit(std::string_view block, Output& out);
  void emit_text(std::string_view t, Output& out);

  std::string trigger_;
  std::vector<std::string> names_;
  std::function<std::string()> new_id_;
  std::string held_;     // text mode: a possible marker start; block mode: the block so far
  std::string work_;     // scratch for re-scanning released text
  Mode mode_ = Mode::text;
  Kind kind_ = Kind::none;
  bool line_start_ = true;   // the next text byte starts a line (leading blanks allowed)
  bool drop_text_ = false;   // after a successful call block: trailing prose is not passed on
  int calls_ = 0;
};

}  // namespace zgate::zaiweb
