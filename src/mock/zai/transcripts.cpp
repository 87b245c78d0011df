// The recorded zai-web transcripts, replayed. Their bytes are the files of
// tests/fixtures/zaiweb/transcripts, embedded at build time (src/mock/embed_transcripts.cmake),
// so the mock sends exactly what the unit tests decode and stays one self-contained binary.
#include <algorithm>
#include <map>

#include "zai.hpp"
#include "zgate/sse/parser.hpp"

namespace zgate::mock::zai {
namespace {

using Transcripts = std::map<std::string, Transcript, std::less<>>;

// Every embedded transcript as its payloads (the data of each event, in order), plus one the
// fixtures do not hold: a character outside the BMP (U+1F30F) split between two deltas as lone
// surrogate escapes, as tokenizers do; the gateway must answer "Earth 🌏!".
const Transcripts& all() {
  static const Transcripts parsed = [] {
    Transcripts out;
    for (std::size_t i = 0; i < kTranscriptFileCount; ++i) {
      Transcript& t = out[std::string(kTranscriptFiles[i].name)];
      t.name = kTranscriptFiles[i].name;
      sse::Parser parser;
      const auto keep = [&](const sse::Event& e) { t.payloads.emplace_back(e.data); };
      parser.feed(kTranscriptFiles[i].bytes, keep);
      parser.finish(keep);
    }
    out["split_surrogate"] = Transcript{"split_surrogate", {
        R"({"type":"chat:completion","data":{"delta_content":"Earth \ud83c","phase":"answer"}})",
        R"({"type":"chat:completion","data":{"delta_content":"\udf0f!","phase":"answer"}})",
        R"({"type":"chat:completion","data":{"phase":"done","done":true}})",
    }};
    return out;
  }();
  return parsed;
}

std::string_view file_bytes(std::string_view name) {
  for (std::size_t i = 0; i < kTranscriptFileCount; ++i)
    if (kTranscriptFiles[i].name == name) return kTranscriptFiles[i].bytes;
  return {};
}

}  // namespace

const Transcript* transcript(std::string_view name) {
  const auto& t = all();
  const auto it = t.find(name);
  return it == t.end() ? nullptr : &it->second;
}

std::string first_payload(std::string_view name) {
  const auto* t = transcript(name);
  return t == nullptr || t->payloads.empty() ? std::string() : t->payloads.front();
}

Answer replay(const Transcript& t, const ChatReq& r) {
  Answer a;
  for (const auto& pl : t.payloads) {
    std::string s(pl);
    if (t.name == "t08" && !r.trigger.empty()) {
      // The transcript's trigger is cut after "<Function_Xk9"; keep a cut inside the request's.
      if (const auto at = s.find("<Function_Xk9"); at != std::string::npos) {
        s.replace(at, 13, r.trigger.substr(0, std::min<std::size_t>(13, r.trigger.size() - 1)));
      } else if (const auto at2 = s.find("Q_Start/>"); at2 != std::string::npos) {
        s.replace(at2, 9, r.trigger.substr(std::min<std::size_t>(13, r.trigger.size() - 1)));
      }
    }
    a.payloads.push_back(std::move(s));
  }
  if (t.name == "t16") a.end = End::close_abruptly;  // the connection drops mid-answer
  return a;
}

// T19 repeats the T01 answer with every framing variation (CRLF line ends, "data:" without a
// space, a comment, extra blank lines, a non-JSON data line, a trailing [DONE]). It is played
// byte for byte, one write per event, and the write of the done frame is cut inside 你好. The
// mock adds what the fixture leaves out to keep the unit tests' every-byte splits quick: a
// hidden 200 KB tool_response frame before the usage frame.
std::shared_ptr<Plan> framing_plan(const StreamKnobs& k) {
  std::string bytes(file_bytes("t19"));
  if (const auto usage = bytes.find(R"(data: {"type":"chat:completion","data":{"phase":"other")");
      usage != std::string::npos) {
    bytes.insert(usage, "data: " + frame_delta("tool_response", std::string(200 * 1024, 'x')) + "\r\n\r\n");
  }
  std::vector<std::size_t> cuts;
  for (auto p = bytes.find("\r\n\r\n"); p != std::string::npos; p = bytes.find("\r\n\r\n", p + 4)) cuts.push_back(p + 4);
  if (const auto ni = bytes.find("你好"); ni != std::string::npos) {
    cuts.push_back(ni + 1);  // inside 你
    cuts.push_back(ni + 5);  // inside 好
  }
  std::sort(cuts.begin(), cuts.end());
  auto p = sse_plan("t19");
  std::size_t prev = 0;
  for (const std::size_t c : cuts) {
    if (c <= prev || c > bytes.size()) continue;
    p->steps.push_back(Step{p->steps.empty() ? k.first : k.delay, bytes.substr(prev, c - prev)});
    prev = c;
  }
  if (prev < bytes.size()) p->steps.push_back(Step{k.delay, bytes.substr(prev)});
  return p;
}

}  // namespace zgate::mock::zai
