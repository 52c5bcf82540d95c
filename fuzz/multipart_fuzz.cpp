// libFuzzer target for the form body parsers. The input's first line is the boundary, the rest the
// body; both multipart entry points and the urlencoded parser run on it with small limits.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "squall/http/body_arguments.hpp"
#include "squall/util/error.hpp"
#include "squall/util/log.hpp"

namespace {

constexpr squall::BodyLimits kLimits{.max_parts = 8, .max_part_header_size = 64};

void check(bool condition) {
  if (!condition) std::abort();
}

// Whatever was parsed respects the limits and comes from the body.
void check_form(const squall::Arguments& arguments, const squall::Files& files,
                std::string_view body) {
  std::size_t parts = 0;
  std::size_t bytes = 0;
  for (const auto& [name, values] : arguments) {
    check(!name.empty());
    parts += values.size();
    for (const auto& value : values) bytes += value.size();
  }
  for (const auto& [name, uploads] : files) {
    check(!name.empty());
    parts += uploads.size();
    for (const auto& file : uploads) {
      check(!file.filename.empty());
      bytes += file.body.size();
    }
  }
  check(parts <= kLimits.max_parts);
  check(bytes <= body.size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  squall::log::gen_log().set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  std::string_view boundary = input.substr(0, newline);
  if (!boundary.empty() && boundary.back() == '\r') boundary.remove_suffix(1);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  squall::Arguments arguments;
  squall::Files files;
  bool parsed = false;
  try {
    squall::httputil::parse_multipart_form_data(boundary, body, arguments, files, kLimits);
    parsed = true;
  } catch (const squall::HTTPInputError&) {
  }
  check_form(arguments, files, body);

  // Looser limits never turn a success into a failure, nor change the result.
  if (parsed) {
    squall::Arguments more_arguments;
    squall::Files more_files;
    squall::httputil::parse_multipart_form_data(boundary, body, more_arguments, more_files);
    check(more_arguments == arguments);
    check(more_files.size() == files.size());
  }

  squall::Arguments via_content_type;
  squall::Files files_via_content_type;
  try {
    squall::httputil::parse_body_arguments("multipart/form-data; boundary=" + std::string(boundary),
                                           body, via_content_type, files_via_content_type, nullptr,
                                           kLimits);
  } catch (const squall::HTTPInputError&) {
  }
  check_form(via_content_type, files_via_content_type, body);

  squall::Arguments urlencoded;
  squall::Files no_files;
  squall::httputil::parse_body_arguments("application/x-www-form-urlencoded", body, urlencoded,
                                         no_files);
  check(no_files.empty());
  std::size_t values = 0;
  for (const auto& [name, list] : urlencoded) values += list.size();
  std::size_t pairs = 1;
  for (const char c : body) pairs += c == '&';
  check(values <= pairs);

  const auto [main_value, params] = squall::httputil::parse_header_params(boundary);
  check(main_value.size() <= boundary.size());
  return 0;
}
