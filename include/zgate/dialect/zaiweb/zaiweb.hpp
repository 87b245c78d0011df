#pragma once
// The zai-web dialect: chat.z.ai's web-frontend backend as an upstream (docs/protocols/zai-web.md).
// Pure functions over bytes; the I/O side (HTTP calls, token cache, uploads) calls them in
// this order for one chat request:
//
//   1. Identity. A configured token: AuthInfo from auth_from_token() (or validate it with
//      profile_request() + parse_auth_response()). Guests: guest_auth_request(), send it on a
//      fresh connection without cookies (a cookie jar turns a "new" guest into the old
//      one), parse_auth_response(). Optionally landing_page_request() + extract_fe_version()
//      at start (refresh_fe_version) and after a 426 "version outdated" error.
//   2. Images. plan_images(request, auth): for each job, upload_data_url -> decode_data_url(),
//      fetch_and_upload -> GET the URL (bounded size), then build_upload_request() +
//      parse_upload_response(); pass_through -> nothing. The FileRefs (empty id = not
//      uploaded) go to BuildContext::images in job order.
//   3. Chat. build_chat_request(...) with fresh ids (BuildContext) and, when
//      wants_tool_emulation(), a trigger from make_trigger(random). (Optionally
//      build_new_chat_request() + parse_new_chat_response() first.)
//   4. Response. Status != 200 or a non-event-stream body: classify_http_error(). Else feed
//      the SSE payloads to StreamDecoder(decoder_options(...)); on EOF call on_end().
//   5. Refresh. is_auth_failure(status, body) (HTTP) or is_auth_failure(error) (an in-stream
//      error before anything was sent downstream): drop the cached token, get a new one
//      (step 1) and retry once.
#include "zgate/dialect/zaiweb/chat.hpp"
#include "zgate/dialect/zaiweb/errors.hpp"
#include "zgate/dialect/zaiweb/identity.hpp"
#include "zgate/dialect/zaiweb/images.hpp"
#include "zgate/dialect/zaiweb/sign.hpp"
#include "zgate/dialect/zaiweb/stream.hpp"
#include "zgate/dialect/zaiweb/tools.hpp"
