#pragma once
// Template bodies of zgate::sse::Parser (included by parser.hpp).
#include <cstring>

namespace zgate::sse {

namespace detail {
// The first CR or LF at or after `from`, or npos. memchr (vectorised in libc) instead of a
// byte loop: scanning lines was the largest cost of translating a streamed chunk. `next_lf`
// caches the next LF across calls within one feed (npos = none left; `from` past it = stale),
// so a stream of CR-only line ends stays linear.
inline std::size_t find_eol(std::string_view s, std::size_t from, std::size_t& next_lf, bool& lf_known) {
  const char* base = s.data();
  if (!lf_known || (next_lf != std::string_view::npos && next_lf < from)) {
    const void* lf = std::memchr(base + from, '\n', s.size() - from);
    next_lf = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - base) : std::string_view::npos;
    lf_known = true;
  }
  const std::size_t limit = next_lf == std::string_view::npos ? s.size() : next_lf;
  if (const void* cr = std::memchr(base + from, '\r', limit - from)) {
    return static_cast<std::size_t>(static_cast<const char*>(cr) - base);
  }
  return next_lf;
}
}  // namespace detail

template <class F>
Parser::Status Parser::feed(std::string_view bytes, F&& on_event) {
  std::size_t pos = 0;
  if (!bom_checked_) {
    // A UTF-8 BOM may only appear at the very start of the stream, possibly split across feeds.
    static constexpr char bom[] = "\xEF\xBB\xBF";
    while (pos < bytes.size() && line_.size() < 3 && bytes[pos] == bom[line_.size()]) {
      line_.push_back(bytes[pos++]);
    }
    if (line_.size() == 3) {
      line_.clear();
      bom_checked_ = true;
    } else if (pos < bytes.size()) {
      bom_checked_ = true;  // not a BOM: the bytes kept in line_ are ordinary line content
    } else {
      return Status::ok;  // still undecided
    }
  }
  if (skip_lf_ && pos < bytes.size()) {
    if (bytes[pos] == '\n') ++pos;
    skip_lf_ = false;
  }
  too_large_ = false;
  std::size_t next_lf = 0;
  bool lf_known = false;
  while (pos < bytes.size()) {
    const std::size_t eol = detail::find_eol(bytes, pos, next_lf, lf_known);
    if (eol == std::string_view::npos) {
      line_.append(bytes.data() + pos, bytes.size() - pos);
      // The event so far: the unfinished line plus the data kept (in data_, or still only
      // viewed by single_data_ until the end of this feed).
      const std::size_t kept = single_ ? single_data_.size() : data_.size();
      if (line_.size() + kept > max_event_size_) too_large_ = true;
      break;
    }
    if (line_.empty()) {
      on_line(bytes.substr(pos, eol - pos), true, on_event);
    } else {
      line_.append(bytes.data() + pos, eol - pos);
      on_line(std::string_view(line_), false, on_event);
      line_.clear();
    }
    if (bytes[eol] == '\r') {
      if (eol + 1 < bytes.size()) {
        pos = eol + 1 + (bytes[eol + 1] == '\n' ? 1 : 0);
      } else {
        skip_lf_ = true;
        pos = eol + 1;
      }
    } else {
      pos = eol + 1;
    }
    if (too_large_) break;
  }
  if (single_) {
    // The only data line so far views this feed's bytes, which the caller may reuse: keep a copy.
    data_.assign(single_data_);
    single_ = false;
  }
  if (too_large_) {
    reset_event();
    line_.clear();
    return Status::too_large;
  }
  return Status::ok;
}

template <class F>
void Parser::finish(F&& on_event) {
  if (!line_.empty()) {
    std::string last;
    last.swap(line_);
    on_line(std::string_view(last), false, on_event);
  }
  on_line(std::string_view(), true, on_event);
}

template <class F>
void Parser::on_line(std::string_view line, bool stable, F& on_event) {
  if (line.empty()) {
    if (have_data_) {
      const Event ev{event_, single_ ? single_data_ : std::string_view(data_)};
      on_event(ev);
    }
    reset_event();
    return;
  }
  if (line[0] == ':') return;  // comment / heartbeat
  std::string_view field = line, value;
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (!have_data_ && stable) {
      single_data_ = value;
      single_ = true;
      // A one-line event that arrived whole in one feed is never copied, so check it here.
      if (value.size() > max_event_size_) too_large_ = true;
    } else {
      if (single_) {
        data_.assign(single_data_);
        single_ = false;
      }
      if (have_data_) data_.push_back('\n');
      data_.append(value);
      if (data_.size() > max_event_size_) too_large_ = true;
    }
    have_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  }
  // id / retry / unknown fields are ignored.
}

inline void Parser::reset_event() {
  data_.clear();
  event_.clear();
  single_data_ = {};
  single_ = false;
  have_data_ = false;
}

}  // namespace zgate::sse
