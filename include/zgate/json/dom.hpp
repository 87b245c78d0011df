#pragma once
// The DOM parser for the small JSON documents the dialects read whole (sign-in and upload
// answers, error bodies, tool-call blocks in answer text). Separate from the On Demand parser
// (read.hpp), so a DOM parse never invalidates the stream frame being decoded.
#include <simdjson.h>

namespace zgate::json {

// The calling thread's DOM parser. One document at a time: elements obtained from it are
// invalidated by the next parse on the same thread, so a caller copies what it keeps before
// anything else parses.
simdjson::dom::parser& thread_dom_parser();

}  // namespace zgate::json
