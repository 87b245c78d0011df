// zai-web images: data URLs decoded, image parts planned, uploads built and their answers read.
#include "zgate/dialect/zaiweb/images.hpp"

#include <optional>

#include <fmt/format.h>

#include "http.hpp"
#include "zgate/core/encoding.hpp"
#include "zgate/dialect/zaiweb/errors.hpp"
#include "zgate/dialect/zaiweb/sign.hpp"

namespace zgate::zaiweb {

using namespace detail;

namespace {

std::string_view ext_for(std::string_view content_type) {
  if (content_type == "image/jpeg" || content_type == "image/jpg") return "jpg";
  if (content_type == "image/gif") return "gif";
  if (content_type == "image/webp") return "webp";
  if (content_type == "image/bmp") return "bmp";
  return "png";
}

}  // namespace

Result<DataUrl> decode_data_url(std::string_view url) {
  const auto fail = [](std::string_view why) {
    return bad_request(fmt::format("image_url is not a valid data URL: {}", why), "messages[].content[].image_url");
  };
  if (!starts_with_ci(url, "data:")) return fail("it does not start with \"data:\"");
  const std::size_t comma = url.find(',');
  if (comma == std::string_view::npos) return fail("no ',' before the data");
  std::string_view meta = url.substr(5, comma - 5);
  const std::string_view data = url.substr(comma + 1);
  bool b64 = false;
  if (meta.size() >= 7 && starts_with_ci(meta.substr(meta.size() - 7), ";base64")) {
    b64 = true;
    meta.remove_suffix(7);
  }
  const std::string_view type = meta.substr(0, meta.find(';'));
  DataUrl r;
  r.content_type = type.empty() ? "application/octet-stream" : std::string(type);
  if (b64) {
    std::optional<std::string> bytes = encoding::base64_decode(data);
    if (!bytes) return fail("the base64 data is corrupt");
    r.bytes = std::move(*bytes);
  } else {
    r.bytes = url_decode(data);
  }
  if (r.bytes.empty()) return fail("it holds no data");
  return r;
}

std::vector<ImageJob> plan_images(const ChatRequest& req, const AuthInfo& auth) {
  std::vector<ImageJob> jobs;
  for (std::size_t mi = 0; mi < req.messages.size(); ++mi) {
    const auto& m = req.messages[mi];
    for (std::size_t pi = 0; pi < m.parts.size(); ++pi) {
      const auto& p = m.parts[pi];
      if (p.kind != ContentPart::Kind::image_url) continue;
      ImageJob j;
      j.message = mi;
      j.part = pi;
      j.url = p.text;
      std::string_view ext = "png";
      if (starts_with_ci(p.text, "data:")) {
        j.action = ImageAction::upload_data_url;
        const std::string_view meta = std::string_view(p.text).substr(5, p.text.find_first_of(";,") - 5);
        ext = ext_for(meta);
      } else if (starts_with_ci(p.text, "http://") || starts_with_ci(p.text, "https://")) {
        j.action = auth.is_guest() ? ImageAction::pass_through : ImageAction::fetch_and_upload;
        std::string_view path = p.text;
        path = path.substr(0, path.find_first_of("?#"));
        const auto dot = path.rfind('.');
        if (dot != std::string_view::npos && path.size() - dot <= 5 && path.find('/', dot) == std::string_view::npos) {
          const std::string_view e = path.substr(dot + 1);
          if (e == "jpg" || e == "jpeg" || e == "gif" || e == "webp" || e == "png" || e == "bmp") ext = e;
        }
      } else {
        j.action = ImageAction::pass_through;  // already a backend file id, or something we cannot fetch
      }
      j.filename = fmt::format("image-{}.{}", jobs.size() + 1, ext);
      jobs.push_back(std::move(j));
    }
  }
  return jobs;
}

UpstreamRequest build_upload_request(const AuthInfo& auth, const ZaiWebOptions& opts, std::string_view filename,
                                     std::string_view content_type, std::string_view bytes,
                                     std::string_view boundary) {
  UpstreamRequest r;
  r.method = "POST";
  r.target = "/api/v1/files/";
  r.headers = api_headers(opts, user_agent_of(opts), root_referer(), "application/json");
  r.headers.emplace(r.headers.begin(), "Authorization", fmt::format("Bearer {}", auth.token));
  r.headers.emplace_back("Content-Type", fmt::format("multipart/form-data; boundary={}", boundary));
  // The filename sits in a quoted header parameter: no quotes, backslashes or line breaks.
  std::string safe;
  for (const char c : filename) safe.push_back(c == '"' || c == '\\' || c == '\r' || c == '\n' ? '_' : c);
  if (safe.empty()) safe = "image.png";
  std::string& b = r.body;
  b.reserve(bytes.size() + 256);
  b.append("--").append(boundary).append("\r\n");
  b.append("Content-Disposition: form-data; name=\"file\"; filename=\"").append(safe).append("\"\r\n");
  b.append("Content-Type: ").append(content_type.empty() ? std::string_view("application/octet-stream") : content_type);
  b.append("\r\n\r\n");
  b.append(bytes);
  b.append("\r\n--").append(boundary).append("--\r\n");
  return r;
}

Result<FileRef> parse_upload_response(int status, std::string_view content_type, std::string_view body) {
  constexpr std::string_view kWhat = "image upload to chat.z.ai failed";
  if (status != 200) {
    ApiError e = answer_error(status, content_type, body, kWhat);
    if (status == 401 || status == 403) {
      e.message.append(" Guests cannot upload images: configure a logged-in zai_web.token, or send images as "
                       "http(s) URLs.");
    }
    return e;
  }
  simdjson::padded_string keep;
  simdjson::dom::object obj;
  if (!parse_object(body, obj, keep) || str_field(obj, "id").empty()) {
    return answer_error(200, content_type, body, kWhat);
  }
  FileRef file;
  file.id = str_field(obj, "id");
  file.user_id = str_field(obj, "user_id");
  file.filename = str_field(obj, "filename");
  file.created_at = int_field(obj, "created_at");
  simdjson::dom::object meta;
  if (obj["meta"].get_object().get(meta) == simdjson::SUCCESS) {
    file.content_type = str_field(meta, "content_type");
    file.size = int_field(meta, "size");
    file.cdn_url = str_field(meta, "cdn_url");
    if (file.filename.empty()) file.filename = str_field(meta, "name");
  }
  return file;
}

}  // namespace zgate::zaiweb
