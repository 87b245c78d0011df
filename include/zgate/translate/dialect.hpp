#pragma once
// What an upstream dialect provides to the I/O shell, as pure functions over bytes.
#include <string>
#include <string_view>

#include "zgate/core/error.hpp"
#include "zgate/translate/events.hpp"

namespace zgate {

// Decodes the `data:` payloads of an upstream SSE stream into normalised events.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // One SSE event (data payload and event name). Emits zero or more events to `sink`.
  virtual void on_data(std::string_view data, std::string_view event_name, EventSink& sink) = 0;
  // The upstream ended its answer (e.g. [DONE] / a `done` phase); later data is ignored.
  virtual bool done() const = 0;
};

}  // namespace zgate
