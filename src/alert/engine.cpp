// The alert engine: per-rule counters fed by the recorder, the rules' evaluation and state
// (firing, repeated, resolved), and the queue of notifications the webhook thread posts.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "zgate/alert/alert.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/obs/metrics.hpp"
#include "zgate/obs/ticker.hpp"
#include "window.hpp"

namespace zgate::alert {
namespace {

std::string percent(double f) { return fmt::format("{:.4g}%", f * 100); }

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "zgate";
  return buf;
}

}  // namespace

std::string_view to_string(State s) { return s == State::firing ? "firing" : "resolved"; }

class Engine::Impl {
 public:
  explicit Impl(EngineOptions o) : opts(std::move(o)) {
    if (!opts.now_ms) {
      opts.now_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
    if (!opts.sender) opts.sender = make_curl_sender(opts.settings.webhook_timeout, &aborting);
    instance = !opts.instance.empty() ? opts.instance : !opts.settings.instance.empty() ? opts.settings.instance : host_name();
    for (auto& r : opts.rules) rules.push_back(std::make_unique<RuleData>(r));
    started_ms = opts.now_ms();
  }

  void add(const AccessRecord& r, int64_t finished_ms) {
    if (!is_chat(r)) return;
    std::lock_guard lock(mu);
    for (auto& d : rules) {
      const AlertRule& a = d->rule;
      if (!d->matches(r)) continue;
      switch (a.kind) {
        case AlertKind::error_rate: {
          Slot& s = d->slot_at(finished_ms / 1000);
          ++s.count;
          if (is_error(r)) ++s.errors;
          break;
        }
        case AlertKind::requests:
          ++d->slot_at(finished_ms / 1000).count;
          break;
        case AlertKind::latency: {
          const int64_t us = a.of == "first_token" ? r.first_token_us : r.total_us;
          if (r.status != 200 || !r.error_type.empty() || us < 0) break;
          Slot& s = d->slot_at(finished_ms / 1000);
          ++s.count;
          s.latency_sum_us += us;
          if (!d->hist.empty()) {
            const std::size_t pos = static_cast<std::size_t>(s.idx % d->slots.n);
            ++d->hist[pos * kLatencyBuckets + static_cast<std::size_t>(latency_bucket(us))];
          }
          break;
        }
        case AlertKind::upstream_failures:
          if (r.attempts <= 0) break;  // never reached an upstream: says nothing about it
          if (is_upstream_failure(r)) ++d->run;
          else if (r.error_type.empty()) d->run = 0;
          break;
        case AlertKind::budget:
        case AlertKind::recorder_drops:
          break;
      }
    }
  }

  // One rule's observation: for each scope, the value and whether the condition holds.
  struct Observation {
    std::string scope;
    double value = 0;
    bool holds = false;
    std::string message;
  };

  // The slots of `d` inside the window ending at now (under mu).
  template <class F>
  void each_slot(RuleData& d, int64_t now_ms, F f) {
    const int64_t now_idx = now_ms / 1000 / d.slots.step;
    for (std::size_t i = 0; i < d.ring.size(); ++i) {
      const Slot& s = d.ring[i];
      if (s.idx >= 0 && s.idx <= now_idx && s.idx > now_idx - d.slots.n) f(s, i);
    }
  }

  std::vector<Observation> observe(RuleData& d, int64_t now_ms) {
    const AlertRule& a = d.rule;
    const int64_t win = a.window.count();
    std::vector<Observation> out;
    switch (a.kind) {
      case AlertKind::error_rate: {
        uint64_t n = 0, e = 0;
        {
          std::lock_guard lock(mu);
          each_slot(d, now_ms, [&](const Slot& s, std::size_t) { n += s.count, e += s.errors; });
        }
        const double rate = n ? static_cast<double>(e) / static_cast<double>(n) : 0;
        const bool holds = n >= a.min_requests && rate > a.threshold;
        out.push_back({"", rate, holds,
                       fmt::format("error rate {} over the last {} s ({} of {} requests; threshold {})", percent(rate),
                                   win, e, n, percent(a.threshold))});
        break;
      }
      case AlertKind::latency: {
        uint64_t n = 0;
        int64_t sum = 0;
        std::vector<uint64_t> h(d.hist.empty() ? 0 : kLatencyBuckets, 0);
        {
          std::lock_guard lock(mu);
          each_slot(d, now_ms, [&](const Slot& s, std::size_t pos) {
            n += s.count;
            sum += s.latency_sum_us;
            for (std::size_t b = 0; b < h.size(); ++b) h[b] += d.hist[pos * kLatencyBuckets + b];
          });
        }
        double ms = 0;
        if (n && a.stat == "avg") {
          ms = static_cast<double>(sum) / static_cast<double>(n) / 1000.0;
        } else if (n) {
          const uint64_t rank = static_cast<uint64_t>(std::ceil(0.95 * static_cast<double>(n)));
          uint64_t acc = 0;
          for (std::size_t b = 0; b < h.size(); ++b) {
            acc += h[b];
            if (acc >= rank) {
              ms = bucket_upper_ms(static_cast<int>(b));
              break;
            }
          }
        }
        const bool holds = n >= a.min_requests && ms > a.threshold;
        out.push_back({"", ms, holds,
                       fmt::format("{} {} latency {:.0f} ms over the last {} s ({} requests; threshold {} ms)", a.stat,
                                   a.of == "total" ? "total" : "first-token", ms, win, n, a.threshold)});
        break;
      }
      case AlertKind::requests: {
        uint64_t n = 0;
        {
          std::lock_guard lock(mu);
          each_slot(d, now_ms, [&](const Slot& s, std::size_t) { n += s.count; });
        }
        const double per_min = static_cast<double>(n) * 60.0 / static_cast<double>(win);
        // A rule on too little traffic waits for one whole window of it first.
        const bool full = now_ms - started_ms >= win * 1000;
        const bool holds = a.below ? full && per_min < a.threshold : per_min > a.threshold;
        out.push_back({"", per_min, holds,
                       fmt::format("{:.4g} requests per minute over the last {} s ({} requests; threshold {} {})",
                                   per_min, win, n, a.below ? "below" : "above", a.threshold)});
        break;
      }
      case AlertKind::upstream_failures: {
        uint64_t run = 0;
        {
          std::lock_guard lock(mu);
          run = d.run;
        }
        out.push_back({"", static_cast<double>(run), static_cast<double>(run) >= a.threshold,
                       fmt::format("{} upstream failure(s) in a row (threshold {})", run, a.threshold)});
        break;
      }
      case AlertKind::recorder_drops: {
        // Only this thread touches the drop slots; the recorder's count is read here.
        const int64_t total = opts.dropped ? static_cast<int64_t>(opts.dropped()) : 0;
        uint64_t n = 0;
        {
          std::lock_guard lock(mu);
          if (d.seen_drops >= 0 && total > d.seen_drops)
            d.slot_at(now_ms / 1000).count += static_cast<uint64_t>(total - d.seen_drops);
          d.seen_drops = total;
          each_slot(d, now_ms, [&](const Slot& s, std::size_t) { n += s.count; });
        }
        out.push_back({"", static_cast<double>(n), static_cast<double>(n) >= a.threshold,
                       fmt::format("the recorder dropped {} record(s) over the last {} s (threshold {})", n, win,
                                   a.threshold)});
        break;
      }
      case AlertKind::budget: {
        if (!opts.budgets) break;
        for (const BudgetUse& b : opts.budgets()) {
          if (b.limit_usd <= 0) continue;
          if (!a.key.empty() && b.scope != a.key) continue;
          const double used = b.spent_usd / b.limit_usd;
          const std::string who = b.scope.empty() ? "global" : b.scope;
          out.push_back({who + "/" + b.window, used, used >= a.threshold,
                         fmt::format("{} budget per {}: {} used (${:.4g} of ${:.4g}; threshold {})",
                                     b.scope.empty() ? "the global" : "key " + b.scope, b.window, percent(used),
                                     b.spent_usd, b.limit_usd, percent(a.threshold))});
        }
        break;
      }
    }
    return out;
  }

  void evaluate() {
    if (stopping.load()) return;
    const int64_t now = opts.now_ms();
    for (std::size_t i = 0; i < rules.size(); ++i) {
      RuleData& d = *rules[i];
      const AlertRule& a = d.rule;
      const std::vector<Observation> obs = observe(d, now);
      std::vector<Event> events;
      {
        std::lock_guard lock(state_mu);
        for (const Observation& o : obs) {
          const std::pair<std::size_t, std::string> id{i, o.scope};
          auto it = active.find(id);
          if (o.holds) {
            if (it == active.end()) {
              Active& x = active[id];
              x = Active{a.name, o.scope, o.message, a.kind, o.value, a.threshold, now, now, 1};
              events.push_back(event(x, State::firing, now));
            } else {
              Active& x = it->second;
              x.value = o.value;
              x.message = o.message;
              if (now - x.last_sent_ms >= a.repeat.count() * 1000) {
                x.last_sent_ms = now;
                ++x.notifications;
                events.push_back(event(x, State::firing, now));
              }
            }
          } else if (it != active.end()) {
            it->second.value = o.value;
            it->second.message = o.message;
            events.push_back(event(it->second, State::resolved, now));
            active.erase(it);
          }
        }
        // A scope that is no longer observed at all (a budget gone from the source) ends too.
        for (auto it = active.begin(); it != active.end();) {
          const bool seen = std::any_of(obs.begin(), obs.end(), [&](const Observation& o) { return o.scope == it->first.second; });
          if (it->first.first == i && !seen) {
            events.push_back(event(it->second, State::resolved, now));
            it = active.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (const Event& e : events) notify(a, e);
    }
  }

  static Event event(const Active& x, State st, int64_t now) {
    return Event{x.rule, x.kind, x.scope, st, x.value, x.threshold, x.message, x.started_at_ms, now};
  }

  void notify(const AlertRule& a, const Event& e) {
    if (e.state == State::firing) {
      spdlog::warn("alert {}{}{} firing: {}", a.name, e.scope.empty() ? "" : " ", e.scope, e.message);
    } else {
      spdlog::info("alert {}{}{} resolved after {} s: {}", a.name, e.scope.empty() ? "" : " ", e.scope,
                   (e.at_ms - e.started_at_ms) / 1000, e.message);
    }
    if (a.webhook.empty()) return;
    Pending p{a.webhook, render_body(a, e, instance), a.name};
    std::lock_guard lock(queue_mu);
    if (stopping.load()) return;
    if (queue.size() >= opts.settings.queue) {
      spdlog::warn("alert webhook queue full ({} notifications): the oldest, for alert {}, is dropped", queue.size(),
                   queue.front().rule);
      queue.pop_front();
      ++stats.dropped;
    }
    queue.push_back(std::move(p));
    queue_cv.notify_one();
  }

  struct Pending {
    std::string url, body, rule;
  };

  // One notification: an attempt, and one retry after the retry delay (cut short by stop()).
  void deliver(const Pending& p) {
    std::string error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (stopping.load()) return;
      if (opts.sender->post(p.url, p.body, error)) {
        std::lock_guard lock(queue_mu);
        ++stats.sent;
        return;
      }
      if (attempt == 0) {
        std::unique_lock lock(queue_mu);
        queue_cv.wait_for(lock, opts.settings.webhook_retry_delay, [&] { return stopping.load(); });
      }
    }
    if (stopping.load()) return;
    spdlog::warn("alert {}: the webhook failed twice, the notification is dropped: {}", p.rule, error);
    std::lock_guard lock(queue_mu);
    ++stats.failed;
  }

  bool next(Pending& p, bool wait) {
    std::unique_lock lock(queue_mu);
    if (wait) queue_cv.wait(lock, [&] { return stopping.load() || !queue.empty(); });
    if (stopping.load() || queue.empty()) return false;
    p = std::move(queue.front());
    queue.pop_front();
    return true;
  }

  void webhook_loop() {
    Pending p;
    while (next(p, true)) deliver(p);
  }

  EngineOptions opts;
  std::string instance;
  int64_t started_ms = 0;
  std::vector<std::unique_ptr<RuleData>> rules;
  mutable std::mutex mu;  // the rules' counters: the recorder thread and the alert thread

  mutable std::mutex state_mu;  // `active`: the alert thread and /admin/alerts
  std::map<std::pair<std::size_t, std::string>, Active> active;

  mutable std::mutex queue_mu;  // the queue and stats
  std::condition_variable queue_cv;
  std::deque<Pending> queue;
  DeliveryStats stats;

  std::atomic<bool> stopping{false};
  std::atomic<bool> aborting{false};  // read by the sender: ends a transfer in progress
  std::unique_ptr<obs::Ticker> ticker;
  std::thread webhook_thread;
};

namespace {
class Consumer final : public obs::RecordConsumer {
 public:
  explicit Consumer(Engine& e) : e_(e) {}
  void consume(const AccessRecord& r, int64_t finished_ms) override { e_.add(r, finished_ms); }

 private:
  Engine& e_;
};
}  // namespace

Engine::Engine(EngineOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
Engine::~Engine() { stop(); }

std::unique_ptr<obs::RecordConsumer> Engine::consumer() { return std::make_unique<Consumer>(*this); }
void Engine::add(const AccessRecord& r, int64_t finished_ms) { impl_->add(r, finished_ms); }

void Engine::start() {
  Impl& g = *impl_;
  if (g.ticker || g.stopping.load()) return;
  g.webhook_thread = std::thread([&g] {
    pthread_setname_np(pthread_self(), "zgate-webhook");
    obs::lower_this_thread();
    g.webhook_loop();
  });
  g.ticker = std::make_unique<obs::Ticker>("zgate-alert", g.opts.settings.interval, [&g] { g.evaluate(); });
}

void Engine::stop() {
  Impl& g = *impl_;
  {
    std::lock_guard lock(g.queue_mu);
    if (g.stopping.exchange(true)) return;
    g.aborting = true;
    if (!g.queue.empty()) {
      spdlog::info("alerts stopping: {} webhook notification(s) not sent", g.queue.size());
      g.stats.dropped += g.queue.size();
      g.queue.clear();
    }
  }
  g.queue_cv.notify_all();
  if (g.ticker) g.ticker->stop();
  if (g.webhook_thread.joinable()) g.webhook_thread.join();
}

void Engine::evaluate() { impl_->evaluate(); }

void Engine::deliver_pending() {
  Impl::Pending p;
  while (impl_->next(p, false)) impl_->deliver(p);
}

std::vector<Active> Engine::active() const {
  std::lock_guard lock(impl_->state_mu);
  std::vector<Active> out;
  for (const auto& [id, a] : impl_->active) out.push_back(a);
  return out;
}

std::string Engine::active_json() const {
  const std::vector<Active> list = active();
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("object", "list");
  w.key("data").begin_array();
  for (const Active& a : list) {
    w.begin_object();
    w.kv("name", a.rule).kv("kind", zgate::to_string(a.kind)).kv("scope", a.scope).kv("state", "firing");
    w.kv("value", a.value).kv("threshold", a.threshold).kv("message", a.message);
    w.kv("started_at", iso_time(a.started_at_ms)).kv("last_sent_at", iso_time(a.last_sent_ms));
    w.key("notifications").number(a.notifications);
    w.end_object();
  }
  w.end_array();
  w.kv("instance", impl_->instance);
  w.end_object();
  return out;
}

void Engine::write_metrics(std::string& out) const {
  std::map<std::string, uint64_t> per_rule;
  for (const auto& d : impl_->rules) per_rule[d->rule.name] = 0;
  for (const Active& a : active()) ++per_rule[a.rule];
  obs::prom::family(out, "zgate_alerts_active", "Alerts firing now, by rule (a budget rule counts each budget).",
                    "gauge");
  std::string l;
  for (const auto& [name, n] : per_rule) {
    l.clear();
    obs::prom::label(l, "rule", name);
    obs::prom::sample(out, "zgate_alerts_active", l, n);
  }
  const DeliveryStats s = delivery();
  obs::prom::family(out, "zgate_alert_notifications_total",
                    "Alert webhook notifications: sent, failed (after the retry) or dropped (queue full, stop).",
                    "counter");
  obs::prom::sample(out, "zgate_alert_notifications_total", R"(result="sent")", s.sent);
  obs::prom::sample(out, "zgate_alert_notifications_total", R"(result="failed")", s.failed);
  obs::prom::sample(out, "zgate_alert_notifications_total", R"(result="dropped")", s.dropped);
}

DeliveryStats Engine::delivery() const {
  std::lock_guard lock(impl_->queue_mu);
  return impl_->stats;
}

const std::string& Engine::instance() const { return impl_->instance; }

}  // namespace zgate::alert
