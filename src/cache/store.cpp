// The in-memory store: sharded LRU bounded by bytes, with a TTL per entry.
#include "zgate/cache/store.hpp"

namespace zgate::cache {

bool Filter::matches(const Key& k, const Entry& e) const {
  if (!model.empty() && e.model != model) return false;
  if (prefix.empty()) return true;
  if (k.hex().starts_with(prefix)) return true;
  return std::string_view(e.key_label).starts_with(prefix);
}

LocalCacheStore::LocalCacheStore(std::size_t max_bytes, DiskCache* disk)
    : shard_max_(max_bytes / kShards), disk_(disk) {}

LocalCacheStore::~LocalCacheStore() = default;

std::shared_ptr<const Entry> LocalCacheStore::get(const Key& k, int64_t now_ms) {
  Shard& s = shard(k);
  std::shared_ptr<const Entry> found;
  bool expired = false;
  {
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    if (it == s.map.end()) {
      ++s.misses;
      return nullptr;
    }
    if (it->second->entry->expires_ms <= now_ms) {
      s.bytes -= it->second->bytes;
      s.lru.erase(it->second);
      s.map.erase(it);
      ++s.expirations;
      ++s.misses;
      expired = true;
    } else {
      s.lru.splice(s.lru.begin(), s.lru, it->second);
      ++s.hits;
      found = it->second->entry;
    }
  }
  if (expired && disk_) disk_->remove(k);
  return found;
}

bool LocalCacheStore::insert(const Key& k, std::shared_ptr<const Entry> e, bool write_through) {
  const std::size_t bytes = e->bytes();
  if (bytes > shard_max_.load(std::memory_order_relaxed)) return false;
  Shard& s = shard(k);
  std::vector<Key> dropped;
  std::shared_ptr<const Entry> old;  // released outside the lock
  {
    std::lock_guard lock(s.mu);
    if (auto it = s.map.find(k); it != s.map.end()) {
      s.bytes -= it->second->bytes;
      old = std::move(it->second->entry);
      s.lru.erase(it->second);
      s.map.erase(it);
    }
    if (!write_through && s.bytes + bytes > shard_max_.load(std::memory_order_relaxed)) return false;
    s.lru.push_front(Node{k, e, bytes});
    s.map.emplace(k, s.lru.begin());
    s.bytes += bytes;
    ++s.inserts;
    trim(s, dropped);
  }
  if (disk_ && write_through) {
    disk_->put(k, std::move(e));
    for (const Key& d : dropped) disk_->remove(d);
  }
  return true;
}

void LocalCacheStore::put(const Key& k, std::shared_ptr<const Entry> e) { insert(k, std::move(e), true); }

bool LocalCacheStore::load(const Key& k, std::shared_ptr<const Entry> e) { return insert(k, std::move(e), false); }

void LocalCacheStore::trim(Shard& s, std::vector<Key>& dropped) {
  const std::size_t max = shard_max_.load(std::memory_order_relaxed);
  while (s.bytes > max && !s.lru.empty()) {
    Node& n = s.lru.back();
    s.bytes -= n.bytes;
    dropped.push_back(n.key);
    s.map.erase(n.key);
    s.lru.pop_back();
    ++s.evictions;
  }
}

std::size_t LocalCacheStore::erase(const Filter& f) {
  std::size_t n = 0;
  const bool all = f.model.empty() && f.prefix.empty();
  for (Shard& s : shards_) {
    std::vector<Key> dropped;
    {
      std::lock_guard lock(s.mu);
      for (auto it = s.lru.begin(); it != s.lru.end();) {
        if (all || f.matches(it->key, *it->entry)) {
          s.bytes -= it->bytes;
          dropped.push_back(it->key);
          s.map.erase(it->key);
          it = s.lru.erase(it);
        } else {
          ++it;
        }
      }
    }
    n += dropped.size();
    if (disk_ && !all)
      for (const Key& d : dropped) disk_->remove(d);
  }
  if (disk_ && all) disk_->remove_all();
  return n;
}

Stats LocalCacheStore::stats() const {
  Stats st;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    st.entries += s.map.size();
    st.bytes += s.bytes;
    st.hits += s.hits;
    st.misses += s.misses;
    st.inserts += s.inserts;
    st.evictions += s.evictions;
    st.expirations += s.expirations;
  }
  st.max_bytes = shard_max_.load(std::memory_order_relaxed) * kShards;
  return st;
}

void LocalCacheStore::set_max_bytes(std::size_t max_bytes) {
  shard_max_.store(max_bytes / kShards, std::memory_order_relaxed);
  for (Shard& s : shards_) {
    std::vector<Key> dropped;
    {
      std::lock_guard lock(s.mu);
      trim(s, dropped);
    }
    if (disk_)
      for (const Key& d : dropped) disk_->remove(d);
  }
}

}  // namespace zgate::cache
