// Webhook bodies: each format renders valid JSON in the shape its receiver expects, with text
// that needs escaping; custom templates escape their values.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include "zgate/alert/alert.hpp"

using namespace zgate;
using namespace zgate::alert;

namespace {

AlertRule rule_with(AlertFormat f, std::string tpl = {}) {
  AlertRule a;
  a.name = "errors \"high\"";
  a.kind = AlertKind::error_rate;
  a.threshold = 0.1;
  a.format = f;
  a.body_template = std::move(tpl);
  return a;
}

Event event() {
  Event e;
  e.rule = "errors \"high\"";
  e.kind = AlertKind::error_rate;
  e.state = State::firing;
  e.value = 0.25;
  e.threshold = 0.1;
  e.message = "error rate 25%\nline two \\ done";
  e.started_at_ms = 1'796'000'000'000;
  e.at_ms = 1'796'000'060'000;
  return e;
}

std::string_view str(simdjson::dom::element v) { return v.get_string().value(); }

}  // namespace

TEST_CASE("the json format carries every field", "[alert]") {
  const std::string body = render_body(rule_with(AlertFormat::json), event(), "host-1");
  simdjson::dom::parser p;
  auto d = p.parse(body);
  REQUIRE(!d.error());
  CHECK(str(d["name"]) == "errors \"high\"");
  CHECK(str(d["kind"]) == "error_rate");
  CHECK(str(d["state"]) == "firing");
  CHECK(d["value"].get_double().value() == 0.25);
  CHECK(d["threshold"].get_double().value() == 0.1);
  CHECK(str(d["message"]) == "error rate 25%\nline two \\ done");
  CHECK(str(d["started_at"]) == "2026-11-30T00:53:20Z");
  CHECK(str(d["instance"]["name"]) == "host-1");
  CHECK(str(d["instance"]["version"]) == kVersion);
}

TEST_CASE("slack, feishu and dingtalk bodies have their incoming-webhook shapes", "[alert]") {
  simdjson::dom::parser p;
  const std::string slack = render_body(rule_with(AlertFormat::slack), event(), "h");
  auto s = p.parse(slack);
  REQUIRE(!s.error());
  CHECK(str(s["text"]).starts_with("[zgate h] FIRING errors \"high\": error rate 25%"));

  const std::string feishu = render_body(rule_with(AlertFormat::feishu), event(), "h");
  auto f = p.parse(feishu);
  REQUIRE(!f.error());
  CHECK(str(f["msg_type"]) == "text");
  CHECK(str(f["content"]["text"]).find("FIRING") != std::string_view::npos);

  Event resolved = event();
  resolved.state = State::resolved;
  const std::string ding = render_body(rule_with(AlertFormat::dingtalk), resolved, "h");
  auto g = p.parse(ding);
  REQUIRE(!g.error());
  CHECK(str(g["msgtype"]) == "text");
  CHECK(str(g["text"]["content"]).find("RESOLVED") != std::string_view::npos);
}

TEST_CASE("a custom template escapes its values, and numbers may stand unquoted", "[alert]") {
  const std::string body =
      render_body(rule_with(AlertFormat::custom, R"({"title":"{{name}} is {{state}}","v":{{value}},"t":{{threshold}},)"
                                                 R"("m":"{{message}}","at":"{{started_at}}","who":"{{instance}}","x":"{{unknown}}"})"),
                  event(), "h");
  simdjson::dom::parser p;
  auto d = p.parse(body);
  REQUIRE(!d.error());
  CHECK(str(d["title"]) == "errors \"high\" is firing");
  CHECK(d["v"].get_double().value() == 0.25);
  CHECK(d["t"].get_double().value() == 0.1);
  CHECK(str(d["m"]) == "error rate 25%\nline two \\ done");
  CHECK(str(d["who"]) == "h");
  CHECK(str(d["x"]) == "{{unknown}}");
}
