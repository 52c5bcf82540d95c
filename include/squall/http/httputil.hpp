#pragma once
/// \file
/// HTTP helpers shared by clients and servers (Tornado's `httputil`): the `HTTPHeaders` multi-map,
/// the errors of the HTTP layer, URL and query-string helpers, HTTP dates, reason phrases, the
/// `Cookie` request header and byte ranges (`Range`, `Content-Range`).
///
/// Strings are bytes: nothing here decodes or checks UTF-8. Every function runs in time linear in
/// its input (`HTTPHeaders` lookups take constant expected time).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "squall/core/detail/small_alloc.hpp"
#include "squall/util/error.hpp"

namespace squall {

namespace detail {
struct HTTPHeadersAccess;
}  // namespace detail

/// Malformed HTTP from a remote peer: a bad header line, start line or body framing (Tornado's
/// `HTTPInputError`). A server answers it with 400 and closes the connection.
class HTTPInputError : public Error {
 public:
  using Error::Error;
};

/// The application wrote HTTP that cannot be sent: more or less body than Content-Length, a write
/// after finish (Tornado's `HTTPOutputError`).
class HTTPOutputError : public Error {
 public:
  using Error::Error;
};

/// Header fields by name, as Tornado's `HTTPHeaders`: names compare without regard to ASCII case
/// and are stored in Http-Header-Case (`coNtent-TYPE` becomes `Content-Type`); a name may hold
/// several values. Iteration yields one (name, value) pair per value, grouped by name, names in the
/// order they were first added and each name's values in the order they were added (as Tornado's
/// `get_all`).
class HTTPHeaders {
 public:
  /// Iterates the (name, value) pairs; the views stay valid until the headers are modified.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::pair<std::string_view, std::string_view>;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = value_type;

    const_iterator() = default;
    value_type operator*() const;
    const_iterator& operator++();
    const_iterator operator++(int) {
      auto copy = *this;
      ++*this;
      return copy;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.field_ == b.field_ && a.value_ == b.value_;
    }

   private:
    friend class HTTPHeaders;
    const_iterator(const HTTPHeaders* headers, std::size_t field);
    void skip_erased();

    const HTTPHeaders* headers_ = nullptr;
    std::size_t field_ = 0;
    std::size_t value_ = 0;
  };
  using iterator = const_iterator;

  HTTPHeaders() noexcept;
  /// Copies every (name, value) pair, in the same order; the index, if any, is copied too.
  HTTPHeaders(const HTTPHeaders& other);
  /// Takes the pairs of `other`, which is left empty.
  HTTPHeaders(HTTPHeaders&& other) noexcept;
  HTTPHeaders& operator=(const HTTPHeaders& other);
  HTTPHeaders& operator=(HTTPHeaders&& other) noexcept;
  ~HTTPHeaders();

  /// Parses a header block: "Name: value" lines, each ended by CRLF or a bare LF (the last one may
  /// lack it); empty lines are skipped, as Tornado does. Throws `HTTPInputError` for any line that
  /// `parse_line` rejects.
  static HTTPHeaders parse(std::string_view block);

  /// Adds one "Name: value" line (a trailing CRLF or LF is ignored; an empty line does nothing).
  /// Surrounding spaces and tabs of the value are dropped. Stricter than Tornado: throws
  /// `HTTPInputError` for a line without a colon, an empty name or one with a character outside
  /// RFC 9110's token (white space before the colon included), a line that starts with white space
  /// (obsolete line folding), and a value holding a NUL, a CR, an LF, DEL or another control
  /// character other than HTAB.
  void parse_line(std::string_view line);

  /// Appends `value` to the values of `name`. Throws `HTTPOutputError` if `name` is not a token
  /// or `value` holds a control character other than HTAB (CR, LF and NUL included: no response
  /// splitting or header injection); the value is kept as given otherwise.
  void add(std::string_view name, std::string_view value);

  /// Replaces all values of `name` with `value` (Tornado's `headers[name] = value`); a name already
  /// present keeps its place in the iteration order. Validates as `add` does.
  void set(std::string_view name, std::string_view value);

  /// The values of `name` joined with "," (no space, as Tornado), or nullopt if absent.
  std::optional<std::string> get(std::string_view name) const;

  /// The values of `name` joined with ",", or `default_value` if absent.
  std::string get(std::string_view name, std::string_view default_value) const;

  /// The values of `name` in the order they were added; empty if absent.
  std::vector<std::string> get_list(std::string_view name) const;

  /// Whether `name` has a value.
  bool contains(std::string_view name) const;

  /// Removes all values of `name`; returns whether it had any.
  bool erase(std::string_view name);

  /// The number of (name, value) pairs that iteration yields (not the number of distinct names).
  std::size_t size() const noexcept { return pairs_; }
  bool empty() const noexcept { return pairs_ == 0; }
  void clear() noexcept;

  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, entries_.size()); }

 private:
  friend struct detail::HTTPHeadersAccess;  // the HTTP/1.1 codec adds fields it has validated

  // An array of a trivially copyable type in part of a block that the headers own, sized in 32
  // bits (16 bytes where a vector takes 24).
  template <class T>
  class Span {
   public:
    Span() noexcept = default;
    Span(T* data, std::size_t size, std::size_t capacity) noexcept
        : data_(data),
          size_(static_cast<std::uint32_t>(size)),
          capacity_(static_cast<std::uint32_t>(capacity)) {}

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    // Adds `n` elements, uninitialized, within the capacity; returns the first.
    T* extend(std::size_t n) noexcept {
      T* first = data_ + size_;
      size_ += static_cast<std::uint32_t>(n);
      return first;
    }
    void clear() noexcept { size_ = 0; }

   private:
    T* data_ = nullptr;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 0;
  };

  // One value of a name. The first value of each name (its head) holds the name's place in the
  // iteration order; the name's later values hang from it in a chain. Names and values are byte
  // ranges of `bytes_`, names written once per head in Http-Header-Case (later values repeat the
  // head's range).
  struct Entry {
    std::uint32_t name;  // offset in bytes_
    std::uint32_t name_size;
    std::uint32_t value;  // offset in bytes_
    std::uint32_t value_size;
    std::uint32_t next;  // the name's next value, or kNone
    std::uint32_t last;  // head: the name's last value; else kLater or kErased

    bool is_head() const noexcept { return last < kLater; }
  };
  static constexpr std::uint32_t kNone = 0xffffffff;
  static constexpr std::uint32_t kErased = 0xfffffffe;
  static constexpr std::uint32_t kLater = 0xfffffffd;

  // A hash table of the heads by name, made once there are too many entries to scan.
  struct Index;

  static constexpr std::size_t kNotFound = static_cast<std::size_t>(-1);
  // Up to this many entries, lookups scan; past it, `index_` finds names in O(1) expected time.
  static constexpr std::size_t kLinearLimit = 12;

  std::string_view name_of(const Entry& entry) const noexcept {
    return {bytes_.data() + entry.name, entry.name_size};
  }
  std::string_view value_of(const Entry& entry) const noexcept {
    return {bytes_.data() + entry.value, entry.value_size};
  }
  // The head of `name`, or kNotFound.
  std::size_t find(std::string_view name) const;
  std::size_t find_head(std::string_view name) const;  // the same, inlined in the hot paths
  // The values of the head `found` (which has several) joined with ','.
  std::string join_values(std::size_t found) const;
  // Adds `value` to the values of `name` (made if new), unchecked but for the name's token
  // characters if `kCheckName` (HTTPOutputError).
  template <bool kCheckName>
  void append_value(std::string_view name, std::string_view value);
  // Whether `entries` more entries and `bytes` more bytes fit without growing.
  bool has_room(std::size_t entries, std::size_t bytes) const noexcept;
  // Room for `entries` more entries and the bytes of `a` and `b`, which are moved along if they
  // point into `bytes_` and it moves. Throws before anything changes.
  void make_room(std::size_t entries, std::string_view& a, std::string_view& b);
  // Copies `value` to `bytes_` and adds its entry, with room made already; `last` is kLater for a
  // later value of a name, kNone for a head. Returns the entry's index.
  std::uint32_t push_entry(std::uint32_t name, std::uint32_t name_size, std::string_view value,
                           std::uint32_t last) noexcept;
  // Marks the later values of the head `head` erased; returns their count.
  std::size_t erase_later_values(std::size_t head) noexcept;
  // Copies the live entries and bytes, dropping the erased ones, once those outweigh them.
  void compact_if_sparse();
  void compact();
  void build_index();

  // The bytes of the block from the per-thread small-block cache that holds `entries_` then
  // `bytes_` (one allocation for a head, not two), or 0 if none.
  std::size_t block_size() const noexcept {
    return entries_.capacity() * sizeof(Entry) + bytes_.capacity();
  }
  // Moves entries and bytes to a new block of these capacities (at least their sizes). Throws
  // std::length_error past 4 GiB of either, before anything changes.
  void reallocate(std::size_t entry_capacity, std::size_t byte_capacity);
  // Room for `entries` more entries and `bytes` more bytes, growing geometrically.
  void grow(std::size_t entries, std::size_t bytes);
  void free_block() noexcept;

  // About 56 bytes: an idle WebSocket keeps its handshake's headers for its whole life.
  Span<Entry> entries_;           // at the start of the block, which it owns
  Span<char> bytes_;              // after the entries' capacity
  std::unique_ptr<Index> index_;  // null while entries are few
  std::uint32_t pairs_ = 0;
  std::uint32_t erased_ = 0;      // entries marked kErased
  std::uint32_t dead_bytes_ = 0;  // bytes of bytes_ that no entry uses
};

namespace httputil {

/// A header name in Http-Header-Case, as Tornado's `_normalize_header`: each '-'-separated word
/// gets its first letter upper-cased and the rest lower-cased (ASCII only).
std::string normalize_header(std::string_view name);

/// `url` with `args` appended to its query, as Tornado's `url_concat`: the existing query is
/// re-encoded (a name without '=' gets an empty value, `%XX` and '+' are normalized as `url_escape`
/// writes them), an empty query loses its '?', and a fragment stays at the end. With empty `args`
/// the query is still re-encoded.
std::string url_concat(std::string_view url,
                       const std::vector<std::pair<std::string, std::string>>& args);

/// Parses a query string into values by name, as Tornado's `parse_qs_bytes` (Python's `parse_qs`):
/// pairs split on '&', empty pairs skipped, '+' is a space, `%XX` decoded to bytes. A pair without
/// '=' or with an empty value is kept with an empty value if `keep_blank_values`, dropped
/// otherwise.
std::map<std::string, std::vector<std::string>> parse_qs_bytes(std::string_view query,
                                                               bool keep_blank_values = true);

/// Decodes `%XX` escapes to bytes (a '%' not followed by two hex digits stays as it is) and, if
/// `plus`, '+' to a space first (Tornado's `url_unescape` returning bytes).
std::string url_unescape(std::string_view s, bool plus = true);

/// Percent-encodes every byte but ASCII letters, digits and "_.-~", as Tornado's `url_escape`:
/// with `plus`, a space becomes '+' and '/' is escaped (Python's `quote_plus`); without it, a space
/// becomes `%20` and '/' is kept (Python's `quote`). Hex digits are upper case.
std::string url_escape(std::string_view s, bool plus = true);

/// Splits "host:port" as Tornado's `split_host_and_port`: if `netloc` is a non-empty host, a colon
/// and only ASCII digits after its last colon, returns (host, port); otherwise (netloc, nullopt).
/// As in Tornado an unbracketed IPv6 address splits at its last colon ("::1" gives (":", 1)).
/// Throws `ValueError` if the digits exceed an `int`.
std::pair<std::string, std::optional<int>> split_host_and_port(std::string_view netloc);

/// Formats `t` (truncated to whole seconds) as an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
/// Thread-safe, independent of the locale and time zone.
std::string format_timestamp(std::chrono::system_clock::time_point t);

/// Parses an HTTP date in any of RFC 9110 §5.6.7's forms: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
/// GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year more than 50 years in the
/// future means the century before) and asctime ("Sun Nov  6 08:49:37 1994"). Names and "GMT" match
/// without regard to case, surrounding spaces and tabs are ignored, the day name is not checked
/// against the date, a second of 60 is allowed. Returns nullopt for anything else, an impossible
/// date, or one outside `system_clock`'s range. Thread-safe, independent of the locale.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s);

/// The reason phrase of a status code, for every code Python's `http.HTTPStatus` knows (with the
/// RFC 9110 names Python 3.13 uses: 413 "Content Too Large", 422 "Unprocessable Content"...), such
/// as 431 "Request Header Fields Too Large". Empty for any other code (Tornado shows "Unknown").
std::string_view reason_phrase(int code) noexcept;

/// Parses a `Cookie` request header as Tornado's `parse_cookie` (which mimics browsers, not the
/// RFCs): pairs split on ';', name and value split at the first '=', both stripped of ASCII white
/// space; a pair without '=' is a value with an empty name; a pair with both empty is skipped; a
/// value in double quotes loses them and its backslash escapes (`\"`, `\\`, octal `\073`); a later
/// pair replaces an earlier one of the same name. Never throws (other than `std::bad_alloc`).
std::map<std::string, std::string> parse_cookie(std::string_view header);

/// A byte range of a `Range` header: `[first, end)` as slice indexes, either side unset when the
/// header leaves it open; a negative `first` counts from the end (a suffix).
using RequestRange = std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>>;

/// Parses a `Range` header of one byte range as Tornado's `_parse_request_range`, into slice
/// indexes: `bytes=0-9` gives (0, 10), `bytes=5-` (5, unset), `bytes=-5` the last five bytes
/// (-5, unset), `bytes=-0` (unset, 0), which no representation satisfies, and `bytes=5-2` (5, 3),
/// which the caller refuses with 416 as Tornado does (RFC 9110 lets a server reject or ignore
/// it). Returns nullopt, for the caller to ignore the header, for another unit or several ranges.
/// Where Tornado strays from RFC 9110 §14.1 this follows the RFC: the unit is matched without
/// regard to case, positions are ASCII digits only (no sign, '_' or inner spaces), and
/// `bytes=`, `bytes=-` and `bytes=5` are invalid (nullopt) where Tornado gives (unset, unset) and
/// (5, unset). Spaces and tabs around the unit, the '=' and the positions are allowed, as
/// Tornado allows them. Positions past `INT64_MAX` are taken as `INT64_MAX` (the caller caps
/// them at the size anyway).
std::optional<RequestRange> parse_request_range(std::string_view range_header);

/// The `Content-Range` value of the slice `[start, end)` of a representation of `total` bytes, as
/// Tornado's `_get_content_range`: "bytes 0-9/100"; an unset `start` is 0 and an unset `end` is
/// `total`. Throws ValueError unless `0 <= start < end <= total`.
std::string format_content_range(std::optional<std::int64_t> start, std::optional<std::int64_t> end,
                                 std::int64_t total);

/// `reference` (a link or a redirect's Location: absolute, scheme-relative, absolute-path or
/// relative) resolved against the absolute URL `base` by RFC 3986 §5.2 in its strict form (a
/// reference with a scheme is taken as it is, even `http:g` on an http base), dot segments
/// removed: `../g` on `http://a/b/c/d;p?q` is `http://a/g`. Any scheme is resolved alike, not
/// only http and https. The fragment is dropped and the scheme lowercased. Bytes of `reference`
/// that a URL cannot hold (all but RFC 3986's unreserved and reserved characters and '%': space,
/// controls, non-ASCII, `"<>\^`{|}`) are percent-encoded first, as browsers and python-requests
/// do; nothing is decoded or otherwise normalized. Throws ValueError if `base` has no scheme.
std::string resolve_url(std::string_view base, std::string_view reference);

}  // namespace httputil
}  // namespace squall
