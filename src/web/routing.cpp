// URLSpec: route patterns compiled with PCRE2 (JIT), a literal fast path, and reversal.

#include "squall/web/routing.hpp"

#include <memory>
#include <optional>

#include "squall/http/httputil.hpp"
#include "squall/util/error.hpp"
#include "web/host_pattern.hpp"

namespace squall::web {

struct URLSpec::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::uint32_t groups = 0;
  // (group number, name) of each named group; empty when the pattern names none.
  std::vector<std::pair<std::uint32_t, std::string>> names;
  // A pattern with no regular-expression syntax matches by comparison.
  std::optional<std::string> literal;
  // Reversal: the pattern's fixed text around its groups, or nullopt if it cannot be reversed.
  std::optional<std::vector<std::string>> reverse_pieces;

  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

constexpr std::string_view kMetaCharacters = ".^$*+?{}[]\\|()";

// Python's re_unescape as Tornado uses it for reversal: `\x` becomes `x` for a non-alphanumeric
// `x`; an escaped letter or digit is a character class or back-reference, so nothing literal.
std::optional<std::string> re_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 == text.size()) return std::nullopt;
      char next = text[++i];
      if ((next >= '0' && next <= '9') || (next >= 'a' && next <= 'z') ||
          (next >= 'A' && next <= 'Z')) {
        return std::nullopt;
      }
      out.push_back(next);
    } else if (kMetaCharacters.find(c) != std::string_view::npos) {
      return std::nullopt;  // regular-expression syntax outside a group
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The text between the pattern's groups (Tornado's `_find_groups`): a pattern whose every '('
// opens a plain group with no nested parenthesis reverses; others do not.
std::optional<std::vector<std::string>> find_reverse_pieces(std::string_view pattern,
                                                            std::uint32_t groups) {
  if (!pattern.empty() && pattern.front() == '^') pattern.remove_prefix(1);
  if (!pattern.empty() && pattern.back() == '$') pattern.remove_suffix(1);
  std::vector<std::string> pieces;
  std::uint32_t opened = 0;
  std::size_t pos = 0;
  while (true) {
    std::size_t open = pattern.find('(', pos);
    auto piece =
        re_unescape(pattern.substr(pos, open == std::string_view::npos ? open : open - pos));
    if (!piece) return std::nullopt;
    pieces.push_back(std::move(*piece));
    if (open == std::string_view::npos) break;
    std::size_t close = pattern.find(')', open);
    if (close == std::string_view::npos) return std::nullopt;
    if (pattern.substr(open + 1, close - open - 1).find('(') != std::string_view::npos) {
      return std::nullopt;
    }
    ++opened;
    pos = close + 1;
  }
  if (opened != groups) return std::nullopt;
  return pieces;
}

// Percent-decodes a captured group (not '+': a path is not a form).
void assign_group(std::string& out, const char* subject, PCRE2_SIZE* ovector, std::uint32_t group) {
  PCRE2_SIZE start = ovector[2 * group];
  PCRE2_SIZE end = ovector[2 * group + 1];
  if (start == PCRE2_UNSET) {
    out.clear();
    return;
  }
  std::string_view text(subject + start, end - start);
  if (text.find('%') == std::string_view::npos) {
    out.assign(text);
  } else {
    out = httputil::url_unescape(text, false);
  }
}

// One match-data block per thread, grown to the largest group count seen.
struct MatchData {
  pcre2_match_data* data = nullptr;
  std::uint32_t pairs = 0;
  ~MatchData() {
    if (data) pcre2_match_data_free(data);
  }
  pcre2_match_data* get(std::uint32_t needed_pairs) {
    if (!data || pairs < needed_pairs) {
      if (data) pcre2_match_data_free(data);
      pairs = std::max<std::uint32_t>(needed_pairs, 16);
      data = pcre2_match_data_create(pairs, nullptr);
      if (!data) throw std::bad_alloc();
    }
    return data;
  }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  int length = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (length < 0) return "error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
}

// Compiles a Python-syntax pattern anchored at both ends, as Tornado appends '$' and uses
// re.match (without Python's '$' matching before a final newline). Throws ValueError.
pcre2_code* compile_anchored(const std::string& pattern, std::uint32_t extra_flags = 0) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  std::uint32_t flags = PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY | extra_flags;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   flags, &error, &offset, nullptr);
  if (!code) {
    throw ValueError("bad pattern '" + pattern + "' at offset " + std::to_string(offset) + ": " +
                     pcre2_message(error));
  }
  return code;
}

}  // namespace

namespace detail {

// A host pattern of Application: matched without regard to case.
std::shared_ptr<pcre2_code> compile_host_pattern(const std::string& pattern) {
  pcre2_code* code = compile_anchored(pattern, PCRE2_CASELESS);
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT, matching still works
  return std::shared_ptr<pcre2_code>(code, pcre2_code_free);
}

// Whether `subject` matches the whole of `code`.
bool matches(const pcre2_code* code, std::string_view subject) {
  static thread_local MatchData match_data;
  pcre2_match_data* data = match_data.get(1);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                       data, nullptr);
  return rc >= 0;
}

}  // namespace detail

std::shared_ptr<const URLSpec::Compiled> URLSpec::compile(const std::string& pattern) {
  auto compiled = std::make_shared<URLSpec::Compiled>();
  compiled->code = compile_anchored(pattern);
  compiled->jit = pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE) == 0;
  pcre2_pattern_info(compiled->code, PCRE2_INFO_CAPTURECOUNT, &compiled->groups);

  std::uint32_t name_count = 0;
  std::uint32_t entry_size = 0;
  PCRE2_SPTR table = nullptr;
  pcre2_pattern_info(compiled->code, PCRE2_INFO_NAMECOUNT, &name_count);
  pcre2_pattern_info(compiled->code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
  pcre2_pattern_info(compiled->code, PCRE2_INFO_NAMETABLE, &table);
  for (std::uint32_t i = 0; i < name_count; ++i) {
    PCRE2_SPTR entry = table + i * entry_size;
    std::uint32_t number = (static_cast<std::uint32_t>(entry[0]) << 8) | entry[1];
    compiled->names.emplace_back(number, reinterpret_cast<const char*>(entry + 2));
  }

  std::string_view body = pattern;
  if (!body.empty() && body.front() == '^') body.remove_prefix(1);
  if (!body.empty() && body.back() == '$') body.remove_suffix(1);
  if (body.find_first_of(kMetaCharacters) == std::string_view::npos) {
    compiled->literal = std::string(body);
  }
  compiled->reverse_pieces = find_reverse_pieces(pattern, compiled->groups);
  return compiled;
}

URLSpec::URLSpec(std::string pattern, HandlerFactory factory, std::string name)
    : pattern_(std::move(pattern)),
      factory_(std::move(factory)),
      name_(std::move(name)),
      compiled_(compile(pattern_)) {
  if (!factory_) throw ValueError("route '" + pattern_ + "' has no handler factory");
}

URLSpec::~URLSpec() = default;
URLSpec::URLSpec(const URLSpec&) = default;
URLSpec& URLSpec::operator=(const URLSpec&) = default;
URLSpec::URLSpec(URLSpec&&) noexcept = default;
URLSpec& URLSpec::operator=(URLSpec&&) noexcept = default;

bool URLSpec::match(std::string_view path, PathArguments& out) const {
  const Compiled& compiled = *compiled_;
  if (compiled.literal) return path == *compiled.literal;
  static thread_local MatchData match_data;
  pcre2_match_data* data = match_data.get(compiled.groups + 1);
  auto subject = reinterpret_cast<PCRE2_SPTR>(path.data());
  int rc = compiled.jit ? pcre2_jit_match(compiled.code, subject, path.size(), 0, 0, data, nullptr)
                        : pcre2_match(compiled.code, subject, path.size(), 0, 0, data, nullptr);
  if (rc < 0) return false;
  PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
  // Groups past the last one that matched are not set in the ovector's count: treat as unset.
  std::uint32_t set_pairs = static_cast<std::uint32_t>(rc);
  for (std::uint32_t group = set_pairs; group <= compiled.groups; ++group) {
    ovector[2 * group] = PCRE2_UNSET;
    ovector[2 * group + 1] = PCRE2_UNSET;
  }
  if (!compiled.names.empty()) {
    for (const auto& [number, name] : compiled.names) {
      assign_group(out.kwargs[name], path.data(), ovector, number);
    }
  } else {
    out.args.resize(compiled.groups);
    for (std::uint32_t group = 1; group <= compiled.groups; ++group) {
      assign_group(out.args[group - 1], path.data(), ovector, group);
    }
  }
  return true;
}

std::string URLSpec::reverse(std::span<const std::string> args) const {
  const auto& pieces = compiled_->reverse_pieces;
  if (!pieces) throw ValueError("cannot reverse the route pattern '" + pattern_ + "'");
  if (args.size() != compiled_->groups) {
    throw ValueError("route '" + pattern_ + "' takes " + std::to_string(compiled_->groups) +
                     " arguments, not " + std::to_string(args.size()));
  }
  std::string url = (*pieces)[0];
  for (std::size_t i = 0; i < args.size(); ++i) {
    url += httputil::url_escape(args[i], false);
    url += (*pieces)[i + 1];
  }
  return url;
}

}  // namespace squall::web
