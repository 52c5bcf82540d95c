// Python's mimetypes.guess_type, as Debian's Python 3.11 answers it, without allocating: the
// extension is lowered into a small buffer and found by binary search, first in a built-in table
// of the common web types, then in /etc/mime.types (read once, kept as views into its text).

#include "web/mime_types.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <sstream>

namespace squall::web::detail {
namespace {

using Entry = std::pair<std::string_view, std::string_view>;

// What Debian's Python 3.11 (with the media-types package) gives for these, sorted by extension.
constexpr std::array kBuiltinTypes = {
    Entry{"aac", "audio/aac"},
    Entry{"apng", "image/apng"},
    Entry{"atom", "application/atom+xml"},
    Entry{"avif", "image/avif"},
    Entry{"bmp", "image/bmp"},
    Entry{"css", "text/css"},
    Entry{"csv", "text/csv"},
    Entry{"epub", "application/epub+zip"},
    Entry{"flac", "audio/flac"},
    Entry{"gif", "image/gif"},
    Entry{"gz", "application/gzip"},  // found as a type only when not an encoding (".GZ")
    Entry{"htm", "text/html"},
    Entry{"html", "text/html"},
    Entry{"ico", "image/vnd.microsoft.icon"},
    Entry{"ics", "text/calendar"},
    Entry{"jpeg", "image/jpeg"},
    Entry{"jpg", "image/jpeg"},
    Entry{"js", "text/javascript"},
    Entry{"json", "application/json"},
    Entry{"jsonld", "application/ld+json"},
    Entry{"m4a", "audio/mp4"},
    Entry{"md", "text/markdown"},
    Entry{"mjs", "text/javascript"},
    Entry{"mov", "video/quicktime"},
    Entry{"mp3", "audio/mpeg"},
    Entry{"mp4", "video/mp4"},
    Entry{"oga", "audio/ogg"},
    Entry{"ogg", "audio/ogg"},
    Entry{"ogv", "video/ogg"},
    Entry{"otf", "font/otf"},
    Entry{"pdf", "application/pdf"},
    Entry{"png", "image/png"},
    Entry{"svg", "image/svg+xml"},
    Entry{"tar", "application/x-tar"},
    Entry{"tif", "image/tiff"},
    Entry{"tiff", "image/tiff"},
    Entry{"ttf", "font/ttf"},
    Entry{"txt", "text/plain"},
    Entry{"wasm", "application/wasm"},
    Entry{"wav", "audio/x-wav"},
    Entry{"webm", "video/webm"},
    Entry{"webmanifest", "application/manifest+json"},
    Entry{"webp", "image/webp"},
    Entry{"woff", "font/woff"},
    Entry{"woff2", "font/woff2"},
    Entry{"xhtml", "application/xhtml+xml"},
    Entry{"xml", "application/xml"},
    Entry{"zip", "application/zip"},
    Entry{"zst", "application/zstd"},
};

constexpr bool sorted_and_unique() {
  for (std::size_t i = 1; i < kBuiltinTypes.size(); ++i) {
    if (!(kBuiltinTypes[i - 1].first < kBuiltinTypes[i].first)) return false;
  }
  return true;
}
static_assert(sorted_and_unique(), "kBuiltinTypes must be sorted by extension, once each");

// Python's suffix_map (matched without regard to case): the type's extension and the coding's.
struct SuffixAlias {
  std::string_view suffix;
  std::string_view type_extension;
  std::string_view coding_extension;
};
constexpr std::array kSuffixAliases = {
    SuffixAlias{"svgz", "svg", "gz"},  SuffixAlias{"tgz", "tar", "gz"},
    SuffixAlias{"taz", "tar", "gz"},   SuffixAlias{"tz", "tar", "gz"},
    SuffixAlias{"tbz2", "tar", "bz2"}, SuffixAlias{"txz", "tar", "xz"},
};

// Python's encodings_map, matched with case (".Z" is compress; ".z" is nothing). Unsorted.
constexpr std::array kEncodings = {
    Entry{"gz", "gzip"}, Entry{"Z", "compress"}, Entry{"bz2", "bzip2"},
    Entry{"xz", "xz"},   Entry{"br", "br"},
};

constexpr std::string_view kSpaces = " \t\r\n\v\f";
// Longer extensions are in no table (Debian's longest has 30 characters).
constexpr std::size_t kMaxExtension = 64;

std::string_view encoding_of(std::string_view extension) noexcept {
  for (const Entry& entry : kEncodings) {
    if (entry.first == extension) return entry.second;
  }
  return {};
}

char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view find_in(const auto& table, std::string_view key) noexcept {
  auto it =
      std::lower_bound(std::begin(table), std::end(table), key,
                       [](const Entry& entry, std::string_view k) { return entry.first < k; });
  if (it == std::end(table) || it->first != key) return {};
  return it->second;
}

// Python's posixpath.splitext: the extension (without its dot) of the last component, and what
// comes before it; leading dots of a name are not an extension ("a/.profile" has none).
std::pair<std::string_view, std::string_view> split_extension(std::string_view path) noexcept {
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  const std::size_t name = slash == std::string_view::npos ? 0 : slash + 1;
  if (dot == std::string_view::npos || dot < name) return {path, {}};
  for (std::size_t i = name; i < dot; ++i) {
    if (path[i] != '.') return {path.substr(0, dot), path.substr(dot + 1)};
  }
  return {path, {}};
}

std::string read_file(const char* path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return {};
  std::ostringstream text;
  text << file.rdbuf();
  return std::move(text).str();
}

}  // namespace

MimeTypesFile::MimeTypesFile(std::string text) : text_(std::move(text)) {
  std::size_t at = 0;
  while (at < text_.size()) {
    std::size_t end = text_.find('\n', at);
    if (end == std::string::npos) end = text_.size();
    std::string_view line(text_.data() + at, end - at);
    char* line_start = text_.data() + at;
    at = end + 1;
    std::string_view type;
    for (std::size_t pos = 0;;) {
      pos = line.find_first_not_of(kSpaces, pos);
      if (pos == std::string_view::npos || line[pos] == '#') break;
      std::size_t stop = std::min(line.find_first_of(kSpaces, pos), line.size());
      std::string_view word = line.substr(pos, stop - pos);
      if (type.empty()) {
        type = word;
      } else {
        // Extensions are kept lowered (in place, in the table's own text).
        std::transform(line_start + pos, line_start + stop, line_start + pos, ascii_lower);
        entries_.emplace_back(word, type);
      }
      pos = stop;
    }
  }
  // A later line naming an extension wins: sort stably, then keep the last of each run.
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.first < b.first; });
  auto last_of_each =
      std::unique(entries_.rbegin(), entries_.rend(),
                  [](const Entry& a, const Entry& b) { return a.first == b.first; });
  entries_.erase(entries_.begin(), last_of_each.base());
  entries_.shrink_to_fit();
}

const MimeTypesFile& MimeTypesFile::system() {
  static const MimeTypesFile types(read_file("/etc/mime.types"));
  return types;
}

std::string_view MimeTypesFile::lookup(std::string_view extension) const noexcept {
  if (extension.empty() || extension.size() > kMaxExtension) return {};
  char lowered[kMaxExtension];
  std::transform(extension.begin(), extension.end(), lowered, ascii_lower);
  return find_in(entries_, std::string_view(lowered, extension.size()));
}

MimeGuess guess_mime_type(std::string_view path, const MimeTypesFile& types) {
  MimeGuess guess;
  auto [base, extension] = split_extension(path);
  char lowered[kMaxExtension];
  if (extension.empty() || extension.size() > kMaxExtension) return guess;
  std::transform(extension.begin(), extension.end(), lowered, ascii_lower);
  const std::string_view lower(lowered, extension.size());
  std::string_view type_extension;
  auto alias = std::find_if(kSuffixAliases.begin(), kSuffixAliases.end(),
                            [&](const SuffixAlias& a) { return a.suffix == lower; });
  if (alias != kSuffixAliases.end()) {
    guess.encoding = encoding_of(alias->coding_extension);
    type_extension = alias->type_extension;
  } else if (std::string_view encoding = encoding_of(extension); !encoding.empty()) {
    guess.encoding = encoding;
    type_extension = split_extension(base).second;
  } else {
    type_extension = lower;
  }
  if (type_extension.empty() || type_extension.size() > kMaxExtension) return guess;
  std::transform(type_extension.begin(), type_extension.end(), lowered, ascii_lower);
  const std::string_view key(lowered, type_extension.size());
  guess.type = find_in(kBuiltinTypes, key);
  if (guess.type.empty()) guess.type = types.lookup(key);
  return guess;
}

MimeGuess guess_mime_type(std::string_view path) {
  return guess_mime_type(path, MimeTypesFile::system());
}

std::string_view static_content_type(std::string_view path) {
  MimeGuess guess = guess_mime_type(path);
  if (guess.encoding == "gzip") return "application/gzip";
  if (!guess.encoding.empty() || guess.type.empty()) return "application/octet-stream";
  return guess.type;
}

}  // namespace squall::web::detail
