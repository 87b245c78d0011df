// zai-web frames: one pass over a frame's JSON into detail::Frame (the fields the decoder uses).
#include "frame.hpp"

#include "zgate/model/usage.hpp"

namespace zgate::zaiweb::detail {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

// `delta`: streamed text whose lone surrogates are kept for the decoder's SurrogateJoiners;
// elsewhere they become U+FFFD.
error_code get_sv(od::value& v, std::string_view& out, bool& present, Frame& f, bool delta = false) {
  return json::get_text(v, out, f.spill, delta, &present);
}

error_code get_sv(od::value& v, std::string_view& out, Frame& f) {
  return json::get_text(v, out, f.spill);
}

// `error`: a string, `true`, or an object {detail|message|msg, code, error_code}.
error_code parse_error(od::value& v, Frame& f) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (t == od::json_type::string) {
    if (f.has_error) return SUCCESS;
    f.has_error = true;
    bool present = false;
    return get_sv(v, f.err_detail, present, f);
  }
  if (t == od::json_type::boolean) {  // "error": false
    bool b = false;
    ZG_TRY(v.get_bool().get(b));
    if (b && !f.has_error) f.has_error = true;
    return SUCCESS;
  }
  if (t != od::json_type::object) return SUCCESS;
  const bool first = !f.has_error;
  f.has_error = true;
  return json::if_object(v, [&f, first](od::raw_json_string k, od::value& fv) -> error_code {
    if (!first) return SUCCESS;  // data.error and data.data.error carry the same error: keep the first
    if (k == "detail" || ((k == "message" || k == "msg") && f.err_detail.empty())) return get_sv(fv, f.err_detail, f);
    if (k == "code") {
      od::json_type ct;
      ZG_TRY(fv.type().get(ct));
      if (ct != od::json_type::number) return get_sv(fv, f.err_code_str, f);
      f.err_code_is_num = true;
      return json::get_int(fv, f.err_code_num);
    }
    if (k == "error_code") return get_sv(fv, f.err_error_code, f);
    return SUCCESS;
  });
}

// One object level: the envelope, `data`, or the nested error copy `data.data`.
error_code parse_level(od::object& obj, Frame& f, int depth) {
  return json::for_each_member(obj, [&f, depth](od::raw_json_string k, od::value& v) -> error_code {
    if (k == "data") {
      if (depth >= 2) return SUCCESS;
      od::json_type t;
      ZG_TRY(v.type().get(t));
      if (t != od::json_type::object) return SUCCESS;
      f.has_envelope = true;
      od::object inner;
      ZG_TRY(v.get_object().get(inner));
      return parse_level(inner, f, depth + 1);
    }
    if (k == "phase") {
      ZG_TRY(get_sv(v, f.phase, f.has_phase, f));
      if (f.has_phase) f.has_envelope = true;
      return SUCCESS;
    }
    if (k == "delta_content") return get_sv(v, f.delta, f.has_delta, f, true);
    if (k == "edit_content") return get_sv(v, f.edit, f.has_edit, f, true);
    if (k == "edit_index") {
      od::json_type t;
      ZG_TRY(v.type().get(t));
      if (t != od::json_type::number) return SUCCESS;
      f.has_index = true;
      return json::get_int(v, f.edit_index);
    }
    if (k == "done") {
      bool b = false;
      ZG_TRY(json::get_bool(v, b));
      f.done = f.done || b;
      return SUCCESS;
    }
    if (k == "usage") {
      od::json_type t;
      ZG_TRY(v.type().get(t));
      if (t != od::json_type::object) return SUCCESS;
      f.has_usage = true;
      return read_usage(v, f.usage);
    }
    if (k == "error") return parse_error(v, f);
    if (k == "delta_name") return get_sv(v, f.delta_name, f.has_name, f);
    if (k == "delta_arguments") return get_sv(v, f.delta_args, f.has_args, f, true);
    if (k == "metadata") {
      return json::if_object(v, [&f](od::raw_json_string ik, od::value& iv) {
        return ik == "tool_call_id" ? get_sv(iv, f.call_id, f) : SUCCESS;
      });
    }
    if (k == "detail" && depth == 0) return get_sv(v, f.top_detail, f);
    return SUCCESS;
  });
}

}  // namespace

error_code parse_frame(od::object& root, Frame& f) { return parse_level(root, f, 0); }

}  // namespace zgate::zaiweb::detail
