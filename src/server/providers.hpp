#pragma once
// Provider runtime for the I/O shell: per-provider endpoint/TLS/credentials, and the step that
// turns a normalised ChatRequest into an UpstreamRequest plus the dialect operations the proxy
// loop needs. Adding a provider kind = one more case in prepare_request() and one more set of
// pure translators; the proxy loop, the OpenAI encoder and the access log stay the same.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "zgate/config/config.hpp"
#include "zgate/route/credentials.hpp"
#include "zgate/route/router.hpp"
#include "zgate/model/request.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/upstream/client.hpp"

namespace zgate {

class ZhipuJwt;
struct ZaiWebShared;

struct ProviderRuntime {
  const ProviderConfig* cfg = nullptr;
  std::size_t index = 0;
  upstream::Endpoint endpoint;
  std::unique_ptr<boost::asio::ssl::context> tls;  // null for plain http
  std::string base_path;                           // path part of base_url, no trailing slash
  std::string bearer;                              // "Bearer <key>" of the first key (static keys)
  std::vector<std::string> bearers;                // "Bearer <key>" per key of cfg->api_keys
  std::shared_ptr<CredentialPool> keys;            // which key a request uses (zhipu)
  std::shared_ptr<ZaiWebShared> zai;               // zai-web identity shared by all workers
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
struct ProviderWorkerState {
  ProviderWorkerState();
  ~ProviderWorkerState();
  void init(Providers& p);
  // Per provider index, per key: the JWT signer of an id.secret key; null = a static key.
  std::vector<std::vector<std::unique_ptr<ZhipuJwt>>> jwt;
};

// What the proxy loop needs from the dialect.
struct DialectOps {
  std::function<ApiError(int status, std::string_view content_type, std::string_view body)> map_error;
  // Decodes a whole JSON (non-SSE) upstream body into events; may be empty.
  std::function<bool(std::string_view body, EventSink& sink, ApiError& err)> decode_json;
  std::unique_ptr<StreamDecoder> decoder_owner;
  StreamDecoder* decoder = nullptr;
  // Called with a non-200 upstream answer (e.g. to drop a revoked token). Returns true when
  // the request should be prepared again and retried once (a fresh identity may fix it).
  std::function<bool(int status, std::string_view body)> on_upstream_error;
};

struct PreparedRequest {
  UpstreamRequest request;
  DialectOps ops;
  int key = -1;  // the index of the upstream key used (ProviderRuntime::keys), -1 = none
};

// Builds the upstream request (may do I/O first: a zai-web guest token, image uploads).
boost::asio::awaitable<std::optional<ApiError>> prepare_request(ProviderRuntime& prt, ProviderWorkerState& ws,
                                                                upstream::Pool& pool, ChatRequest& req,
                                                                const Router::Target& target, PreparedRequest& out);
// The same for a provider that needs no I/O to build its request (the v4 API): returns true
// with the request in `out` (or the error in `err`); false when prepare_request() must be
// awaited. Spares the v4 path a coroutine frame per request.
bool prepare_request_now(ProviderRuntime& prt, ProviderWorkerState& ws, ChatRequest& req, const Router::Target& target,
                         PreparedRequest& out, std::optional<ApiError>& err);

}  // namespace zgate
