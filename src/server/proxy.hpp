#pragma once
// The proxy: a chat request from its authentication to its answer. Private to src/server.
#include <boost/asio/awaitable.hpp>

#include "conn.hpp"
#include "retry.hpp"

namespace zgate {

// POST /v1/chat/completions: authenticate (on the head alone), admit, read and parse the body,
// route, then upstream attempts with retries, each an exchange(). True to keep the connection.
net::awaitable<bool> handle_chat(Request& c, ResponseWriter& out);

// One upstream attempt and, when it succeeds, the whole answer to the client. `backoff` (null
// when no further attempt is possible) is where a retryable failure is held, before anything was
// sent to the client, returning Next::backoff instead of answering. Once the upstream has
// answered 200 it frees the request's content (`creq`'s conversation, `prep.request.body`, the
// client's body): a long conversation is not held for the answer's whole life.
net::awaitable<Next> exchange(Request& c, ResponseWriter& out, ChatRequest& creq, ProviderRuntime& prt,
                              PreparedRequest& prep, bool may_retry, Backoff* backoff,
                              KeyLease& lease);

}  // namespace zgate
