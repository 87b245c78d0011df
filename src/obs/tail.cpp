#include "zgate/obs/tail.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <spdlog/spdlog.h>

#include "zgate/core/encoding.hpp"
#include "zgate/obs/log.hpp"

namespace zgate::obs {
namespace {

class HubConsumer final : public RecordConsumer {
 public:
  explicit HubConsumer(TailHub& hub) : hub_(hub) {}
  void begin() override { hub_.begin(); }
  void consume(const AccessRecord& r, int64_t finished_ms) override { hub_.consume(r, finished_ms); }
  void end() override { hub_.end(); }

 private:
  TailHub& hub_;
};

}  // namespace

bool TailFilter::matches(const AccessRecord& r) const {
  if (!key.empty() && r.key_label != key) return false;
  if (!model.empty() && r.model != model) return false;
  if (status != 0 && r.status != status) return false;
  if (errors_only && r.status < 400 && r.error_type.empty()) return false;
  return true;
}

Result<TailFilter> parse_tail_filter(std::string_view query) {
  TailFilter f;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const auto value = encoding::form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value) return bad_request("The query parameter '" + std::string(name) + "' has a broken %-escape.", std::string(name));
    if (name == "key") {
      f.key = *value;
    } else if (name == "model") {
      f.model = *value;
    } else if (name == "status") {
      int s = 0;
      const auto [p, ec] = std::from_chars(value->data(), value->data() + value->size(), s);
      if (ec != std::errc() || p != value->data() + value->size() || s < 100 || s > 599)
        return bad_request("status must be an HTTP status code (100-599), not '" + *value + "'.", "status");
      f.status = s;
    } else if (name == "errors_only") {
      if (*value == "1" || *value == "true") f.errors_only = true;
      else if (*value == "0" || *value == "false") f.errors_only = false;
      else return bad_request("errors_only must be 1 or 0, not '" + *value + "'.", "errors_only");
    } else {
      return bad_request("Unknown query parameter '" + std::string(name) +
                             "': /admin/requests/stream takes key, model, status and errors_only.",
                         std::string(name));
    }
  }
  return f;
}

bool TailSubscription::take(std::string& out) {
  std::lock_guard lock(mu_);
  // The events taken last time have been written by now (the worker takes after each write):
  // they leave the count only now, so the bound covers what a stuck write holds too.
  queued_bytes_ -= taken_bytes_;
  taken_bytes_ = queued_bytes_;
  out.clear();
  queue_.swap(out);
  return !ended_;
}

bool TailSubscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

TailHub::TailHub(TailLimits limits) : limits_(limits) {}
TailHub::~TailHub() { close_all(); }

std::shared_ptr<TailSubscription> TailHub::subscribe(TailFilter filter, std::function<void()> wake) {
  std::lock_guard lock(mu_);
  if (closed_ || subs_.size() >= limits_.max_subscribers) return nullptr;
  auto s = std::make_shared<TailSubscription>();
  s->filter_ = std::move(filter);
  s->wake_ = std::move(wake);
  subs_.push_back(s);
  count_.store(subs_.size(), std::memory_order_relaxed);
  return s;
}

void TailHub::unsubscribe(const std::shared_ptr<TailSubscription>& s) {
  {
    std::lock_guard lock(s->mu_);
    s->ended_ = true;
    s->wake_ = nullptr;  // the worker is leaving: nothing may be scheduled for it any more
  }
  std::lock_guard lock(mu_);
  std::erase(subs_, s);
  count_.store(subs_.size(), std::memory_order_relaxed);
}

void TailHub::close_all() {
  std::vector<std::shared_ptr<TailSubscription>> subs;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    subs.swap(subs_);
    count_.store(0, std::memory_order_relaxed);
  }
  for (auto& s : subs) {
    std::lock_guard lock(s->mu_);
    if (s->ended_) continue;
    s->ended_ = true;
    if (s->wake_) s->wake_();
    s->wake_ = nullptr;
  }
}

TailStats TailHub::stats() const {
  return {count_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed),
          sent_.load(std::memory_order_relaxed)};
}

std::unique_ptr<RecordConsumer> TailHub::consumer() { return std::make_unique<HubConsumer>(*this); }

void TailHub::begin() {
  pass_.clear();
  if (count_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard lock(mu_);
  pass_ = subs_;
}

void TailHub::consume(const AccessRecord& r, int64_t finished_ms) {
  if (pass_.empty()) return;
  line_.clear();
  for (auto& s : pass_) {
    if (!s->filter_.matches(r)) continue;
    if (line_.empty()) {
      line_.assign("data: ");
      format_access(line_, r, finished_ms, /*json=*/true);
      line_.append("\n\n");
    }
    std::lock_guard lock(s->mu_);
    if (s->ended_) continue;
    if (s->queued_bytes_ + line_.size() > limits_.max_queued_bytes) {
      // The client does not read (or not fast enough): it is let go rather than waited for.
      s->ended_ = s->dropped_ = true;
      s->queue_.clear();
      s->fresh_ = true;
      dropped_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("live tail: a subscriber was dropped: it did not keep up ({} bytes queued for it)",
                   limits_.max_queued_bytes);
      continue;
    }
    s->queue_.append(line_);
    s->queued_bytes_ += line_.size();
    s->fresh_ = true;
    sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

void TailHub::end() {
  for (auto& s : pass_) {
    std::lock_guard lock(s->mu_);
    if (!s->fresh_) continue;
    s->fresh_ = false;
    if (s->wake_) s->wake_();
    if (s->ended_) s->wake_ = nullptr;
  }
  pass_.clear();
}

}  // namespace zgate::obs
