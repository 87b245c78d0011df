#pragma once
// What zgate records about one finished request: the access log writes it as a line and the
// usage store as a row (both via obs::Recorder).
#include <cstdint>
#include <string_view>

namespace zgate {

// Time fields are microseconds since the request started; -1 = the phase was not reached.
// Views need only live for the call they are passed to.
struct AccessRecord {
  std::string_view request_id, key_label, method, path, model, upstream_model, provider;
  bool stream = false;
  int status = 0;
  int64_t connect_us = -1, upstream_first_byte_us = -1, first_token_us = -1, total_us = -1;
  // Time spent in upstream exchanges (sending, waiting, reading the answer) and retry waits;
  // total_us minus this is zgate's own time. -1 = the upstream was not called.
  int64_t upstream_us = -1;
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0, cached_tokens = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  std::string_view error_type;  // "" = success
  double cost_usd = 0;
  bool upstream_reused = false;  // the upstream connection came from the pool
  std::string_view client_ip;
  int attempts = 0;              // upstream attempts (retries + 1); 0 = the upstream was not called
  std::string_view retries;      // why each earlier attempt failed, comma-separated ("" = none)
  // Upstream shaping: time waiting for the upstream gate (queued, or for min_interval between
  // starts; part of upstream_us), -1 = the provider is not shaped; requests ahead on arrival.
  int64_t queue_wait_us = -1;
  int queue_depth = 0;
  // The tokens and cost are zgate's estimate: the upstream reported no usage (a stream cut short).
  bool usage_estimated = false;
  // The provider and credential of each upstream attempt, for the upstream health: one line per
  // attempt, "<provider>\t<key index, -1 = the provider's only identity>[\t<why it failed>]".
  // The last line without a reason is the attempt whose outcome is this record's status and
  // error_type. Empty = the upstream was not called.
  std::string_view upstream_trail = {};
  // The response cache: "" (off for this request), "hit", "miss", "bypass", or "coalesced" (the
  // answer of an identical request in flight); cache_hit is 1 for hit and coalesced, whose
  // tokens and cost are then 0 and cost_saved_usd what the upstream would have charged.
  std::string_view cache{};
  int cache_hit = 0;
  double cost_saved_usd = 0;
};

}  // namespace zgate
