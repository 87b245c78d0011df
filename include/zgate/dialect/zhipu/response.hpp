#pragma once
// The response half of the zhipu "paas v4" dialect: its SSE chunks and its non-stream
// chat.completion body, decoded into the normalised event stream (model/events.hpp).
//
// Each payload is parsed in one pass with the thread's simdjson parser; the views it collects
// (strings unescaped into the parser's buffer) are emitted only once the whole payload parsed,
// so a malformed frame yields a single error event and never half a chunk. Events of one chunk
// come in a fixed order: start (first chunk only), reasoning, content, tool calls, usage, finish.
//
// Lone UTF-16 surrogate escapes never fail the stream (json/surrogates.hpp): a character split
// between two deltas of the same field is rejoined, anything unpairable becomes U+FFFD. A held
// high surrogate is released as U+FFFD when that field's next delta does not complete it, when
// another field's text comes first, and before a finish, an error or the end of the stream.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/core/error.hpp"
#include "zgate/json/surrogates.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/model/events.hpp"
#include "zgate/dialect/zhipu/errors.hpp"

namespace zgate::zhipu {

// Maps a v4 `finish_reason` to ours: sensitive -> content_filter, model_context_window_exceeded
// -> length, network_error -> error; unknown values -> stop (the answer did end).
FinishReason map_finish_reason(std::string_view v4);

class V4StreamDecoder final : public StreamDecoder {
 public:
  // Room for a typical chunk's payload (it grows once for a larger one): one decoder lives as
  // long as its stream, and a server holds thousands of mostly silent streams.
  V4StreamDecoder() { buf_.reserve(512); }
  void on_data(std::string_view data, std::string_view event_name, EventSink& sink) override;
  // True after [DONE], or after an error event (nothing more can be sent downstream).
  bool done() const override { return done_; }
  // Sends a half surrogate pair still held as U+FFFD.
  void on_end(EventSink& sink) override;

  // One tool-call fragment as collected from a payload (views into the parser's buffers).
  struct CallView {
    int index = -1;  // as sent; < 0 = missing or negative
    std::string_view id, name, arguments;
  };

 private:
  // The call index for a fragment. A valid `index` is used as sent. Without one (missing or
  // negative): a fragment with an id goes to the call that had that id, or starts
  // the next call when the id is new (whole calls sent one per chunk, all with index -1);
  // a fragment without id continues the last call placed when it is alone in its chunk, else
  // it takes its array position.
  int resolve_index(const CallView& c, int position, bool alone);

  // Text of one streamed field (reasoning, content, or a call's arguments) with its held
  // surrogate; field < 0: reasoning (-2) / content (-1), else the call index.
  struct Held {
    int field;
    json::SurrogateJoiner joiner;
  };
  // Sends `e` (a reasoning, content or tool_call event) with its text joined for `field`.
  void emit_text(EventSink& sink, int field, Event e);
  // Releases held surrogates as U+FFFD: all of them, or (`keep_*`) all but the fields that
  // have text in the current chunk.
  void release(EventSink& sink, bool keep_reasoning = false, bool keep_content = false,
               const std::vector<int>* keep_calls = nullptr);
  bool holding() const { return !held_.empty(); }

  std::string buf_;               // padded copy of the payload, reused across chunks
  std::vector<CallView> calls_;   // tool-call fragments of the current chunk, reused
  json::StringSpill spill_;       // strings simdjson rejected, decoded (lone surrogates)
  std::vector<Held> held_;        // fields with a held high surrogate (rare; usually empty)
  std::vector<int> call_index_;   // resolved indices of calls_ (slow path only), reused
  std::string text_;              // joined text of one event (slow path only), reused
  std::vector<std::string> call_ids_;  // id per call index seen, to place index-less fragments
  int last_index_ = -1;                // index of the last fragment placed
  Usage usage_;
  ApiError error_;
  bool started_ = false;
  bool done_ = false;
};

// Decodes a non-stream v4 chat.completion body: start, reasoning, content, one tool_call per
// call (whole arguments), usage, finish. The error instead when the body is not a valid v4
// response (502 upstream_error) or is a v4 error object (mapped like in_band_error); nothing is
// emitted then.
Result<void> decode_response(std::string_view body, EventSink& sink);

}  // namespace zgate::zhipu
