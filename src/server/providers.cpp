// Provider runtime and request preparation for each provider kind.
#include "zgate/server/providers.hpp"

#include <chrono>
#include <mutex>

#include <openssl/rand.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <spdlog/spdlog.h>

#include "zgate/auth/jwt.hpp"
#include "zgate/config/url.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"
#include "zgate/dialect/zhipu/request.hpp"
#include "zgate/dialect/zhipu/response.hpp"

namespace zgate {

namespace net = boost::asio;

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
    for (const auto& k : p.api_keys) rt.bearers.push_back("Bearer " + k);
    if (p.kind == ProviderKind::zhipu && !p.api_keys.empty()) {
      rt.keys = std::make_shared<LocalCredentialPool>(
          p.api_keys.size(), p.key_strategy == "least_loaded" ? KeyStrategy::least_loaded : KeyStrategy::round_robin);
    }
    rt.timeouts = &cfg.timeouts;
    rt.limits = &cfg.limits;
    if (p.kind == ProviderKind::zai_web) {
      rt.zai = std::make_shared<ZaiWebShared>();
      rt.zai->fe_version = p.zai.fe_version;
      rt.zai->fe_checked = !p.zai.refresh_fe_version;
      if (!p.zai.token.empty()) {
        rt.zai->auth = zaiweb::auth_from_token(p.zai.token);
        rt.zai->have = true;
      }
    }
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
    auto& per_key = jwt.emplace_back();
    for (const auto& k : p.api_keys) {
      if (p.kind == ProviderKind::zhipu && p.jwt && ZhipuJwt::looks_like_id_secret(k)) {
        per_key.push_back(std::make_unique<ZhipuJwt>(k));
      } else {
        per_key.push_back(nullptr);
      }
    }
  }
}

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Every key of the provider is cooling down (429 with Retry-After set to the soonest recovery)
// or was rejected by the upstream (502).
ApiError no_usable_key(const ProviderRuntime& prt, const CredentialPool::Pick& pick) {
  ApiError e;
  e.source = ErrorSource::upstream;
  if (pick.all_rejected) {
    e.status = 502;
    e.type = "upstream_error";
    e.code = "upstream_auth_failed";
    e.message = "The upstream rejected every API key of provider '" + prt.cfg->name +
                "'; zgate's operator must replace them (the log names the failures).";
    return e;
  }
  const auto secs = std::max<int64_t>(1, (pick.retry_after.count() + 999) / 1000);
  e.status = 429;
  e.type = "rate_limit_error";
  e.code = "rate_limit_exceeded";
  e.message = "Every upstream API key of provider '" + prt.cfg->name + "' is rate limited; the first is usable again in " +
              std::to_string(secs) + " s.";
  e.retry_after = static_cast<int>(secs);
  return e;
}

std::optional<ApiError> prepare_zhipu(ProviderRuntime& prt, ProviderWorkerState& ws, ChatRequest& req,
                                      const Router::Target& target, PreparedRequest& out) {
  std::string body;
  body.reserve(1024);
  if (auto built = zhipu::build_request(req, *target.route, target.upstream_model, body); !built.ok())
    return std::move(built).error();
  out.request = zhipu::make_upstream_request(prt.base_path, std::move(body), req.stream);
  if (prt.keys) {
    const auto pick = prt.keys->acquire(CredentialPool::Clock::now());
    if (pick.index < 0) return no_usable_key(prt, pick);
    out.key = pick.index;
    const auto k = static_cast<std::size_t>(pick.index);
    if (auto& jwt = ws.jwt[prt.index][k]) {
      out.request.headers.emplace_back("Authorization", "Bearer " + std::string(jwt->bearer(now_ms())));
    } else {
      out.request.headers.emplace_back("Authorization", prt.bearers[k]);
    }
  } else if (!prt.bearer.empty()) {
    out.request.headers.emplace_back("Authorization", prt.bearer);
  }
  for (const auto& [k, v] : prt.cfg->headers) out.request.headers.emplace_back(k, v);
  out.ops.map_error = [](int status, std::string_view, std::string_view body) {
    return zhipu::map_error(status, body);
  };
  out.ops.decode_json = [](std::string_view body, EventSink& sink, ApiError& err) {
    Result<void> r = zhipu::decode_response(body, sink);
    if (!r.ok()) err = std::move(r).error();
    return r.ok();
  };
  out.ops.decoder_owner = std::make_unique<zhipu::V4StreamDecoder>();
  out.ops.decoder = out.ops.decoder_owner.get();
  return std::nullopt;
}

// ---- zai-web --------------------------------------------------------------------------

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

std::string uuid4() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(hex[b[i] >> 4]);
    s.push_back(hex[b[i] & 0xF]);
  }
  return s;
}

struct SimpleResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// One whole request/response on the provider's endpoint (sign-in, upload, landing page).
net::awaitable<std::optional<ApiError>> simple_exchange(ProviderRuntime& prt, upstream::Pool& pool,
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

net::awaitable<std::optional<ApiError>> fetch_guest(ProviderRuntime& prt, upstream::Pool& pool,
                                                    zaiweb::AuthInfo& out) {
  SimpleResponse r;
  if (auto err = co_await simple_exchange(prt, pool, zaiweb::guest_auth_request(prt.cfg->zai), r)) co_return err;
  auto parsed = zaiweb::parse_auth_response(r.status, r.content_type, r.body);
  if (!parsed.ok()) co_return std::move(parsed).error();
  out = std::move(*parsed);
  co_return std::nullopt;
}

// The identity for one request: the configured token, a fresh guest (guest_per_conversation),
// or the shared guest token, fetched once however many requests wait for it.
net::awaitable<std::optional<ApiError>> zai_identity(ProviderRuntime& prt, upstream::Pool& pool,
                                                     zaiweb::AuthInfo& out) {
  ZaiWebShared& z = *prt.zai;
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

net::awaitable<void> zai_refresh_fe_version(ProviderRuntime& prt, upstream::Pool& pool) {
  {
    std::lock_guard lock(prt.zai->mu);
    if (prt.zai->fe_checked) co_return;
    prt.zai->fe_checked = true;
  }
  SimpleResponse r;
  if (auto err = co_await simple_exchange(prt, pool, zaiweb::landing_page_request(prt.cfg->zai), r)) co_return;
  if (auto v = zaiweb::extract_fe_version(r.body)) {
    std::lock_guard lock(prt.zai->mu);
    prt.zai->fe_version = *v;
    spdlog::info("zai-web: frontend version {}", *v);
  }
}

net::awaitable<std::optional<ApiError>> prepare_zaiweb(ProviderRuntime& prt, upstream::Pool& pool, ChatRequest& req,
                                                       const Router::Target& target, PreparedRequest& out) {
  co_await zai_refresh_fe_version(prt, pool);
  zaiweb::AuthInfo auth;
  if (auto err = co_await zai_identity(prt, pool, auth)) co_return err;
  ZaiWebOptions opts = prt.cfg->zai;
  {
    std::lock_guard lock(prt.zai->mu);
    opts.fe_version = prt.zai->fe_version;
  }

  zaiweb::BuildContext ctx;
  ctx.now_ms = now_ms();
  ctx.request_id = uuid4();
  ctx.chat_id = uuid4();
  ctx.message_id = uuid4();
  ctx.user_message_id = uuid4();
  // Images: data URLs are uploaded through the files endpoint; http(s) URLs are passed on as
  // they are (zgate does not fetch arbitrary URLs on a client's behalf).
  for (const auto& job : zaiweb::plan_images(req, auth)) {
    zaiweb::FileRef ref;
    if (job.action == zaiweb::ImageAction::upload_data_url) {
      auto data = zaiweb::decode_data_url(job.url);
      if (!data.ok()) co_return std::move(data).error();
      SimpleResponse r;
      auto up = zaiweb::build_upload_request(auth, opts, job.filename, data->content_type, data->bytes,
                                             "----zgate" + random_alnum(24));
      if (auto err = co_await simple_exchange(prt, pool, up, r)) co_return err;
      auto parsed = zaiweb::parse_upload_response(r.status, r.content_type, r.body);
      if (!parsed.ok()) co_return std::move(parsed).error();
      ref = std::move(*parsed);
    }
    ctx.images.push_back(std::move(ref));
  }
  if (zaiweb::wants_tool_emulation(req, opts)) ctx.tool_trigger = zaiweb::make_trigger(random_alnum(12));

  out.request = zaiweb::build_chat_request(req, *target.route, target.upstream_model, opts, auth, ctx);
  for (const auto& [k, v] : prt.cfg->headers) out.request.headers.emplace_back(k, v);
  out.ops.map_error = [](int status, std::string_view content_type, std::string_view body) {
    return zaiweb::classify_http_error(status, content_type, body);
  };
  // A 200 that is not an event stream (an HTML challenge page, a JSON refusal) is an error.
  out.ops.decode_json = [](std::string_view body, EventSink&, ApiError& err) {
    err = zaiweb::classify_http_error(200, "", body);
    return false;
  };
  out.ops.decoder_owner = std::make_unique<zaiweb::StreamDecoder>(zaiweb::decoder_options(req, opts, ctx, req.model));
  out.ops.decoder = out.ops.decoder_owner.get();
  auto zai = prt.zai;
  const bool shared_identity = prt.cfg->zai.token.empty() && !prt.cfg->zai.guest_per_conversation;
  const std::string used_token = auth.token;
  out.ops.on_upstream_error = [zai, shared_identity, used_token](int status, std::string_view body) {
    if (status == 426) {
      std::lock_guard lock(zai->mu);
      zai->fe_checked = false;  // the frontend version is outdated: read it again next time
    }
    if (!zaiweb::is_auth_failure(status, body)) return false;
    if (!shared_identity) return false;  // a configured token cannot be renewed here
    std::lock_guard lock(zai->mu);
    if (zai->have && zai->auth.token == used_token) zai->have = false;  // drop the revoked token once
    return true;
  };
  co_return std::nullopt;
}

}  // namespace

bool prepare_request_now(ProviderRuntime& prt, ProviderWorkerState& ws, ChatRequest& req, const Router::Target& target,
                         PreparedRequest& out, std::optional<ApiError>& err) {
  switch (prt.cfg->kind) {
    case ProviderKind::zhipu:
      err = prepare_zhipu(prt, ws, req, target, out);
      return true;
    case ProviderKind::zai_web:
      return false;
  }
  err = internal_error("provider kind not supported");
  return true;
}

net::awaitable<std::optional<ApiError>> prepare_request(ProviderRuntime& prt, ProviderWorkerState& ws,
                                                        upstream::Pool& pool, ChatRequest& req,
                                                        const Router::Target& target, PreparedRequest& out) {
  std::optional<ApiError> err;
  if (prepare_request_now(prt, ws, req, target, out, err)) co_return err;
  co_return co_await prepare_zaiweb(prt, pool, req, target, out);
}

}  // namespace zgate
