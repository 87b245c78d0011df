// Generated zai-web answers, shaped like the recorded transcripts
// (tests/fixtures/zaiweb/transcripts/T*.sse) but built from the request.
#include <algorithm>

#include "zai.hpp"
#include "zgate/core/text.hpp"

namespace zgate::mock::zai {
namespace {

int64_t tokens(std::size_t bytes) { return std::max<int64_t>(1, static_cast<int64_t>(bytes / 4)); }

}  // namespace

Answer plain_answer(const ChatReq& r, std::string_view text, std::size_t chunks) {
  Answer a;
  for (auto piece : split_pieces(text, chunks)) a.payloads.push_back(frame_delta("answer", piece));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(text.size())));
  a.payloads.push_back(frame_done());
  return a;
}

// Open-WebUI thinking (the shape of transcript T03): a <details> block streamed in pieces, then the answer
// transition that re-sends the closed block plus the first answer text, then the rest.
Answer details_answer(const ChatReq& r, std::string_view reasoning, std::string_view text, std::size_t chunks) {
  Answer a;
  std::string quoted = "> ";
  for (const char c : reasoning) {
    quoted.push_back(c);
    if (c == '\n') quoted.append("> ");
  }
  const std::string open = "<details type=\"reasoning\" done=\"false\">\n" + quoted;
  for (auto piece : split_pieces(open, 4)) a.payloads.push_back(frame_delta("thinking", piece));
  const auto pieces = split_pieces(text, chunks);
  std::string closed =
      "<details type=\"reasoning\" done=\"true\" duration=\"1\">\n<summary>Thought for 1 seconds</summary>\n" + quoted +
      "\n</details>\n";
  if (!pieces.empty()) closed.append(pieces.front());
  a.payloads.push_back(frame_edit("answer", 0, closed));
  for (std::size_t i = 1; i < pieces.size(); ++i) a.payloads.push_back(frame_delta("answer", pieces[i]));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(reasoning.size() + text.size())));
  a.payloads.push_back(frame_done());
  return a;
}

// 2026 plain thinking (the shape of transcript T04), usage before the last answer delta.
Answer plain_thinking_answer(const ChatReq& r, std::string_view reasoning, std::string_view text, std::size_t chunks) {
  Answer a;
  for (auto piece : split_pieces(reasoning, 3)) a.payloads.push_back(frame_delta("thinking", piece));
  const auto pieces = split_pieces(text, std::max<std::size_t>(2, chunks));
  for (std::size_t i = 0; i + 1 < pieces.size(); ++i) a.payloads.push_back(frame_delta("answer", pieces[i]));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(reasoning.size() + text.size()), 0));
  if (!pieces.empty()) a.payloads.push_back(frame_delta("answer", pieces.back()));
  a.payloads.push_back(frame_done());
  return a;
}

// A call in the injected format (the shape of transcript T08), the trigger cut across two deltas.
Answer tool_answer(const ChatReq& r) {
  const ToolSpec tool = r.tools.empty() ? ToolSpec{"get_weather", R"({"city": "Paris"})"} : r.tools.front();
  const std::string trigger = r.trigger.empty() ? std::string("<Function_mock_Start/>") : r.trigger;
  const std::string text = trigger + "\n<function_calls>\n  <function_call>\n    <tool>" + tool.name +
                           "</tool>\n    <args_json><![CDATA[" + tool.args +
                           "]]></args_json>\n  </function_call>\n</function_calls>";
  Answer a;
  const std::size_t cut1 = std::min<std::size_t>(12, trigger.size() - 1);
  const std::size_t cut2 = text.find("<args_json>");
  a.payloads.push_back(frame_delta("answer", std::string_view(text).substr(0, cut1)));
  a.payloads.push_back(frame_delta("answer", std::string_view(text).substr(cut1, cut2 - cut1)));
  a.payloads.push_back(frame_delta("answer", std::string_view(text).substr(cut2)));
  a.payloads.push_back(frame_usage(tokens(r.body_size), tokens(text.size())));
  a.payloads.push_back(frame_done());
  return a;
}

std::string tool_response_text(const ChatReq& r) {
  std::string_view t = r.last_user_text;
  const std::size_t open = t.find("<tool_response");
  std::size_t gt = t.find('>', open);
  std::size_t close = t.find("</tool_response>", gt);
  std::string_view inner = gt == std::string_view::npos ? t : t.substr(gt + 1, close == std::string_view::npos ? std::string_view::npos : close - gt - 1);
  return tool_result_text(text::trim(inner));
}

}  // namespace zgate::mock::zai
