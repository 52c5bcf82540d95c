// file_uploader: Tornado's demos/file_upload client in squall. Uploads files to file_receiver with
// AsyncHTTPClient, one request after another:
//
//   --method=PUT   each file's raw bytes to URL/NAME (NAME percent-encoded), one request per file;
//   --method=POST  all files in one multipart/form-data request to URL/post (the default).
//
// Either way the body streams through a body_producer that reads the file piece by piece, so a file
// of any size costs one piece of memory; the Content-Length is computed beforehand and the request
// asks for 100-continue, so a server refusing the upload (413) answers before the body is sent.
// The uploader hashes what it sends, and checks the server's answer (size and SHA-256) against it.
//
//   file_uploader [--url=http://127.0.0.1:8888/] [--method=POST|PUT] FILE...
//
// Prints one line per file as the server saw it: `PUT "name" (type): N bytes, sha256 HEX`.
// Exits 1 (with a message on stderr) at the first failure: a file it cannot read, an HTTP error
// such as 413, or an answer that does not match what was sent.

#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/util/escape.hpp>
#include <squall/util/options.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sha256.hpp"

namespace {

using BodyWriter = squall::HTTPRequest::BodyWriter;

/// How much of a file is read and written at once.
constexpr std::size_t kPieceSize = 64 * 1024;

/// A file to upload, and the digest of the bytes actually sent.
struct Upload {
  std::string path;
  std::string name;  // the file name without its folders, as the server gets it
  std::string content_type;
  std::uint64_t size = 0;
  file_upload::Sha256 sha256;
  std::uint64_t sent = 0;
};

/// The Content-Type of a file name, from its extension (application/octet-stream if unknown).
std::string guess_type(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {".css", "text/css"},          {".csv", "text/csv"},        {".gif", "image/gif"},
      {".gz", "application/gzip"},   {".htm", "text/html"},       {".html", "text/html"},
      {".jpeg", "image/jpeg"},       {".jpg", "image/jpeg"},      {".js", "text/javascript"},
      {".json", "application/json"}, {".md", "text/markdown"},    {".pdf", "application/pdf"},
      {".png", "image/png"},         {".svg", "image/svg+xml"},   {".txt", "text/plain"},
      {".xml", "application/xml"},   {".zip", "application/zip"},
  };
  const std::size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    std::string extension(name.substr(dot));
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (auto found = kTypes.find(extension); found != kTypes.end()) return found->second;
  }
  return "application/octet-stream";
}

/// A multipart boundary: 32 random hex digits, which no file is likely to hold on a line.
std::string make_boundary() {
  std::random_device random;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string boundary;
  for (int i = 0; i < 32; ++i) boundary.push_back(kHex[random() % 16]);
  return boundary;
}

/// `name` as a quoted-string of a Content-Disposition parameter. RFC 7578 wants the UTF-8 bytes as
/// they are (no `filename*`); quotes and backslashes are escaped, and line breaks percent-encoded
/// as browsers do, so that no name can end the header line.
std::string quote_parameter(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') {
      quoted.push_back('\\');
      quoted.push_back(c);
    } else if (c == '\r') {
      quoted.append("%0D");
    } else if (c == '\n') {
      quoted.append("%0A");
    } else {
      quoted.push_back(c);
    }
  }
  quoted.push_back('"');
  return quoted;
}

/// Reads `upload`'s file piece by piece, hashing each piece and writing it; a piece is read only
/// once the previous one was taken (the writer's Future), so memory stays at one piece. Throws
/// std::runtime_error if the file cannot be read or its size changed since it was measured.
squall::Future<void> send_file(std::shared_ptr<Upload> upload, BodyWriter write) {
  std::ifstream in(upload->path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + upload->path);
  std::string piece(kPieceSize, '\0');
  std::uint64_t sent = 0;
  for (;;) {
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    const auto count = static_cast<std::size_t>(in.gcount());
    if (count == 0) break;
    const std::string_view bytes(piece.data(), count);
    upload->sha256.update(bytes);
    sent += count;
    if (sent > upload->size) break;
    co_await write(bytes);
  }
  if (in.bad()) throw std::runtime_error("cannot read " + upload->path);
  if (sent != upload->size) throw std::runtime_error(upload->path + " changed while uploading");
  upload->sent = sent;
}

/// Prints the server's view of one file, and throws std::runtime_error unless it matches what was
/// sent.
void check_answer(std::string_view method, Upload& upload, const nlohmann::json& answer) {
  const auto size = answer.at("size").get<std::uint64_t>();
  const auto sha256 = answer.at("sha256").get<std::string>();
  std::cout << method << " "
            << nlohmann::json(answer.at("filename"))
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
            << " (" << answer.at("content_type").get<std::string>() << "): " << size
            << " bytes, sha256 " << sha256 << std::endl;
  if (size != upload.sent || sha256 != upload.sha256.hexdigest()) {
    throw std::runtime_error("the server did not get the bytes of " + upload.path + " intact");
  }
}

/// PUTs each file to `url` + its percent-encoded name, one after the other.
squall::Future<void> put_files(std::string url, std::vector<std::shared_ptr<Upload>> uploads,
                               std::chrono::milliseconds timeout) {
  squall::AsyncHTTPClient client;
  for (const std::shared_ptr<Upload>& upload : uploads) {
    squall::HTTPRequest request(url + squall::escape::url_escape(upload->name, false), "PUT");
    request.headers.add("Content-Type", upload->content_type);
    request.headers.add("Content-Length", std::to_string(upload->size));
    request.body_producer = [upload](BodyWriter write) { return send_file(upload, write); };
    request.expect_100_continue = true;
    request.request_timeout = timeout;
    squall::HTTPResponse response = co_await client.fetch(std::move(request));
    check_answer("PUT", *upload, nlohmann::json::parse(response.body));
  }
}

/// Writes the multipart body: each part's head, the file, and the closing boundary line.
squall::Future<void> send_multipart(std::vector<std::shared_ptr<Upload>> uploads,
                                    std::vector<std::string> heads, std::string closing,
                                    BodyWriter write) {
  for (std::size_t i = 0; i < uploads.size(); ++i) {
    co_await write(heads[i]);
    co_await send_file(uploads[i], write);
    co_await write("\r\n");
  }
  co_await write(closing);
}

/// POSTs every file in one multipart/form-data request to `url` + "post", as field "file".
squall::Future<void> post_files(std::string url, std::vector<std::shared_ptr<Upload>> uploads,
                                std::chrono::milliseconds timeout) {
  const std::string boundary = make_boundary();
  std::vector<std::string> heads;
  std::uint64_t length = 0;
  for (const std::shared_ptr<Upload>& upload : uploads) {
    std::string head = "--";
    head.append(boundary)
        .append("\r\nContent-Disposition: form-data; name=\"file\"; filename=")
        .append(quote_parameter(upload->name))
        .append("\r\nContent-Type: ")
        .append(upload->content_type)
        .append("\r\n\r\n");
    length += head.size() + upload->size + 2;  // the part's head, the file, CRLF
    heads.push_back(std::move(head));
  }
  std::string closing = "--";
  closing.append(boundary).append("--\r\n");
  length += closing.size();

  squall::HTTPRequest request(url + "post", "POST");
  request.headers.add("Content-Type", "multipart/form-data; boundary=" + boundary);
  request.headers.add("Content-Length", std::to_string(length));
  request.body_producer = [uploads, heads = std::move(heads),
                           closing = std::move(closing)](BodyWriter write) {
    return send_multipart(uploads, heads, closing, write);
  };
  request.expect_100_continue = true;
  request.request_timeout = timeout;
  squall::AsyncHTTPClient client;
  squall::HTTPResponse response = co_await client.fetch(std::move(request));
  const nlohmann::json answer = nlohmann::json::parse(response.body);
  const nlohmann::json& files = answer.at("files");
  if (files.size() != uploads.size()) {
    throw std::runtime_error("the server got " + std::to_string(files.size()) + " files, not " +
                             std::to_string(uploads.size()));
  }
  for (std::size_t i = 0; i < uploads.size(); ++i) check_answer("POST", *uploads[i], files[i]);
}

}  // namespace

int main(int argc, char** argv) {
  squall::options::define<std::string>("url", "http://127.0.0.1:8888/",
                                       "the file_receiver to upload to");
  squall::options::define<std::string>(
      "method", "POST", "PUT (one raw request per file) or POST (one multipart form)");
  squall::options::define<std::chrono::milliseconds>("timeout", std::chrono::minutes(5),
                                                     "the longest a request may take");
  const std::vector<std::string> paths = squall::options::parse_command_line(argc, argv);
  auto url = squall::options::get<std::string>("url");
  if (url.empty() || url.back() != '/') url.push_back('/');
  const auto method = squall::options::get<std::string>("method");
  const auto timeout = squall::options::get<std::chrono::milliseconds>("timeout");
  if (method != "PUT" && method != "POST") {
    std::cerr << argv[0] << ": --method must be PUT or POST, not '" << method << "'\n";
    return 2;
  }
  if (paths.empty()) {
    std::cerr << argv[0] << ": give the files to upload (see --help)\n";
    return 2;
  }

  std::vector<std::shared_ptr<Upload>> uploads;
  for (const std::string& path : paths) {
    auto upload = std::make_shared<Upload>();
    upload->path = path;
    upload->name = std::filesystem::path(path).filename().string();
    upload->content_type = guess_type(upload->name);
    std::error_code error;
    upload->size = std::filesystem::file_size(path, error);
    if (error) {
      std::cerr << argv[0] << ": " << path << ": " << error.message() << "\n";
      return 1;
    }
    uploads.push_back(std::move(upload));
  }

  squall::IOLoop loop;
  try {
    loop.run_sync([&] {
      return method == "PUT" ? put_files(url, uploads, timeout) : post_files(url, uploads, timeout);
    });
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << method << " failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
