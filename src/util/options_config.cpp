// Config files: `name = value` lines, the useful subset of the Python files Tornado executes.

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/util/options.hpp"
#include "util/options_impl.hpp"

namespace squall::options {
namespace {

struct Item {
  std::string text;
  bool quoted = false;
};

// A statement's value: None, one item, or a bracketed list of items.
struct Value {
  enum class Form { none, one, list } form = Form::one;
  std::vector<Item> items;
};

struct Statement {
  std::string name;
  int line = 0;
  Value value;
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Reads statements one at a time, tracking the line for messages.
class ConfigReader {
 public:
  ConfigReader(std::string_view text, std::string path) : text_(text), path_(std::move(path)) {}

  /// The next statement, or nothing at the end of the file. Throws Error for a malformed line.
  std::optional<Statement> next() {
    while (true) {
      skip_blanks();
      if (at_end()) return std::nullopt;
      if (peek() == '#' || peek() == '\n') {
        skip_line();
        continue;
      }
      break;
    }
    Statement statement;
    statement.line = line_;
    while (!at_end() && is_name_char(peek())) statement.name += text_[pos_++];
    skip_blanks();
    if (statement.name.empty() || at_end() || peek() != '=') fail("expected 'name = value'");
    ++pos_;
    skip_blanks();
    if (!at_end() && peek() == '[') {
      ++pos_;
      statement.value.form = Value::Form::list;
      read_list(statement.value.items);
    } else if (!at_end() && (peek() == '\'' || peek() == '"')) {
      statement.value.items.push_back(read_quoted());
    } else {
      auto bare = read_bare("#\n");
      if (bare == "None") {
        statement.value.form = Value::Form::none;
      } else {
        statement.value.items.push_back({std::move(bare), false});
      }
    }
    end_line();
    return statement;
  }

  [[noreturn]] void fail(std::string_view message) const { fail_at(line_, message); }

  [[noreturn]] void fail_at(int line, std::string_view message) const {
    throw Error(fmt::format("{}:{}: {}", path_, line, message));
  }

  const std::string& path() const { return path_; }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_blanks() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\r')) ++pos_;
  }

  void skip_line() {
    while (!at_end() && peek() != '\n') ++pos_;
    if (!at_end()) {
      ++pos_;
      ++line_;
    }
  }

  // After a value: blanks, maybe a comment, then the end of the line.
  void end_line() {
    skip_blanks();
    if (!at_end() && peek() != '#' && peek() != '\n') fail("unexpected text after the value");
    skip_line();
  }

  // Inside brackets, newlines and comments separate nothing.
  void skip_space_in_list() {
    while (!at_end()) {
      if (peek() == '#') {
        while (!at_end() && peek() != '\n') ++pos_;
      } else if (peek() == '\n') {
        ++pos_;
        ++line_;
      } else if (peek() == ' ' || peek() == '\t' || peek() == '\r') {
        ++pos_;
      } else {
        return;
      }
    }
  }

  void read_list(std::vector<Item>& items) {
    const int opened = line_;
    while (true) {
      skip_space_in_list();
      if (at_end()) fail_at(opened, "list not closed with ']'");
      if (peek() == ']') {
        ++pos_;
        return;
      }
      if (peek() == '\'' || peek() == '"') {
        items.push_back(read_quoted());
      } else {
        auto bare = read_bare(",]#\n");
        if (bare.empty()) fail("empty item in list");
        items.push_back({std::move(bare), false});
      }
      skip_space_in_list();
      if (at_end()) fail_at(opened, "list not closed with ']'");
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ']') {
        fail("expected ',' or ']' in list");
      }
    }
  }

  // A Python string literal on one line, with the common backslash escapes.
  Item read_quoted() {
    const char quote = text_[pos_++];
    Item item{{}, true};
    while (true) {
      if (at_end() || peek() == '\n') fail("string not closed");
      char c = text_[pos_++];
      if (c == quote) return item;
      if (c == '\\' && !at_end() && peek() != '\n') {
        const char escaped = text_[pos_++];
        switch (escaped) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          case '0':
            c = '\0';
            break;
          case '\\':
          case '\'':
          case '"':
            c = escaped;
            break;
          default:  // Python keeps an unknown escape as written
            item.text += '\\';
            c = escaped;
        }
      }
      item.text += c;
    }
  }

  std::string read_bare(std::string_view stops) {
    const auto start = pos_;
    while (!at_end() && stops.find(peek()) == std::string_view::npos) ++pos_;
    return std::string(detail::trim(text_.substr(start, pos_ - start)));
  }

  std::string_view text_;
  std::string path_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

void OptionParser::parse_config_file(const std::string& path, bool final) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw Error(fmt::format("cannot read config file '{}': {}", path, std::strerror(errno)));
  }
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) {
    throw Error(fmt::format("cannot read config file '{}': {}", path, std::strerror(errno)));
  }
  std::string_view contents = text;
  if (contents.starts_with("\xEF\xBB\xBF")) contents.remove_prefix(3);  // a UTF-8 byte order mark

  ConfigReader reader(contents, path);
  while (auto statement = reader.next()) {
    auto* option = impl_->find(statement->name);
    if (option == nullptr) {
      reader.fail_at(statement->line, fmt::format("unrecognized option '{}'", statement->name));
    }
    const auto& type = *option->type;
    const auto label = fmt::format("'{}'", statement->name);
    const auto& value = statement->value;
    try {
      detail::Values values;
      switch (value.form) {
        case Value::Form::none:
          if (type.shape != detail::Shape::optional) {
            throw Error(fmt::format("option {} cannot be None (it holds a {})", label,
                                    detail::type_name(type)));
          }
          break;
        case Value::Form::one:
          values = detail::parse_values(type, value.items.front().text, label);
          break;
        case Value::Form::list:
          if (type.shape != detail::Shape::multiple) {
            throw Error(fmt::format("option {} takes one value, not a list", label));
          }
          for (const auto& item : value.items) {
            values.push_back(detail::parse_scalar(
                type, item.quoted ? std::string_view(item.text) : detail::trim(item.text), label));
          }
          break;
      }
      Impl::store(*option, std::move(values));
    } catch (const Error& error) {
      reader.fail_at(statement->line, error.what());
    }
  }
  if (final) run_parse_callbacks();
}

}  // namespace squall::options
