#pragma once
// `zgate keys`: client keys for the [[api_keys]] table. `new` makes a random key and prints the
// entry that configures it by its SHA-256 (key_sha256), so the configuration file holds no
// usable secret; the key itself goes to stderr, once, for the operator to hand out. `hash`
// prints the entry for a key read from stdin.
#include <string>
#include <string_view>

namespace zgate::cli {

// "sk-zg-" and 40 base62 characters (~238 bits) from OpenSSL's RAND_bytes. Throws
// std::runtime_error when the generator fails.
std::string new_client_key();

// The [[api_keys]] entry of `key` under `label`, with its SHA-256 instead of the key, and the
// same as a ZGATE_API_KEYS item in a comment.
std::string api_key_entry(std::string_view label, std::string_view key);

// A label fit for both the TOML entry and ZGATE_API_KEYS: 1-64 of A-Z a-z 0-9 . _ -
bool valid_key_label(std::string_view label);

// `zgate keys new [--label L]` / `zgate keys hash [--label L]`; argv[1] is "keys".
// Exit code 0, 1 on an error, 2 on a usage error.
int run_keys(int argc, char** argv);

}  // namespace zgate::cli
