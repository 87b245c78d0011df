// zai-web tool emulation, request side: the tool section of the system prompt and the history
// (earlier calls and tool results) rendered in the taught text protocol.
#include "zgate/dialect/zaiweb/tools.hpp"

namespace zgate::zaiweb {

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

}  // namespace zgate::zaiweb
