// The v4 API ("zhipu") as the proxy drives it: the request is built without I/O, with the
// Authorization of the key the provider's pool hands out (a static key, or a JWT signed from
// an id.secret key).
#include <chrono>

#include "providers.hpp"
#include "zgate/auth/jwt.hpp"
#include "zgate/dialect/zhipu/request.hpp"
#include "zgate/dialect/zhipu/response.hpp"

namespace zgate {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Every key of the provider is cooling down (429 with Retry-After set to the soonest recovery)
// or was rejected by the upstream (502).
ApiError no_usable_key(const ProviderRuntime& prt, const CredentialPool::Pick& pick) {
  if (pick.all_rejected) {
    return bad_gateway("The upstream rejected every API key of provider '" + prt.cfg->name +
                           "'; zgate's operator must replace them (the log names the failures).",
                       "upstream_auth_failed");
  }
  const auto secs = std::max<int64_t>(1, (pick.retry_after.count() + 999) / 1000);
  ApiError e = too_many_requests("Every upstream API key of provider '" + prt.cfg->name +
                                     "' is rate limited; the first is usable again in " + std::to_string(secs) + " s.",
                                 static_cast<int>(secs));
  e.source = ErrorSource::upstream;
  return e;
}

class ZhipuDialect final : public Dialect {
 public:
  explicit ZhipuDialect(ProviderRuntime& prt) : prt_(prt) {}

  bool prepare_now(ChatRequest& req, const Router::Target& target, ProviderWorkerState& ws, PreparedRequest& out,
                   Result<void>& r) override {
    r = prepare(req, target, ws, out);
    return true;
  }
  boost::asio::awaitable<Result<void>> prepare(ChatRequest& req, const Router::Target& target,
                                               ProviderWorkerState& ws, upstream::Pool&,
                                               PreparedRequest& out) override {
    co_return prepare(req, target, ws, out);
  }
  ApiError map_error(int status, std::string_view, std::string_view body) const override {
    return zhipu::map_error(status, body);
  }
  Result<void> decode_json(std::string_view body, EventSink& sink) const override {
    return zhipu::decode_response(body, sink);
  }

 private:
  Result<void> prepare(ChatRequest& req, const Router::Target& target, ProviderWorkerState& ws, PreparedRequest& out) {
    std::string body;
    body.reserve(1024);
    if (auto built = zhipu::build_request(req, *target.route, target.upstream_model, body); !built) return built;
    out.request = zhipu::make_upstream_request(prt_.base_path, std::move(body), req.stream);
    if (prt_.keys) {
      const auto pick = prt_.keys->acquire(CredentialPool::Clock::now());
      if (pick.index < 0) return no_usable_key(prt_, pick);
      out.key = pick.index;
      const auto k = static_cast<std::size_t>(pick.index);
      if (auto& jwt = ws.jwt[prt_.index][k]) {
        out.request.headers.emplace_back("Authorization", "Bearer " + std::string(jwt->bearer(now_ms())));
      } else {
        out.request.headers.emplace_back("Authorization", prt_.bearers[k]);
      }
    } else if (!prt_.bearer.empty()) {
      out.request.headers.emplace_back("Authorization", prt_.bearer);
    }
    for (const auto& [k, v] : prt_.cfg->headers) out.request.headers.emplace_back(k, v);
    out.decoder = std::make_unique<zhipu::V4StreamDecoder>();
    return {};
  }

  ProviderRuntime& prt_;
};

}  // namespace

std::unique_ptr<Dialect> make_zhipu_dialect(ProviderRuntime& prt) { return std::make_unique<ZhipuDialect>(prt); }

}  // namespace zgate
