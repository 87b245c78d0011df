// chat.z.ai request signing: every published test vector (docs/protocols/zai-web.md), byte for byte.
#include <catch2/catch.hpp>

#include <string>

#include "zgate/core/encoding.hpp"
#include "zgate/dialect/zaiweb/sign.hpp"

using namespace zgate::zaiweb;

namespace {

constexpr std::string_view kSecret = "key-@@@@)))()((9))-xxxx&&&%%%%%";
constexpr std::string_view kRid = "eef12d6c-6dc9-47a0-aae8-b9f3454f98c5";
constexpr std::string_view kUid = "21ea9ec3-e492-4dbb-b522-fc0eaf64f0f6";
constexpr int64_t kTs = 1761038714733;

struct Vector {
  std::string_view secret, prompt;
  int64_t ts;
  std::string_view rid, uid;
  int64_t window;
  std::string_view key, signature;
  bool base64;
};

// The vectors, row by row (the legacy row abbreviates the ids of row 1; they are the same values).
const Vector kVectors[] = {
    {kSecret, "hi", kTs, kRid, kUid, 5870129,
     "ff9d452f4a51fa3ac447e49502dcada0538c4aaa1b8301d0118bc73fcafcc655",
     "e1939c1a60c96c6ef2441cbbf09e72bc0d4895db7722410950be7822eb8ee71c", true},
    {kSecret, "", kTs, kRid, kUid, 5870129,
     "ff9d452f4a51fa3ac447e49502dcada0538c4aaa1b8301d0118bc73fcafcc655",
     "debf0d06f19a7669f1a78580aa906f08e52eb1607dc6e65be9ea23aceb4eb40d", true},
    {kSecret, "你好, world 🌏", 1700000123456, "322f2d5c-46a6-4111-8222-abcabcabcabc", "user-42", 5666667,
     "02206e13ee80e88ccb278c5e704b34a0afac5e9f8a0cfaffe9b91d3f5769e4d7",
     "d160c9593dbf42529233fa63c3feb63eff54f9a04b54f02283fe0aebaf476f8c", true},
    {kSecret, "Hello", 1750000000000, "46daabfa-1cdf-4000-8000-000000000000", "", 5833333,
     "00a3bb31e434a6f9fa5f74366d775acc9c156bae0c6ef64d702c9dd252a56d54",
     "ca8c6d540569961a83bdcf1658a6f96e8796781330281e29015631506c831e66", true},
    {"TEST-KEY-DO-NOT-USE", "Hello", 1750000000000, "46daabfa-1cdf-4000-8000-000000000000", "", 5833333,
     "992db111a88286cb70a5d68672e2884d2147bcc19e093f6294c26baae54b5fcf",
     "445932babc488914f261537fdbc68ccc8bd3be7b9b32a657d450bf644db70348", true},
    {"junjie", "hi", kTs, kRid, kUid, 5870129,
     "cf516d2360a22db101267d75801729ed6829ede490ff4f6e5fb963cacae461c7",
     "24199c8392470f2e517b74d80a4bb280904cf3284b47520096d51535a95cd7db", false},
};

}  // namespace

TEST_CASE("zaiweb signer: every vector gives the derived key and X-Signature byte for byte", "[unit][zaiweb]") {
  for (const auto& v : kVectors) {
    INFO("secret=" << v.secret << " prompt=" << v.prompt << " ts=" << v.ts);
    CHECK(v.ts / kSignatureWindowMs == v.window);
    CHECK(derive_signing_key(v.secret, v.ts) == v.key);
    CHECK(compute_signature(v.secret, v.rid, v.ts, v.uid, v.prompt, v.base64) == v.signature);
  }
}

TEST_CASE("zaiweb signer: the signed message of vector row 1 is exact", "[unit][zaiweb]") {
  CHECK(signing_message(kRid, kTs, kUid, "hi") ==
        "requestId,eef12d6c-6dc9-47a0-aae8-b9f3454f98c5,timestamp,1761038714733,user_id,"
        "21ea9ec3-e492-4dbb-b522-fc0eaf64f0f6|aGk=|1761038714733");
  CHECK(signing_message(kRid, kTs, kUid, "hi", false).find("|hi|") != std::string::npos);
}

TEST_CASE("zaiweb signer: the signed query carries the signed values, signature_timestamp last", "[unit][zaiweb]") {
  SignInput in;
  in.secret = kSecret;
  in.token = "eyJ.a+b/c=";
  in.user_id = kUid;
  in.request_id = kRid;
  in.chat_id = "chat-1";
  in.prompt = "hi";
  in.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/140.0.0.0 Safari/537.36";
  in.timestamp_ms = kTs;
  const Signature s = sign_request(in);
  CHECK(s.signature == "e1939c1a60c96c6ef2441cbbf09e72bc0d4895db7722410950be7822eb8ee71c");
  CHECK(s.timestamp_ms == kTs);
  CHECK(s.query.rfind("timestamp=1761038714733&requestId=eef12d6c-6dc9-47a0-aae8-b9f3454f98c5&user_id=", 0) == 0);
  CHECK(s.query.size() > 40);
  CHECK(s.query.substr(s.query.size() - 34) == "&signature_timestamp=1761038714733");
  CHECK(query_param(s.query, "token") == "eyJ.a+b/c=");  // encoded in the query, decoded back
  CHECK(s.query.find("token=eyJ.a%2Bb%2Fc%3D") != std::string::npos);
  CHECK(query_param(s.query, "user_id") == kUid);
  CHECK(query_param(s.query, "version") == "0.0.1");
  CHECK(query_param(s.query, "platform") == "web");
  CHECK(query_param(s.query, "current_url") == "https://chat.z.ai/c/chat-1");
  CHECK(query_param(s.query, "pathname") == "/c/chat-1");
  CHECK(query_param(s.query, "local_time") == "2025-10-21T09:25:14.733Z");
  CHECK(query_param(s.query, "utc_time") == "Tue, 21 Oct 2025 09:25:14 GMT");
  CHECK(query_param(s.query, "os_name") == "Windows");
  bool found = true;
  CHECK(query_param(s.query, "search", &found).empty());
  CHECK(found);
  query_param(s.query, "nope", &found);
  CHECK_FALSE(found);
}

TEST_CASE("zaiweb signer: verify_signature accepts the current window and rejects tampering or skew", "[unit][zaiweb]") {
  const std::string sig = compute_signature(kSecret, kRid, kTs, kUid, "hi");
  CHECK(verify_signature(kSecret, kRid, kTs, kUid, "hi", sig, kTs + 1000));
  CHECK(verify_signature(kSecret, kRid, kTs, kUid, "hi", sig, kTs + kSignatureWindowMs));  // previous window
  CHECK_FALSE(verify_signature(kSecret, kRid, kTs, kUid, "hi", sig, kTs + 3 * kSignatureWindowMs));
  CHECK_FALSE(verify_signature(kSecret, kRid, kTs, kUid, "hj", sig, kTs));
  CHECK_FALSE(verify_signature(kSecret, kRid, kTs, "someone-else", "hi", sig, kTs));
  CHECK_FALSE(verify_signature("junjie", kRid, kTs, kUid, "hi", sig, kTs));
}

TEST_CASE("zaiweb signing base64 (core/encoding): UTF-8 prompts, padding, URL-safe input", "[unit][zaiweb]") {
  using zgate::encoding::base64_decode;
  using zgate::encoding::base64_encode;
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("你好") == "5L2g5aW9");
  CHECK(base64_decode("Zm9vYg==") == std::string("foob"));
  CHECK(base64_decode("Zm9vYg") == std::string("foob"));  // padding optional
  CHECK(base64_decode("_-8=") == std::string("\xff\xef"));  // URL-safe alphabet
  CHECK(base64_decode("Zm9v\r\nYmFy") == std::string("foobar"));
  CHECK_FALSE(base64_decode("Zm9v!"));
  CHECK_FALSE(base64_decode("Z"));
  CHECK_FALSE(base64_decode("Zg==Zg"));
}

TEST_CASE("zaiweb calendar helpers format UTC times", "[unit][zaiweb]") {
  CHECK(iso8601_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(rfc1123(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(datetime_utc(1772359200000) == "2026-03-01 10:00:00");
  CHECK(weekday_utc(1772359200000) == "Sunday");
  CHECK(iso8601_ms(951782400123) == "2000-02-29T00:00:00.123Z");  // leap day
}
