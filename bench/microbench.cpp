// Microbenchmarks of zgate's pure hot path: request translation, SSE stream translation per
// upstream chunk, and JSON string escaping. Reported as ns/op, bytes/s and items/s.
//
// A counting global operator new (below) lets the stream benchmarks report heap allocations
// per upstream chunk as a counter (`allocs/chunk`); the steady-state stream benchmark is
// expected to show 0, since every buffer on that path is reused from chunk to chunk.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "zgate/config/config.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/obs/log.hpp"
#include "zgate/sse/parser.hpp"
#include "zgate/model/request.hpp"
#include "zgate/model/events.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "zgate/front/openai/request.hpp"
#include "zgate/dialect/zhipu/request.hpp"
#include "zgate/dialect/zhipu/response.hpp"
#if __has_include("zgate/dialect/zaiweb/stream.hpp")
#include "zgate/dialect/zaiweb/stream.hpp"
#include "zgate/policy/limit_store.hpp"
#define ZGATE_BENCH_ZAIWEB 1
#endif

// ---- counting allocator ------------------------------------------------------------------

namespace {
std::atomic<uint64_t> g_allocs{0};

void* counted_alloc(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  if (void* p = std::malloc(n)) return p;
  throw std::bad_alloc();
}

void* counted_alloc_aligned(std::size_t n, std::align_val_t al) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(al);
  if (n == 0) n = 1;
  n = (n + a - 1) / a * a;  // aligned_alloc wants a multiple of the alignment
  if (void* p = std::aligned_alloc(a, n)) return p;
  throw std::bad_alloc();
}

uint64_t allocs() { return g_allocs.load(std::memory_order_relaxed); }
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try { return counted_alloc(n); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try { return counted_alloc(n); } catch (...) { return nullptr; }
}
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using namespace zgate;

// ---- test data -------------------------------------------------------------------------------

// JSON string contents (already escaped) for the request bodies.
constexpr std::string_view kSystemPrompt =
    "You are a careful assistant for an engineering team. Answer concisely, cite file names "
    "when you refer to code, and prefer calling a tool over guessing. When the user asks for "
    "the weather, call get_weather; when they ask about the codebase, call search_docs with a "
    "focused query. Never invent tool results. Format code as fenced blocks.\\nRules:\\n1. Be "
    "brief.\\n2. Be correct.\\n3. Say when you are unsure.";

constexpr std::string_view kTools =
    R"([{"type":"function","function":{"name":"get_weather","description":"Current weather for a city, in metric units.",)"
    R"("parameters":{"type":"object","properties":{"location":{"type":"string","description":"City name, e.g. Lisbon"},)"
    R"("unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}},)"
    R"({"type":"function","function":{"name":"search_docs","description":"Full-text search over the project documentation and source tree.",)"
    R"("parameters":{"type":"object","properties":{"query":{"type":"string","description":"Search terms"},)"
    R"("max_results":{"type":"integer","minimum":1,"maximum":50},"paths":{"type":"array","items":{"type":"string"}}},)"
    R"("required":["query"]}}}])";

// One tool-using exchange: user question, assistant tool call, tool result, assistant answer.
std::string turn(int i) {
  std::string s;
  s += R"({"role":"user","content":"What is the weather in Lisbon today, and does the gateway's README mention )";
  s += "streaming? (turn " + std::to_string(i) + ")\"},";
  s += R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_)" + std::to_string(1000 + i) +
       R"(","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Lisbon\",\"unit\":\"celsius\"}"}}]},)";
  s += R"({"role":"tool","tool_call_id":"call_)" + std::to_string(1000 + i) +
       R"(","content":"{\"temperature\":21,\"condition\":\"sunny\",\"humidity\":0.41,\"wind_kph\":12}"},)";
  s += R"({"role":"assistant","content":"It is 21 °C and sunny in Lisbon. The README describes streaming under \"Usage\": )"
       R"(zgate relays each upstream chunk as soon as it arrives, so the first token is not delayed."},)";
  return s;
}

// A chat body of about `target` bytes: system prompt, tool-using turns, a final question, tools.
std::string make_chat_body(std::size_t target) {
  std::string body = R"({"model":"glm-4.6","stream":true,"stream_options":{"include_usage":true},"temperature":0.7,)"
                     R"("max_tokens":1024,"user":"bench-user-01","messages":[{"role":"system","content":")";
  body += kSystemPrompt;
  body += R"("},)";
  const std::string tail = R"({"role":"user","content":"Thanks. Now summarise both answers in one sentence."}],"tools":)" +
                           std::string(kTools) + R"(,"tool_choice":"auto"})";
  for (int i = 0; body.size() + tail.size() < target; ++i) {
    std::string t = turn(i);
    if (body.size() + t.size() + tail.size() > target + target / 8 && i > 0) break;
    body += t;
  }
  body += tail;
  return body;
}

// A realistic v4 stream: role/reasoning opener, reasoning pieces, the "\n" that starts the
// answer, `content_chunks` answer pieces (English with some CJK), then the finish chunk with
// usage and [DONE]. Returned as one string per SSE event, exactly as on the wire.
std::vector<std::string> make_v4_transcript(int reasoning_chunks, int content_chunks) {
  const std::string head =
      R"(data: {"id":"20251111176300a0b1c2d3e4f5a6b7","created":1762855500,"model":"glm-4.6","choices":[{"index":0,"delta":{)";
  std::vector<std::string> ev;
  ev.push_back(head + R"("role":"assistant","content":"","reasoning_content":"\n"}}]})" + "\n\n");
  static constexpr std::string_view kReason[] = {"The user", " asks about", " the weather", " in Lisbon;",
                                                 " the tool", " said 21", " degrees and", " sunny."};
  for (int i = 0; i < reasoning_chunks; ++i)
    ev.push_back(head + R"("role":"assistant","reasoning_content":")" + std::string(kReason[i % 8]) + "\"}}]}\n\n");
  ev.push_back(head + R"("role":"assistant","content":"\n"}}]})" + "\n\n");
  static constexpr std::string_view kPieces[] = {
      "It is",   " 21 °C",   " and",        " sunny",       " in Lisbon", " today.", " The",       " README",
      " says",   " \\\"",    "streaming\\\"", " relays",   " each",      " chunk",  " at once.", " 你好，",
      "世界。",  " Ok",      "?\\n",        "- item one\\n"};
  for (int i = 0; i < content_chunks; ++i)
    ev.push_back(head + R"("role":"assistant","content":")" + std::string(kPieces[i % 20]) + "\"}}]}\n\n");
  ev.push_back(head.substr(0, head.size() - std::string_view(R"("delta":{)").size()) +
               R"("finish_reason":"stop","delta":{"role":"assistant","content":""}}],)"
               R"("usage":{"prompt_tokens":512,"completion_tokens":96,"total_tokens":608,"prompt_tokens_details":{"cached_tokens":128}}})" +
               "\n\n");
  ev.push_back("data: [DONE]\n\n");
  return ev;
}

// ---- request translation -----------------------------------------------------------------

// A copy with simdjson's padding in its capacity (parse_chat_request parses in place).
std::string padded(std::string_view in) {
  std::string s;
  s.reserve(in.size() + simdjson::SIMDJSON_PADDING);
  s.append(in);
  return s;
}

ModelRoute bench_route() {
  ModelRoute r;
  r.name = "glm-4.6";
  r.provider = "zhipu";
  r.upstream_model = "glm-4.6";
  return r;
}

// The zhipu request body for `req` on `route`, written over `out`.
void build_into(const ChatRequest& req, const ModelRoute& route, std::string& out) {
  out.clear();
  auto err = zhipu::build_request(req, route, "glm-4.6", out);
  benchmark::DoNotOptimize(err);
  benchmark::DoNotOptimize(out.data());
}

void BM_RequestTranslate(benchmark::State& state) {
  const std::string body = padded(make_chat_body(static_cast<std::size_t>(state.range(0))));
  const ModelRoute route = bench_route();
  std::string out;
  out.reserve(body.size() * 2);
  {
    Result<ChatRequest> pr = openai::parse_chat_request(body);
    if (!pr.ok()) {
      state.SkipWithError(("parse failed: " + pr.error().message).c_str());
      return;
    }
    if (auto built = zhipu::build_request(*pr, route, "glm-4.6", out); !built.ok()) {
      state.SkipWithError(("build failed: " + built.error().message).c_str());
      return;
    }
  }
  const uint64_t a0 = allocs();
  for (auto _ : state) {
    Result<ChatRequest> pr = openai::parse_chat_request(body);
    build_into(*pr, route, out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
  state.counters["allocs/req"] = static_cast<double>(allocs() - a0) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RequestTranslate)->Arg(2 * 1024)->Arg(20 * 1024)->ArgName("body");

void BM_RequestParse(benchmark::State& state) {
  const std::string body = padded(make_chat_body(static_cast<std::size_t>(state.range(0))));
  for (auto _ : state) {
    Result<ChatRequest> pr = openai::parse_chat_request(body);
    benchmark::DoNotOptimize(pr.ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RequestParse)->Arg(2 * 1024)->Arg(20 * 1024)->ArgName("body");

void BM_RequestBuild(benchmark::State& state) {
  const std::string body = padded(make_chat_body(static_cast<std::size_t>(state.range(0))));
  const ModelRoute route = bench_route();
  Result<ChatRequest> pr = openai::parse_chat_request(body);
  if (!pr.ok()) {
    state.SkipWithError("parse failed");
    return;
  }
  std::string out;
  for (auto _ : state) build_into(*pr, route, out);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RequestBuild)->Arg(2 * 1024)->Arg(20 * 1024)->ArgName("body");

// ---- stream translation -------------------------------------------------------------------

// How the upstream bytes arrive: one read per SSE event (a paced stream), reads of one TCP
// segment's payload (events split across reads), or everything in one read (coalesced).
enum Feed : int { per_event = 0, segments = 1, whole = 2 };

std::vector<std::string> reads_for(const std::vector<std::string>& events, Feed feed) {
  if (feed == per_event) return events;
  std::string all;
  for (const auto& e : events) all += e;
  if (feed == whole) return {all};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); i += 1448) out.push_back(all.substr(i, 1448));
  return out;
}

// A whole stream per iteration, pipeline built fresh each time as the gateway does per request:
// sse::Parser -> the decoder `make_decoder()` returns -> openai::StreamEncoder, output cleared
// after each read (the gateway writes it out as one HTTP chunk).
template <class MakeDecoder>
void run_stream_translate(benchmark::State& state, const std::vector<std::string>& events, MakeDecoder make_decoder) {
  const auto reads = reads_for(events, static_cast<Feed>(state.range(0)));
  std::size_t bytes = 0;
  for (const auto& r : reads) bytes += r.size();
  std::string out;
  out.reserve(4096);
  std::size_t out_bytes = 0;
  const uint64_t a0 = allocs();
  for (auto _ : state) {
    openai::StreamOptions so;
    so.model = "glm-4.6";
    so.include_usage = true;
    openai::StreamEncoder enc(out, std::move(so));
    auto dec = make_decoder();
    sse::Parser parser;
    auto on_event = [&](const sse::Event& e) {
      if (!dec.done()) dec.on_data(e.data, e.event, enc);
    };
    out_bytes = 0;
    for (const auto& r : reads) {
      parser.feed(r, on_event);
      if (dec.done()) enc.finish();
      out_bytes += out.size();
      benchmark::DoNotOptimize(out.data());
      out.clear();
    }
  }
  const auto chunks = static_cast<int64_t>(events.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * chunks);
  state.counters["chunks/stream"] = static_cast<double>(chunks);
  state.counters["out_bytes/stream"] = static_cast<double>(out_bytes);
  state.counters["allocs/stream"] = static_cast<double>(allocs() - a0) / static_cast<double>(state.iterations());
}

void BM_StreamTranslate(benchmark::State& state) {
  const auto events = make_v4_transcript(16, 64);
  run_stream_translate(state, events, [] { return zhipu::V4StreamDecoder(); });
  const auto chunks = static_cast<double>(events.size());
  state.counters["ns/chunk"] = benchmark::Counter(static_cast<double>(state.iterations()) * chunks,
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_StreamTranslate)->Arg(per_event)->Arg(segments)->Arg(whole)->ArgName("feed");

// Steady state: one long-lived pipeline (`dec` into an encoder), one chunk of `chunks` per
// iteration (one read each), so the figure is the cost of one upstream chunk in the middle of a
// stream. Two warm-up rounds feed `opening` and every chunk first: the first chunk builds the
// encoder's prefix and sizes every reused buffer. allocs/chunk must be 0.
template <class Decoder>
void run_chunk_steady(benchmark::State& state, Decoder& dec, const std::vector<std::string>& opening,
                      const std::vector<std::string>& chunks) {
  std::string out;
  out.reserve(4096);
  openai::StreamOptions so;
  so.model = "glm-4.6";
  openai::StreamEncoder enc(out, std::move(so));
  sse::Parser parser;
  auto on_event = [&](const sse::Event& e) { dec.on_data(e.data, e.event, enc); };
  for (int round = 0; round < 2; ++round) {
    for (const auto& o : opening) parser.feed(o, on_event);
    for (const auto& c : chunks) parser.feed(c, on_event);
    out.clear();
  }
  std::size_t bytes = 0;
  std::size_t i = 0;
  const uint64_t a0 = allocs();
  for (auto _ : state) {
    const std::string& c = chunks[i];
    i = i + 1 == chunks.size() ? 0 : i + 1;
    parser.feed(c, on_event);
    bytes += c.size();
    benchmark::DoNotOptimize(out.data());
    out.clear();
  }
  const uint64_t n_allocs = allocs() - a0;
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["allocs/chunk"] = static_cast<double>(n_allocs) / static_cast<double>(state.iterations());
  if (dec.done()) state.SkipWithError("decoder ended unexpectedly");
}

// The zhipu v4 decoder: content chunks in the middle of a long stream.
void BM_StreamChunkSteady(benchmark::State& state) {
  const auto events = make_v4_transcript(0, 20);
  // events[0] = opener, [1] = "\n", [2..21] = content pieces, then finish and [DONE].
  zhipu::V4StreamDecoder dec;
  run_chunk_steady(state, dec, {events[0]}, {events.begin() + 2, events.begin() + 22});
}
BENCHMARK(BM_StreamChunkSteady);

#ifdef ZGATE_BENCH_ZAIWEB
// The zai-web dialect (chat.z.ai frames, docs/protocols/zai-web.md): plain 2026-style thinking
// frames, answer frames, usage, done. Same pipeline and accounting as BM_StreamTranslate.
std::vector<std::string> make_zaiweb_transcript(int thinking_chunks, int answer_chunks) {
  std::vector<std::string> ev;
  static constexpr std::string_view kThink[] = {"The user", " asks about", " the weather", " in Lisbon;",
                                                " the tool", " said 21", " degrees and", " sunny."};
  static constexpr std::string_view kPieces[] = {
      "It is",   " 21 °C",   " and",        " sunny",       " in Lisbon", " today.", " The",       " README",
      " says",   " \\\"",    "streaming\\\"", " relays",   " each",      " chunk",  " at once.", " 你好，",
      "世界。",  " Ok",      "?\\n",        "- item one\\n"};
  for (int i = 0; i < thinking_chunks; ++i)
    ev.push_back(R"(data: {"type":"chat:completion","data":{"delta_content":")" + std::string(kThink[i % 8]) +
                 R"(","phase":"thinking"}})" + "\n\n");
  for (int i = 0; i < answer_chunks; ++i)
    ev.push_back(R"(data: {"type":"chat:completion","data":{"delta_content":")" + std::string(kPieces[i % 20]) +
                 R"(","phase":"answer"}})" + "\n\n");
  ev.push_back(R"(data: {"type":"chat:completion","data":{"phase":"other","usage":{"prompt_tokens":512,"completion_tokens":96,"total_tokens":608,"prompt_tokens_details":{"cached_tokens":128}}}})"
               "\n\n");
  ev.push_back(R"(data: {"type":"chat:completion","data":{"phase":"done","done":true}})"
               "\n\n");
  return ev;
}

void BM_ZaiWebStreamTranslate(benchmark::State& state) {
  run_stream_translate(state, make_zaiweb_transcript(16, 64), [] {
    zaiweb::DecoderOptions dopt;
    dopt.model = "glm-4.6";
    return zaiweb::StreamDecoder(std::move(dopt));
  });
}
BENCHMARK(BM_ZaiWebStreamTranslate)->Arg(per_event)->Arg(segments)->Arg(whole)->ArgName("feed");

// Steady state of the zai-web decoder: answer frames in the middle of a long stream.
void BM_ZaiWebChunkSteady(benchmark::State& state) {
  const auto events = make_zaiweb_transcript(2, 20);
  zaiweb::DecoderOptions dopt;
  dopt.model = "glm-4.6";
  zaiweb::StreamDecoder dec(std::move(dopt));
  run_chunk_steady(state, dec, {events[0], events[1]}, {events.begin() + 2, events.begin() + 22});
}
BENCHMARK(BM_ZaiWebChunkSteady);
#endif

// The stages alone, to see where a chunk's time goes.
void BM_StageSseParse(benchmark::State& state) {
  const auto events = make_v4_transcript(16, 64);
  std::size_t bytes = 0;
  for (const auto& e : events) bytes += e.size();
  sse::Parser parser;
  std::size_t n = 0;
  for (auto _ : state) {
    for (const auto& e : events) parser.feed(e, [&](const sse::Event& ev) { n += ev.data.size(); });
  }
  benchmark::DoNotOptimize(n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
}
BENCHMARK(BM_StageSseParse);

class NullSink final : public EventSink {
 public:
  void on_event(const Event& e) override { n += e.text.size() + 1; }
  std::size_t n = 0;
};

void BM_StageV4Decode(benchmark::State& state) {
  const auto events = make_v4_transcript(16, 64);
  std::vector<std::string> payloads;  // the data fields, without "data: " and the blank line
  std::size_t bytes = 0;
  for (const auto& e : events) {
    payloads.push_back(e.substr(6, e.size() - 8));
    bytes += payloads.back().size();
  }
  payloads.pop_back();  // [DONE]: keep the decoder running across iterations
  NullSink sink;
  zhipu::V4StreamDecoder dec;
  for (auto _ : state) {
    for (const auto& p : payloads) dec.on_data(p, {}, sink);
  }
  benchmark::DoNotOptimize(sink.n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * payloads.size()));
}
BENCHMARK(BM_StageV4Decode);

void BM_StageOpenAIEncode(benchmark::State& state) {
  static constexpr std::string_view kPieces[] = {"It is", " 21 °C", " and", " sunny", " in Lisbon", " today.",
                                                 " \"streaming\"", " 你好，", "世界。", "?\n"};
  std::string out;
  out.reserve(4096);
  openai::StreamOptions so;
  so.model = "glm-4.6";
  openai::StreamEncoder enc(out, std::move(so));
  enc.on_event(Event::start("20251111176300a0b1c2d3e4f5a6b7", "glm-4.6", 1762855500));
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    enc.on_event(Event::content(kPieces[i]));
    i = i + 1 == std::size(kPieces) ? 0 : i + 1;
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
    out.clear();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_StageOpenAIEncode);

// ---- JSON string escaping ------------------------------------------------------------------

std::string escape_input(int kind, std::size_t size) {
  std::string s;
  static constexpr std::string_view kAscii = "The quick brown fox jumps over the lazy dog. 0123456789 ";
  static constexpr std::string_view kCjk = "你好，世界！日本語のテキスト、한국어 텍스트。";
  static constexpr std::string_view kHeavy = "\"q\"\\b\n\t\r\x01<\x1f>\"";
  const std::string_view unit = kind == 0 ? kAscii : kind == 1 ? kCjk : kHeavy;
  while (s.size() < size) s += unit;
  s.resize(size);
  if (kind == 1) {  // do not end inside a UTF-8 sequence
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
  }
  return s;
}

void BM_JsonEscape(benchmark::State& state) {
  const std::string in = escape_input(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  std::string out;
  out.reserve(in.size() * 6 + 16);
  for (auto _ : state) {
    out.clear();
    json::append_escaped(out, in);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["expansion"] = static_cast<double>(out.size()) / static_cast<double>(in.size());
}
// kind: 0 = clean ASCII, 1 = CJK (3-byte UTF-8), 2 = escape-heavy
BENCHMARK(BM_JsonEscape)
    ->ArgNames({"kind", "bytes"})
    ->Args({0, 16})->Args({0, 4096})
    ->Args({1, 16})->Args({1, 4096})
    ->Args({2, 16})->Args({2, 4096});

// Per-key policy enforcement as the proxy does it per chat request: find the key's rules, check
// the model, admit (concurrency, requests and tokens per minute, hour/day/month budgets and a
// global budget), write the six x-ratelimit headers, settle with the usage and cost. Limits high
// enough never to refuse. Arg 0: one thread; the multi-threaded runs hit the same key from every
// thread (the contended case: all workers serving one key).
void BM_PolicyEnforce(benchmark::State& state) {
  static Config cfg = [] {
    Config c;
    ApiKey k{"bench", "sk-bench"};
    k.policy.models = {"glm-4.5*", "glm-4.6"};
    k.policy.models_set = true;
    k.policy.requests_per_minute = k.policy.tokens_per_minute = int64_t{1} << 40;
    k.policy.max_concurrent = 1 << 20;
    k.policy.budget_hour_usd = k.policy.budget_day_usd = k.policy.budget_month_usd = 1e9;
    c.api_keys.push_back(k);
    for (int i = 0; i < 20; ++i) c.api_keys.push_back(ApiKey{"other-" + std::to_string(i), "sk-" + std::to_string(i)});
    c.budget.month_usd = 1e9;
    return c;
  }();
  static policy::LocalLimitStore store;
  static policy::Policies pol(cfg, store);
  ChatRequest req;
  req.model = "glm-4.5";
  req.messages.resize(2);
  req.messages[0].content = std::string(200, 's');
  req.messages[1].content = std::string(800, 'u');
  std::string head;
  head.reserve(512);
  for (auto _ : state) {
    const policy::KeyRules* k = pol.find("bench");
    if (!k->model_allowed(req.model)) state.SkipWithError("model refused");
    policy::Ticket t;
    policy::RateHeaders h;
    const int64_t now = store.now_ms();
    if (store.admit(k, pol, policy::estimate_prompt_tokens(req), now, t, h)) state.SkipWithError("refused");
    head.clear();
    h.append(head);
    store.settle(t, 400, 0.0004, store.now_ms());
    benchmark::DoNotOptimize(head.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_PolicyEnforce)->Threads(1)->Threads(2);

// The same for a key without any limits (only the lookup): what every request pays once any key
// has a policy.
void BM_PolicyNoLimits(benchmark::State& state) {
  static Config cfg = [] {
    Config c;
    c.api_keys.push_back(ApiKey{"bench", "sk-bench"});
    ApiKey k{"limited", "sk-l"};
    k.policy.requests_per_minute = 10;
    c.api_keys.push_back(k);
    return c;
  }();
  static policy::LocalLimitStore store;
  static policy::Policies pol(cfg, store);
  for (auto _ : state) benchmark::DoNotOptimize(pol.find("bench"));
}
BENCHMARK(BM_PolicyNoLimits);

// One access line formatted (JSON or key=value text): what the recorder thread does per
// request for the access log, and for the live tail (JSON, once per request and subscriber set).
void BM_AccessFormat(benchmark::State& state) {
  const AccessRecord r{.request_id = "chatcmpl-7f3a9c1e5b2d4e6f8a0b1c2d",
                       .key_label = "team-research",
                       .method = "POST",
                       .path = "/v1/chat/completions",
                       .model = "glm-4.6",
                       .upstream_model = "glm-4.6",
                       .provider = "zhipu",
                       .stream = true,
                       .status = 200,
                       .connect_us = 1200,
                       .upstream_first_byte_us = 180000,
                       .first_token_us = 640000,
                       .total_us = 4200000,
                       .prompt_tokens = 1480,
                       .completion_tokens = 712,
                       .reasoning_tokens = 388,
                       .bytes_in = 6144,
                       .bytes_out = 18230,
                       .error_type = {},
                       .cost_usd = 0.0021376,
                       .client_ip = "10.12.0.31",
                       .attempts = 1,
                       .retries = {}};
  const bool json = state.range(0) != 0;
  std::string out;
  out.reserve(1024);
  int64_t ms = 1796292000000;
  for (auto _ : state) {
    out.clear();
    format_access(out, r, ++ms, json);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_AccessFormat)->Arg(1)->Arg(0)->ArgName("json");

}  // namespace

BENCHMARK_MAIN();
