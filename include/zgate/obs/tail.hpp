#pragma once
// The live tail (GET /admin/requests/stream): finished requests handed to subscribers as the
// JSON access-log line, already framed as a Server-Sent Event ("data: <line>\n\n").
//
// TailHub is one more RecordConsumer: on the recorder thread it formats a record (once, and only
// when a subscriber wants it) and appends the framed line to each matching subscriber's bounded
// buffer, then, at the end of the pass, calls each subscriber's wake-up (the server posts it to
// the subscriber's worker). The worker takes the whole buffer by swapping it with its own
// (emptied) one and writes it as it is: per line, a worker does nothing, and in a steady state
// neither side allocates (the two buffers trade places and keep their capacity). The request path
// never sees any of this. A subscriber whose buffer would overflow (a client that does not read)
// is ended and counted, never waited for; with no subscriber the hub does nothing.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zgate/core/error.hpp"
#include "zgate/obs/access_record.hpp"
#include "zgate/obs/recorder.hpp"

namespace zgate::obs {

// Which records a subscriber receives; empty fields match everything.
struct TailFilter {
  std::string key;          // key label
  std::string model;        // the model the client asked for
  int status = 0;           // exact HTTP status; 0 = any
  bool errors_only = false;  // status >= 400 or an error type
  bool matches(const AccessRecord& r) const;
};

// The query string of /admin/requests/stream (`key`, `model`, `status`, `errors_only=1`),
// percent-decoded; an unknown parameter or a bad value is a 400 naming it.
Result<TailFilter> parse_tail_filter(std::string_view query);

struct TailLimits {
  std::size_t max_subscribers = 16;
  // Per subscriber: event bytes queued or being written to its client. It must hold one recorder pass
  // (100 ms) of lines at the highest request rate a tail should follow (limits.tail_buffer).
  std::size_t max_queued_bytes = 8 * 1024 * 1024;
};

class TailSubscription {
 public:
  // Worker side: swaps the queued events (framed, see above) with `out`, which the caller has
  // emptied (its capacity is kept for the next pass); false once the subscription has ended
  // (dropped or closed): nothing more will come after what was just taken. Calling it again
  // says the events taken before were written: until then they count against the bound.
  bool take(std::string& out);
  bool dropped() const;

 private:
  friend class TailHub;
  TailFilter filter_;
  std::function<void()> wake_;  // called by the recorder thread (or close) under mu_
  mutable std::mutex mu_;       // between the recorder thread and this subscriber's worker only
  std::string queue_;             // framed events not yet taken
  std::size_t queued_bytes_ = 0;  // queued, plus taken and maybe still being written
  std::size_t taken_bytes_ = 0;   // of those, the ones the last take() returned
  bool fresh_ = false;   // lines added in this pass: wake at its end
  bool ended_ = false;
  bool dropped_ = false;
};

struct TailStats {
  uint64_t subscribers = 0;  // now
  uint64_t dropped = 0;      // subscribers ended because they did not keep up
  uint64_t sent = 0;         // lines queued to subscribers
};

class TailHub {
 public:
  explicit TailHub(TailLimits limits = {});
  ~TailHub();
  TailHub(const TailHub&) = delete;
  TailHub& operator=(const TailHub&) = delete;

  // `wake` is called (on the recorder thread, or by close_all's caller) when lines were queued or
  // the subscription ended; it must only schedule work, never run it. Null when max_subscribers
  // are already subscribed or the hub is closed.
  std::shared_ptr<TailSubscription> subscribe(TailFilter filter, std::function<void()> wake);
  // The worker is done with it (its client left, or it ended).
  void unsubscribe(const std::shared_ptr<TailSubscription>& s);
  // Ends every subscription (waking each one last time) and refuses new ones: shutdown.
  void close_all();
  TailStats stats() const;

  // The hub as a recorder consumer (the hub must outlive the recorder's use of it).
  std::unique_ptr<RecordConsumer> consumer();

  // RecordConsumer's pass, on the recorder thread.
  void begin();
  void consume(const AccessRecord& r, int64_t finished_ms);
  void end();

 private:
  TailLimits limits_;
  mutable std::mutex mu_;  // subs_ and closed_: subscribe/unsubscribe and the start of a pass
  std::vector<std::shared_ptr<TailSubscription>> subs_;
  bool closed_ = false;
  std::atomic<std::size_t> count_{0};
  std::vector<std::shared_ptr<TailSubscription>> pass_;  // this pass's subscribers (recorder thread)
  std::string line_;                                     // reused (recorder thread)
  std::atomic<uint64_t> dropped_{0}, sent_{0};
};

}  // namespace zgate::obs
