// libFuzzer target: zgate::sse::Parser (include/zgate/sse/parser.hpp).
// Input: [split][step][max] then the SSE bytes. The stream is parsed three ways: in one feed,
// split into pieces (params), and one byte at a time; all must dispatch the same events.
// Separately, a parser with a tiny max event size (from `max`) must never crash.
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "zgate/sse/parser.hpp"

namespace {
using zgate::sse::Event;
using zgate::sse::Parser;

struct Collected {
  std::vector<std::string> events;  // "event\0data"
  bool too_large = false;
};

Collected run(const std::vector<std::string_view>& pieces, std::size_t max) {
  Collected c;
  Parser p(max);
  const auto on = [&](const Event& e) {
    std::string s(e.event);
    s.push_back('\0');
    s.append(e.data);
    c.events.push_back(std::move(s));
  };
  for (const auto piece : pieces) {
    if (p.feed(piece, on) == Parser::Status::too_large) {
      c.too_large = true;
      return c;
    }
  }
  p.finish(on);
  ZGATE_FUZZ_CHECK(!p.has_partial(), "partial data left after finish()");
  return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const zgate::fuzz::Input in(data, size, 3);
  const std::string_view s = in.payload;

  const Collected whole = run({s}, 8 * 1024 * 1024);
  ZGATE_FUZZ_CHECK(!whole.too_large, s);
  const Collected split = run(zgate::fuzz::split(s, in.param(0), in.param(1)), 8 * 1024 * 1024);
  ZGATE_FUZZ_CHECK(split.events == whole.events, s);
  if (s.size() <= 4096) {
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
    const Collected one_by_one = run(bytes, 8 * 1024 * 1024);
    ZGATE_FUZZ_CHECK(one_by_one.events == whole.events, s);
  }
  // A small limit (1..64 bytes): the parser may stop with too_large; when it does not, it
  // dispatched exactly what the unlimited parser did.
  const std::size_t small = static_cast<std::size_t>(in.param(2) % 64) + 1;
  const Collected limited = run(zgate::fuzz::split(s, in.param(0), in.param(1)), small);
  if (!limited.too_large) ZGATE_FUZZ_CHECK(limited.events == whole.events, s);
  return 0;
}
