// libFuzzer target: the HTTP/1.1 request-head parser. Checks, for any input, that parsing never
// crashes, that a head fed in two pieces parses exactly as in one, and that every view it gives
// lies inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/http1_parser.hpp"

using squall::http1::ParseError;
using squall::http1::RequestHead;
using squall::http1::RequestParser;

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  RequestParser whole(4096);
  RequestHead head;
  ParseError error;
  auto status = whole.parse(input, head, error);
  if (status == RequestParser::Status::kDone) {
    if (head.size > input.size() || !inside(head.method, input) || !inside(head.target, input)) {
      std::abort();
    }
    for (const auto& field : head.headers) {
      if (!inside(field.name, input) || !inside(field.value, input)) std::abort();
    }
  }
  // The same bytes in two pieces: an incomplete first piece, then all of it.
  RequestParser split(4096);
  RequestHead split_head;
  ParseError split_error;
  auto first = split.parse(input.substr(0, size / 2), split_head, split_error);
  if (first == RequestParser::Status::kIncomplete) {
    auto second = split.parse(input, split_head, split_error);
    if (second != status) std::abort();
    if (status == RequestParser::Status::kDone &&
        (split_head.size != head.size || split_head.headers.size() != head.headers.size())) {
      std::abort();
    }
    if (status == RequestParser::Status::kError && split_error.status != error.status) std::abort();
  }
  return 0;
}
