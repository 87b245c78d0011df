#pragma once
// The parts of the mock's Zhipu v4 dialect (private to src/mock/v4). Pure: request bytes in,
// Plan out; the wire format is described in docs/protocols/zhipu-v4.md.
//
//   request.cpp    the request as the mock needs it (model, stream, tools, last turns)
//   auth.cpp       API keys and HS256 JWTs
//   render.cpp     an Answer as SSE chunks or as one JSON body
//   scenarios.cpp  scenario name -> Plan
//   dialect.cpp    the route: auth, scenario selection, concurrency, the --fast plan cache
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/mock/plan.hpp"
#include "zgate/mock/util.hpp"

namespace zgate::mock::v4 {

// ---- request.cpp

struct ToolInfo {
  std::string name;
  std::string args;      // plausible arguments (JSON text) for a first call
  std::string args_alt;  // different values, for a second (parallel) call
};

struct V4Request {
  std::string model = "glm-4.6";
  bool stream = false;
  bool thinking = false;  // "thinking":{"type":"enabled"} given explicitly
  int64_t max_tokens = 0;
  std::string request_id;
  std::vector<ToolInfo> tools;
  bool has_user = false;
  std::string last_role;
  std::string last_user_text;
  std::string last_tool_content;
  std::size_t body_size = 0;
};

// False when the body is not the JSON object of a chat request.
bool parse_request(const MockRequest& req, V4Request& out);

// ---- auth.cpp

struct AuthResult {
  bool ok = false;
  std::string principal;  // concurrency key
  int status = 401;
  std::string_view code;
  std::string_view message;
};

// Bearer <key> from `keys` (any non-empty bearer when `keys` is empty), or Bearer <jwt> / a
// bare JWT signed HS256 with the secret of a configured "id.secret" key, exp in milliseconds.
AuthResult check_auth(const MockRequest& req, const std::vector<std::string>& keys);

// ---- render.cpp

struct ToolCall {
  std::string name, args, stream_id, id;
};

enum class ToolMode : unsigned char { whole, fragmented, repeat, finish_args, index_missing };

// What the model "says"; rendered either as an SSE stream or as one JSON body.
struct Answer {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> calls;
  ToolMode tool_mode = ToolMode::whole;
  std::string_view finish = "stop";
  bool content_filter = false;
  int64_t completion_tokens = 0;  // 0 = estimate from the text
};

struct Head {
  std::string id;
  int64_t created = 0;
  std::string_view model;
  std::string_view request_id;
  bool f2026 = false;  // the 2026 format: `object` and `reasoning_tokens`
};

// Stream events of an answer (without [DONE]); content is cut into `chunks` pieces.
std::vector<std::string> stream_events(const Head& h, const V4Request& rq, const Answer& a, std::size_t chunks);
// The non-streamed body, keys in the wire's alphabetical order.
std::string nonstream_body(const Head& h, const V4Request& rq, const Answer& a);

// ---- scenarios.cpp

struct Build {
  const MockRequest& req;
  const V4Request& rq;
  const Scenario& sc;
  MockContext& mc;
  Head head;
  Millis delay{0};
  std::size_t chunks = 8;
};

// Scenarios that answer without looking at the body (selectable by header alone); nullptr
// for any other name.
PlanPtr bodyless_plan(const Scenario& sc);
// The plan of the scenario `b.sc`; nullptr for an unknown name.
PlanPtr build_plan(Build& b);

}  // namespace zgate::mock::v4
