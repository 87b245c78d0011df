// The log file sink (obs/log_file.hpp): size rotation keeps N files and loses no line; a reopen
// after the file was renamed away writes to a new file at the path.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>

#include "zgate/obs/log_file.hpp"
#include "support/temp_dir.hpp"

using zgate::obs::FileSink;
namespace fs = std::filesystem;
using zgate::testing::TempDir;

namespace {

std::shared_ptr<spdlog::logger> logger_on(std::shared_ptr<FileSink> sink) {
  sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%v"));
  return std::make_shared<spdlog::logger>("file-test", std::move(sink));
}

// Every line of `file`, added to `into`; returns how many.
std::size_t read_lines(const fs::path& file, std::multiset<std::string>& into) {
  std::ifstream in(file);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line); ++n) into.insert(line);
  return n;
}

}  // namespace

TEST_CASE("file sink: size rotation keeps `keep` files and loses no line while they hold them") {
  TempDir dir("logfile");
  const std::string path = dir.file("access.log");
  constexpr std::size_t kKeep = 3, kMax = 4096;
  auto sink = std::make_shared<FileSink>(path, kMax, kKeep);
  auto log = logger_on(sink);
  // Lines of 32 bytes: about 128 a file, 4 files (the current and 3 rotated) hold ~500.
  constexpr int kLines = 450;
  for (int i = 0; i < kLines; ++i) log->info("line {:05} {:->20}", i, "");
  log->flush();

  CHECK(fs::exists(path));
  for (std::size_t i = 1; i <= kKeep; ++i) CHECK(fs::exists(FileSink::rotated_name(path, i)));
  CHECK_FALSE(fs::exists(FileSink::rotated_name(path, kKeep + 1)));
  std::multiset<std::string> lines;
  std::size_t total = read_lines(path, lines);
  for (std::size_t i = 1; i <= kKeep; ++i) {
    CHECK(fs::file_size(FileSink::rotated_name(path, i)) <= kMax);
    total += read_lines(FileSink::rotated_name(path, i), lines);
  }
  CHECK(total == kLines);
  for (int i = 0; i < kLines; ++i) CHECK(lines.count(fmt::format("line {:05} {:->20}", i, "")) == 1);
}

TEST_CASE("file sink: the oldest rotated file is dropped beyond `keep`") {
  TempDir dir("logfile");
  const std::string path = dir.file("access.log");
  auto sink = std::make_shared<FileSink>(path, 100, 2);
  auto log = logger_on(sink);
  for (int i = 0; i < 50; ++i) log->info("{:->60}", i);  // one line a file
  log->flush();
  std::multiset<std::string> lines;
  CHECK(read_lines(path, lines) == 1);
  CHECK(read_lines(FileSink::rotated_name(path, 1), lines) == 1);
  CHECK(read_lines(FileSink::rotated_name(path, 2), lines) == 1);
  CHECK_FALSE(fs::exists(FileSink::rotated_name(path, 3)));
  CHECK(lines.count(fmt::format("{:->60}", 49)) == 1);  // the newest three are kept
  CHECK(lines.count(fmt::format("{:->60}", 47)) == 1);
}

TEST_CASE("file sink: after a rename and reopen_soon(), lines go to a new file at the path, none lost") {
  TempDir dir("logfile");
  const std::string path = dir.file("zgate.log");
  const std::string moved = dir.file("zgate.log.old");
  auto sink = std::make_shared<FileSink>(path, 0, 1);
  auto log = logger_on(sink);
  for (int i = 0; i < 10; ++i) log->info("before {}", i);
  fs::rename(path, moved);  // what logrotate does
  for (int i = 0; i < 5; ++i) log->info("between {}", i);  // still the renamed file: not reopened yet
  sink->reopen_soon();
  for (int i = 0; i < 7; ++i) log->info("after {}", i);
  log->flush();

  std::multiset<std::string> old_lines, new_lines;
  CHECK(read_lines(moved, old_lines) == 15);
  CHECK(read_lines(path, new_lines) == 7);
  CHECK(old_lines.count("between 4") == 1);
  CHECK(new_lines.count("after 0") == 1);
  CHECK(new_lines.count("after 6") == 1);
}

TEST_CASE("file sink: max_size 0 never rotates") {
  TempDir dir("logfile");
  const std::string path = dir.file("zgate.log");
  auto log = logger_on(std::make_shared<FileSink>(path, 0, 5));
  for (int i = 0; i < 2000; ++i) log->info("{:->100}", i);
  log->flush();
  CHECK_FALSE(fs::exists(FileSink::rotated_name(path, 1)));
  std::multiset<std::string> lines;
  CHECK(read_lines(path, lines) == 2000);
}
