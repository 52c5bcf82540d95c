// httputil: the Range request header and the Content-Range response header.

#include "squall/http/httputil.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "http/text.hpp"
#include "squall/util/error.hpp"

namespace squall {
namespace httputil {

// ---- byte ranges ---------------------------------------------------------------------------

namespace {

// A range position: ASCII digits, saturated at INT64_MAX; empty gives unset. False if invalid.
bool parse_range_position(std::string_view digits, std::optional<std::int64_t>& position) {
  position.reset();
  if (digits.empty()) return true;
  std::int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    value = value > (kMax - digit) / 10 ? kMax : value * 10 + digit;
  }
  position = value;
  return true;
}

}  // namespace

std::optional<RequestRange> parse_request_range(std::string_view range_header) {
  const auto eq = range_header.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  if (!http_text::iequals(http_text::trim(range_header.substr(0, eq)), "bytes"))
    return std::nullopt;
  const std::string_view spec = range_header.substr(eq + 1);
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::optional<std::int64_t> first;
  std::optional<std::int64_t> last;
  if (!parse_range_position(http_text::trim(spec.substr(0, dash)), first) ||
      !parse_range_position(http_text::trim(spec.substr(dash + 1)), last)) {
    return std::nullopt;  // several ranges land here too: "1-2,5-6" has a ',' in its last
  }
  if (!first) {
    if (!last) return std::nullopt;
    if (*last == 0) return RequestRange(std::nullopt, 0);
    return RequestRange(-*last, std::nullopt);
  }
  if (last && *last < std::numeric_limits<std::int64_t>::max()) ++*last;  // to a slice's end
  return RequestRange(first, last);
}

std::string format_content_range(std::optional<std::int64_t> start, std::optional<std::int64_t> end,
                                 std::int64_t total) {
  const std::int64_t first = start.value_or(0);
  const std::int64_t stop = end.value_or(total);
  if (first < 0 || stop <= first || stop > total) {
    throw ValueError("format_content_range: [" + std::to_string(first) + ", " +
                     std::to_string(stop) + ") is not a range of " + std::to_string(total) +
                     " bytes");
  }
  std::string out = "bytes ";
  out.append(std::to_string(first)).append("-").append(std::to_string(stop - 1));
  out.append("/").append(std::to_string(total));
  return out;
}

}  // namespace httputil
}  // namespace squall
