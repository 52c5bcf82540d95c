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

#include "http/header_words.hpp"
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

using header_words::copy_bytes;
using header_words::same_name;
using header_words::value_is_clean;
using header_words::write_plain_name;
using http_text::ascii_lower;
using http_text::quote_for_message;
using http_text::strip;

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

// `add` and `set` of a value with a control byte (maybe only a tab, which is allowed): the checks
// in their order, the name's first. Out of line so that the hot callers keep few registers.
[[gnu::cold, gnu::noinline]] void check_output_field(std::string_view name,
                                                     std::string_view value) {
  check_name<HTTPOutputError>(name, "name");
  check_value<HTTPOutputError>(value, "value");
}

[[gnu::cold, gnu::noinline]] void check_output_name(std::string_view name) {
  check_name<HTTPOutputError>(name, "name");
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

// Block parts count in 32 bits, and entry indexes at and above HTTPHeaders' markers are not
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

namespace {

// The capacity of a part of the block that must take `more` elements: geometric growth, and at
// least `first` (a response's usual headers fit the first block: 8 entries, 128 bytes of text).
std::size_t capacity_for(std::size_t size, std::size_t capacity, std::size_t more,
                         std::size_t first) {
  if (more <= capacity - size) return capacity;
  const std::size_t needed = size + more;
  if (needed > kMaxBufferSize) throw std::length_error("HTTPHeaders: headers too large");
  const std::size_t doubled = std::min<std::size_t>(2 * capacity, kMaxBufferSize);
  return std::max(std::max(needed, doubled), first);
}

}  // namespace

void HTTPHeaders::grow(std::size_t entries, std::size_t bytes) {
  reallocate(capacity_for(entries_.size(), entries_.capacity(), entries, 8),
             capacity_for(bytes_.size(), bytes_.capacity(), bytes, 128));
}

inline void HTTPHeaders::free_block() noexcept {
  if (entries_.data() != nullptr) detail::small_deallocate(entries_.data(), block_size());
}

void HTTPHeaders::reallocate(std::size_t entry_capacity, std::size_t byte_capacity) {
  if (entry_capacity > kMaxBufferSize || byte_capacity > kMaxBufferSize) {
    throw std::length_error("HTTPHeaders: headers too large");
  }
  if (entries_.data() == nullptr) {  // the usual case: nothing to move
    void* block = detail::small_allocate(entry_capacity * sizeof(Entry) + byte_capacity);
    entries_ = Span<Entry>(static_cast<Entry*>(block), 0, entry_capacity);
    bytes_ =
        Span<char>(static_cast<char*>(block) + entry_capacity * sizeof(Entry), 0, byte_capacity);
    return;
  }
  const std::size_t size = entry_capacity * sizeof(Entry) + byte_capacity;
  void* block = detail::small_allocate(size);
  auto* entries = static_cast<Entry*>(block);
  char* bytes = static_cast<char*>(block) + entry_capacity * sizeof(Entry);
  if (entries_.size() != 0) std::memcpy(entries, entries_.data(), entries_.size() * sizeof(Entry));
  if (bytes_.size() != 0) std::memcpy(bytes, bytes_.data(), bytes_.size());
  free_block();
  entries_ = Span<Entry>(entries, entries_.size(), entry_capacity);
  bytes_ = Span<char>(bytes, bytes_.size(), byte_capacity);
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
      if (head == kTombstone) continue;
      const Entry& entry = headers.entries_[head];
      if (entry.name_size == name.size() &&
          same_name(headers.bytes_.data() + entry.name, name.data(), name.size())) {
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
    : index_(other.index_ ? std::make_unique<Index>(*other.index_) : nullptr),
      pairs_(other.pairs_),
      erased_(other.erased_),
      dead_bytes_(other.dead_bytes_) {
  if (other.entries_.size() == 0 && other.bytes_.size() == 0) return;
  // No spare room in the copy, as a parsed head has none.
  const std::size_t entries = other.entries_.size();
  const std::size_t bytes = other.bytes_.size();
  void* block = detail::small_allocate(entries * sizeof(Entry) + bytes);
  entries_ = Span<Entry>(static_cast<Entry*>(block), entries, entries);
  bytes_ = Span<char>(static_cast<char*>(block) + entries * sizeof(Entry), bytes, bytes);
  if (entries != 0) std::memcpy(entries_.data(), other.entries_.data(), entries * sizeof(Entry));
  if (bytes != 0) std::memcpy(bytes_.data(), other.bytes_.data(), bytes);
}

HTTPHeaders::HTTPHeaders(HTTPHeaders&& other) noexcept
    : entries_(std::exchange(other.entries_, {})),
      bytes_(std::exchange(other.bytes_, {})),
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
    free_block();
    entries_ = std::exchange(other.entries_, {});
    bytes_ = std::exchange(other.bytes_, {});
    index_ = std::move(other.index_);
    pairs_ = std::exchange(other.pairs_, 0);
    erased_ = std::exchange(other.erased_, 0);
    dead_bytes_ = std::exchange(other.dead_bytes_, 0);
  }
  return *this;
}

HTTPHeaders::~HTTPHeaders() {
  free_block();
}

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
  append_value<false>(name, value);
  ++pairs_;
}

[[gnu::always_inline]] inline std::size_t HTTPHeaders::find_head(std::string_view name) const {
  if (index_) [[unlikely]] {
    return index_->find(*this, name);
  }
  const std::size_t size = name.size();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& entry = entries_[i];
    // A later value repeats its head's name: skip it by its `last` without comparing.
    if (entry.name_size == size && entry.is_head() &&
        same_name(bytes_.data() + entry.name, name.data(), size)) {
      return i;
    }
  }
  return kNotFound;
}

std::size_t HTTPHeaders::find(std::string_view name) const {
  return find_head(name);
}

inline bool HTTPHeaders::has_room(std::size_t entries, std::size_t bytes) const noexcept {
  return entries <= entries_.capacity() - entries_.size() &&
         bytes <= bytes_.capacity() - bytes_.size();
}

void HTTPHeaders::make_room(std::size_t entries, std::string_view& a, std::string_view& b) {
  if (has_room(entries, a.size() + b.size())) return;
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
  grow(entries, a.size() + b.size());
  if (bytes_.data() == old) return;
  if (a_offset != kNotFound) a = {bytes_.data() + a_offset, a.size()};
  if (b_offset != kNotFound) b = {bytes_.data() + b_offset, b.size()};
}

inline std::uint32_t HTTPHeaders::push_entry(std::uint32_t name, std::uint32_t name_size,
                                             std::string_view value, std::uint32_t last) noexcept {
  const auto offset = static_cast<std::uint32_t>(bytes_.size());
  copy_bytes(bytes_.extend(value.size()), value.data(), value.size());
  const auto slot = static_cast<std::uint32_t>(entries_.size());
  *entries_.extend(1) = Entry{name,   name_size,
                              offset, static_cast<std::uint32_t>(value.size()),
                              kNone,  last == kNone ? slot : last};
  return slot;
}

template <bool kCheckName>
void HTTPHeaders::append_value(std::string_view name, std::string_view value) {
  const std::size_t found = entries_.size() == 0 ? kNotFound : find_head(name);
  if (found != kNotFound) {
    // The name equals a stored one but for ASCII case, so it is a token too.
    if (!has_room(1, value.size())) [[unlikely]] {
      std::string_view unused;
      make_room(1, value, unused);
    }
    const Entry head = entries_[found];
    const std::uint32_t slot = push_entry(head.name, head.name_size, value, kLater);
    entries_[head.last].next = slot;
    entries_[found].last = slot;
  } else {
    const bool common = header_words::is_common_name(name);
    if (!has_room(1, name.size() + value.size())) [[unlikely]] {
      // A bad name must fail before anything changes, the heap bytes included.
      if constexpr (kCheckName) {
        if (!common) check_output_name(name);
      }
      if (entries_.data() == nullptr) {
        // The first field of a response: nothing to move, no text of ours to find again.
        reallocate(8, std::max<std::size_t>(128, name.size() + value.size()));
      } else {
        make_room(1, name, value);
      }
    }
    // Checked as it is written: nothing visible changes until `extend`.
    char* out = bytes_.data() + bytes_.size();
    if (common) {
      copy_bytes(out, name.data(), name.size());
    } else if (!write_plain_name<kCheckName>(name, out)) [[unlikely]] {
      if constexpr (kCheckName) check_output_name(name);
      write_header_case(name, out);
    }
    if (index_ && !index_->has_room()) index_->rehash(*this);
    const auto name_offset = static_cast<std::uint32_t>(bytes_.size());
    bytes_.extend(name.size());
    const std::uint32_t slot =
        push_entry(name_offset, static_cast<std::uint32_t>(name.size()), value, kNone);
    if (index_) index_->insert(*this, slot);
  }
  // Few entries: a linear scan is fastest. Many (a hostile request): a hash index keeps each
  // lookup O(1), so parsing stays linear.
  if (!index_ && entries_.size() > kLinearLimit) [[unlikely]] {
    build_index();
  }
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
  headers.append_value<false>(name, value);
  ++headers.pairs_;
}

void detail::HTTPHeadersAccess::reserve(HTTPHeaders& headers, std::size_t fields,
                                        std::size_t bytes) {
  const std::size_t entry_capacity =
      std::max(headers.entries_.capacity(), headers.entries_.size() + fields);
  const std::size_t byte_capacity =
      std::max(headers.bytes_.capacity(), headers.bytes_.size() + bytes);
  if (entry_capacity != headers.entries_.capacity() || byte_capacity != headers.bytes_.capacity()) {
    headers.reallocate(entry_capacity, byte_capacity);
  }
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
  // The name is checked as it is written (append_value<true>); a value with a control byte
  // takes the slow path, which checks the name first as the errors' order requires.
  if (!value_is_clean(value)) [[unlikely]] {
    check_output_field(name, value);
  }
  append_value<true>(name, value);
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
  // The name is checked by append_value<true> if new; if found, it equals a stored one but
  // for ASCII case, so it is a token too.
  if (!value_is_clean(value)) [[unlikely]] {
    check_output_field(name, value);
  }
  const std::size_t found = entries_.size() == 0 ? kNotFound : find_head(name);
  if (found == kNotFound) {
    append_value<true>(name, value);
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
  const std::size_t found = entries_.size() == 0 ? kNotFound : find_head(name);
  if (found == kNotFound) return std::nullopt;
  const Entry& head = entries_[found];
  if (head.next != kNone) [[unlikely]] {
    return join_values(found);
  }
  return std::optional<std::string>(std::in_place, bytes_.data() + head.value, head.value_size);
}

std::string HTTPHeaders::join_values(std::size_t found) const {
  const Entry& head = entries_[found];
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
  const std::size_t entry_count = entries_.size() - erased_;
  const std::size_t byte_count = bytes_.size() - dead_bytes_;
  void* block = entry_count + byte_count == 0
                    ? nullptr
                    : detail::small_allocate(entry_count * sizeof(Entry) + byte_count);
  Span<Entry> entries(static_cast<Entry*>(block), 0, entry_count);
  Span<char> bytes(static_cast<char*>(block) + entry_count * sizeof(Entry), 0, byte_count);
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
  free_block();
  entries_ = entries;
  bytes_ = bytes;
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
