// The admin endpoints' query strings, parsed into report filters.
#include <charconv>

#include "zgate/report/report.hpp"

#include "zgate/core/encoding.hpp"

namespace zgate::report {
namespace {

// A broken %-escape is kept as it was written (the filters then match nothing).
std::string decode(std::string_view s) {
  auto d = encoding::form_decode(s);
  return d ? std::move(*d) : std::string(s);
}

ApiError bad_param(const std::string& name, const std::string& why) {
  return bad_request("Invalid query parameter '" + name + "': " + why, name, "invalid_parameter");
}

bool integer(std::string_view s, int64_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// since / until: the same forms as `zgate stats`.
Result<void> time_param(const std::string& name, const std::string& value, int64_t now,
                        std::optional<int64_t>& out) {
  int64_t ms = 0;
  std::string error;
  if (!parse_time(value, now, ms, error)) return bad_param(name, error);
  out = ms;
  return {};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_query_string(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    out.emplace_back(decode(item.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : decode(item.substr(eq + 1)));
  }
  return out;
}

Result<UsageQuery> usage_query(std::string_view query, int64_t now_ms) {
  UsageQuery q;
  for (const auto& [name, value] : parse_query_string(query)) {
    if (name == "since" || name == "until") {
      if (auto ok = time_param(name, value, now_ms, name == "since" ? q.filter.since_ms : q.filter.until_ms); !ok) {
        return ok.error();
      }
    } else if (name == "key") {
      q.filter.key = value;
    } else if (name == "model") {
      q.filter.model = value;
    } else if (name == "by") {
      std::string error;
      if (!parse_dims(value, q.by, error)) return bad_param(name, error);
    } else {
      return bad_param(name, "unknown parameter (use since, until, key, model, by)");
    }
  }
  return q;
}

Result<RequestFilter> requests_query(std::string_view query, int64_t now_ms) {
  RequestFilter f;
  f.limit = kDefaultRequestLimit;
  for (const auto& [name, value] : parse_query_string(query)) {
    int64_t n = 0;
    if (name == "since" || name == "until") {
      if (auto ok = time_param(name, value, now_ms, name == "since" ? f.since_ms : f.until_ms); !ok) return ok.error();
    } else if (name == "key") {
      f.key = value;
    } else if (name == "model") {
      f.model = value;
    } else if (name == "error_type") {
      f.error_type = value;
    } else if (name == "status") {
      if (!integer(value, n) || n < 100 || n > 599) return bad_param(name, "an HTTP status (100 to 599)");
      f.status = static_cast<int>(n);
    } else if (name == "limit") {
      if (!integer(value, n) || n < 1 || n > kMaxRequestLimit) {
        return bad_param(name, "a number from 1 to " + std::to_string(kMaxRequestLimit));
      }
      f.limit = static_cast<int>(n);
    } else if (name == "before") {
      if (!integer(value, n) || n < 1) return bad_param(name, "a row id (next_before of the previous page)");
      f.before = n;
    } else {
      return bad_param(name,
                       "unknown parameter (use key, model, status, error_type, since, until, limit, before)");
    }
  }
  return f;
}

}  // namespace zgate::report
