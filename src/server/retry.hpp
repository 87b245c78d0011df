#pragma once
// Retries of a chat request's upstream attempts and the upstream key each attempt leases.
// Private to src/server; Boost-free.
#include <chrono>
#include <string>

#include "zgate/config/config.hpp"
#include "zgate/core/error.hpp"
#include "zgate/route/credentials.hpp"

namespace zgate {

// What follows an upstream attempt: keep the downstream connection, close it, prepare the
// request again and retry once (the dialect said a fresh identity may fix the failure), or
// back off and try again.
enum class Next : unsigned char { keep, close, retry, backoff };
inline Next next_of(bool keep) { return keep ? Next::keep : Next::close; }

// An upstream failure that may pass, held back from the client while another attempt is possible
// (the caller waits and tries again, or sends `error` when it will not).
struct Backoff {
  ApiError error;
  std::string reason;    // for the record: "upstream_connect_failed", "http_429", ...
  int retry_after = -1;  // the upstream's Retry-After in seconds; -1 = none
  bool now = false;      // the failure was the key's and another key is usable: no wait
};

// The upstream key a request attempt uses, handed back to the provider's pool with what the
// upstream said of it when the attempt ends (whatever ends it).
struct KeyLease {
  CredentialPool* pool = nullptr;
  int index = -1;
  const ProviderConfig* provider = nullptr;
  CredentialPool::Outcome result = CredentialPool::Outcome::ok;
  std::chrono::milliseconds cooldown{0};
  KeyLease() = default;
  KeyLease(const KeyLease&) = delete;
  KeyLease& operator=(const KeyLease&) = delete;
  ~KeyLease() { end(); }
  // Hands the key back with the attempt's result (a rejected key leaves the rotation, logged).
  void end();
};

// What an upstream error says about the key that got it.
void judge_key(KeyLease& lease, const ApiError& e, int retry_after_s);

// How long to wait before attempt `attempt + 1`: the upstream's Retry-After when it gave one,
// else exponential backoff with full jitter (uniform in [0, min(max_delay, base * 2^attempt)]),
// which spreads the retries of many clients hit by the same overload.
std::chrono::steady_clock::duration backoff_delay(const RetryPolicy& p, int attempt, int retry_after_s);

}  // namespace zgate
