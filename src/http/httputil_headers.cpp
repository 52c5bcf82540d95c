// HTTPHeaders (httputil's header multi-map): names and values in one text block, small entries
// chaining each name's values, and a hash index for heads with many names.

#include "squall/http/httputil.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <utility>

#include "http/http1_parser.hpp"
#include "http/text.hpp"

namespace squall {
namespace {

constexpr std::string_view kHttpWhitespace = " \t";

bool is_tchar(unsigned char c) {
  return http1::is_token_char(static_cast<char>(c));
}

bool is_forbidden_in_value(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

using http_text::ascii_lower;
using http_text::iequals;
using http_text::quote_for_message;
using http_text::strip;

// Whether any of the 8 bytes of `word` is a control character (below 0x20, tab included) or
// DEL: the usual "has a byte less than n" bit trick, bytes of 0x80 and above never flagged.
constexpr bool has_control_byte(std::uint64_t word) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  const std::uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighs;
  const std::uint64_t del = word ^ (kOnes * 0x7f);
  const std::uint64_t is_del = (del - kOnes) & ~del & kHighs;
  return (below_space | is_del) != 0;
}

// Whether a header value may be written as it is: the common case, eight bytes at a time.
bool value_is_clean(std::string_view value) noexcept {
  const char* p = value.data();
  std::size_t n = value.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    if (has_control_byte(word)) return false;  // maybe only a tab: the slow path decides
  }
  for (; n > 0; ++p, --n) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

template <class ErrorType>
void check_name(std::string_view name, std::string_view context) {
  if (!name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return is_tchar(static_cast<unsigned char>(ch));
      })) {
    return;  // the common case: one pass
  }
  if (name.empty()) throw ErrorType("Invalid header " + std::string(context) + ": empty name");
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_tchar(c)) continue;
    if (c == ' ' || c == '\t') {
      throw ErrorType("Invalid header " + std::string(context) +
                      ": white space in or after the name " + quote_for_message(name));
    }
    throw ErrorType("Invalid header " + std::string(context) + ": bad character in name " +
                    quote_for_message(name));
  }
}

template <class ErrorType>
void check_value(std::string_view value, std::string_view context) {
  if (value_is_clean(value)) return;
  if (std::none_of(value.begin(), value.end(),
                   [](char ch) { return is_forbidden_in_value(static_cast<unsigned char>(ch)); })) {
    return;
  }
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (!is_forbidden_in_value(c)) continue;
    const char* what = c == 0      ? "NUL in value "
                       : c == '\r' ? "bare CR in value "
                       : c == '\n' ? "LF in value "
                                   : "control character in value ";
    throw ErrorType("Invalid header " + std::string(context) + ": " + what +
                    quote_for_message(value));
  }
}

}  // namespace

// ---- HTTPHeaders -------------------------------------------------------------------------------

namespace {

// Http-Header-Case, a table for each position: [1] the first letter of a word (upper case),
// [0] any other (lower case).
constexpr auto kHeaderCase = [] {
  std::array<std::array<char, 256>, 2> table{};
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    table[0][c] = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
    table[1][c] = ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch;
  }
  return table;
}();

// Writes `name` in Http-Header-Case to `out`.
void write_header_case(std::string_view name, char* out) noexcept {
  bool word_start = true;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = kHeaderCase[word_start][static_cast<unsigned char>(name[i])];
    out[i] = c;
    word_start = c == '-';
  }
}

// Buffers count in 32 bits, and entry indexes at and above HTTPHeaders' markers are not
// indexes.
constexpr std::size_t kMaxBufferSize = 0xfffffff0;

// A name hash without regard to ASCII case, seeded per process so that a peer cannot choose
// names that all land in one bucket.
std::uint64_t hash_seed() noexcept {
  static const std::uint64_t seed = [] {
    std::uint64_t s =
        0x9e3779b97f4a7c15ULL ^ reinterpret_cast<std::uintptr_t>(&s) ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    try {
      std::random_device device;
      s ^= (static_cast<std::uint64_t>(device()) << 32) ^ device();
    } catch (...) {  // no entropy source: the address and the clock will do
    }
    return s;
  }();
  return seed;
}

constexpr std::uint64_t finalize(std::uint64_t x) noexcept {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_name(std::string_view name) noexcept {
  std::uint64_t h = hash_seed() ^ name.size();
  std::uint64_t word = 0;
  unsigned shift = 0;
  for (const char c : name) {
    word |= static_cast<std::uint64_t>(static_cast<unsigned char>(ascii_lower(c))) << shift;
    shift += 8;
    if (shift == 64) {
      h = finalize(h ^ word);
      word = 0;
      shift = 0;
    }
  }
  return finalize(h ^ word);
}

}  // namespace

template <class T>
HTTPHeaders::Buffer<T>::Buffer(const Buffer& other) {
  if (other.size_ == 0) return;
  data_ = static_cast<T*>(detail::small_allocate(other.size_ * sizeof(T)));
  size_ = capacity_ = other.size_;
  std::memcpy(data_, other.data_, size_ * sizeof(T));
}

template <class T>
HTTPHeaders::Buffer<T>::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

template <class T>
HTTPHeaders::Buffer<T>& HTTPHeaders::Buffer<T>::operator=(Buffer other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(capacity_, other.capacity_);
  return *this;
}

template <class T>
HTTPHeaders::Buffer<T>::~Buffer() {
  if (data_ != nullptr) detail::small_deallocate(data_, capacity_ * sizeof(T));
}

template <class T>
void HTTPHeaders::Buffer<T>::reserve(std::size_t n) {
  if (n <= capacity_) return;
  if (n > kMaxBufferSize) throw std::length_error("HTTPHeaders: headers too large");
  T* fresh = static_cast<T*>(detail::small_allocate(n * sizeof(T)));
  if (size_ != 0) std::memcpy(fresh, data_, size_ * sizeof(T));
  if (data_ != nullptr) detail::small_deallocate(data_, capacity_ * sizeof(T));
  data_ = fresh;
  capacity_ = static_cast<std::uint32_t>(n);
}

template <class T>
void HTTPHeaders::Buffer<T>::make_room(std::size_t n) {
  if (n <= capacity_ - size_) return;
  // A response's usual headers fit the first block: 8 entries, 128 bytes of text.
  constexpr std::size_t kFirst = sizeof(T) == 1 ? 128 : 8;
  const std::size_t needed = size_ + n;
  if (needed > kMaxBufferSize) throw std::length_error("HTTPHeaders: headers too large");
  reserve(std::max(
      {needed, std::min<std::size_t>(2 * std::size_t{capacity_}, kMaxBufferSize), kFirst}));
}

// Open addressing with linear probing over the heads' entry indexes; erased names leave
// tombstones until the next rehash.
struct HTTPHeaders::Index {
  static constexpr std::uint32_t kEmpty = kNone;
  static constexpr std::uint32_t kTombstone = kErased;

  std::vector<std::uint32_t> slots;
  std::size_t used = 0;  // slots not empty, tombstones included

  std::size_t mask() const noexcept { return slots.size() - 1; }

  std::size_t find(const HTTPHeaders& headers, std::string_view name) const noexcept {
    for (std::size_t i = hash_name(name) & mask();; i = (i + 1) & mask()) {
      const std::uint32_t head = slots[i];
      if (head == kEmpty) return kNotFound;
      if (head != kTombstone && iequals(headers.name_of(headers.entries_[head]), name)) {
        return head;
      }
    }
  }

  // Adds a head whose name is not in the table; needs a free slot (see `has_room`).
  void insert(const HTTPHeaders& headers, std::uint32_t head) noexcept {
    std::size_t i = hash_name(headers.name_of(headers.entries_[head])) & mask();
    while (slots[i] != kEmpty && slots[i] != kTombstone) i = (i + 1) & mask();
    if (slots[i] == kEmpty) ++used;
    slots[i] = head;
  }

  void erase(const HTTPHeaders& headers, std::uint32_t head) noexcept {
    std::size_t i = hash_name(headers.name_of(headers.entries_[head])) & mask();
    while (slots[i] != head) i = (i + 1) & mask();
    slots[i] = kTombstone;
  }

  // At most half full, so probes stay short.
  bool has_room() const noexcept { return (used + 1) * 2 <= slots.size(); }

  // A table for `names` heads, with room for as many again before the next rehash.
  static std::vector<std::uint32_t> make_slots(std::size_t names) {
    std::size_t size = 32;
    while (size < 4 * names) size *= 2;
    return std::vector<std::uint32_t>(size, kEmpty);
  }

  void rehash(const HTTPHeaders& headers) {
    std::size_t live = 0;
    for (const std::uint32_t head : slots) live += head < kTombstone;
    Index fresh;
    fresh.slots = make_slots(live);
    for (const std::uint32_t head : slots) {
      if (head < kTombstone) fresh.insert(headers, head);
    }
    *this = std::move(fresh);
  }
};

HTTPHeaders::HTTPHeaders() noexcept = default;

HTTPHeaders::HTTPHeaders(const HTTPHeaders& other)
    : entries_(other.entries_),
      bytes_(other.bytes_),
      index_(other.index_ ? std::make_unique<Index>(*other.index_) : nullptr),
      pairs_(other.pairs_),
      erased_(other.erased_),
      dead_bytes_(other.dead_bytes_) {}

HTTPHeaders::HTTPHeaders(HTTPHeaders&& other) noexcept
    : entries_(std::move(other.entries_)),
      bytes_(std::move(other.bytes_)),
      index_(std::move(other.index_)),
      pairs_(std::exchange(other.pairs_, 0)),
      erased_(std::exchange(other.erased_, 0)),
      dead_bytes_(std::exchange(other.dead_bytes_, 0)) {}

HTTPHeaders& HTTPHeaders::operator=(const HTTPHeaders& other) {
  if (this != &other) *this = HTTPHeaders(other);
  return *this;
}

HTTPHeaders& HTTPHeaders::operator=(HTTPHeaders&& other) noexcept {
  if (this != &other) {
    entries_ = std::move(other.entries_);
    bytes_ = std::move(other.bytes_);
    index_ = std::move(other.index_);
    pairs_ = std::exchange(other.pairs_, 0);
    erased_ = std::exchange(other.erased_, 0);
    dead_bytes_ = std::exchange(other.dead_bytes_, 0);
  }
  return *this;
}

HTTPHeaders::~HTTPHeaders() = default;

HTTPHeaders::const_iterator::const_iterator(const HTTPHeaders* headers, std::size_t field)
    : headers_(headers), field_(field) {
  skip_erased();
}

void HTTPHeaders::const_iterator::skip_erased() {
  const auto& entries = headers_->entries_;
  while (field_ < entries.size() && !entries[field_].is_head()) ++field_;
  value_ = field_;
}

HTTPHeaders::const_iterator::value_type HTTPHeaders::const_iterator::operator*() const {
  const auto& entries = headers_->entries_;
  return {headers_->name_of(entries[field_]), headers_->value_of(entries[value_])};
}

HTTPHeaders::const_iterator& HTTPHeaders::const_iterator::operator++() {
  const std::uint32_t next = headers_->entries_[value_].next;
  if (next != kNone) {
    value_ = next;
  } else {
    ++field_;
    skip_erased();
  }
  return *this;
}

HTTPHeaders HTTPHeaders::parse(std::string_view block) {
  HTTPHeaders headers;
  std::size_t start = 0;
  while (start < block.size()) {
    const auto lf = block.find('\n', start);
    const auto end = lf == std::string_view::npos ? block.size() : lf + 1;
    headers.parse_line(block.substr(start, end - start));
    start = end;
  }
  return headers;
}

void HTTPHeaders::parse_line(std::string_view line) {
  // RFC 9112 §2.2: a recipient may take a bare LF as a line terminator, ignoring a CR before it.
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  if (line.empty()) return;
  if (line.front() == ' ' || line.front() == '\t') {
    throw HTTPInputError("Invalid header line " + quote_for_message(line) +
                         ": starts with white space (obsolete line folding)");
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    throw HTTPInputError("Invalid header line " + quote_for_message(line) + ": no colon");
  }
  const auto name = line.substr(0, colon);
  const auto value = strip(line.substr(colon + 1), kHttpWhitespace);
  check_name<HTTPInputError>(name, "line");
  check_value<HTTPInputError>(value, "line");
  append_value(name, value);
  ++pairs_;
}

std::size_t HTTPHeaders::find(std::string_view name) const {
  if (index_) return index_->find(*this, name);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& entry = entries_[i];
    if (entry.is_head() && iequals(name_of(entry), name)) return i;
  }
  return kNotFound;
}

void HTTPHeaders::make_room(std::size_t entries, std::string_view& a, std::string_view& b) {
  entries_.make_room(entries);
  if (a.size() + b.size() <= bytes_.capacity() - bytes_.size()) return;  // the usual case
  const char* old = bytes_.data();
  // The text may come from these very headers (`add(name, value)` of an iterated pair): find
  // it again in the new block if the bytes move.
  const std::less<const char*> before;
  auto offset_in_bytes = [&](std::string_view s) -> std::size_t {
    if (old == nullptr || before(s.data(), old) || !before(s.data(), old + bytes_.size())) {
      return kNotFound;
    }
    return static_cast<std::size_t>(s.data() - old);
  };
  const std::size_t a_offset = offset_in_bytes(a);
  const std::size_t b_offset = offset_in_bytes(b);
  bytes_.make_room(a.size() + b.size());
  if (bytes_.data() == old) return;
  if (a_offset != kNotFound) a = {bytes_.data() + a_offset, a.size()};
  if (b_offset != kNotFound) b = {bytes_.data() + b_offset, b.size()};
}

std::uint32_t HTTPHeaders::push_entry(std::uint32_t name, std::uint32_t name_size,
                                      std::string_view value, std::uint32_t last) noexcept {
  const auto offset = static_cast<std::uint32_t>(bytes_.size());
  if (!value.empty()) std::memcpy(bytes_.extend(value.size()), value.data(), value.size());
  const auto slot = static_cast<std::uint32_t>(entries_.size());
  *entries_.extend(1) = Entry{name,   name_size,
                              offset, static_cast<std::uint32_t>(value.size()),
                              kNone,  last == kNone ? slot : last};
  return slot;
}

void HTTPHeaders::append_value(std::string_view name, std::string_view value) {
  const std::size_t found = find(name);
  if (found != kNotFound) {
    std::string_view unused;
    make_room(1, value, unused);
    const Entry head = entries_[found];
    const std::uint32_t slot = push_entry(head.name, head.name_size, value, kLater);
    entries_[head.last].next = slot;
    entries_[found].last = slot;
  } else {
    if (index_ && !index_->has_room()) index_->rehash(*this);
    make_room(1, name, value);
    const auto name_offset = static_cast<std::uint32_t>(bytes_.size());
    write_header_case(name, bytes_.extend(name.size()));
    const std::uint32_t slot =
        push_entry(name_offset, static_cast<std::uint32_t>(name.size()), value, kNone);
    if (index_) index_->insert(*this, slot);
  }
  // Few entries: a linear scan is fastest. Many (a hostile request): a hash index keeps each
  // lookup O(1), so parsing stays linear.
  if (!index_ && entries_.size() > kLinearLimit) build_index();
}

void HTTPHeaders::build_index() {
  std::size_t names = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) names += entries_[i].is_head();
  auto index = std::make_unique<Index>();
  index->slots = Index::make_slots(names);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].is_head()) index->insert(*this, static_cast<std::uint32_t>(i));
  }
  index_ = std::move(index);
}

void detail::HTTPHeadersAccess::add_validated(HTTPHeaders& headers, std::string_view name,
                                              std::string_view value) {
  headers.append_value(name, value);
  ++headers.pairs_;
}

void detail::HTTPHeadersAccess::reserve(HTTPHeaders& headers, std::size_t fields,
                                        std::size_t bytes) {
  headers.entries_.reserve(headers.entries_.size() + fields);
  headers.bytes_.reserve(headers.bytes_.size() + bytes);
}

std::size_t detail::HTTPHeadersAccess::heap_bytes(const HTTPHeaders& headers) {
  std::size_t total =
      headers.entries_.capacity() * sizeof(HTTPHeaders::Entry) + headers.bytes_.capacity();
  if (headers.index_) {
    total += sizeof(HTTPHeaders::Index) +
             headers.index_->slots.capacity() * sizeof(headers.index_->slots[0]);
  }
  return total;
}

void HTTPHeaders::add(std::string_view name, std::string_view value) {
  check_name<HTTPOutputError>(name, "name");
  check_value<HTTPOutputError>(value, "value");
  append_value(name, value);
  ++pairs_;
}

std::size_t HTTPHeaders::erase_later_values(std::size_t head) noexcept {
  std::size_t count = 0;
  for (std::uint32_t i = entries_[head].next; i != kNone;) {
    Entry& entry = entries_[i];
    dead_bytes_ += entry.value_size;
    entry.last = kErased;
    ++count;
    i = entry.next;
  }
  erased_ += static_cast<std::uint32_t>(count);
  entries_[head].next = kNone;
  entries_[head].last = static_cast<std::uint32_t>(head);
  return count;
}

void HTTPHeaders::set(std::string_view name, std::string_view value) {
  check_name<HTTPOutputError>(name, "name");
  check_value<HTTPOutputError>(value, "value");
  const std::size_t found = find(name);
  if (found == kNotFound) {
    append_value(name, value);
    ++pairs_;
    return;
  }
  const auto size = static_cast<std::uint32_t>(value.size());
  if (size > entries_[found].value_size) {
    std::string_view unused;
    make_room(0, value, unused);  // before any change: it may throw
  }
  pairs_ -= static_cast<std::uint32_t>(erase_later_values(found));
  Entry& head = entries_[found];
  if (size <= head.value_size) {
    // Over the old value (which `value` may overlap): the usual `set` of a header by a
    // handler then allocates nothing.
    if (size != 0) std::memmove(bytes_.data() + head.value, value.data(), size);
    dead_bytes_ += head.value_size - size;
  } else {
    dead_bytes_ += head.value_size;
    head.value = static_cast<std::uint32_t>(bytes_.size());
    std::memcpy(bytes_.extend(size), value.data(), size);
  }
  head.value_size = size;
  compact_if_sparse();
}

std::optional<std::string> HTTPHeaders::get(std::string_view name) const {
  const std::size_t found = find(name);
  if (found == kNotFound) return std::nullopt;
  const Entry& head = entries_[found];
  if (head.next == kNone) return std::string(value_of(head));
  std::size_t total = 0;
  for (std::uint32_t i = static_cast<std::uint32_t>(found); i != kNone; i = entries_[i].next) {
    total += entries_[i].value_size + 1;
  }
  std::string joined;
  joined.reserve(total - 1);
  joined.append(value_of(head));
  for (std::uint32_t i = head.next; i != kNone; i = entries_[i].next) {
    joined += ',';
    joined.append(value_of(entries_[i]));
  }
  return joined;
}

std::string HTTPHeaders::get(std::string_view name, std::string_view default_value) const {
  auto value = get(name);
  return value ? std::move(*value) : std::string(default_value);
}

std::vector<std::string> HTTPHeaders::get_list(std::string_view name) const {
  const std::size_t found = find(name);
  if (found == kNotFound) return {};
  std::size_t count = 0;
  for (std::uint32_t i = static_cast<std::uint32_t>(found); i != kNone; i = entries_[i].next) {
    ++count;
  }
  std::vector<std::string> values;
  values.reserve(count);
  for (std::uint32_t i = static_cast<std::uint32_t>(found); i != kNone; i = entries_[i].next) {
    values.emplace_back(value_of(entries_[i]));
  }
  return values;
}

bool HTTPHeaders::contains(std::string_view name) const {
  return find(name) != kNotFound;
}

bool HTTPHeaders::erase(std::string_view name) {
  const std::size_t found = find(name);
  if (found == kNotFound) return false;
  if (index_) index_->erase(*this, static_cast<std::uint32_t>(found));
  pairs_ -= static_cast<std::uint32_t>(erase_later_values(found) + 1);
  Entry& head = entries_[found];
  dead_bytes_ += head.name_size + head.value_size;
  head.last = kErased;
  ++erased_;
  compact_if_sparse();
  return true;
}

void HTTPHeaders::compact_if_sparse() {
  // Erased entries and dead bytes stay where they are, so `erase` and `set` are O(1); copying
  // the live ones once the dead outnumber them keeps memory within twice the live size (plus a
  // little) and a run of changes linear overall.
  constexpr std::uint32_t kSmallEntries = 8;
  constexpr std::uint32_t kSmallBytes = 64;
  if ((erased_ > kSmallEntries && erased_ * std::size_t{2} > entries_.size()) ||
      (dead_bytes_ > kSmallBytes && dead_bytes_ * std::size_t{2} > bytes_.size())) {
    compact();
  }
}

void HTTPHeaders::compact() {
  Buffer<Entry> entries;
  entries.reserve(entries_.size() - erased_);
  Buffer<char> bytes;
  bytes.reserve(bytes_.size() - dead_bytes_);
  auto copy_text = [&](std::uint32_t offset, std::uint32_t size) {
    const auto at = static_cast<std::uint32_t>(bytes.size());
    if (size != 0) std::memcpy(bytes.extend(size), bytes_.data() + offset, size);
    return at;
  };
  // Name by name, each name's values after it: the iteration order, and a compact layout.
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& head = entries_[i];
    if (!head.is_head()) continue;
    const std::uint32_t name = copy_text(head.name, head.name_size);
    const auto first = static_cast<std::uint32_t>(entries.size());
    std::uint32_t previous = kNone;
    for (std::uint32_t v = static_cast<std::uint32_t>(i); v != kNone; v = entries_[v].next) {
      const Entry& entry = entries_[v];
      const auto slot = static_cast<std::uint32_t>(entries.size());
      *entries.extend(1) = Entry{name,
                                 head.name_size,
                                 copy_text(entry.value, entry.value_size),
                                 entry.value_size,
                                 kNone,
                                 previous == kNone ? slot : kLater};
      if (previous != kNone) entries[previous].next = slot;
      previous = slot;
    }
    if (previous != first) entries[first].last = previous;
  }
  entries_ = std::move(entries);
  bytes_ = std::move(bytes);
  erased_ = 0;
  dead_bytes_ = 0;
  index_.reset();  // without an index lookups scan, which is right if slower
  if (entries_.size() > kLinearLimit) build_index();
}

void HTTPHeaders::clear() noexcept {
  entries_.clear();
  bytes_.clear();
  index_.reset();
  pairs_ = 0;
  erased_ = 0;
  dead_bytes_ = 0;
}

namespace httputil {

std::string normalize_header(std::string_view name) {
  std::string out(name.size(), '\0');
  write_header_case(name, out.data());
  return out;
}

}  // namespace httputil
}  // namespace squall
