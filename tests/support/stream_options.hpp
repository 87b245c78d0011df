#pragma once
// Stream options with a fixed id, model and created, so that encoded output can be compared with
// goldens and reproduced (the unit tests and the fuzz targets).
#include "zgate/front/openai/encoder.hpp"

namespace zgate::test {

inline openai::StreamOptions fixed_options(bool include_usage = false) {
  openai::StreamOptions o;
  o.id = "chatcmpl-test";
  o.model = "glm-test";
  o.created = 1700000000;
  o.include_usage = include_usage;
  return o;
}

}  // namespace zgate::test
