// zgate-mock: the scripted upstream (Zhipu v4 and chat.z.ai web) as a standalone program (offline demo, Node SDK
// test, benchmark). Prints exactly one first line "zgate-mock listening on http(s)://HOST:PORT"
// so scripts can read the port; SIGINT/SIGTERM stop it cleanly.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "zgate/core/text.hpp"
#include "zgate/mock/mock_server.hpp"

int main(int argc, char** argv) {
  zgate::mock::Options opt;
  std::string listen = "127.0.0.1:9090";
  int delay_ms = 0;
  bool verbose = false;

  CLI::App app{"zgate-mock: a scripted Zhipu/Z.ai upstream (v4 API and chat.z.ai web) for tests and demos"};
  app.add_option("--listen", listen, "host:port to listen on (port 0 = any free port)");
  app.add_option("--threads", opt.threads, "I/O threads")->check(CLI::Range(1u, 256u));
  app.add_option("--tls-cert", opt.tls_cert_file, "PEM certificate chain (TLS when --tls-key is also set)");
  app.add_option("--tls-key", opt.tls_key_file, "PEM private key");
  app.add_option("--api-key", opt.api_keys, "accepted API key (repeatable; none = any non-empty bearer)");
  app.add_option("--concurrency-limit", opt.concurrency_limit, "in-flight requests per (key, model); 0 = unlimited");
  app.add_flag("--fast", opt.fast, "benchmark mode: no logging or recording, cached plans, coalesced writes");
  app.add_option("--chunks", opt.default_chunks, "content pieces of a default streamed answer")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--delay-ms", delay_ms, "delay between streamed pieces")->check(CLI::Range(0, 3'600'000));
  app.add_option("--zai-signing-secret", opt.zai_signing_secret, "chat.z.ai web dialect signing secret");
  app.add_flag("--verbose", verbose, "log every request on stderr");
  CLI11_PARSE(app, argc, argv);

  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "zgate-mock: --listen wants host:port, got '%s'\n", listen.c_str());
    return 2;
  }
  opt.host = listen.substr(0, colon);
  if (opt.host.size() > 1 && opt.host.front() == '[' && opt.host.back() == ']')
    opt.host = opt.host.substr(1, opt.host.size() - 2);
  const auto port = zgate::text::parse_port(std::string_view(listen).substr(colon + 1), /*allow_zero=*/true);
  if (!port) {
    std::fprintf(stderr, "zgate-mock: bad port in --listen '%s'\n", listen.c_str());
    return 2;
  }
  opt.port = *port;
  opt.default_delay = zgate::mock::Millis{delay_ms};
  opt.quiet = !verbose;

  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    zgate::mock::MockServer server(opt);
    std::printf("zgate-mock listening on %s\n", server.base_url().c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (verbose) std::fprintf(stderr, "zgate-mock: signal %d, stopping\n", sig);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
