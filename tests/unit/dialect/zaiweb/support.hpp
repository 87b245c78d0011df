#pragma once
// Helpers shared by the zai-web request-side tests.
#include <string>
#include <string_view>

#include "zgate/model/dialect.hpp"

namespace zgate::zaiweb::test {

// The value of header `name` in `r` ("" when absent).
inline std::string header(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace zgate::zaiweb::test
