#pragma once
// The per-connection HTTP/1 loop. Private to src/server.
#include <memory>
#include <string>

#include "state.hpp"
#include "zgate/auth/auth.hpp"

namespace zgate {

// What a connection keeps between two sessions (see start_session).
struct ConnState {
  std::string client_ip;   // the client's address, as text ("" when the socket has none)
  AuthMemo auth_memo;      // the connection's last credential
  uint64_t memo_gen = 0;   // the configuration generation auth_memo was filled in
  bool metrics_only = false;  // a connection to metrics_listen (only /metrics and /health are served)
  bool resumed = false;    // not a new connection: one parked while idle, with its next request arriving
};

// Serves one downstream connection on `w` until it closes: heads within their deadlines, each
// request to the endpoints, keep-alive, and a lingering close when the client may still be
// sending. The connection's coroutine is spawned bound to a ConnCancel of its own. A connection
// idle between requests for longer than kParkAfter is parked: its coroutine ends, and what it
// keeps (the socket, a deadline, ConnState) waits for the next request without a frame; that
// request starts a session again. Thread-safe (the accept thread calls it for new connections).
void start_session(Gateway::Impl& g, Worker& w, tcp::socket sock, ConnState st);

// How long a keep-alive connection waits for its next request in its coroutine before it is
// parked. Most clients that keep a connection busy send their next request well within it.
inline constexpr Clock::duration kParkAfter = std::chrono::seconds(1);

}  // namespace zgate
