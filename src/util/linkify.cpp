// linkify (tornado.escape.linkify). Tornado finds URLs with a regular expression; this is a
// hand-written matcher that finds the same URLs without backtracking, in linear time.
//
// On the xhtml-escaped text, a URL starts at a word boundary with `proto:` and one to three
// slashes, or with `www.`. Its body is one or more units, each either a run of "items" ending in a
// "good" character, or a parenthesized run of items. An item is one byte that is not whitespace,
// '&' or a parenthesis, or one of the entities `&amp;` `&quot;`; a good character is an item byte
// that is not ASCII punctuation other than "-/\_". So trailing punctuation stays outside the link
// ("see http://a.com/x." links "http://a.com/x"), and balanced parentheses stay inside.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "squall/util/escape.hpp"

namespace squall::escape {
namespace {

// Displayed URLs longer than this many characters are shortened (Tornado's approximation).
constexpr std::size_t kMaxDisplayLength = 30;

bool is_word(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

// Python's \s on ASCII (it also counts the separators 0x1C-0x1F).
bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
}

bool is_good(unsigned char c) {
  if (is_space(c)) return false;
  if (c >= 0x80) return true;
  return std::string_view("!\"#$%&'()*+,.:;<=>?@[]^`{|}~").find(static_cast<char>(c)) ==
         std::string_view::npos;
}

class Matcher {
 public:
  explicit Matcher(std::string_view text) : text_(text) {}

  // The length of the item at `pos`, or 0 if there is none.
  std::size_t item_length(std::size_t pos) const {
    auto c = static_cast<unsigned char>(text_[pos]);
    if (!is_space(c) && c != '&' && c != '(' && c != ')') return 1;
    std::string_view rest = text_.substr(pos);
    if (rest.starts_with("&amp;")) return 5;
    if (rest.starts_with("&quot;")) return 6;
    return 0;
  }

  // The end of the URL body starting at `pos`, or npos if no body starts there.
  std::size_t match_body(std::size_t pos) const {
    std::size_t end = std::string_view::npos;
    while (pos < text_.size()) {
      // A run of items, up to its last good character.
      std::size_t scan = pos;
      std::size_t last_good_end = std::string_view::npos;
      while (scan < text_.size()) {
        std::size_t length = item_length(scan);
        if (length == 0) break;
        if (length == 1 && is_good(static_cast<unsigned char>(text_[scan]))) {
          last_good_end = scan + 1;
        }
        scan += length;
      }
      if (last_good_end != std::string_view::npos) {
        pos = end = last_good_end;
        continue;
      }
      // Or a parenthesized run of items.
      if (text_[pos] != '(') break;
      scan = pos + 1;
      while (scan < text_.size()) {
        std::size_t length = item_length(scan);
        if (length == 0) break;
        scan += length;
      }
      if (scan >= text_.size() || text_[scan] != ')') break;
      pos = end = scan + 1;
    }
    return end;
  }

  struct Match {
    std::size_t start = 0;
    std::size_t end = 0;
    std::string_view protocol;  // empty for a www. URL
    std::size_t slashes = 0;
  };

  // Finds the next URL starting at or after `from`.
  bool find(std::size_t from, Match& match) {
    for (std::size_t i = from; i < text_.size(); ++i) {
      auto c = static_cast<unsigned char>(text_[i]);
      bool before_is_word = i > 0 && is_word(static_cast<unsigned char>(text_[i - 1]));
      if (before_is_word == is_word(c)) continue;  // not a word boundary
      if (i >= failed_run_end_ && try_protocol(i, match)) return true;
      if (text_.substr(i).starts_with("www.")) {
        std::size_t end = match_body(i + 4);
        if (end != std::string_view::npos) {
          match = Match{i, end, {}, 0};
          return true;
        }
      }
    }
    return false;
  }

 private:
  bool try_protocol(std::size_t start, Match& match) {
    std::size_t colon = start;
    while (colon < text_.size() &&
           (is_word(static_cast<unsigned char>(text_[colon])) || text_[colon] == '-')) {
      ++colon;
    }
    if (colon > start && colon < text_.size() && text_[colon] == ':') {
      std::size_t slashes = 0;
      while (slashes < 3 && colon + 1 + slashes < text_.size() &&
             text_[colon + 1 + slashes] == '/') {
        ++slashes;
      }
      // Fewer slashes leave the others to the body, as the regular expression backtracks.
      for (; slashes > 0; --slashes) {
        std::size_t end = match_body(colon + 1 + slashes);
        if (end != std::string_view::npos) {
          match = Match{start, end, text_.substr(start, colon - start), slashes};
          return true;
        }
      }
    }
    // Every later start inside this run of word characters ends at the same place and fails too.
    failed_run_end_ = colon;
    return false;
  }

  std::string_view text_;
  std::size_t failed_run_end_ = 0;
};

std::size_t count_characters(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The bytes of the first `count` UTF-8 characters of `s`.
std::string_view first_characters(std::string_view s, std::size_t count) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && seen++ == count) return s.substr(0, i);
  }
  return s;
}

std::string_view strip_ascii(std::string_view s) {
  while (!s.empty() && is_space(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && is_space(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The displayed text of a long URL: host plus the start of the first path segment, cut to
// kMaxDisplayLength characters and ended with "..."; the URL itself if that is not shorter.
std::string shorten_url(std::string_view url, std::size_t protocol_length) {
  std::string shortened(url);
  std::string_view after_protocol = url.substr(protocol_length);
  std::size_t slash = after_protocol.find('/');
  if (slash != std::string_view::npos) {
    std::string_view host = after_protocol.substr(0, slash);
    std::string_view segment = after_protocol.substr(slash + 1);
    segment = segment.substr(0, segment.find('/'));
    segment = first_characters(segment, 8);
    segment = segment.substr(0, segment.find('?'));
    segment = segment.substr(0, segment.find('.'));
    shortened.assign(url.substr(0, protocol_length));
    shortened.append(host).append("/").append(segment);
  }
  if (count_characters(shortened) > kMaxDisplayLength * 3 / 2) {
    shortened.resize(first_characters(shortened, kMaxDisplayLength).size());
  }
  if (shortened == url) return shortened;
  // Do not leave half of an entity such as "&amp;" at the end.
  std::size_t amp = shortened.rfind('&');
  if (amp != std::string::npos &&
      count_characters(std::string_view(shortened).substr(0, amp)) > kMaxDisplayLength - 5) {
    shortened.resize(amp);
  }
  shortened += "...";
  if (count_characters(shortened) >= count_characters(url)) return std::string(url);
  return shortened;
}

template <typename ExtraParams>
std::string linkify_with(std::string_view text, bool shorten, const ExtraParams& extra_params,
                         bool require_protocol, const std::vector<std::string>& permitted) {
  std::string escaped = xhtml_escape(text);
  std::string out;
  out.reserve(escaped.size() + escaped.size() / 4);
  Matcher matcher(escaped);
  Matcher::Match match;
  std::size_t copied = 0;
  while (copied < escaped.size() && matcher.find(copied, match)) {
    out.append(escaped, copied, match.start - copied);
    copied = match.end;
    std::string_view url = std::string_view(escaped).substr(match.start, match.end - match.start);
    bool has_protocol = !match.protocol.empty();
    if ((require_protocol && !has_protocol) ||
        (has_protocol &&
         std::find(permitted.begin(), permitted.end(), match.protocol) == permitted.end())) {
      out.append(url);
      continue;
    }
    std::string href;
    if (!has_protocol) href = "http://";
    href.append(url);
    std::string params = extra_params(href);
    std::string display(url);
    if (shorten && count_characters(url) > kMaxDisplayLength) {
      std::size_t protocol_length =
          has_protocol ? count_characters(match.protocol) + 1 + match.slashes : 0;
      display = shorten_url(url, first_characters(url, protocol_length).size());
      if (display != url) params.append(" title=\"").append(href).append("\"");
    }
    out.append("<a href=\"").append(href).append("\"").append(params).append(">");
    out.append(display).append("</a>");
  }
  out.append(escaped, copied, std::string::npos);
  return out;
}

}  // namespace

std::string linkify(std::string_view text, bool shorten, std::string_view extra_params,
                    bool require_protocol, const std::vector<std::string>& permitted_protocols) {
  std::string params;
  if (!extra_params.empty()) params.append(" ").append(strip_ascii(extra_params));
  return linkify_with(
      text, shorten, [&params](const std::string&) { return params; }, require_protocol,
      permitted_protocols);
}

std::string linkify(std::string_view text, bool shorten,
                    const std::function<std::string(std::string_view href)>& extra_params,
                    bool require_protocol, const std::vector<std::string>& permitted_protocols) {
  auto params = [&extra_params](const std::string& href) {
    std::string result;
    if (extra_params) result.append(" ").append(strip_ascii(extra_params(href)));
    return result;
  };
  return linkify_with(text, shorten, params, require_protocol, permitted_protocols);
}

}  // namespace squall::escape
