// Body capture (obs/capture.hpp): masking, the line, and the hand-over to the file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "zgate/obs/capture.hpp"

using namespace zgate;
using obs::mask_secrets;

TEST_CASE("capture: every occurrence of every secret is masked") {
  const std::vector<std::string> secrets{"sk-client-key-0001", "upstream-secret-xyz"};
  CHECK(mask_secrets("a sk-client-key-0001 b sk-client-key-0001 upstream-secret-xyz", secrets, false) ==
        "a *** b *** ***");
  CHECK(mask_secrets("nothing here", secrets, false) == "nothing here");
}

TEST_CASE("capture: a secret cut by the truncation does not leave its beginning") {
  const std::vector<std::string> secrets{"sk-client-key-0001"};
  CHECK(mask_secrets("text then sk-client-k", secrets, true) == "text then ***");
  CHECK(mask_secrets("text then sk-client-k", secrets, false) == "text then sk-client-k");  // not cut: kept
}

TEST_CASE("capture: the line holds the metadata, masked bodies and the truncated flags") {
  std::string line;
  obs::format_capture(line, {"req-1", "ops", "glm-4.5", 200, true, 1700000000123}, R"({"k":"sk-secret-00001"})",
                      false, "data: x\n\n", true, {"sk-secret-00001"});
  CHECK(line.find(R"("request_id":"req-1")") != std::string::npos);
  CHECK(line.find(R"("ts":"2023-11-14T22:13:20.123Z")") != std::string::npos);
  CHECK(line.find(R"("request":"{\"k\":\"***\"}")") != std::string::npos);
  CHECK(line.find(R"("response":"data: x\n\n")") != std::string::npos);
  CHECK(line.find(R"("request_truncated":false)") != std::string::npos);
  CHECK(line.find(R"("response_truncated":true)") != std::string::npos);
  CHECK(line.find("sk-secret-00001") == std::string::npos);
}

TEST_CASE("capture: submitted bodies are cut at max_bytes and written by the capture thread") {
  std::string dir = (std::filesystem::temp_directory_path() / "zgate-capture-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  const std::string path = dir + "/capture.jsonl";
  {
    CaptureConfig cc;
    cc.enabled = true;
    cc.max_bytes = 10;
    cc.keys = {"ops"};
    obs::Capture cap(cc, {"topsecret99"}, path);
    CHECK(cap.wants("ops"));
    CHECK_FALSE(cap.wants("other"));
    CHECK(cap.submit({"r1", "ops", "m", 200, false, 0}, "0123456789ABCDEF", "short", false));
    cap.flush();
    CHECK(cap.stats().written == 1);
  }
  std::ifstream in(path);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line.find(R"("request":"0123456789")") != std::string::npos);
  CHECK(line.find(R"("request_truncated":true)") != std::string::npos);
  CHECK(line.find(R"("response":"short")") != std::string::npos);
  CHECK(line.find(R"("response_truncated":false)") != std::string::npos);
  std::filesystem::remove_all(dir);
}
