// HTTPServerRequest and the default methods of the delegate interfaces.

#include "squall/http/message.hpp"

#include <algorithm>

#include "http/http1_parser.hpp"
#include "http/text.hpp"

namespace squall {
namespace {

using http_text::ascii_lower;

bool starts_with_scheme(std::string_view uri, std::string_view scheme) {
  if (uri.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (ascii_lower(uri[i]) != scheme[i]) return false;
  }
  return true;
}

}  // namespace

HTTPServerRequest::HTTPServerRequest(std::string method_, std::string uri_, std::string version_,
                                     HTTPHeaders headers_, std::string body_)
    : method(std::move(method_)),
      uri(std::move(uri_)),
      version(std::move(version_)),
      headers(std::move(headers_)),
      body(std::move(body_)) {
  parse_target();
}

HTTPServerRequest::HTTPServerRequest(const RequestStartLine& start_line, HTTPHeaders&& headers_)
    : method(start_line.method),
      uri(start_line.path),
      version(start_line.version),
      headers(std::move(headers_)) {
  parse_target();
}

void HTTPServerRequest::parse_target() {
  std::optional<std::string> authority;
  // Absolute form (RFC 9112 §3.2.2): the target's authority is the host, and the rest the path.
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (!uri.empty() && uri.front() != '/' && starts_with_scheme(uri, scheme)) {
      std::size_t end = uri.find_first_of("/?", scheme.size());
      if (end == std::string::npos) end = uri.size();
      authority = uri.substr(scheme.size(), end - scheme.size());
      std::string rest;
      if (end == uri.size() || uri[end] != '/') rest.push_back('/');
      rest.append(uri, end, std::string::npos);
      uri = std::move(rest);
      break;
    }
  }
  std::size_t question = uri.find('?');
  if (question == std::string::npos) {
    path = uri;
  } else {
    path = uri.substr(0, question);
    query = uri.substr(question + 1);
    query_arguments = httputil::parse_qs_bytes(query, true);
    arguments = query_arguments;
  }
  if (authority) {
    host = std::move(*authority);
  } else if (auto value = detail::HTTPHeadersAccess::only_value(headers, "Host")) {
    host.assign(*value);  // (the usual case: one Host field, no copy to join)
  } else if (auto joined = headers.get("Host")) {
    host = std::move(*joined);
  }
  if (host.empty()) host = "127.0.0.1";
  // The host without its port, lower-cased (httputil::split_host_and_port's rule: a port is
  // the digits after the last colon), without the copies that function makes.
  std::string_view name = host;
  if (std::size_t colon = name.rfind(':');
      colon != std::string_view::npos && colon > 0 && colon + 1 < name.size()) {
    std::string_view digits = name.substr(colon + 1);
    if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      name = name.substr(0, colon);
    }
  }
  host_name.assign(name);
  for (char& c : host_name) c = ascii_lower(c);
}

const std::map<std::string, std::string>& HTTPServerRequest::cookies() const {
  if (!cookies_.map_) {
    auto parsed = std::make_unique<CookieMap>();
    for (const std::string& header : headers.get_list("Cookie")) {
      try {
        for (auto& [name, value] : httputil::parse_cookie(header)) {
          (*parsed)[name] = std::move(value);
        }
      } catch (const std::exception&) {
        // As Tornado: an unparseable Cookie header gives no cookies.
      }
    }
    cookies_.map_ = std::move(parsed);
  }
  return *cookies_.map_;
}

double HTTPServerRequest::request_time() const {
  auto end = finish_time ? *finish_time : std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - start_time).count();
}

std::string HTTPServerRequest::full_url() const {
  std::string url = protocol;
  url.append("://").append(host).append(uri);
  return url;
}

void HTTPServerRequest::parse_body(BodyLimits limits) {
  std::string content_type = headers.get("Content-Type", "");
  httputil::parse_body_arguments(content_type, body, body_arguments, files, nullptr, limits);
  for (const auto& [name, values] : body_arguments) {
    auto& all = arguments[name];
    all.insert(all.end(), values.begin(), values.end());
  }
}

std::optional<Future<void>> HTTPMessageDelegate::headers_received(const RequestStartLine&,
                                                                  HTTPHeaders&) {
  return std::nullopt;
}

std::optional<Future<void>> HTTPMessageDelegate::headers_received(const ResponseStartLine&,
                                                                  HTTPHeaders&) {
  return std::nullopt;
}

std::optional<Future<void>> HTTPMessageDelegate::data_received(std::string_view) {
  return std::nullopt;
}

}  // namespace squall
