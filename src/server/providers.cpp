// Provider runtime and request preparation for each provider kind.
#include "zgate/server/providers.hpp"

#include <chrono>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "zgate/auth/jwt.hpp"
#include "zgate/config/url.hpp"
#include "zgate/translate/zhipu_request.hpp"
#include "zgate/translate/zhipu_response.hpp"

namespace zgate {

namespace net = boost::asio;

struct ZaiWebShared {};

void Providers::init(const Config& cfg) {
  list_.clear();
  list_.reserve(cfg.providers.size());
  for (std::size_t i = 0; i < cfg.providers.size(); ++i) {
    const ProviderConfig& p = cfg.providers[i];
    ProviderRuntime rt;
    rt.cfg = &p;
    rt.index = i;
    rt.endpoint = upstream::make_endpoint(p);
    if (rt.endpoint.tls) rt.tls = upstream::make_tls_context(rt.endpoint);
    auto url = parse_url(p.base_url);
    rt.base_path = url ? url->path : std::string();
    if (!p.api_key.empty()) rt.bearer = "Bearer " + p.api_key;
    list_.push_back(std::move(rt));
  }
}

ProviderRuntime& Providers::runtime(const ProviderConfig& p) {
  for (auto& rt : list_) {
    if (rt.cfg == &p) return rt;
  }
  return list_.front();  // unreachable: every routed provider is in the list
}

ProviderWorkerState::ProviderWorkerState() = default;
ProviderWorkerState::~ProviderWorkerState() = default;

void ProviderWorkerState::init(Providers& providers) {
  jwt.clear();
  for (auto& rt : providers.all()) {
    const ProviderConfig& p = *rt.cfg;
    if (p.kind == ProviderKind::zhipu && p.jwt && ZhipuJwt::looks_like_id_secret(p.api_key)) {
      jwt.push_back(std::make_unique<ZhipuJwt>(p.api_key));
    } else {
      jwt.push_back(nullptr);
    }
  }
}

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<ApiError> prepare_zhipu(ProviderRuntime& prt, ProviderWorkerState& ws, ChatRequest& req,
                                      const Router::Target& target, PreparedRequest& out) {
  std::string body;
  body.reserve(1024);
  if (auto err = zhipu::build_request(req, *target.route, target.upstream_model, body)) return err;
  out.request = zhipu::make_upstream_request(prt.base_path, std::move(body), req.stream);
  if (auto& jwt = ws.jwt[prt.index]) {
    out.request.headers.emplace_back("Authorization", "Bearer " + std::string(jwt->bearer(now_ms())));
  } else if (!prt.bearer.empty()) {
    out.request.headers.emplace_back("Authorization", prt.bearer);
  }
  for (const auto& [k, v] : prt.cfg->headers) out.request.headers.emplace_back(k, v);
  out.ops.map_error = [](int status, std::string_view, std::string_view body) {
    return zhipu::map_error(status, body);
  };
  out.ops.decode_json = [](std::string_view body, EventSink& sink, ApiError& err) {
    return zhipu::decode_response(body, sink, err);
  };
  out.ops.decoder_owner = std::make_unique<zhipu::V4StreamDecoder>();
  out.ops.decoder = out.ops.decoder_owner.get();
  return std::nullopt;
}

}  // namespace

net::awaitable<std::optional<ApiError>> prepare_request(ProviderRuntime& prt, ProviderWorkerState& ws,
                                                        upstream::Pool& pool, ChatRequest& req,
                                                        const Router::Target& target, PreparedRequest& out) {
  (void)pool;
  switch (prt.cfg->kind) {
    case ProviderKind::zhipu:
      co_return prepare_zhipu(prt, ws, req, target, out);
    case ProviderKind::zai_web:
      break;
  }
  co_return internal_error("provider kind not supported");
}

}  // namespace zgate
