// zgate: an OpenAI-compatible gateway for Zhipu GLM models.
// main(): configuration -> logging -> (offline demo, only when asked: the bundled mock as the upstream)
// -> workers -> wait for SIGINT/SIGTERM (SIGHUP: reload the configuration) -> drain and stop.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <spdlog/spdlog.h>
#ifdef ZGATE_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#include "zgate/cli/health.hpp"
#include "zgate/cli/stats.hpp"
#include "zgate/cli/cache.hpp"
#include "zgate/cli/keys.hpp"
#include "zgate/config/config.hpp"
#include "zgate/mock/mock_server.hpp"
#include "zgate/obs/log.hpp"
#include "zgate/obs/ticker.hpp"
#include "zgate/server/gateway.hpp"

namespace {

// The offline demo runs only when asked for (--demo, ZGATE_DEMO=true): the bundled mock then
// serves the v4 API in-process. Without it, a zhipu provider with no upstream key is a
// configuration error: a deployment that lost its secret must not answer from a mock.
// Returns the error, or "" when the configuration can serve.
std::string missing_upstream_key(const zgate::Config& cfg) {
  if (cfg.demo) return {};
  for (const auto& p : cfg.providers) {
    if (p.kind == zgate::ProviderKind::zhipu && p.api_key.empty() && p.api_keys.empty()) {
      return "provider '" + p.name +
             "' has no upstream API key: set ZGATE_UPSTREAM_KEY (or api_key, api_keys or api_key_env in its "
             "[[providers]] entry of the configuration file), or run the offline demo against the bundled mock "
             "with --demo (ZGATE_DEMO=true)";
    }
  }
  return {};
}

// mimalloc gives a page back to the OS 25 ms after it empties (its decommit_delay). A gateway
// under steady load empties and refills the same pages all the time, so its RSS swung by
// ~1.7 MiB (6.5%) within seconds and ~130 pages a second were faulted back in (bench/run
// --soak). With 1 s the working set stays committed while the load lasts: RSS rises to it in
// the first minutes and then holds (1.8% and 4.8% over two soaks), ~10 faults a second.
// MIMALLOC_DECOMMIT_DELAY, read by mimalloc itself, takes precedence.
void tune_allocator() {
#ifdef ZGATE_HAVE_MIMALLOC
  if (!std::getenv("MIMALLOC_DECOMMIT_DELAY")) mi_option_set(mi_option_decommit_delay, 1000);
#endif
}

// mimalloc decommits only from within its own calls on the thread that owns the memory, so a
// worker that falls idle after a burst would keep its peak (46 MiB after 2048 streams) until
// it allocates again. Collecting on each worker's housekeeping tick returns it within ~5 s.
void collect_allocator() {
#ifdef ZGATE_HAVE_MIMALLOC
  mi_collect(false);
#endif
}

std::string allocator_name() {
#ifdef ZGATE_HAVE_MIMALLOC
  const int v = mi_version();  // also keeps the library linked under --as-needed
  return fmt::format("mimalloc {}.{}.{} (empty pages returned after {} ms)", v / 100, v / 10 % 10, v % 10,
                     mi_option_get(mi_option_decommit_delay));
#else
  return "system malloc";
#endif
}

// The offline demo points every zhipu provider at the bundled mock.
std::shared_ptr<const zgate::Config> with_demo_upstream(std::shared_ptr<const zgate::Config> cfg, uint16_t mock_port) {
  auto c = std::make_shared<zgate::Config>(*cfg);
  for (auto& p : c->providers) {
    if (p.kind != zgate::ProviderKind::zhipu) continue;
    p.base_url = "http://127.0.0.1:" + std::to_string(mock_port) + "/api/paas/v4";
    p.api_key = "zgate-demo";
    p.api_keys = {p.api_key};
    p.jwt = false;
  }
  return c;
}

// SIGHUP and POST /admin/reload: the configuration is read again (environment, file, flags, as
// at start) and applied to new requests; a file that does not load is refused and the running
// configuration stays. Either way the outcome is logged.
zgate::Gateway::ReloadResult reload(int argc, char** argv, zgate::Gateway& gateway, const zgate::mock::MockServer* demo) {
  zgate::Gateway::ReloadResult r;
  auto refuse = [&](std::string why) {
    spdlog::error("configuration reload refused: {}; the running configuration stays", why);
    r.error = std::move(why);
    return r;
  };
  std::shared_ptr<const zgate::Config> next;
  try {
    next = zgate::load_config(argc, argv);
  } catch (const zgate::ConfigError& e) {
    return refuse(e.what());
  } catch (const zgate::ConfigExit&) {
    return refuse("the command line asks for --help or --version");
  }
  if (std::string why = missing_upstream_key(*next); !why.empty()) return refuse(std::move(why));
  if (next->demo && !demo) return refuse("the offline demo can only be turned on at start");
  if (demo && next->demo) next = with_demo_upstream(next, demo->port());
  r = gateway.reload(next);
  if (!r.applied) return refuse(r.error);
  std::string restart;
  for (const auto& name : r.restart_needed) restart += (restart.empty() ? "" : ", ") + name;
  spdlog::info("configuration reloaded (generation {}): {} client key(s), {} model route(s), {} provider(s){}",
               r.generation, next->api_keys.size(), next->models.size(), next->providers.size(),
               restart.empty() ? std::string() : "; these changed but need a restart and keep their running values: " + restart);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  // `zgate health`: ask a running zgate's /health (the container HEALTHCHECK); nothing else starts.
  if (argc > 1 && std::string_view(argv[1]) == "health") return zgate::cli::run_health(argc, argv);
  // `zgate stats`: reports over the usage store (and `zgate stats prune`); nothing else starts.
  if (argc > 1 && std::string_view(argv[1]) == "stats") return zgate::cli::run_stats(argc, argv);
  // `zgate cache stats|clear`: the response cache's disk copy; nothing else starts.
  if (argc > 1 && std::string_view(argv[1]) == "cache") return zgate::cli::run_cache(argc, argv);
  // `zgate keys new|hash`: client keys and their [[api_keys]] entries; nothing else starts.
  if (argc > 1 && std::string_view(argv[1]) == "keys") return zgate::cli::run_keys(argc, argv);
  // A write to a closed pipe (the log reader went away, a client socket written with a plain
  // write) must be an error, not the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGUSR1 reopens the log files (logrotate); its default action would end the process, so it
  // is ignored whenever the gateway is not listening for it.
  std::signal(SIGUSR1, SIG_IGN);
  tune_allocator();
  std::shared_ptr<const zgate::Config> loaded;
  try {
    loaded = zgate::load_config(argc, argv);
  } catch (const zgate::ConfigExit& e) {
    std::cout << e.text << std::flush;
    return e.code;
  } catch (const zgate::ConfigError& e) {
    std::cerr << "zgate: configuration error: " << e.what() << "\n";
    return 2;
  }
  if (const std::string why = missing_upstream_key(*loaded); !why.empty()) {
    std::cerr << "zgate: configuration error: " << why << "\n";
    return 2;
  }

  try {
    zgate::obs::set_background_priority(loaded->background_priority == "nice" ? zgate::obs::BackgroundPriority::nice
                                                                                : zgate::obs::BackgroundPriority::idle);
    zgate::init_logging(loaded->log, loaded->debug);
  } catch (const std::exception& e) {  // a log file that cannot be opened
    std::cerr << "zgate: cannot start logging: " << e.what() << "\n";
    return 2;
  }
  std::unique_ptr<zgate::mock::MockServer> mock;
  try {
    if (loaded->demo) {
      zgate::mock::Options mo;
      mo.host = "127.0.0.1";
      mo.port = 0;
      mock = std::make_unique<zgate::mock::MockServer>(mo);
      loaded = with_demo_upstream(loaded, mock->port());
      spdlog::warn("OFFLINE DEMO (--demo / ZGATE_DEMO): answers come from the bundled mock on 127.0.0.1:{}, not "
                   "from the GLM API.",
                   mock->port());
    }
    spdlog::info("zgate starting: {}; allocator: {}", zgate::describe(*loaded), allocator_name());
    zgate::Gateway gateway(loaded);
    gateway.set_housekeeping(collect_allocator);
    gateway.set_reloader([&] { return reload(argc, argv, gateway, mock.get()); });
    const uint16_t port = gateway.start();
    spdlog::info("zgate listening on http://{}:{} ({} workers)", loaded->listen_host, port,
                 loaded->workers ? loaded->workers : std::thread::hardware_concurrency());
    if (gateway.metrics_port() != 0) {
      spdlog::info("zgate metrics on http://{}:{}/metrics", loaded->metrics_listen_host, gateway.metrics_port());
    }
    gateway.run_until_signal([&] { reload(argc, argv, gateway, mock.get()); });
    std::signal(SIGUSR1, SIG_IGN);  // the signal set is gone: SIGUSR1 would kill
    spdlog::info("zgate stopped");
  } catch (const std::exception& e) {
    spdlog::critical("zgate: {}", e.what());
    zgate::shutdown_logging();
    return 1;
  }
  mock.reset();
  zgate::shutdown_logging();
  return 0;
}
