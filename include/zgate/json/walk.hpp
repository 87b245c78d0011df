#pragma once
// Walking simdjson On Demand values: the one set of helpers the OpenAI request parser and the
// upstream stream decoders share.
//
// Two error styles meet here. The decoders stay on simdjson error codes (a malformed frame
// becomes one error event, decided by the caller); the request parser walks with Result<void>
// so that each step can name the offending field. ZG_TRY works for both, and the walks below
// take a mapper (`on_json`) that turns a simdjson code into the caller's error type.
//
// Nothing here allocates or copies on the success path: keys are compared raw (decoders) or
// unescaped into the parser's own string buffer (request parser), values are views.
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

#include <simdjson.h>

#include "zgate/core/error.hpp"
#include "zgate/json/read.hpp"
#include "zgate/json/surrogates.hpp"

namespace zgate::json {

// True when a step failed, whatever the error style of the walk.
inline bool failed(simdjson::error_code e) { return e != simdjson::SUCCESS; }
inline bool failed(const Result<void>& r) { return !r.ok(); }

// Returns the failure of a step (a simdjson::error_code or a Result<void>) from the enclosing
// function, which must return the same type.
#define ZG_TRY(expr)                                                     \
  do {                                                                   \
    if (auto zg_e_ = (expr); ::zgate::json::failed(zg_e_)) return zg_e_; \
  } while (0)

// The identity mapper: the walk's failures stay simdjson codes.
struct Codes {
  simdjson::error_code operator()(simdjson::error_code e) const { return e; }
};

// How member keys reach the callback: raw (an od::raw_json_string compared with ==, no copy,
// for fixed upstream shapes) or unescaped (a std::string_view in the parser's buffer, for
// client input where "\u006dodel" must still be `model`).
enum class Keys : unsigned char { raw, unescaped };

// Calls `f(key, value)` for each member of `obj`, in document order, stopping at the first
// failure. `f` returns the walk's error type R (simdjson::error_code or Result<void>); the
// walk's own failures are `on_json(code)`.
template <Keys K = Keys::raw, class F, class OnJson = Codes>
auto for_each_member(od::object& obj, F&& f, OnJson&& on_json = {}) -> decltype(on_json(simdjson::SUCCESS)) {
  for (auto fr : obj) {
    od::field field;
    if (auto e = std::move(fr).get(field)) return on_json(e);
    if constexpr (K == Keys::raw) {
      od::raw_json_string key = field.key();
      od::value v = field.value();
      ZG_TRY(f(key, v));
    } else {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return on_json(e);
      od::value v = field.value();
      ZG_TRY(f(key, v));
    }
  }
  return {};
}

// Calls `f(value)` for each element of `arr`, stopping at the first failure (as above).
template <class F, class OnJson = Codes>
auto for_each_element(od::array& arr, F&& f, OnJson&& on_json = {}) -> decltype(on_json(simdjson::SUCCESS)) {
  for (auto er : arr) {
    od::value v;
    if (auto e = std::move(er).get(v)) return on_json(e);
    ZG_TRY(f(v));
  }
  return {};
}

// The lenient shapes of upstream answers: a member that is not an object / array is skipped
// (nothing read, SUCCESS). `f` sees the members / elements as above; returns whether `v` was
// one in `*was` when given.
template <od::json_type T, Keys K = Keys::raw, class F>
simdjson::error_code if_container(od::value& v, F&& f, bool* was) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (was) *was = t == T;
  if (t != T) return simdjson::SUCCESS;
  if constexpr (T == od::json_type::object) {
    od::object obj;
    ZG_TRY(v.get_object().get(obj));
    return for_each_member<K>(obj, std::forward<F>(f));
  } else {
    od::array arr;
    ZG_TRY(v.get_array().get(arr));
    return for_each_element(arr, std::forward<F>(f));
  }
}

template <Keys K = Keys::raw, class F>
simdjson::error_code if_object(od::value& v, F&& f, bool* was = nullptr) {
  return if_container<od::json_type::object, K>(v, std::forward<F>(f), was);
}

template <class F>
simdjson::error_code if_array(od::value& v, F&& f, bool* was = nullptr) {
  return if_container<od::json_type::array>(v, std::forward<F>(f), was);
}

// ---------------------------------------------------------------------------------------------
// Typed getters of upstream answers (lenient: a value of another type leaves `out` as it was)

// An integer: a float is truncated and anything out of range (1e30, 2^64 and beyond)
// saturated (saturate_to_int64).
inline simdjson::error_code get_int(od::value& v, int64_t& out) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (t != od::json_type::number) return simdjson::SUCCESS;
  if (v.get_int64().get(out) == simdjson::SUCCESS) return simdjson::SUCCESS;
  double d;
  ZG_TRY(v.get_double().get(d));
  out = saturate_to_int64(d);
  return simdjson::SUCCESS;
}

// A boolean (`out` unchanged for other types).
inline simdjson::error_code get_bool(od::value& v, bool& out) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (t != od::json_type::boolean) return simdjson::SUCCESS;
  return v.get_bool().get(out);
}

// Where strings that simdjson rejects are decoded (lone surrogate escapes, see
// surrogates.hpp), and whether any was: one per decoded payload.
struct Spill {
  StringSpill* buffers = nullptr;
  bool wobbly = false;
};

// A string; `present` is set when `v` was one. `delta`: streamed text whose lone surrogates are
// kept for a SurrogateJoiner; elsewhere they become U+FFFD.
inline simdjson::error_code get_text(od::value& v, std::string_view& out, Spill& spill, bool delta = false,
                                     bool* present = nullptr) {
  od::json_type t;
  ZG_TRY(v.type().get(t));
  if (t != od::json_type::string) return simdjson::SUCCESS;
  ZG_TRY(get_string_lenient(v, out, *spill.buffers, delta, spill.wobbly));
  if (present) *present = true;
  return simdjson::SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Typed getters of client input: a type mismatch is the client's error about the field

// Reads `v` as T (std::string_view, bool, int64_t, double, od::object, od::array). A type
// mismatch or a number out of range is `on_type()` (an ApiError naming the field, built only
// then); any other failure means malformed JSON: `on_json(code)`.
template <class T, class OnType, class OnJson>
Result<void> get_as(od::value& v, T& out, OnType&& on_type, OnJson&& on_json) {
  if (auto e = v.get(out)) {
    if (e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_OUT_OF_RANGE) return on_type();
    return on_json(e);
  }
  return {};
}

}  // namespace zgate::json
