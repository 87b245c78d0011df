#pragma once
// The per-connection HTTP/1 loop. Private to src/server.
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "state.hpp"

namespace zgate {

// Serves one downstream connection until it closes: heads within their deadlines, each request
// to the endpoints, keep-alive, and a lingering close when the client may still be sending.
// `metrics_only`: a connection to metrics_listen (only /metrics and /health are served).
net::awaitable<void> session(Gateway::Impl& g, Worker& w, tcp::socket sock, std::shared_ptr<ConnCancel> cancel,
                             bool metrics_only = false);

}  // namespace zgate
