// The v4 API ("zhipu") as the proxy drives it: the request is built without I/O, with the
// Authorization of the key the provider's pool hands out (a static key, or a JWT signed from
// an id.secret key).
#include <chrono>

#include "providers.hpp"
#include "zgate/auth/jwt.hpp"
#include "zgate/dialect/zhipu/request.hpp"
#include "zgate/dialect/zhipu/response.hpp"
#include "zgate/json/writer.hpp"
#include "zgate/obs/upstream_health.hpp"

namespace zgate {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
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
      if (pick.index < 0) return no_usable_credential(prt_, pick);
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

boost::asio::awaitable<HealthProbe> zhipu_health_probe(ProviderRuntime& prt, ProviderWorkerState& ws,
                                                       upstream::Pool& pool, int key) {
  std::string body = R"({"model":)";
  json::append_string(body, prt.cfg->health_check_model);
  body += R"(,"messages":[{"role":"user","content":"ping"}],"max_tokens":1,"stream":false})";
  UpstreamRequest req = zhipu::make_upstream_request(prt.base_path, std::move(body), false);
  if (key >= 0 && static_cast<std::size_t>(key) < prt.bearers.size()) {
    const auto k = static_cast<std::size_t>(key);
    if (auto& jwt = ws.jwt[prt.index][k]) {
      req.headers.emplace_back("Authorization", "Bearer " + std::string(jwt->bearer(now_ms())));
    } else {
      req.headers.emplace_back("Authorization", prt.bearers[k]);
    }
  } else if (!prt.bearer.empty()) {
    req.headers.emplace_back("Authorization", prt.bearer);
  }
  for (const auto& [k, v] : prt.cfg->headers) req.headers.emplace_back(k, v);
  upstream::Exchange ex(pool, prt.tls.get(), prt.endpoint, *prt.timeouts, *prt.limits);
  HealthProbe out;
  upstream::Failure f = co_await ex.start(req);
  std::string answer;
  if (f == upstream::Failure::none) f = co_await ex.read_all(answer);
  switch (f) {
    case upstream::Failure::none: break;
    case upstream::Failure::connect: out.reason = "upstream_connect_failed"; co_return out;
    case upstream::Failure::tls: out.reason = "upstream_tls_failed"; co_return out;
    case upstream::Failure::timeout: out.reason = "upstream_timeout"; co_return out;
    case upstream::Failure::closed: out.reason = "upstream_closed"; co_return out;
    default: out.reason = "upstream_protocol_error"; co_return out;
  }
  const int status = ex.status();
  ex.release();
  const ApiError e = status == 200 ? ApiError{} : zhipu::map_error(status, answer);
  out.ok = status == 200 || obs::classify_outcome(e.status, e.code.empty() ? e.type : e.code) ==
                                obs::AttemptResult::ok;
  if (!out.ok) out.reason = "http_" + std::to_string(status);
  co_return out;
}

std::unique_ptr<Dialect> make_zhipu_dialect(ProviderRuntime& prt) { return std::make_unique<ZhipuDialect>(prt); }

}  // namespace zgate
