// The ResponseWriter: response heads, whole responses, errors and the chunks of a stream.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "conn.hpp"
#include "zgate/front/openai/error.hpp"

namespace zgate {

bool Request::cut_by_shutdown() {
  if (!conn.dl.aborted() || conn.dl.hung_up()) return false;
  conn.dl.unwatch();
  keep_alive = false;
  return true;
}

void ResponseWriter::begin(int status) {
  std::string& h = r_.conn.head;
  h.clear();
  h1::status_line(h, status);
  h1::field(h, "X-Request-Id", r_.info.request_id);
  if (!r_.cfg.cors_origin.empty()) {
    h1::field(h, "Access-Control-Allow-Origin", r_.cfg.cors_origin);
    h1::field(h, "Access-Control-Expose-Headers",
              r_.info.rate.any() ? std::string_view("X-Request-Id, Server-Timing, X-Cache, x-ratelimit-limit-requests, "
                                                    "x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "
                                                    "x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, "
                                                    "x-ratelimit-reset-tokens")
                                 : std::string_view("X-Request-Id, Server-Timing, X-Cache"));
  }
  if (r_.info.chat) server_timing(h, r_.info);
  if (r_.info.rate.any()) r_.info.rate.append(h);
  if (!r_.info.cache.empty()) {
    h1::field(h, "X-Cache", r_.info.cache_hit ? std::string_view("HIT")
                            : r_.info.cache == "bypass" ? std::string_view("BYPASS")
                                                        : std::string_view("MISS"));
  }
  if (!r_.keep_alive) h1::field(h, "Connection", "close");
  r_.info.status = status;
}

// Every write to the client ends here: a failed one is recorded as what it was.
bool ResponseWriter::wrote(const io::Written& w) {
  r_.info.bytes_out += w.n;
  if (w.ec) r_.info.note_client_gone(r_.conn.dl.expired());
  return !w.ec;
}

// The head and `body` in one gather write. The usual case (the socket takes it all at once)
// costs no coroutine frame beyond the caller's.
io::Written ResponseWriter::head_now(std::string_view body) {
  r_.conn.dl.arm(r_.cfg.timeouts.client_write);
  return io::try_write(r_.conn.sock, std::array<net::const_buffer, 2>{net::buffer(r_.conn.head),
                                                                      net::buffer(body.data(), body.size())});
}

net::awaitable<bool> ResponseWriter::write_head(std::string_view body) {
  io::Written w = head_now(body);
  if (!w.complete) {
    w = co_await io::write_rest(r_.conn.sock, std::array<net::const_buffer, 2>{net::buffer(r_.conn.head),
                                                                              net::buffer(body.data(), body.size())},
                                w);
  }
  co_return wrote(w);
}

net::awaitable<bool> ResponseWriter::send_head() {
  h1::end(r_.conn.head);
  co_return co_await write_head({});
}

net::awaitable<bool> ResponseWriter::send(int status, std::string body, std::string_view content_type,
                                          int retry_after) {
  begin(status);
  std::string& h = r_.conn.head;
  h1::field(h, "Content-Type", content_type);
  if (retry_after > 0) h1::field(h, "Retry-After", static_cast<uint64_t>(retry_after));
  h1::field(h, "Content-Length", static_cast<uint64_t>(body.size()));
  h1::end(h);
  if (r_.info.capture) r_.info.capture_append(body);
  co_return co_await write_head(body);
}

net::awaitable<bool> ResponseWriter::send_error(const ApiError& e) {
  r_.info.note_error(e);
  co_return co_await send(e.status, openai::error_body(e), "application/json", e.retry_after);
}

net::awaitable<bool> ResponseWriter::start_stream() {
  begin(200);
  std::string& h = r_.conn.head;
  h1::field(h, "Content-Type", "text/event-stream");
  h1::field(h, "Cache-Control", "no-cache");
  h1::field(h, "X-Accel-Buffering", "no");
  h1::field(h, "Transfer-Encoding", "chunked");
  h1::end(h);
  co_return co_await write_head({});
}

Step ResponseWriter::chunk(std::string& out, bool last) {
  if (out.empty() && !last) return Step::done;  // an empty chunk would end the body
  if (r_.info.capture) r_.info.capture_append(out);
  io::Deadline& dl = r_.conn.dl;
  dl.arm(r_.cfg.timeouts.client_write);
  if (last) dl.heartbeat({});  // nothing may follow the last chunk
  if (out.empty()) {
    bufs_ = {net::buffer(h1::kLastChunk.data(), h1::kLastChunk.size()), net::const_buffer(), net::const_buffer()};
  } else {
    size_ = h1::chunk_size(out.size());
    const std::string_view tail = last ? h1::kChunkEndAndLast : h1::kChunkEnd;
    bufs_ = {net::buffer(size_.bytes, size_.size), net::buffer(out), net::buffer(tail.data(), tail.size())};
  }
  pending_ = io::try_write(r_.conn.sock, bufs_);
  if (!pending_.complete) {
    // Rare (a client reading slower than the stream): the chunk is kept here, and `out` is free
    // for the caller at once.
    rest_ = std::make_unique<std::string>(std::move(out));
    out.clear();
    bufs_[1] = net::buffer(*rest_);
    return Step::pending;
  }
  out.clear();
  return wrote(pending_) ? Step::done : Step::failed;
}

// The rest of a chunk the socket did not take at once; the watchdog's heartbeats hold off
// meanwhile.
net::awaitable<Step> ResponseWriter::chunk_rest() {
  io::Deadline& dl = r_.conn.dl;
  dl.writing(true);
  pending_ = co_await io::write_rest(r_.conn.sock, bufs_, pending_);
  dl.writing(false);
  rest_.reset();
  co_return wrote(pending_) ? Step::done : Step::failed;
}

}  // namespace zgate
