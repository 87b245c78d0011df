#pragma once
// Providers as the I/O shell drives them: per provider its endpoint, TLS context, credentials
// and one Dialect object, built once per configuration generation. The Dialect turns a
// normalised ChatRequest into an UpstreamRequest (with I/O first when its protocol needs it)
// and judges the upstream's answers. Adding a provider kind = one Dialect (using its pure
// translators under dialect/) and one row in the table in providers.cpp; the proxy, the
// OpenAI encoder and the recorder stay the same. Private to src/server.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include "zgate/config/config.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/model/request.hpp"
#include "zgate/route/credentials.hpp"
#include "zgate/route/router.hpp"
#include "zgate/upstream/client.hpp"

namespace zgate {

class ZhipuJwt;
struct ProviderRuntime;
class ProviderWorkerState;

// One upstream request ready to send, and what the answer needs to be read.
struct PreparedRequest {
  UpstreamRequest request;
  std::unique_ptr<StreamDecoder> decoder;  // decodes the answer's SSE stream
  int key = -1;                            // the index of the upstream key used (ProviderRuntime::keys), -1 = none
  std::string identity;                    // the upstream identity used (zai-web's token), for on_upstream_error
};

class Dialect {
 public:
  virtual ~Dialect() = default;
  // Builds the request without I/O when the dialect can (the v4 API): true with the result in
  // `out` / `r`; false when prepare() must be awaited. Spares such dialects a coroutine frame.
  virtual bool prepare_now(ChatRequest& req, const Router::Target& target, ProviderWorkerState& ws,
                           PreparedRequest& out, Result<void>& r) = 0;
  virtual boost::asio::awaitable<Result<void>> prepare(ChatRequest& req, const Router::Target& target,
                                                       ProviderWorkerState& ws, upstream::Pool& pool,
                                                       PreparedRequest& out) = 0;
  // A non-200 upstream answer as the client's error.
  virtual ApiError map_error(int status, std::string_view content_type, std::string_view body) const = 0;
  // A whole JSON (non-SSE) upstream answer, decoded into events; the error when it is not an
  // answer.
  virtual Result<void> decode_json(std::string_view body, EventSink& sink) const = 0;
  // Called with a non-200 upstream answer (e.g. to drop a revoked identity). True when the
  // request should be prepared again and retried once (a fresh identity may fix it).
  virtual bool on_upstream_error(const PreparedRequest&, int /*status*/, std::string_view /*body*/) { return false; }
  // A reload built this Dialect for a provider the previous generation also had (same name and
  // kind): it may take over state worth keeping (a zai-web guest token).
  virtual void carry_over(Dialect& /*previous*/) {}
};

struct ProviderRuntime {
  const ProviderConfig* cfg = nullptr;
  std::size_t index = 0;
  upstream::Endpoint endpoint;
  std::unique_ptr<boost::asio::ssl::context> tls;  // null for plain http
  std::string base_path;                           // path part of base_url, no trailing slash
  std::string bearer;                              // "Bearer <key>" of the first key (static keys)
  std::vector<std::string> bearers;                // "Bearer <key>" per key of cfg->api_keys
  std::shared_ptr<CredentialPool> keys;            // which key (zhipu) or token (zai-web) a request uses
  std::unique_ptr<Dialect> dialect;
  const Timeouts* timeouts = nullptr;
  const Limits* limits = nullptr;
};

class Providers {
 public:
  void init(const Config& cfg);
  ProviderRuntime& runtime(const ProviderConfig& p);
  std::vector<ProviderRuntime>& all() { return list_; }

 private:
  std::vector<ProviderRuntime> list_;
};

// State a worker keeps per provider (not shared between threads).
class ProviderWorkerState {
 public:
  ProviderWorkerState();
  ~ProviderWorkerState();
  void init(Providers& p);
  // Per provider index, per key: the JWT signer of an id.secret key; null = a static key.
  std::vector<std::vector<std::unique_ptr<ZhipuJwt>>> jwt;
};

// Every credential of the provider is cooling down (429 with Retry-After set to the soonest
// recovery) or was rejected by the upstream (502).
ApiError no_usable_credential(const ProviderRuntime& prt, const CredentialPool::Pick& pick);

// The active health check of one credential of a zhipu provider (`key`: its index in the pool,
// -1 = the provider's only key or none): a one-token chat request to health_check_model. `ok`
// when the upstream answered (a refusal of the request itself, such as an unknown model, counts
// as answered); else `reason` says why it failed, as the upstream health names failures.
struct HealthProbe {
  bool ok = false;
  std::string reason;
};
boost::asio::awaitable<HealthProbe> zhipu_health_probe(ProviderRuntime& prt, ProviderWorkerState& ws,
                                                       upstream::Pool& pool, int key);

// The dialects, one file each. `prt` outlives its Dialect (both belong to one generation).
std::unique_ptr<Dialect> make_zhipu_dialect(ProviderRuntime& prt);
std::unique_ptr<Dialect> make_zaiweb_dialect(ProviderRuntime& prt);

}  // namespace zgate
