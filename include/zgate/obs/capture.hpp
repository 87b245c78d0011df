#pragma once
// Body capture, for debugging (off by default): a captured chat request becomes one JSON line
// in a file with its request body and the response sent (the body, or a stream's SSE bytes),
// each cut at max_bytes, every configured secret replaced by "***".
//
// The worker only copies the bytes (at most max_bytes each) into a slot of its own bounded
// hand-over queue; a full queue drops the capture and counts it. A background thread masks,
// formats and writes the lines. With capture off nothing is built and the server skips it all.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"

namespace zgate::obs {

struct CaptureMeta {
  std::string_view request_id, key_label, model;
  int status = 0;
  bool stream = false;
  int64_t finished_ms = 0;  // Unix milliseconds
};

// Replaces every occurrence of each secret in `text` by "***"; when `cut` (the text was
// truncated), a trailing piece of at least 4 bytes that begins a secret is replaced as well.
std::string mask_secrets(std::string_view text, const std::vector<std::string>& secrets, bool cut);

// The capture line (JSON, no newline) for one request; bodies are masked here.
void format_capture(std::string& out, const CaptureMeta& m, std::string_view request, bool request_truncated,
                    std::string_view response, bool response_truncated, const std::vector<std::string>& secrets);

struct CaptureStats {
  uint64_t written = 0;  // lines written
  uint64_t dropped = 0;  // captures lost to a full hand-over queue
};

class Capture {
 public:
  // Opens (appends to) `path`; throws std::runtime_error naming it when it cannot.
  Capture(const CaptureConfig& cfg, std::vector<std::string> secrets, std::string path);
  ~Capture();  // writes what was handed over, then stops
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Whether requests of this key label are captured.
  bool wants(std::string_view key_label) const;
  std::size_t max_bytes() const { return max_bytes_; }
  // Any thread; never blocks. Copies at most max_bytes of each body; false (counted) when this
  // thread's queue is full.
  bool submit(const CaptureMeta& m, std::string_view request, std::string_view response, bool response_truncated);
  // Writes everything submitted before the call (tests).
  void flush();
  CaptureStats stats() const;

  class Impl;

 private:
  std::size_t max_bytes_;
  std::vector<std::string> keys_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zgate::obs
