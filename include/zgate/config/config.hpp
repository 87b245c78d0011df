#pragma once
// Immutable configuration, loaded once at start from (in increasing priority) built-in
// defaults, environment variables, a TOML file and command-line flags. Workers share one
// std::shared_ptr<const Config>.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/dialect/zaiweb/options.hpp"
#include "zgate/model/route.hpp"

namespace zgate {

using Millis = std::chrono::milliseconds;

struct Timeouts {
  Millis client_header_read{30'000};   // from accept / keep-alive to the end of the request head
  Millis client_body_read{60'000};
  Millis client_write{60'000};         // each write to the client
  Millis client_keepalive_idle{75'000};
  Millis upstream_connect{10'000};
  Millis upstream_tls_handshake{10'000};
  Millis upstream_write{30'000};
  Millis upstream_first_byte{300'000}; // models think before the first byte
  Millis upstream_stream_idle{120'000};// gap between upstream reads while streaming
  Millis shutdown_grace{10'000};
  // SIGTERM: /ready answers 503 at once, new connections are still accepted this long (so a load
  // balancer sees the 503 and stops sending), then the grace above runs.
  Millis drain_delay{0};
  // An SSE comment (": keep-alive") sent to a stream's client after this long without a byte
  // (the model thinks in silence), so proxies in between do not cut the stream; 0 = off.
  Millis stream_heartbeat{0};
  // After an error answered before the request body was read, the connection is closed only
  // once the client stops sending (or these pass): see linger_close() in the server.
  Millis lingering_time{5'000};       // the whole lingering close
  Millis lingering_timeout{1'000};    // silence that ends it early
};

struct Limits {
  std::size_t header_limit = 64 * 1024;
  std::size_t body_limit = 32 * 1024 * 1024;
  std::size_t max_sse_event = 8 * 1024 * 1024;       // largest upstream SSE event
  std::size_t max_upstream_body = 64 * 1024 * 1024;  // largest non-stream upstream body
  std::size_t pool_max_idle_per_host = 512;          // per worker
  Millis pool_idle_timeout{60'000};
  // A pooled connection idle for less than this is reused without a health check (a syscall);
  // one the upstream closed meanwhile fails before any response byte and is resent.
  Millis pool_check_idle{1'000};
  std::size_t max_connections = 100'000;             // downstream, whole process
  // Admission control (0 = no limit): chat requests in flight and open streams, whole process.
  // Over either, a chat request gets 503 with Retry-After before its body is read.
  std::size_t max_in_flight = 0;
  std::size_t max_streams = 0;
  // Per live tail (/admin/requests/stream): lines queued or being written to its client. It must
  // hold one recorder pass (100 ms) of lines at the peak request rate (~600 bytes a line: 8 MiB
  // follows ~140k requests/s); a tail over it is ended as too slow.
  std::size_t tail_buffer = 8 * 1024 * 1024;
};

// Retries of a chat request whose upstream failed before anything was sent to the client: a
// connection or TLS failure, an upstream 5xx, or a 429 the upstream marks as passing (overload,
// concurrency, frequency; never a spent balance). Waits follow exponential backoff with full
// jitter (a random wait up to min(max_delay, base_delay * 2^n)), or the upstream's Retry-After
// when it sends one; no attempt starts once `budget` has passed since the request arrived.
struct RetryPolicy {
  int attempts = 3;         // tries in all, the first included (1 = no retries)
  Millis base_delay{250};
  Millis max_delay{4'000};
  Millis budget{15'000};
};

// [health]: how the passive upstream health (GET /health/upstream, zgate_upstream_* metrics)
// judges each provider and credential from the results of recent requests.
struct HealthSettings {
  Millis window{300'000};          // results counted for the error rate
  int down_after_failures = 5;     // consecutive failed attempts that make a credential "down"
  double degraded_error_rate = 0.2;  // error rate in the window from which it is "degraded"
};

enum class ProviderKind : unsigned char { zhipu, zai_web };

// "zhipu" / "zai-web": the spelling used in config files, flags and /v1/models owned_by.
std::string_view to_string(ProviderKind k);
// The base URL a provider of this kind uses when none is configured.
std::string_view default_base_url(ProviderKind k);

// zgate's version, printed by --version.
inline constexpr std::string_view kVersion = "0.1.0";

// Upstream shaping (docs/shaping.md): per upstream credential and upstream model, at most
// `max_concurrent` requests at once and request starts at least `min_interval` apart; requests
// beyond that wait in a FIFO queue of at most `queue_max` for at most `queue_timeout`, and past
// either bound are answered 429 rate_limit_exceeded. Zero max_concurrent and min_interval: off.
struct ShapingLimits {
  unsigned max_concurrent = 0;  // 0 = no limit
  Millis min_interval{0};       // between request starts; 0 = none
  std::size_t queue_max = 100;  // requests waiting; 0 = none wait (429 at once)
  Millis queue_timeout{30'000}; // the longest wait
  bool active() const { return max_concurrent > 0 || min_interval.count() > 0; }
  friend bool operator==(const ShapingLimits&, const ShapingLimits&) = default;
};

// [[providers.shaping]]: other limits for the upstream models matching the shell glob `model`
// (fields not given keep the provider's). The first matching rule wins.
struct ShapingRule {
  std::string model;
  ShapingLimits limits;
};

struct ProviderConfig {
  std::string name;                    // referenced by model routes
  ProviderKind kind = ProviderKind::zhipu;
  std::string base_url;                // scheme://host[:port][/base/path]
  std::string api_key;                 // zhipu: Bearer key, or id.secret (JWT-signed when jwt=true)
  // zhipu: every upstream key requests may use (api_key is the first); validate() fills it from
  // api_key when only that is given. A key that gets 429 rests for a cooldown (Retry-After, or
  // key_cooldown; key_quota_cooldown for a spent balance or quota); one the upstream rejects
  // (401, codes 1000-1004) leaves the rotation.
  std::vector<std::string> api_keys;
  // zai-web: every configured token (`tokens` / `tokens_env`, with zai.token first when both
  // are given); validate() fills it from zai.token when only that is given. Requests rotate
  // among them like a zhipu provider's api_keys (key_strategy and the cooldowns apply).
  std::vector<std::string> tokens;
  std::string key_strategy = "round_robin";  // round_robin | least_loaded
  std::chrono::milliseconds key_cooldown{1'000};
  std::chrono::milliseconds key_quota_cooldown{600'000};
  // The active health check (zhipu only; off by default, as it costs tokens): every interval, a
  // one-token request to health_check_model with each key, its result counted in the upstream
  // health like a client's attempt. 0 = off.
  std::chrono::seconds health_check_interval{0};
  std::string health_check_model;
  bool jwt = false;                    // sign an HS256 JWT from an id.secret key
  std::string ca_file;                 // extra CA bundle (PEM) trusted besides the system store
  bool verify_tls = true;
  std::map<std::string, std::string> headers;  // extra headers sent upstream
  ShapingLimits shaping;                // upstream shaping of every model ...
  std::vector<ShapingRule> shaping_rules;  // ... unless a rule matches the upstream model
  // The shaping limits of `upstream_model`: the first matching rule's, else `shaping`.
  const ShapingLimits& shaping_for(std::string_view upstream_model) const;
  // True when some model of this provider is shaped.
  bool shaped() const;
  ZaiWebOptions zai;                   // zai-web only
};

// "<id>.<secret>" with both parts non-empty and alphanumeric: the form of the keys a zhipu
// provider with jwt = true signs its JWTs from (validate() checks every one).
bool looks_like_id_secret(std::string_view key);

// Per-key limits and budgets ([[api_keys]] fields, defaults in [key_defaults]). While the
// configuration is read, a negative number (or models_set = false) means "not given here";
// validate() resolves every key's policy against key_defaults, after which 0 means no limit.
struct KeyPolicy {
  std::vector<std::string> models;  // names or shell globs the key may use; empty = all
  bool models_set = false;
  int64_t requests_per_minute = -1;
  int64_t tokens_per_minute = -1;   // prompt + completion tokens
  int64_t max_concurrent = -1;      // chat requests in flight
  double budget_hour_usd = -1;      // calendar windows in UTC
  double budget_day_usd = -1;
  double budget_month_usd = -1;
  int cache = -1;                   // the response cache for this key: 1 on, 0 off, -1 = follow the route / [cache]

  bool has_budget() const { return budget_hour_usd > 0 || budget_day_usd > 0 || budget_month_usd > 0; }
};

// Spend budgets of all requests together ([budget]), USD per calendar window in UTC; 0 = none.
struct GlobalBudget {
  double hour_usd = 0, day_usd = 0, month_usd = 0;
  bool any() const { return hour_usd > 0 || day_usd > 0 || month_usd > 0; }
};

struct ApiKey {
  std::string label;  // shown in logs instead of the key
  std::string key;
  // Instead of `key`: its SHA-256 as 64 lower-case hex digits (`zgate keys new` prints one), so
  // the configuration holds no usable secret. Exactly one of the two is set.
  std::string key_sha256{};
  KeyPolicy policy{};     // effective after validate()
  bool disabled = false;  // refused with 401 key_disabled, kept in the configuration
};

// A price rule: models whose name matches the shell glob `model` (fnmatch: *, ?, [...]) cost
// `price`, on routes to `provider` only when that is set. Config::prices are tried in order, the
// first match wins.
struct PriceRule {
  std::string model;
  std::string provider;  // empty = any provider
  ModelPrice price;
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error, off
  bool access_log = true;       // one line per request
  std::string format = "json";  // json | text
  std::string file;             // empty = stderr
  // The access lines in their own file (empty: with the application log, as above), rotated at
  // access_max_size bytes (0: never by size) into access_keep files <file>.1 ... .N.
  std::string access_file;
  uint64_t access_max_size = 100ull * 1024 * 1024;
  std::size_t access_keep = 5;
  // Bounded queue to the logging thread (oldest messages dropped). Each slot is preallocated,
  // so a large queue costs memory even when idle, while access lines reach the thread as one
  // batch per worker per recorder pass: a few hundred slots are plenty.
  std::size_t queue_size = 1024;
};

// Body capture, for debugging: each captured chat request becomes one JSON line with its request
// body and the response sent (both cut at max_bytes), every configured secret masked.
struct CaptureConfig {
  bool enabled = false;
  std::vector<std::string> keys;        // client key labels to capture; empty = all
  std::size_t max_bytes = 64 * 1024;    // per body
  std::string file;                     // empty = <data_dir>/capture.jsonl
};

// The response cache ([cache], docs/cache.md). `enabled` is the default of every route and key;
// `cache = true/false` on a route ([[models]]) or a key ([[api_keys]], [key_defaults]) overrides it.
struct CacheConfig {
  bool enabled = false;
  std::string scope = "shared";              // shared | key (the client key label is part of the cache key)
  std::chrono::seconds ttl{86400};
  std::size_t max_bytes = 256ull * 1024 * 1024;  // memory bound of all entries
  std::size_t max_entry_bytes = 4ull * 1024 * 1024;
  bool disk = true;                          // <data_dir>/cache.db, loaded at start
  bool deterministic_only = true;            // only temperature 0 / do_sample false
  std::string replay = "instant";            // instant | paced (stream hits)
  double replay_speed = 1.0;                 // paced: recorded gaps divided by this
  std::chrono::milliseconds replay_max_delay{1000};  // paced: cap of one gap
};

// An alert rule ([[alerts]], docs/alerts.md): a condition over the finished requests (or the
// budgets, or the recorder), evaluated about once a second; it fires once when the condition
// starts, repeats every `repeat` while it holds, and resolves when it ends.
enum class AlertKind { error_rate, latency, requests, budget, upstream_failures, recorder_drops };
enum class AlertFormat { json, slack, feishu, dingtalk, custom };
struct AlertRule {
  std::string name;
  AlertKind kind = AlertKind::error_rate;
  // error_rate: a fraction (0.1 = 10%); latency: milliseconds; requests: per minute; budget: a
  // fraction of the budget (0.8); upstream_failures: failures in a row; recorder_drops: records
  // lost in the window.
  double threshold = 0;
  bool below = false;  // requests only: fire when the rate falls below the threshold instead
  std::string stat = "avg";        // latency: avg | p95
  std::string of = "total";        // latency: total | first_token
  std::chrono::seconds window{300};
  std::chrono::seconds repeat{3600};
  std::string key;    // only requests of this client key label (budget: this budget scope)
  std::string model;  // only requests for this model
  uint64_t min_requests = 10;  // error_rate, latency: fewer requests in the window never fire
  std::string webhook;  // URL (may hold a secret); empty = the log line only
  AlertFormat format = AlertFormat::json;
  std::string body_template;  // format = custom: the JSON body with {{placeholders}}
};
// [alerting]: settings shared by the rules.
struct AlertingConfig {
  std::chrono::milliseconds interval{1000};            // how often the rules are evaluated
  std::chrono::milliseconds webhook_timeout{5000};     // per attempt (one retry)
  std::chrono::milliseconds webhook_retry_delay{1000}; // between the attempt and its retry
  std::size_t queue = 256;  // notifications waiting to be sent; the oldest dropped beyond
  std::string instance;     // names this zgate in notifications; empty = the host name
};
std::string_view to_string(AlertKind k);
std::string_view to_string(AlertFormat f);
// Every {{placeholder}} of a custom webhook template (docs/alerts.md).
inline constexpr std::string_view kAlertPlaceholders[] = {"name",    "kind",       "state",    "value",
                                                          "threshold", "message", "started_at", "instance", "scope"};
// The template with each {{name}} replaced by value(name) JSON-escaped (without quotes: the
// template puts them where it wants). A placeholder not in kAlertPlaceholders is left as it is.
std::string render_alert_template(std::string_view tpl, const std::function<std::string(std::string_view)>& value);

struct Config {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8080;
  // SO_REUSEPORT on the main listener: several zgates on one host may listen on the same port,
  // the kernel spreading new connections over them (replicas on one host; a new binary started
  // beside a draining old one). Restart-only.
  bool reuse_port = false;
  // A second address serving only /metrics and /health (e.g. a port kept off the public
  // network); empty host = none. The main listener serves /metrics too.
  std::string metrics_listen_host;
  uint16_t metrics_listen_port = 0;
  unsigned workers = 0;  // 0 = hardware threads
  // How background threads (recorder, checkpoints, alerts, webhooks, admin queries, the log
  // writer) yield to the workers: "idle" (SCHED_IDLE, with the recorder's no-loss fallback) or
  // "nice" (nice +5, the default). Restart-only.
  std::string background_priority = "nice";
  std::vector<ApiKey> api_keys;
  // Defaults for the policy fields a key does not set ([key_defaults]), and the spend budgets
  // of all requests together ([budget]; 0 = no limit, calendar windows in UTC).
  KeyPolicy key_defaults;
  GlobalBudget budget;
  bool allow_no_auth = false;
  // The operator's key for /admin/* and (when set) /metrics; distinct from every client key,
  // and never accepted on the chat endpoints. Empty = the admin API is off.
  std::string admin_key;
  std::string cors_origin = "*";
  std::vector<ProviderConfig> providers;
  std::string default_provider;  // provider for models not listed (when allow_unlisted_models)
  std::vector<ModelRoute> models;
  bool allow_unlisted_models = true;
  // Prices for routes without their own ([[prices]] patterns, then default_price); validate()
  // applies them to the routes, the router to unlisted models.
  std::vector<PriceRule> prices;
  std::optional<ModelPrice> default_price;
  Timeouts timeouts;
  Limits limits;
  RetryPolicy retry;
  HealthSettings health;
  LogConfig log;
  CaptureConfig capture;
  CacheConfig cache;
  std::vector<AlertRule> alerts;
  AlertingConfig alerting;
  std::string data_dir = "./data";
  bool usage_store = true;       // one row per chat request in <data_dir>/usage.db (SQLite)
  int usage_retention_days = 0;  // rows older than this are deleted; 0 = kept
  bool debug = false;
  bool demo = false;  // offline demo: start the bundled mock as the upstream

  const ProviderConfig* find_provider(std::string_view name) const;
};

// A configuration error names the key and the reason; zgate prints it and exits.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown by load_config for --help / --version: main() prints `text` and exits with `code`.
struct ConfigExit {
  int code = 0;
  std::string text;
};

// Loads the configuration: defaults < environment < TOML file (--config / ZGATE_CONFIG) < flags.
// `env` looks a variable up (nullptr = unset); tests pass their own.
using EnvLookup = const char* (*)(const char*);
std::shared_ptr<const Config> load_config(int argc, const char* const* argv, EnvLookup env = nullptr);

// Parses a TOML document on top of `cfg` (exposed for tests).
// `key_env` / `api_key_env` style keys are looked up with `env` (nullptr = the real environment).
void apply_toml(Config& cfg, std::string_view toml_text, std::string_view source_name);
void apply_toml(Config& cfg, std::string_view toml_text, std::string_view source_name,
                EnvLookup env);

// Checks cross-references and ranges; throws ConfigError.
// Also normalises: workers 0 -> hardware threads, default_provider, model routes' empty
// provider / upstream_model, and fills providers without routes with their kind's defaults.
void validate(Config& cfg);

// The settings that differ between `running` and `next` but that a running gateway cannot change
// (listen address, workers, logging, the usage store, connection pool sizes), by their TOML
// names; empty when a reload can apply everything.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

// A multi-line human summary for the start-up log; every secret is masked.
std::string describe(const Config& cfg);
// The effective configuration as one JSON object (GET /admin/config): every setting, every
// secret (client, admin and upstream keys, zai-web tokens and signing secrets, extra header
// values) replaced by its fingerprint ("sha256:" + 8 hex digits; "" when unset).
std::string describe_json(const Config& cfg);

// Where the usage store lives: <data_dir>/usage.db.
std::string usage_db_path(const Config& cfg);
// Where the response cache's disk copy lives: <data_dir>/cache.db.
std::string cache_db_path(const Config& cfg);
// Where captured bodies go: capture.file, else <data_dir>/capture.jsonl.
std::string capture_path(const Config& cfg);
// Every secret the configuration holds (client keys, the admin key, upstream keys, zai-web
// tokens and signing secrets, extra header values), non-empty ones only.
std::vector<std::string> config_secrets(const Config& cfg);

}  // namespace zgate
