#include "zgate/model/request.hpp"

namespace zgate {

void release_content(ChatRequest& r) {
  std::vector<Message>().swap(r.messages);
  std::vector<ToolDef>().swap(r.tools);
  std::vector<std::string>().swap(r.stop);
  std::vector<std::pair<std::string, std::string>>().swap(r.extra);
  std::string().swap(r.json_schema);
  std::string().swap(r.user);
}

}  // namespace zgate
