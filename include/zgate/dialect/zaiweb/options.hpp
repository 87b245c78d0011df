#pragma once
// The options of a chat.z.ai web-frontend provider (the zai-web dialect); the configuration
// fills them from a provider's settings.
#include <string>

namespace zgate {

struct ZaiWebOptions {
  std::string token;                   // UPSTREAM_TOKEN; empty = guest tokens
  bool guest_per_conversation = false; // a fresh guest token per request
  std::string signing_secret;          // empty = legacy unsigned endpoint
  std::string fe_version = "prod-fe-1.0.95";
  bool refresh_fe_version = false;     // read X-FE-Version from the landing page at start
  std::string signed_path = "/api/v2/chat/completions";
  std::string legacy_path = "/api/chat/completions";
  std::string thinking_mode = "reasoning";  // reasoning | think_tags | strip
  std::string user_agent;
  bool function_calling = true;        // emulate OpenAI tools by prompt injection
};

}  // namespace zgate
