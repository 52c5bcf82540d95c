// httputil: HTTP dates, written and parsed in every form RFC 9110 allows.

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

// ---- dates -------------------------------------------------------------------------------------

namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

void append_2digits(std::string& out, unsigned v) {
  out += static_cast<char>('0' + v / 10 % 10);
  out += static_cast<char>('0' + v % 10);
}

// A cursor over a date string; each method consumes what it matched or returns false.
class DateReader {
 public:
  explicit DateReader(std::string_view s) : s_(s) {}

  bool at_end() const { return pos_ == s_.size(); }

  bool literal(std::string_view text) {
    if (!http_text::iequals(s_.substr(pos_, text.size()), text)) return false;
    pos_ += text.size();
    return true;
  }

  // Exactly `count` ASCII digits.
  bool digits(std::size_t count, int& value) {
    if (s_.size() - pos_ < count) return false;
    value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = s_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += count;
    return true;
  }

  // One of `names` (the longest that matches), as its index.
  template <std::size_t N>
  bool name(const std::array<std::string_view, N>& names, int& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

  // time-of-day = hour ":" minute ":" second
  bool time_of_day(int& hour, int& minute, int& second) {
    return digits(2, hour) && literal(":") && digits(2, minute) && literal(":") &&
           digits(2, second) && hour <= 23 && minute <= 59 && second <= 60;
  }

  std::string_view rest() const { return s_.substr(pos_); }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

std::optional<std::chrono::system_clock::time_point> make_time(std::int64_t year, int month,
                                                               int day, int hour, int minute,
                                                               int second) {
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  const std::int64_t seconds =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second;
  using Duration = std::chrono::system_clock::duration;
  const auto max_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Duration::max()).count();
  const auto min_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Duration::min()).count();
  if (seconds > max_seconds || seconds < min_seconds) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<Duration>(std::chrono::seconds(seconds)));
}

std::int64_t current_year() {
  const auto days = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  return civil_from_days(days.time_since_epoch().count()).year;
}

}  // namespace

std::string format_timestamp(std::chrono::system_clock::time_point t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  // Floor division so times before 1970 land on the right day.
  std::int64_t days = seconds / 86400;
  std::int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const Civil date = civil_from_days(days);
  const auto weekday = static_cast<std::size_t>(((days % 7) + 11) % 7);  // 1970-01-01: Thursday
  std::string out;
  out.reserve(29);
  out += kDayNames[weekday];
  out += ", ";
  append_2digits(out, date.day);
  out += ' ';
  out += kMonthNames[date.month - 1];
  out += ' ';
  const auto year = static_cast<unsigned>(date.year);
  append_2digits(out, year / 100);
  append_2digits(out, year % 100);
  out += ' ';
  append_2digits(out, static_cast<unsigned>(rem / 3600));
  out += ':';
  append_2digits(out, static_cast<unsigned>(rem / 60 % 60));
  out += ':';
  append_2digits(out, static_cast<unsigned>(rem % 60));
  out += " GMT";
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  s = http_text::trim(s);
  int weekday = 0, day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;

  // IMF-fixdate: day-name "," SP 2DIGIT SP month SP 4DIGIT SP time-of-day SP "GMT"
  {
    DateReader r(s);
    if (r.name(kDayNames, weekday) && r.literal(", ") && r.digits(2, day) && r.literal(" ") &&
        r.name(kMonthNames, month) && r.literal(" ") && r.digits(4, year) && r.literal(" ") &&
        r.time_of_day(hour, minute, second) && r.literal(" GMT") && r.at_end()) {
      return make_time(year, month + 1, day, hour, minute, second);
    }
  }
  // rfc850-date: day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time-of-day SP "GMT"
  {
    DateReader r(s);
    if (r.name(kLongDayNames, weekday) && r.literal(", ") && r.digits(2, day) && r.literal("-") &&
        r.name(kMonthNames, month) && r.literal("-") && r.digits(2, year) && r.literal(" ") &&
        r.time_of_day(hour, minute, second) && r.literal(" GMT") && r.at_end()) {
      // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the previous century.
      const auto now = current_year();
      std::int64_t full_year = now - now % 100 + year;
      if (full_year > now + 50) full_year -= 100;
      return make_time(full_year, month + 1, day, hour, minute, second);
    }
  }
  // asctime-date: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP 4DIGIT
  {
    DateReader r(s);
    if (r.name(kDayNames, weekday) && r.literal(" ") && r.name(kMonthNames, month) &&
        r.literal(" ") && (r.literal(" ") ? r.digits(1, day) : r.digits(2, day)) &&
        r.literal(" ") && r.time_of_day(hour, minute, second) && r.literal(" ") &&
        r.digits(4, year) && r.at_end()) {
      return make_time(year, month + 1, day, hour, minute, second);
    }
  }
  return std::nullopt;
}

}  // namespace httputil
}  // namespace squall
