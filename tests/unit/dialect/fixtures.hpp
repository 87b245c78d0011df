#pragma once
// Shared by the dialect and front tests: reading fixture and golden files (tests/fixtures/),
// stream options with fixed ids (tests/support/stream_options.hpp).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <catch2/catch.hpp>

#include "../../support/stream_options.hpp"

namespace zgate::test {

// The whole file; fails the test when it cannot be read.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  INFO(p.string());
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ZGATE_UPDATE_GOLDENS=1: the tests (re)write their goldens instead of comparing.
inline bool updating() {
  const char* v = std::getenv("ZGATE_UPDATE_GOLDENS");
  return v != nullptr && *v != '\0' && *v != '0';
}

// Checks map(in) == out for every row, naming the input of a row that fails.
template <class Out, class Map>
void check_each(Map map, std::initializer_list<std::pair<std::string_view, Out>> rows) {
  for (const auto& [in, out] : rows) {
    INFO(in);
    CHECK(map(in) == out);
  }
}

}  // namespace zgate::test
