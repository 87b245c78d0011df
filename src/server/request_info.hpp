#pragma once
// What the server learns about one request while it runs, read by the recorder when it ends
// (like Envoy's StreamInfo). Private to src/server; Boost-free.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "zgate/config/config.hpp"
#include "zgate/core/error.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/obs/access_record.hpp"
#include "zgate/policy/policy.hpp"

namespace zgate {

struct RequestInfo {
  using Clock = std::chrono::steady_clock;
  Clock::time_point t0 = Clock::now();
  std::string request_id;
  std::string_view key_label;
  std::string model, upstream_model;
  std::string_view provider;
  const ModelRoute* route = nullptr;
  // The bools and small numbers are kept together, here and below: this struct is part of the
  // `handle` coroutine's frame, which lives as long as the request (docs/architecture.md,
  // principle 8), and each lone bool before an 8-byte field cost 8 bytes.
  bool stream = false;
  bool recorded = false;  // goes to the access log and usage store (not /health and the like)
  int status = 0;  // what the client got (499 when it left first)
  // Upstream timings, microseconds since the exchange started (-1 = not reached).
  int64_t connect_us = 0, upstream_first_byte_us = -1;
  bool upstream_reused = false;
  bool upstream_ok = false;  // the upstream answered with a 200 head
  int64_t first_token_us = -1;
  uint64_t bytes_in = 0, bytes_out = 0;
  std::string error_type;  // "" = success
  openai::Outcome outcome;
  bool usage_estimated = false;  // outcome.usage is zgate's estimate (see estimate_usage)
  bool cache_hit = false;        // answered from the response cache (see `cache` below)
  bool chat = false;             // a chat request: its responses carry Server-Timing
  // The request's prompt-token estimate, taken before its conversation was freed (-1 = not
  // taken: estimate_usage reads the request).
  int64_t prompt_estimate = -1;
  // The response cache (AccessRecord::cache): "" = off for this request; a hit (or a coalesced
  // waiter) has no upstream usage and saved cost_saved_usd.
  std::string_view cache;
  double cost_saved_usd = 0;
  // The x-ratelimit-* headers of a chat request under a key with rate limits (none otherwise).
  policy::RateHeaders rate;
  // Time spent on the upstream (exchanges and retry waits), microseconds; -1 = none yet. While
  // an exchange runs, upstream_since_us is when it started (-1 otherwise).
  int64_t upstream_us = -1, upstream_since_us = -1;
  int attempts = 0;      // upstream attempts made
  std::string retries;   // why the earlier ones failed
  std::string upstream_trail;  // each attempt's provider and credential (AccessRecord::upstream_trail)
  // Upstream shaping: time spent waiting at the gate (queued, or for min_interval), summed over
  // attempts, microseconds (-1 = not shaped); the requests ahead on arrival (the most seen).
  int64_t queue_wait_us = -1;
  int queue_depth = 0;
  // Body capture (off unless [capture] is on and wants this key): the response bytes sent, cut
  // at capture_max.
  bool capture = false;
  bool captured_truncated = false;
  std::size_t capture_max = 0;
  std::string captured;

  void capture_append(std::string_view s) {
    const std::size_t room = capture_max - std::min(captured.size(), capture_max);
    if (s.size() > room) captured_truncated = true;
    captured.append(s.substr(0, room));
  }

  int64_t micros() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  }
  // Upstream time: an exchange or a retry wait begins / ends.
  void upstream_begin() { upstream_since_us = micros(); }
  void upstream_end() {
    if (upstream_since_us < 0) return;
    upstream_us = (upstream_us < 0 ? 0 : upstream_us) + micros() - upstream_since_us;
    upstream_since_us = -1;
  }
  // zgate's own time so far: the time since the request started less the upstream's.
  int64_t own_us() const {
    const int64_t now = micros();
    int64_t up = upstream_us < 0 ? 0 : upstream_us;
    if (upstream_since_us >= 0) up += now - upstream_since_us;
    return now - up;
  }
  // A chat answer the upstream accepted (its head was 200, or it generated text) but reported
  // no usage for, such as a stream cut short: bills an estimate from the request and the text
  // seen (policy::estimated_usage). A request that failed before the upstream answered keeps 0.
  void estimate_usage(const ChatRequest& req) {
    if (outcome.usage.present || usage_estimated || cache_hit) return;
    if (!outcome.saw_first_token && !upstream_ok) return;
    const int64_t prompt = prompt_estimate >= 0 ? prompt_estimate : policy::estimate_prompt_tokens(req);
    outcome.usage = policy::estimated_usage(prompt, outcome.content_bytes, outcome.reasoning_bytes);
    usage_estimated = true;
  }
  // The error the client got, for the record: its code, else its type.
  void note_error(const ApiError& e) { error_type = e.code.empty() ? e.type : e.code; }
  // The client went away (or a write to it failed) before it had its whole answer.
  void note_client_gone(bool write_timed_out) {
    if (write_timed_out) {
      error_type = "client_write_timeout";
      return;
    }
    if (status == 0 || status == 200) status = 499;  // nginx's "client closed request"
    error_type = "client_closed_request";
  }
};

// Appends the Server-Timing field of a chat response: the upstream phases reached so far and
// zgate's own time, in milliseconds.
void server_timing(std::string& head, const RequestInfo& info);

// The record of a finished request. Views point into `info`, `method`, `target` and `client_ip`.
AccessRecord to_record(const RequestInfo& info, std::string_view method, std::string_view target,
                       std::string_view client_ip);

// A client-supplied X-Request-Id is kept if it is short and plain (it ends up in logs);
// otherwise a new random id is made.
std::string request_id_from(std::string_view given);

// What a request still running when the shutdown grace has passed is answered with (an in-band
// error event when its stream has begun).
ApiError shutdown_error();
// Admission control's answer: the limit that was reached and when to come back.
ApiError overloaded(std::string_view what, std::size_t limit, std::string_view setting);

}  // namespace zgate
