#pragma once
// A single-producer, single-consumer ring of finished-request records in one fixed block of
// memory: the hand-over from a worker to the recorder thread (obs/recorder.hpp).
//
// Why our own: a record is a fixed header plus its text fields copied inline, written with two
// memcpy's and one release store; the consumer reads them in place (the usage store binds the
// text straight from the ring). The block is allocated once and never grows, so the memory a
// worker's records take is the same under any load or stall, and a full ring is a counted drop
// instead of an allocation. A general queue (a mutex'd vector of strings, a linked MPSC list)
// allocated per record and let a slow consumer grow memory without bound.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "zgate/obs/access_record.hpp"

namespace zgate::obs {

class RecordRing {
 public:
  // Longest text field kept; longer ones (a client's absurd model name or path) are cut at a
  // UTF-8 character boundary, so one request cannot take a large part of the ring.
  static constexpr std::size_t kMaxText = 1024;
  static constexpr std::size_t kMinBytes = 64 * 1024;
  // Past this offset a record goes back to the start of the block whenever the consumer has
  // freed the start (in particular whenever it has caught up): the block's pages are touched
  // only as far as the records in flight reach, not all of them once the positions have gone
  // round. The block is sized for a disk stall (megabytes); records in flight between two
  // passes of a recorder that keeps up take kilobytes.
  static constexpr std::size_t kRewindAfter = 64 * 1024;

  // `bytes` is rounded up to a power of two, at least kMinBytes. The block is allocated but
  // not touched: its pages become resident as records reach them (see kRewindAfter).
  explicit RecordRing(std::size_t bytes);
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;

  // Producer only. Copies the record in; false (nothing written) when it does not fit.
  bool push(const AccessRecord& r, int64_t finished_ms);

  // Consumer only. Calls f(const AccessRecord&, int64_t finished_ms) for each record pushed
  // before the call, in order; the views point into the ring and stay valid until release().
  // Returns the position to pass to release() once the caller is done with them.
  template <class F>
  uint64_t read(F&& f) const {
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    while (tail != head) {
      const std::size_t pos = static_cast<std::size_t>(tail & mask_);
      uint32_t size;
      std::memcpy(&size, data_.get() + pos, sizeof size);
      if (size == kWrap) {
        tail += capacity_ - pos;
        continue;
      }
      int64_t finished_ms;
      const AccessRecord r = decode(pos, finished_ms);
      f(r, finished_ms);
      tail += size;
    }
    return tail;
  }
  // Consumer only: frees the space of the records read up to `pos`.
  void release(uint64_t pos) { tail_.store(pos, std::memory_order_release); }

  std::size_t capacity() const { return capacity_; }
  // Bytes in use (records and padding); exact for the producer, a snapshot for anyone else.
  std::size_t used() const {
    return static_cast<std::size_t>(head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire));
  }

  // Bytes a record takes in the ring (header, text, alignment), for tests and sizing.
  static std::size_t encoded_size(const AccessRecord& r);

 private:
  static constexpr uint32_t kWrap = 0xFFFFFFFFu;  // "the rest up to the end is padding"
  AccessRecord decode(std::size_t pos, int64_t& finished_ms) const;

  std::size_t capacity_;
  uint64_t mask_;
  std::unique_ptr<unsigned char[]> data_;
  // Producer and consumer positions on separate cache lines: each is written by one thread.
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
};

// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max);

}  // namespace zgate::obs
