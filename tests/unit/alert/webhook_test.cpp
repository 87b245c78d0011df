// libcurl is not linked: it is opened when the first webhook sender is made, so a zgate without
// alert rules never maps it (nor the thirty libraries it brings). CTest runs each test case in a
// process of its own; no other unit test makes a libcurl sender.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "zgate/alert/alert.hpp"

using namespace zgate::alert;

namespace {

bool mapped(std::string_view lib) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(lib) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("libcurl is mapped only once a webhook sender is made", "[alert]") {
  CHECK_FALSE(mapped("libcurl.so"));
  std::atomic<bool> abort{false};
  auto sender = make_curl_sender(std::chrono::milliseconds(100), &abort);
  REQUIRE(sender);
  CHECK(mapped("libcurl.so"));
}
