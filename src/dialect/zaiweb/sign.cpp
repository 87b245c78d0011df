#include "zgate/dialect/zaiweb/sign.hpp"

#include <array>
#include <cstring>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "zgate/core/encoding.hpp"

namespace zgate::zaiweb {
namespace {

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return encoding::hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

// Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm), valid for any int64 day.
struct Civil { int64_t y; unsigned m, d; };
Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {m <= 2 ? y + 1 : y, m, d};
}

struct Split { Civil date; int64_t days; unsigned h, mi, s, ms; };
Split split_ms(int64_t unix_ms) {
  int64_t days = unix_ms / 86'400'000;
  int64_t rem = unix_ms % 86'400'000;
  if (rem < 0) { rem += 86'400'000; --days; }
  const auto r = static_cast<unsigned>(rem);
  return {civil_from_days(days), days, r / 3'600'000, r / 60'000 % 60, r / 1000 % 60, r % 1000};
}

constexpr std::array<std::string_view, 7> kWeekdays = {"Thursday", "Friday", "Saturday", "Sunday",
                                                       "Monday", "Tuesday", "Wednesday"};  // day 0 = Thu
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct UaMark {
  std::string_view needle, name;
};

// The name of the first mark found in the User-Agent, in table order; "Unknown" when none.
template <std::size_t N>
std::string_view first_mark(std::string_view ua, const std::array<UaMark, N>& marks) {
  for (const auto& m : marks)
    if (ua.find(m.needle) != std::string_view::npos) return m.name;
  return "Unknown";
}

std::string_view platform_of(std::string_view ua) {
  static constexpr std::array<UaMark, 4> kPlatforms = {
      {{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Android", "Android"}, {"Linux", "Linux"}}};
  return first_mark(ua, kPlatforms);
}

std::string_view browser_of(std::string_view ua) {
  static constexpr std::array<UaMark, 4> kBrowsers = {
      {{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}}};
  return first_mark(ua, kBrowsers);
}

void add(std::string& q, std::string_view key, std::string_view value) {
  if (!q.empty()) q.push_back('&');
  q.append(key);
  q.push_back('=');
  append_url_encoded(q, value);
}

}  // namespace

void append_url_encoded(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = encoding::hex_digit(s[i + 1]);
      const int lo = encoding::hex_digit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string query_param(std::string_view target_or_query, std::string_view key, bool* found) {
  if (found != nullptr) *found = false;
  std::string_view q = target_or_query;
  if (const auto qm = q.find('?'); qm != std::string_view::npos) q.remove_prefix(qm + 1);
  if (const auto hash = q.find('#'); hash != std::string_view::npos) q = q.substr(0, hash);
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    const auto eq = pair.find('=');
    const std::string_view k = pair.substr(0, eq);
    if (url_decode(k) != key) continue;
    if (found != nullptr) *found = true;
    return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
  }
  return {};
}

std::string signing_message(std::string_view request_id, int64_t timestamp_ms, std::string_view user_id,
                            std::string_view prompt, bool base64_prompt) {
  const std::string ts = fmt::format("{}", timestamp_ms);
  std::string msg;
  msg.reserve(64 + request_id.size() + user_id.size() + prompt.size() * 4 / 3);
  msg.append("requestId,").append(request_id).append(",timestamp,").append(ts).append(",user_id,").append(user_id);
  msg.push_back('|');
  if (base64_prompt) msg.append(encoding::base64_encode(prompt)); else msg.append(prompt);
  msg.push_back('|');
  msg.append(ts);
  return msg;
}

std::string derive_signing_key(std::string_view secret, int64_t timestamp_ms) {
  // floor division: a timestamp before 1970 still lands in the right bucket.
  int64_t window = timestamp_ms / kSignatureWindowMs;
  if (timestamp_ms < 0 && timestamp_ms % kSignatureWindowMs != 0) --window;
  return hmac_sha256_hex(secret, fmt::format("{}", window));
}

std::string compute_signature(std::string_view secret, std::string_view request_id, int64_t timestamp_ms,
                              std::string_view user_id, std::string_view prompt, bool base64_prompt) {
  const std::string key = derive_signing_key(secret, timestamp_ms);
  return hmac_sha256_hex(key, signing_message(request_id, timestamp_ms, user_id, prompt, base64_prompt));
}

Signature sign_request(const SignInput& in) {
  Signature s;
  s.timestamp_ms = in.timestamp_ms;
  s.signature = compute_signature(in.secret, in.request_id, in.timestamp_ms, in.user_id, in.prompt, in.base64_prompt);
  const std::string ts = fmt::format("{}", in.timestamp_ms);
  const std::string pathname = fmt::format("/c/{}", in.chat_id);
  const std::string url = fmt::format("https://chat.z.ai{}", pathname);
  std::string& q = s.query;
  q.reserve(1024 + in.token.size() + in.user_agent.size() * 3);
  add(q, "timestamp", ts);
  add(q, "requestId", in.request_id);
  add(q, "user_id", in.user_id);
  add(q, "version", "0.0.1");
  add(q, "platform", "web");
  add(q, "token", in.token);
  if (in.fingerprint) {
    // A desktop browser's view of itself (the 2026 field set). Which fields the server validates is unknown,
    // so the values are plausible and consistent with the headers zgate sends.
    add(q, "user_agent", in.user_agent);
    add(q, "language", "en-US");
    add(q, "languages", "en-US,en");
    add(q, "timezone", "UTC");
    add(q, "cookie_enabled", "true");
    add(q, "screen_width", "1920");
    add(q, "screen_height", "1080");
    add(q, "screen_resolution", "1920x1080");
    add(q, "viewport_height", "945");
    add(q, "viewport_width", "1920");
    add(q, "viewport_size", "1920x945");
    add(q, "color_depth", "24");
    add(q, "pixel_ratio", "1");
    add(q, "current_url", url);
    add(q, "pathname", pathname);
    add(q, "search", "");
    add(q, "hash", "");
    add(q, "host", "chat.z.ai");
    add(q, "hostname", "chat.z.ai");
    add(q, "protocol", "https:");
    add(q, "referrer", "");
    add(q, "title", "Z.ai Chat");
    add(q, "timezone_offset", "0");
    add(q, "local_time", iso8601_ms(in.timestamp_ms));
    add(q, "utc_time", rfc1123(in.timestamp_ms));
    add(q, "is_mobile", "false");
    add(q, "is_touch", "false");
    add(q, "max_touch_points", "0");
    add(q, "browser_name", browser_of(in.user_agent));
    add(q, "os_name", platform_of(in.user_agent));
  } else {
    add(q, "current_url", url);
    add(q, "pathname", pathname);
  }
  add(q, "signature_timestamp", ts);
  return s;
}

bool verify_signature(std::string_view secret, std::string_view request_id, int64_t timestamp_ms,
                      std::string_view user_id, std::string_view prompt, std::string_view signature,
                      int64_t now_ms, int64_t max_skew_ms) {
  const int64_t skew = now_ms > timestamp_ms ? now_ms - timestamp_ms : timestamp_ms - now_ms;
  if (skew > max_skew_ms) return false;
  const std::string want = compute_signature(secret, request_id, timestamp_ms, user_id, prompt, true);
  if (want.size() != signature.size()) return false;
  unsigned char diff = 0;  // constant time: the mock should not teach timing attacks
  for (std::size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(want[i] ^ signature[i]);
  return diff == 0;
}

std::string iso8601_ms(int64_t unix_ms) {
  const Split t = split_ms(unix_ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.date.y, t.date.m, t.date.d, t.h, t.mi, t.s, t.ms);
}

std::string rfc1123(int64_t unix_ms) {
  const Split t = split_ms(unix_ms);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", weekday_utc(unix_ms).substr(0, 3), t.date.d,
                     kMonths[t.date.m - 1], t.date.y, t.h, t.mi, t.s);
}

std::string datetime_utc(int64_t unix_ms) {
  const Split t = split_ms(unix_ms);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.date.y, t.date.m, t.date.d, t.h, t.mi, t.s);
}

std::string_view weekday_utc(int64_t unix_ms) {
  const int64_t days = split_ms(unix_ms).days;
  return kWeekdays[static_cast<std::size_t>(((days % 7) + 7) % 7)];
}

}  // namespace zgate::zaiweb
