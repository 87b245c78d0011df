#include "zgate/obs/log_file.hpp"

#include <cstdio>
#include <filesystem>

namespace zgate::obs {

FileSink::FileSink(std::string path, uint64_t max_size, std::size_t keep)
    : path_(std::move(path)), max_size_(max_size), keep_(keep) {
  file_.open(path_, /*truncate=*/false);
  size_ = file_.size();
}

std::string FileSink::rotated_name(const std::string& path, std::size_t i) { return path + "." + std::to_string(i); }

void FileSink::sink_it_(const spdlog::details::log_msg& msg) {
  if (reopen_.exchange(false, std::memory_order_relaxed)) {
    // The file at the path may have been renamed away: what is open is flushed into it, and the
    // path is opened again (created when it is gone).
    file_.flush();
    file_.reopen(/*truncate=*/false);
    size_ = file_.size();
  }
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  // Rotation at message boundaries only: a line (or a block of access lines) is never split.
  if (max_size_ > 0 && size_ > 0 && size_ + line.size() > max_size_) rotate();
  file_.write(line);
  size_ += line.size();
}

void FileSink::flush_() { file_.flush(); }

void FileSink::rotate() {
  file_.close();
  std::error_code ec;
  for (std::size_t i = keep_; i > 0; --i) {
    const std::string from = i == 1 ? path_ : rotated_name(path_, i - 1);
    if (!std::filesystem::exists(from, ec)) continue;
    std::filesystem::rename(from, rotated_name(path_, i), ec);
    if (ec) {
      // Keep writing to the same file rather than lose lines; said on stderr (this sink may be
      // the application log itself).
      std::fprintf(stderr, "zgate: cannot rotate %s: %s\n", from.c_str(), ec.message().c_str());
      break;
    }
  }
  file_.reopen(/*truncate=*/false);
  size_ = file_.size();
}

}  // namespace zgate::obs
