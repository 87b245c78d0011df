#pragma once
// Small helpers shared by the libFuzzer targets (docs/fuzzing.md): reading the parameter
// bytes at the front of an input, splitting a stream into pieces, and the invariants checked
// on encoder output (valid UTF-8, every SSE event a JSON document or [DONE]).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "zgate/sse/parser.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "../support/stream_options.hpp"

namespace zgate::fuzz {

// Aborts (libFuzzer reports it as a crash and saves the input) with a message.
[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  if (!detail.empty()) {
    const std::size_t n = detail.size() < 2000 ? detail.size() : 2000;
    std::fprintf(stderr, "----\n%.*s\n----\n", static_cast<int>(n), detail.data());
  }
  std::abort();
}
#define ZGATE_FUZZ_CHECK(cond, detail) \
  do { if (!(cond)) ::zgate::fuzz::fail(#cond, (detail)); } while (0)

// The input: `n` parameter bytes at the front (0 when the input is shorter), then the payload.
struct Input {
  Input(const uint8_t* data, std::size_t size, std::size_t n_params) {
    const auto* p = reinterpret_cast<const char*>(data);
    for (std::size_t i = 0; i < n_params; ++i) params.push_back(i < size ? static_cast<uint8_t>(p[i]) : 0);
    if (size > n_params) payload = std::string_view(p + n_params, size - n_params);
  }
  uint8_t param(std::size_t i) const { return params[i]; }
  std::vector<uint8_t> params;
  std::string_view payload;
};

// Splits `s` into pieces: the first cut at `first` (scaled into the payload), then pieces of
// `step` bytes (0 = no further cuts). Covers "one read", "two reads at any point" and "many
// small reads" with two parameter bytes.
inline std::vector<std::string_view> split(std::string_view s, uint8_t first, uint8_t step) {
  std::vector<std::string_view> out;
  const std::size_t cut = s.empty() ? 0 : (s.size() * first) / 256;
  if (cut > 0) out.push_back(s.substr(0, cut));
  std::string_view rest = s.substr(cut);
  const std::size_t k = step == 0 ? rest.size() : static_cast<std::size_t>(step % 64) + 1;
  while (!rest.empty()) {
    const std::size_t n = k < rest.size() ? k : rest.size();
    out.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  return out;
}

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) { ++i; continue; }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    else return false;
    if (i + len > n) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    i += len;
  }
  return true;
}

// True if `s` is one well-formed JSON document (simdjson also validates UTF-8).
inline bool valid_json(std::string_view s) {
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(s.data(), s.size(), true).get(doc) == simdjson::SUCCESS;
}

// Checks an OpenAI SSE stream written by openai::StreamEncoder as it grows (each byte is
// looked at once, so checking after every upstream read stays linear): only whole events,
// each "data: <one JSON document>\n\n" in valid UTF-8, and, once finished, exactly one final
// "data: [DONE]\n\n".
class StreamChecker {
 public:
  void check(std::string_view out, bool finished) {
    ZGATE_FUZZ_CHECK(out.size() >= checked_, out);
    std::string_view rest = out.substr(checked_);
    while (!rest.empty()) {
      ZGATE_FUZZ_CHECK(!done_, out);  // nothing after [DONE]
      const std::size_t end = rest.find("\n\n");
      ZGATE_FUZZ_CHECK(end != std::string_view::npos, rest);  // whole events only
      std::string_view ev = rest.substr(0, end);
      rest.remove_prefix(end + 2);
      checked_ = out.size() - rest.size();
      ZGATE_FUZZ_CHECK(valid_utf8(ev), ev);
      ZGATE_FUZZ_CHECK(ev.substr(0, 6) == "data: ", ev);
      ev.remove_prefix(6);
      ZGATE_FUZZ_CHECK(ev.find('\n') == std::string_view::npos, ev);
      if (ev == "[DONE]") {
        done_ = true;
        continue;
      }
      ZGATE_FUZZ_CHECK(valid_json(ev), ev);
    }
    if (finished) ZGATE_FUZZ_CHECK(done_, out);
  }

 private:
  std::size_t checked_ = 0;
  bool done_ = false;
};

inline void check_openai_stream(std::string_view out, bool finished) {
  StreamChecker c;
  c.check(out, finished);
}

// The OpenAI options every target encodes with.
inline openai::StreamOptions stream_options(bool include_usage) { return test::fixed_options(include_usage); }

// An upstream SSE stream through sse::Parser -> `dec` -> `enc`, read in `pieces`, the way the
// gateway's pump (src/server/gateway.cpp) does it: each piece fed, the decoder's end noticed
// after a read, parser.finish() + on_end() when the body ends, an oversized event failing the
// stream; then the encoder finished. The output is checked after every piece and at the end.
inline void pump(const std::vector<std::string_view>& pieces, StreamDecoder& dec,
                 openai::StreamEncoder& enc, const std::string& out, std::size_t max_event) {
  sse::Parser parser(max_event);
  const auto on = [&](const sse::Event& e) {
    if (!dec.done()) dec.on_data(e.data, e.event, enc);
  };
  StreamChecker checker;
  bool finished = false, failed = false;
  for (const auto piece : pieces) {
    if (parser.feed(piece, on) == sse::Parser::Status::too_large) {
      enc.fail(bad_gateway("the upstream sent an SSE event larger than limits.max_sse_event"));
      failed = true;
      break;
    }
    if (dec.done()) {
      dec.on_end(enc);
      finished = true;
    }
    if (finished || enc.finished()) {
      enc.finish();
      finished = true;
    }
    checker.check(out, enc.finished());
    if (finished) break;  // the rest is drained unread
  }
  if (!finished && !failed) {
    parser.finish(on);
    dec.on_end(enc);
  }
  enc.finish();
  ZGATE_FUZZ_CHECK(enc.finished(), out);
  checker.check(out, true);
}

}  // namespace zgate::fuzz
