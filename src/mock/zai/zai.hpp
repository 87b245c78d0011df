#pragma once
// The parts of the mock's chat.z.ai web-frontend dialect (private to src/mock/zai). Pure:
// request bytes in, Plan out; the wire format is described in docs/protocols/zai-web.md, the
// routes and scenarios in src/mock/README.md.
//
//   identity.cpp     guest tokens, Bearer checks, revoked tokens, the JSON/HTML error plans
//   request.cpp      the chat request as the mock needs it (and the tool prompt zgate injects)
//   frames.cpp       chat:completion payloads and their rendering as a timed SSE plan
//   answers.cpp      generated answers (plain, thinking, a tool call, a tool result)
//   transcripts.cpp  the recorded transcripts of tests/fixtures/zaiweb/transcripts, replayed
//   routes.cpp       landing page, models, auths, uploads, chats; the registration
//   completions.cpp  the completion endpoints: checks in order, then the scenario
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

#include "zgate/mock/plan.hpp"
#include "zgate/mock/util.hpp"

namespace zgate::mock::zai {

// ---- identity.cpp

// Per mock instance: revoked tokens, pre-created chats, uploaded files.
struct ZaiState {
  std::mutex mutex;
  std::unordered_set<std::string> revoked;
  std::unordered_set<std::string> chats;
  std::unordered_map<std::string, std::string> files;  // file id -> owner id
};

// The calling thread's DOM parser.
simdjson::dom::parser& dom();

PlanPtr json_plan(int status, std::string body, const char* label);
// {"detail": "..."} with `status`, the frontend's error shape.
PlanPtr detail_plan(int status, std::string_view detail, const char* label);
// The 405 HTML page of the web application firewall.
PlanPtr waf_plan();

// A JWT-shaped token whose payload is {"id","email"}. Like a proxy, the mock cannot check its
// ES256 signature and does not try.
struct Identity {
  bool ok = false;
  std::string token, id, email;
  bool guest = true;  // no email, or a "Guest-..." one
};

// A new guest: a random id, a "Guest-<ms>@guest.com" email and a token carrying both.
Identity new_guest();
// The caller's identity, or nullopt with `err` = the 401 to answer (no token, unreadable, revoked).
std::optional<Identity> authenticate(const MockRequest& req, MockContext& mc, PlanPtr& err);
// The request's Bearer token, "" without one.
std::string_view bearer(const MockRequest& req);

// ---- request.cpp

struct ToolSpec {
  std::string name, args;
};

struct ChatReq {
  std::string model, signature_prompt, chat_id, last_user_text, system_text, trigger;
  bool stream = false, thinking = false, has_signature_prompt = false, tool_result_last = false;
  std::vector<ToolSpec> tools;  // from the tool prompt zgate puts in the system message
  std::size_t body_size = 0;
};

// False when the body is not a JSON object.
bool parse_chat(const MockRequest& req, ChatReq& r);

// ---- frames.cpp

std::string frame_delta(std::string_view phase, std::string_view text);
std::string frame_edit(std::string_view phase, int64_t index, std::string_view text);
std::string frame_usage(int64_t prompt, int64_t completion, int64_t cached = 0);
std::string frame_done();
// The double-nested inline error. `code_json` is a raw JSON value (426 or "X").
std::string frame_error(std::string_view detail, std::string_view code_json, std::string_view error_code = {});

// What the upstream sends: chat:completion payloads, then how the response ends.
struct Answer {
  std::vector<std::string> payloads;
  End end = End::complete;
};

// Stream knobs any scenario takes: delay_ms, first_ms, spaced=1 (2025-style JSON spacing),
// done_marker=1 (a trailing [DONE]), hostile=1 (writes cut inside "data: " and UTF-8 sequences).
struct StreamKnobs {
  Millis delay{0}, first{0};
  bool spaced = false, done_marker = false, hostile = false;
};
StreamKnobs knobs(const Scenario* sc, const MockContext& mc);

// A 200 text/event-stream plan with no steps yet.
std::shared_ptr<Plan> sse_plan(const char* label);
// One SSE event per payload, one write per event (or hostile cuts), delays between writes.
std::shared_ptr<Plan> stream_plan(const Answer& a, const StreamKnobs& k, const char* label);

// ---- answers.cpp

Answer plain_answer(const ChatReq& r, std::string_view text, std::size_t chunks);
Answer details_answer(const ChatReq& r, std::string_view reasoning, std::string_view text, std::size_t chunks);
Answer plain_thinking_answer(const ChatReq& r, std::string_view reasoning, std::string_view text,
                             std::size_t chunks);
Answer tool_answer(const ChatReq& r);
// The answer to a turn whose last user message carries a <tool_response>: it quotes the result.
std::string tool_response_text(const ChatReq& r);

// ---- transcripts.cpp

struct Transcript {
  std::string name;                   // "t01" ... "t19", "split_surrogate"
  std::vector<std::string> payloads;  // the data of each event, in order
};
// The transcript called `name`, nullptr if there is none.
const Transcript* transcript(std::string_view name);
// The first payload of a one-frame error transcript (t11, t12, t14, t15).
std::string first_payload(std::string_view name);
// The transcript as the request would get it (t08 with the request's trigger; t16 cut off).
Answer replay(const Transcript& t, const ChatReq& r);
// t19: the framing variations, played from the fixture.
std::shared_ptr<Plan> framing_plan(const StreamKnobs& k);

// ---- completions.cpp

// POST /api/v2/chat/completions and the legacy /api/chat/completions.
PlanPtr handle_completions(const MockRequest& req, MockContext& mc);

// The fixture files, embedded at build time (generated zaiweb_transcripts.cpp): name = the
// file name without ".sse", lower case ("t01"), bytes = the file.
struct EmbeddedFile {
  std::string_view name;
  std::string_view bytes;
};
extern const EmbeddedFile kTranscriptFiles[];
extern const std::size_t kTranscriptFileCount;

}  // namespace zgate::mock::zai
