// openai::StreamEncoder and openai::ResponseAggregator driven by hand-built events.
#include <cctype>
#include <initializer_list>
#include <string>

#include <catch2/catch.hpp>

#include "../../dialect/fixtures.hpp"
#include "zgate/model/request.hpp"
#include "zgate/front/openai/encoder.hpp"
#include "support/chat_helpers.hpp"

namespace {

using namespace zgate;
using zgate::test::fixed_options;
using zgate::test::usage_of;

const std::string kPrefix =
    R"(data: {"id":"chatcmpl-test","object":"chat.completion.chunk","created":1700000000,"model":"glm-test",)"
    R"("choices":[{"index":0,"delta":)";

std::string chunk(std::string_view delta, std::string_view finish = "null") {
  return kPrefix + std::string(delta) + ",\"finish_reason\":" + std::string(finish) + "}]}\n\n";
}

bool is_alnum_id(std::string_view s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix || s.size() != prefix.size() + 24) return false;
  for (const char c : s.substr(prefix.size()))
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

std::size_t count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = hay.find(needle); pos != std::string_view::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

// Hands `events` to `sink` (an encoder or an aggregator) in order.
template <class Sink>
void feed(Sink& sink, std::initializer_list<Event> events) {
  for (const Event& e : events) sink.on_event(e);
}

}  // namespace

TEST_CASE("openai encoder: content deltas, role on the first only, then finish and [DONE]", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  feed(enc, {Event::start("up", "glm-4.6", 5), Event::content("a\"b"), Event::content("c"),
             Event::finished(FinishReason::length)});
  enc.finish();
  CHECK(out == chunk(R"({"role":"assistant","content":"a\"b"})") + chunk(R"({"content":"c"})") +
                   chunk("{}", "\"length\"") + "data: [DONE]\n\n");
  CHECK(enc.finished());
  CHECK(enc.outcome().finish == FinishReason::length);
}

TEST_CASE("openai encoder: a first reasoning delta carries role and an empty content", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.on_event(Event::reasoning("hmm"));
  enc.on_event(Event::reasoning("..."));
  CHECK(out == chunk(R"({"role":"assistant","content":"","reasoning_content":"hmm"})") +
                   chunk(R"({"reasoning_content":"..."})"));
}

TEST_CASE("openai encoder: empty text deltas produce no chunk", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.on_event(Event::content(""));
  enc.on_event(Event::reasoning(""));
  CHECK(out.empty());
  CHECK_FALSE(enc.outcome().saw_first_token);
}

TEST_CASE("openai encoder: an empty upstream call id is replaced by a generated one", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.on_event(Event::tool_call(0, "", "f", "{"));
  enc.on_event(Event::tool_call(0, "", "", "}"));
  const std::string head = R"({"role":"assistant","content":"","tool_calls":[{"index":0,"id":")";
  const auto at = out.find(head);
  REQUIRE(at != std::string::npos);
  const auto id_start = at + head.size();
  const std::string id = out.substr(id_start, out.find('"', id_start) - id_start);
  CHECK(is_alnum_id(id, "call_"));
  CHECK(out.find(R"("type":"function","function":{"name":"f","arguments":"{"}}]})") != std::string::npos);
  CHECK(out.find(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})")) != std::string::npos);
  CHECK(enc.outcome().tool_calls == 1);
}

TEST_CASE("openai encoder: repeated id and name are sent once, empty continuations dropped", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.on_event(Event::tool_call(1, "call_x", "f", ""));
  enc.on_event(Event::tool_call(1, "call_x", "f", ""));
  enc.on_event(Event::tool_call(1, "call_x", "f", "{}"));
  CHECK(out ==
        chunk(R"({"role":"assistant","content":"","tool_calls":[{"index":1,"id":"call_x","type":"function",)"
              R"("function":{"name":"f","arguments":""}}]})") +
            chunk(R"({"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]})"));
}

TEST_CASE("openai encoder: finish() without a finish event says tool_calls when calls were made", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.on_event(Event::tool_call(0, "call_x", "f", "{}"));
  enc.finish();
  CHECK(out.find(chunk("{}", "\"tool_calls\"") + "data: [DONE]\n\n") != std::string::npos);
  CHECK(enc.outcome().finish == FinishReason::tool_calls);
}

TEST_CASE("openai encoder: finish() without any event still sends a role chunk and stop", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.finish();
  CHECK(out == chunk(R"({"role":"assistant","content":""})") + chunk("{}", "\"stop\"") + "data: [DONE]\n\n");
}

TEST_CASE("openai encoder: finish() is idempotent and later events are ignored", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.on_event(Event::content("x"));
  enc.finish();
  const std::string once = out;
  enc.finish();
  enc.on_event(Event::content("late"));
  enc.fail(bad_gateway("late"));
  CHECK(out == once);
}

TEST_CASE("openai encoder: usage chunk after finish only with include_usage", "[unit][openai]") {
  const Usage u = usage_of(3, 4, 7, /*cached=*/1, /*reasoning=*/2);
  for (const bool include : {false, true}) {
    std::string out;
    openai::StreamEncoder enc(out, fixed_options(include));
    enc.on_event(Event::content("x"));
    enc.on_event(Event::usage_of(u));
    enc.on_event(Event::finished(FinishReason::stop));
    enc.finish();
    const std::string usage_chunk =
        R"(data: {"id":"chatcmpl-test","object":"chat.completion.chunk","created":1700000000,"model":"glm-test",)"
        R"("choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,)"
        R"("prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":2}}})"
        "\n\n";
    const std::string tail = chunk("{}", "\"stop\"") + (include ? usage_chunk : "") + "data: [DONE]\n\n";
    INFO("include_usage " << include);
    CHECK(out.substr(out.size() - std::min(out.size(), tail.size())) == tail);
    CHECK(enc.outcome().usage.total_tokens == 7);
    CHECK(enc.outcome().usage.reasoning_tokens == 2);
  }
}

TEST_CASE("openai encoder: the last usage seen wins", "[unit][openai]") {
  Usage a, b;
  a.present = b.present = true;
  a.total_tokens = 1;
  b.total_tokens = 2;
  std::string out;
  openai::StreamEncoder enc(out, fixed_options(true));
  enc.on_event(Event::usage_of(a));
  enc.on_event(Event::usage_of(b));
  enc.finish();
  CHECK(enc.outcome().usage.total_tokens == 2);
  CHECK(count(out, "\"usage\"") == 1);
  CHECK(out.find("\"total_tokens\":2") != std::string::npos);
}

TEST_CASE("openai encoder: an error event is an in-band error then [DONE], nothing after", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options(true));
  Usage u;
  u.present = true;
  enc.on_event(Event::content("x"));
  enc.on_event(Event::usage_of(u));
  const ApiError err = bad_gateway("boom");
  enc.on_event(Event::failed(err));
  enc.on_event(Event::content("late"));
  enc.finish();
  CHECK(out == chunk(R"({"role":"assistant","content":"x"})") +
                   R"(data: {"error":{"message":"boom","type":"upstream_error","param":null,"code":"upstream_error"}})"
                   "\n\ndata: [DONE]\n\n");
  CHECK(enc.finished());
  CHECK(enc.outcome().error);
  CHECK(enc.outcome().error_type == "upstream_error");
}

TEST_CASE("openai encoder: fail() ends the stream with the error", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  enc.fail(gateway_timeout("slow upstream"));
  CHECK(out == R"(data: {"error":{"message":"slow upstream","type":"upstream_error","param":null,)"
               R"("code":"upstream_timeout"}})"
               "\n\ndata: [DONE]\n\n");
  CHECK(enc.outcome().error_type == "upstream_error");
}

TEST_CASE("openai encoder: id, created and model come from the start event when not given", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, openai::StreamOptions{});
  enc.on_event(Event::start("2025abc", "glm-4.6", 1762855400));
  enc.on_event(Event::content("x"));
  CHECK(out.rfind(R"(data: {"id":"chatcmpl-2025abc","object":"chat.completion.chunk","created":1762855400,)"
                  R"("model":"glm-4.6","choices":)",
                  0) == 0);
}

TEST_CASE("openai encoder: without a start event the id is generated and created is now", "[unit][openai]") {
  std::string out;
  openai::StreamOptions o;
  o.model = "glm-test";
  openai::StreamEncoder enc(out, o);
  enc.on_event(Event::content("x"));
  const std::string head = "data: {\"id\":\"";
  REQUIRE(out.rfind(head, 0) == 0);
  const std::string id = out.substr(head.size(), out.find('"', head.size()) - head.size());
  CHECK(is_alnum_id(id, "chatcmpl-"));
  const auto c = out.find("\"created\":");
  REQUIRE(c != std::string::npos);
  CHECK(std::stoll(out.substr(c + 10)) > 1700000000);
}

TEST_CASE("openai encoder: outcome marks the first token on reasoning, content or tool call", "[unit][openai]") {
  for (const Event& e : {Event::reasoning("r"), Event::content("c"), Event::tool_call(0, "id", "f", "")}) {
    std::string out;
    openai::StreamEncoder enc(out, fixed_options());
    enc.on_event(Event::start("x", "m", 1));
    CHECK_FALSE(enc.outcome().saw_first_token);
    enc.on_event(e);
    CHECK(enc.outcome().saw_first_token);
  }
}

TEST_CASE("openai ids: completion and call ids are a prefix plus 24 alphanumerics", "[unit][openai]") {
  const std::string a = openai::new_completion_id(), b = openai::new_completion_id();
  CHECK(is_alnum_id(a, "chatcmpl-"));
  CHECK(is_alnum_id(zgate::new_call_id(), "call_"));
  CHECK(a != b);
}

TEST_CASE("openai aggregator: content is null when empty and tool calls exist", "[unit][openai]") {
  openai::ResponseAggregator agg(fixed_options());
  agg.on_event(Event::start("x", "m", 1));
  agg.on_event(Event::tool_call(1, "call_b", "g", "{\"b\":"));
  agg.on_event(Event::tool_call(0, "call_a", "f", "{}"));
  agg.on_event(Event::tool_call(1, "call_b", "g", "1}"));
  agg.on_event(Event::finished(FinishReason::tool_calls));
  std::string out;
  agg.write(out);
  CHECK(out == R"({"id":"chatcmpl-test","object":"chat.completion","created":1700000000,"model":"glm-test",)"
               R"("choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[)"
               R"({"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}},)"
               R"({"id":"call_b","type":"function","function":{"name":"g","arguments":"{\"b\":1}"}}]},)"
               R"("finish_reason":"tool_calls"}]})");
  CHECK(agg.outcome().tool_calls == 2);
}

TEST_CASE("openai aggregator: joins text deltas and omits empty reasoning", "[unit][openai]") {
  openai::ResponseAggregator agg(fixed_options());
  agg.on_event(Event::content("Hel"));
  agg.on_event(Event::content("lo"));
  std::string out;
  agg.write(out);
  CHECK(out == R"({"id":"chatcmpl-test","object":"chat.completion","created":1700000000,"model":"glm-test",)"
               R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]})");
}

TEST_CASE("openai aggregator: generates a call id when the upstream gave none", "[unit][openai]") {
  openai::ResponseAggregator agg(fixed_options());
  agg.on_event(Event::tool_call(0, "", "f", "{}"));
  std::string out;
  agg.write(out);
  const std::string head = R"("tool_calls":[{"id":")";
  const auto at = out.find(head);
  REQUIRE(at != std::string::npos);
  const auto s = at + head.size();
  CHECK(is_alnum_id(out.substr(s, out.find('"', s) - s), "call_"));
}

TEST_CASE("openai aggregator: an error event makes it failed with that error", "[unit][openai]") {
  openai::ResponseAggregator agg(fixed_options());
  agg.on_event(Event::content("partial"));
  ApiError err = bad_gateway("went away");
  agg.on_event(Event::failed(err));
  agg.on_event(Event::content("late"));
  CHECK(agg.failed());
  CHECK(agg.error().message == "went away");
  CHECK(agg.error().status == 502);
  CHECK(agg.outcome().error_type == "upstream_error");
}

TEST_CASE("finish reasons print as OpenAI values", "[unit][openai]") {
  CHECK(to_string(FinishReason::stop) == "stop");
  CHECK(to_string(FinishReason::length) == "length");
  CHECK(to_string(FinishReason::tool_calls) == "tool_calls");
  CHECK(to_string(FinishReason::content_filter) == "content_filter");
  CHECK(to_string(FinishReason::error) == "error");
  CHECK(to_string(FinishReason::none) == "");
}

TEST_CASE("roles print as OpenAI values", "[unit][openai]") {
  CHECK(to_string(Role::system) == "system");
  CHECK(to_string(Role::user) == "user");
  CHECK(to_string(Role::assistant) == "assistant");
  CHECK(to_string(Role::tool) == "tool");
}

TEST_CASE("openai encoder: outcome counts the bytes of content, tool calls and reasoning apart", "[unit][openai]") {
  std::string out;
  openai::StreamEncoder enc(out, fixed_options());
  feed(enc, {Event::start("x", "m", 1), Event::reasoning("think"), Event::content("Hello"), Event::content(""),
             Event::tool_call(0, "id", "fn", "{\"a\":1}"), Event::tool_call(0, "", "", "xy")});
  CHECK(enc.outcome().reasoning_bytes == 5);
  CHECK(enc.outcome().content_bytes == 5 + 2 + 7 + 2);
}

TEST_CASE("openai aggregator: outcome counts the bytes of content, tool calls and reasoning apart", "[unit][openai]") {
  openai::ResponseAggregator agg(fixed_options());
  feed(agg,
       {Event::reasoning("abc"), Event::content("Hel"), Event::content("lo"), Event::tool_call(0, "id", "fn", "{}")});
  CHECK(agg.outcome().reasoning_bytes == 3);
  CHECK(agg.outcome().content_bytes == 5 + 2 + 2);
}
