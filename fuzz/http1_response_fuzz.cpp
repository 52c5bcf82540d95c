// libFuzzer target: the HTTP/1.1 response-head parser of the client. Checks, for any input, that
// parsing never crashes, that a head fed in two pieces parses exactly as in one, that every view
// it gives lies inside the input, and that the framing it picks follows RFC 9112 §6.3.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/http1_response.hpp"

using squall::http1::ParseError;
using squall::http1::ResponseFraming;
using squall::http1::ResponseHead;
using squall::http1::ResponseParser;

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  // The first byte chooses whether the request was HEAD, so both paths are explored.
  const bool head_request = size > 0 && (bytes[0] & 1) != 0;
  ResponseParser whole(4096);
  ResponseHead head;
  ParseError error;
  auto status = whole.parse(input, head_request, head, error);
  if (status == ResponseParser::Status::kDone) {
    if (head.size > input.size() || head.size > 4096 || !inside(head.reason, input) ||
        !inside(head.status_line, input) || head.code < 100 || head.code > 999) {
      std::abort();
    }
    for (const auto& field : head.headers) {
      if (field.name.empty() || !inside(field.name, input) || !inside(field.value, input)) {
        std::abort();
      }
    }
    const bool bodiless = head_request || head.code < 200 || head.code == 204 || head.code == 304;
    if (bodiless && head.framing != ResponseFraming::kNone) std::abort();
    if (head.framing == ResponseFraming::kUntilClose && head.keep_alive) std::abort();
    if (head.framing == ResponseFraming::kContentLength && head.content_length == 0) std::abort();
  } else if (status == ResponseParser::Status::kError && error.message.empty()) {
    std::abort();
  }
  // The same bytes in two pieces: an incomplete first piece, then all of it.
  ResponseParser split(4096);
  ResponseHead split_head;
  ParseError split_error;
  auto first = split.parse(input.substr(0, size / 2), head_request, split_head, split_error);
  if (first == ResponseParser::Status::kIncomplete) {
    auto second = split.parse(input, head_request, split_head, split_error);
    if (second != status) std::abort();
    if (status == ResponseParser::Status::kDone &&
        (split_head.size != head.size || split_head.code != head.code ||
         split_head.headers.size() != head.headers.size() || split_head.framing != head.framing ||
         split_head.keep_alive != head.keep_alive ||
         split_head.content_length != head.content_length)) {
      std::abort();
    }
  }
  return 0;
}
