#pragma once
// zai-web chat request: the signed completion request built from a normalised ChatRequest.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/dialect/zaiweb/options.hpp"
#include "zgate/model/route.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/model/request.hpp"
#include "zgate/dialect/zaiweb/identity.hpp"
#include "zgate/dialect/zaiweb/images.hpp"
#include "zgate/dialect/zaiweb/stream.hpp"

namespace zgate::zaiweb {

struct BuildContext {
  int64_t now_ms = 0;
  std::string request_id;       // UUIDv4: the signed requestId
  std::string chat_id;          // UUID (from build_new_chat_request, or random)
  std::string message_id;       // UUID of the assistant message (body `id`)
  std::string user_message_id;  // UUID: current_user_message_id
  std::vector<FileRef> images;  // one per plan_images() job, same order; empty id = pass the URL
  std::string tool_trigger;     // non-empty: emulate tools by prompt injection with this trigger
  std::string user_agent;       // overrides ZaiWebOptions::user_agent when set
};

// True when enable_thinking should be set: the route forces it, else the request asks
// (thinking / reasoning_effort), else off.
bool thinking_enabled(const ChatRequest& req, const ModelRoute& route);
// True when the request declares function tools and the provider emulates them.
bool wants_tool_emulation(const ChatRequest& req, const ZaiWebOptions& opts);
// The text that is signed and sent as signature_prompt: the last user message's text as
// rendered upstream (text parts joined by '\n'; a trailing tool result's rendering).
std::string signature_prompt(const ChatRequest& req);

// POST <signed_path>?<signed query> with X-Signature when opts.signing_secret is set, else
// POST <legacy_path> unsigned. Browser-style headers, X-FE-Version, features from the route
// and the request, history rendered as text (no wire tool_calls), images by file id.
UpstreamRequest build_chat_request(const ChatRequest& req, const ModelRoute& route, std::string_view upstream_model,
                                   const ZaiWebOptions& opts, const AuthInfo& auth, const BuildContext& ctx);

// POST /api/v1/chats/new: pre-creates the chat the completion then continues. Uses
// ctx.user_message_id as the message id and ctx.now_ms.
UpstreamRequest build_new_chat_request(const ChatRequest& req, std::string_view upstream_model,
                                       const ZaiWebOptions& opts, const AuthInfo& auth, const BuildContext& ctx);
// The chat id from its answer, or why the chat was not created.
Result<std::string> parse_new_chat_response(int status, std::string_view content_type, std::string_view body);

// Decoder options for a request built with `ctx`.
DecoderOptions decoder_options(const ChatRequest& req, const ZaiWebOptions& opts, const BuildContext& ctx,
                               std::string_view public_model);

}  // namespace zgate::zaiweb
