#pragma once
// Where a subcommand finds a file of the data directory: the path given with --db, else
// `name` in --data-dir, else in ZGATE_DATA_DIR, else in ./data (zgate's own default).
#include <cstdlib>
#include <string>
#include <string_view>

namespace zgate::cli {

inline std::string data_file(const std::string& db, const std::string& data_dir, std::string_view name) {
  if (!db.empty()) return db;
  std::string dir = data_dir;
  if (dir.empty()) {
    const char* env = std::getenv("ZGATE_DATA_DIR");
    dir = env && *env ? env : "./data";
  }
  if (dir.back() != '/') dir += '/';
  return dir + std::string(name);
}

}  // namespace zgate::cli
