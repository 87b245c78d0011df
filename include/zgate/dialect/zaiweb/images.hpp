#pragma once
// zai-web images: the backend wants its own file ids, so image parts are uploaded first.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zgate/dialect/zaiweb/options.hpp"
#include "zgate/model/route.hpp"
#include "zgate/core/error.hpp"
#include "zgate/model/dialect.hpp"
#include "zgate/model/request.hpp"
#include "zgate/dialect/zaiweb/identity.hpp"

namespace zgate::zaiweb {

// A file uploaded with POST /api/v1/files/.
struct FileRef {
  std::string id, user_id, filename, content_type, cdn_url;
  int64_t size = 0;
  int64_t created_at = 0;
};

struct DataUrl {
  std::string content_type;  // e.g. image/png ("application/octet-stream" when not given)
  std::string bytes;
};
// Decodes `data:[<type>][;base64],<data>` (base64 or percent-encoded); a 400
// invalid_request_error when it is not a valid data URL.
Result<DataUrl> decode_data_url(std::string_view url);

enum class ImageAction : unsigned char {
  upload_data_url,   // decode_data_url, then upload
  fetch_and_upload,  // an http(s) URL: GET it, then upload (the backend needs its own file id)
  pass_through,      // send the URL as is (guests cannot upload)
};
struct ImageJob {
  std::size_t message = 0;  // index into ChatRequest::messages
  std::size_t part = 0;     // index into Message::parts
  ImageAction action = ImageAction::pass_through;
  std::string url;
  std::string filename;     // suggested upload filename (image-<n>.<ext>)
};
// The image parts of the request in message order, with what to do for each. Guests pass
// http(s) URLs through and still try to upload data: URLs (the upload error then explains).
std::vector<ImageJob> plan_images(const ChatRequest& req, const AuthInfo& auth);

// POST /api/v1/files/ (multipart/form-data, field "file").
UpstreamRequest build_upload_request(const AuthInfo& auth, const ZaiWebOptions& opts, std::string_view filename,
                                     std::string_view content_type, std::string_view bytes,
                                     std::string_view boundary);
// The uploaded file from the upload's answer, or why it failed.
Result<FileRef> parse_upload_response(int status, std::string_view content_type, std::string_view body);

}  // namespace zgate::zaiweb
