// Coalescing of concurrent identical requests: one flight per key.
#include "zgate/cache/store.hpp"

namespace zgate::cache {

void Flight::publish(const Event& ev) {
  std::lock_guard lock(mu_);
  if (state_ != State::running) return;
  StoredEvent s;
  s.type = ev.type;
  s.finish = ev.finish;
  s.index = ev.index;
  s.created = ev.created;
  auto add = [this](std::string_view v, uint32_t& off, uint32_t& len) {
    off = static_cast<uint32_t>(e_.arena.size());
    len = static_cast<uint32_t>(v.size());
    e_.arena.append(v);
  };
  add(ev.text, s.text_off, s.text_len);
  add(ev.id, s.id_off, s.id_len);
  add(ev.name, s.name_off, s.name_len);
  if (ev.type == EventType::usage && ev.usage) e_.usage = *ev.usage;
  e_.events.push_back(s);
}

void Flight::notify() {
  std::vector<Wake> wakes;
  {
    std::lock_guard lock(mu_);
    wakes.reserve(wakes_.size());
    for (const auto& [id, w] : wakes_) wakes.push_back(w);
  }
  for (const Wake& w : wakes) w();
}

void Flight::end(bool complete) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::running) return;
    state_ = complete ? State::done : State::failed;
  }
  notify();
}

uint64_t Flight::subscribe(Wake wake) {
  std::lock_guard lock(mu_);
  wakes_.emplace_back(++next_id_, std::move(wake));
  return next_id_;
}

void Flight::unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  std::erase_if(wakes_, [id](const auto& p) { return p.first == id; });
}

Flight::State Flight::read(std::size_t& next, EventSink& sink) {
  std::lock_guard lock(mu_);
  if (state_ == State::failed) return state_;
  for (; next < e_.events.size(); ++next) sink.on_event(e_.event(e_.events[next]));
  return state_;
}

Usage Flight::usage() const {
  std::lock_guard lock(mu_);
  return e_.usage;
}

std::size_t Flight::waiters() const {
  std::lock_guard lock(mu_);
  return wakes_.size();
}

std::shared_ptr<Flight> Flights::join_or_lead(const Key& k, bool& leader) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = map_.try_emplace(k);
  if (inserted) it->second = std::make_shared<Flight>();
  leader = inserted;
  return it->second;
}

void Flights::remove(const Key& k, const std::shared_ptr<Flight>& f) {
  std::lock_guard lock(mu_);
  if (auto it = map_.find(k); it != map_.end() && it->second == f) map_.erase(it);
}

std::size_t Flights::waiters() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [k, f] : map_) n += f->waiters();
  return n;
}

std::size_t Flights::size() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace zgate::cache
