// libFuzzer target: the chat.z.ai stream decoder (dialect/zaiweb/stream.hpp).
// Input: [flags][split][step] then the SSE stream, pumped through sse::Parser ->
// zaiweb::StreamDecoder -> openai::StreamEncoder as the gateway does it.
//  flags bits 0-1: thinking mode (0 reasoning, 1 think_tags, 2 strip, 3 reasoning)
//        bit 2: tool emulation (prompt-injected calls in the answer text)
//        bit 3: which trigger the request taught (the two used by the fixtures)
//        bit 4: declared tools (get_weather, read_file) or none
//        bit 5: include_usage
//        bit 6: small max SSE event size (256 bytes)
// The OpenAI output must be valid UTF-8, one JSON document per event, ending in [DONE].
#include <string>

#include "fuzz_support.hpp"
#include "zgate/dialect/zaiweb/stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace zgate;
  const fuzz::Input in(data, size, 3);
  const uint8_t f = in.param(0);

  zaiweb::DecoderOptions o;
  switch (f & 3) {
    case 1: o.thinking = zaiweb::ThinkingMode::think_tags; break;
    case 2: o.thinking = zaiweb::ThinkingMode::strip; break;
    default: o.thinking = zaiweb::ThinkingMode::reasoning; break;
  }
  o.tool_emulation = (f & 4) != 0;
  if (o.tool_emulation) o.trigger = (f & 8) ? "<Function_Ab12Cd34_Start/>" : "<Function_Xk9Q_Start/>";
  if (f & 16) o.tool_names = {"get_weather", "read_file"};
  o.model = "glm-upstream";
  o.new_call_id = [n = 0]() mutable { return "call_fuzz_" + std::to_string(++n); };

  std::string out;
  openai::StreamEncoder enc(out, fuzz::stream_options((f & 32) != 0));
  zaiweb::StreamDecoder dec(std::move(o));
  const std::size_t max_event = (f & 64) ? 256 : 1024 * 1024;
  fuzz::pump(fuzz::split(in.payload, in.param(1), in.param(2)), dec, enc, out, max_event);
  return 0;
}
