#include "zgate/model/usage.hpp"

#include <cstdint>

#include "zgate/json/walk.hpp"

namespace zgate {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

error_code read_usage(od::value& v, Usage& u) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (t != od::json_type::object) return SUCCESS;  // null: no usage
  u = Usage{};
  ZG_TRY(json::if_object(v, [&u](od::raw_json_string k, od::value& fv) -> error_code {
    if (k == "prompt_tokens") return json::get_int(fv, u.prompt_tokens);
    if (k == "completion_tokens") return json::get_int(fv, u.completion_tokens);
    if (k == "total_tokens") return json::get_int(fv, u.total_tokens);
    if (k == "prompt_tokens_details") {
      return json::if_object(fv, [&u](od::raw_json_string dk, od::value& dv) {
        return dk == "cached_tokens" ? json::get_int(dv, u.cached_tokens) : SUCCESS;
      });
    }
    if (k == "completion_tokens_details") {
      return json::if_object(fv, [&u](od::raw_json_string dk, od::value& dv) {
        return dk == "reasoning_tokens" ? json::get_int(dv, u.reasoning_tokens) : SUCCESS;
      });
    }
    return SUCCESS;
  }));
  if (u.total_tokens == 0 && __builtin_add_overflow(u.prompt_tokens, u.completion_tokens, &u.total_tokens)) {
    // Counts at the ends of the range (an upstream's garbage): the sum saturates as they do.
    u.total_tokens = u.prompt_tokens < 0 ? INT64_MIN : INT64_MAX;
  }
  u.present = true;
  return SUCCESS;
}

}  // namespace zgate
