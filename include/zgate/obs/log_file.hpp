#pragma once
// The file sink of the application log and of the access log: appends to a path, rotates by
// size (<path> -> <path>.1 -> ... -> <path>.<keep>, the oldest dropped), and reopens the path on
// request, for logrotate: after it renames the file, the next line goes to a new file at the
// path. Only the thread that writes through the sink (the logging or the recorder thread) opens,
// renames and writes; reopen_soon() only raises a flag, so any thread (a signal handler's) may
// call it.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

namespace zgate::obs {

class FileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // max_size 0: never rotated by size. Opens (creates) the file; throws spdlog_ex when it cannot.
  FileSink(std::string path, uint64_t max_size, std::size_t keep);
  // The next write first reopens the path.
  void reopen_soon() { reopen_.store(true, std::memory_order_relaxed); }
  const std::string& path() const { return path_; }
  // <path>.<i>: the i-th newest rotated file.
  static std::string rotated_name(const std::string& path, std::size_t i);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void rotate();

  std::string path_;
  uint64_t max_size_;
  std::size_t keep_;
  uint64_t size_ = 0;
  std::atomic<bool> reopen_{false};
  spdlog::details::file_helper file_;
};

}  // namespace zgate::obs
