// The OpenAI front's JSON helpers: error values for malformed bodies and field errors, and the
// walk that checks a value that is forwarded verbatim.
#include <type_traits>

#include <fmt/format.h>

#include "parse.hpp"

namespace zgate::openai::detail {

namespace {

// Walks the members of an object or array (one whose raw text may already have been taken and
// rewound: raw_json() unescapes nothing, so each string is still unescaped only once).
template <class Container>
simdjson::error_code validate_members(Container& c, unsigned depth) {
  if (depth > json::kMaxDepth) return simdjson::DEPTH_ERROR;
  if constexpr (std::is_same_v<Container, od::object>) {
    return json::for_each_member<json::Keys::unescaped>(
        c, [depth](std::string_view, od::value& v) { return validate(v, depth); });
  } else {
    return json::for_each_element(c, [depth](od::value& v) { return validate(v, depth); });
  }
}

}  // namespace

ApiError json_error(simdjson::error_code e) {
  if (e == simdjson::DEPTH_ERROR) {
    return bad_request(fmt::format("The JSON body of your request is nested more than {} levels deep, which is the "
                                   "limit.",
                                   json::kMaxDepth),
                       {}, "json_too_deep");
  }
  return bad_request(
      fmt::format("We could not parse the JSON body of your request: {}", simdjson::error_message(e)));
}

ApiError field_error(std::string param, std::string_view problem) {
  std::string msg = fmt::format("'{}' {}", param, problem);
  return bad_request(std::move(msg), std::move(param));
}

simdjson::error_code validate(od::value& v, unsigned depth) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      od::object obj;
      if (auto e = v.get_object().get(obj)) return e;
      return validate_members(obj, depth + 1);
    }
    case od::json_type::array: {
      od::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      return validate_members(arr, depth + 1);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::number: {
      double d;
      return v.get_double().get(d);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool n = false;
      if (auto e = v.is_null().get(n)) return e;
      return n ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

ApiError malformed(simdjson::error_code e) {
  return json_error(e == simdjson::INCORRECT_TYPE ? simdjson::TAPE_ERROR : e);
}

Step raw_of(od::value& v, std::string& out) {
  od::json_type t;
  ZG_TRY(type_of(v, t));
  std::string_view raw;
  if (t == od::json_type::object || t == od::json_type::array) {
    simdjson::error_code e;
    if (t == od::json_type::object) {
      od::object c;
      if ((e = v.get_object().get(c)) || (e = c.raw_json().get(raw)) || (e = c.reset().error()) ||
          (e = validate_members(c, 1)))
        return malformed(e);
    } else {
      od::array c;
      if ((e = v.get_array().get(c)) || (e = c.raw_json().get(raw)) || (e = c.reset().error()) ||
          (e = validate_members(c, 1)))
        return malformed(e);
    }
  } else {
    raw = v.raw_json_token();  // a peek: the walk below consumes the value
    if (auto e = validate(v, 0)) return malformed(e);
  }
  out.assign(simdjson::trim(raw));
  return {};
}

Step raw_then_rewind(od::object& obj, std::string_view& raw) {
  if (auto e = obj.raw_json().get(raw)) return json_error(e);
  if (auto e = obj.reset().error()) return json_error(e);
  return {};
}

}  // namespace zgate::openai::detail
