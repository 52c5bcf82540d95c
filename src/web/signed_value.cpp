#include "squall/web/signed_value.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "squall/util/error.hpp"

namespace squall::web {

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;
// A version 1 value names no delimiter between its signed parts, so trailing digits of the value
// could pass for leading digits of the timestamp: Tornado bounds how far ahead a timestamp may be.
constexpr std::int64_t kMaxFutureSeconds = 31 * kSecondsPerDay;

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHexDigits[] = "0123456789abcdef";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes as Python's base64.b64decode without validation, which Tornado uses, so that a value
// decodes here exactly when it decodes there: bytes outside the alphabet are skipped, padding
// ends the data once the group is complete (anything after it is ignored), and padding where it
// cannot end a group is skipped. A group left with data but no padding is an error.
std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  int group = 0;  // base64 digits seen in the current group of four
  int pads = 0;   // '=' seen since the last digit
  unsigned carry = 0;
  for (const char c : in) {
    if (c == '=') {
      if (group >= 2 && group + ++pads >= 4) return out;
      continue;
    }
    const int digit = base64_digit(c);
    if (digit < 0) continue;
    const auto d = static_cast<unsigned>(digit);
    pads = 0;
    switch (group) {
      case 0:
        carry = d;
        group = 1;
        break;
      case 1:
        out += static_cast<char>((carry << 2) | (d >> 4));
        carry = d & 0x0f;
        group = 2;
        break;
      case 2:
        out += static_cast<char>((carry << 4) | (d >> 2));
        carry = d & 0x03;
        group = 3;
        break;
      default:
        out += static_cast<char>((carry << 6) | d);
        group = 0;
        break;
    }
  }
  if (group != 0) return std::nullopt;
  return out;
}

std::string hex_encode(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHexDigits[data[i] >> 4];
    out += kHexDigits[data[i] & 0x0f];
  }
  return out;
}

// The lowercase hex HMAC of `data`, as Python's hmac hexdigest().
std::string hmac_hex(const EVP_MD* digest, std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(digest, key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &length) == nullptr) {
    throw Error("HMAC failed");
  }
  return hex_encode(mac, length);
}

bool signatures_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Non-empty ASCII digits as a number; past the int64 range it saturates, which keeps every
// comparison with "now" right (Python's integers do not overflow).
std::optional<std::int64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t n = 0;
  for (const char c : s) {
    if (!is_digit(c)) return std::nullopt;
    if (n > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10) {
      n = std::numeric_limits<std::int64_t>::max();
    } else {
      n = n * 10 + (c - '0');
    }
  }
  return n;
}

std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point t) {
  // Truncation toward zero, as Python's int(time.time()).
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

double float_seconds_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// The version a value claims, as Tornado's _get_version and its regex `^([1-9][0-9]*)\|(.*)$`:
// digits without a leading zero and a '|' open a versioned value, provided the rest has no line
// feed but possibly a final one ('.' stops at a line feed and '$' matches before a final one).
// Anything else, and any number above 999 (base64 of version 1 can start with such digits), is
// version 1.
int signed_value_version(std::string_view value) {
  if (value.empty() || value[0] < '1' || value[0] > '9') return 1;
  std::size_t i = 1;
  while (i < value.size() && is_digit(value[i])) ++i;
  if (i == value.size() || value[i] != '|') return 1;
  const std::string_view rest = value.substr(i + 1);
  const auto newline = rest.find('\n');
  if (newline != std::string_view::npos && newline + 1 != rest.size()) return 1;
  if (i > 3) return 1;
  int version = 0;
  for (std::size_t k = 0; k < i; ++k) version = version * 10 + (value[k] - '0');
  return version;
}

struct FieldsV2 {
  std::string_view key_version;
  std::string_view timestamp;
  std::string_view name;
  std::string_view value;
  std::string_view signature;
  std::string_view signed_part;  // everything the signature covers
};

// Takes one `<length>:<bytes>|` field off the front of `rest`.
std::optional<std::string_view> consume_field(std::string_view& rest) {
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto length = parse_digits(rest.substr(0, colon));
  if (!length) return std::nullopt;
  const std::string_view after = rest.substr(colon + 1);
  // The field and its closing '|' must both be there; the comparison cannot overflow.
  if (static_cast<std::uint64_t>(*length) >= after.size()) return std::nullopt;
  const auto n = static_cast<std::size_t>(*length);
  if (after[n] != '|') return std::nullopt;
  rest = after.substr(n + 1);
  return after.substr(0, n);
}

// Splits a version 2 value as Tornado's _decode_fields_v2: a one-character version and '|', then
// four length-prefixed fields, then the signature.
std::optional<FieldsV2> parse_fields_v2(std::string_view value) {
  if (value.size() < 2) return std::nullopt;
  std::string_view rest = value.substr(2);
  FieldsV2 fields;
  for (std::string_view* field :
       {&fields.key_version, &fields.timestamp, &fields.name, &fields.value}) {
    const auto consumed = consume_field(rest);
    if (!consumed) return std::nullopt;
    *field = *consumed;
  }
  fields.signature = rest;
  fields.signed_part = value.substr(0, value.size() - rest.size());
  return fields;
}

// A key version field as Python's int() reads it here: an optional sign and digits, saturated
// past the int64 range.
std::optional<std::int64_t> parse_key_version(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const auto magnitude = parse_digits(s);
  if (!magnitude) return std::nullopt;
  return negative ? -*magnitude : *magnitude;
}

// The key version as an int, nullopt if no versioned key could have it.
std::optional<int> as_int(std::int64_t key_version) {
  if (key_version < std::numeric_limits<int>::min() ||
      key_version > std::numeric_limits<int>::max()) {
    return std::nullopt;
  }
  return static_cast<int>(key_version);
}

bool expired(std::int64_t timestamp, std::optional<double> max_age_days, double now) {
  return max_age_days &&
         static_cast<double>(timestamp) < now - *max_age_days * static_cast<double>(kSecondsPerDay);
}

std::optional<std::string> decode_v1(const CookieSecret& secret, std::string_view name,
                                     std::string_view value, std::optional<double> max_age_days,
                                     double now) {
  if (secret.versioned()) return std::nullopt;  // version 1 carries no key version
  const auto first = value.find('|');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = value.find('|', first + 1);
  if (second == std::string_view::npos || value.find('|', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view encoded = value.substr(0, first);
  const std::string_view timestamp_text = value.substr(first + 1, second - first - 1);
  const std::string_view signature = value.substr(second + 1);
  std::string signed_text;
  signed_text.reserve(name.size() + encoded.size() + timestamp_text.size());
  signed_text.append(name).append(encoded).append(timestamp_text);
  if (!signatures_equal(signature, hmac_hex(EVP_sha1(), secret.signing_key(), signed_text))) {
    return std::nullopt;
  }
  const auto timestamp = parse_digits(timestamp_text);
  if (!timestamp || expired(*timestamp, max_age_days, now)) return std::nullopt;
  if (static_cast<double>(*timestamp) > now + static_cast<double>(kMaxFutureSeconds)) {
    return std::nullopt;
  }
  if (timestamp_text[0] == '0') return std::nullopt;
  return base64_decode(encoded);
}

std::optional<std::string> decode_v2(const CookieSecret& secret, std::string_view name,
                                     std::string_view value, std::optional<double> max_age_days,
                                     double now) {
  const auto fields = parse_fields_v2(value);
  if (!fields) return std::nullopt;
  const auto key_version = parse_key_version(fields->key_version);
  if (!key_version) return std::nullopt;
  // A single secret verifies whatever key version the value carries, as in Tornado.
  std::optional<std::string_view> key;
  if (!secret.versioned()) {
    key = secret.verifying_key(0);
  } else if (const auto version = as_int(*key_version)) {
    key = secret.verifying_key(*version);
  }
  if (!key) return std::nullopt;
  if (!signatures_equal(fields->signature, hmac_hex(EVP_sha256(), *key, fields->signed_part))) {
    return std::nullopt;
  }
  if (fields->name != name) return std::nullopt;
  const auto timestamp = parse_digits(fields->timestamp);
  if (!timestamp || expired(*timestamp, max_age_days, now)) return std::nullopt;
  return base64_decode(fields->value);
}

void append_field(std::string& out, std::string_view field) {
  out.append(std::to_string(field.size())).append(1, ':').append(field).append(1, '|');
}

}  // namespace

CookieSecret::CookieSecret(std::map<int, std::string> keys, int key_version)
    : keys_(std::move(keys)), key_version_(key_version) {
  if (keys_.find(key_version) == keys_.end()) {
    throw ValueError("cookie_secret: key_version " + std::to_string(key_version) +
                     " is not one of the versioned keys");
  }
}

const std::string& CookieSecret::signing_key() const {
  if (empty()) {
    throw ValueError("signed values need the 'cookie_secret' application setting, which is empty");
  }
  return versioned() ? keys_.at(key_version_) : secret_;
}

std::optional<std::string_view> CookieSecret::verifying_key(int key_version) const {
  if (!versioned()) return std::string_view(signing_key());
  const auto found = keys_.find(key_version);
  if (found == keys_.end()) return std::nullopt;
  return std::string_view(found->second);
}

std::string create_signed_value(const CookieSecret& secret, std::string_view name,
                                std::string_view value, int version,
                                std::optional<std::chrono::system_clock::time_point> clock) {
  const std::string& key = secret.signing_key();
  const std::string timestamp =
      std::to_string(seconds_since_epoch(clock.value_or(std::chrono::system_clock::now())));
  const std::string encoded = base64_encode(value);
  if (version == 1) {
    if (secret.versioned()) {
      throw ValueError(
          "signed value version 1 cannot carry a key version: use version 2 with "
          "versioned cookie_secret keys");
    }
    std::string signed_text;
    signed_text.append(name).append(encoded).append(timestamp);
    std::string out = encoded;
    out.append(1, '|').append(timestamp).append(1, '|');
    out.append(hmac_hex(EVP_sha1(), key, signed_text));
    return out;
  }
  if (version == 2) {
    std::string out = "2|";
    append_field(out, std::to_string(secret.key_version()));
    append_field(out, timestamp);
    append_field(out, name);
    append_field(out, encoded);
    out.append(hmac_hex(EVP_sha256(), key, out));
    return out;
  }
  throw ValueError("unsupported signed value version " + std::to_string(version));
}

std::optional<std::string> decode_signed_value(
    const CookieSecret& secret, std::string_view name, std::string_view value,
    std::optional<double> max_age_days, int min_version,
    std::optional<std::chrono::system_clock::time_point> clock) {
  (void)secret.signing_key();  // an empty secret is a configuration error, whatever the value
  if (min_version > kMaxSupportedSignedValueVersion) {
    throw ValueError("unsupported signed value min_version " + std::to_string(min_version));
  }
  if (value.empty()) return std::nullopt;
  const double now = float_seconds_since_epoch(clock.value_or(std::chrono::system_clock::now()));
  const int version = signed_value_version(value);
  if (version < min_version) return std::nullopt;
  if (version == 1) return decode_v1(secret, name, value, max_age_days, now);
  if (version == 2) return decode_v2(secret, name, value, max_age_days, now);
  return std::nullopt;
}

std::optional<int> get_signature_key_version(std::string_view value) {
  if (signed_value_version(value) < 2) return std::nullopt;
  const auto fields = parse_fields_v2(value);
  if (!fields) return std::nullopt;
  const auto key_version = parse_key_version(fields->key_version);
  if (!key_version) return std::nullopt;
  return as_int(*key_version);
}

}  // namespace squall::web
