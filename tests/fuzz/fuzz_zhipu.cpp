// libFuzzer target: the zhipu "paas v4" response decoders (dialect/zhipu/response.hpp).
// Input: [flags][split][step] then the payload.
//  - flags bit 0 = 0: the payload is an SSE stream: sse::Parser (fed in pieces, small max
//    event size when bit 2 is set) -> zhipu::V4StreamDecoder -> openai::StreamEncoder, as the
//    gateway pumps it. bit 1: include_usage. The OpenAI output must be valid UTF-8, one JSON
//    document per event, ending in [DONE].
//  - flags bit 0 = 1: the payload is a non-stream body: zhipu::decode_response into
//    openai::ResponseAggregator (its chat.completion must be valid JSON) and into a
//    StreamEncoder (an upstream that ignored `stream`).
#include <string>

#include "fuzz_support.hpp"
#include "zgate/dialect/zhipu/response.hpp"

namespace {
using namespace zgate;

void stream(const fuzz::Input& in) {
  std::string out;
  openai::StreamEncoder enc(out, fuzz::stream_options((in.param(0) & 2) != 0));
  zhipu::V4StreamDecoder dec;
  const std::size_t max_event = (in.param(0) & 4) ? 256 : 1024 * 1024;
  fuzz::pump(fuzz::split(in.payload, in.param(1), in.param(2)), dec, enc, out, max_event);
}

void body(const fuzz::Input& in) {
  {
    openai::ResponseAggregator agg(fuzz::stream_options(false));
    const Result<void> r = zhipu::decode_response(in.payload, agg);
    if (r.ok()) {
      if (!agg.failed()) {
        std::string out;
        agg.write(out);
        ZGATE_FUZZ_CHECK(fuzz::valid_json(out), out);
      }
    } else {
      ZGATE_FUZZ_CHECK(r.error().status >= 400 && !r.error().message.empty(), in.payload);
    }
  }
  std::string out;
  openai::StreamEncoder enc(out, fuzz::stream_options((in.param(0) & 2) != 0));
  if (const Result<void> r = zhipu::decode_response(in.payload, enc); !r.ok()) enc.fail(r.error());
  enc.finish();
  fuzz::check_openai_stream(out, true);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const fuzz::Input in(data, size, 3);
  if (in.param(0) & 1) body(in);
  else stream(in);
  return 0;
}
