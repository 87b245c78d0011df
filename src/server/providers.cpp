// Provider runtimes: endpoint, TLS context, credentials and the Dialect of each provider.
#include "providers.hpp"

#include <boost/asio/ssl/context.hpp>

#include "zgate/auth/jwt.hpp"
#include "zgate/config/url.hpp"

namespace zgate {
namespace {

// The dialect of each provider kind: adding a kind is one row here and one Dialect.
struct DialectEntry {
  ProviderKind kind;
  std::unique_ptr<Dialect> (*make)(ProviderRuntime&);
};
constexpr DialectEntry kDialects[] = {
    {ProviderKind::zhipu, make_zhipu_dialect},
    {ProviderKind::zai_web, make_zaiweb_dialect},
};

}  // namespace

void Providers::init(const Config& cfg) {
  list_.clear();
  list_.reserve(cfg.providers.size());
  for (std::size_t i = 0; i < cfg.providers.size(); ++i) {
    const ProviderConfig& p = cfg.providers[i];
    ProviderRuntime& rt = list_.emplace_back();
    rt.cfg = &p;
    rt.index = i;
    rt.endpoint = upstream::make_endpoint(p);
    if (rt.endpoint.tls) rt.tls = upstream::make_tls_context(rt.endpoint);
    auto url = parse_url(p.base_url);
    rt.base_path = url ? url->path : std::string();
    if (!p.api_key.empty()) rt.bearer = "Bearer " + p.api_key;
    for (const auto& k : p.api_keys) rt.bearers.push_back("Bearer " + k);
    // The credentials requests rotate among: a zhipu provider's API keys, a zai-web provider's
    // tokens (a zai-web provider without tokens signs in as a guest: nothing to rotate).
    const std::vector<std::string>& creds = p.kind == ProviderKind::zai_web ? p.tokens : p.api_keys;
    if (!creds.empty()) {
      rt.keys = std::make_shared<LocalCredentialPool>(
          creds.size(), p.key_strategy == "least_loaded" ? KeyStrategy::least_loaded : KeyStrategy::round_robin);
    }
    rt.timeouts = &cfg.timeouts;
    rt.limits = &cfg.limits;
  }
  // Built once the list no longer moves: a Dialect keeps a reference to its runtime.
  for (auto& rt : list_) {
    for (const auto& d : kDialects) {
      if (d.kind == rt.cfg->kind) rt.dialect = d.make(rt);
    }
  }
}

ApiError no_usable_credential(const ProviderRuntime& prt, const CredentialPool::Pick& pick) {
  const bool zai = prt.cfg->kind == ProviderKind::zai_web;
  if (pick.all_rejected) {
    return bad_gateway(std::string("The upstream rejected every ") + (zai ? "token" : "API key") + " of provider '" +
                           prt.cfg->name + "'; zgate's operator must replace them (the log names the failures).",
                       "upstream_auth_failed");
  }
  const auto secs = std::max<int64_t>(1, (pick.retry_after.count() + 999) / 1000);
  ApiError e = too_many_requests(std::string("Every upstream ") + (zai ? "token" : "API key") + " of provider '" +
                                     prt.cfg->name + "' is rate limited; the first is usable again in " +
                                     std::to_string(secs) + " s.",
                                 static_cast<int>(secs));
  e.source = ErrorSource::upstream;
  return e;
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
    auto& per_key = jwt.emplace_back();
    for (const auto& k : p.api_keys) {
      if (p.kind == ProviderKind::zhipu && p.jwt && looks_like_id_secret(k)) {
        per_key.push_back(std::make_unique<ZhipuJwt>(k));
      } else {
        per_key.push_back(nullptr);
      }
    }
  }
}

}  // namespace zgate
