#include "zgate/obs/capture.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "zgate/json/writer.hpp"
#include "zgate/obs/ticker.hpp"

namespace zgate::obs {
namespace {

std::atomic<uint64_t> g_next_id{1};

// One captured request, owned by the slot; the strings keep their capacity, so a warm slot is
// filled without allocating.
struct Slot {
  std::string request_id, key_label, model, request, response;
  int status = 0;
  bool stream = false, request_truncated = false, response_truncated = false;
  int64_t finished_ms = 0;
};

// Single producer (one worker thread), single consumer (the capture thread).
struct Queue {
  static constexpr std::size_t kSlots = 32;
  std::array<Slot, kSlots> slots;
  std::atomic<uint64_t> head{0};  // next to write out (consumer)
  std::atomic<uint64_t> tail{0};  // next to fill (producer)
};

}  // namespace

std::string mask_secrets(std::string_view text, const std::vector<std::string>& secrets, bool cut) {
  std::string out(text);
  for (const std::string& s : secrets) {
    if (s.empty()) continue;
    for (std::size_t at = out.find(s); at != std::string::npos; at = out.find(s, at + 3)) out.replace(at, s.size(), "***");
  }
  if (cut) {
    for (const std::string& s : secrets) {
      if (s.size() < 5) continue;
      for (std::size_t k = std::min(s.size() - 1, out.size()); k >= 4; --k) {
        if (std::string_view(out).substr(out.size() - k) == std::string_view(s).substr(0, k)) {
          out.replace(out.size() - k, k, "***");
          break;
        }
      }
    }
  }
  return out;
}

void format_capture(std::string& out, const CaptureMeta& m, std::string_view request, bool request_truncated,
                    std::string_view response, bool response_truncated, const std::vector<std::string>& secrets) {
  const std::time_t secs = static_cast<std::time_t>(m.finished_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  const std::size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string when(ts, n);
  when += fmt::format(".{:03}Z", static_cast<int>(m.finished_ms % 1000));
  json::Writer w(out);
  w.begin_object();
  w.kv("ts", when).kv("request_id", m.request_id).kv("key", m.key_label).kv("model", m.model);
  w.kv("status", m.status).kv_bool("stream", m.stream);
  w.kv("request", mask_secrets(request, secrets, request_truncated)).kv_bool("request_truncated", request_truncated);
  w.kv("response", mask_secrets(response, secrets, response_truncated));
  w.kv_bool("response_truncated", response_truncated);
  w.end_object();
}

class Capture::Impl {
 public:
  Impl(std::vector<std::string> s, std::string p) : secrets(std::move(s)), path(std::move(p)) {
    file = std::fopen(path.c_str(), "a");
    if (!file) throw std::runtime_error("cannot open the capture file " + path + ": " + std::strerror(errno));
  }
  ~Impl() {
    ticker.stop();
    pass();
    std::fclose(file);
  }

  Queue& thread_queue() {
    thread_local uint64_t owner = 0;
    thread_local Queue* q = nullptr;
    if (owner != id) {
      auto nq = std::make_unique<Queue>();
      q = nq.get();
      std::lock_guard lock(queues_mu);
      queues.push_back(std::move(nq));
      owner = id;
    }
    return *q;
  }

  void pass() {
    std::lock_guard passing(pass_mu);
    std::vector<Queue*> snapshot;
    {
      std::lock_guard lock(queues_mu);
      for (auto& q : queues) snapshot.push_back(q.get());
    }
    bool wrote = false;
    for (Queue* q : snapshot) {
      const uint64_t tail = q->tail.load(std::memory_order_acquire);
      for (uint64_t i = q->head.load(std::memory_order_relaxed); i != tail; ++i) {
        const Slot& s = q->slots[i % Queue::kSlots];
        line.clear();
        format_capture(line, {s.request_id, s.key_label, s.model, s.status, s.stream, s.finished_ms}, s.request,
                       s.request_truncated, s.response, s.response_truncated, secrets);
        line.push_back('\n');
        if (std::fwrite(line.data(), 1, line.size(), file) == line.size()) written.fetch_add(1, std::memory_order_relaxed);
        q->head.store(i + 1, std::memory_order_release);
        wrote = true;
      }
    }
    if (wrote) std::fflush(file);
    const uint64_t d = dropped.load(std::memory_order_relaxed);
    if (d != warned) {
      spdlog::warn("capture: {} request(s) were not captured: the capture file could not keep up", d - warned);
      warned = d;
    }
  }

  const uint64_t id = g_next_id.fetch_add(1);
  std::vector<std::string> secrets;
  std::string path;
  std::FILE* file = nullptr;
  std::mutex queues_mu;
  std::vector<std::unique_ptr<Queue>> queues;
  std::mutex pass_mu;
  std::string line;  // reused by pass() (under pass_mu)
  std::atomic<uint64_t> written{0}, dropped{0};
  uint64_t warned = 0;
  Ticker ticker{"zgate-capture", std::chrono::milliseconds(100), [this] { pass(); }};
};

Capture::Capture(const CaptureConfig& cfg, std::vector<std::string> secrets, std::string path)
    : max_bytes_(cfg.max_bytes), keys_(cfg.keys), impl_(std::make_unique<Impl>(std::move(secrets), std::move(path))) {}

Capture::~Capture() = default;

bool Capture::wants(std::string_view key_label) const {
  return keys_.empty() || std::find(keys_.begin(), keys_.end(), key_label) != keys_.end();
}

bool Capture::submit(const CaptureMeta& m, std::string_view request, std::string_view response,
                     bool response_truncated) {
  Queue& q = impl_->thread_queue();
  const uint64_t tail = q.tail.load(std::memory_order_relaxed);
  if (tail - q.head.load(std::memory_order_acquire) >= Queue::kSlots) {
    impl_->dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Slot& s = q.slots[tail % Queue::kSlots];
  s.request_id.assign(m.request_id);
  s.key_label.assign(m.key_label);
  s.model.assign(m.model);
  s.status = m.status;
  s.stream = m.stream;
  s.finished_ms = m.finished_ms;
  s.request_truncated = request.size() > max_bytes_;
  s.request.assign(request.substr(0, max_bytes_));
  s.response_truncated = response_truncated || response.size() > max_bytes_;
  s.response.assign(response.substr(0, max_bytes_));
  q.tail.store(tail + 1, std::memory_order_release);
  return true;
}

void Capture::flush() { impl_->pass(); }

CaptureStats Capture::stats() const {
  return {impl_->written.load(std::memory_order_relaxed), impl_->dropped.load(std::memory_order_relaxed)};
}

}  // namespace zgate::obs
