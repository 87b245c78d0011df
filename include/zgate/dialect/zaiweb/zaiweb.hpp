#pragma once
// The zai-web dialect: chat.z.ai's web-frontend backend as an upstream (spec zai-web.md).
// Pure functions over bytes; the I/O side (HTTP calls, token cache, uploads) calls them in
// this order for one chat request:
//
//   1. Identity. A configured token: AuthInfo from auth_from_token() (or validate it with
//      profile_request() + parse_auth_response()). Guests: guest_auth_request(), send it on a
//      fresh connection without cookies (§5: a cookie jar turns a "new" guest into the old
//      one), parse_auth_response(). Optionally landing_page_request() + extract_fe_version()
//      at start (refresh_fe_version) and after a 426 "version outdated" error.
//   2. Images. plan_images(request, auth): for each job, upload_data_url -> decode_data_url(),
//      fetch_and_upload -> GET the URL (bounded size), then build_upload_request() +
//      parse_upload_response(); pass_through -> nothing. The FileRefs (empty id = not
//      uploaded) go to BuildContext::images in job order.
//   3. Chat. build_chat_request(...) with fresh ids (BuildContext) and, when
//      wants_tool_emulation(), a trigger from make_trigger(random). (Optionally
//      build_new_chat_request() + parse_new_chat_response() first, §6.6.)
//   4. Response. Status != 200 or a non-event-stream body: classify_http_error(). Else feed
//      the SSE payloads to StreamDecoder(decoder_options(...)); on EOF call on_end().
//   5. Refresh. is_auth_failure(status, body) (HTTP) or is_auth_failure(error) (an in-stream
//      error before anything was sent downstream): drop the cached token, get a new one
//      (step 1) and retry once.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/dialect/zaiweb/options.hpp"
#include "zgate/model/route.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/request.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/dialect/zaiweb/sign.hpp"
#include "zgate/dialect/zaiweb/stream.hpp"
#include "zgate/dialect/zaiweb/tools.hpp"

namespace zgate::zaiweb {

// The web origin the backend expects in Origin / Referer, whatever host zgate connects to.
inline constexpr std::string_view kOrigin = "https://chat.z.ai";
// Used when ZaiWebOptions::user_agent is empty: a current desktop Chrome.
inline constexpr std::string_view kDefaultUserAgent =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0.0.0 Safari/537.36";

// ---------------------------------------------------------------------------------------------
// Identity (§2, §5)

struct AuthInfo {
  std::string token, user_id, name, role;  // role: "guest" | "user" (may be empty)
  bool is_guest() const { return role == "guest"; }
};

// GET /api/v1/auths/ without Authorization: signs in a new guest.
UpstreamRequest guest_auth_request(const ZaiWebOptions& opts);
// GET /api/v1/auths/ with the token: that identity's profile (validates a configured token).
UpstreamRequest profile_request(const ZaiWebOptions& opts, std::string_view token);
// GET / (the landing page, for extract_fe_version).
UpstreamRequest landing_page_request(const ZaiWebOptions& opts);

struct AuthResult {
  bool ok = false;
  AuthInfo info;
  ApiError error;  // when !ok: captcha, refused guest sign-in, bad token, malformed answer
};
// Parses the /api/v1/auths/ answer. `sent_token`: the token of a profile_request (kept when
// the answer omits it).
AuthResult parse_auth_response(int status, std::string_view content_type, std::string_view body,
                               std::string_view sent_token = {});

// AuthInfo from a configured token alone: user_id = the JWT payload `id` (empty when the
// token is not a JWT), role unknown.
AuthInfo auth_from_token(std::string_view token);
// The `id` of a JWT's payload ("" when not a JWT or no id).
std::string jwt_user_id(std::string_view token);

// The first "prod-fe-X.Y.Z" in the landing page HTML.
std::optional<std::string> extract_fe_version(std::string_view html);

// True when the token must be refreshed: HTTP 401, or a body whose error code is 401 /
// says the token is invalid or expired. Captcha, model-level and WAF refusals are not.
bool is_auth_failure(int status, std::string_view body);
// The same for an error the decoder or classify_http_error produced.
bool is_auth_failure(const ApiError& e);

// ---------------------------------------------------------------------------------------------
// Images (§6.5)

// A file uploaded with POST /api/v1/files/.
struct FileRef {
  std::string id, user_id, filename, content_type, cdn_url;
  int64_t size = 0;
  int64_t created_at = 0;
};

struct DataUrl {
  std::string content_type;  // e.g. image/png ("application/octet-stream" when not given)
  std::string bytes;
};
struct DataUrlResult {
  bool ok = false;
  DataUrl value;
  ApiError error;  // 400 invalid_request_error
};
// Decodes `data:[<type>][;base64],<data>` (base64 or percent-encoded).
DataUrlResult decode_data_url(std::string_view url);

enum class ImageAction : unsigned char {
  upload_data_url,   // decode_data_url, then upload
  fetch_and_upload,  // an http(s) URL: GET it, then upload (the backend needs its own file id)
  pass_through,      // send the URL as is (guests cannot upload, §5)
};
struct ImageJob {
  std::size_t message = 0;  // index into ChatRequest::messages
  std::size_t part = 0;     // index into Message::parts
  ImageAction action = ImageAction::pass_through;
  std::string url;
  std::string filename;     // suggested upload filename (image-<n>.<ext>)
};
// The image parts of the request in message order, with what to do for each. Guests pass
// http(s) URLs through and still try to upload data: URLs (the upload error then explains).
std::vector<ImageJob> plan_images(const ChatRequest& req, const AuthInfo& auth);

// POST /api/v1/files/ (multipart/form-data, field "file").
UpstreamRequest build_upload_request(const AuthInfo& auth, const ZaiWebOptions& opts, std::string_view filename,
                                     std::string_view content_type, std::string_view bytes,
                                     std::string_view boundary);
struct UploadResult {
  bool ok = false;
  FileRef file;
  ApiError error;
};
UploadResult parse_upload_response(int status, std::string_view content_type, std::string_view body);

// ---------------------------------------------------------------------------------------------
// The chat request (§3, §4, §6)

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

// POST /api/v1/chats/new: pre-creates the chat the completion then continues (§6.6). Uses
// ctx.user_message_id as the message id and ctx.now_ms.
UpstreamRequest build_new_chat_request(const ChatRequest& req, std::string_view upstream_model,
                                       const ZaiWebOptions& opts, const AuthInfo& auth, const BuildContext& ctx);
// The chat id from its answer ("" on failure; `err` explains).
std::string parse_new_chat_response(int status, std::string_view content_type, std::string_view body, ApiError& err);

// Decoder options for a request built with `ctx`.
DecoderOptions decoder_options(const ChatRequest& req, const ZaiWebOptions& opts, const BuildContext& ctx,
                               std::string_view public_model);

// ---------------------------------------------------------------------------------------------
// Errors (§7.8, §10)

// A non-200 answer, or a 200 answer that is not an event stream. Recognises the WAF HTML
// page, signature failures, 426 version/verification errors, model-level 403, 401, 429 /
// concurrency and captcha demands; each message says what happened and what to do.
ApiError classify_http_error(int status, std::string_view content_type, std::string_view body);

// An error reported inside the stream (`detail`, `code` as text, `error_code`).
// `after_content`: some answer text had already been streamed.
ApiError classify_stream_error(std::string_view detail, std::string_view code, std::string_view error_code,
                               bool after_content);

}  // namespace zgate::zaiweb
