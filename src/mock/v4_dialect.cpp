// The Zhipu / Z.ai "paas v4" dialect of the mock upstream (specs/zhipu-v4.md §2, §5, §6, §10).
// Pure: request bytes in, Plan out. Scenario names and their shapes are listed in
// src/mock/README.md.
#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "zgate/json/read.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/mock/plan.hpp"
#include "zgate/mock/util.hpp"

namespace zgate::mock {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kJson = "application/json; charset=UTF-8";
constexpr std::string_view kSse = "text/event-stream;charset=UTF-8";

// ---------------------------------------------------------------------------------------
// Request model

struct ToolInfo {
  std::string name;
  std::string args;      // plausible arguments (JSON text) for a first call
  std::string args_alt;  // different values, for a second (parallel) call
};

struct V4Request {
  std::string model = "glm-4.6";
  bool stream = false;
  bool thinking = false;  // "thinking":{"type":"enabled"} given explicitly
  int64_t max_tokens = 0;
  std::string request_id;
  std::vector<ToolInfo> tools;
  bool has_user = false;
  std::string last_role;
  std::string last_user_text;
  std::string last_tool_content;
  std::size_t body_size = 0;
};

struct PropInfo {
  std::string name;
  std::string type;
  std::string enum_first;  // raw JSON of the first enum value, if any
};

bool contains_any(std::string_view s, std::initializer_list<std::string_view> needles) {
  for (auto n : needles)
    if (s.find(n) != std::string_view::npos) return true;
  return false;
}

// Arguments that look like what a model would produce for the tool's JSON schema.
std::string make_args(const std::vector<PropInfo>& props, bool alt) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  int number_index = 0;
  for (const auto& p : props) {
    w.key_escaped(p.name);
    if (!p.enum_first.empty()) {
      w.raw(p.enum_first);
    } else if (p.type == "integer" || p.type == "number") {
      w.number(static_cast<int64_t>((alt ? 4 : 2) + number_index++));
    } else if (p.type == "boolean") {
      w.boolean(!alt);
    } else if (p.type == "array") {
      w.raw("[]");
    } else if (p.type == "object") {
      w.raw("{}");
    } else {
      const std::string_view n = p.name;
      if (contains_any(n, {"location", "city", "place"})) w.string(alt ? "Porto" : "Lisbon");
      else if (contains_any(n, {"path", "file"})) w.string(alt ? "b.txt" : "a.txt");
      else if (contains_any(n, {"text", "content"})) w.string(alt ? "bye" : "hi");
      else if (contains_any(n, {"unit"})) w.string("celsius");
      else w.string(alt ? "example-2" : "example");
    }
  }
  w.end_object();
  return out;
}

simdjson::error_code read_text_content(od::value& v, std::string& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t == od::json_type::string) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return e;
    out.assign(s);
    return simdjson::SUCCESS;
  }
  if (t != od::json_type::array) return simdjson::SUCCESS;  // null or unexpected: no text
  od::array parts;
  if (auto e = v.get_array().get(parts)) return e;
  for (auto pr : parts) {
    od::object part;
    if (auto e = pr.get_object().get(part)) return e;
    for (auto fr : part) {
      od::field f;
      if (auto e = std::move(fr).get(f)) return e;
      std::string_view k;
      if (auto e = f.unescaped_key().get(k)) return e;
      if (k != "text") continue;
      std::string_view s;
      if (auto e = f.value().get_string().get(s)) return e;
      if (!out.empty()) out.push_back('\n');
      out.append(s);
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code read_tool(od::object& tool, ToolInfo& out) {
  std::vector<PropInfo> props;
  std::vector<std::string> required;
  for (auto fr : tool) {
    od::field f;
    if (auto e = std::move(fr).get(f)) return e;
    std::string_view k;
    if (auto e = f.unescaped_key().get(k)) return e;
    if (k != "function") continue;
    od::object fn;
    if (auto e = f.value().get_object().get(fn)) return e;
    for (auto gr : fn) {
      od::field g;
      if (auto e = std::move(gr).get(g)) return e;
      std::string_view gk;
      if (auto e = g.unescaped_key().get(gk)) return e;
      if (gk == "name") {
        std::string_view s;
        if (auto e = g.value().get_string().get(s)) return e;
        out.name.assign(s);
      } else if (gk == "parameters") {
        od::object params;
        if (g.value().get_object().get(params)) continue;  // tolerate odd schemas
        for (auto pr : params) {
          od::field p;
          if (auto e = std::move(pr).get(p)) return e;
          std::string_view pk;
          if (auto e = p.unescaped_key().get(pk)) return e;
          if (pk == "properties") {
            od::object propobj;
            if (p.value().get_object().get(propobj)) continue;
            for (auto qr : propobj) {
              od::field q;
              if (auto e = std::move(qr).get(q)) return e;
              PropInfo info;
              std::string_view qn;
              if (auto e = q.unescaped_key().get(qn)) return e;
              info.name.assign(qn);
              od::object schema;
              if (!q.value().get_object().get(schema)) {
                for (auto sr : schema) {
                  od::field s;
                  if (auto e = std::move(sr).get(s)) return e;
                  std::string_view sk;
                  if (auto e = s.unescaped_key().get(sk)) return e;
                  if (sk == "type") {
                    std::string_view ty;
                    if (!s.value().get_string().get(ty)) info.type.assign(ty);
                  } else if (sk == "enum") {
                    od::array en;
                    if (!s.value().get_array().get(en)) {
                      for (auto er : en) {
                        od::value ev;
                        if (auto e = er.get(ev)) return e;
                        std::string_view raw;
                        if (!simdjson::to_json_string(ev).get(raw)) info.enum_first.assign(raw);
                        break;
                      }
                    }
                  }
                }
              }
              props.push_back(std::move(info));
            }
          } else if (pk == "required") {
            od::array req;
            if (p.value().get_array().get(req)) continue;
            for (auto rr : req) {
              std::string_view s;
              if (!rr.get_string().get(s)) required.emplace_back(s);
            }
          }
        }
      }
    }
  }
  // Fill the required properties, or all of them when none is marked required; a handful at most.
  std::vector<PropInfo> chosen;
  for (auto& p : props) {
    const bool is_required = required.empty() ||
                             std::find(required.begin(), required.end(), p.name) != required.end();
    if (is_required && chosen.size() < 8) chosen.push_back(p);
  }
  out.args = make_args(chosen, false);
  out.args_alt = make_args(chosen, true);
  return simdjson::SUCCESS;
}

simdjson::error_code parse_request(const MockRequest& req, V4Request& out) {
  thread_local std::string pad_buf;
  out.body_size = req.body.size();
  const simdjson::padded_string_view psv =
      req.body_capacity >= req.body.size() + simdjson::SIMDJSON_PADDING
          ? simdjson::padded_string_view(req.body.data(), req.body.size(), req.body_capacity)
          : json::pad(req.body, pad_buf);
  od::document doc;
  if (auto e = json::thread_parser().iterate(psv).get(doc)) return e;
  od::object root;
  if (auto e = doc.get_object().get(root)) return e;
  for (auto fr : root) {
    od::field f;
    if (auto e = std::move(fr).get(f)) return e;
    std::string_view k;
    if (auto e = f.unescaped_key().get(k)) return e;
    od::value& v = f.value();
    if (k == "model") {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return e;
      out.model.assign(s);
    } else if (k == "stream") {
      if (auto e = v.get_bool().get(out.stream)) return e;
    } else if (k == "max_tokens") {
      if (auto e = v.get_int64().get(out.max_tokens)) return e;
    } else if (k == "request_id") {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return e;
      out.request_id.assign(s);
    } else if (k == "thinking") {
      od::object th;
      if (auto e = v.get_object().get(th)) return e;
      for (auto tr : th) {
        od::field t;
        if (auto e = std::move(tr).get(t)) return e;
        std::string_view tk;
        if (auto e = t.unescaped_key().get(tk)) return e;
        if (tk != "type") continue;
        std::string_view ty;
        if (auto e = t.value().get_string().get(ty)) return e;
        out.thinking = ty == "enabled";
      }
    } else if (k == "tools") {
      od::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      for (auto tr : arr) {
        od::object tool;
        if (auto e = tr.get_object().get(tool)) return e;
        ToolInfo info;
        if (auto e = read_tool(tool, info)) return e;
        if (!info.name.empty()) out.tools.push_back(std::move(info));
      }
    } else if (k == "messages") {
      od::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      for (auto mr : arr) {
        od::object m;
        if (auto e = mr.get_object().get(m)) return e;
        std::string role, text;
        for (auto gr : m) {
          od::field g;
          if (auto e = std::move(gr).get(g)) return e;
          std::string_view gk;
          if (auto e = g.unescaped_key().get(gk)) return e;
          if (gk == "role") {
            std::string_view s;
            if (auto e = g.value().get_string().get(s)) return e;
            role.assign(s);
          } else if (gk == "content") {
            if (auto e = read_text_content(g.value(), text)) return e;
          }
        }
        if (role == "user") {
          out.has_user = true;
          out.last_user_text = std::move(text);
        } else if (role == "tool") {
          out.last_tool_content = std::move(text);
        }
        out.last_role = std::move(role);
      }
    }
  }
  return simdjson::SUCCESS;
}

// ---------------------------------------------------------------------------------------
// Auth (§2): Bearer <key> from the configured list (any non-empty bearer when the list is
// empty), or Bearer <jwt> / a bare JWT signed HS256 with the secret of a configured id.secret.

struct AuthResult {
  bool ok = false;
  std::string principal;  // concurrency key
  int status = 401;
  std::string_view code;
  std::string_view message;
};

AuthResult reject(std::string_view code, std::string_view message) {
  AuthResult r;
  r.code = code;
  r.message = message;
  return r;
}

constexpr std::string_view kBadToken = "令牌已过期或验证不正确";

// Verifies a JWT. Returns the api_key id on success, or an error result.
AuthResult check_jwt(std::string_view token, const std::vector<std::string>& keys) {
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  const std::string_view h64 = token.substr(0, d1), p64 = token.substr(d1 + 1, d2 - d1 - 1),
                         s64 = token.substr(d2 + 1);
  const auto header = base64url_decode(h64);
  const auto payload = base64url_decode(p64);
  const auto sig = base64url_decode(s64);
  if (!header || !payload || !sig) return reject("1004", "Authorization Token verification failed");
  if (header->find("\"HS256\"") == std::string::npos) return reject("1004", "Authorization Token verification failed");

  std::string api_key;
  int64_t exp = 0;
  {
    thread_local std::string buf;
    od::document doc;
    od::object obj;
    if (json::thread_parser().iterate(json::pad(*payload, buf)).get(doc) || doc.get_object().get(obj))
      return reject("1004", "Authorization Token verification failed");
    for (auto fr : obj) {
      od::field f;
      if (std::move(fr).get(f)) return reject("1004", "Authorization Token verification failed");
      std::string_view k;
      if (f.unescaped_key().get(k)) return reject("1004", "Authorization Token verification failed");
      if (k == "api_key") {
        std::string_view s;
        if (f.value().get_string().get(s)) return reject("1004", "Authorization Token verification failed");
        api_key.assign(s);
      } else if (k == "exp") {
        if (f.value().get_int64().get(exp)) {
          double d = 0;
          if (f.value().get_double().get(d)) return reject("1004", "Authorization Token verification failed");
          exp = json::saturate_to_int64(d);
        }
      }
    }
  }
  if (keys.empty()) {  // nothing to verify against: any bearer is fine
    AuthResult ok;
    ok.ok = true;
    ok.principal = api_key.empty() ? std::string(token) : api_key;
    return ok;
  }
  for (const auto& key : keys) {
    const auto dot = key.find('.');
    if (dot == std::string::npos || std::string_view(key).substr(0, dot) != api_key) continue;
    const std::string_view secret = std::string_view(key).substr(dot + 1);
    const std::string signing_input(token.substr(0, d2));
    if (!constant_time_equal(hmac_sha256(secret, signing_input), *sig))
      return reject("1004", "Authorization Token verification failed");
    // exp is in milliseconds (§2.2); a seconds value is therefore long expired.
    if (exp < unix_millis()) return reject("1003", "Authorization Token has expired");
    AuthResult ok;
    ok.ok = true;
    ok.principal = api_key;
    return ok;
  }
  return reject("401", kBadToken);
}

bool looks_like_jwt(std::string_view t) {
  const auto d1 = t.find('.');
  if (d1 == std::string_view::npos || d1 == 0) return false;
  const auto d2 = t.find('.', d1 + 1);
  return d2 != std::string_view::npos && d2 > d1 + 1 && t.find('.', d2 + 1) == std::string_view::npos &&
         d2 + 1 < t.size();
}

AuthResult check_auth(const MockRequest& req, const std::vector<std::string>& keys) {
  std::string_view h = req.header("authorization");
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.empty())
    return reject("1001", "Authentication parameter not received in Header, unable to authenticate");
  std::string_view token;
  bool bearer = false;
  if (h.size() >= 7 && iequals(h.substr(0, 7), "bearer ")) {
    token = h.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    bearer = true;
  } else {
    token = h;  // a bare JWT, as the first v4 SDK and one-api send
  }
  if (token.empty())
    return reject("1001", "Authentication parameter not received in Header, unable to authenticate");
  for (const auto& key : keys) {
    if (bearer && constant_time_equal(key, token)) {
      AuthResult ok;
      ok.ok = true;
      ok.principal = key;
      return ok;
    }
  }
  // A JWT has three segments; an id.secret key has two, so it cannot be confused with one.
  if (looks_like_jwt(token)) return check_jwt(token, keys);
  if (bearer && keys.empty()) {
    AuthResult ok;
    ok.ok = true;
    ok.principal.assign(token);
    return ok;
  }
  return reject("401", kBadToken);
}

// ---------------------------------------------------------------------------------------
// Response rendering

struct Usage {
  int64_t prompt = 1, completion = 1, cached = 0, reasoning = 0;
};

struct ToolCall {
  std::string name, args, stream_id, id;
};

enum class ToolMode : unsigned char { whole, fragmented, repeat, finish_args, index_missing };

// What the model "says"; rendered either as an SSE stream or as one JSON body.
struct Answer {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> calls;
  ToolMode tool_mode = ToolMode::whole;
  std::string_view finish = "stop";
  bool content_filter = false;
  int64_t completion_tokens = 0;  // 0 = estimate from the text
};

struct Head {
  std::string id;
  int64_t created = 0;
  std::string_view model;
  std::string_view request_id;
  bool f2026 = false;
};

void write_usage_stream(json::Writer& w, const Usage& u, bool f2026) {
  w.key("usage").begin_object();
  w.kv("prompt_tokens", u.prompt).kv("completion_tokens", u.completion).kv("total_tokens", u.prompt + u.completion);
  w.key("prompt_tokens_details").begin_object().kv("cached_tokens", u.cached).end_object();
  if (f2026) w.key("completion_tokens_details").begin_object().kv("reasoning_tokens", u.reasoning).end_object();
  w.end_object();
}

// Non-streamed bodies use the wire's alphabetical key order.
void write_usage_sorted(json::Writer& w, const Usage& u, bool f2026) {
  w.key("usage").begin_object();
  w.kv("completion_tokens", u.completion);
  if (f2026) w.key("completion_tokens_details").begin_object().kv("reasoning_tokens", u.reasoning).end_object();
  w.kv("prompt_tokens", u.prompt);
  w.key("prompt_tokens_details").begin_object().kv("cached_tokens", u.cached).end_object();
  w.kv("total_tokens", u.prompt + u.completion);
  w.end_object();
}

// One SSE event "data: {...}\n\n" for a chunk whose delta is written by `delta`.
template <class F>
std::string chunk_event(const Head& h, F&& delta, std::string_view finish = {}, const Usage* usage = nullptr,
                        bool content_filter = false) {
  std::string out = "data: ";
  json::Writer w(out);
  w.begin_object().kv("id", h.id).kv("created", h.created).kv("model", h.model);
  if (h.f2026) w.kv("object", "chat.completion.chunk");
  w.key("choices").begin_array().begin_object().kv("index", 0);
  if (!finish.empty()) w.kv("finish_reason", finish);
  w.key("delta").begin_object();
  delta(w);
  w.end_object().end_object().end_array();
  if (content_filter)
    w.key("content_filter").begin_array().begin_object().kv("role", "assistant").kv("level", 1).end_object().end_array();
  if (usage) write_usage_stream(w, *usage, h.f2026);
  w.end_object();
  out.append("\n\n", 2);
  return out;
}

Usage usage_for(const V4Request& rq, const Answer& a) {
  Usage u;
  u.prompt = std::max<int64_t>(1, static_cast<int64_t>(rq.body_size / 4));
  std::size_t out_bytes = a.content.size() + a.reasoning.size();
  for (const auto& c : a.calls) out_bytes += c.args.size() + c.name.size();
  u.reasoning = static_cast<int64_t>(a.reasoning.size() / 4);
  u.completion = a.completion_tokens > 0 ? a.completion_tokens
                                         : std::max<int64_t>(1, static_cast<int64_t>(out_bytes / 4));
  if (u.reasoning > u.completion) u.reasoning = u.completion;
  return u;
}

// Stream events of an answer (without [DONE]); content is cut into `chunks` pieces.
std::vector<std::string> stream_events(const Head& h, const V4Request& rq, const Answer& a, std::size_t chunks) {
  std::vector<std::string> ev;
  if (!a.reasoning.empty()) {
    // The first thinking delta is a lone "\n" next to an empty content (T6).
    std::string_view reasoning = a.reasoning;
    if (reasoning.front() == '\n') {
      ev.push_back(chunk_event(h, [](json::Writer& w) { w.kv("role", "assistant").kv("content", "").kv("reasoning_content", "\n"); }));
      reasoning.remove_prefix(1);
    }
    for (auto piece : split_pieces(reasoning, 4))
      ev.push_back(chunk_event(h, [&](json::Writer& w) { w.kv("role", "assistant").kv("reasoning_content", piece); }));
  }
  std::string_view content = a.content;
  if (!a.reasoning.empty() && !content.empty() && content.front() == '\n') {
    // GLM's answer after thinking starts with a lone "\n" delta (T6).
    ev.push_back(chunk_event(h, [](json::Writer& w) { w.kv("role", "assistant").kv("content", "\n"); }));
    content.remove_prefix(1);
  }
  for (auto piece : split_pieces(content, std::max<std::size_t>(1, chunks)))
    ev.push_back(chunk_event(h, [&](json::Writer& w) { w.kv("role", "assistant").kv("content", piece); }));

  std::string_view finish_fragment;  // tool_stream_finish_args: rides on the finish chunk
  for (std::size_t i = 0; i < a.calls.size(); ++i) {
    const auto& c = a.calls[i];
    const int64_t index = a.tool_mode == ToolMode::index_missing ? -1 : static_cast<int64_t>(i);
    auto whole = [&](json::Writer& w, std::string_view args) {
      w.key("tool_calls").begin_array().begin_object().kv("id", c.stream_id).kv("index", index).kv("type", "function");
      w.key("function").begin_object().kv("name", c.name).kv("arguments", args).end_object();
      w.end_object().end_array();
    };
    if (a.tool_mode == ToolMode::whole || a.tool_mode == ToolMode::index_missing) {
      ev.push_back(chunk_event(h, [&](json::Writer& w) { whole(w, c.args); }));
      continue;
    }
    // tool_stream: a head fragment with id/name and empty arguments, then argument pieces.
    ev.push_back(chunk_event(h, [&](json::Writer& w) { whole(w, ""); }));
    auto pieces = split_pieces(c.args, 3);
    if (a.tool_mode == ToolMode::finish_args && i + 1 == a.calls.size() && !pieces.empty()) {
      finish_fragment = pieces.back();
      pieces.pop_back();
    }
    for (auto piece : pieces) {
      if (a.tool_mode == ToolMode::repeat) {
        ev.push_back(chunk_event(h, [&](json::Writer& w) { whole(w, piece); }));
      } else {
        ev.push_back(chunk_event(h, [&](json::Writer& w) {
          w.key("tool_calls").begin_array().begin_object().kv("index", index);
          w.key("function").begin_object().kv("arguments", piece).end_object();
          w.end_object().end_array();
        }));
      }
    }
  }
  const Usage u = usage_for(rq, a);
  const int64_t last_index = static_cast<int64_t>(a.calls.size()) - 1;
  ev.push_back(chunk_event(
      h,
      [&](json::Writer& w) {
        w.kv("role", "assistant").kv("content", "");
        if (!finish_fragment.empty()) {
          w.key("tool_calls").begin_array().begin_object().kv("index", last_index);
          w.key("function").begin_object().kv("arguments", finish_fragment).end_object();
          w.end_object().end_array();
        }
      },
      a.finish, &u, a.content_filter));
  return ev;
}

std::string nonstream_body(const Head& h, const V4Request& rq, const Answer& a) {
  std::string out;
  json::Writer w(out);
  w.begin_object().key("choices").begin_array().begin_object();
  w.kv("finish_reason", a.finish).kv("index", 0);
  w.key("message").begin_object().kv("content", a.content);
  if (!a.reasoning.empty()) w.kv("reasoning_content", a.reasoning);
  w.kv("role", "assistant");
  if (!a.calls.empty()) {
    w.key("tool_calls").begin_array();
    for (std::size_t i = 0; i < a.calls.size(); ++i) {
      const auto& c = a.calls[i];
      w.begin_object().key("function").begin_object().kv("arguments", c.args).kv("name", c.name).end_object();
      w.kv("id", c.id).kv("index", static_cast<int64_t>(i)).kv("type", "function").end_object();
    }
    w.end_array();
  }
  w.end_object().end_object().end_array();
  if (a.content_filter)
    w.key("content_filter").begin_array().begin_object().kv("level", 1).kv("role", "assistant").end_object().end_array();
  w.kv("created", h.created).kv("id", h.id).kv("model", h.model);
  if (h.f2026) w.kv("object", "chat.completion");
  w.kv("request_id", h.request_id.empty() ? std::string_view(h.id) : h.request_id);
  write_usage_sorted(w, usage_for(rq, a), h.f2026);
  w.end_object();
  return out;
}

// ---------------------------------------------------------------------------------------
// Scenarios

struct Build {
  const MockRequest& req;
  const V4Request& rq;
  const Scenario& sc;
  MockContext& mc;
  Head head;
  Millis delay{0};
  std::size_t chunks = 8;
};

std::string plain_text(const V4Request& rq) {
  std::string s = "Hello from zgate-mock!";
  if (!rq.last_user_text.empty()) {
    s += " You said: ";
    s += utf8_prefix(rq.last_user_text, 200);
  }
  return s;
}

std::string tool_result_text(const V4Request& rq) {
  std::string s = "The tool returned: ";
  s += utf8_prefix(rq.last_tool_content, 200);
  s += ". That settles it.";
  return s;
}

std::string reasoning_text(const V4Request& rq) {
  std::string s = "The user";
  if (!rq.last_user_text.empty()) {
    s += " wrote \"";
    s += utf8_prefix(rq.last_user_text, 60);
    s += "\".";
  } else {
    s += " wants an answer.";
  }
  s += " A short friendly reply fits.";
  return s;
}

ToolCall make_call(MockContext& mc, std::string name, std::string args) {
  const uint64_t seq = mc.next_seq();
  return ToolCall{std::move(name), std::move(args), v4_stream_tool_id(seq), v4_tool_id(seq)};
}

std::vector<ToolCall> calls_for(const Build& b, bool parallel) {
  std::vector<ToolCall> calls;
  const auto& tools = b.rq.tools;
  if (tools.empty()) {
    calls.push_back(make_call(b.mc, parallel ? "add" : "get_weather", parallel ? R"({"a":2,"b":3})" : R"({"location":"Lisbon"})"));
    if (parallel) calls.push_back(make_call(b.mc, "multiply", R"({"a":4,"b":5})"));
    return calls;
  }
  calls.push_back(make_call(b.mc, tools[0].name, tools[0].args));
  if (parallel) {
    const auto& second = tools.size() > 1 ? tools[1] : tools[0];
    calls.push_back(make_call(b.mc, second.name, tools.size() > 1 ? second.args : second.args_alt));
  }
  return calls;
}

void add_steps(Plan& p, const std::vector<std::string>& events, Millis delay) {
  for (const auto& e : events) p.steps.push_back(Step{p.steps.empty() ? Millis{0} : delay, e});
}

PlanPtr answer_plan(const Build& b, const Answer& a, const char* label) {
  auto p = std::make_shared<Plan>();
  p->label = label;
  if (b.rq.stream) {
    p->chunked = true;
    p->headers.emplace_back("Content-Type", kSse);
    p->headers.emplace_back("Cache-Control", "no-cache");
    add_steps(*p, stream_events(b.head, b.rq, a, b.chunks), b.delay);
    p->steps.push_back(Step{p->steps.empty() ? Millis{0} : b.delay, "data: [DONE]\n\n"});
  } else {
    p->headers.emplace_back("Content-Type", kJson);
    p->steps.push_back(Step{Millis{0}, nonstream_body(b.head, b.rq, a)});
  }
  if (!b.mc.options().fast) p->headers.emplace_back("x-log-id", b.head.id);
  return p;
}

Answer default_answer(const Build& b) {
  Answer a;
  if (b.rq.thinking) a.reasoning = "\n" + reasoning_text(b.rq);
  a.content = (b.rq.thinking ? "\n" : "") + plain_text(b.rq);
  return a;
}

// Keeps the first `keep` steps (whole body halves when not streamed) and ends with `end`.
PlanPtr truncate(PlanPtr full, std::size_t keep, End end, const char* label) {
  auto p = std::make_shared<Plan>(*full);
  p->label = label;
  if (!p->chunked && p->steps.size() == 1) {  // non-streamed: send half the body
    std::string& body = p->steps[0].bytes;
    const std::string second = body.substr(body.size() / 2);
    body.resize(body.size() / 2);
    p->steps.push_back(Step{Millis{0}, second});  // counted in Content-Length, never sent
    keep = 1;
  }
  // Content-Length must announce the full body, so remember it before cutting.
  if (!p->chunked) {
    p->headers.emplace_back("Content-Length", std::to_string(p->body_size()));
  }
  if (p->steps.size() > keep) p->steps.resize(keep);
  p->end = end;
  return p;
}

struct ErrorDef {
  std::string_view name;
  int status;
  std::string_view code;
  std::string_view message;
};

constexpr std::array<ErrorDef, 12> kErrors{{
    {"err_401", 401, "401", "令牌已过期或验证不正确"},
    {"err_1002", 401, "1002",
     "Authorization Token is invalid, please ensure that the Authorization Token is correctly provided."},
    {"err_1113", 429, "1113", "余额不足或无可用资源包,请充值。"},
    {"err_1302", 429, "1302",
     "High concurrency usage of this API, please reduce concurrency or contact customer service to increase limits"},
    {"err_1303", 429, "1303",
     "High frequency usage of this API, please reduce frequency or contact customer service to increase limits"},
    {"err_1305", 429, "1305", "The service may be temporarily overloaded, please try again later"},
    {"err_1305_503", 503, "1305", "The service may be temporarily overloaded, please try again later"},
    {"err_1211", 400, "1211", "Unknown Model, please check the model code."},
    {"err_1214", 400, "1214", "messages 参数非法。请检查文档。"},
    {"err_1210", 400, "1210", "API 调用参数有误，请检查文档。"},
    {"err_500", 500, "500", "Internal Error"},
    {"err_503", 503, "503", "Service Unavailable"},
}};

// Scenarios that answer without looking at the body (selectable by header alone).
PlanPtr bodyless_plan(const Scenario& sc) {
  for (const auto& e : kErrors)
    if (sc.name == e.name) return v4_error_plan(e.status, e.code, e.message, e.name.data());
  if (sc.name == "err_1301") {
    return simple_plan(400, std::string(kJson),
                       R"({"contentFilter":[{"level":1,"role":"user"}],"error":{"code":"1301","message":"System detected potentially unsafe or sensitive content in input or generation. Please avoid using prompts that may generate sensitive content. Thank you for your cooperation."}})",
                       "err_1301");
  }
  if (sc.name == "err_html") {
    return simple_plan(502, "text/html",
                       "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
                       "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                       "err_html");
  }
  if (sc.name == "hang") {
    auto p = std::make_shared<Plan>();
    p->hang_before_headers = true;
    p->label = "hang";
    return p;
  }
  if (sc.name == "drop_before_headers") {
    auto p = std::make_shared<Plan>();
    p->close_before_headers = true;
    p->label = "drop_before_headers";
    return p;
  }
  return nullptr;
}

constexpr std::string_view kMultibyte[] = {
    "你好，世界！", " 🌍 Grüße aus zgate-mock", " — 日本語のテキスト、", "한국어 텍스트", " emoji 👋🏽🚀",
    " ∑ €uro ½", " 完了。"};

PlanPtr build_plan(Build& b) {
  const std::string& name = b.sc.name;
  Answer a = default_answer(b);

  if (name == "plain" || name == "slow_headers") {
    if (name == "plain") {
      a.reasoning.clear();
      a.content = plain_text(b.rq);
    }
    auto p = answer_plan(b, a, name == "plain" ? "plain" : "slow_headers");
    if (name == "slow_headers") {
      auto q = std::make_shared<Plan>(*p);
      q->delay_headers = Millis{b.sc.param_int("delay_ms", 1000)};
      return q;
    }
    return p;
  }
  if (name == "reasoning" || name == "format2026") {
    a.reasoning = "\n" + reasoning_text(b.rq);
    a.content = "\n" + plain_text(b.rq);
    return answer_plan(b, a, name == "reasoning" ? "reasoning" : "format2026");
  }
  if (name == "tool_result") {
    a.content = (b.rq.thinking ? "\n" : "") + tool_result_text(b.rq);
    return answer_plan(b, a, "tool_result");
  }
  if (name == "tools" || name == "tools_parallel" || name == "tool_stream" || name == "tool_stream_repeat" ||
      name == "tool_stream_finish_args" || name == "tool_index_missing") {
    a.content = "I'll check that.";
    if (b.rq.thinking) a.reasoning = "Use the tool.";
    a.finish = "tool_calls";
    a.calls = calls_for(b, name == "tools_parallel");
    a.tool_mode = name == "tool_stream"               ? ToolMode::fragmented
                  : name == "tool_stream_repeat"      ? ToolMode::repeat
                  : name == "tool_stream_finish_args" ? ToolMode::finish_args
                  : name == "tool_index_missing"      ? ToolMode::index_missing
                                                      : ToolMode::whole;
    if (a.tool_mode != ToolMode::whole && a.tool_mode != ToolMode::index_missing) a.content.clear();
    return answer_plan(b, a, "tools");
  }
  if (name == "content_filter") {
    a.reasoning.clear();
    a.content = "Sure, here is";
    a.finish = "sensitive";
    a.content_filter = true;
    return answer_plan(b, a, "content_filter");
  }
  if (name == "length") {
    a.finish = "length";
    a.completion_tokens = b.rq.max_tokens > 0 ? b.rq.max_tokens : 64;
    return answer_plan(b, a, "length");
  }
  if (name == "network_error") {
    a.finish = "network_error";
    return answer_plan(b, a, "network_error");
  }
  if (name == "error_frame") {
    std::string err;
    json::Writer w(err);
    const std::string message = "Network error, error id: " + b.head.id + ", please contact customer service";
    w.begin_object().key("error").begin_object().kv("code", "1234").kv("message", message).end_object().end_object();
    if (!b.rq.stream) return v4_error_plan(500, "1234", message, "error_frame");
    auto p = std::make_shared<Plan>();
    p->label = "error_frame";
    p->chunked = true;
    p->headers.emplace_back("Content-Type", kSse);
    a.reasoning.clear();
    auto events = stream_events(b.head, b.rq, a, 2);
    events.pop_back();  // no finish chunk: the error frame replaces it
    add_steps(*p, events, b.delay);
    std::string frame;
    append_sse(frame, err);
    p->steps.push_back(Step{b.delay, std::move(frame)});
    if (b.sc.has("abrupt")) {
      p->end = End::close_abruptly;
    } else {
      p->headers.emplace_back("Connection", "close");
    }
    return p;
  }
  if (name == "multibyte") {
    a.reasoning.clear();
    a.content.clear();
    for (auto s : kMultibyte) a.content += s;
    auto full = answer_plan(b, a, "multibyte");
    // Re-cut the whole body inside UTF-8 sequences and inside "data: ", one write each.
    auto p = std::make_shared<Plan>(*full);
    std::string all;
    for (const auto& s : full->steps) all += s.bytes;
    p->steps.clear();
    append_hostile_steps(p->steps, all, std::max(b.delay, Millis{2}));
    return p;
  }
  if (name == "long") {
    const std::size_t bytes = static_cast<std::size_t>(std::max<int64_t>(1, b.sc.param_int("bytes", 256 * 1024)));
    std::string text;
    text.reserve(bytes + 128);
    for (int line = 1; text.size() < bytes; ++line) {
      char buf[96];
      const int n = std::snprintf(buf, sizeof buf, "Line %05d: the quick brown fox jumps over the lazy dog.\n", line);
      text.append(buf, static_cast<std::size_t>(n));
    }
    text.resize(bytes);
    a.reasoning.clear();
    a.content = std::move(text);
    b.chunks = static_cast<std::size_t>(b.sc.param_int("chunks", 512));
    return answer_plan(b, a, "long");
  }
  if (name == "json_answer") {
    // An upstream that ignores `stream`: a whole JSON answer to a streamed request.
    V4Request rq = b.rq;
    rq.stream = false;
    const Build nb{b.req, rq, b.sc, b.mc, b.head, b.delay, b.chunks};
    return answer_plan(nb, a, "json_answer");
  }
  if (name == "echo") {
    a.reasoning.clear();
    a.content.assign(b.req.body);
    return answer_plan(b, a, "echo");
  }
  if (name == "slow") {
    b.chunks = static_cast<std::size_t>(std::max<int64_t>(1, b.sc.param_int("chunks", 64)));
    b.delay = Millis{std::max<int64_t>(0, b.sc.param_int("delay_ms", 20))};
    a.reasoning.clear();
    a.content = plain_text(b.rq) + " Counting:";
    for (std::size_t i = 1; i <= b.chunks; ++i) a.content += " " + std::to_string(i);
    if (!b.rq.stream) {
      // A non-streamed answer arrives when the model is done.
      auto p = std::make_shared<Plan>(*answer_plan(b, a, "slow"));
      p->delay_headers = b.delay * static_cast<int64_t>(b.chunks);
      return p;
    }
    return answer_plan(b, a, "slow");
  }
  if (name == "hang_mid_stream" || name == "drop") {
    a.reasoning.clear();
    const auto keep = static_cast<std::size_t>(std::max<int64_t>(0, b.sc.param_int("after", 2)));
    return truncate(answer_plan(b, a, "truncated"), keep, name == "drop" ? End::close_abruptly : End::hang,
                    name == "drop" ? "drop" : "hang_mid_stream");
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// Fast mode: identical requests get the plan rendered the first time (benchmark upstream).

struct CacheEntry {
  std::string key;
  PlanPtr plan;
};

// Requests seen per "flaky" tag (the scenario's state across requests).
struct FlakyState {
  std::mutex mu;
  std::unordered_map<std::string, int64_t> seen;
  int64_t count(const std::string& tag) {
    std::lock_guard lock(mu);
    return ++seen[tag];
  }
};

PlanPtr handle_v4(const MockRequest& req, MockContext& mc) {
  const DialectOptions& opt = mc.options();
  const std::string_view path = req.path();
  if (path.size() < 17 || path.substr(path.size() - 17) != "/chat/completions")
    return v4_error_plan(404, "404", "Not Found", "not_found");
  if (req.method != "POST") return v4_error_plan(405, "405", "Method Not Allowed", "method");

  const AuthResult auth = check_auth(req, opt.api_keys);
  if (!auth.ok) return v4_error_plan(auth.status, auth.code, auth.message, "auth");

  const std::string_view header_spec = req.header("x-mock-scenario");
  std::optional<Scenario> sc = header_spec.empty() ? std::nullopt : parse_scenario(header_spec);
  if (sc) {
    if (PlanPtr p = bodyless_plan(*sc)) return p;
  }

  const bool cache = opt.fast && opt.concurrency_limit <= 0 && req.body.size() <= 64 * 1024;
  thread_local std::array<CacheEntry, 16> entries;
  thread_local std::size_t next_entry = 0;
  thread_local std::string key;
  if (cache) {
    key.assign(header_spec);
    key.push_back('\0');
    key.append(req.body);
    for (const auto& e : entries)
      if (e.plan && e.key == key) return e.plan;
  }

  V4Request rq;
  const bool parsed = parse_request(req, rq) == simdjson::SUCCESS;
  if (!sc) {
    if (!parsed) return v4_error_plan(400, "1210", "API 调用参数有误，请检查文档。", "bad_json");
    if (!rq.has_user) return v4_error_plan(400, "1214", "messages 参数非法。请检查文档。", "no_user");
    sc = find_scenario_marker(rq.last_user_text);
    if (sc) {
      if (PlanPtr p = bodyless_plan(*sc)) return p;
    }
  }
  // "flaky times=N code=C tag=T": the first N requests carrying tag T fail as error C would
  // (a GLM business code such as 1302, or 503, or "drop" to close before any header), later
  // ones are answered: a transient upstream failure for retry tests.
  if (sc && sc->name == "flaky") {
    auto& st = mc.dialect_state<FlakyState>();
    const int64_t seen = st.count(std::string(sc->param("tag")));
    if (seen <= sc->param_int("times", 1)) {
      const std::string code = sc->has("code") ? std::string(sc->param("code")) : std::string("1302");
      if (code == "drop") {
        auto p = std::make_shared<Plan>();
        p->close_before_headers = true;
        p->label = "flaky_drop";
        return p;
      }
      Scenario as_error;
      as_error.name = "err_" + code;
      if (PlanPtr p = bodyless_plan(as_error)) return p;
      return v4_error_plan(400, "1210", "flaky: unknown code " + code, "flaky");
    }
    sc->name = "plain";
  }
  if (!sc) {
    Scenario d;
    if (rq.last_role == "tool") d.name = "tool_result";
    else if (!rq.tools.empty() && rq.last_role == "user") d.name = "tools";
    else if (rq.thinking) d.name = "reasoning";
    else d.name = "plain";
    sc = std::move(d);
  }

  MockContext::Slot slot = mc.try_acquire(auth.principal + '\n' + rq.model);
  if (!slot.ok) {
    return v4_error_plan(429, "1302",
                         "High concurrency usage of this API, please reduce concurrency or contact customer service "
                         "to increase limits",
                         "concurrency");
  }

  Build b{req, rq, *sc, mc, {}, Millis{0}, 8};
  b.head.id = v4_response_id(mc.next_seq());
  b.head.created = unix_seconds();
  b.head.model = rq.model;
  b.head.request_id = rq.request_id;
  b.head.f2026 = sc->name == "format2026" || sc->param("format") == "2026";
  b.delay = Millis{std::max<int64_t>(0, sc->param_int("delay_ms", opt.default_delay.count()))};
  b.chunks = static_cast<std::size_t>(std::max<int64_t>(1, sc->param_int("chunks", opt.default_chunks)));

  PlanPtr plan = build_plan(b);
  if (!plan) {
    return v4_error_plan(400, "1210", "Unknown mock scenario: " + sc->name, "unknown_scenario");
  }
  if (slot.hold) {
    auto held = std::make_shared<Plan>(*plan);
    held->hold = std::move(slot.hold);
    return held;
  }
  if (cache) {
    entries[next_entry] = CacheEntry{key, plan};
    next_entry = (next_entry + 1) % entries.size();
  }
  return plan;
}

}  // namespace

void register_v4_dialect(Registry& r) {
  r.add({"", Match::prefix, "/api/paas/v4/", &handle_v4});
  r.add({"", Match::prefix, "/api/coding/paas/v4/", &handle_v4});
  r.add({"", Match::prefix, "/v4/", &handle_v4});
  // Any other .../chat/completions not claimed by a more specific dialect route.
  r.add({"", Match::suffix, "/chat/completions", &handle_v4});
}

}  // namespace zgate::mock
