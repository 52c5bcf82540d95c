// libFuzzer target: the chunked body decoder. Decodes the input whole and fed byte by byte; both
// must agree on the body and on the outcome, and every data view must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/http1_parser.hpp"

using squall::http1::ChunkedDecoder;
using squall::http1::ParseError;

namespace {

/// Decodes `input` in pieces of `step` bytes: (outcome, body). Outcome 0: done, -1: truncated,
/// else the error status.
std::pair<int, std::string> run(std::string_view input, std::size_t step) {
  ChunkedDecoder decoder(1024);
  std::string buffer, body;
  std::size_t fed = 0;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    std::size_t consumed = 0;
    std::string_view data;
    ParseError error;
    auto status = decoder.decode(buffer, consumed, data, error);
    if (consumed > buffer.size()) std::abort();
    if (status == ChunkedDecoder::Status::kData) {
      if (data.data() < buffer.data() || data.data() + data.size() > buffer.data() + consumed) {
        std::abort();
      }
      body.append(data);
    }
    if (status == ChunkedDecoder::Status::kError) return {error.status, body};
    buffer.erase(0, consumed);
    if (status == ChunkedDecoder::Status::kDone) return {0, body};
    if (status == ChunkedDecoder::Status::kNeedMore) {
      if (fed >= input.size()) return {-1, body};
      std::size_t n = std::min(step, input.size() - fed);
      buffer.append(input.substr(fed, n));
      fed += n;
    }
  }
  std::abort();  // no progress: a loop in the decoder
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  auto whole = run(input, size ? size : 1);
  auto trickle = run(input, 1);
  if (whole.first == 0 || trickle.first == 0) {
    if (whole != trickle) std::abort();  // a complete body decodes the same however it arrives
  }
  return 0;
}
