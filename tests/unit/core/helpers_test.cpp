#include <catch2/catch.hpp>

#include "zgate/core/encoding.hpp"
#include "zgate/core/ids.hpp"
#include "zgate/core/text.hpp"

using namespace zgate;

TEST_CASE("text::trim removes ASCII whitespace at both ends only", "[core][text]") {
  CHECK(text::trim(" \t a b \r\n") == "a b");
  CHECK(text::trim("").empty());
  CHECK(text::trim("   ").empty());
}

TEST_CASE("text::iequals compares ASCII case-insensitively", "[core][text]") {
  CHECK(text::iequals("Content-Length", "content-length"));
  CHECK_FALSE(text::iequals("chunked", "chunke"));
  CHECK_FALSE(text::iequals("a", "b"));
  CHECK(text::iequals("", ""));
  CHECK_FALSE(text::iequals("x-api-key", "x-api-kez"));
  CHECK_FALSE(text::iequals("\xC3\xA9", "\xC3\x89"));  // é / É: not ASCII, compared as bytes
}

TEST_CASE("text::parse_port accepts 1..65535, and 0 only when asked", "[core][text]") {
  CHECK(text::parse_port("8080") == uint16_t{8080});
  CHECK(text::parse_port("65535") == uint16_t{65535});
  CHECK_FALSE(text::parse_port("65536"));
  CHECK_FALSE(text::parse_port("0"));
  CHECK(text::parse_port("0", true) == uint16_t{0});
  CHECK_FALSE(text::parse_port(""));
  CHECK_FALSE(text::parse_port("80a"));
  CHECK_FALSE(text::parse_port("-1"));
}

TEST_CASE("text::parse_bool and split_list", "[core][text]") {
  CHECK(text::parse_bool(" Yes ") == true);
  CHECK(text::parse_bool("off") == false);
  CHECK_FALSE(text::parse_bool("maybe"));
  CHECK(text::split_list(" a, b,,c ,") == std::vector<std::string>{"a", "b", "c"});
  CHECK(text::split_list("").empty());
}

TEST_CASE("text::printable shows control characters escaped and keeps the rest", "[core][text]") {
  CHECK(text::printable("glm-4.6") == "glm-4.6");
  CHECK(text::printable("\x1b[2J\x1b]0;owned\x07") == "\\x1b[2J\\x1b]0;owned\\x07");
  CHECK(text::printable("a\nb\tc\x7f") == "a\\x0ab\\x09c\\x7f");
  CHECK(text::printable(std::string_view("a\0b", 3)) == "a\\x00b");
  // C1 controls as UTF-8 (U+009B is CSI on some terminals); other UTF-8 is kept.
  CHECK(text::printable("x\xc2\x9b" "1m") == "x\\u009b1m");
  CHECK(text::printable("\xc2\xa0\xe6\x99\xba\xe8\xb0\xb1") == "\xc2\xa0\xe6\x99\xba\xe8\xb0\xb1");
  CHECK(text::printable("\xc2") == "\xc2");  // a cut sequence at the end: kept
}

TEST_CASE("encoding: base64 round trips every tail length (RFC 4648 vectors)", "[core][encoding]") {
  CHECK(encoding::base64_encode("") == "");
  CHECK(encoding::base64_encode("f") == "Zg==");
  CHECK(encoding::base64_encode("fo") == "Zm8=");
  CHECK(encoding::base64_encode("foo") == "Zm9v");
  CHECK(encoding::base64_encode("foobar") == "Zm9vYmFy");
  for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    CHECK(encoding::base64_decode(encoding::base64_encode(s)) == std::string(s));
  CHECK(encoding::base64url_encode("\xfb\xff") == "-_8");
  CHECK(encoding::base64_decode("-_8") == std::string("\xfb\xff"));
  CHECK(encoding::base64_decode("Zm9v\nYmFy") == std::string("foobar"));
  CHECK_FALSE(encoding::base64_decode("Zm9v!"));
  CHECK_FALSE(encoding::base64_decode("Zg==Zg"));
  CHECK_FALSE(encoding::base64_decode("Z"));
  CHECK(encoding::hex_encode("\x01\xab") == "01ab");
}

TEST_CASE("encoding: form_decode turns + into a space and %XX into a byte, and refuses a broken escape", "[core][encoding]") {
  CHECK(encoding::form_decode("a+b%20c%2Fd%e4%B8%ad") == std::optional<std::string>("a b c/d\xe4\xb8\xad"));
  CHECK(encoding::form_decode("") == std::optional<std::string>(""));
  CHECK_FALSE(encoding::form_decode("50%"));
  CHECK_FALSE(encoding::form_decode("%4"));
  CHECK_FALSE(encoding::form_decode("%zz"));
}

TEST_CASE("ids: random hex and version-4 UUIDs have the right shape", "[core][ids]") {
  const std::string h = ids::random_hex(29);
  CHECK(h.size() == 29);
  CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
  const std::string u = ids::uuid4();
  REQUIRE(u.size() == 36);
  CHECK(u[8] == '-');
  CHECK(u[14] == '4');
  CHECK(std::string_view("89ab").find(u[19]) != std::string_view::npos);
  CHECK(ids::uuid4() != u);
}

TEST_CASE("ids: random hex after a prefix keeps the prefix and draws every digit", "[core][ids]") {
  const std::string a = ids::random_hex("req_", 24);
  REQUIRE(a.size() == 28);
  CHECK(a.rfind("req_", 0) == 0);
  CHECK(a.find_first_not_of("0123456789abcdef", 4) == std::string::npos);
  // 24 digits span two draws of the generator: the second half is random too, not zeros.
  std::string tails;
  for (int i = 0; i < 8; ++i) tails += ids::random_hex("req_", 24).substr(20);
  CHECK(tails.find_first_not_of('0') != std::string::npos);
  CHECK(ids::random_hex("p-", 0) == "p-");
}
