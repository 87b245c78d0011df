#pragma once
// Shared by the dialect and front tests: reading fixture and golden files (tests/fixtures/),
// stream options with fixed ids.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "zgate/front/openai/encoder.hpp"

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

// Fixed id, model and created, so that encoded output can be compared with goldens.
inline openai::StreamOptions fixed_options(bool include_usage = false) {
  openai::StreamOptions o;
  o.id = "chatcmpl-test";
  o.model = "glm-test";
  o.created = 1700000000;
  o.include_usage = include_usage;
  return o;
}

}  // namespace zgate::test
