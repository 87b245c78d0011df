// Webhook posts with libcurl: one easy handle per post (notifications are rare), a timeout per
// attempt, and a progress callback that ends a transfer once zgate stops.
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

#include "zgate/alert/alert.hpp"

namespace zgate::alert {
namespace {

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

int progress(void* abort, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(abort)->load() ? 1 : 0;
}

class CurlSender final : public Sender {
 public:
  CurlSender(std::chrono::milliseconds timeout, const std::atomic<bool>* abort) : timeout_(timeout), abort_(abort) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  bool post(const std::string& url, const std::string& body, std::string& error) override {
    CURL* h = curl_easy_init();
    if (!h) {
      error = "libcurl could not make a handle";
      return false;
    }
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "zgate-alert");
    if (abort_) {
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(abort_));
    }
    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    // The URL is not named: incoming-webhook URLs carry their token.
    if (rc != CURLE_OK) {
      error = curl_easy_strerror(rc);
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
