#pragma once
// The OpenAI front: encodes the normalised event stream as OpenAI chat completion output.
//
// StreamEncoder: one SSE `data:` event per event, appended to a caller-owned buffer that the
// I/O shell writes out after each upstream read. One id/created per stream, `role` on the
// first delta, tool-call deltas normalised (always `index`; `id`, `type`, `function.name`
// only on a call's first delta, an id generated if the upstream gave none), finish_reason on
// the last choice chunk, the usage chunk (`choices: []`) only when the client asked, then
// `data: [DONE]`. An error event becomes an in-band {"error":{...}} event, then [DONE].
//
// ResponseAggregator: collects the same events into one `chat.completion` object (non-stream).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/model/events.hpp"

namespace zgate::openai {

struct StreamOptions {
  std::string id;          // response id ("chatcmpl-..."); empty = derived from the upstream id
  std::string model;       // model name shown to the client (the public name it asked for)
  int64_t created = 0;     // 0 = from the upstream start event, else now
  bool include_usage = false;
};

// What the gateway learned from the events, for the access log and usage accounting.
struct Outcome {
  Usage usage;
  FinishReason finish = FinishReason::none;
  bool saw_first_token = false;  // any reasoning/content/tool_call text
  bool error = false;
  std::string error_type;        // of the error event, if any
  int tool_calls = 0;
  // Bytes of generated text seen, for an estimate when the upstream reports no usage: answer
  // text plus tool-call names and arguments; reasoning text apart.
  int64_t content_bytes = 0;
  int64_t reasoning_bytes = 0;
};

class StreamEncoder final : public EventSink {
 public:
  StreamEncoder(std::string& out, StreamOptions opts);
  void on_event(const Event& e) override;
  // Ends the stream: the finish chunk if the upstream never sent one, the usage chunk when
  // asked, then [DONE]. Idempotent.
  void finish();
  // Ends the stream with an in-band error event, then [DONE] (upstream broke mid-stream).
  void fail(const ApiError& err);
  bool finished() const { return done_; }
  const Outcome& outcome() const { return outcome_; }

 private:
  void build_prefix(std::string_view upstream_id, std::string_view upstream_model, int64_t created);
  void open_chunk();
  void open_delta(bool content_follows);
  void close_chunk(std::string_view finish_reason);
  // A reasoning (content = false) or content delta: `key_open` is `"<field>":"`.
  void on_text(bool content, std::string_view key_open, std::string_view text);
  void on_tool_call(const Event& e);
  void write_finish(FinishReason r);
  std::string& out_;
  StreamOptions opts_;
  Outcome outcome_;
  std::string prefix_;             // `data: {"id":...,"choices":[{"index":0,"delta":` prebuilt once
  std::size_t head_len_ = 0;       // prefix_ up to `"choices":[`, reused by the usage chunk
  std::vector<unsigned char> seen_calls_;  // per tool index: header already sent
  bool role_sent_ = false;
  bool finish_sent_ = false;
  bool done_ = false;
};

class ResponseAggregator final : public EventSink {
 public:
  explicit ResponseAggregator(StreamOptions opts);
  void on_event(const Event& e) override;
  // Writes the chat.completion JSON into `out`.
  void write(std::string& out) const;
  bool failed() const { return outcome_.error; }
  const ApiError& error() const { return error_; }
  const Outcome& outcome() const { return outcome_; }

 private:
  struct Call { int index; std::string id, name, arguments; };
  StreamOptions opts_;
  Outcome outcome_;
  ApiError error_;
  std::string upstream_id_;
  std::string upstream_model_;
  int64_t created_ = 0;
  std::string content_, reasoning_;
  std::vector<Call> calls_;
};

// "chatcmpl-" + 24 random alphanumerics. (Tool calls without an id get model's new_call_id().)
std::string new_completion_id();

}  // namespace zgate::openai
