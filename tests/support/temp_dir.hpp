// Test helper: a fresh directory under the system temp dir, removed with its contents when the
// object goes out of scope.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace zgate::testing {

class TempDir {
 public:
  // `tag` names the directory (zgate-<tag>-XXXXXX), so a leftover one says which test made it.
  explicit TempDir(std::string_view tag)
      : path((std::filesystem::temp_directory_path() / ("zgate-" + std::string(tag) + "-XXXXXX")).string()) {
    REQUIRE(::mkdtemp(path.data()) != nullptr);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // `name` inside the directory.
  std::string file(std::string_view name) const { return path + "/" + std::string(name); }

  std::string path;
};

}  // namespace zgate::testing
