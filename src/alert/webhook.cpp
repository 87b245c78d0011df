// Webhook posts with libcurl: one easy handle per post (notifications are rare), a timeout per
// attempt, and a progress callback that ends a transfer once zgate stops.
//
// libcurl is opened with dlopen() when the first sender is made (alert rules are configured), not
// linked: Debian's libcurl brings about thirty libraries of its own (GnuTLS, Kerberos, LDAP, SSH,
// RTMP, ...) whose pages and load-time constructors every zgate process paid for, in resident
// memory and start-up time, though most never post a webhook (docs/alerts.md).
#include <dlfcn.h>

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "zgate/alert/alert.hpp"

namespace zgate::alert {
namespace {

// The libcurl functions a post uses, resolved once.
struct Curl {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
  std::string error;  // why libcurl is not usable; empty when it is
};

template <class F>
bool resolve(void* lib, const char* name, F& f, std::string& error) {
  f = reinterpret_cast<F>(::dlsym(lib, name));
  if (!f && error.empty()) error = fmt::format("libcurl has no {}", name);
  return f != nullptr;
}

// Opened on first use, for the process's life (a library with thread-local state is not unloaded).
const Curl& curl() {
  static const Curl c = [] {
    Curl c;
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = ::dlerror();
      c.error = fmt::format("libcurl (libcurl.so.4) could not be loaded: {}", why ? why : "unknown error");
      return c;
    }
    bool ok = true;
    ok &= resolve(lib, "curl_global_init", c.global_init, c.error);
    ok &= resolve(lib, "curl_easy_init", c.easy_init, c.error);
    ok &= resolve(lib, "curl_easy_setopt", c.easy_setopt, c.error);
    ok &= resolve(lib, "curl_easy_perform", c.easy_perform, c.error);
    ok &= resolve(lib, "curl_easy_getinfo", c.easy_getinfo, c.error);
    ok &= resolve(lib, "curl_easy_cleanup", c.easy_cleanup, c.error);
    ok &= resolve(lib, "curl_easy_strerror", c.easy_strerror, c.error);
    ok &= resolve(lib, "curl_slist_append", c.slist_append, c.error);
    ok &= resolve(lib, "curl_slist_free_all", c.slist_free_all, c.error);
    if (ok && c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) c.error = "libcurl could not be initialised";
    return c;
  }();
  return c;
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

int progress(void* abort, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(abort)->load() ? 1 : 0;
}

class CurlSender final : public Sender {
 public:
  CurlSender(std::chrono::milliseconds timeout, const std::atomic<bool>* abort) : timeout_(timeout), abort_(abort) {
    if (!curl().error.empty()) spdlog::error("alert webhooks cannot be posted: {}", curl().error);
  }

  bool post(const std::string& url, const std::string& body, std::string& error) override {
    const Curl& c = curl();
    if (!c.error.empty()) {
      error = c.error;
      return false;
    }
    CURL* h = c.easy_init();
    if (!h) {
      error = "libcurl could not make a handle";
      return false;
    }
    curl_slist* headers = c.slist_append(nullptr, "Content-Type: application/json");
    c.easy_setopt(h, CURLOPT_URL, url.c_str());
    c.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    c.easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    c.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    c.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    c.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
    c.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    c.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    c.easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    c.easy_setopt(h, CURLOPT_USERAGENT, "zgate-alert");
    if (abort_) {
      c.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      c.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
      c.easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(abort_));
    }
    const CURLcode rc = c.easy_perform(h);
    long status = 0;
    c.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    c.slist_free_all(headers);
    c.easy_cleanup(h);
    // The URL is not named: incoming-webhook URLs carry their token.
    if (rc != CURLE_OK) {
      error = c.easy_strerror(rc);
      return false;
    }
    if (status < 200 || status > 299) {
      error = fmt::format("HTTP {}", status);
      return false;
    }
    return true;
  }

 private:
  std::chrono::milliseconds timeout_;
  const std::atomic<bool>* abort_;
};

}  // namespace

std::unique_ptr<Sender> make_curl_sender(std::chrono::milliseconds timeout, const std::atomic<bool>* abort) {
  return std::make_unique<CurlSender>(timeout, abort);
}

}  // namespace zgate::alert
