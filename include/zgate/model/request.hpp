#pragma once
// The normalised chat request: what a client's chat request means, independent of any upstream
// dialect. A front parses it once per request (owning strings: it may outlive the parse buffer,
// e.g. across the zai-web image uploads); the dialect's request builder renders it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zgate {

enum class Role : unsigned char { system, user, assistant, tool };
std::string_view to_string(Role r);

struct ContentPart {
  enum class Kind : unsigned char { text, image_url, other };
  Kind kind = Kind::text;
  std::string text;    // text: the text; image_url: the URL (http(s) or data:)
  std::string detail;  // image_url: detail, if given
  std::string raw;     // other: the part's raw JSON (video_url, file_url, input_audio, ...)
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // a JSON-encoded string's contents (not re-encoded)
};

struct Message {
  Role role = Role::user;
  bool has_parts = false;           // content was an array of parts
  bool content_null = false;        // content was null / absent
  std::string content;              // string content; for has_parts, the text parts joined
  std::vector<ContentPart> parts;   // when has_parts
  std::string reasoning_content;    // assistant history: earlier reasoning, passed back
  std::vector<ToolCall> tool_calls; // assistant history
  std::string tool_call_id;         // tool result
  std::string name;                 // dropped by upstreams that reject it
};

struct ToolDef {
  std::string type;         // "function", or a provider built-in ("web_search", "retrieval")
  std::string name;         // function tools
  std::string description;  // function tools
  std::string parameters;   // function tools: raw JSON schema ("" when absent)
  std::string raw;          // raw JSON of the whole tool (for non-function tools)
};

enum class ToolChoice : unsigned char { unset, auto_, none, required, named };

struct ChatRequest {
  std::string model;
  std::vector<Message> messages;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage

  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;  // max_completion_tokens wins over max_tokens
  std::vector<std::string> stop;
  std::optional<int64_t> seed;
  std::string user;

  std::vector<ToolDef> tools;
  ToolChoice tool_choice = ToolChoice::unset;
  std::string tool_choice_name;  // ToolChoice::named
  bool tool_stream = false;

  std::string response_format;  // "", "text", "json_object", "json_schema"
  std::string json_schema;      // raw JSON of response_format.json_schema

  std::optional<bool> thinking;  // from `thinking` ({type}) or `reasoning_effort`
  std::string reasoning_effort;

  // Fields zgate does not interpret, kept verbatim: (key, raw JSON value). The dialect decides
  // which of them to pass on.
  std::vector<std::pair<std::string, std::string>> extra;
};

// Frees the conversation and everything else only the upstream request's builder reads (messages,
// tools, stop words, the schema, the verbatim fields); the model, the flags and the numbers stay.
// For an answer under way, which no retry will send again: a stream may stay open for minutes,
// and a conversation (images included) can be megabytes.
void release_content(ChatRequest& r);

}  // namespace zgate
