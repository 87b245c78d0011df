// The cache key, the entry, its encoding and the replay schedule.
#include "zgate/cache/entry.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "zgate/core/encoding.hpp"
#include "zgate/core/secret.hpp"
#include "zgate/json/dom.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::cache {

std::string Key::hex() const {
  return encoding::hex_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

std::optional<Key> Key::from_hex(std::string_view hex) {
  auto d = parse_sha256_hex(hex);
  if (!d) return std::nullopt;
  Key k;
  k.bytes = *d;
  return k;
}

namespace {

void canonical_element(std::string& out, simdjson::dom::element el) {
  using simdjson::dom::element_type;
  switch (el.type()) {
    case element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
      const simdjson::dom::object obj = el.get_object().value_unsafe();
      for (auto f : obj) fields.emplace_back(f.key, f.value);
      std::stable_sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      bool first = true;
      for (const auto& [k, v] : fields) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, k);
        out += ':';
        canonical_element(out, v);
      }
      out += '}';
      return;
    }
    case element_type::ARRAY: {
      out += '[';
      bool first = true;
      const simdjson::dom::array arr = el.get_array().value_unsafe();
      for (auto v : arr) {
        if (!first) out += ',';
        first = false;
        canonical_element(out, v);
      }
      out += ']';
      return;
    }
    case element_type::STRING: json::append_string(out, el.get_string().value_unsafe()); return;
    case element_type::INT64: out += std::to_string(el.get_int64().value_unsafe()); return;
    case element_type::UINT64: out += std::to_string(el.get_uint64().value_unsafe()); return;
    case element_type::DOUBLE: json::Writer(out).number(el.get_double().value_unsafe()); return;
    case element_type::BOOL: out += el.get_bool().value_unsafe() ? "true" : "false"; return;
    default: out += "null"; return;
  }
}

// Length-prefixed fields: no two different requests share a canonical form.
struct Canon {
  std::string out;
  void tag(char t) { out += t; }
  void str(std::string_view s) {
    out += std::to_string(s.size());
    out += ':';
    out.append(s);
  }
  void num(int64_t v) { str(std::to_string(v)); }
  void dbl(std::optional<double> v) {
    if (!v) return str("-");
    std::string s;
    json::Writer(s).number(*v);
    str(s);
  }
  void raw(std::string_view json) { str(json.empty() ? std::string() : canonical_json(json)); }
};

}  // namespace

std::string canonical_json(std::string_view json) {
  if (json.empty()) return {};
  const simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (json::thread_dom_parser().parse(padded).get(root) != simdjson::SUCCESS) return std::string(json);
  std::string out;
  out.reserve(json.size());
  canonical_element(out, root);
  return out;
}

std::string canonical_request(const ChatRequest& r, const ModelRoute& route, std::string_view provider,
                              std::string_view upstream_model, std::string_view scope) {
  Canon c;
  c.out.reserve(256);
  c.str("zgate-cache-1");
  c.tag('P'); c.str(provider);
  c.tag('M'); c.str(upstream_model);
  c.tag('R');
  c.str(route.thinking ? (*route.thinking ? "on" : "off") : "-");
  c.num(route.web_search ? 1 : 0);
  c.num(route.max_output_tokens);
  c.tag('S'); c.str(scope);
  c.tag('m'); c.num(static_cast<int64_t>(r.messages.size()));
  for (const Message& m : r.messages) {
    c.str(to_string(m.role));
    c.num((m.has_parts ? 1 : 0) | (m.content_null ? 2 : 0));
    if (m.has_parts) {
      c.num(static_cast<int64_t>(m.parts.size()));
      for (const ContentPart& p : m.parts) {
        c.num(static_cast<int64_t>(p.kind));
        c.str(p.text);
        c.str(p.detail);
        c.raw(p.raw);
      }
    } else {
      c.str(m.content);
    }
    c.str(m.reasoning_content);
    c.num(static_cast<int64_t>(m.tool_calls.size()));
    for (const ToolCall& t : m.tool_calls) {
      c.str(t.id);
      c.str(t.name);
      c.raw(t.arguments.empty() ? std::string_view() : std::string_view(t.arguments));
    }
    c.str(m.tool_call_id);
    c.str(m.name);
  }
  c.tag('s');
  c.dbl(r.temperature);
  c.dbl(r.top_p);
  c.num(r.max_tokens.value_or(-1));
  c.num(r.seed.value_or(-1));
  c.num(r.seed ? 1 : 0);
  c.num(static_cast<int64_t>(r.stop.size()));
  for (const auto& s : r.stop) c.str(s);
  c.tag('t');
  c.num(static_cast<int64_t>(r.tools.size()));
  for (const ToolDef& t : r.tools) {
    c.str(t.type);
    c.str(t.name);
    c.str(t.description);
    c.raw(t.parameters);
    c.raw(t.raw);
  }
  c.num(static_cast<int64_t>(r.tool_choice));
  c.str(r.tool_choice_name);
  c.tag('f');
  c.str(r.response_format);
  c.raw(r.json_schema);
  c.tag('k');
  c.str(r.thinking ? (*r.thinking ? "on" : "off") : "-");
  c.str(r.reasoning_effort);
  c.tag('x');
  std::vector<const std::pair<std::string, std::string>*> extra;
  for (const auto& kv : r.extra) extra.push_back(&kv);
  std::stable_sort(extra.begin(), extra.end(), [](auto* a, auto* b) { return a->first < b->first; });
  c.num(static_cast<int64_t>(extra.size()));
  for (const auto* kv : extra) {
    c.str(kv->first);
    c.raw(kv->second);
  }
  return std::move(c.out);
}

Key make_key(const ChatRequest& req, const ModelRoute& route, std::string_view provider,
             std::string_view upstream_model, std::string_view scope) {
  Key k;
  k.bytes = sha256(canonical_request(req, route, provider, upstream_model, scope));
  return k;
}

bool deterministic(const ChatRequest& req) {
  if (req.temperature && *req.temperature == 0.0) return true;
  for (const auto& [k, v] : req.extra) {
    if (k == "do_sample") return v == "false";
  }
  return false;
}

Event Entry::event(const StoredEvent& s) const {
  Event e;
  e.type = s.type;
  e.text = str(s.text_off, s.text_len);
  e.id = str(s.id_off, s.id_len);
  e.name = str(s.name_off, s.name_len);
  e.index = s.index;
  e.created = s.created;
  e.finish = s.finish;
  if (s.type == EventType::usage) e.usage = &usage;
  return e;
}

std::size_t Entry::bytes() const {
  return sizeof(Entry) + model.capacity() + upstream_model.capacity() + key_label.capacity() +
         events.capacity() * sizeof(StoredEvent) + arena.capacity() + 64;  // + the map node and control block
}

void replay(const Entry& e, EventSink& sink) {
  for (const StoredEvent& s : e.events) sink.on_event(e.event(s));
}

std::vector<int64_t> replay_delays(const Entry& e, double speed, int64_t max_delay_us) {
  std::vector<int64_t> out;
  out.reserve(e.events.size());
  if (!(speed > 0)) speed = 1.0;
  int64_t prev = 0;
  for (const StoredEvent& s : e.events) {
    const int64_t gap = std::max<int64_t>(0, s.at_us - prev);
    prev = std::max(prev, s.at_us);
    auto d = static_cast<int64_t>(std::llround(static_cast<double>(gap) / speed));
    if (max_delay_us > 0) d = std::min(d, max_delay_us);
    out.push_back(d);
  }
  return out;
}

// ---- encoding: "ZGC1", then fields little-endian, strings length-prefixed ----------------------
namespace {
constexpr std::string_view kMagic = "ZGC1";

void put_u64(std::string& o, uint64_t v) {
  for (int i = 0; i < 8; ++i) o += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u32(std::string& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_str(std::string& o, std::string_view s) {
  put_u32(o, static_cast<uint32_t>(s.size()));
  o.append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  uint64_t u(int n) {
    if (in.size() < static_cast<std::size_t>(n)) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[static_cast<std::size_t>(i)])) << (8 * i);
    in.remove_prefix(static_cast<std::size_t>(n));
    return v;
  }
  uint64_t u64() { return u(8); }
  uint32_t u32() { return static_cast<uint32_t>(u(4)); }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string str() {
    const uint32_t n = u32();
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};
}  // namespace

std::string encode(const Entry& e) {
  std::string o;
  o.reserve(64 + e.model.size() + e.upstream_model.size() + e.key_label.size() + e.arena.size() +
            e.events.size() * 40);
  o.append(kMagic);
  put_str(o, e.model);
  put_str(o, e.upstream_model);
  put_str(o, e.key_label);
  put_u64(o, static_cast<uint64_t>(e.stored_ms));
  put_u64(o, static_cast<uint64_t>(e.expires_ms));
  put_u32(o, e.usage.present ? 1 : 0);
  for (int64_t v : {e.usage.prompt_tokens, e.usage.completion_tokens, e.usage.total_tokens, e.usage.cached_tokens,
                    e.usage.reasoning_tokens})
    put_u64(o, static_cast<uint64_t>(v));
  uint64_t cost;
  std::memcpy(&cost, &e.cost_usd, sizeof cost);
  put_u64(o, cost);
  put_str(o, e.arena);
  put_u32(o, static_cast<uint32_t>(e.events.size()));
  for (const StoredEvent& s : e.events) {
    o += static_cast<char>(s.type);
    o += static_cast<char>(s.finish);
    put_u32(o, static_cast<uint32_t>(s.index));
    put_u64(o, static_cast<uint64_t>(s.at_us));
    put_u64(o, static_cast<uint64_t>(s.created));
    for (uint32_t v : {s.text_off, s.text_len, s.id_off, s.id_len, s.name_off, s.name_len}) put_u32(o, v);
  }
  return o;
}

std::optional<Entry> decode(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  Reader r{bytes.substr(kMagic.size())};
  Entry e;
  e.model = r.str();
  e.upstream_model = r.str();
  e.key_label = r.str();
  e.stored_ms = r.i64();
  e.expires_ms = r.i64();
  e.usage.present = r.u32() != 0;
  e.usage.prompt_tokens = r.i64();
  e.usage.completion_tokens = r.i64();
  e.usage.total_tokens = r.i64();
  e.usage.cached_tokens = r.i64();
  e.usage.reasoning_tokens = r.i64();
  const uint64_t cost = r.u64();
  std::memcpy(&e.cost_usd, &cost, sizeof cost);
  e.arena = r.str();
  const uint32_t n = r.u32();
  if (!r.ok || n > r.in.size() / 42 + 1) return std::nullopt;
  e.events.reserve(n);
  for (uint32_t i = 0; i < n && r.ok; ++i) {
    StoredEvent s;
    const auto type = static_cast<unsigned char>(r.u(1));
    const auto finish = static_cast<unsigned char>(r.u(1));
    if (type > static_cast<unsigned char>(EventType::error) || finish > static_cast<unsigned char>(FinishReason::error))
      return std::nullopt;
    s.type = static_cast<EventType>(type);
    s.finish = static_cast<FinishReason>(finish);
    s.index = static_cast<int32_t>(r.u32());
    s.at_us = r.i64();
    s.created = r.i64();
    s.text_off = r.u32(); s.text_len = r.u32();
    s.id_off = r.u32(); s.id_len = r.u32();
    s.name_off = r.u32(); s.name_len = r.u32();
    for (auto [off, len] : {std::pair{s.text_off, s.text_len}, {s.id_off, s.id_len}, {s.name_off, s.name_len}}) {
      if (static_cast<uint64_t>(off) + len > e.arena.size()) return std::nullopt;
    }
    e.events.push_back(s);
  }
  if (!r.ok || !r.in.empty()) return std::nullopt;
  return e;
}

// ---- the builder ---------------------------------------------------------------------------------
EntryBuilder::EntryBuilder(std::function<int64_t()> now_us, std::size_t max_bytes)
    : now_us_(std::move(now_us)), max_bytes_(max_bytes), e_(std::make_shared<Entry>()) {
  e_->events.reserve(32);
}

uint32_t EntryBuilder::add(std::string_view s) {
  const auto off = static_cast<uint32_t>(e_->arena.size());
  e_->arena.append(s);
  return off;
}

void EntryBuilder::on_event(const Event& ev) {
  if (failed_ || oversize_ || !e_) return;
  if (ev.type == EventType::error) {
    failed_ = true;
    return;
  }
  if (ev.type == EventType::finish) {
    if (ev.finish == FinishReason::error || ev.finish == FinishReason::none) failed_ = true;
    finished_ = true;
  }
  if (ev.type == EventType::usage) {
    if (ev.usage) e_->usage = *ev.usage;
  }
  StoredEvent s;
  s.at_us = now_us_ ? now_us_() : 0;
  s.type = ev.type;
  s.finish = ev.finish;
  s.index = ev.index;
  s.created = ev.created;
  s.text_len = static_cast<uint32_t>(ev.text.size());
  s.text_off = add(ev.text);
  s.id_len = static_cast<uint32_t>(ev.id.size());
  s.id_off = add(ev.id);
  s.name_len = static_cast<uint32_t>(ev.name.size());
  s.name_off = add(ev.name);
  e_->events.push_back(s);
  if (e_->arena.size() + e_->events.size() * sizeof(StoredEvent) > max_bytes_) {
    oversize_ = true;
    e_->events.clear();
    e_->arena.clear();
  }
}

bool EntryBuilder::complete() const { return e_ && finished_ && !failed_ && !oversize_; }

std::shared_ptr<Entry> EntryBuilder::take() {
  if (e_) {
    e_->arena.shrink_to_fit();
    e_->events.shrink_to_fit();
  }
  return std::move(e_);
}

}  // namespace zgate::cache
