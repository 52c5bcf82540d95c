#pragma once
// Media types of files by name, for StaticFileHandler: Python's `mimetypes.guess_type` as Tornado
// uses it, with a built-in table of the common web types and Debian's /etc/mime.types.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace squall::web::detail {

/// What Python's `mimetypes.guess_type` gives for a path: the media type and the content coding
/// of a compression suffix, each empty when there is none. The views refer to tables that live
/// as long as the process (or the MimeTypesFile given).
struct MimeGuess {
  std::string_view type;
  std::string_view encoding;
  friend bool operator==(const MimeGuess&, const MimeGuess&) = default;
};

/// The types of a mime.types file ("type ext ext..." lines, '#' starting a comment), as Python's
/// `MimeTypes.read` takes them: a later line naming an extension wins. Extensions are matched
/// without regard to case (Python keeps the few with capitals as written, and never finds
/// them). Holds views into its own text: neither copyable nor movable.
class MimeTypesFile {
 public:
  /// Parses `text`, the content of a mime.types file.
  explicit MimeTypesFile(std::string text);
  MimeTypesFile(const MimeTypesFile&) = delete;
  MimeTypesFile& operator=(const MimeTypesFile&) = delete;

  /// The system's table, read from /etc/mime.types (Debian's media-types package) on the first
  /// call, once per process and thread-safely; empty if the file cannot be read.
  static const MimeTypesFile& system();

  /// The type of `extension` (without its dot, any case), or an empty view. Allocates nothing.
  std::string_view lookup(std::string_view extension) const noexcept;
  /// The number of extensions known.
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::string text_;
  std::vector<std::pair<std::string_view, std::string_view>> entries_;  // by extension, unique
};

/// Guesses the type of `path` as Python 3.11's `mimetypes.guess_type` does on Debian, from the
/// extension of its last component (leading dots of a name are not an extension): `.svgz`,
/// `.tgz`, `.taz`, `.tz`, `.tbz2` and `.txz` stand for `.svg.gz`, `.tar.gz`, ...; a final
/// `.gz`, `.Z`, `.bz2`, `.xz` or `.br` (matched with case, as Python matches them) is the
/// encoding, and the extension before it gives the type ("a.tar.gz": application/x-tar, gzip).
/// A built-in table of the common web types (those Debian's Python gives, `.js` as
/// text/javascript) wins over `types`, so that they do not depend on the machine. Allocates
/// nothing.
MimeGuess guess_mime_type(std::string_view path, const MimeTypesFile& types);
/// As above with the system's table.
MimeGuess guess_mime_type(std::string_view path);

/// The Content-Type to serve the file `path` with, as Tornado's
/// `StaticFileHandler.get_content_type`: "application/gzip" for a gzip-encoded file (RFC 6713),
/// "application/octet-stream" for another encoding or an unknown type, else the guessed type.
std::string_view static_content_type(std::string_view path);

}  // namespace squall::web::detail
