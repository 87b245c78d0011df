#pragma once
// The response cache's pure part: the cache key over a normalised upstream request, the entry
// (an answer's normalised events with their offsets from the request's start), its compact
// encoding, and the replay schedule. No I/O: the server decides when to look up, record and
// replay (docs/cache.md).
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/model/events.hpp"
#include "zgate/model/request.hpp"
#include "zgate/model/route.hpp"

namespace zgate::cache {

// SHA-256 of the canonical form of what the upstream is asked (see canonical_request).
struct Key {
  std::array<unsigned char, 32> bytes{};
  bool operator==(const Key&) const = default;
  std::string hex() const;
  static std::optional<Key> from_hex(std::string_view hex);
};

struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept {
    std::size_t h = 0;
    for (int i = 0; i < 8; ++i) h = (h << 8) | k.bytes[static_cast<std::size_t>(i)];
    return h;
  }
};

// The canonical bytes a key is the hash of: the provider, the upstream model and the route's
// own shaping of the request (forced thinking, web search, output clamp), then every request
// field that can change the answer (messages, tools, tool_choice, response format, sampling
// parameters, stop, max tokens, seed, thinking, fields passed through verbatim), each length
// prefixed. Raw JSON values (tool schemas, response schemas, verbatim fields) are rewritten with
// their object keys sorted and whitespace dropped, so key order and spacing in the client's JSON
// do not change the key. Fields that change only the shape of the answer (stream,
// include_usage, the public model name, user) are left out. `scope` (the client key's label
// when the cache is scoped per key, else empty) is included when not empty.
std::string canonical_request(const ChatRequest& req, const ModelRoute& route, std::string_view provider,
                              std::string_view upstream_model, std::string_view scope);
Key make_key(const ChatRequest& req, const ModelRoute& route, std::string_view provider,
             std::string_view upstream_model, std::string_view scope);
// `json` with object keys sorted and no insignificant whitespace; the input itself when it does
// not parse.
std::string canonical_json(std::string_view json);

// A deterministic request: temperature 0, or do_sample false passed through.
bool deterministic(const ChatRequest& req);

// One recorded event: its fields as in `Event`, its strings in the entry's arena.
struct StoredEvent {
  int64_t at_us = 0;  // offset from the request's start
  int64_t created = 0;
  uint32_t text_off = 0, text_len = 0, id_off = 0, id_len = 0, name_off = 0, name_len = 0;
  int32_t index = 0;
  EventType type = EventType::content;
  FinishReason finish = FinishReason::none;
};

// One cached answer; immutable once built (shared as shared_ptr<const Entry>).
struct Entry {
  std::string model;           // the public route name it was stored under
  std::string upstream_model;
  std::string key_label;       // the client key that stored it ("" when anonymous)
  int64_t stored_ms = 0;       // Unix milliseconds
  int64_t expires_ms = 0;
  Usage usage;                 // what the upstream reported
  double cost_usd = 0;         // what the answer cost at the route's price when stored
  std::vector<StoredEvent> events;
  std::string arena;

  std::string_view str(uint32_t off, uint32_t len) const { return std::string_view(arena).substr(off, len); }
  // The event as the sink sees it (views into this entry; usage events point at `usage`).
  Event event(const StoredEvent& s) const;
  // Memory held, approximately (what the byte bound counts).
  std::size_t bytes() const;
};

// Replays every event of `e` into `sink`, at once.
void replay(const Entry& e, EventSink& sink);

// The replay schedule: the wait before each event, microseconds: its gap from the previous
// event's offset (the first: from the request's start), divided by `speed` (> 0) and capped at
// `max_delay_us` (<= 0: no cap).
std::vector<int64_t> replay_delays(const Entry& e, double speed, int64_t max_delay_us);

// The compact binary form (the disk store's rows) and back; nullopt for bytes that are not an
// entry of this format.
std::string encode(const Entry& e);
std::optional<Entry> decode(std::string_view bytes);

// Records an answer's events into an Entry as they pass (a tee in front of the client's
// encoder). Keeps only what a complete answer needs; an error event, or an answer larger than
// `max_bytes`, marks it unusable.
class EntryBuilder final : public EventSink {
 public:
  // `now_us`: microseconds since the request's start.
  EntryBuilder(std::function<int64_t()> now_us, std::size_t max_bytes);
  void on_event(const Event& e) override;
  // A complete, successful answer: a finish reason other than error, no error event, not too
  // large.
  bool complete() const;
  bool oversize() const { return oversize_; }
  // The entry built (call once, after complete()).
  std::shared_ptr<Entry> take();

 private:
  uint32_t add(std::string_view s);
  std::function<int64_t()> now_us_;
  std::size_t max_bytes_;
  std::shared_ptr<Entry> e_;
  bool finished_ = false, failed_ = false, oversize_ = false;
};

}  // namespace zgate::cache
