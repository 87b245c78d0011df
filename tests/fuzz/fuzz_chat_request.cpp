// libFuzzer target: zgate::openai::parse_chat_request (include/zgate/front/openai/request.hpp).
// Input: the raw request body. It is copied into a string with SIMDJSON_PADDING bytes of
// spare capacity, as the parser's contract requires. A rejected body must come with an error
// message whose JSON error body is well-formed; an accepted one must have a model and at
// least one message.
#include <string>

#include <simdjson.h>

#include "fuzz_support.hpp"
#include "zgate/front/openai/error.hpp"
#include "zgate/front/openai/request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string body;
  body.reserve(size + simdjson::SIMDJSON_PADDING);
  body.assign(reinterpret_cast<const char*>(data), size);
  const zgate::Result<zgate::ChatRequest> r = zgate::openai::parse_chat_request(body);
  if (r.ok()) {
    ZGATE_FUZZ_CHECK(!r->model.empty(), body);
    ZGATE_FUZZ_CHECK(!r->messages.empty(), body);
  } else {
    ZGATE_FUZZ_CHECK(!r.error().message.empty(), body);
    // The error goes back to the client as JSON: it must stay well-formed whatever it echoes.
    const std::string err = zgate::openai::error_body(r.error());
    ZGATE_FUZZ_CHECK(zgate::fuzz::valid_json(err), err);
  }
  return 0;
}
