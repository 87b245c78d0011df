#pragma once
// The gateway process: N workers (one io_context + thread each), one acceptor handing
// connections round-robin to them, one coroutine per connection. Boost-free header so main()
// and tests stay cheap to compile.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zgate/config/config.hpp"

namespace zgate {

namespace policy {
class LocalLimitStore;
struct BudgetUse;
}  // namespace policy

struct GatewayStats {
  uint64_t upstream_connects = 0;
  uint64_t upstream_reuses = 0;
  uint64_t upstream_retries = 0;
  uint64_t requests = 0;
  int64_t in_flight = 0;
};

class Gateway {
 public:
  explicit Gateway(std::shared_ptr<const Config> cfg);
  ~Gateway();  // stops and joins
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Runs `f` on each worker's thread every 5 s, after that worker's pool sweep (set before
  // start()). main() uses it to let the allocator return the memory a worker freed while busy.
  void set_housekeeping(std::function<void()> f);
  // Binds the listener and starts the workers; returns the bound port (config port 0 = any).
  uint16_t start();
  // Stops accepting, lets in-flight requests finish for up to shutdown_grace, then stops.
  void stop();
  // Applies a new configuration to new requests (requests already running finish in the one they
  // started with): client keys, model routes, prices, providers and their credentials, timeouts
  // and per-request limits. Settings that only a restart changes are listed in the result and
  // keep their running values. Safe to call from any thread; a failure leaves everything as it was.
  struct ReloadResult {
    bool applied = false;
    std::string error;                       // why not, when !applied
    std::vector<std::string> restart_needed; // settings that differ but need a restart
    uint64_t generation = 0;                 // the generation now serving new requests
  };
  ReloadResult reload(std::shared_ptr<const Config> next);
  // How this process re-reads its configuration (from the environment, file and flags it started
  // with) and applies it with reload(); main() sets it before start(). POST /admin/reload runs it
  // on the admin thread, never on a worker. Without one, the endpoint answers 404.
  using Reloader = std::function<ReloadResult()>;
  void set_reloader(Reloader f);
  // Blocks until SIGINT or SIGTERM, then stop(). SIGHUP runs `on_reload` (on the signal thread)
  // and goes on waiting.
  void run_until_signal(const std::function<void()>& on_reload = {});
  uint16_t port() const;
  // The counters of per-key limits and budgets (tests set its clock; zgate/policy/limit_store.hpp).
  policy::LocalLimitStore& limit_store();
  // Every budget's use in its current window (keys with a budget and the global budget), under the
  // newest configuration: for budget alerts. Safe from any thread.
  std::vector<policy::BudgetUse> budget_use() const;
  // The bound metrics_listen port (0 when metrics_listen is not set).
  uint16_t metrics_port() const;
  // Summed over workers (safe to call from any thread; values may be slightly stale).
  GatewayStats stats() const;
  // Hands every request recorded so far to the access log, the usage store, the metrics and the
  // live tail, and returns once they have it (tests; the recorder does this on its own within
  // its period).
  void flush_records();

  struct Impl;  // opaque: workers, acceptor, providers (src/server/state.hpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace zgate
