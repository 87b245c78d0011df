#pragma once
// Internal to the zai-web dialect: the fields of one SSE frame of chat.z.ai, read in one pass.
#include <cstdint>
#include <string_view>

#include <simdjson.h>

#include "zgate/json/walk.hpp"
#include "zgate/model/events.hpp"

namespace zgate::zaiweb::detail {

// The fields of one frame, as views into the thread parser's string buffer (or the spill).
struct Frame {
  std::string_view phase, delta, edit, delta_name, delta_args, call_id;
  int64_t edit_index = 0;
  bool has_phase = false, has_delta = false, has_edit = false, has_index = false, has_name = false,
       has_args = false;
  bool done = false;
  bool has_usage = false;
  Usage usage;
  bool has_error = false;
  std::string_view err_detail, err_code_str, err_error_code;
  int64_t err_code_num = 0;
  bool err_code_is_num = false;
  std::string_view top_detail;  // FastAPI-style {"detail": "..."} without an envelope
  bool has_envelope = false;    // a `data` object or a `phase`
  // Where strings simdjson rejected are decoded (lone surrogate escapes), and whether any was.
  json::Spill spill;
};

// Reads the frame's top-level object: the envelope, its `data` and the nested error copy
// `data.data`. Any simdjson failure means the frame is malformed.
simdjson::error_code parse_frame(simdjson::ondemand::object& root, Frame& f);

}  // namespace zgate::zaiweb::detail
