// libFuzzer target: signed values, XSRF tokens and Set-Cookie formatting. Reading hostile input
// must never throw or read out of bounds; what squall writes must read back; a signed value with
// any byte changed must not verify.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "squall/http/httputil.hpp"
#include "squall/util/error.hpp"
#include "squall/web/cookies.hpp"
#include "squall/web/signed_value.hpp"
#include "web/xsrf.hpp"

namespace {

using namespace squall;
using namespace squall::web;

// The seeds in corpus/signed_cookie/ were signed with these, at this time, under the name "n".
const CookieSecret kSecret("fuzz secret");
const CookieSecret kVersionedSecret({{0, "fuzz secret"}, {1, "second key"}}, 1);
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_decode(std::string_view input) {
  for (const CookieSecret* secret : {&kSecret, &kVersionedSecret}) {
    for (const int min_version : {1, 2}) {
      (void)decode_signed_value(*secret, "n", input, 31.0, min_version, kNow);
    }
    (void)decode_signed_value(*secret, "n", input, std::nullopt, 1, kNow);
  }
  (void)get_signature_key_version(input);
}

// Whatever is signed decodes back, and changing any one byte of the result breaks it.
void fuzz_sign(std::string_view input) {
  const std::size_t position = input.empty() ? 0 : static_cast<unsigned char>(input[0]);
  const auto flip = static_cast<char>(input.size() > 1 ? (input[1] | 1) : 1);
  for (const int version : {1, 2}) {
    const auto value = create_signed_value(kSecret, "n", input, version, kNow);
    check(decode_signed_value(kSecret, "n", value, 31.0, 1, kNow) == std::string(input));
    std::string tampered = value;
    tampered[position % tampered.size()] ^= flip;
    check(!decode_signed_value(kSecret, "n", tampered, 31.0, 1, kNow));
  }
  const auto versioned = create_signed_value(kVersionedSecret, "n", input, 2, kNow);
  check(get_signature_key_version(versioned) == 1);
  check(decode_signed_value(kVersionedSecret, "n", versioned, 31.0, 1, kNow) == std::string(input));
  check(!decode_signed_value(kSecret, "n", versioned, 31.0, 1, kNow));
}

void fuzz_xsrf(std::string_view input) {
  if (const auto token = decode_xsrf_token(input)) {
    check(!token->token.empty());
    check(token->version == 1 || token->version == 2);
    const auto again = decode_xsrf_token(encode_xsrf_token(token->token, token->timestamp));
    check(again && again->version == 2 && again->token == token->token &&
          again->timestamp == token->timestamp);
  }
  if (!input.empty()) {
    const auto decoded = decode_xsrf_token(encode_xsrf_token(input, 1700000000));
    check(decoded && xsrf_tokens_equal(decoded->token, input) && decoded->timestamp == 1700000000);
  }
}

bool has_control(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::size_t count_attributes(std::string_view header) {
  std::size_t n = 0;
  for (const char c : header) n += c == ';';
  return n;
}

void fuzz_set_cookie(std::string_view input) {
  try {
    const auto header = format_set_cookie("n", input, {.path = ""});
    check(!has_control(header) && count_attributes(header) == 0);
    const auto cookies = httputil::parse_cookie(header);
    check(cookies.size() == 1 && cookies.begin()->first == "n" &&
          cookies.begin()->second == std::string(input));
  } catch (const ValueError&) {
  }
  try {
    const auto header = format_set_cookie(input, "v", {.path = ""});
    check(header == std::string(input) + "=v");
  } catch (const ValueError&) {
  }
  try {
    const auto header =
        format_set_cookie("n", "v", {.domain = std::string(input), .path = std::string(input)});
    check(!has_control(header) && count_attributes(header) == (input.empty() ? 0 : 2));
  } catch (const ValueError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_decode(input);
  fuzz_sign(input);
  fuzz_xsrf(input);
  fuzz_set_cookie(input);
  return 0;
}
