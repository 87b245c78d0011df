#include "zgate/cli/keys.hpp"

#include <openssl/rand.h>

#include <iostream>
#include <iterator>
#include <stdexcept>

#include "zgate/core/secret.hpp"
#include "zgate/core/text.hpp"

namespace zgate::cli {
namespace {

constexpr std::string_view kPrefix = "sk-zg-";
constexpr std::size_t kRandomChars = 40;
constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr std::string_view kUsage =
    "Usage: zgate keys new [--label LABEL]\n"
    "       zgate keys hash [--label LABEL] < file-with-the-key\n"
    "new:  makes a random client key; prints its [[api_keys]] entry (with key_sha256, the key's\n"
    "      SHA-256, so the configuration holds no secret) on stdout, and the key itself on\n"
    "      stderr, once: hand it to the client, it is not stored anywhere.\n"
    "      e.g.  zgate keys new --label alice >> zgate.toml\n"
    "hash: reads a key from stdin and prints its [[api_keys]] entry.\n"
    "The label (A-Z a-z 0-9 . _ -, up to 64) names the key in logs; default key-<digest prefix>.\n";

}  // namespace

std::string new_client_key() {
  std::string key(kPrefix);
  unsigned char buf[64];
  // Rejection sampling: bytes of 248 and above are dropped so every base62 digit is equally
  // likely (248 = 4 * 62).
  while (key.size() < kPrefix.size() + kRandomChars) {
    if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("the random number generator failed");
    for (const unsigned char b : buf) {
      if (b >= 248 || key.size() == kPrefix.size() + kRandomChars) continue;
      key.push_back(kBase62[b % 62]);
    }
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return key;
}

bool valid_key_label(std::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  for (const char c : label) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string api_key_entry(std::string_view label, std::string_view key) {
  const std::string digest = sha256_hex(key);
  const std::string name = label.empty() ? "key-" + digest.substr(0, 8) : std::string(label);
  std::string out;
  out += "[[api_keys]]\n";
  out += "label = \"" + name + "\"\n";
  out += "key_sha256 = \"" + digest + "\"\n";
  out += "# or in ZGATE_API_KEYS: " + name + "=sha256:" + digest + "\n";
  return out;
}

int run_keys(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string_view cmd = argv[2];
  if (cmd == "-h" || cmd == "--help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd != "new" && cmd != "hash") {
    std::cerr << "zgate keys: unknown command '" << cmd << "'\n" << kUsage;
    return 2;
  }
  std::string label;
  for (int i = 3; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--label" && i + 1 < argc) {
      label = argv[++i];
    } else if (a.substr(0, 8) == "--label=") {
      label = std::string(a.substr(8));
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "zgate keys: unknown argument '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (!label.empty() && !valid_key_label(label)) {
    std::cerr << "zgate keys: --label: '" << label << "' must be 1-64 of A-Z a-z 0-9 . _ -\n";
    return 2;
  }
  if (cmd == "new") {
    std::string key;
    try {
      key = new_client_key();
    } catch (const std::exception& e) {
      std::cerr << "zgate keys: " << e.what() << "\n";
      return 1;
    }
    std::cout << api_key_entry(label, key) << std::flush;
    std::cerr << "The new client key (shown this once; only its SHA-256 is in the entry above):\n" << key << "\n";
    return 0;
  }
  const std::string input{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  const std::string_view key = text::trim(input);
  if (key.empty() || key.find_first_of("\r\n") != std::string_view::npos) {
    std::cerr << "zgate keys hash: stdin must hold one key on one line\n";
    return 1;
  }
  std::cout << api_key_entry(label, key);
  return 0;
}

}  // namespace zgate::cli
