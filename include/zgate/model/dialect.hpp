#pragma once
// What an upstream dialect provides to the I/O shell, as pure functions over bytes.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zgate/core/error.hpp"
#include "zgate/model/events.hpp"

namespace zgate {

// One HTTP request to send upstream. The I/O shell adds Host, Content-Length and Connection;
// the dialect adds everything else it needs (Authorization, Content-Type, Accept, ...).
struct UpstreamRequest {
  std::string method = "POST";
  std::string target;  // absolute path + query, e.g. "/api/paas/v4/chat/completions"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Decodes the `data:` payloads of an upstream SSE stream into normalised events.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // One SSE event (data payload and event name). Emits zero or more events to `sink`.
  virtual void on_data(std::string_view data, std::string_view event_name, EventSink& sink) = 0;
  // The upstream ended its answer (e.g. [DONE] / a `done` phase); later data is ignored.
  virtual bool done() const = 0;
  // The upstream closed the stream. Emits whatever was held back (e.g. text that might have
  // been the start of a marker); default: nothing.
  virtual void on_end(EventSink&) {}
};

}  // namespace zgate
