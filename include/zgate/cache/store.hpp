#pragma once
// Where cached answers live, behind one interface (like LimitStore and CredentialPool): the
// in-process LocalCacheStore keeps them in memory (an LRU bounded by bytes, with a TTL), written
// through to an optional DiskCache; a store shared by several replicas (e.g. backed by Redis)
// implements the same class.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "zgate/cache/entry.hpp"

namespace zgate::cache {

struct Stats {
  uint64_t entries = 0, bytes = 0, max_bytes = 0;
  uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, expirations = 0;
};

// What DELETE /admin/cache removes: everything (both empty), the entries of one public model,
// and/or those whose key (hex) or client key label starts with `prefix`.
struct Filter {
  std::string model{};
  std::string prefix{};
  bool matches(const Key& k, const Entry& e) const;
};

class DiskCache;

class CacheStore {
 public:
  virtual ~CacheStore() = default;
  // The live entry of `k`, or null (a miss; an expired entry is dropped).
  virtual std::shared_ptr<const Entry> get(const Key& k, int64_t now_ms) = 0;
  // Stores `e` under `k` (replacing any), evicting the least recently used entries past the byte
  // bound; an entry larger than the store takes is not stored.
  virtual void put(const Key& k, std::shared_ptr<const Entry> e) = 0;
  // Removes what `f` matches; the number removed.
  virtual std::size_t erase(const Filter& f) = 0;
  virtual Stats stats() const = 0;
};

// In memory: 16 shards, each a mutex over a map and an LRU list of immutable entries (critical
// sections are pointer moves). The byte bound is split evenly over the shards.
class LocalCacheStore final : public CacheStore {
 public:
  static constexpr std::size_t kShards = 16;
  // `disk`, when given, receives every store and removal (written by its own thread).
  explicit LocalCacheStore(std::size_t max_bytes, DiskCache* disk = nullptr);
  ~LocalCacheStore() override;

  std::shared_ptr<const Entry> get(const Key& k, int64_t now_ms) override;
  void put(const Key& k, std::shared_ptr<const Entry> e) override;
  std::size_t erase(const Filter& f) override;
  Stats stats() const override;
  // A new byte bound (a reload); evicts at once when it shrank.
  void set_max_bytes(std::size_t max_bytes);
  // The largest entry a shard takes.
  std::size_t shard_bytes() const { return shard_max_.load(std::memory_order_relaxed); }
  // Adds an entry read back from disk (no write back); false when it did not fit.
  bool load(const Key& k, std::shared_ptr<const Entry> e);

 private:
  struct Node {
    Key key;
    std::shared_ptr<const Entry> entry;
    std::size_t bytes;
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::list<Node> lru;  // most recent first
    std::unordered_map<Key, std::list<Node>::iterator, KeyHash> map;
    std::size_t bytes = 0;
    uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, expirations = 0;
  };
  Shard& shard(const Key& k) { return shards_[k.bytes[31] % kShards]; }
  bool insert(const Key& k, std::shared_ptr<const Entry> e, bool write_through);
  // Evicts from the back of `s` until it holds at most the bound (under s.mu); the keys dropped.
  void trim(Shard& s, std::vector<Key>& dropped);
  std::atomic<std::size_t> shard_max_;
  DiskCache* disk_;
  Shard shards_[kShards];
};

// The on-disk copy (SQLite): one row per entry, written by a background thread from a bounded
// queue, so the request path never waits on a disk write (a full queue drops the write: the
// memory copy stays, the disk misses it).
class DiskCache {
 public:
  static constexpr std::size_t kQueue = 4096;
  // Opens (creating) the database at `path`; throws std::runtime_error when it cannot.
  explicit DiskCache(const std::string& path);
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // Queued for the writer thread.
  void put(const Key& k, std::shared_ptr<const Entry> e);
  void remove(const Key& k);
  void remove_all();
  // Loads the live rows into `into`, newest first, until one does not fit; deletes the expired
  // ones. The number loaded. Call before the store is used.
  std::size_t load(LocalCacheStore& into, int64_t now_ms);
  // Waits until the queue is written (tests, shutdown).
  void flush();
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Op {
    enum class Kind : unsigned char { put, remove, remove_all } kind;
    Key key;
    std::shared_ptr<const Entry> entry;
  };
  void push(Op op);
  void run();
  void* db_ = nullptr;  // sqlite3*
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Op> queue_;
  bool stop_ = false, busy_ = false;
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;
};

// `zgate cache stats|clear` on a database file, without a running gateway.
struct DiskStats {
  int64_t entries = 0, bytes = 0, expired = 0;
  std::vector<std::pair<std::string, int64_t>> by_model;  // entries per public model
};
// Throws std::runtime_error when the file cannot be opened.
DiskStats disk_stats(const std::string& path, int64_t now_ms);
int64_t disk_clear(const std::string& path, std::string_view model);

}  // namespace zgate::cache

namespace zgate::cache {

// Coalescing: one upstream call for concurrent identical requests. The first request of a key
// leads (its answer's events are published here as they arrive); the others wait on the flight
// and replay its events as they come. A waiter registers a wake-up (which posts to its own
// worker); the leader calls notify() after each upstream read and ends the flight once.
class Flight {
 public:
  enum class State : unsigned char { running, done, failed };
  using Wake = std::function<void()>;

  // The leader: an event of its answer (copied).
  void publish(const Event& e);
  // Wakes every waiter (call outside any other lock).
  void notify();
  // The leader's answer ended: complete (every waiter gets it) or not.
  void end(bool complete);

  // A waiter: registers `wake`, an id to remove it with.
  uint64_t subscribe(Wake wake);
  void unsubscribe(uint64_t id);
  // Feeds the events from `next` on to `sink` (advancing `next`), under the flight's lock; the
  // state after them.
  State read(std::size_t& next, EventSink& sink);
  // The answer's usage (once done).
  Usage usage() const;
  std::size_t waiters() const;

 private:
  mutable std::mutex mu_;
  Entry e_;
  State state_ = State::running;
  uint64_t next_id_ = 0;
  std::vector<std::pair<uint64_t, Wake>> wakes_;
};

// The flights in progress, by key.
class Flights {
 public:
  // The flight of `k`: joined (leader = false), or a new one this caller leads.
  std::shared_ptr<Flight> join_or_lead(const Key& k, bool& leader);
  // The leader is done with `f` (later requests start a flight of their own).
  void remove(const Key& k, const std::shared_ptr<Flight>& f);
  std::size_t size() const;
  // Requests waiting on a flight, in all.
  std::size_t waiters() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<Key, std::shared_ptr<Flight>, KeyHash> map_;
};

}  // namespace zgate::cache
