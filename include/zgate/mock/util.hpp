#pragma once
// Small pure helpers shared by the mock dialects: scenario selection, answer texts, text
// splitting, ids, HMAC for auth checks. No I/O. (Base64, hex, case-insensitive compares and
// random ids come from zgate/core.)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zgate/mock/plan.hpp"

namespace zgate::mock {

// A scenario name with optional key=value parameters, e.g. "slow chunks=64 delay_ms=20".
struct Scenario {
  std::string name;
  std::vector<std::pair<std::string, std::string>> params;

  std::string_view param(std::string_view key) const;  // "" if absent
  bool has(std::string_view key) const;
  int64_t param_int(std::string_view key, int64_t fallback) const;
};

// Parses "NAME k=v k=v" (whitespace separated). nullopt when there is no name.
std::optional<Scenario> parse_scenario(std::string_view spec);
// The scenario of the `x-mock-scenario` header, if any.
std::optional<Scenario> header_scenario(const MockRequest& req);
// Finds "[scenario:NAME k=v ...]" anywhere in `text` and parses it.
std::optional<Scenario> find_scenario_marker(std::string_view text);

// The first `max_chars` code points of `s` (never cuts inside a UTF-8 sequence).
std::string_view utf8_prefix(std::string_view s, std::size_t max_chars);
// True if `i` is not inside a UTF-8 sequence of `s` (i.e. s[i] is not a continuation byte).
bool utf8_boundary(std::string_view s, std::size_t i);

// Splits `text` into at most `n` consecutive pieces (concatenation == text), cutting at word
// boundaries when there are enough words, otherwise at code point boundaries. Never returns
// an empty piece; returns fewer pieces only when the text has fewer code points than n.
std::vector<std::string_view> split_pieces(std::string_view text, std::size_t n);

// Appends `bytes` to `steps` cut hostilely for parsers: inside the "data: " prefix and in the
// middle of every multibyte UTF-8 sequence, each piece its own step `delay` after the previous.
void append_hostile_steps(std::vector<Step>& steps, std::string_view bytes, Millis delay);

// Answer texts both dialects generate:
// "Hello from zgate-mock!", plus " You said: <first 200 code points>" when there is user text;
std::string echo_text(std::string_view user_text);
// "The user wrote \"<first 60 code points>\".<sep>A short friendly reply fits." ("The user wants
// an answer." without user text);
std::string reasoning_text(std::string_view user_text, char sep);
// "The tool returned: <first 200 code points>. That settles it."
std::string tool_result_text(std::string_view result);

// The token of an Authorization value "Bearer <token>" (scheme case-insensitive, spaces after
// it skipped); nullopt when the value does not start with "Bearer ".
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Ids in the v4 wire formats. `seq` makes them unique.
std::string v4_response_id(uint64_t seq);        // 14 digits Beijing time + 16 hex
std::string v4_stream_tool_id(uint64_t seq);     // call_ + 24 hex
std::string v4_tool_id(uint64_t seq);            // call_- + signed decimal
int64_t unix_seconds();
int64_t unix_millis();

// Used by auth checks (OpenSSL underneath).
std::string hmac_sha256(std::string_view key, std::string_view message);  // raw 32 bytes
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace zgate::mock
