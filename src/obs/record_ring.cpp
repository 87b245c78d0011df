#include "zgate/obs/record_ring.hpp"

#include <algorithm>
#include <bit>

namespace zgate::obs {
namespace {

enum Text : unsigned {
  request_id, key_label, method, path, model, upstream_model, provider, error_type, client_ip, retries, upstream_trail, kTexts
};

// A record in the ring: this header, then its texts back to back, padded to 8 bytes. Every
// record starts 8-byte aligned, so the space left before the end of the block is either none
// or at least room for the wrap marker.
struct Header {
  uint32_t size;  // the whole record's bytes, or kWrap
  uint16_t len[kTexts];
  // attempts: at most RetryPolicy's 10; flags: bit 0 usage_estimated, bits 1-3 the cache outcome
  uint8_t stream, upstream_reused, attempts, flags;
  int16_t status;                             // an HTTP status zgate sent (or 499)
  uint16_t queue_depth;                       // at most shaping's queue_max (10000)
  int64_t finished_ms, connect_us, upstream_first_byte_us, first_token_us, total_us, upstream_us;
  int64_t prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens;
  uint64_t bytes_in, bytes_out;
  double cost_usd;  // a cache hit (cost 0): the cost it saved
  int64_t queue_wait_us;
};

// The cache outcome as a number (AccessRecord::cache holds one of these names).
constexpr std::string_view kCacheOutcomes[] = {"", "hit", "miss", "bypass", "coalesced"};
uint8_t cache_code(std::string_view s) {
  for (uint8_t i = 1; i < std::size(kCacheOutcomes); ++i)
    if (kCacheOutcomes[i] == s) return i;
  return 0;
}
static_assert(sizeof(Header) % 8 == 0);
static_assert(sizeof(Header) == 152, "a record's fixed part stays about two cache lines");
static_assert(RecordRing::kMaxText <= UINT16_MAX);

// The durations, token counts and byte counts a Header keeps as they are, between a Header and
// an AccessRecord either way (the same names in both).
template <class To, class From>
inline void copy_measures(To& to, const From& from) {
  to.connect_us = from.connect_us;
  to.upstream_first_byte_us = from.upstream_first_byte_us;
  to.first_token_us = from.first_token_us;
  to.total_us = from.total_us;
  to.upstream_us = from.upstream_us;
  to.queue_wait_us = from.queue_wait_us;
  to.prompt_tokens = from.prompt_tokens;
  to.completion_tokens = from.completion_tokens;
  to.reasoning_tokens = from.reasoning_tokens;
  to.cached_tokens = from.cached_tokens;
  to.bytes_in = from.bytes_in;
  to.bytes_out = from.bytes_out;
}

constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

struct Texts {
  std::string_view v[kTexts];
  std::size_t total = 0;
  explicit Texts(const AccessRecord& r)
      : v{r.request_id, r.key_label,  r.method,     r.path,     r.model,
          r.upstream_model, r.provider, r.error_type, r.client_ip, r.retries, r.upstream_trail} {
    for (auto& s : v) {
      s = utf8_prefix(s, RecordRing::kMaxText);
      total += s.size();
    }
  }
};

}  // namespace

std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  // Back off over continuation bytes (10xxxxxx) to the lead byte of the cut sequence, and drop it.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

RecordRing::RecordRing(std::size_t bytes)
    : capacity_(std::bit_ceil(bytes < kMinBytes ? kMinBytes : bytes)),
      mask_(capacity_ - 1),
      data_(new unsigned char[capacity_]) {}  // default-initialised: no page is touched yet

std::size_t RecordRing::encoded_size(const AccessRecord& r) { return align8(sizeof(Header) + Texts(r).total); }

bool RecordRing::push(const AccessRecord& r, int64_t finished_ms) {
  const Texts t(r);
  const std::size_t size = align8(sizeof(Header) + t.total);
  uint64_t head = head_.load(std::memory_order_relaxed);
  const uint64_t tail = tail_.load(std::memory_order_acquire);
  std::size_t pos = static_cast<std::size_t>(head & mask_);
  const std::size_t to_end = capacity_ - pos;
  const std::size_t free = capacity_ - static_cast<std::size_t>(head - tail);
  // Starts over when the record does not fit before the end, or early (kRewindAfter) when the
  // start of the block is free again.
  const bool wrap = to_end < size || (pos >= kRewindAfter && free >= to_end + size);
  if (free < size + (wrap ? to_end : 0)) return false;
  if (wrap) {  // mark the rest as padding, start over
    std::memcpy(data_.get() + pos, &kWrap, sizeof kWrap);
    head += to_end;
    pos = 0;
  }
  Header h;
  h.size = static_cast<uint32_t>(size);
  for (unsigned i = 0; i < kTexts; ++i) h.len[i] = static_cast<uint16_t>(t.v[i].size());
  h.stream = r.stream;
  h.upstream_reused = r.upstream_reused;
  h.status = static_cast<int16_t>(std::clamp(r.status, 0, int{INT16_MAX}));
  h.attempts = static_cast<uint8_t>(r.attempts < 0 ? 0 : r.attempts > 255 ? 255 : r.attempts);
  h.finished_ms = finished_ms;
  copy_measures(h, r);
  h.cost_usd = r.cache_hit ? r.cost_saved_usd : r.cost_usd;
  h.queue_depth = static_cast<uint16_t>(std::clamp(r.queue_depth, 0, int{UINT16_MAX}));
  h.flags = static_cast<uint8_t>((r.usage_estimated ? 1 : 0) | (cache_code(r.cache) << 1) | (r.cache_hit ? 16 : 0));
  unsigned char* p = data_.get() + pos;
  std::memcpy(p, &h, sizeof h);
  p += sizeof h;
  for (const auto& s : t.v) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  head_.store(head + size, std::memory_order_release);
  return true;
}

AccessRecord RecordRing::decode(std::size_t pos, int64_t& finished_ms) const {
  Header h;
  std::memcpy(&h, data_.get() + pos, sizeof h);
  const char* p = reinterpret_cast<const char*>(data_.get() + pos + sizeof h);
  std::string_view v[kTexts];
  for (unsigned i = 0; i < kTexts; ++i) {
    v[i] = std::string_view(p, h.len[i]);
    p += h.len[i];
  }
  AccessRecord r;
  r.request_id = v[request_id];
  r.key_label = v[key_label];
  r.method = v[method];
  r.path = v[path];
  r.model = v[model];
  r.upstream_model = v[upstream_model];
  r.provider = v[provider];
  r.error_type = v[error_type];
  r.client_ip = v[client_ip];
  r.retries = v[retries];
  r.upstream_trail = v[upstream_trail];
  r.attempts = h.attempts;
  r.queue_depth = h.queue_depth;
  r.usage_estimated = (h.flags & 1) != 0;
  r.cache = kCacheOutcomes[std::min<std::size_t>((h.flags >> 1) & 7, std::size(kCacheOutcomes) - 1)];
  r.cache_hit = (h.flags & 16) ? 1 : 0;
  r.stream = h.stream != 0;
  r.upstream_reused = h.upstream_reused != 0;
  r.status = h.status;
  copy_measures(r, h);
  r.cost_usd = r.cache_hit ? 0.0 : h.cost_usd;
  r.cost_saved_usd = r.cache_hit ? h.cost_usd : 0.0;
  finished_ms = h.finished_ms;
  return r;
}

}  // namespace zgate::obs
