#pragma once
// Alerts ([[alerts]], docs/alerts.md): rules over the finished requests, the budgets and the
// recorder, evaluated on a background thread; a rule that starts to hold logs a warning and
// posts to its webhook, repeats while it holds, and posts "resolved" when it ends.
//
// Nothing here runs on a worker. The Engine's consumer sits on the recorder thread and only adds
// each record to per-second counters (a short mutex shared with the evaluating thread alone);
// the `zgate-alert` thread evaluates the rules each `alerting.interval_ms`; the `zgate-webhook`
// thread posts the notifications from a bounded queue, so a webhook that hangs delays nothing
// but the notifications behind it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"
#include "zgate/obs/recorder.hpp"

namespace zgate::alert {

// How much of one budget is used, from the limits store.
struct BudgetUse {
  std::string scope;   // a key label, or "" for the global budget
  std::string window;  // "hour" | "day" | "month"
  double spent_usd = 0;
  double limit_usd = 0;
};
// Called on the alert thread at each evaluation of a budget rule; may be empty.
using BudgetSource = std::function<std::vector<BudgetUse>()>;

enum class State { firing, resolved };
std::string_view to_string(State s);

// One notification: a rule (for one scope) started or still holds, or ended.
struct Event {
  std::string rule;
  AlertKind kind = AlertKind::error_rate;
  std::string scope;  // budget: "<key label or global>/<window>"; otherwise ""
  State state = State::firing;
  double value = 0;  // what the rule measured (at the end, for a resolve)
  double threshold = 0;
  std::string message;
  int64_t started_at_ms = 0;  // Unix time the condition started
  int64_t at_ms = 0;          // Unix time of this notification
};

// A webhook body for `rule`'s format: json (zgate's own object), slack, feishu, dingtalk, or the
// rule's template. `instance` names this zgate.
std::string render_body(const AlertRule& rule, const Event& e, std::string_view instance);
// "2026-12-03T05:00:00Z"
std::string iso_time(int64_t unix_ms);

// Posts one body to one URL, once: true when the answer is 2xx. Called on the webhook thread.
class Sender {
 public:
  virtual ~Sender() = default;
  virtual bool post(const std::string& url, const std::string& body, std::string& error) = 0;
};
// libcurl, `timeout` per attempt (connecting included); a transfer in progress ends early once
// `*abort` is true.
std::unique_ptr<Sender> make_curl_sender(std::chrono::milliseconds timeout, const std::atomic<bool>* abort);

// An alert that is firing now.
struct Active {
  std::string rule, scope, message;
  AlertKind kind = AlertKind::error_rate;
  double value = 0, threshold = 0;
  int64_t started_at_ms = 0, last_sent_ms = 0;
  uint64_t notifications = 0;  // firing notifications so far (the first and the repeats)
};

struct DeliveryStats {
  uint64_t sent = 0;     // webhook posts answered 2xx (after a retry or not)
  uint64_t failed = 0;   // notifications given up after the retry
  uint64_t dropped = 0;  // notifications pushed out of a full queue, or pending at stop
};

struct EngineOptions {
  AlertingConfig settings;
  std::vector<AlertRule> rules;
  std::function<int64_t()> now_ms;        // Unix time in ms; default the system clock
  BudgetSource budgets;                   // budget rules see nothing without it
  std::function<uint64_t()> dropped;      // records the recorder lost so far (cumulative)
  std::unique_ptr<Sender> sender;         // default: libcurl with settings.webhook_timeout
  std::string instance;                   // default: settings.instance, else the host name
};

class Engine {
 public:
  explicit Engine(EngineOptions opts);
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A consumer feeding this engine, for the recorder (which must be destroyed first).
  std::unique_ptr<obs::RecordConsumer> consumer();
  // Adds one record (what the consumer does; tests call it directly).
  void add(const AccessRecord& r, int64_t finished_ms);

  // Starts the `zgate-alert` and `zgate-webhook` threads.
  void start();
  // Evaluates no more, aborts a post in progress, drops what is queued, joins the threads.
  // Idempotent; bounded by the abort of one transfer.
  void stop();

  // One evaluation of every rule at now_ms(): the alert thread's tick (tests call it).
  void evaluate();
  // Posts every queued notification on the calling thread (tests without the threads).
  void deliver_pending();

  std::vector<Active> active() const;
  // GET /admin/alerts: {"object":"list","data":[...]} of the active alerts.
  std::string active_json() const;
  // Prometheus lines: zgate_alerts_active per rule, zgate_alert_notifications_total.
  void write_metrics(std::string& out) const;
  DeliveryStats delivery() const;
  const std::string& instance() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace zgate::alert
