// zai-web images: the multipart upload, its answer, data URLs.
#include <string>

#include <catch2/catch.hpp>

#include "support.hpp"
#include "zgate/dialect/zaiweb/zaiweb.hpp"

using namespace zgate;
using namespace zgate::zaiweb;
using zgate::zaiweb::test::header;

TEST_CASE("zaiweb upload: multipart body with the file field", "[unit][zaiweb]") {
  ZaiWebOptions o;
  const UpstreamRequest r = build_upload_request(AuthInfo{"tok", "u", "", "user"}, o, "a\"b.png", "image/png",
                                                 std::string_view("\x89PNG\0", 5), "zgateBoundary42");
  CHECK(r.method == "POST");
  CHECK(r.target == "/api/v1/files/");
  CHECK(header(r, "Authorization") == "Bearer tok");
  CHECK(header(r, "Content-Type") == "multipart/form-data; boundary=zgateBoundary42");
  std::string want =
      "--zgateBoundary42\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a_b.png\"\r\n"
      "Content-Type: image/png\r\n\r\n";
  want.append("\x89PNG", 4);
  want.push_back('\0');
  want.append("\r\n--zgateBoundary42--\r\n");
  CHECK(r.body == want);
}

TEST_CASE("zaiweb upload: the answer becomes a FileRef, and refusals explain guests cannot upload", "[unit][zaiweb]") {
  const Result<FileRef> ok = parse_upload_response(200, "application/json",
      R"({"id":"f1","user_id":"u1","filename":"a.png","meta":{"name":"a.png","content_type":"image/png","size":1234,"cdn_url":"https://cdn/x"},"created_at":17})");
  REQUIRE(ok.ok());
  CHECK(ok->id == "f1");
  CHECK(ok->user_id == "u1");
  CHECK(ok->filename == "a.png");
  CHECK(ok->content_type == "image/png");
  CHECK(ok->size == 1234);
  CHECK(ok->cdn_url == "https://cdn/x");
  CHECK(ok->created_at == 17);
  const Result<FileRef> guest_no = parse_upload_response(403, "application/json", R"({"detail":"Forbidden"})");
  REQUIRE_FALSE(guest_no.ok());
  CHECK(guest_no.error().message.find("Guests cannot upload images") != std::string::npos);
  CHECK_FALSE(parse_upload_response(200, "application/json", R"({"detail":"no"})").ok());
}

TEST_CASE("zaiweb upload: data URLs decode (base64 or percent-encoded) or fail clearly", "[unit][zaiweb]") {
  const Result<DataUrl> png = decode_data_url("data:image/png;base64,iVBORw0KGgo=");
  REQUIRE(png.ok());
  CHECK(png->content_type == "image/png");
  CHECK(png->bytes == std::string("\x89PNG\r\n\x1a\n", 8));
  const Result<DataUrl> text = decode_data_url("DATA:,a%20b");
  REQUIRE(text.ok());
  CHECK(text->content_type == "application/octet-stream");
  CHECK(text->bytes == "a b");
  const Result<DataUrl> bad = decode_data_url("data:image/png;base64,@@@");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().status == 400);
  CHECK(bad.error().message.find("base64") != std::string::npos);
  CHECK_FALSE(decode_data_url("https://x/y.png").ok());
  CHECK_FALSE(decode_data_url("data:image/png;base64").ok());
}
