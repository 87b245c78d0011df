// `zgate keys` (src/cli/keys.cpp), run as the zgate binary: its output is configuration that
// parses and authenticates the key it printed.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "zgate/auth/auth.hpp"
#include "zgate/cli/keys.hpp"
#include "zgate/config/config.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/core/text.hpp"

extern char** environ;

using namespace zgate;

namespace {

struct Ran {
  int code = -1;
  std::string out, err;
};

// Runs the zgate binary with `args`, `input` on its stdin; collects stdout and stderr until
// both close (the process exits at once: no network, no waiting on anything).
Ran run_zgate(std::vector<std::string> args, const std::string& input = {}) {
  int in[2], out[2], err[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  args.insert(args.begin(), ZGATE_BIN);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, ZGATE_BIN, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  REQUIRE(rc == 0);
  if (!input.empty()) REQUIRE(::write(in[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  ::close(in[1]);
  Ran r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* dest[2] = {&r.out, &r.err};
  int open = 2;
  while (open > 0) {
    REQUIRE(::poll(fds, 2, 10'000) > 0);  // bounded: a hung child fails the test
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        dest[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The last non-empty line of `s`.
std::string last_line(std::string_view s) {
  s = text::trim(s);
  const auto nl = s.rfind('\n');
  return std::string(nl == std::string_view::npos ? s : s.substr(nl + 1));
}

}  // namespace

TEST_CASE("keys cli: `zgate keys new` prints an entry that parses and authenticates the key it shows once") {
  const Ran r = run_zgate({"keys", "new", "--label", "alice"});
  REQUIRE(r.code == 0);
  const std::string key = last_line(r.err);
  CHECK(key.rfind("sk-zg-", 0) == 0);
  CHECK(key.size() >= 6 + 32);
  CHECK(r.out.find(key) == std::string::npos);  // the entry holds only the digest
  Config cfg;
  apply_toml(cfg, r.out, "new.toml");
  REQUIRE(cfg.api_keys.size() == 1);
  CHECK(cfg.api_keys[0].label == "alice");
  CHECK(cfg.api_keys[0].key.empty());
  const Authenticator auth(cfg.api_keys, false);
  const auto ok = auth.check("Bearer " + key, "");
  REQUIRE(ok.ok());
  CHECK(*ok == "alice");
  CHECK_FALSE(auth.check("Bearer " + key + "x", "").ok());
}

TEST_CASE("keys cli: two `zgate keys new` runs give different keys") {
  const Ran a = run_zgate({"keys", "new"});
  const Ran b = run_zgate({"keys", "new"});
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  CHECK(last_line(a.err) != last_line(b.err));
}

TEST_CASE("keys cli: `zgate keys hash` prints the SHA-256 entry of the key on stdin") {
  const Ran r = run_zgate({"keys", "hash", "--label", "bob"}, "sk-zg-handmade-key\n");
  REQUIRE(r.code == 0);
  Config cfg;
  apply_toml(cfg, r.out, "hash.toml");
  REQUIRE(cfg.api_keys.size() == 1);
  CHECK(cfg.api_keys[0].label == "bob");
  CHECK(cfg.api_keys[0].key_sha256 == sha256_hex("sk-zg-handmade-key"));
}

TEST_CASE("keys cli: `zgate keys hash` refuses empty input and a bad label") {
  CHECK(run_zgate({"keys", "hash"}, "\n").code == 1);
  CHECK(run_zgate({"keys", "new", "--label", "a b"}).code == 2);
  CHECK(run_zgate({"keys", "frobnicate"}).code == 2);
}

TEST_CASE("keys cli: generated keys are prefixed base62 of the promised length") {
  const std::string k = cli::new_client_key();
  REQUIRE(k.size() == 6 + 40);
  CHECK(k.rfind("sk-zg-", 0) == 0);
  for (std::size_t i = 6; i < k.size(); ++i) CHECK(std::isalnum(static_cast<unsigned char>(k[i])));
}
