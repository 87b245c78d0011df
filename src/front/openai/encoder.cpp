#include "zgate/front/openai/encoder.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "zgate/front/openai/error.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::openai {
namespace {

constexpr std::string_view kDone = "data: [DONE]\n\n";
constexpr std::string_view kRole = "\"role\":\"assistant\",";
constexpr std::string_view kRoleEmpty = "\"role\":\"assistant\",\"content\":\"\",";

// Tool indices below this are tracked in a bitmap-like vector; a hostile upstream sending
// index 2^31 must not make us allocate gigabytes.
constexpr int kMaxTrackedCalls = 1024;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void append_int(std::string& out, int64_t v) {
  const fmt::format_int f(v);
  out.append(f.data(), f.size());
}

void append_quoted(std::string& out, std::string_view s) { json::append_string(out, s); }

void write_usage(json::Writer& w, const Usage& u) {
  w.begin_object();
  w.kv("prompt_tokens", u.prompt_tokens).kv("completion_tokens", u.completion_tokens);
  w.kv("total_tokens", u.total_tokens);
  w.key("prompt_tokens_details").begin_object().kv("cached_tokens", u.cached_tokens).end_object();
  w.key("completion_tokens_details").begin_object().kv("reasoning_tokens", u.reasoning_tokens).end_object();
  w.end_object();
}

// Generated text seen: the first token is out, and its bytes count as answer (content and tool
// calls) or reasoning, for the estimate when the upstream reports no usage.
inline void count_text(Outcome& o, bool content, std::size_t bytes) {
  o.saw_first_token = true;
  (content ? o.content_bytes : o.reasoning_bytes) += static_cast<int64_t>(bytes);
}

}  // namespace

std::string new_completion_id() { return random_alnum_id("chatcmpl-", 24); }

// ---------------------------------------------------------------------------------------------
// StreamEncoder

StreamEncoder::StreamEncoder(std::string& out, StreamOptions opts) : out_(out), opts_(std::move(opts)) {}

void StreamEncoder::build_prefix(std::string_view upstream_id, std::string_view upstream_model,
                                 int64_t created) {
  prefix_.clear();
  prefix_.append("data: {\"id\":");
  if (!opts_.id.empty()) {
    append_quoted(prefix_, opts_.id);
  } else if (!upstream_id.empty()) {
    prefix_.append("\"chatcmpl-");
    json::append_escaped(prefix_, upstream_id);
    prefix_.push_back('"');
  } else {
    append_quoted(prefix_, new_completion_id());
  }
  prefix_.append(",\"object\":\"chat.completion.chunk\",\"created\":");
  append_int(prefix_, opts_.created != 0 ? opts_.created : created != 0 ? created : now_seconds());
  prefix_.append(",\"model\":");
  append_quoted(prefix_, !opts_.model.empty() ? std::string_view(opts_.model) : upstream_model);
  prefix_.append(",\"choices\":[");
  head_len_ = prefix_.size();
  prefix_.append("{\"index\":0,\"delta\":");
}

void StreamEncoder::open_chunk() {
  if (prefix_.empty()) build_prefix({}, {}, 0);
  out_.append(prefix_);
  out_.push_back('{');
}

void StreamEncoder::close_chunk(std::string_view finish_reason) {
  if (finish_reason.empty()) {
    out_.append("},\"finish_reason\":null}]}\n\n");
  } else {
    out_.append("},\"finish_reason\":\"");
    out_.append(finish_reason);  // one of our own fixed names: no escaping needed
    out_.append("\"}]}\n\n");
  }
}

// The role goes on the first delta only; `"content":""` beside it when that delta carries no
// content, since strict clients expect the field on the first chunk.
void StreamEncoder::open_delta(bool content_follows) {
  open_chunk();
  if (!role_sent_) {
    out_.append(content_follows ? kRole : kRoleEmpty);
    role_sent_ = true;
  }
}

void StreamEncoder::on_text(bool content, std::string_view key_open, std::string_view text) {
  if (text.empty()) return;
  count_text(outcome_, content, text.size());
  open_delta(content);
  out_.append(key_open);
  json::append_escaped(out_, text);
  out_.push_back('"');
  close_chunk({});
}

void StreamEncoder::on_event(const Event& e) {
  if (done_) return;
  switch (e.type) {
    case EventType::start:
      if (prefix_.empty()) build_prefix(e.id, e.name, e.created);
      return;
    case EventType::reasoning: on_text(false, "\"reasoning_content\":\"", e.text); return;
    case EventType::content: on_text(true, "\"content\":\"", e.text); return;
    case EventType::tool_call: on_tool_call(e); return;
    case EventType::finish:
      if (finish_sent_ || e.finish == FinishReason::none) return;
      if (e.finish == FinishReason::error) {
        fail(bad_gateway("The upstream failed while generating the answer"));
        return;
      }
      write_finish(e.finish);
      return;
    case EventType::usage:
      if (e.usage != nullptr) outcome_.usage = *e.usage;
      return;
    case EventType::error:
      if (e.error != nullptr) fail(*e.error); else fail(bad_gateway("The upstream failed"));
      return;
  }
}

void StreamEncoder::on_tool_call(const Event& e) {
  const int index = e.index < 0 ? 0 : e.index;
  bool first;
  if (index < kMaxTrackedCalls) {
    if (seen_calls_.size() <= static_cast<std::size_t>(index)) seen_calls_.resize(index + 1, 0);
    first = seen_calls_[index] == 0;
    seen_calls_[index] = 1;
  } else {
    first = !e.id.empty() || !e.name.empty();  // untracked: a fragment naming its call opens it
  }
  if (!first && e.text.empty()) return;  // a continuation with nothing to add
  count_text(outcome_, true, e.name.size() + e.text.size());
  open_delta(false);
  out_.append("\"tool_calls\":[{\"index\":");
  append_int(out_, index);
  if (first) {
    ++outcome_.tool_calls;
    out_.append(",\"id\":");
    if (!e.id.empty()) append_quoted(out_, e.id); else append_quoted(out_, new_call_id());
    out_.append(",\"type\":\"function\",\"function\":{\"name\":");
    append_quoted(out_, e.name);
    out_.append(",\"arguments\":");
  } else {
    out_.append(",\"function\":{\"arguments\":");
  }
  append_quoted(out_, e.text);
  out_.append("}}]");
  close_chunk({});
}

void StreamEncoder::write_finish(FinishReason r) {
  if (!role_sent_) {
    // An empty answer still starts with the role chunk, as OpenAI's streams always do.
    open_delta(false);
    out_.pop_back();  // the trailing ',' of kRoleEmpty
    close_chunk({});
  }
  open_chunk();
  close_chunk(to_string(r));
  finish_sent_ = true;
  outcome_.finish = r;
}

void StreamEncoder::finish() {
  if (done_) return;
  if (!finish_sent_) write_finish(outcome_.tool_calls > 0 ? FinishReason::tool_calls : FinishReason::stop);
  if (opts_.include_usage && outcome_.usage.present) {
    out_.append(prefix_.data(), head_len_);
    out_.append("],\"usage\":");
    json::Writer w(out_);
    write_usage(w, outcome_.usage);
    out_.append("}\n\n");
  }
  out_.append(kDone);
  done_ = true;
}

void StreamEncoder::fail(const ApiError& err) {
  if (done_) return;
  outcome_.error = true;
  outcome_.error_type = err.type;
  out_.append("data: ");
  append_error_body(out_, err);
  out_.append("\n\n");
  out_.append(kDone);
  done_ = true;
}

// ---------------------------------------------------------------------------------------------
// ResponseAggregator

ResponseAggregator::ResponseAggregator(StreamOptions opts) : opts_(std::move(opts)) {}

void ResponseAggregator::on_event(const Event& e) {
  if (outcome_.error) return;
  switch (e.type) {
    case EventType::start:
      if (upstream_id_.empty()) upstream_id_.assign(e.id);
      if (upstream_model_.empty()) upstream_model_.assign(e.name);
      if (created_ == 0) created_ = e.created;
      return;
    case EventType::reasoning:
    case EventType::content: {
      if (e.text.empty()) return;
      const bool content = e.type == EventType::content;
      count_text(outcome_, content, e.text.size());
      (content ? content_ : reasoning_).append(e.text);
      return;
    }
    case EventType::tool_call: {
      const int index = e.index < 0 ? 0 : e.index;
      count_text(outcome_, true, e.name.size() + e.text.size());
      // Calls kept sorted by index; a handful per answer, so a linear scan is the fast path.
      auto it = std::lower_bound(calls_.begin(), calls_.end(), index,
                                 [](const Call& c, int i) { return c.index < i; });
      if (it == calls_.end() || it->index != index) {
        it = calls_.insert(it, Call{index, e.id.empty() ? new_call_id() : std::string(e.id),
                                    std::string(e.name), {}});
        ++outcome_.tool_calls;
      } else if (it->name.empty() && !e.name.empty()) {
        it->name.assign(e.name);
      }
      it->arguments.append(e.text);
      return;
    }
    case EventType::finish:
      if (e.finish == FinishReason::error) {
        error_ = bad_gateway("The upstream failed while generating the answer");
        outcome_.error = true;
        outcome_.error_type = error_.type;
        return;
      }
      if (e.finish != FinishReason::none) outcome_.finish = e.finish;
      return;
    case EventType::usage:
      if (e.usage != nullptr) outcome_.usage = *e.usage;
      return;
    case EventType::error:
      error_ = e.error != nullptr ? *e.error : bad_gateway("The upstream failed");
      outcome_.error = true;
      outcome_.error_type = error_.type;
      return;
  }
}

void ResponseAggregator::write(std::string& out) const {
  json::Writer w(out);
  w.begin_object();
  w.key("id");
  if (!opts_.id.empty()) {
    w.string(opts_.id);
  } else if (!upstream_id_.empty()) {
    w.raw("\"chatcmpl-");
    json::append_escaped(out, upstream_id_);
    out.push_back('"');
  } else {
    w.string(new_completion_id());
  }
  w.kv("object", "chat.completion");
  w.kv("created", opts_.created != 0 ? opts_.created : created_ != 0 ? created_ : now_seconds());
  w.kv("model", !opts_.model.empty() ? opts_.model : upstream_model_);
  w.key("choices").begin_array().begin_object();
  w.kv("index", 0);
  w.key("message").begin_object();
  w.kv("role", "assistant");
  w.key("content");
  if (content_.empty() && !calls_.empty()) w.null(); else w.string(content_);
  if (!reasoning_.empty()) w.kv("reasoning_content", reasoning_);
  if (!calls_.empty()) {
    w.key("tool_calls").begin_array();
    for (const Call& c : calls_) {
      w.begin_object().kv("id", c.id).kv("type", "function");
      w.key("function").begin_object().kv("name", c.name).kv("arguments", c.arguments).end_object();
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();  // message
  const FinishReason fr = outcome_.finish != FinishReason::none
                              ? outcome_.finish
                              : (calls_.empty() ? FinishReason::stop : FinishReason::tool_calls);
  w.kv("finish_reason", to_string(fr));
  w.end_object().end_array();
  if (outcome_.usage.present) {
    w.key("usage");
    write_usage(w, outcome_.usage);
  }
  w.end_object();
}

}  // namespace zgate::openai
