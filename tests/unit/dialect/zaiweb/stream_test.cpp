// The zai-web stream path in the pure core: wire bytes -> sse::Parser -> zaiweb::StreamDecoder
// -> openai::StreamEncoder, for every transcript in tests/fixtures/zaiweb/transcripts, checked against its
// expected result (recording sink) and against golden OpenAI streams at every byte split.
// Set ZGATE_UPDATE_GOLDENS=1 to (re)write the goldens, then read them before committing.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <simdjson.h>

#include "../fixtures.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/sse/parser.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"

namespace {

namespace fs = std::filesystem;
using namespace zgate;
using zgate::test::slurp;
using zgate::test::updating;
using zaiweb::DecoderOptions;
using zaiweb::ThinkingMode;

const fs::path kDir = fs::path(ZGATE_FIXTURES) / "zaiweb" / "transcripts";

// How the gateway would configure the decoder for the request behind each transcript.
struct Setup {
  std::string name;
  std::vector<std::string> tools;  // declared function tools
  std::string trigger;             // non-empty: prompt-injected tool calls
  ThinkingMode mode = ThinkingMode::reasoning;
};

Setup setup_for(const std::string& name) {
  Setup s{name, {}, {}, ThinkingMode::reasoning};
  if (name == "T06" || name == "T10") s.tools = {"get_weather"};
  if (name == "T08") { s.tools = {"get_weather"}; s.trigger = "<Function_Xk9Q_Start/>"; }
  if (name == "T09") { s.tools = {"get_weather"}; s.trigger = "<Function_Ab12Cd34_Start/>"; }
  if (name == "T18") s.tools = {"read_file"};
  return s;
}

DecoderOptions options_for(const Setup& s) {
  DecoderOptions o;
  o.thinking = s.mode;
  o.tool_emulation = !s.trigger.empty();
  o.trigger = s.trigger;
  o.tool_names = s.tools;
  o.model = "glm-upstream";
  o.new_call_id = [n = 0]() mutable { return "call_test_" + std::to_string(++n); };
  return o;
}

// Feeds `bytes` in the given pieces, then ends the stream the way the I/O shell does.
template <class Sink>
void drive(const std::vector<std::string_view>& pieces, zaiweb::StreamDecoder& dec, Sink& sink) {
  sse::Parser parser;
  const auto on = [&](const sse::Event& ev) { dec.on_data(ev.data, ev.event, sink); };
  for (const auto piece : pieces) REQUIRE(parser.feed(piece, on) == sse::Parser::Status::ok);
  parser.finish(on);
  dec.on_end(sink);
}

std::string run_openai(const Setup& s, const std::vector<std::string_view>& pieces) {
  std::string out;
  openai::StreamEncoder enc(out, test::fixed_options(true));
  zaiweb::StreamDecoder dec(options_for(s));
  drive(pieces, dec, enc);
  enc.finish();
  return out;
}

struct Recorder final : EventSink {
  std::string reasoning, content;
  struct Call { int index; std::string id, name, args; };
  std::vector<Call> calls;
  Usage usage;
  int usage_events = 0;
  int starts = 0;
  FinishReason finish = FinishReason::none;
  int finishes = 0;
  bool failed = false;
  ApiError error;
  std::vector<EventType> order;

  void on_event(const Event& e) override {
    order.push_back(e.type);
    switch (e.type) {
      case EventType::start: ++starts; break;
      case EventType::reasoning: reasoning.append(e.text); break;
      case EventType::content: content.append(e.text); break;
      case EventType::tool_call:
        calls.push_back({e.index, std::string(e.id), std::string(e.name), std::string(e.text)});
        break;
      case EventType::finish: finish = e.finish; ++finishes; break;
      case EventType::usage: usage = *e.usage; ++usage_events; break;
      case EventType::error: failed = true; error = *e.error; break;
    }
  }
};

Recorder record(const Setup& s, std::string_view bytes) {
  Recorder r;
  zaiweb::StreamDecoder dec(options_for(s));
  drive({bytes}, dec, r);
  return r;
}

// The transcript `name` decoded with its setup, adjusted by `adjust` if given.
Recorder record_transcript(const std::string& name, const std::function<void(Setup&)>& adjust = {}) {
  Setup s = setup_for(name);
  if (adjust) adjust(s);
  return record(s, slurp(kDir / (name + ".sse")));
}

void check_usage(const Usage& u, int64_t p, int64_t c, int64_t t, int64_t cached = 0) {
  CHECK(u.present);
  CHECK(u.prompt_tokens == p);
  CHECK(u.completion_tokens == c);
  CHECK(u.total_tokens == t);
  CHECK(u.cached_tokens == cached);
}

// The finish comes last, after the usage, and exactly once.
void check_clean_end(const Recorder& r, FinishReason f) {
  CHECK_FALSE(r.failed);
  CHECK(r.starts == 1);
  CHECK(r.finishes == 1);
  CHECK(r.finish == f);
  REQUIRE_FALSE(r.order.empty());
  CHECK(r.order.front() == EventType::start);
  CHECK(r.order.back() == EventType::finish);
}

// A failed stream whose error has this status and code.
void check_failed(const Recorder& r, int status, std::string_view code) {
  REQUIRE(r.failed);
  CHECK(r.error.status == status);
  CHECK(r.error.code == code);
}

// A clean stop with exactly this reasoning and answer.
void check_stopped(const Recorder& r, std::string_view reasoning, std::string_view content) {
  CHECK(r.reasoning == reasoning);
  CHECK(r.content == content);
  check_clean_end(r, FinishReason::stop);
}

// Exactly one tool call, with this id, name and arguments, and a clean tool_calls finish.
void check_one_call(const Recorder& r, std::string_view id, std::string_view name, std::string_view args) {
  REQUIRE(r.calls.size() == 1);
  CHECK(r.calls[0].id == id);
  CHECK(r.calls[0].name == name);
  CHECK(r.calls[0].args == args);
  check_clean_end(r, FinishReason::tool_calls);
}

std::vector<std::string> transcript_names() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kDir)) {
    const std::string f = e.path().filename().string();
    if (f.size() == 7 && f.substr(3) == ".sse") out.push_back(f.substr(0, 3));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Frames of a transcript as (phase, delta_content) when that is all they carry, else raw.
struct SimpleFrame {
  bool simple = false;
  std::string phase, delta, raw;
};

std::vector<SimpleFrame> frames_of(std::string_view bytes) {
  std::vector<SimpleFrame> out;
  sse::Parser parser;
  simdjson::dom::parser dom;
  REQUIRE(parser.feed(bytes, [&](const sse::Event& ev) {
    SimpleFrame f;
    f.raw = std::string(ev.data);
    simdjson::dom::element root;
    simdjson::dom::object data;
    if (dom.parse(f.raw).get(root) == simdjson::SUCCESS && root["data"].get_object().get(data) == simdjson::SUCCESS) {
      std::string_view phase, delta;
      std::size_t keys = 0;
      for (auto kv : data) { (void)kv; ++keys; }
      if (keys == 2 && data["phase"].get_string().get(phase) == simdjson::SUCCESS &&
          data["delta_content"].get_string().get(delta) == simdjson::SUCCESS) {
        f.simple = true;
        f.phase = std::string(phase);
        f.delta = std::string(delta);
      }
    }
    out.push_back(std::move(f));
  }) == sse::Parser::Status::ok);
  return out;
}

void append_frame(std::string& out, std::string_view phase, std::string_view delta) {
  out.append("data: ");
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.kv("phase", phase).kv("delta_content", delta).end_object().end_object();
  out.append("\n\n");
}

// An answer frame that rewrites the answer from code point `index` on with `content`.
void append_edit(std::string& out, int64_t index, std::string_view content) {
  out.append("data: ");
  json::Writer w(out);
  w.begin_object().kv("type", "chat:completion").key("data").begin_object();
  w.kv("phase", "answer").kv("edit_index", index).kv("edit_content", content).end_object().end_object();
  out.append("\n\n");
}

constexpr std::string_view kDoneFrame = "data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"done\",\"done\":true}}\n\n";
const Setup kPlain{"x", {}, {}, ThinkingMode::reasoning};

// `frames`, then the done frame, decoded with no tools in reasoning mode.
// A zai-web stream built frame by frame; decoded() ends it with the done frame and decodes it as
// kPlain.
struct Frames {
  std::string bytes;
  Frames& delta(std::string_view phase, std::string_view text) {
    append_frame(bytes, phase, text);
    return *this;
  }
  Frames& edit(int64_t index, std::string_view content) {
    append_edit(bytes, index, content);
    return *this;
  }
  Recorder decoded() const { return record(kPlain, bytes + std::string(kDoneFrame)); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Goldens at every byte split

TEST_CASE("zaiweb stream: every transcript matches its OpenAI golden at every byte split", "[unit][zaiweb]") {
  const auto names = transcript_names();
  REQUIRE(names.size() == 19);
  for (const auto& name : names) {
    if (name == "T19") continue;  // compared with T01 below
    const Setup s = setup_for(name);
    const std::string bytes = slurp(kDir / (name + ".sse"));
    const std::string whole = run_openai(s, {bytes});
    const fs::path golden = kDir / (name + ".openai.sse");
    if (updating()) {
      std::ofstream(golden, std::ios::binary) << whole;
    }
    INFO(name);
    REQUIRE(whole == slurp(golden));
    for (std::size_t k = 1; k < bytes.size(); ++k) {
      const std::string_view b(bytes);
      const std::string split = run_openai(s, {b.substr(0, k), b.substr(k)});
      if (split != whole) {
        INFO("split at byte " << k);
        REQUIRE(split == whole);
      }
    }
  }
}

TEST_CASE("zaiweb stream: T19 framing variations decode exactly like T01, in any number of reads", "[unit][zaiweb]") {
  const std::string t01 = run_openai(setup_for("T01"), {slurp(kDir / "T01.sse")});
  const std::string bytes = slurp(kDir / "T19.sse");
  CHECK(run_openai(setup_for("T19"), {bytes}) == t01);
  const std::string_view b(bytes);
  for (std::size_t k = 1; k + 1 < bytes.size(); ++k) {
    // three reads: a 1-byte middle read walks over every position, including inside 你好
    const std::string out = run_openai(setup_for("T19"), {b.substr(0, k), b.substr(k, 1), b.substr(k + 1)});
    if (out != t01) {
      INFO("reads split at " << k << " and " << k + 1);
      REQUIRE(out == t01);
    }
  }
}

TEST_CASE("zaiweb stream: delta text split at every character gives the same events", "[unit][zaiweb]") {
  // Re-cuts each simple delta frame into two frames at every code point: tags, "\n> ", the
  // trigger, fences and citation markers then straddle frames in every possible way.
  for (const auto& name : transcript_names()) {
    if (name == "T19") continue;
    const Setup s = setup_for(name);
    const std::string bytes = slurp(kDir / (name + ".sse"));
    const Recorder want = record(s, bytes);
    const auto frames = frames_of(bytes);
    for (std::size_t fi = 0; fi < frames.size(); ++fi) {
      if (!frames[fi].simple) continue;
      const std::string& d = frames[fi].delta;
      for (std::size_t k = 1; k < d.size(); ++k) {
        if ((static_cast<unsigned char>(d[k]) & 0xC0) == 0x80) continue;
        std::string cut;
        for (std::size_t j = 0; j < frames.size(); ++j) {
          if (j == fi) {
            append_frame(cut, frames[j].phase, std::string_view(d).substr(0, k));
            append_frame(cut, frames[j].phase, std::string_view(d).substr(k));
          } else {
            cut.append("data: ").append(frames[j].raw).append("\n\n");
          }
        }
        const Recorder got = record(s, cut);
        INFO(name << " frame " << fi << " cut at " << k);
        REQUIRE(got.reasoning == want.reasoning);
        REQUIRE(got.content == want.content);
        REQUIRE(got.calls.size() == want.calls.size());
        for (std::size_t c = 0; c < got.calls.size(); ++c) {
          REQUIRE(got.calls[c].name == want.calls[c].name);
          REQUIRE(got.calls[c].args == want.calls[c].args);
        }
        REQUIRE(got.finish == want.finish);
        REQUIRE(got.failed == want.failed);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The expected results, transcript by transcript

// Transcripts that end in a plain answer (no tool call) with a clean stop: the thinking shown
// (unchecked where `reasoning` is empty and `check_reasoning` is off), the answer, the usage.
struct AnswerRow {
  const char* transcript;
  const char* what;
  const char* reasoning;
  const char* content;
  int64_t prompt, completion, total, cached;
  bool check_reasoning = true;
};

TEST_CASE("zaiweb stream: transcripts that end in an answer give its thinking, content and usage", "[unit][zaiweb]") {
  const AnswerRow rows[] = {
      {"T01", "plain answer, usage from an other frame", "", "Hello! How can I help you today?", 18, 9, 27, 0},
      {"T03", "<details> thinking and the edit_content transition", "The user asks for 2+2.\nSimple arithmetic.",
       "2 + 2 = 4.", 15, 38, 53, 0},
      {"T04", "plain thinking, usage before the final delta", "The user greets me. Reply briefly and friendly.",
       "Hi there! Anything I can do for you?", 1921, 57, 1978, 640},
      {"T05", "<summary> line and a newline split from its '> '", "First line.\nSecond line.", "Done.", 20, 30, 50, 0},
      {"T07", "server-side search stays hidden, citation stripped, last usage wins",
       "Need fresh news; search first.\n\nTwo sources agree; cite the news one.",
       "The rover found clay minerals near the crater rim.", 3650, 95, 3745, 1900},
      {"T10", "legacy search glm_block hidden, answer continues after it", "",
       "Let me search.\n\nClay minerals were found.", 2100, 120, 2220, 0, /*check_reasoning=*/false},
  };
  for (const AnswerRow& row : rows) {
    DYNAMIC_SECTION(row.transcript << ": " << row.what) {
      const Recorder r = record_transcript(row.transcript);
      if (row.check_reasoning) CHECK(r.reasoning == row.reasoning);
      CHECK(r.content == row.content);
      CHECK(r.calls.empty());
      check_usage(r.usage, row.prompt, row.completion, row.total, row.cached);
      check_clean_end(r, FinishReason::stop);
    }
  }
}

TEST_CASE("zaiweb stream: transcripts of one tool call give it whole and nothing of its text", "[unit][zaiweb]") {
  struct Row {
    const char* transcript;
    const char* what;
    const char* id;
    int64_t prompt, completion, total;
  };
  const Row rows[] = {
      {"T08", "prompt-injected XML call, trigger split across deltas, nothing leaks", "call_test_1", 850, 44, 894},
      {"T09", "JSON tool call in a ```json fence", "call_w1", 640, 39, 679},
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.transcript << ": " << row.what) {
      const Recorder r = record_transcript(row.transcript);
      CHECK(r.content.empty());
      check_one_call(r, row.id, "get_weather", "{\"city\": \"Paris\"}");
      check_usage(r.usage, row.prompt, row.completion, row.total);
    }
  }
}

TEST_CASE("zaiweb stream T02: spaced 2025 JSON, usage repeated on the last answer and done is not doubled", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T02");
  CHECK(r.content == "你好！有什么可以帮你？");
  check_usage(r.usage, 10, 7, 17);
  CHECK(r.usage_events == 1);
  check_clean_end(r, FinishReason::stop);
}

TEST_CASE("zaiweb stream T06: legacy <glm_block> call of a declared tool, rewritten by edits", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T06");
  CHECK(r.content == "I'll look up the weather.");
  check_one_call(r, "call_k3v9q2x7", "get_weather", "{\"city\":\"Paris\"}");
  CHECK(r.calls[0].index == 0);
  check_usage(r.usage, 312, 41, 353);
}

TEST_CASE("zaiweb stream T06: the same block is hidden when the tool was not declared", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T06", [](Setup& s) { s.tools.clear(); });
  CHECK(r.content == "I'll look up the weather.");
  CHECK(r.calls.empty());
  check_clean_end(r, FinishReason::stop);
}

TEST_CASE("zaiweb stream T11: double-nested 426 'client version outdated' fails with the detail", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T11");
  check_failed(r, 502, "upstream_client_outdated");
  CHECK(r.content.empty());
  CHECK(r.finishes == 0);
  CHECK_THAT(r.error.message,
             Catch::Contains("Your client version (unknown) is outdated") && Catch::Contains("fe_version"));
  CHECK(r.order.back() == EventType::error);
}

TEST_CASE("zaiweb stream T12: model not available for the user level", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T12");
  check_failed(r, 403, "model_not_available");
  CHECK_THAT(r.error.message,
             Catch::Contains("Model not available for current user level") && Catch::Contains("logged-in token"));
}

TEST_CASE("zaiweb stream T13: an error after partial content fails after that content", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T13");
  CHECK(r.content == "The capital of France is");
  REQUIRE(r.failed);
  CHECK(r.finishes == 0);
  CHECK_THAT(r.error.message, Catch::Contains("INTERNAL_ERROR") && Catch::Contains("incomplete"));
}

TEST_CASE("zaiweb stream T14: seed-era top-level 401 error asks for a token refresh", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T14");
  REQUIRE(r.failed);
  CHECK(r.error.code == "upstream_auth_failed");
  CHECK(zaiweb::is_auth_failure(r.error));
}

TEST_CASE("zaiweb stream T15: captcha demand is surfaced, not worked around", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T15");
  check_failed(r, 403, "upstream_captcha_required");
  CHECK_THAT(r.error.message, Catch::Contains("captcha"));
  CHECK_FALSE(zaiweb::is_auth_failure(r.error));
}

TEST_CASE("zaiweb stream T16: the connection drops without done", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T16");
  CHECK(r.content == "Partial answer that never fin");
  REQUIRE(r.failed);
  CHECK(r.error.code == "upstream_incomplete");
  CHECK(r.finishes == 0);
}

TEST_CASE("zaiweb stream T17: thinking residue inside answer deltas is not shown twice", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T17");
  check_stopped(r, "Plan the reply", "OK.\nHere is the result.");
  CHECK(r.content.find('>') == std::string::npos);
}

TEST_CASE("zaiweb stream T18: modern delta_name/delta_arguments call of a declared tool", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T18");
  CHECK(r.reasoning == "I need to read the file first.");
  check_one_call(r, "call_9f2c1e7d3b5a4860", "read_file", "{\"path\":\"src/main.cpp\"}");
  check_usage(r.usage, 1200, 35, 1235);
}

// ---------------------------------------------------------------------------------------------
// Thinking modes and details edge cases

TEST_CASE("zaiweb stream: think_tags mode wraps reasoning into the content", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T03", [](Setup& s) { s.mode = ThinkingMode::think_tags; });
  CHECK(r.reasoning.empty());
  CHECK(r.content == "<think>The user asks for 2+2.\nSimple arithmetic.</think>2 + 2 = 4.");
}

TEST_CASE("zaiweb stream: think_tags closes the tag at the end of a reasoning-only answer", "[unit][zaiweb]") {
  Setup s{"x", {}, {}, ThinkingMode::think_tags};
  std::string b;
  append_frame(b, "thinking", "only thoughts");
  b.append("data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"done\",\"done\":true}}\n\n");
  const Recorder r = record(s, b);
  CHECK(r.content == "<think>only thoughts</think>");
}

TEST_CASE("zaiweb stream: strip mode drops reasoning", "[unit][zaiweb]") {
  const Recorder r = record_transcript("T05", [](Setup& s) { s.mode = ThinkingMode::strip; });
  CHECK(r.reasoning.empty());
  CHECK(r.content == "Done.");
}

TEST_CASE("zaiweb stream: parse_thinking_mode", "[unit][zaiweb]") {
  zgate::test::check_each<ThinkingMode>(
      zaiweb::parse_thinking_mode, {{"think_tags", ThinkingMode::think_tags}, {"strip", ThinkingMode::strip},
                                    {"reasoning", ThinkingMode::reasoning}, {"bogus", ThinkingMode::reasoning}});
}

TEST_CASE("zaiweb stream: empty quoted lines and '>' inside reasoning survive", "[unit][zaiweb]") {
  const Recorder r = Frames()
                         .delta("thinking", "<details type=\"reasoning\" done=\"false\">\n> a > b\n> \n>\n> c<d")
                         .delta("thinking", "\n</details>")
                         .delta("answer", "x")
                         .decoded();
  CHECK(r.reasoning == "a > b\n\n\nc<d");
  CHECK(r.content == "x");
}

TEST_CASE("zaiweb stream: a transition that carries more reasoning than was streamed catches up", "[unit][zaiweb]") {
  const Recorder r = Frames()
                         .delta("thinking", "<details type=\"reasoning\" done=\"false\">\n> Step one.")
                         .edit(0, "<details type=\"reasoning\" done=\"true\" duration=\"1\">\n> Step one.\n> Step two.\n"
                                  "</details>\nAnswer.")
                         .decoded();
  CHECK(r.reasoning == "Step one.\nStep two.");
  CHECK(r.content == "Answer.");
}

TEST_CASE("zaiweb stream: an edit that rewrites sent answer text emits only the new tail", "[unit][zaiweb]") {
  const Recorder r =
      Frames().delta("answer", "Hello wor").edit(6, "world, ça va?").delta("answer", " Bien.").decoded();
  CHECK(r.content == "Hello world, ça va? Bien.");
}

TEST_CASE("zaiweb stream: edit_index counts code points, not bytes", "[unit][zaiweb]") {
  const Recorder r = Frames().delta("answer", "你好世界").edit(4, "！").decoded();
  CHECK(r.content == "你好世界！");
}

TEST_CASE("zaiweb stream: a 200 KB frame passes through whole", "[unit][zaiweb]") {
  std::string big(200 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 97) big[i] = '\n';
  const Recorder r = Frames().delta("answer", big).decoded();
  CHECK(r.content == big);
}

TEST_CASE("zaiweb stream: errors in every nesting become error events", "[unit][zaiweb]") {
  const char* frames[] = {
      R"({"error":{"detail":"boom","code":500}})",
      R"({"type":"chat:completion","data":{"error":{"detail":"boom","code":500},"done":true}})",
      R"({"type":"chat:completion","data":{"data":{"error":{"detail":"boom","code":500},"done":true},"done":true}})",
      R"({"type":"chat:completion","data":{"data":{"error":{"detail":"boom","code":500},"done":true},"error":{"detail":"boom","code":500},"done":true}})",
      R"({"detail":"boom"})",
      R"({"type":"chat:completion","data":{"error":"boom"}})",
  };
  for (const char* f : frames) {
    INFO(f);
    const Recorder r = record(kPlain, std::string("data: ") + f + "\n\n");
    REQUIRE(r.failed);
    CHECK_THAT(r.error.message, Catch::Contains("boom"));
    CHECK(r.finishes == 0);
  }
}

TEST_CASE("zaiweb stream: non-JSON lines, unknown types and the DONE marker are tolerated", "[unit][zaiweb]") {
  std::string b = "data: hello\n\ndata: {\"type\":\"other\",\"phase\":\"answer\",\"delta_content\":\"A\"}\n\n";
  append_frame(b, "answer", "B");
  b.append("data: [DONE]\n\n");
  append_frame(b, "answer", "ignored after the end");
  const Recorder r = record(kPlain, b);
  CHECK(r.content == "AB");
  check_clean_end(r, FinishReason::stop);
}

TEST_CASE("zaiweb stream: nothing at all is reported as an empty stream", "[unit][zaiweb]") {
  const Recorder r = record(kPlain, "");
  REQUIRE(r.failed);
  CHECK(r.starts == 1);
  CHECK_THAT(r.error.message, Catch::Contains("without sending anything"));
}

TEST_CASE("zaiweb stream: a citation-like run that is not a marker is kept", "[unit][zaiweb]") {
  const Recorder r =
      Frames().delta("answer", "【注意】 and 【turn").delta("answer", "X】 and 【turn1search2】.").decoded();
  CHECK(r.content == "【注意】 and 【turnX】 and .");
}

// ---------------------------------------------------------------------------------------------
// Lone UTF-16 surrogate escapes: a character outside the BMP split between two frames
// ("\ud83c" ends one delta, "\udf0f" starts the next) is rejoined; what cannot be paired
// becomes U+FFFD; the frame is never lost and the stream never fails for it.

namespace {

constexpr std::string_view kGlobe = "\xF0\x9F\x8C\x8F";  // U+1F30F, "\ud83c\udf0f"
constexpr std::string_view kFffd = "\xEF\xBF\xBD";       // U+FFFD

// A frame whose delta is written as raw JSON string contents (escapes kept as given).
std::string raw_frame(std::string_view phase, std::string_view raw_delta) {
  std::string s = "data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"";
  s.append(phase).append("\",\"delta_content\":\"").append(raw_delta).append("\"}}\n\n");
  return s;
}

// Every byte split of `bytes` records the same events as the whole feed.
Recorder record_every_split(const Setup& s, const std::string& bytes) {
  const Recorder whole = record(s, bytes);
  for (std::size_t k = 1; k < bytes.size(); ++k) {
    Recorder r;
    zaiweb::StreamDecoder dec(options_for(s));
    drive({std::string_view(bytes).substr(0, k), std::string_view(bytes).substr(k)}, dec, r);
    if (r.content != whole.content || r.reasoning != whole.reasoning || r.failed != whole.failed) {
      INFO("split at byte " << k);
      REQUIRE(r.content == whole.content);
      REQUIRE(r.reasoning == whole.reasoning);
      REQUIRE(r.failed == whole.failed);
    }
  }
  return whole;
}

}  // namespace

TEST_CASE("zaiweb stream: a surrogate pair split across two answer frames is rejoined", "[unit][zaiweb]") {
  const std::string b = raw_frame("answer", "Earth \\ud83c") + raw_frame("answer", "\\udf0f!") + std::string(kDoneFrame);
  const Recorder r = record_every_split(kPlain, b);
  CHECK(r.content == "Earth " + std::string(kGlobe) + "!");
  check_clean_end(r, FinishReason::stop);
  // And what the client reads: the character itself, then the finish reason.
  const std::string out = run_openai(kPlain, {b});
  const auto globe = out.find("\"content\":\"" + std::string(kGlobe) + "!\"");
  const auto finish = out.find("\"finish_reason\":\"stop\"");
  CHECK(globe != std::string::npos);
  CHECK(finish != std::string::npos);
  CHECK(globe < finish);
  CHECK(out.find("\"error\"") == std::string::npos);
}

TEST_CASE("zaiweb stream: a surrogate pair split across two thinking frames is rejoined", "[unit][zaiweb]") {
  const std::string b = raw_frame("thinking", "hmm \\ud83c") + raw_frame("thinking", "\\udf0f") +
                        raw_frame("answer", "ok") + std::string(kDoneFrame);
  const Recorder r = record_every_split(kPlain, b);
  CHECK(r.reasoning == "hmm " + std::string(kGlobe));
  CHECK(r.content == "ok");
  check_clean_end(r, FinishReason::stop);
}

TEST_CASE("zaiweb stream: a surrogate pair split across two native tool-argument frames is rejoined",
          "[unit][zaiweb]") {
  const std::string b =
      "data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"tool_call\",\"delta_name\":\"read_file\","
      "\"delta_arguments\":\"{\\\"path\\\":\\\"\\ud83c\",\"metadata\":{\"tool_call_id\":\"call_1\"}}}\n\n"
      "data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"tool_call\",\"delta_arguments\":\"\\udf0f\\\"}\"}}\n\n" +
      std::string(kDoneFrame);
  const Recorder r = record(Setup{"x", {"read_file"}, {}, ThinkingMode::reasoning}, b);
  REQUIRE(r.calls.size() == 1);
  CHECK(r.calls[0].args == "{\"path\":\"" + std::string(kGlobe) + "\"}");
  check_clean_end(r, FinishReason::tool_calls);
}

TEST_CASE("zaiweb stream: a lone high surrogate followed by plain text becomes U+FFFD", "[unit][zaiweb]") {
  const std::string b = raw_frame("answer", "a\\ud83c") + raw_frame("answer", "b") +
                        raw_frame("answer", "c\\ud83cd") + std::string(kDoneFrame);
  const Recorder r = record_every_split(kPlain, b);
  CHECK(r.content == "a" + std::string(kFffd) + "bc" + std::string(kFffd) + "d");
  check_clean_end(r, FinishReason::stop);
}

TEST_CASE("zaiweb stream: a lone low surrogate becomes U+FFFD", "[unit][zaiweb]") {
  const std::string b = raw_frame("answer", "a") + raw_frame("answer", "\\udf0fb") + std::string(kDoneFrame);
  const Recorder r = record_every_split(kPlain, b);
  CHECK(r.content == "a" + std::string(kFffd) + "b");
  check_clean_end(r, FinishReason::stop);
}

TEST_CASE("zaiweb stream: a high surrogate never completed is sent as U+FFFD", "[unit][zaiweb]") {
  SECTION("done follows") {
    const Recorder r = record_every_split(kPlain, raw_frame("answer", "a\\ud83c") + std::string(kDoneFrame));
    CHECK(r.content == "a" + std::string(kFffd));
    check_clean_end(r, FinishReason::stop);
  }
  SECTION("the connection drops") {
    const Recorder r = record(kPlain, raw_frame("answer", "a\\ud83c"));
    CHECK(r.content == "a" + std::string(kFffd));
    CHECK(r.failed);
  }
  SECTION("the answer starts after held thinking") {
    const Recorder r = record(kPlain, raw_frame("thinking", "r\\ud83c") + raw_frame("answer", "c") +
                                          std::string(kDoneFrame));
    CHECK(r.reasoning == "r" + std::string(kFffd));
    CHECK(r.content == "c");
    check_clean_end(r, FinishReason::stop);
  }
}

TEST_CASE("zaiweb stream: a good frame and garbage in one read deliver the good delta", "[unit][zaiweb]") {
  // Malformed frames are noise on this dialect: skipped, the answer goes on.
  const std::string first = raw_frame("answer", "Hello") + "data: {\"type\":\"chat:completion\",\"data\":{oops\n\n";
  std::string out;
  openai::StreamEncoder enc(out, test::fixed_options());
  zaiweb::StreamDecoder dec(options_for(kPlain));
  sse::Parser parser;
  const auto on = [&](const sse::Event& ev) { if (!dec.done()) dec.on_data(ev.data, ev.event, enc); };
  REQUIRE(parser.feed(first, on) == sse::Parser::Status::ok);
  // What the gateway writes after that read already carries the good delta.
  CHECK(out.find("\"content\":\"Hello\"") != std::string::npos);
  REQUIRE(parser.feed(raw_frame("answer", " world") + std::string(kDoneFrame), on) == sse::Parser::Status::ok);
  CHECK(out.find("\"content\":\" world\"") != std::string::npos);
  CHECK(out.find("\"finish_reason\":\"stop\"") != std::string::npos);
}

TEST_CASE("zaiweb stream: a token count beyond int64 saturates instead of overflowing", "[unit][zaiweb]") {
  // Found by fuzzing: a count read as a double was cast to int64_t (undefined behaviour).
  const std::string wire =
      "data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"answer\",\"delta_content\":\"hi\"}}\n\n"
      "data: {\"type\":\"chat:completion\",\"data\":{\"phase\":\"done\",\"done\":true,\"usage\":"
      "{\"prompt_tokens\":19211111111111111111,\"completion_tokens\":2,\"total_tokens\":3}}}\n\n";
  zaiweb::StreamDecoder dec(options_for(setup_for("T01")));
  Recorder rec;
  drive({wire}, dec, rec);
  REQUIRE(rec.usage_events >= 1);
  CHECK(rec.usage.prompt_tokens == INT64_MAX);
  CHECK(rec.usage.completion_tokens == 2);
}
