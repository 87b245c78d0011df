#pragma once
// Helpers shared by the environment, TOML and command-line layers of the configuration.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/config/config.hpp"

namespace zgate::config_detail {

// "1/true/yes/on" and "0/false/no/off" (case-insensitive); nullopt otherwise.
std::optional<bool> parse_bool(std::string_view s);

// "host:port", "[v6]:port", ":port" (all interfaces). Returns an error reason or "".
std::string parse_listen(std::string_view s, std::string& host, uint16_t& port);

// A port number 0..65535 (0 = any, for tests).
std::optional<uint16_t> parse_port(std::string_view s);

std::optional<ProviderKind> parse_kind(std::string_view s);

bool valid_log_level(std::string_view s);
bool valid_log_format(std::string_view s);
bool valid_thinking_mode(std::string_view s);

// One "key" or "label=key" entry; unlabeled entries get "key-<n>" from `unlabeled_counter`.
ApiKey parse_api_key_entry(std::string_view entry, int& unlabeled_counter);

// Checks labels and keys are non-empty and unique; `what` names the source in the error.
void check_api_keys(const std::vector<ApiKey>& keys, std::string_view what);

std::string_view trim(std::string_view s);

// The non-empty items of a comma-separated list, each trimmed ("a, b,,c" -> a, b, c).
std::vector<std::string> split_list(std::string_view s);

}  // namespace zgate::config_detail
