// Prompt-injected function calling for zai-web (docs/protocols/zai-web.md): the tool prompt, history
// rendering, and the incremental ToolCallParser, with the trigger split at every offset.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "zgate/dialect/zaiweb/tools.hpp"

using namespace zgate;
using zaiweb::ToolCallParser;

namespace {

const std::string kTrigger = "<Function_q7Rt2ZpX_Start/>";

struct Collect final : ToolCallParser::Output {
  std::string text_out;
  struct Call { std::string id, name, args; };
  std::vector<Call> calls;
  void text(std::string_view t) override {
    REQUIRE_FALSE(t.empty());  // never empty pieces
    text_out.append(t);
  }
  void call(std::string_view id, std::string_view name, std::string_view args) override {
    calls.push_back({std::string(id), std::string(name), std::string(args)});
  }
};

ToolCallParser make_parser(std::vector<std::string> names = {"get_weather", "read_file"}) {
  return ToolCallParser(kTrigger, std::move(names), [n = 0]() mutable { return "call_" + std::to_string(++n); });
}

Collect run(const std::vector<std::string_view>& pieces, std::vector<std::string> names = {"get_weather", "read_file"}) {
  ToolCallParser p = make_parser(std::move(names));
  Collect c;
  for (auto piece : pieces) p.feed(piece, c);
  p.finish(c);
  return c;
}

const std::string kCallText = "Let me check.\n" + kTrigger +
                              "\n<function_calls>\n  <function_call>\n    <tool>get_weather</tool>\n"
                              "    <args_json><![CDATA[{\"city\": \"Paris\"}]]></args_json>\n  </function_call>\n"
                              "</function_calls>";

// `text` cut in two at every offset gives `before` as text and one get_weather call `id` for
// Paris.
void check_every_split(std::string_view text, std::string_view before, std::string_view id) {
  for (std::size_t k = 0; k <= text.size(); ++k) {
    const Collect c = run({text.substr(0, k), text.substr(k)});
    INFO("split at " << k);
    REQUIRE(c.text_out == before);
    REQUIRE(c.calls.size() == 1);
    CHECK(c.calls[0].id == id);
    CHECK(c.calls[0].name == "get_weather");
    CHECK(c.calls[0].args == "{\"city\": \"Paris\"}");
  }
}

}  // namespace

TEST_CASE("zaiweb tools: a trigger call split at every offset is parsed and never leaks", "[unit][zaiweb]") {
  check_every_split(kCallText, "Let me check.\n", "call_1");
}

TEST_CASE("zaiweb tools: fed one byte at a time", "[unit][zaiweb]") {
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < kCallText.size(); ++i) pieces.push_back(std::string_view(kCallText).substr(i, 1));
  const Collect c = run(pieces);
  CHECK(c.text_out == "Let me check.\n");
  REQUIRE(c.calls.size() == 1);
  CHECK(c.calls[0].args == "{\"city\": \"Paris\"}");
}

TEST_CASE("zaiweb tools: only a possible trigger prefix is held back", "[unit][zaiweb]") {
  ToolCallParser p = make_parser();
  Collect c;
  p.feed("Hello <Fun", c);
  CHECK(c.text_out == "Hello ");
  p.feed("ny> world", c);
  CHECK(c.text_out == "Hello <Funny> world");
  p.feed("a <b> c", c);  // '<' not followed by a trigger prefix passes at once
  CHECK(c.text_out == "Hello <Funny> worlda <b> c");
  p.finish(c);
  CHECK(c.calls.empty());
}

TEST_CASE("zaiweb tools: a partial trigger at the end of the answer is released unchanged", "[unit][zaiweb]") {
  const Collect c = run({"The tag is <Function_q7R"});
  CHECK(c.text_out == "The tag is <Function_q7R");
  CHECK(c.calls.empty());
}

TEST_CASE("zaiweb tools: a trigger followed by prose is released unchanged", "[unit][zaiweb]") {
  const std::string t = "I would write " + kTrigger + " to call a tool.";
  const Collect c = run({t});
  CHECK(c.text_out == t);
  CHECK(c.calls.empty());
}

TEST_CASE("zaiweb tools: a call naming an undeclared tool is released unchanged", "[unit][zaiweb]") {
  const std::string t = kTrigger + "\n<function_calls><function_call><tool>rm_rf</tool><args_json>{}</args_json>"
                                   "</function_call></function_calls> done";
  const Collect c = run({t});
  CHECK(c.text_out == t);
  CHECK(c.calls.empty());
}

TEST_CASE("zaiweb tools: several calls in one block, then prose after the block is dropped", "[unit][zaiweb]") {
  const std::string t = kTrigger +
                        "\n<function_calls>\n<function_call><tool>get_weather</tool><args_json><![CDATA[{\"city\":\"A\"}]]>"
                        "</args_json></function_call>\n<function_call><name>read_file</name><args_json>{\"path\":\"x\"}"
                        "</args_json></function_call>\n</function_calls>\nI will wait for the results.";
  const Collect c = run({t});
  CHECK(c.text_out.empty());
  REQUIRE(c.calls.size() == 2);
  CHECK(c.calls[0].name == "get_weather");
  CHECK(c.calls[0].args == "{\"city\":\"A\"}");
  CHECK(c.calls[1].id == "call_2");
  CHECK(c.calls[1].name == "read_file");
  CHECK(c.calls[1].args == "{\"path\":\"x\"}");
}

TEST_CASE("zaiweb tools: a second call block after the first is parsed too", "[unit][zaiweb]") {
  const std::string block = "\n<function_calls><function_call><tool>get_weather</tool><args_json>{}</args_json>"
                            "</function_call></function_calls>\n";
  const Collect c = run({kTrigger + block + "and " + kTrigger + block});
  CHECK(c.text_out.empty());
  CHECK(c.calls.size() == 2);
}

TEST_CASE("zaiweb tools: the trigger block may be wrapped in a code fence", "[unit][zaiweb]") {
  const std::string t = "```xml\n" + kTrigger +
                        "\n<function_calls><function_call><tool>get_weather</tool><args_json>{\"city\":\"B\"}"
                        "</args_json></function_call></function_calls>\n```";
  const Collect c = run({t});
  REQUIRE(c.calls.size() == 1);
  CHECK(c.calls[0].args == "{\"city\":\"B\"}");
  CHECK(c.text_out.find("<function") == std::string::npos);
  CHECK(c.text_out.find(kTrigger) == std::string::npos);
}

TEST_CASE("zaiweb tools: args_kv arguments become a JSON object of strings", "[unit][zaiweb]") {
  const std::string t = kTrigger +
                        "<function_calls><function_call><tool>read_file</tool><args_kv>"
                        "<arg name=\"path\"><![CDATA[a \"b\".txt]]></arg><arg name=\"mode\">r&amp;w</arg>"
                        "</args_kv></function_call></function_calls>";
  const Collect c = run({t});
  REQUIRE(c.calls.size() == 1);
  CHECK(c.calls[0].args == "{\"path\":\"a \\\"b\\\".txt\",\"mode\":\"r&w\"}");
}

TEST_CASE("zaiweb tools: an unterminated block at the end is repaired when it is a valid call", "[unit][zaiweb]") {
  const Collect c = run({kTrigger, "\n<function_calls><function_call><tool>get_weather</tool><args_json><![CDATA[{\"c\":1}"});
  REQUIRE(c.calls.size() == 1);
  CHECK(c.calls[0].args == "{\"c\":1}");
  CHECK(c.text_out.empty());
}

TEST_CASE("zaiweb tools: JSON tool_calls in a fence and bare at a line start", "[unit][zaiweb]") {
  const std::string fenced = "Calling now.\n```json\n{\"tool_calls\": [{\"id\": \"call_w1\", \"type\": \"function\", "
                             "\"function\": {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}}]}\n```";
  check_every_split(fenced, "Calling now.\n", "call_w1");
  const Collect bare = run({"{\"tool_calls\":[{\"name\":\"read_file\",\"arguments\":{\"path\":\"a\"}}]}"});
  REQUIRE(bare.calls.size() == 1);
  CHECK(bare.calls[0].name == "read_file");
  CHECK(bare.calls[0].args == "{\"path\":\"a\"}");  // an object argument is minified into a string
}

TEST_CASE("zaiweb tools: ordinary code blocks and JSON pass through unchanged", "[unit][zaiweb]") {
  const std::string t = "Example:\n```python\nprint({'a': 1})\n```\n```json\n{\"name\": \"x\"}\n```\n{\"k\": [1, 2]}\nx = {y}";
  for (std::size_t k = 0; k <= t.size(); ++k) {
    const std::string_view s(t);
    const Collect c = run({s.substr(0, k), s.substr(k)});
    INFO("split at " << k);
    REQUIRE(c.text_out == t);
    REQUIRE(c.calls.empty());
  }
}

TEST_CASE("zaiweb tools: a brace in the middle of a line is not held back", "[unit][zaiweb]") {
  ToolCallParser p = make_parser();
  Collect c;
  p.feed("x = {", c);
  CHECK(c.text_out == "x = {");
  p.feed("\n{", c);  // at a line start it might open {"tool_calls"...: held
  CHECK(c.text_out == "x = {\n");
  p.feed("\"a\": 1}", c);
  CHECK(c.text_out == "x = {\n{\"a\": 1}");
}

TEST_CASE("zaiweb tools: rendered history round-trips through the parser, CDATA terminators included", "[unit][zaiweb]") {
  std::vector<ToolCall> calls = {{"call_x", "read_file", "{\"path\":\"a]]>b\"}"}, {"call_y", "get_weather", ""}};
  std::string text;
  zaiweb::append_tool_calls_text(text, calls, kTrigger);
  CHECK(text.rfind(kTrigger + "\n<function_calls>", 0) == 0);
  const Collect c = run({text});
  REQUIRE(c.calls.size() == 2);
  CHECK(c.calls[0].name == "read_file");
  CHECK(c.calls[0].args == "{\"path\":\"a]]>b\"}");
  CHECK(c.calls[1].args == "{}");
}

TEST_CASE("zaiweb tools: tool results render as tool_response text", "[unit][zaiweb]") {
  std::string out;
  zaiweb::append_tool_result_text(out, "get_weather", "22 C");
  CHECK(out == "<tool_response tool=\"get_weather\">\n22 C\n</tool_response>");
}

TEST_CASE("zaiweb tools: the prompt lists tools with schemas and honours tool_choice", "[unit][zaiweb]") {
  ChatRequest req;
  CHECK(zaiweb::render_tool_prompt(req, kTrigger).empty());
  ToolDef t;
  t.type = "function";
  t.name = "get_weather";
  t.description = "Current weather for a city";
  t.parameters = R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})";
  req.tools.push_back(t);
  ToolDef builtin;
  builtin.type = "web_search";
  req.tools.push_back(builtin);

  std::string p = zaiweb::render_tool_prompt(req, kTrigger);
  CHECK(p.find("## get_weather") != std::string::npos);
  CHECK(p.find("Current weather for a city") != std::string::npos);
  CHECK(p.find(t.parameters) != std::string::npos);
  CHECK(p.find(kTrigger + "\n<function_calls>") != std::string::npos);
  CHECK(p.find("MUST") == std::string::npos);
  CHECK(p.find("web_search") == std::string::npos);

  req.tool_choice = ToolChoice::required;
  CHECK(zaiweb::render_tool_prompt(req, kTrigger).find("MUST call at least one tool") != std::string::npos);
  req.tool_choice = ToolChoice::named;
  req.tool_choice_name = "get_weather";
  CHECK(zaiweb::render_tool_prompt(req, kTrigger).find("MUST call the tool `get_weather`") != std::string::npos);
  req.tool_choice = ToolChoice::none;
  CHECK(zaiweb::render_tool_prompt(req, kTrigger).find("do NOT call any tool") != std::string::npos);
}

TEST_CASE("zaiweb tools: make_trigger", "[unit][zaiweb]") {
  CHECK(zaiweb::make_trigger("q7Rt2ZpX") == kTrigger);
}
