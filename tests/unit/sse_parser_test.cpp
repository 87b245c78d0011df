// sse::Parser edge cases, in the manner of Envoy's sse_parser_test: line ends, BOM, comments,
// fields, the final event at end of stream, the size cap, and every split of the input.
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "zgate/sse/parser.hpp"

namespace {

using zgate::sse::Parser;

struct Ev {
  std::string event, data;
  bool operator==(const Ev& o) const { return event == o.event && data == o.data; }
};
using Evs = std::vector<Ev>;

// Feeds each piece through a scratch buffer that is overwritten afterwards (as the I/O shell
// reuses its read buffer), then finish() when asked.
struct Run {
  Evs events;
  std::vector<Parser::Status> statuses;
};

Run feed_all(Parser& p, const std::vector<std::string>& pieces, bool finish = true) {
  Run r;
  std::string scratch;
  auto on_event = [&r](const zgate::sse::Event& e) { r.events.push_back({std::string(e.event), std::string(e.data)}); };
  for (const auto& piece : pieces) {
    scratch = piece;
    r.statuses.push_back(p.feed(scratch, on_event));
    std::fill(scratch.begin(), scratch.end(), '#');
  }
  if (finish) p.finish(on_event);
  return r;
}

Evs parse(const std::vector<std::string>& pieces, bool finish = true) {
  Parser p;
  return feed_all(p, pieces, finish).events;
}

Evs parse_whole(const std::string& s, bool finish = true) { return parse({s}, finish); }

}  // namespace

namespace Catch {
template <>
struct StringMaker<Ev> {
  static std::string convert(const Ev& e) { return "{event:'" + e.event + "', data:'" + e.data + "'}"; }
};
}  // namespace Catch

TEST_CASE("sse parser: LF line ends", "[unit][sse]") {
  CHECK(parse_whole("data: a\n\ndata: b\n\n", false) == Evs{{"", "a"}, {"", "b"}});
}

TEST_CASE("sse parser: CR line ends", "[unit][sse]") {
  CHECK(parse_whole("data: a\r\rdata: b\r\r", false) == Evs{{"", "a"}, {"", "b"}});
}

TEST_CASE("sse parser: CRLF line ends", "[unit][sse]") {
  CHECK(parse_whole("data: a\r\n\r\ndata: b\r\n\r\n", false) == Evs{{"", "a"}, {"", "b"}});
}

TEST_CASE("sse parser: mixed line ends in one stream", "[unit][sse]") {
  CHECK(parse_whole("data: a\r\ndata: b\rdata: c\n\r\n", false) == Evs{{"", "a\nb\nc"}});
}

TEST_CASE("sse parser: a CR at the end of one feed and LF at the start of the next are one line end",
          "[unit][sse]") {
  // Were the LF taken as a second line end, "a" and "b" would be two events.
  CHECK(parse({"data: a\r", "\ndata: b\r\n\r\n"}, false) == Evs{{"", "a\nb"}});
}

TEST_CASE("sse parser: a CR at the end of a feed followed by other text ends the line", "[unit][sse]") {
  CHECK(parse({"data: a\r", "data: b\r", "\r"}, false) == Evs{{"", "a\nb"}});
}

TEST_CASE("sse parser: a CR feed, an empty feed, then LF", "[unit][sse]") {
  CHECK(parse({"data: a\r", "", "\ndata: b\n\n"}, false) == Evs{{"", "a\nb"}});
}

TEST_CASE("sse parser: a leading BOM is stripped", "[unit][sse]") {
  CHECK(parse_whole("\xEF\xBB\xBF" "data: a\n\n", false) == Evs{{"", "a"}});
}

TEST_CASE("sse parser: a BOM split across feeds is stripped", "[unit][sse]") {
  CHECK(parse({"\xEF", "\xBB", "\xBF" "data: a\n\n"}, false) == Evs{{"", "a"}});
  CHECK(parse({"\xEF\xBB", "\xBF", "data: a\n\n"}, false) == Evs{{"", "a"}});
}

TEST_CASE("sse parser: only the first BOM is stripped", "[unit][sse]") {
  // The second BOM makes the line's field name "\xEF\xBB\xBF" "data", which is not `data`.
  CHECK(parse_whole("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n", false) == Evs{{"", "b"}});
  CHECK(parse_whole("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", false) == Evs{{"", "a"}});
}

TEST_CASE("sse parser: bytes that start like a BOM but are not one are kept", "[unit][sse]") {
  CHECK(parse({"\xEF", "x: 1\ndata: a\n\n"}, false) == Evs{{"", "a"}});
}

// The field rules, one section each: a whole stream without finish() and the events it gives.
TEST_CASE("sse parser: field rules", "[unit][sse]") {
  struct Case {
    const char* rule;
    std::string stream;
    Evs events;
  };
  const Case cases[] = {
      {"comments are ignored", ": ping\n\n:another\ndata: a\n: inside\n\n", Evs{{"", "a"}}},
      {"several data lines are joined with LF", "data: a\ndata: b\ndata: c\n\n", Evs{{"", "a\nb\nc"}}},
      {"data without a space, and only one space stripped", "data:a\n\ndata:  b\n\n", Evs{{"", "a"}, {"", " b"}}},
      {"the event field is reported and reset after each event", "event: error\ndata: x\n\ndata: y\n\n", Evs{{"error", "x"}, {"", "y"}}},
      {"an event with no data line is not dispatched", "event: ping\n\ndata: a\n\n", Evs{{"", "a"}}},
      {"id, retry and unknown fields are ignored", "id: 7\nretry: 100\nfoo: bar\ndata: a\n\n", Evs{{"", "a"}}},
      {"an empty data line is an event with empty data", "data:\n\ndata\n\n", Evs{{"", ""}, {"", ""}}},
      {"an empty data line joins as an empty line", "data: a\ndata:\ndata: b\n\n", Evs{{"", "a\n\nb"}}},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.rule) { CHECK(parse_whole(c.stream, false) == c.events); }
  }
}

TEST_CASE("sse parser: finish() dispatches a final event without the blank line", "[unit][sse]") {
  CHECK(parse_whole("data: a\n\ndata: last", true) == Evs{{"", "a"}, {"", "last"}});
  CHECK(parse_whole("data: last\n", true) == Evs{{"", "last"}});
  CHECK(parse_whole("data: x\ndata: last", true) == Evs{{"", "x\nlast"}});
}

TEST_CASE("sse parser: without finish() an unterminated event is held back", "[unit][sse]") {
  Parser p;
  const Run r = feed_all(p, {"data: a\n\ndata: b"}, false);
  CHECK(r.events == Evs{{"", "a"}});
  CHECK(p.has_partial());
}

TEST_CASE("sse parser: finish() with nothing pending emits nothing", "[unit][sse]") {
  Parser p;
  const Run r = feed_all(p, {"data: a\n\n"}, true);
  CHECK(r.events == Evs{{"", "a"}});
  CHECK_FALSE(p.has_partial());
}

TEST_CASE("sse parser: an event over the size cap is too_large", "[unit][sse]") {
  const std::string big = "data: " + std::string(100, 'x') + "\n\n";
  SECTION("a single line arriving whole") {
    Parser p(64);
    const Run r = feed_all(p, {big}, false);
    CHECK(r.statuses == std::vector<Parser::Status>{Parser::Status::too_large});
    CHECK(r.events.empty());
  }
  SECTION("a line arriving in pieces") {
    Parser p(64);
    const Run r = feed_all(p, {big.substr(0, 40), big.substr(40)}, false);
    REQUIRE(r.statuses.size() == 2);
    CHECK(r.statuses[1] == Parser::Status::too_large);
    CHECK(r.events.empty());
  }
  SECTION("many small data lines") {
    std::string lines;
    for (int i = 0; i < 20; ++i) lines += "data: 0123456789\n";
    Parser p(64);
    const Run r = feed_all(p, {lines + "\n"}, false);
    CHECK(r.statuses == std::vector<Parser::Status>{Parser::Status::too_large});
    CHECK(r.events.empty());
  }
  SECTION("an event under the cap passes") {
    Parser p(64);
    const Run r = feed_all(p, {"data: " + std::string(50, 'y') + "\n\n"}, false);
    CHECK(r.statuses == std::vector<Parser::Status>{Parser::Status::ok});
    CHECK(r.events == Evs{{"", std::string(50, 'y')}});
  }
}

TEST_CASE("sse parser: every split of a mixed stream gives the same events", "[unit][sse]") {
  const std::string stream =
      "\xEF\xBB\xBF: hello\r\n"
      "event: first\r\ndata: {\"a\":1}\r\n\r\n"
      "data:two\rdata: lines\r\r"
      "id: 3\ndata: \xE4\xBD\xA0\xE5\xA5\xBD\n\n"
      "data\n\n"
      "data: tail";
  const Evs expected{{"first", "{\"a\":1}"}, {"", "two\nlines"}, {"", "\xE4\xBD\xA0\xE5\xA5\xBD"}, {"", ""},
                     {"", "tail"}};
  REQUIRE(parse_whole(stream) == expected);
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    for (std::size_t j = i; j <= stream.size(); j += 7) {
      INFO("cuts at " << i << " and " << j);
      const Evs got = parse({stream.substr(0, i), stream.substr(i, j - i), stream.substr(j)});
      REQUIRE(got == expected);
    }
  }
}

TEST_CASE("sse parser: the stream fed byte by byte gives the same events", "[unit][sse]") {
  const std::string stream = "\xEF\xBB\xBF" "data: a\r\n\r\n:c\rdata: b\rdata: c\r\revent: e\ndata: d\n\n";
  std::vector<std::string> bytes;
  for (const char c : stream) bytes.emplace_back(1, c);
  CHECK(parse(bytes) == Evs{{"", "a"}, {"", "b\nc"}, {"e", "d"}});
}
