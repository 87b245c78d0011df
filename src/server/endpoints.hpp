#pragma once
// The endpoints zgate serves: one table of method + path -> handler. A new endpoint (metrics,
// admin) is one more row and one more handler here. Private to src/server.
#include <boost/asio/awaitable.hpp>

#include "conn.hpp"

namespace zgate {

// Answers one request whose head has been read, in generation `wg`, and records it. True to
// keep the connection. The Request lives in this coroutine's frame, which exists only while
// the request does: an idle keep-alive connection does not carry it.
net::awaitable<bool> handle(Conn& conn, RequestParser& parser, WorkerGeneration& wg);

// The operator's key, checked on the head (see Authenticator::check_admin); on success the
// request is recorded with the key label "admin".
Result<void> authenticate_admin(Request& c);

// GET /admin/usage and GET /admin/requests (admin.cpp): reports over the usage store for the
// operator, run on the admin query thread.
net::awaitable<bool> admin_usage(Request& c, ResponseWriter& out);
net::awaitable<bool> admin_requests(Request& c, ResponseWriter& out);
// GET /admin/requests/stream (admin.cpp): the live tail of finished requests.
net::awaitable<bool> requests_stream(Request& c, ResponseWriter& out);
// POST /admin/reload (admin.cpp): re-reads and applies the configuration, like SIGHUP.
net::awaitable<bool> admin_reload(Request& c, ResponseWriter& out);

// Hands a finished request's record to the recorder (when it is one that is recorded).
void record(Request& c);

}  // namespace zgate
