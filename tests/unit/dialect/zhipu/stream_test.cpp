// The zhipu v4 stream path end to end in the pure core: wire bytes -> sse::Parser ->
// zhipu::V4StreamDecoder -> openai::StreamEncoder, checked against golden OpenAI streams, at
// every way the bytes can be split into reads.
#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "../fixtures.hpp"
#include "zgate/sse/parser.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/dialect/zhipu/response.hpp"

namespace {

namespace fs = std::filesystem;
using namespace zgate;
using namespace zgate::test;  // slurp, updating, fixed_options

const fs::path kDir = fs::path(ZGATE_FIXTURES) / "zhipu";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Upstream transcripts: every *.sse that is not itself a golden.
std::vector<fs::path> stream_fixtures() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    const std::string name = entry.path().filename().string();
    if (ends_with(name, ".sse") && !ends_with(name, ".openai.sse") && !ends_with(name, ".openai_usage.sse"))
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path golden_for(const fs::path& fixture, bool include_usage) {
  fs::path g = fixture;
  g.replace_extension(include_usage ? ".openai_usage.sse" : ".openai.sse");
  return g;
}

// One upstream response through the whole pure pipeline. Each read is copied into a scratch
// buffer that is overwritten after the feed, as the I/O shell reuses its read buffer: a view
// kept past its feed shows up as garbage in the output.
class Pipeline {
 public:
  explicit Pipeline(bool include_usage) : enc_(out_, fixed_options(include_usage)) {}

  void feed(std::string_view bytes) {
    scratch_.assign(bytes.data(), bytes.size());
    const auto status = parser_.feed(scratch_, [this](const sse::Event& ev) { dispatch(ev); });
    std::fill(scratch_.begin(), scratch_.end(), '#');
    if (status != sse::Parser::Status::ok) parser_failed_ = true;
  }

  const std::string& end() {
    parser_.finish([this](const sse::Event& ev) { dispatch(ev); });
    dec_.on_end(enc_);
    enc_.finish();
    return out_;
  }

  bool parser_failed() const { return parser_failed_; }
  const openai::StreamEncoder& encoder() const { return enc_; }
  const zhipu::V4StreamDecoder& decoder() const { return dec_; }

 private:
  void dispatch(const sse::Event& ev) {
    if (!dec_.done()) dec_.on_data(ev.data, ev.event, enc_);
  }
  std::string out_, scratch_;
  openai::StreamEncoder enc_;
  zhipu::V4StreamDecoder dec_;
  sse::Parser parser_;
  bool parser_failed_ = false;
};

std::string run_whole(std::string_view wire, bool include_usage) {
  Pipeline p(include_usage);
  p.feed(wire);
  return p.end();
}

std::string run_fixture(const std::string& name, bool include_usage) {
  return run_whole(slurp(kDir / name), include_usage);
}

std::size_t count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = hay.find(needle); pos != std::string_view::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

// Each of `needles` stands exactly once in `hay`.
void check_once(std::string_view hay, std::initializer_list<std::string_view> needles) {
  for (const std::string_view n : needles) {
    INFO(n);
    CHECK(count(hay, n) == 1);
  }
}

// Events as owned copies, for checking what the decoder emits.
struct Recorded {
  EventType type;
  std::string text, id, name;
  int index = 0;
  int64_t created = 0;
  FinishReason finish = FinishReason::none;
  Usage usage;
  ApiError error;
};

class Recorder final : public EventSink {
 public:
  void on_event(const Event& e) override {
    Recorded r{e.type, std::string(e.text), std::string(e.id), std::string(e.name), e.index, e.created,
               e.finish, {}, {}};
    if (e.usage != nullptr) r.usage = *e.usage;
    if (e.error != nullptr) r.error = *e.error;
    events.push_back(std::move(r));
  }
  std::vector<Recorded> events;
};

std::vector<EventType> types_of(const std::vector<Recorded>& events) {
  std::vector<EventType> t;
  for (const auto& e : events) t.push_back(e.type);
  return t;
}

}  // namespace

TEST_CASE("zhipu stream: every fixture fed whole matches its goldens", "[unit][zhipu_stream]") {
  const auto fixtures = stream_fixtures();
  REQUIRE(fixtures.size() >= 15);
  for (const auto& f : fixtures) {
    for (const bool usage : {false, true}) {
      INFO(f.filename().string() << (usage ? " include_usage" : ""));
      const std::string wire = slurp(f);
      CHECK(run_whole(wire, usage) == slurp(golden_for(f, usage)));
    }
  }
}

TEST_CASE("zhipu stream: every fixture split at every byte offset matches its goldens",
          "[unit][zhipu_stream]") {
  for (const auto& f : stream_fixtures()) {
    const std::string wire = slurp(f);
    for (const bool usage : {false, true}) {
      const std::string golden = slurp(golden_for(f, usage));
      std::size_t first_bad = std::string::npos;
      std::string bad_output;
      for (std::size_t cut = 0; cut <= wire.size() && first_bad == std::string::npos; ++cut) {
        Pipeline p(usage);
        p.feed(std::string_view(wire).substr(0, cut));
        p.feed(std::string_view(wire).substr(cut));
        const std::string& out = p.end();
        if (out != golden || p.parser_failed()) {
          first_bad = cut;
          bad_output = out;
        }
      }
      INFO(f.filename().string() << (usage ? " include_usage" : "") << " first bad cut " << first_bad);
      CHECK(bad_output == "");
      CHECK(first_bad == std::string::npos);
    }
  }
}

TEST_CASE("zhipu stream: every fixture fed byte by byte matches its goldens", "[unit][zhipu_stream]") {
  for (const auto& f : stream_fixtures()) {
    const std::string wire = slurp(f);
    for (const bool usage : {false, true}) {
      INFO(f.filename().string() << (usage ? " include_usage" : ""));
      Pipeline p(usage);
      for (std::size_t i = 0; i < wire.size(); ++i) p.feed(std::string_view(wire).substr(i, 1));
      CHECK(p.end() == slurp(golden_for(f, usage)));
      CHECK_FALSE(p.parser_failed());
    }
  }
}

TEST_CASE("zhipu stream: role appears only on the first delta", "[unit][zhipu_stream]") {
  const std::string out = run_fixture("t06_reasoning.sse", false);
  CHECK(count(out, "\"role\"") == 1);
  const auto first_event_end = out.find("\n\n");
  REQUIRE(first_event_end != std::string::npos);
  CHECK(out.substr(0, first_event_end).find("\"role\":\"assistant\"") != std::string::npos);
}

TEST_CASE("zhipu stream: a tool-call header is sent once per index even when the upstream repeats it",
          "[unit][zhipu_stream]") {
  const std::string out = run_fixture("t09b_tool_stream_repeat_ids.sse", false);
  check_once(out, {"\"id\":\"call_7a6b5c4d3e2f1a0b9c8d7e6f\"", "\"type\":\"function\"", "\"name\":\"write_file\""});
  // Three fragments carry arguments; the one with empty arguments and only the repeated header
  // adds nothing and is dropped.
  CHECK(count(out, "\"tool_calls\":[") == 3);
}

TEST_CASE("zhipu stream: index -1 calls get distinct indices by id and continuations follow their call",
          "[unit][zhipu_stream]") {
  const std::string out = run_fixture("tool_index_minus_one.sse", false);
  CHECK(count(out, "\"index\":-1") == 0);
  check_once(out, {"\"tool_calls\":[{\"index\":0,\"id\":\"call_-1111\"",
                   "\"tool_calls\":[{\"index\":1,\"id\":\"call_-2222\"",
                   "\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"b\\\":4}\"}}]"});
}

TEST_CASE("zhipu stream: the usage chunk is sent only when the client asked", "[unit][zhipu_stream]") {
  const std::string plain = run_fixture("t05_plain.sse", false);
  const std::string with_usage = run_fixture("t05_plain.sse", true);
  CHECK(plain.find("\"usage\"") == std::string::npos);
  CHECK(count(with_usage, "\"usage\"") == 1);
  // After the finish chunk, right before [DONE], with no choices.
  const auto usage_at = with_usage.find("\"choices\":[],\"usage\":{\"prompt_tokens\":8,");
  const auto finish_at = with_usage.find("\"finish_reason\":\"stop\"");
  REQUIRE(usage_at != std::string::npos);
  REQUIRE(finish_at != std::string::npos);
  CHECK(finish_at < usage_at);
  CHECK(ends_with(with_usage, "}}\n\ndata: [DONE]\n\n"));
}

TEST_CASE("zhipu stream: an upstream error frame becomes an in-band error then [DONE]", "[unit][zhipu_stream]") {
  const std::string out = run_fixture("t12b_error_frame.sse", true);
  CHECK(ends_with(out, "data: {\"error\":{\"message\":\"Network error, error id: abc123, please contact customer "
                       "service\",\"type\":\"upstream_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n"
                       "data: [DONE]\n\n"));
  CHECK(count(out, "[DONE]") == 1);
  CHECK(out.find("\"finish_reason\":\"") == std::string::npos);
  CHECK(out.find("\"usage\"") == std::string::npos);
}

TEST_CASE("zhipu stream: an integer rate-limit code in an error frame maps to rate_limit_exceeded",
          "[unit][zhipu_stream]") {
  Pipeline p(false);
  p.feed(slurp(kDir / "t12c_error_frame_rate_limit.sse"));
  const std::string out = p.end();
  CHECK(out.find("\"type\":\"rate_limit_exceeded\"") != std::string::npos);
  CHECK(p.encoder().outcome().error);
  CHECK(p.encoder().outcome().error_type == "rate_limit_exceeded");
  CHECK(p.decoder().done());
}

TEST_CASE("zhipu stream: network_error ends the stream with an error, keeping the usage", "[unit][zhipu_stream]") {
  Pipeline p(true);
  p.feed(slurp(kDir / "t12a_network_error.sse"));
  const std::string out = p.end();
  CHECK(out.find("(network_error)") != std::string::npos);
  CHECK(out.find("\"finish_reason\":\"") == std::string::npos);
  CHECK(p.encoder().outcome().error);
  CHECK(p.encoder().outcome().usage.present);
  CHECK(p.encoder().outcome().usage.completion_tokens == 5);
}

TEST_CASE("zhipu stream: outcome usage is filled with and without include_usage", "[unit][zhipu_stream]") {
  for (const bool usage : {false, true}) {
    INFO("include_usage " << usage);
    Pipeline p(usage);
    p.feed(slurp(kDir / "t20_format_2026.sse"));
    p.end();
    const auto& o = p.encoder().outcome();
    CHECK(o.usage.present);
    CHECK(o.usage.prompt_tokens == 16);
    CHECK(o.usage.completion_tokens == 24);
    CHECK(o.usage.total_tokens == 40);
    CHECK(o.usage.cached_tokens == 6);
    CHECK(o.usage.reasoning_tokens == 9);
    CHECK(o.finish == FinishReason::stop);
    CHECK(o.saw_first_token);
    CHECK_FALSE(o.error);
  }
}

TEST_CASE("zhipu stream: outcome counts tool calls and keeps finish tool_calls", "[unit][zhipu_stream]") {
  Pipeline p(false);
  p.feed(slurp(kDir / "t08_parallel_tools.sse"));
  p.end();
  CHECK(p.encoder().outcome().tool_calls == 2);
  CHECK(p.encoder().outcome().finish == FinishReason::tool_calls);
}

TEST_CASE("v4 decoder: events of one chunk come in a fixed order whatever the key order",
          "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data(
      R"({"usage":{"total_tokens":3,"completion_tokens":2,"prompt_tokens":1},"choices":[{"finish_reason":"tool_calls",)"
      R"("delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}],"content":"c",)"
      R"("reasoning_content":"r","role":"assistant"},"index":0}],"model":"glm-4.6","created":7,"id":"abc"})",
      {}, rec);
  const std::vector<EventType> expected{EventType::start,     EventType::reasoning, EventType::content,
                                        EventType::tool_call, EventType::usage,     EventType::finish};
  CHECK(types_of(rec.events) == expected);
  REQUIRE(rec.events.size() == 6);
  CHECK(rec.events[0].id == "abc");
  CHECK(rec.events[0].name == "glm-4.6");
  CHECK(rec.events[0].created == 7);
  CHECK(rec.events[3].id == "call_1");
  CHECK(rec.events[3].text == "{}");
  CHECK(rec.events[4].usage.total_tokens == 3);
  CHECK(rec.events[5].finish == FinishReason::tool_calls);
}

TEST_CASE("v4 decoder: start is emitted on the first chunk only", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  const std::string chunk = R"({"id":"x","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"}}]})";
  dec.on_data(chunk, {}, rec);
  dec.on_data(chunk, {}, rec);
  const std::vector<EventType> expected{EventType::start, EventType::content, EventType::content};
  CHECK(types_of(rec.events) == expected);
}

TEST_CASE("v4 decoder: malformed JSON becomes a 502 error event and ends the stream", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data(R"({"id":"x","choices":[{"delta":{"content":"a"})", {}, rec);
  REQUIRE(rec.events.size() == 1);
  CHECK(rec.events[0].type == EventType::error);
  CHECK(rec.events[0].error.status == 502);
  CHECK(rec.events[0].error.type == "upstream_error");
  CHECK(rec.events[0].error.source == ErrorSource::upstream);
  CHECK(rec.events[0].error.message.rfind("upstream sent malformed JSON: ", 0) == 0);
  CHECK(dec.done());
  dec.on_data(R"({"choices":[{"delta":{"content":"late"}}]})", {}, rec);
  CHECK(rec.events.size() == 1);
}

TEST_CASE("v4 decoder: a payload that is not an object is malformed", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data("\"just a string\"", {}, rec);
  REQUIRE(rec.events.size() == 1);
  CHECK(rec.events[0].type == EventType::error);
  CHECK(rec.events[0].error.status == 502);
}

TEST_CASE("v4 decoder: [DONE] ends the answer and later data is ignored", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  CHECK_FALSE(dec.done());
  dec.on_data("[DONE]", {}, rec);
  CHECK(dec.done());
  dec.on_data(R"({"choices":[{"delta":{"content":"late"}}]})", {}, rec);
  CHECK(rec.events.empty());
}

TEST_CASE("v4 decoder: empty data is a keep-alive", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data("", {}, rec);
  dec.on_data("  ", {}, rec);
  CHECK(rec.events.empty());
  CHECK_FALSE(dec.done());
}

TEST_CASE("v4 decoder: empty reasoning and content deltas are skipped", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data(R"({"id":"x","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"",)"
              R"("reasoning_content":""}}]})",
              {}, rec);
  const std::vector<EventType> expected{EventType::start};
  CHECK(types_of(rec.events) == expected);
}

TEST_CASE("v4 decoder: finish reasons map to OpenAI values", "[unit][zhipu_stream]") {
  check_each<FinishReason>(zhipu::map_finish_reason, {
      {"stop", FinishReason::stop},
      {"length", FinishReason::length},
      {"tool_calls", FinishReason::tool_calls},
      {"sensitive", FinishReason::content_filter},
      {"model_context_window_exceeded", FinishReason::length},
      {"network_error", FinishReason::error},
      {"", FinishReason::none},
      {"something_new", FinishReason::stop},
  });
}

TEST_CASE("v4 decoder: model_context_window_exceeded finishes with length", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data(R"({"id":"x","created":1,"model":"m","choices":[{"index":0,"finish_reason":)"
              R"("model_context_window_exceeded","delta":{"content":""}}]})",
              {}, rec);
  REQUIRE(rec.events.size() == 2);
  CHECK(rec.events[1].type == EventType::finish);
  CHECK(rec.events[1].finish == FinishReason::length);
}

TEST_CASE("v4 decoder: error frame codes map to status and type, keeping the message", "[unit][zhipu_stream]") {
  SECTION("string code 1234 is a 502") {
    const ApiError e = zhipu::in_band_error("1234", "Network error, error id: abc");
    CHECK(e.status == 502);
    CHECK(e.type == "upstream_error");
    CHECK(e.message == "Network error, error id: abc");
    CHECK(e.source == ErrorSource::upstream);
  }
  SECTION("throttling codes are a 429") {
    for (const char* code : {"1302", "1303", "1305"}) {
      const ApiError e = zhipu::in_band_error(code, "slow down");
      CHECK(e.status == 429);
      CHECK(e.type == "rate_limit_exceeded");
      CHECK(e.message == "slow down");
    }
  }
  SECTION("an integer code is read as its digits") {
    zhipu::V4StreamDecoder dec;
    Recorder rec;
    dec.on_data(R"({"error":{"code":1303 ,"message":"too fast"}})", {}, rec);
    REQUIRE(rec.events.size() == 1);
    CHECK(rec.events[0].type == EventType::error);
    CHECK(rec.events[0].error.status == 429);
    CHECK(rec.events[0].error.message == "too fast");
    CHECK(dec.done());
  }
}

TEST_CASE("v4 decoder: tool arguments sent as an object are passed on as JSON text", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data(R"({"id":"x","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[)"
              R"({"id":"call_1","index":0,"type":"function","function":{"name":"f","arguments":{"a":[1,2]}}}]}}]})",
              {}, rec);
  REQUIRE(rec.events.size() == 2);
  CHECK(rec.events[1].type == EventType::tool_call);
  CHECK(rec.events[1].text == R"({"a":[1,2]})");
}

TEST_CASE("v4 decoder: a missing index falls back to the array position", "[unit][zhipu_stream]") {
  zhipu::V4StreamDecoder dec;
  Recorder rec;
  dec.on_data(R"({"id":"x","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[)"
              R"({"function":{"name":"f","arguments":"1"}},{"function":{"name":"g","arguments":"2"}}]}}]})",
              {}, rec);
  REQUIRE(rec.events.size() == 3);
  CHECK(rec.events[1].index == 0);
  CHECK(rec.events[1].name == "f");
  CHECK(rec.events[2].index == 1);
  CHECK(rec.events[2].name == "g");
}

// ---------------------------------------------------------------------------------------------
// Lone UTF-16 surrogate escapes. Tokenizers split a character outside the BMP between two
// chunks, so one delta ends with "\ud83c" and the next starts with "\udf0f". The gateway rejoins
// the pair, replaces what cannot be paired by U+FFFD, and never fails the stream for it.

namespace {

constexpr std::string_view kGlobe = "\xF0\x9F\x8C\x8F";  // U+1F30F, "\ud83c\udf0f"
constexpr std::string_view kFffd = "\xEF\xBF\xBD";       // U+FFFD

std::string v4_chunk(std::string_view delta_json, std::string_view finish = {}) {
  std::string s = R"(data: {"id":"up-1","created":1,"model":"glm-4.6","choices":[{"index":0,)";
  if (!finish.empty()) s.append("\"finish_reason\":\"").append(finish).append("\",");
  s.append("\"delta\":").append(delta_json).append("}]}\n\n");
  return s;
}

// What a client reads from an OpenAI stream: every event must be valid JSON (simdjson checks
// the UTF-8 too), the texts are concatenated.
struct ClientView {
  bool valid = true;
  std::string content, reasoning, arguments, finish;
  bool error = false;
  bool done = false;
};

ClientView client_view(std::string_view out) {
  ClientView v;
  simdjson::dom::parser dom;
  std::size_t pos = 0;
  while (pos < out.size()) {
    const std::size_t end = out.find("\n\n", pos);
    if (end == std::string_view::npos) { v.valid = false; break; }
    std::string_view ev = out.substr(pos, end - pos);
    pos = end + 2;
    if (ev.substr(0, 6) != "data: ") { v.valid = false; continue; }
    ev.remove_prefix(6);
    if (ev == "[DONE]") { v.done = true; continue; }
    simdjson::dom::element root;
    if (dom.parse(std::string(ev)).get(root) != simdjson::SUCCESS) { v.valid = false; continue; }
    if (root["error"].error() == simdjson::SUCCESS) { v.error = true; continue; }
    simdjson::dom::array choices;
    if (root["choices"].get_array().get(choices) != simdjson::SUCCESS) { v.valid = false; continue; }
    for (auto choice : choices) {
      std::string_view s;
      if (choice["finish_reason"].get_string().get(s) == simdjson::SUCCESS) v.finish.assign(s);
      if (choice["delta"]["content"].get_string().get(s) == simdjson::SUCCESS) v.content.append(s);
      if (choice["delta"]["reasoning_content"].get_string().get(s) == simdjson::SUCCESS) v.reasoning.append(s);
      simdjson::dom::array calls;
      if (choice["delta"]["tool_calls"].get_array().get(calls) == simdjson::SUCCESS) {
        for (auto c : calls) {
          if (c["function"]["arguments"].get_string().get(s) == simdjson::SUCCESS) v.arguments.append(s);
        }
      }
    }
  }
  return v;
}

// The wire through the pipeline whole and split into two reads at every byte: the client sees
// the same valid stream every time. Returns the whole-feed view.
ClientView run_every_split(const std::string& wire) {
  const std::string whole = run_whole(wire, false);
  for (std::size_t cut = 1; cut < wire.size(); ++cut) {
    Pipeline p(false);
    p.feed(std::string_view(wire).substr(0, cut));
    p.feed(std::string_view(wire).substr(cut));
    const std::string& out = p.end();
    if (out != whole) {
      INFO("split at byte " << cut);
      REQUIRE(out == whole);
    }
  }
  return client_view(whole);
}

}  // namespace

TEST_CASE("zhipu stream: a surrogate pair split across two content deltas is rejoined", "[unit][zhipu_stream]") {
  const std::string wire = v4_chunk(R"({"role":"assistant","content":"Earth \ud83c"})") +
                           v4_chunk(R"({"content":"\udf0f!"})") + v4_chunk(R"({"content":""})", "stop") +
                           "data: [DONE]\n\n";
  const ClientView v = run_every_split(wire);
  CHECK(v.valid);
  CHECK(v.content == "Earth " + std::string(kGlobe) + "!");
  CHECK(v.finish == "stop");
  CHECK_FALSE(v.error);
  CHECK(v.done);
}

TEST_CASE("zhipu stream: a surrogate pair split across two reasoning deltas is rejoined", "[unit][zhipu_stream]") {
  const std::string wire = v4_chunk(R"({"role":"assistant","reasoning_content":"\ud83c"})") +
                           v4_chunk(R"({"reasoning_content":"\udf0f\ud83c"})") +
                           v4_chunk(R"({"reasoning_content":"\udf0f"})") + v4_chunk(R"({"content":"ok"})") +
                           v4_chunk(R"({})", "stop") + "data: [DONE]\n\n";
  const ClientView v = run_every_split(wire);
  CHECK(v.valid);
  CHECK(v.reasoning == std::string(kGlobe) + std::string(kGlobe));
  CHECK(v.content == "ok");
  CHECK(v.finish == "stop");
  CHECK_FALSE(v.error);
}

TEST_CASE("zhipu stream: a surrogate pair split across two tool-call argument fragments is rejoined",
          "[unit][zhipu_stream]") {
  const std::string wire =
      v4_chunk(R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"s\":\"\ud83c"}}]})") +
      v4_chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"\udf0f\"}"}}]})") +
      v4_chunk(R"({})", "tool_calls") + "data: [DONE]\n\n";
  const ClientView v = run_every_split(wire);
  CHECK(v.valid);
  CHECK(v.arguments == "{\"s\":\"" + std::string(kGlobe) + "\"}");
  CHECK(v.finish == "tool_calls");
  CHECK_FALSE(v.error);
}

TEST_CASE("zhipu stream: a lone high surrogate followed by plain text becomes U+FFFD", "[unit][zhipu_stream]") {
  const std::string wire = v4_chunk(R"({"content":"a\ud83c"})") + v4_chunk(R"({"content":"b"})") +
                           v4_chunk(R"({"content":"c\ud83cd"})", "stop") + "data: [DONE]\n\n";
  const ClientView v = run_every_split(wire);
  CHECK(v.valid);
  CHECK(v.content == "a" + std::string(kFffd) + "bc" + std::string(kFffd) + "d");
  CHECK(v.finish == "stop");
  CHECK_FALSE(v.error);
}

TEST_CASE("zhipu stream: a lone low surrogate becomes U+FFFD", "[unit][zhipu_stream]") {
  const std::string wire = v4_chunk(R"({"content":"a"})") + v4_chunk(R"({"content":"\udf0fb"})") +
                           v4_chunk(R"({"content":"c\udf0f"})", "stop") + "data: [DONE]\n\n";
  const ClientView v = run_every_split(wire);
  CHECK(v.valid);
  CHECK(v.content == "a" + std::string(kFffd) + "bc" + std::string(kFffd));
  CHECK(v.finish == "stop");
  CHECK_FALSE(v.error);
}

TEST_CASE("zhipu stream: a high surrogate never completed is sent as U+FFFD before the finish",
          "[unit][zhipu_stream]") {
  SECTION("the finish chunk follows") {
    const std::string wire = v4_chunk(R"({"content":"a\ud83c"})") + v4_chunk(R"({})", "stop") + "data: [DONE]\n\n";
    const ClientView v = run_every_split(wire);
    CHECK(v.valid);
    CHECK(v.content == "a" + std::string(kFffd));
    CHECK(v.finish == "stop");
  }
  SECTION("the stream just ends") {
    const std::string wire = v4_chunk(R"({"content":"a\ud83c"})") + "data: [DONE]\n\n";
    const ClientView v = run_every_split(wire);
    CHECK(v.valid);
    CHECK(v.content == "a" + std::string(kFffd));
    CHECK(v.finish == "stop");
  }
  SECTION("the other field's text comes next") {
    const std::string wire = v4_chunk(R"({"reasoning_content":"r\ud83c"})") + v4_chunk(R"({"content":"c"})") +
                             v4_chunk(R"({})", "stop") + "data: [DONE]\n\n";
    const std::string out = run_whole(wire, false);
    const ClientView v = client_view(out);
    CHECK(v.valid);
    CHECK(v.reasoning == "r" + std::string(kFffd));
    CHECK(v.content == "c");
    // The replacement closes the reasoning before the answer starts.
    CHECK(out.find(kFffd) < out.find("\"content\":\"c\""));
  }
}

TEST_CASE("zhipu stream: lone surrogates in other strings become U+FFFD", "[unit][zhipu_stream]") {
  const std::string wire =
      R"(data: {"id":"up-\udf0f","created":1,"model":"glm-\ud83c","choices":[{"index":0,"delta":{"content":"a"}}]})"
      "\n\n" +
      v4_chunk(R"({"tool_calls":[{"index":0,"id":"call_\ud83c","function":{"name":"f\udf0f","arguments":"{}"}}]})",
               "tool_calls") +
      "data: [DONE]\n\n";
  const std::string out = run_whole(wire, false);
  const ClientView v = client_view(out);
  CHECK(v.valid);
  CHECK(v.content == "a");
  CHECK(out.find("\"id\":\"call_" + std::string(kFffd) + "\"") != std::string::npos);
  CHECK(out.find("\"name\":\"f" + std::string(kFffd) + "\"") != std::string::npos);
  CHECK(v.finish == "tool_calls");
  CHECK_FALSE(v.error);
}

TEST_CASE("zhipu stream: an error frame after a held high surrogate sends U+FFFD, then the error",
          "[unit][zhipu_stream]") {
  const std::string wire = v4_chunk(R"({"content":"a\ud83c"})") +
                           "data: {\"error\":{\"code\":\"1234\",\"message\":\"boom\"}}\n\n";
  const std::string out = run_whole(wire, false);
  const ClientView v = client_view(out);
  CHECK(v.valid);
  CHECK(v.content == "a" + std::string(kFffd));
  CHECK(v.error);
  CHECK(out.find(kFffd) < out.find("boom"));
}

TEST_CASE("zhipu stream: a non-stream body with a lone surrogate decodes with U+FFFD", "[unit][zhipu_stream]") {
  Recorder rec;
  const Result<void> decoded = zhipu::decode_response(
      R"({"id":"x","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop",)"
      R"("message":{"role":"assistant","content":"a\ud83cb\ud83c\udf0f"}}]})",
      rec);
  REQUIRE(decoded.ok());
  REQUIRE(rec.events.size() == 3);
  CHECK(rec.events[1].text == "a" + std::string(kFffd) + "b" + std::string(kGlobe));
}

TEST_CASE("zhipu stream: a good event and garbage in one read deliver the good delta, then the error",
          "[unit][zhipu_stream]") {
  // As the gateway pumps: one parser feed per upstream read, events decoded into the encoder,
  // then whatever the encoder appended goes out as one chunk.
  const std::string wire = v4_chunk(R"({"role":"assistant","content":"Hello"})") + "data: {\"choices\":[oops\n\n";
  std::string out;
  openai::StreamEncoder enc(out, fixed_options(false));
  zhipu::V4StreamDecoder dec;
  sse::Parser parser;
  REQUIRE(parser.feed(wire, [&](const sse::Event& ev) {
    if (!dec.done()) dec.on_data(ev.data, ev.event, enc);
  }) == sse::Parser::Status::ok);
  CHECK(dec.done());
  CHECK(enc.finished());
  const ClientView v = client_view(out);
  CHECK(v.valid);
  CHECK(v.content == "Hello");
  CHECK(v.error);
  CHECK(v.done);
  CHECK(out.find("Hello") < out.find("malformed JSON"));
}
