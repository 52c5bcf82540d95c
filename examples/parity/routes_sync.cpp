// The parity app's routes that answer at once: greetings, arguments, forms, echo, upload,
// errors, redirects, cookies, XSRF, the template, /gzip and /ip.

#include <squall/web/static_file_handler.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include "parity.hpp"

namespace parity {
namespace {

using nlohmann::json;
using squall::Future;
using squall::make_ready_future;
using squall::web::handler;
using squall::web::HTTPError;

/// Incremental SHA-256 (OpenSSL's EVP), hex digest.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    if (context_ == nullptr || EVP_DigestInit_ex(context_, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(context_);
      throw std::runtime_error("SHA-256 is not available");
    }
  }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data) { EVP_DigestUpdate(context_, data.data(), data.size()); }

  std::string hexdigest() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_DigestFinal_ex(context_, digest.data(), &size);
    std::string hex;
    for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
  }

  static std::string of(std::string_view data) {
    Sha256 hash;
    hash.update(data);
    return hash.hexdigest();
  }

 private:
  EVP_MD_CTX* context_;
};

class Root : public Page {
 public:
  Future<void> get() override {
    write("Hello, world");
    return make_ready_future();
  }
};

class Plaintext : public Page {
 public:
  Future<void> get() override {
    text("Hello, World!");
    return make_ready_future();
  }
};

class Json : public Page {
 public:
  Future<void> get() override {
    write(json{{"message", "Hello, World!"}});
    return make_ready_future();
  }
};

class Greet : public Page {
 public:
  Future<void> get() override {
    // The framework decoded the group (keeping '+') and refused invalid UTF-8 with 400.
    text("Hello, " + path_kwargs().at("name"));
    return make_ready_future();
  }
};

class Args : public Page {
 public:
  Future<void> get() override {
    json out = json::object();
    for (const auto& [name, values] : request().query_arguments) {
      // Tornado decodes names as Latin-1; the spec asks for UTF-8, refusing what is not.
      if (!valid_utf8(name)) throw HTTPError(400, "argument name is not UTF-8");
      out[name] = get_query_arguments(name);
    }
    write(out);
    return make_ready_future();
  }
};

class Headers : public Page {
 public:
  Future<void> get() override {
    json out = json::object();
    for (const auto& [name, value] : request().headers) {
      std::string lower(name);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out[lower].push_back(value);
    }
    write(out);
    return make_ready_future();
  }
};

class Form : public Handler<squall::web::RequestHandler> {
 public:
  Future<void> post() override {
    json args = json::object();
    for (const auto& [name, values] : request().body_arguments) {
      if (!valid_utf8(name)) throw HTTPError(400, "form name is not UTF-8");
      json& list = args[name] = json::array();
      for (const std::string& value : values) {
        if (!valid_utf8(value)) throw HTTPError(400, "form value is not UTF-8");
        list.push_back(value);
      }
    }
    json files = json::object();
    for (const auto& [field, uploads] : request().files) {
      json& list = files[field] = json::array();
      for (const squall::HTTPFile& file : uploads) {
        list.push_back({{"filename", file.filename},
                        {"content_type", file.content_type},
                        {"size", file.body.size()},
                        {"sha256", Sha256::of(file.body)}});
      }
    }
    write(json{{"args", args}, {"files", files}});
    return make_ready_future();
  }

 protected:
  std::string_view allowed_methods() const override { return "POST"; }
};

class Echo : public Handler<squall::web::RequestHandler> {
 public:
  Future<void> post() override {
    set_header("Content-Type",
               request().headers.get("Content-Type").value_or("application/octet-stream"));
    write(request().body);
    return make_ready_future();
  }

  Future<void> options() override {
    set_header("Allow", allowed_methods());
    set_status(204);
    return make_ready_future();
  }

 protected:
  std::string_view allowed_methods() const override { return "POST, OPTIONS"; }
};

/// Tornado's `@stream_request_body`: the body is hashed as it arrives, never held whole.
class Upload : public Handler<squall::web::RequestHandler> {
 public:
  static constexpr bool stream_request_body = true;
  static constexpr std::uint64_t kMaxBody = std::uint64_t{64} << 20;

  Future<void> prepare() override {
    // prepare() runs once the head is in, before the body is read: a larger declared
    // Content-Length is refused (413) without reading it.
    request().connection->set_max_body_size(kMaxBody);
    return make_ready_future();
  }

  Future<void> data_received(std::string_view chunk) override {
    hash_.update(chunk);
    size_ += chunk.size();
    return make_ready_future();
  }

  Future<void> put() override {
    write(json{{"size", size_}, {"sha256", hash_.hexdigest()}});
    return make_ready_future();
  }

 protected:
  std::string_view allowed_methods() const override { return "PUT"; }

 private:
  Sha256 hash_;
  std::uint64_t size_ = 0;
};

class Status : public Page {
 public:
  Future<void> get() override {
    std::string_view digits = path_args().at(0);
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    // Past 3 significant digits it is out of range anyway (and might not fit an int).
    const int code = digits.size() > 3 ? 0 : std::stoi(std::string(digits));
    if (code < 400 || code > 599) throw HTTPError(400, "status must be 400..599");
    throw HTTPError(code);
  }
};

class Boom : public Page {
 public:
  Future<void> get() override { throw std::runtime_error("boom (intentional, see SPEC /boom)"); }
};

class Redirect : public Page {
 public:
  void initialize(bool permanent) { permanent_ = permanent; }
  Future<void> get() override {
    redirect("/", permanent_);
    return make_ready_future();
  }

 private:
  bool permanent_ = false;
};

bool cookie_token(const std::string& s) {
  static const std::regex token("[A-Za-z0-9._-]{1,64}");
  return std::regex_match(s, token);
}

class CookieSet : public Page {
 public:
  Future<void> get() override {
    const std::string name = get_query_argument("name");
    const std::string value = get_query_argument("value");
    if (!cookie_token(name) || !cookie_token(value)) throw HTTPError(400, "bad cookie name/value");
    set_cookie(name, value);
    text("set");
    return make_ready_future();
  }
};

class CookieGet : public Page {
 public:
  Future<void> get() override {
    const std::optional<std::string> value = get_cookie(get_query_argument("name"));
    if (!value) throw HTTPError(404);
    text(*value);
    return make_ready_future();
  }
};

class SignedSet : public Page {
 public:
  Future<void> get() override {
    set_signed_cookie("signed", get_query_argument("value"));
    text("set");
    return make_ready_future();
  }
};

class SignedGet : public Page {
 public:
  Future<void> get() override {
    const std::optional<std::string> value = get_signed_cookie("signed");
    if (!value || !valid_utf8(*value)) throw HTTPError(403);
    text(*value);
    return make_ready_future();
  }
};

/// XSRF is off application-wide; this route checks it itself where Tornado would (before the
/// method runs).
class Xsrf : public Page {
 public:
  Future<void> prepare() override {
    const std::string& method = request().method;
    if (method != "GET" && method != "HEAD" && method != "OPTIONS") check_xsrf_cookie();
    return make_ready_future();
  }

  Future<void> get() override {
    write(
        "<!DOCTYPE html>\n<html><body>"
        R"(<form method="post" action="/xsrf">)" +
        xsrf_form_html() + R"(<input type="submit" value="go"/></form></body></html>)" + "\n");
    return make_ready_future();
  }

  Future<void> post() override {
    text("xsrf ok");
    return make_ready_future();
  }

 protected:
  std::string_view allowed_methods() const override { return "GET, HEAD, POST"; }
};

class Template : public Page {
 public:
  Future<void> get() override {
    return render("page.html", {{"name", get_query_argument("name", "world")},
                                {"items", {"alpha", "beta", "<gamma & delta>"}}});
  }
};

/// 1000 lines of 55 bytes.
const std::string& gzip_text() {
  static const std::string text = [] {
    std::string out;
    for (int i = 0; i < 1000; ++i) {
      out += fmt::format("line {:04d}: the quick brown fox jumps over the lazy dog\n", i);
    }
    return out;
  }();
  return text;
}

class Gzip : public Page {
 public:
  Future<void> get() override {
    text(gzip_text());
    return make_ready_future();
  }
};

class Ip : public Page {
 public:
  Future<void> get() override {
    write(json{{"remote_ip", request().remote_ip}, {"protocol", request().protocol}});
    return make_ready_future();
  }
};

/// Paths no route matches.
class NotFound : public Page {
 public:
  Future<void> prepare() override { throw HTTPError(404); }
};

class Static : public Handler<squall::web::StaticFileHandler> {
 public:
  Future<void> get() override {
    co_await StaticFileHandler::get();
    // A range past the end is answered without an error page; its status line still takes
    // the spec's phrase ("Requested Range Not Satisfiable").
    if (get_status() == 416 && !finished()) set_status(416, spec_reason(416));
  }
};

}  // namespace

std::vector<squall::web::URLSpec> sync_routes() {
  return {
      {"/", handler<Root>()},
      {"/plaintext", handler<Plaintext>()},
      {"/json", handler<Json>()},
      {"/greet/(?P<name>[^/]+)", handler<Greet>()},
      {"/args", handler<Args>()},
      {"/headers", handler<Headers>()},
      {"/form", handler<Form>()},
      {"/echo", handler<Echo>()},
      {"/upload", handler<Upload>()},
      {R"(/status/(\d+))", handler<Status>()},
      {"/boom", handler<Boom>()},
      {"/redirect", handler<Redirect>(false)},
      {"/redirect/permanent", handler<Redirect>(true)},
      {"/cookie/set", handler<CookieSet>()},
      {"/cookie/get", handler<CookieGet>()},
      {"/signed/set", handler<SignedSet>()},
      {"/signed/get", handler<SignedGet>()},
      {"/xsrf", handler<Xsrf>()},
      {"/template", handler<Template>()},
      {"/gzip", handler<Gzip>()},
      {"/ip", handler<Ip>()},
  };
}

squall::web::HandlerFactory not_found_handler() {
  return handler<NotFound>();
}

squall::web::HandlerFactory static_handler(const std::string& static_path) {
  return handler<Static>(squall::web::StaticFileOptions{static_path});
}

}  // namespace parity
