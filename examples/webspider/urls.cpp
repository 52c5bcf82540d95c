// RFC 3986's reference resolution, spelled out step by step (section 5.2).

#include "urls.hpp"

#include <cctype>
#include <optional>

namespace webspider {
namespace {

/// The five components of a URI reference (section 3); absent ones are nullopt, which differs
/// from present and empty (`http://h/?` has an empty query).
struct Components {
  std::optional<std::string> scheme;
  std::optional<std::string> authority;
  std::string path;
  std::optional<std::string> query;
  std::optional<std::string> fragment;
};

bool is_scheme_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

/// Splits `text` as the regular expression of appendix B does, by hand.
Components split(std::string_view text) {
  Components parts;
  if (auto hash = text.find('#'); hash != std::string_view::npos) {
    parts.fragment = std::string(text.substr(hash + 1));
    text = text.substr(0, hash);
  }
  if (auto question = text.find('?'); question != std::string_view::npos) {
    parts.query = std::string(text.substr(question + 1));
    text = text.substr(0, question);
  }
  // A scheme is letters, digits, "+-." starting with a letter, before the first ':' that comes
  // before any '/': "a/b:c" is a path.
  if (auto colon = text.find(':'); colon != std::string_view::npos && colon > 0 &&
                                   std::isalpha(static_cast<unsigned char>(text[0]))) {
    bool valid = true;
    for (char c : text.substr(0, colon)) valid = valid && is_scheme_char(c);
    if (valid) {
      std::string scheme(text.substr(0, colon));
      for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      parts.scheme = std::move(scheme);
      text = text.substr(colon + 1);
    }
  }
  if (text.starts_with("//")) {
    text = text.substr(2);
    const std::size_t end = text.find('/');
    parts.authority = std::string(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end);
  }
  parts.path = std::string(text);
  return parts;
}

/// Section 5.2.4: removes "." and ".." segments, a ".." taking the segment before it away.
std::string remove_dot_segments(std::string_view input) {
  std::string output;
  while (!input.empty()) {
    if (input.starts_with("../")) {
      input.remove_prefix(3);
    } else if (input.starts_with("./")) {
      input.remove_prefix(2);
    } else if (input.starts_with("/./")) {
      input.remove_prefix(2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.starts_with("/../") || input == "/..") {
      input = input.size() == 3 ? std::string_view("/") : input.substr(3);
      const std::size_t last = output.rfind('/');
      output.resize(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") {
      input = {};
    } else {
      // The first segment, with its leading '/' if any, up to the next '/'.
      const std::size_t end = input.find('/', input.front() == '/' ? 1 : 0);
      output.append(input.substr(0, end));
      input = end == std::string_view::npos ? std::string_view() : input.substr(end);
    }
  }
  return output;
}

/// Section 5.2.3: a relative path appended to the base's path without its last segment.
std::string merge(const Components& base, std::string_view path) {
  if (base.authority && base.path.empty()) return std::string("/").append(path);
  const std::size_t last = base.path.rfind('/');
  if (last == std::string::npos) return std::string(path);
  return base.path.substr(0, last + 1).append(path);
}

/// Section 5.3: puts the components back together.
std::string recompose(const Components& parts) {
  std::string result;
  if (parts.scheme) result.append(*parts.scheme).append(":");
  if (parts.authority) result.append("//").append(*parts.authority);
  result.append(parts.path);
  if (parts.query) result.append("?").append(*parts.query);
  if (parts.fragment) result.append("#").append(*parts.fragment);
  return result;
}

}  // namespace

std::string urljoin(std::string_view base_text, std::string_view reference) {
  const Components base = split(base_text);
  Components ref = split(reference);
  Components target;
  if (ref.scheme) {
    target = ref;
    target.path = remove_dot_segments(target.path);
  } else {
    if (ref.authority) {
      target.authority = std::move(ref.authority);
      target.path = remove_dot_segments(ref.path);
      target.query = std::move(ref.query);
    } else {
      if (ref.path.empty()) {
        target.path = base.path;
        target.query = ref.query ? std::move(ref.query) : base.query;
      } else {
        target.path =
            remove_dot_segments(ref.path.front() == '/' ? ref.path : merge(base, ref.path));
        target.query = std::move(ref.query);
      }
      target.authority = base.authority;
    }
    target.scheme = base.scheme;
    target.fragment = std::move(ref.fragment);
  }
  return recompose(target);
}

std::string quote_unsafe(std::string_view url) {
  static constexpr std::string_view kAllowed = "-._~:/?#[]@!$&'()*+,;=%";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string quoted;
  quoted.reserve(url.size());
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || kAllowed.find(c) != std::string_view::npos) {
      quoted.push_back(c);
    } else {
      quoted.push_back('%');
      quoted.push_back(kHex[byte >> 4]);
      quoted.push_back(kHex[byte & 0xf]);
    }
  }
  return quoted;
}

std::string remove_fragment(std::string_view url) {
  return std::string(url.substr(0, url.find('#')));
}

}  // namespace webspider
