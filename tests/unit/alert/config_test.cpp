// [[alerts]] and [alerting] in the TOML: what is read, what is refused (naming the key), webhook
// URLs masked in /admin/config and counted among the secrets, a changed rule needs a restart.
#include <catch2/catch.hpp>

#include <string>

#include "zgate/config/config.hpp"
#include "../config_helpers.hpp"

using namespace zgate;

namespace {

const char* env_of(const char* name) {
  return std::string_view(name) == "HOOK_URL" ? "https://hooks.example.com/services/T0/B0/tokenFROMenv1234" : nullptr;
}

constexpr std::string_view kBase = R"(
allow_no_auth = true
[[providers]]
name = "p"
kind = "zhipu"
api_key = "k"
)";

Config parse(std::string_view alerts) {
  Config c;
  apply_toml(c, std::string(kBase) + std::string(alerts), "t.toml", &env_of);
  validate(c);
  return c;
}

std::string error_of(std::string_view alerts) { return test::config_error(parse, alerts); }

}  // namespace

TEST_CASE("alerts config: rules and settings are read", "[alert]") {
  const Config c = parse(R"(
[alerting]
interval_ms = 250
webhook_timeout_ms = 1500
webhook_retry_delay_ms = 100
queue = 8
instance = "gw-1"

[[alerts]]
name = "errors"
kind = "error_rate"
threshold = 0.1
window_s = 300
repeat_s = 900
min_requests = 20
webhook = "https://hooks.slack.com/services/T0/B0/x"
format = "slack"

[[alerts]]
name = "slow"
kind = "latency"
stat = "p95"
of = "first_token"
threshold = 5000
model = "glm-4.6"
key = "alice"
webhook_env = "HOOK_URL"
template = '{"t":"{{name}} {{state}}","v":{{value}}}'

[[alerts]]
name = "drops"
kind = "recorder_drops"
)");
  REQUIRE(c.alerts.size() == 3);
  CHECK(c.alerting.interval.count() == 250);
  CHECK(c.alerting.webhook_timeout.count() == 1500);
  CHECK(c.alerting.webhook_retry_delay.count() == 100);
  CHECK(c.alerting.queue == 8);
  CHECK(c.alerting.instance == "gw-1");
  const AlertRule& e = c.alerts[0];
  CHECK(e.kind == AlertKind::error_rate);
  CHECK(e.threshold == 0.1);
  CHECK(e.window.count() == 300);
  CHECK(e.repeat.count() == 900);
  CHECK(e.min_requests == 20);
  CHECK(e.format == AlertFormat::slack);
  const AlertRule& s = c.alerts[1];
  CHECK(s.stat == "p95");
  CHECK(s.of == "first_token");
  CHECK(s.webhook == "https://hooks.example.com/services/T0/B0/tokenFROMenv1234");
  CHECK(s.format == AlertFormat::custom);
  CHECK(c.alerts[2].threshold == 1);  // recorder_drops: any drop by default
  CHECK(c.alerts[2].repeat.count() == 3600);
}

TEST_CASE("alerts config: mistakes are refused with the key named", "[alert]") {
  struct Row {
    std::string alerts;  // the TOML text
    std::string says;    // in the error
  };
  const Row rows[] = {
      {"[[alerts]]\nname = \"a\"\nkind = \"errors\"\nthreshold = 1\n",
       "alerts[0].kind: must be error_rate"},
      {"[[alerts]]\nname = \"a\"\nkind = \"error_rate\"\n",
       "alerts[0].threshold: is required"},
      {"[[alerts]]\nname = \"a\"\nkind = \"error_rate\"\nthreshold = 10\n",
       "alerts[0].threshold: an error rate is a fraction"},
      {"[[alerts]]\nname = \"a\"\nkind = \"latency\"\nthreshold = 10\nwindow_m = 5\n",
       "alerts[0].window_m: unknown key"},
      {"[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 1\nwebhook = \"ftp://x/y\"\n",
       "alerts[0].webhook: must be an http:// or https:// URL"},
      {"[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 1\nwebhook = \"http://h/\"\n"
       "template = '{\"a\":\"{{nmae}}\"}'\n",
       "alerts[0].template: unknown placeholder {{nmae}}"},
      {"[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 1\nwebhook = \"http://h/\"\n"
       "template = '{\"a\":{{name}}'\n",
       "alerts[0].template: is not valid JSON"},
      {"[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 1\nwebhook = \"http://h/\"\n"
       "format = \"slack\"\ntemplate = '{}'\n",
       "give either format or template"},
      {"[[alerts]]\nname = \"a\"\nkind = \"latency\"\nthreshold = 1\nstat = \"p99\"\n",
       "alerts[0].stat: must be avg or p95"},
      {"[[alerts]]\nname = \"a\"\nkind = \"budget\"\nthreshold = 0.8\nmodel = \"m\"\n",
       "alerts[0].model: kind = \"budget\" has no model filter"},
      {"[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 1\n"
       "[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 2\n",
       "duplicate alert name 'a'"},
      {"[alerting]\nqueue = 0\n",
       "alerting.queue: must be an integer from 1"},
  };
  for (const Row& row : rows) {
    INFO(row.alerts);
    CHECK_THAT(error_of(row.alerts), Catch::Contains(row.says));
  }
}

TEST_CASE("alerts config: webhook URLs are secrets", "[alert]") {
  const Config c = parse("[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 1\nwebhook_env = \"HOOK_URL\"\n");
  const std::string url = c.alerts[0].webhook;
  CHECK(describe_json(c).find("tokenFROMenv") == std::string::npos);
  CHECK(describe(c).find("tokenFROMenv") == std::string::npos);
  CHECK(describe_json(c).find(R"("kind":"requests")") != std::string::npos);
  const auto secrets = config_secrets(c);
  CHECK(std::find(secrets.begin(), secrets.end(), url) != secrets.end());
}

TEST_CASE("alerts config: changing a rule is named as needing a restart", "[alert]") {
  const Config a = parse("[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 1\n");
  const Config b = parse("[[alerts]]\nname = \"a\"\nkind = \"requests\"\nthreshold = 2\n");
  const auto changes = restart_only_changes(a, b);
  CHECK(std::find(changes.begin(), changes.end(), "alerts") != changes.end());
  CHECK(restart_only_changes(a, a).empty());
}
