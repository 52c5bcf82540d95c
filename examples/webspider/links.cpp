// A small HTML tokenizer: enough of HTML's tag syntax to find <a href> robustly, without regular
// expressions (whose backtracking a hostile page could make slow) and without building a tree.

#include "links.hpp"

#include <squall/util/escape.hpp>

#include <cctype>
#include <optional>

namespace webspider {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

/// Where the end tag `</name` starts at or after `from` (any case), or npos.
std::size_t find_end_tag(std::string_view html, std::size_t from, std::string_view name) {
  for (std::size_t at = html.find("</", from); at != std::string_view::npos;
       at = html.find("</", at + 2)) {
    const std::size_t after = at + 2 + name.size();
    if (iequals(html.substr(at + 2, name.size()), name) &&
        (after >= html.size() || is_space(html[after]) || html[after] == '/' ||
         html[after] == '>')) {
      return at;
    }
  }
  return std::string_view::npos;
}

/// Reads the start tag whose name begins at `at`; returns where the tag ends (past its '>'), or
/// npos if the page ends inside it. Adds the href of an `a` tag to `links`.
std::size_t read_start_tag(std::string_view html, std::size_t at, std::string& name,
                           std::vector<std::string>& links) {
  const std::size_t size = html.size();
  std::size_t pos = at;
  while (pos < size && !is_space(html[pos]) && html[pos] != '/' && html[pos] != '>') ++pos;
  name.clear();
  for (char c : html.substr(at, pos - at)) name.push_back(lower(c));
  const bool anchor = name == "a";
  std::optional<std::string> href;
  for (;;) {
    while (pos < size && (is_space(html[pos]) || html[pos] == '/')) ++pos;
    if (pos >= size) return std::string_view::npos;
    if (html[pos] == '>') break;
    // An attribute: its name, then perhaps '=' and a value.
    const std::size_t name_start = pos;
    ++pos;  // a name has at least one character, even '=' (as HTML's tokenizer says)
    while (pos < size && !is_space(html[pos]) && html[pos] != '=' && html[pos] != '>' &&
           html[pos] != '/') {
      ++pos;
    }
    const std::string_view attribute = html.substr(name_start, pos - name_start);
    while (pos < size && is_space(html[pos])) ++pos;
    std::string_view value;
    if (pos < size && html[pos] == '=') {
      ++pos;
      while (pos < size && is_space(html[pos])) ++pos;
      if (pos >= size) return std::string_view::npos;
      if (html[pos] == '"' || html[pos] == '\'') {
        const std::size_t close = html.find(html[pos], pos + 1);
        if (close == std::string_view::npos) return std::string_view::npos;
        value = html.substr(pos + 1, close - pos - 1);
        pos = close + 1;
      } else {
        const std::size_t value_start = pos;
        while (pos < size && !is_space(html[pos]) && html[pos] != '>') ++pos;
        value = html.substr(value_start, pos - value_start);
      }
    }
    // The first href counts, as in browsers.
    if (anchor && !href && iequals(attribute, "href")) {
      href = std::string(trim(squall::escape::xhtml_unescape(value)));
    }
  }
  if (href) links.push_back(std::move(*href));
  return pos + 1;
}

}  // namespace

std::vector<std::string> get_links(std::string_view html) {
  std::vector<std::string> links;
  std::string name;
  std::size_t pos = 0;
  while ((pos = html.find('<', pos)) != std::string_view::npos) {
    const std::string_view rest = html.substr(pos);
    std::size_t end = std::string_view::npos;
    if (rest.starts_with("<!--")) {
      end = html.find("-->", pos + 4);
      if (end != std::string_view::npos) end += 3;
    } else if (rest.starts_with("<!") || rest.starts_with("<?") || rest.starts_with("</")) {
      end = html.find('>', pos + 2);
      if (end != std::string_view::npos) end += 1;
    } else if (rest.size() > 1 && std::isalpha(static_cast<unsigned char>(rest[1]))) {
      end = read_start_tag(html, pos + 1, name, links);
      if (end != std::string_view::npos && (name == "script" || name == "style")) {
        // Their text is not HTML: "<a href" in a script is no link.
        end = find_end_tag(html, end, name);
      }
    } else {
      end = pos + 1;  // a '<' that starts no tag is text
    }
    if (end == std::string_view::npos) break;
    pos = end;
  }
  return links;
}

}  // namespace webspider
