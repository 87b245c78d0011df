// The chat.z.ai web frontend ("zai-web") as the proxy drives it: before a chat request, the
// frontend version and an identity (a configured token, or a guest token fetched once and shared
// by every worker), image uploads, then the signed chat request.
#include <chrono>
#include <mutex>

#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "providers.hpp"
#include "zgate/core/ids.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"

namespace zgate {
namespace {

namespace net = boost::asio;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The zai-web identity, shared by every worker: one guest token is fetched once (concurrent
// requests wait for that fetch instead of each signing in) and reused until the upstream
// rejects it. Guarded by a mutex that is only taken per request, never per chunk.
struct ZaiWebShared {
  std::mutex mu;
  bool have = false;
  bool fetching = false;
  zaiweb::AuthInfo auth;
  std::string fe_version;  // current X-FE-Version (configured, or read from the landing page)
  bool fe_checked = false; // the landing page was read (refresh_fe_version), or not needed
};

std::string random_alnum(std::size_t n) {
  static constexpr char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char bytes[64];
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    RAND_bytes(bytes, sizeof bytes);
    for (unsigned char b : bytes) {
      if (b < 248 && s.size() < n) s.push_back(chars[b % 62]);  // 248 = 4 * 62: no modulo bias
    }
  }
  return s;
}

struct SimpleResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// One whole request/response on the provider's endpoint (sign-in, upload, landing page).
net::awaitable<std::optional<ApiError>> simple_exchange(const ProviderRuntime& prt, upstream::Pool& pool,
                                                        const UpstreamRequest& req, SimpleResponse& out) {
  upstream::Exchange ex(pool, prt.tls.get(), prt.endpoint, *prt.timeouts, *prt.limits);
  auto f = co_await ex.start(req);
  if (f == upstream::Failure::none) {
    out.status = ex.status();
    out.content_type = std::string(ex.content_type());
    f = co_await ex.read_all(out.body);
    if (f == upstream::Failure::none) {
      ex.release();
      co_return std::nullopt;
    }
  }
  if (f == upstream::Failure::timeout) co_return gateway_timeout(ex.error_message());
  co_return bad_gateway(ex.error_message().empty() ? std::string("the zai-web upstream failed") : ex.error_message());
}

net::awaitable<std::optional<ApiError>> fetch_guest(const ProviderRuntime& prt, upstream::Pool& pool,
                                                    zaiweb::AuthInfo& out) {
  SimpleResponse r;
  if (auto err = co_await simple_exchange(prt, pool, zaiweb::guest_auth_request(prt.cfg->zai), r)) co_return err;
  auto parsed = zaiweb::parse_auth_response(r.status, r.content_type, r.body);
  if (!parsed) co_return std::move(parsed).error();
  out = std::move(*parsed);
  co_return std::nullopt;
}

// The identity for one request: the configured token, a fresh guest (guest_per_conversation),
// or the shared guest token, fetched once however many requests wait for it.
net::awaitable<std::optional<ApiError>> zai_identity(const ProviderRuntime& prt, ZaiWebShared& z, upstream::Pool& pool,
                                                     zaiweb::AuthInfo& out) {
  if (prt.cfg->zai.token.empty() && prt.cfg->zai.guest_per_conversation) co_return co_await fetch_guest(prt, pool, out);
  net::steady_timer wait(pool.executor());
  const auto deadline = std::chrono::steady_clock::now() + prt.timeouts->upstream_connect +
                        prt.timeouts->upstream_tls_handshake + prt.timeouts->upstream_write + std::chrono::seconds(30);
  for (;;) {
    {
      std::lock_guard lock(z.mu);
      if (z.have) {
        out = z.auth;
        co_return std::nullopt;
      }
      if (!z.fetching) {
        z.fetching = true;
        break;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) co_return gateway_timeout("timed out waiting for a zai-web guest token");
    wait.expires_after(std::chrono::milliseconds(10));
    co_await wait.async_wait(net::as_tuple(net::use_awaitable));
  }
  zaiweb::AuthInfo fresh;
  auto err = co_await fetch_guest(prt, pool, fresh);
  std::lock_guard lock(z.mu);
  z.fetching = false;
  if (err) co_return err;
  z.auth = fresh;
  z.have = true;
  out = std::move(fresh);
  spdlog::info("zai-web: signed in as a guest ({})", out.user_id.empty() ? std::string("no id") : out.user_id);
  co_return std::nullopt;
}

net::awaitable<void> zai_refresh_fe_version(const ProviderRuntime& prt, ZaiWebShared& z, upstream::Pool& pool) {
  {
    std::lock_guard lock(z.mu);
    if (z.fe_checked) co_return;
    z.fe_checked = true;
  }
  SimpleResponse r;
  if (auto err = co_await simple_exchange(prt, pool, zaiweb::landing_page_request(prt.cfg->zai), r)) co_return;
  if (auto v = zaiweb::extract_fe_version(r.body)) {
    std::lock_guard lock(z.mu);
    z.fe_version = *v;
    spdlog::info("zai-web: frontend version {}", *v);
  }
}

class ZaiWebDialect final : public Dialect {
 public:
  explicit ZaiWebDialect(ProviderRuntime& prt) : prt_(prt), z_(std::make_shared<ZaiWebShared>()) {
    const ZaiWebOptions& o = prt.cfg->zai;
    z_->fe_version = o.fe_version;
    z_->fe_checked = !o.refresh_fe_version;
    if (!o.token.empty()) {
      z_->auth = zaiweb::auth_from_token(o.token);
      z_->have = true;
    }
    // Configured tokens: the provider's pool picks one per request (none: a guest identity).
    for (const auto& t : prt.cfg->tokens) tokens_.push_back(zaiweb::auth_from_token(t));
  }
  bool prepare_now(ChatRequest&, const Router::Target&, ProviderWorkerState&, PreparedRequest&, Result<void>&) override {
    return false;
  }
  net::awaitable<Result<void>> prepare(ChatRequest& req, const Router::Target& target, ProviderWorkerState& ws,
                                       upstream::Pool& pool, PreparedRequest& out) override;
  ApiError map_error(int status, std::string_view content_type, std::string_view body) const override {
    return zaiweb::classify_http_error(status, content_type, body);
  }
  // A 200 that is not an event stream (an HTML challenge page, a JSON refusal) is an error.
  Result<void> decode_json(std::string_view body, EventSink&) const override {
    return zaiweb::classify_http_error(200, "", body);
  }
  bool on_upstream_error(const PreparedRequest& used, int status, std::string_view body) override {
    if (status == 426) {
      std::lock_guard lock(z_->mu);
      z_->fe_checked = false;  // the frontend version is outdated: read it again next time
    }
    if (!zaiweb::is_auth_failure(status, body)) return false;
    const ZaiWebOptions& o = prt_.cfg->zai;
    if (!o.token.empty() || o.guest_per_conversation) return false;  // a configured token cannot be renewed here
    std::lock_guard lock(z_->mu);
    if (z_->have && z_->auth.token == used.identity) z_->have = false;  // drop the revoked token once
    return true;
  }
  // The identity (guest or configured token) outlives a reload that did not change it: no new
  // guest token is fetched for nothing.
  void carry_over(Dialect& previous) override {
    auto* old = dynamic_cast<ZaiWebDialect*>(&previous);
    if (!old) return;
    const ProviderConfig &a = *old->prt_.cfg, &b = *prt_.cfg;
    if (a.base_url == b.base_url && a.zai.token == b.zai.token) z_ = old->z_;
  }

 private:
  ProviderRuntime& prt_;
  std::shared_ptr<ZaiWebShared> z_;
  std::vector<zaiweb::AuthInfo> tokens_;  // per configured token, in the pool's order
};

net::awaitable<Result<void>> ZaiWebDialect::prepare(ChatRequest& req, const Router::Target& target,
                                                     ProviderWorkerState&, upstream::Pool& pool, PreparedRequest& out) {
  const ProviderRuntime& prt = prt_;
  co_await zai_refresh_fe_version(prt, *z_, pool);
  zaiweb::AuthInfo auth;
  // A token taken from the pool goes back unjudged when preparing fails (an upload, say); once
  // prepared, the proxy's lease hands it back with the attempt's result.
  struct Unlease {
    CredentialPool* pool = nullptr;
    int index = -1;
    ~Unlease() {
      if (pool) pool->release(index, CredentialPool::Outcome::ok, {}, CredentialPool::Clock::now());
    }
  } unlease;
  if (prt.keys && !tokens_.empty()) {
    // A configured token from the pool: one that is resting (429) or was rejected is skipped.
    const auto pick = prt.keys->acquire(CredentialPool::Clock::now());
    if (pick.index < 0) co_return no_usable_credential(prt, pick);
    out.key = pick.index;
    unlease.pool = prt.keys.get();
    unlease.index = pick.index;
    auth = tokens_[static_cast<std::size_t>(pick.index) % tokens_.size()];
  } else if (auto err = co_await zai_identity(prt, *z_, pool, auth)) {
    co_return std::move(*err);
  }
  ZaiWebOptions opts = prt.cfg->zai;
  {
    std::lock_guard lock(z_->mu);
    opts.fe_version = z_->fe_version;
  }

  zaiweb::BuildContext ctx;
  ctx.now_ms = now_ms();
  ctx.request_id = ids::uuid4();
  ctx.chat_id = ids::uuid4();
  ctx.message_id = ids::uuid4();
  ctx.user_message_id = ids::uuid4();
  // Images: data URLs are uploaded through the files endpoint; http(s) URLs are passed on as
  // they are (zgate does not fetch arbitrary URLs on a client's behalf).
  for (const auto& job : zaiweb::plan_images(req, auth)) {
    zaiweb::FileRef ref;
    if (job.action == zaiweb::ImageAction::upload_data_url) {
      auto data = zaiweb::decode_data_url(job.url);
      if (!data) co_return std::move(data).error();
      SimpleResponse r;
      auto up = zaiweb::build_upload_request(auth, opts, job.filename, data->content_type, data->bytes,
                                             "----zgate" + random_alnum(24));
      if (auto err = co_await simple_exchange(prt, pool, up, r)) co_return std::move(*err);
      auto parsed = zaiweb::parse_upload_response(r.status, r.content_type, r.body);
      if (!parsed) co_return std::move(parsed).error();
      ref = std::move(*parsed);
    }
    ctx.images.push_back(std::move(ref));
  }
  if (zaiweb::wants_tool_emulation(req, opts)) ctx.tool_trigger = zaiweb::make_trigger(random_alnum(12));

  out.request = zaiweb::build_chat_request(req, *target.route, target.upstream_model, opts, auth, ctx);
  for (const auto& [k, v] : prt.cfg->headers) out.request.headers.emplace_back(k, v);
  out.decoder = std::make_unique<zaiweb::StreamDecoder>(zaiweb::decoder_options(req, opts, ctx, req.model));
  out.identity = auth.token;
  unlease.pool = nullptr;
  co_return Result<void>{};
}

}  // namespace

std::unique_ptr<Dialect> make_zaiweb_dialect(ProviderRuntime& prt) { return std::make_unique<ZaiWebDialect>(prt); }

}  // namespace zgate
