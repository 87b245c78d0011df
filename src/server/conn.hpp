#pragma once
// One downstream connection (Conn) and one request on it (Request), with the ResponseWriter
// that is the only place a response is written. Private to src/server.
#include <array>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "request_head.hpp"
#include "request_info.hpp"
#include "state.hpp"
#include "zgate/h1/head.hpp"
#include "zgate/io/eager.hpp"

namespace zgate {

// What lives as long as the connection: its socket, read buffer and deadline, and the
// per-connection buffers every request on it reuses.
struct Conn {
  Gateway::Impl& g;
  Worker& w;
  tcp::socket& sock;
  io::Deadline& dl;          // of the pending downstream read or write
  beast::flat_buffer& buf;   // bytes read and not yet parsed
  RequestHead& req;          // the current request's head and body
  std::string& head;         // the response head being written
  AuthMemo& auth_memo;       // the connection's last credential
  std::string_view client_ip;
  const std::shared_ptr<ConnCancel>& cancel;
  bool metrics_only = false;  // accepted on metrics_listen: only /metrics and /health are served
};

// How a step that writes to the client ended. `pending`: the socket did not take everything at
// once and the rest must be awaited.
enum class Step : unsigned char { done, failed, pending };

class ResponseWriter;
struct CachePlan;

// One request: its connection, the configuration generation it runs in, what is learned about
// it (for the record), and its response.
struct Request {
  Request(Conn& c, RequestParser& p, WorkerGeneration& wg)
      : conn(c), parser(p), req(c.req), gen(*wg.gen), cfg(*wg.gen->cfg), wps(wg.providers) {}
  Conn& conn;
  RequestParser& parser;
  const RequestHead& req;
  Generation& gen;           // the configuration generation this request runs in
  const Config& cfg;         // *gen.cfg
  ProviderWorkerState& wps;  // this worker's provider state for `gen`
  RequestInfo info;
  bool keep_alive = true;    // what the response announces (false: the connection closes after it)
  CachePlan* cache = nullptr;  // the response cache's plan, when it is on for this request

  // True when the request's pending operation was cancelled because the shutdown grace passed
  // (not because the client left): it is then answered with shutdown_error(), and nothing
  // cancels that answer; the connection closes after it.
  bool cut_by_shutdown();
};

// Writes the response of a Request: a whole one (JSON, an error, an empty 204) or a chunked SSE
// stream. Every write ends in wrote(), which records what the client did not get.
class ResponseWriter {
 public:
  explicit ResponseWriter(Request& r) : r_(r) {}

  // A whole response with a body; false when the write failed.
  net::awaitable<bool> send(int status, std::string body, std::string_view content_type, int retry_after = 0);
  // An OpenAI-style error response, recorded with its code.
  net::awaitable<bool> send_error(const ApiError& e);
  // A response of only a head: begin(status), fields via head(), then this.
  void begin(int status);
  std::string& head() { return r_.conn.head; }
  net::awaitable<bool> send_head();

  // A stream: the 200 head with Transfer-Encoding: chunked, then chunks.
  net::awaitable<bool> start_stream();
  // Sends `out` as one chunk (with `last`, the last chunk follows in the same write; an empty
  // `out` with `last` sends only the last chunk) and clears `out`, so `out` may be a buffer the
  // caller shares (a worker's stream output). Most chunks are taken by the socket at once, and
  // then this step costs no coroutine frame: chunk() returns done or failed. When it returns
  // pending, what the socket did not take has been copied here, and co_await chunk_rest() sends
  // it.
  Step chunk(std::string& out, bool last);
  net::awaitable<Step> chunk_rest();

 private:
  bool wrote(const io::Written& w);
  io::Written head_now(std::string_view body);
  net::awaitable<bool> write_head(std::string_view body);
  Request& r_;
  h1::ChunkSize size_;
  std::array<net::const_buffer, 3> bufs_;
  io::Written pending_;
  std::unique_ptr<std::string> rest_;  // the chunk a pending write sends (freed once written)
};

}  // namespace zgate
