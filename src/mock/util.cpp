// Pure helpers for the mock dialects.
#include "zgate/mock/util.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "zgate/core/ids.hpp"
#include "zgate/core/text.hpp"

namespace zgate::mock {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Per-process salt so two mock runs do not produce the same ids.
uint64_t process_salt() {
  static const uint64_t salt = ids::next_random();
  return salt;
}

void append_hex(std::string& out, uint64_t v, int digits) {
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(hex[(v >> (i * 4)) & 0xF]);
}

// Length of the UTF-8 sequence starting with lead byte `c` (1 for ASCII and stray bytes).
std::size_t utf8_len(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

}  // namespace

std::string_view Scenario::param(std::string_view key) const {
  for (const auto& [k, v] : params)
    if (k == key) return v;
  return {};
}

bool Scenario::has(std::string_view key) const {
  for (const auto& [k, v] : params)
    if (k == key) return true;
  return false;
}

int64_t Scenario::param_int(std::string_view key, int64_t fallback) const {
  const std::string_view v = param(key);
  int64_t out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  return (v.empty() || r.ec != std::errc{} || r.ptr != v.data() + v.size()) ? fallback : out;
}

std::optional<Scenario> parse_scenario(std::string_view spec) {
  Scenario s;
  std::size_t i = 0;
  while (i < spec.size()) {
    while (i < spec.size() && is_space(spec[i])) ++i;
    std::size_t j = i;
    while (j < spec.size() && !is_space(spec[j])) ++j;
    if (j > i) {
      const std::string_view tok = spec.substr(i, j - i);
      if (s.name.empty()) {
        s.name.assign(tok);
      } else {
        const auto eq = tok.find('=');
        if (eq == std::string_view::npos)
          s.params.emplace_back(std::string(tok), "1");  // bare flag
        else
          s.params.emplace_back(std::string(tok.substr(0, eq)), std::string(tok.substr(eq + 1)));
      }
    }
    i = j;
  }
  if (s.name.empty()) return std::nullopt;
  return s;
}

std::optional<Scenario> header_scenario(const MockRequest& req) {
  const std::string_view spec = req.header("x-mock-scenario");
  return spec.empty() ? std::nullopt : parse_scenario(spec);
}

std::optional<Scenario> find_scenario_marker(std::string_view text) {
  constexpr std::string_view open = "[scenario:";
  const auto b = text.find(open);
  if (b == std::string_view::npos) return std::nullopt;
  const auto e = text.find(']', b + open.size());
  if (e == std::string_view::npos) return std::nullopt;
  return parse_scenario(text.substr(b + open.size(), e - b - open.size()));
}

bool utf8_boundary(std::string_view s, std::size_t i) {
  return i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

std::string_view utf8_prefix(std::string_view s, std::size_t max_chars) {
  std::size_t i = 0, chars = 0;
  while (i < s.size() && chars < max_chars) {
    ++i;
    while (!utf8_boundary(s, i)) ++i;
    ++chars;
  }
  return s.substr(0, i);
}

std::vector<std::string_view> split_pieces(std::string_view text, std::size_t n) {
  std::vector<std::string_view> out;
  if (text.empty()) return out;
  if (n == 0) n = 1;
  // Word starts are the preferred cut points; each piece is a word and its trailing space.
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 1; i < text.size(); ++i)
    if (is_space(text[i - 1]) && !is_space(text[i])) starts.push_back(i);
  if (starts.size() >= n) {
    out.reserve(n);
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t b = starts[j * starts.size() / n];
      const std::size_t e = (j + 1 == n) ? text.size() : starts[(j + 1) * starts.size() / n];
      out.push_back(text.substr(b, e - b));
    }
    return out;
  }
  // Too few words: one piece per word, then halve the longest piece (at a code point
  // boundary) until there are n pieces or nothing can be split any more.
  for (std::size_t j = 0; j < starts.size(); ++j) {
    const std::size_t e = j + 1 == starts.size() ? text.size() : starts[j + 1];
    out.push_back(text.substr(starts[j], e - starts[j]));
  }
  // Splittable = holds more than one code point.
  auto splittable = [](std::string_view p) { return !utf8_prefix(p, 1).empty() && utf8_prefix(p, 1).size() < p.size(); };
  while (out.size() < n) {
    std::size_t best = out.size();
    for (std::size_t j = 0; j < out.size(); ++j)
      if (splittable(out[j]) && (best == out.size() || out[j].size() > out[best].size())) best = j;
    if (best == out.size()) break;  // single code points only
    const std::string_view piece = out[best];
    std::size_t mid = piece.size() / 2;
    while (mid > 0 && !utf8_boundary(piece, mid)) --mid;
    if (mid == 0) mid = utf8_prefix(piece, 1).size();
    out[best] = piece.substr(0, mid);
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(best) + 1, piece.substr(mid));
  }
  return out;
}

void append_hostile_steps(std::vector<Step>& steps, std::string_view bytes, Millis delay) {
  std::vector<std::size_t> cuts;
  for (std::size_t p = bytes.find("data: "); p != std::string_view::npos; p = bytes.find("data: ", p + 1))
    cuts.push_back(p + 3);  // "dat" | "a: {..."
  // Cut every multibyte sequence, alternating the offset so both "lead byte alone" and
  // "lead + continuation" splits occur.
  std::size_t k = 0;
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t len = utf8_len(static_cast<unsigned char>(bytes[i]));
    if (len > 1 && i + len <= bytes.size()) cuts.push_back(i + 1 + (k++ % (len - 1)));
    i += len;
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::size_t prev = 0;
  for (const std::size_t c : cuts) {
    if (c <= prev || c >= bytes.size()) continue;
    steps.push_back(Step{steps.empty() ? Millis{0} : delay, std::string(bytes.substr(prev, c - prev))});
    prev = c;
  }
  if (prev < bytes.size()) steps.push_back(Step{steps.empty() ? Millis{0} : delay, std::string(bytes.substr(prev))});
}

std::string echo_text(std::string_view user_text) {
  std::string s = "Hello from zgate-mock!";
  if (!user_text.empty()) {
    s += " You said: ";
    s += utf8_prefix(user_text, 200);
  }
  return s;
}

std::string reasoning_text(std::string_view user_text, char sep) {
  std::string s = "The user";
  if (!user_text.empty()) {
    s += " wrote \"";
    s += utf8_prefix(user_text, 60);
    s += "\".";
  } else {
    s += " wants an answer.";
  }
  s += sep;
  s += "A short friendly reply fits.";
  return s;
}

std::string tool_result_text(std::string_view result) {
  std::string s = "The tool returned: ";
  s += utf8_prefix(result, 200);
  s += ". That settles it.";
  return s;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() < scheme.size() || !text::iequals(authorization.substr(0, scheme.size()), scheme))
    return std::nullopt;
  authorization.remove_prefix(scheme.size());
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  return authorization;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t unix_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string v4_response_id(uint64_t seq) {
  // 14 digits of Beijing time (UTC+8) then 16 hex characters, as the upstream does.
  const std::time_t t = static_cast<std::time_t>(unix_seconds() + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[16];
  const std::size_t n = std::strftime(ts, sizeof ts, "%Y%m%d%H%M%S", &tm);
  std::string id(ts, n);
  append_hex(id, splitmix64(seq ^ process_salt()), 16);
  return id;
}

std::string v4_stream_tool_id(uint64_t seq) {
  std::string id = "call_";
  append_hex(id, splitmix64(seq ^ process_salt() ^ 0x5151), 16);
  append_hex(id, splitmix64(seq + 7) & 0xFFFFFFFFull, 8);
  return id;
}

std::string v4_tool_id(uint64_t seq) {
  // A negative signed 64-bit decimal, the form seen in non-streamed responses.
  const int64_t v = -static_cast<int64_t>(splitmix64(seq ^ process_salt() ^ 0xA5A5) >> 1) - 1;
  return "call_" + std::to_string(v);
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace zgate::mock
