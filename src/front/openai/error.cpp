#include "zgate/front/openai/error.hpp"

#include "zgate/json/writer.hpp"

namespace zgate::openai {

void append_error_body(std::string& out, const ApiError& e) {
  json::Writer w(out);
  w.begin_object().key("error").begin_object();
  w.kv("message", e.message).kv("type", e.type.empty() ? std::string_view("api_error") : e.type);
  w.key("param");
  if (e.param.empty()) w.null(); else w.string(e.param);
  w.key("code");
  if (e.code.empty()) w.null(); else w.string(e.code);
  w.end_object().end_object();
}

std::string error_body(const ApiError& e) {
  std::string out;
  append_error_body(out, e);
  return out;
}

}  // namespace zgate::openai
