// Which settings a running gateway cannot take from a reloaded configuration.
#include "zgate/config/config.hpp"

namespace zgate {

std::vector<std::string> restart_only_changes(const Config& a, const Config& b) {
  std::vector<std::string> out;
  auto check = [&](bool differs, const char* name) {
    if (differs) out.emplace_back(name);
  };
  check(a.listen_host != b.listen_host || a.listen_port != b.listen_port, "listen");
  check(a.reuse_port != b.reuse_port, "reuse_port");
  check(a.metrics_listen_host != b.metrics_listen_host || a.metrics_listen_port != b.metrics_listen_port,
        "metrics_listen");
  check(a.workers != b.workers, "workers");
  check(a.background_priority != b.background_priority, "background_priority");
  check(a.log.level != b.log.level || a.debug != b.debug, "log.level");
  check(a.log.format != b.log.format, "log.format");
  check(a.log.file != b.log.file, "log.file");
  check(a.log.access_log != b.log.access_log, "log.access_log");
  check(a.log.access_file != b.log.access_file, "log.access_file");
  check(a.capture.enabled != b.capture.enabled || a.capture.keys != b.capture.keys ||
            a.capture.max_bytes != b.capture.max_bytes || a.capture.file != b.capture.file,
        "capture");
  check(a.log.access_max_size != b.log.access_max_size || a.log.access_keep != b.log.access_keep,
        "log.access_max_size/access_keep");
  check(a.log.queue_size != b.log.queue_size, "log.queue_size");
  check(a.data_dir != b.data_dir, "data_dir");
  check(a.usage_store != b.usage_store, "usage_store");
  check(a.usage_retention_days != b.usage_retention_days, "usage_retention_days");
  check(a.limits.pool_max_idle_per_host != b.limits.pool_max_idle_per_host, "limits.pool_max_idle_per_host");
  check(a.limits.pool_idle_timeout != b.limits.pool_idle_timeout, "limits.pool_idle_timeout_ms");
  check(a.limits.pool_check_idle != b.limits.pool_check_idle, "limits.pool_check_idle_ms");
  check(a.limits.max_connections != b.limits.max_connections, "limits.max_connections");
  check(a.limits.tail_buffer != b.limits.tail_buffer, "limits.tail_buffer");
  check(a.demo != b.demo, "demo");
  // The cache store (memory and disk) is built once; its size bound and every request-time
  // setting follow a reload.
  check(a.cache.disk != b.cache.disk, "cache.disk");
  // The alert engine keeps its rules' state (what is firing) from start to stop.
  bool alerts_differ = a.alerts.size() != b.alerts.size() || a.alerting.interval != b.alerting.interval ||
                       a.alerting.webhook_timeout != b.alerting.webhook_timeout ||
                       a.alerting.webhook_retry_delay != b.alerting.webhook_retry_delay ||
                       a.alerting.queue != b.alerting.queue || a.alerting.instance != b.alerting.instance;
  for (std::size_t i = 0; !alerts_differ && i < a.alerts.size(); ++i) {
    const AlertRule &x = a.alerts[i], &y = b.alerts[i];
    alerts_differ = x.name != y.name || x.kind != y.kind || x.threshold != y.threshold || x.below != y.below ||
                    x.stat != y.stat || x.of != y.of || x.window != y.window || x.repeat != y.repeat ||
                    x.key != y.key || x.model != y.model || x.min_requests != y.min_requests ||
                    x.webhook != y.webhook || x.format != y.format || x.body_template != y.body_template;
  }
  check(alerts_differ, "alerts");
  return out;
}

}  // namespace zgate
