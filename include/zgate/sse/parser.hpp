#pragma once
// Incremental Server-Sent Events parser (WHATWG framing).
// Our own because it runs once per upstream read on the hot path: it scans the bytes once,
// keeps only an unfinished event between feeds, and hands out views into its buffer, so a
// complete event inside one read costs no copy at all.
//
// Handles LF, CR and CRLF line ends (including a CR at the end of one read and LF at the
// start of the next), a leading BOM, ':' comments, several data lines (joined with '\n'),
// "data:" with or without one space, and ignores event/id/retry fields except `event`,
// which is reported. Events larger than max_event_size are an error.
#include <cstddef>
#include <string>
#include <string_view>

namespace zgate::sse {

struct Event {
  std::string_view event;  // the `event:` field, empty when absent
  std::string_view data;   // data lines joined with '\n'
};

class Parser {
 public:
  explicit Parser(std::size_t max_event_size = 8 * 1024 * 1024) : max_event_size_(max_event_size) {}

  enum class Status { ok, too_large };

  // Feeds bytes; calls on_event(const Event&) for each complete event, in order.
  // Views passed to on_event are valid only during the call.
  template <class F>
  Status feed(std::string_view bytes, F&& on_event);

  // At end of stream: a final event without the terminating blank line is dispatched
  // (servers that close right after the last data line still deliver it).
  template <class F>
  void finish(F&& on_event);

  // True while part of an unfinished event is buffered.
  bool has_partial() const { return !line_.empty() || !data_.empty() || have_data_; }

 private:
  // Processes one complete line (without its terminator). `stable` = the view points into the
  // caller's current feed rather than into line_, so it may be kept until the end of feed().
  template <class F>
  void on_line(std::string_view line, bool stable, F& on_event);
  void reset_event();

  std::size_t max_event_size_;
  std::string line_;   // unfinished line carried across feeds
  std::string data_;   // data of the event being assembled (only when it spans lines/feeds)
  std::string event_;  // event field of the event being assembled
  std::string_view single_data_;  // fast path: the only data line, viewing the current feed
  bool have_data_ = false;
  bool single_ = false;           // single_data_ is valid (not yet copied into data_)
  bool skip_lf_ = false;          // the previous feed ended with CR
  bool bom_checked_ = false;
  bool too_large_ = false;
};

}  // namespace zgate::sse

#include "zgate/sse/parser_impl.hpp"
