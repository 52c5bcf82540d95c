// libFuzzer target: the Cookie header parser and the header-block parser, with the small parsers
// beside them. Each result, written back out in canonical form, must parse to the same result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/http/httputil.hpp"

namespace {

using namespace squall;

void check(bool ok) {
  if (!ok) std::abort();
}

// Writes a cookie value in double quotes, every byte that could split, strip or end it escaped as
// `\ooo`, so parse_cookie must give back exactly `value`.
std::string quote_cookie_value(std::string_view value) {
  std::string out = "\"";
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != ';') {
      out += ch;
    } else {
      out += '\\';
      out += static_cast<char>('0' + (c >> 6));
      out += static_cast<char>('0' + ((c >> 3) & 7));
      out += static_cast<char>('0' + (c & 7));
    }
  }
  out += '"';
  return out;
}

void fuzz_cookie(std::string_view input) {
  const auto cookies = httputil::parse_cookie(input);
  std::string header;
  for (const auto& [name, value] : cookies) {
    check(name.find(';') == std::string::npos && name.find('=') == std::string::npos);
    const auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    check(name.empty() || (!is_space(name.front()) && !is_space(name.back())));
    if (!header.empty()) header += "; ";
    header += name;
    header += '=';
    header += quote_cookie_value(value);
  }
  check(httputil::parse_cookie(header) == cookies);
}

void fuzz_headers(std::string_view input) {
  HTTPHeaders headers;
  try {
    headers = HTTPHeaders::parse(input);
  } catch (const HTTPInputError&) {
    return;
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string block;
  for (const auto& [name, value] : headers) {
    check(!name.empty() && httputil::normalize_header(name) == name);
    check(headers.contains(name) && !headers.get_list(name).empty());
    pairs.emplace_back(name, value);
    block.append(name).append(": ").append(value).append("\r\n");
  }
  check(pairs.size() == headers.size());
  const auto again = HTTPHeaders::parse(block);  // must not throw
  std::vector<std::pair<std::string, std::string>> pairs_again;
  for (const auto& [name, value] : again) pairs_again.emplace_back(name, value);
  check(pairs == pairs_again);
}

void fuzz_url_and_date(std::string_view input) {
  check(httputil::url_unescape(httputil::url_escape(input)) == std::string(input));
  check(httputil::url_unescape(httputil::url_escape(input, false), false) == std::string(input));
  // Re-encoding a query through url_concat must keep its parsed meaning.
  const auto query = httputil::parse_qs_bytes(input);
  const auto concatenated = httputil::url_concat("/?" + std::string(input), {});
  const auto hash = concatenated.find('#');
  const auto question = concatenated.find('?');
  if (question != std::string::npos && question < hash && input.find('#') == std::string::npos) {
    check(httputil::parse_qs_bytes(concatenated.substr(question + 1)) == query);
  }
  if (const auto date = httputil::parse_http_date(input)) {
    const auto text = httputil::format_timestamp(*date);
    check(httputil::parse_http_date(text) == std::chrono::floor<std::chrono::seconds>(*date));
  }
  try {
    (void)httputil::split_host_and_port(input);
  } catch (const ValueError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_cookie(input);
  fuzz_headers(input);
  fuzz_url_and_date(input);
  return 0;
}
