#include "squall/util/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "squall/testing/testing.hpp"
#include "squall/util/error.hpp"
#include "squall/util/options.hpp"

namespace squall {
namespace {

using squall::testing::ExpectLog;

std::exception_ptr thrown(auto error) {
  try {
    throw error;
  } catch (...) {
    return std::current_exception();
  }
}

class CustomFailure : public std::logic_error {
 public:
  CustomFailure() : std::logic_error("custom message") {}
};

struct NotAnException {
  int code = 3;
};

TEST(LogTest, TheLoggersHaveTornadosNames) {
  EXPECT_EQ(log::access_log().name(), "squall.access");
  EXPECT_EQ(log::app_log().name(), "squall.application");
  EXPECT_EQ(log::gen_log().name(), "squall.general");
}

TEST(LogTest, EachLoggerIsOneObjectRegisteredWithSpdlog) {
  EXPECT_EQ(&log::access_log(), &log::access_log());
  EXPECT_EQ(spdlog::get("squall.access").get(), &log::access_log());
  EXPECT_EQ(spdlog::get("squall.application").get(), &log::app_log());
  EXPECT_EQ(spdlog::get("squall.general").get(), &log::gen_log());
  EXPECT_NE(&log::app_log(), &log::gen_log());
}

TEST(LogTest, DescribeNamesTheExceptionTypeAndItsMessage) {
  EXPECT_EQ(log::describe(thrown(std::runtime_error("it broke"))), "std::runtime_error: it broke");
}

TEST(LogTest, DescribeNamesTheDynamicTypeOfAStdExceptionSubclass) {
  EXPECT_EQ(log::describe(thrown(TimeoutError("too slow"))), "squall::TimeoutError: too slow");
  EXPECT_EQ(log::describe(thrown(CancelledError())),
            "squall::CancelledError: Future was cancelled");
  EXPECT_EQ(log::describe(thrown(std::out_of_range("index 9"))), "std::out_of_range: index 9");
}

TEST(LogTest, DescribeNamesAUserDefinedExceptionClass) {
  EXPECT_EQ(log::describe(thrown(CustomFailure())),
            "squall::(anonymous namespace)::CustomFailure: custom message");
}

TEST(LogTest, DescribeOfANonStdExceptionSaysUnknown) {
  EXPECT_EQ(log::describe(thrown(42)), "unknown exception");
  EXPECT_EQ(log::describe(thrown(NotAnException{})), "unknown exception");
  EXPECT_EQ(log::describe(thrown(std::string("a string"))), "unknown exception");
}

TEST(LogTest, DescribeOfNoExceptionSaysSo) {
  EXPECT_EQ(log::describe(nullptr), "no exception");
}

TEST(LogTest, DemangleTurnsATypeidNameIntoCxxSyntax) {
  EXPECT_EQ(log::demangle(typeid(int).name()), "int");
  EXPECT_EQ(
      log::demangle(typeid(std::map<int, double>).name()),
      "std::map<int, double, std::less<int>, std::allocator<std::pair<int const, double> > >");
  EXPECT_EQ(log::demangle(typeid(CustomFailure).name()),
            "squall::(anonymous namespace)::CustomFailure");
  EXPECT_EQ(log::demangle(typeid(InvalidStateError).name()), "squall::InvalidStateError");
}

TEST(LogTest, DemangleReturnsANameItCannotDemangleUnchanged) {
  EXPECT_EQ(log::demangle("not a mangled name!"), "not a mangled name!");
  EXPECT_EQ(log::demangle(""), "");
}

TEST(LogTest, ExpectLogCapturesTheMatchingLinesOnly) {
  ExpectLog expect(log::gen_log(), "^wanted [0-9]+$");
  log::gen_log().warn("wanted {}", 1);
  log::gen_log().warn("unrelated line");  // passes through to the real sink
  log::gen_log().error("wanted {}", 2);
  EXPECT_EQ(expect.matched(), 2);
  EXPECT_EQ(expect.lines(), (std::vector<std::string>{"wanted 1", "wanted 2"}));
}

TEST(LogTest, ExpectLogRestoresTheLoggersSinks) {
  auto sinks_before = log::app_log().sinks();
  {
    ExpectLog expect(log::app_log(), "x");
    EXPECT_NE(log::app_log().sinks(), sinks_before);
    log::app_log().error("x");
  }
  EXPECT_EQ(log::app_log().sinks(), sinks_before);
}

// -- logging options and enable_pretty_logging --------------------------------------------------

using Args = std::vector<std::string>;

std::vector<spdlog::logger*> squall_loggers() {
  return {&log::access_log(), &log::app_log(), &log::gen_log()};
}

// Each test may reconfigure squall's loggers; the fixture puts their sinks and levels back.
class LoggingTest : public ::testing::Test {
 protected:
  LoggingTest() {
    for (auto* logger : squall_loggers())
      saved_.push_back({logger, logger->sinks(), logger->level()});
    dir_ = std::filesystem::temp_directory_path() /
           ("squall_log_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  ~LoggingTest() override {
    for (auto& [logger, sinks, level] : saved_) {
      logger->sinks() = sinks;
      logger->set_level(level);
    }
    std::filesystem::remove_all(dir_);
  }

  // A parser with the logging options, as the global one has them.
  static void parse(options::OptionParser& parser, std::initializer_list<std::string> flags) {
    Args args{"prog"};
    args.insert(args.end(), flags);
    parser.parse_command_line(args);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  struct Saved {
    spdlog::logger* logger;
    std::vector<spdlog::sink_ptr> sinks;
    spdlog::level::level_enum level;
  };
  std::vector<Saved> saved_;
  std::filesystem::path dir_;
};

TEST_F(LoggingTest, TheLoggingOptionSetsTheLevelOfAllThreeLoggers) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  parse(parser, {"--logging=debug"});
  for (auto* logger : squall_loggers()) EXPECT_EQ(logger->level(), spdlog::level::debug);
  parse(parser, {"--logging=WARNING"});
  for (auto* logger : squall_loggers()) EXPECT_EQ(logger->level(), spdlog::level::warn);
  parse(parser, {"--logging=error"});
  for (auto* logger : squall_loggers()) EXPECT_EQ(logger->level(), spdlog::level::err);
  parse(parser, {});
  for (auto* logger : squall_loggers()) EXPECT_EQ(logger->level(), spdlog::level::err);
}

TEST_F(LoggingTest, TheThreeLoggersShareOneStderrSinkByDefault) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  parse(parser, {});
  ASSERT_EQ(log::gen_log().sinks().size(), 1U);
  EXPECT_EQ(log::access_log().sinks(), log::gen_log().sinks());
  EXPECT_EQ(log::app_log().sinks(), log::gen_log().sinks());
  EXPECT_EQ(log::gen_log().level(), spdlog::level::info);
  parse(parser, {});  // a second parse replaces the sinks rather than adding more
  EXPECT_EQ(log::gen_log().sinks().size(), 1U);
  parse(parser, {"--log_to_stderr=false"});
  EXPECT_TRUE(log::gen_log().sinks().empty());
}

TEST_F(LoggingTest, LoggingNoneLeavesTheLoggersAlone) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  log::gen_log().set_level(spdlog::level::critical);
  const auto sinks = log::gen_log().sinks();
  parse(parser, {"--logging=none", "--log_file_prefix=" + path("never.log")});
  EXPECT_EQ(log::gen_log().level(), spdlog::level::critical);
  EXPECT_EQ(log::gen_log().sinks(), sinks);
  EXPECT_TRUE(files().empty());
}

TEST_F(LoggingTest, BadLoggingOptionValuesAreErrorsNamingOptionAndValue) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  const auto error_for = [&](const std::string& flag) -> std::string {
    try {
      parse(parser, {flag});
    } catch (const options::Error& error) {
      return error.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_for("--logging=verbose"),
            "option logging: 'verbose' is not a log level (debug|info|warning|error|none)");
  EXPECT_EQ(error_for("--log_rotate_mode=weekly"),
            "option log_rotate_mode: 'weekly' is not a rotate mode (size or time)");
  EXPECT_EQ(error_for("--log_rotate_when=W0"),
            "option log_rotate_when: 'W0' is not a rotation period squall supports (midnight, D "
            "or H)");
  EXPECT_EQ(error_for("--log_rotate_interval=2"),
            "option log_rotate_interval: '2' is not supported: files rotate every day or every "
            "hour (1)");
  EXPECT_EQ(error_for("--log_file_max_size=-1"),
            "option log_file_max_size: '-1' is not a size (0 or more bytes)");
  EXPECT_EQ(error_for("--log_file_num_backups=70000"),
            "option log_file_num_backups: '70000' is not a number of backups (0 to 65535)");
}

TEST_F(LoggingTest, ALogFileThatCannotBeOpenedIsAnOptionsError) {
  const auto file = path("a_file");
  std::ofstream(file) << "x";
  options::OptionParser parser;
  log::define_logging_options(parser);
  try {
    parse(parser, {"--log_file_prefix=" + file + "/app.log"});
    ADD_FAILURE() << "no error";
  } catch (const options::Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind("cannot set up logging: ", 0), 0U) << error.what();
    EXPECT_NE(std::string(error.what()).find(file), std::string::npos) << error.what();
  }
}

TEST_F(LoggingTest, AFilePrefixSendsTheLinesToThatFileInTornadosFormat) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  const auto file = path("app.log");
  parse(parser, {"--log_file_prefix=" + file});
  ASSERT_EQ(log::gen_log().sinks().size(), 1U);  // no stderr once a file is set
  log::gen_log().info("hello {}", "file");
  log::app_log().debug("dropped at info");
  SPDLOG_LOGGER_WARN(&log::access_log(), "with a place");
  log::gen_log().flush();
  const auto text = read(file);
  const std::regex expected(
      "^\\[I \\d{6} \\d\\d:\\d\\d:\\d\\d squall\\.general\\] hello file\n"
      "\\[W \\d{6} \\d\\d:\\d\\d:\\d\\d log_test:\\d+\\] with a place\n$");
  EXPECT_TRUE(std::regex_match(text, expected)) << text;
}

TEST_F(LoggingTest, LogToStderrAddsStderrBesideTheFile) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  parse(parser, {"--log_file_prefix=" + path("app.log"), "--log_to_stderr"});
  EXPECT_EQ(log::gen_log().sinks().size(), 2U);
  EXPECT_EQ(log::access_log().sinks(), log::gen_log().sinks());
}

TEST_F(LoggingTest, TheLogFileRotatesAtItsMaxSizeKeepingTheBackups) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  parse(parser, {"--log_file_prefix=" + path("app.log"), "--log_file_max_size=200",
                 "--log_file_num_backups=2"});
  for (int i = 0; i < 30; ++i) log::gen_log().warn("line number {:03}", i);
  log::gen_log().flush();
  EXPECT_EQ(files(), (std::vector<std::string>{"app.1.log", "app.2.log", "app.log"}));
  for (const auto& name : files()) {
    EXPECT_LE(std::filesystem::file_size(path(name)), 200U) << name;
  }
  EXPECT_NE(read(path("app.log")).find("line number 029"), std::string::npos);
  EXPECT_EQ(read(path("app.log")).find("line number 000"), std::string::npos);
}

TEST_F(LoggingTest, TimedRotationUsesDatedFiles) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  parse(parser, {"--log_file_prefix=" + path("day.log"), "--log_rotate_mode=time"});
  log::gen_log().info("daily");
  log::gen_log().flush();
  parse(parser,
        {"--log_file_prefix=" + path("hour.log"), "--log_rotate_mode=time", "--log_rotate_when=H"});
  log::gen_log().info("hourly");
  log::gen_log().flush();
  const auto names = files();
  ASSERT_EQ(names.size(), 2U);
  EXPECT_TRUE(std::regex_match(names[0], std::regex("day_\\d{4}-\\d\\d-\\d\\d\\.log"))) << names[0];
  EXPECT_TRUE(std::regex_match(names[1], std::regex("hour_\\d{4}-\\d\\d-\\d\\d_\\d\\d\\.log")))
      << names[1];
  EXPECT_NE(read(path(names[1])).find("hourly"), std::string::npos);
}

TEST_F(LoggingTest, EnablePrettyLoggingTakesSettingsDirectly) {
  log::enable_pretty_logging(log::LogSettings{.logging = "warning"});
  for (auto* logger : squall_loggers()) EXPECT_EQ(logger->level(), spdlog::level::warn);
  EXPECT_EQ(log::gen_log().sinks().size(), 1U);
  log::enable_pretty_logging(log::LogSettings{
      .logging = "debug", .log_file_prefix = path("s.log"), .log_file_max_size = 0});
  log::gen_log().debug("unrotated");
  log::gen_log().flush();
  EXPECT_NE(read(path("s.log")).find("unrotated"), std::string::npos);
}

TEST_F(LoggingTest, EnablePrettyLoggingRejectsBadSettings) {
  EXPECT_THROW(log::enable_pretty_logging(log::LogSettings{.logging = "loud"}), ValueError);
  const auto file = path("x.log");
  EXPECT_THROW(log::enable_pretty_logging(
                   log::LogSettings{.log_file_prefix = file, .log_rotate_mode = "weekly"}),
               ValueError);
  EXPECT_THROW(log::enable_pretty_logging(log::LogSettings{
                   .log_file_prefix = file, .log_rotate_mode = "time", .log_rotate_when = "W0"}),
               ValueError);
  EXPECT_THROW(log::enable_pretty_logging(log::LogSettings{
                   .log_file_prefix = file, .log_rotate_mode = "time", .log_rotate_interval = 2}),
               ValueError);
  EXPECT_TRUE(files().empty());
}

TEST_F(LoggingTest, TheGlobalOptionsConfigureLoggingWhenParsed) {
  auto& global = options::options();
  global.parse_command_line(Args{"prog", "--logging=error"});
  for (auto* logger : squall_loggers()) EXPECT_EQ(logger->level(), spdlog::level::err);
  global.set<std::string>("logging", "info");
  global.parse_command_line(Args{"prog"});
  for (auto* logger : squall_loggers()) EXPECT_EQ(logger->level(), spdlog::level::info);
}

TEST_F(LoggingTest, SettingsComeFromTheOptions) {
  options::OptionParser parser;
  log::define_logging_options(parser);
  parse(parser, {"--logging=none", "--log_file_prefix=/x", "--log_file_max_size=5",
                 "--log_file_num_backups=3", "--log_rotate_mode=time", "--log_rotate_when=H",
                 "--log_to_stderr=false"});
  const auto settings = log::LogSettings::from_options(parser);
  EXPECT_EQ(settings.logging, "none");
  EXPECT_EQ(settings.log_file_prefix, "/x");
  EXPECT_EQ(settings.log_file_max_size, 5);
  EXPECT_EQ(settings.log_file_num_backups, 3);
  EXPECT_EQ(settings.log_rotate_mode, "time");
  EXPECT_EQ(settings.log_rotate_when, "H");
  EXPECT_EQ(settings.log_rotate_interval, 1);
  EXPECT_EQ(settings.log_to_stderr, false);
  EXPECT_THROW(log::LogSettings::from_options(options::OptionParser()), options::Error);
}

// -- the access line ------------------------------------------------------------------------------

// Keeps each line's level, text and source line.
class RecordingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  struct Line {
    spdlog::level::level_enum level;
    std::string text;
    int source_line;
  };
  std::vector<Line> lines;

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    lines.push_back({message.level, std::string(message.payload.data(), message.payload.size()),
                     message.source.line});
  }
  void flush_() override {}
};

TEST_F(LoggingTest, TheAccessLineHasTornadosFormat) {
  auto sink = std::make_shared<RecordingSink>();
  log::access_log().sinks() = {sink};
  log::access_log().set_level(spdlog::level::info);
  const int line = __LINE__ + 1;
  log::log_request_line(200, "GET", "/path?x=1", "127.0.0.1", 0.5234);
  log::log_request_line(201, "POST", "/", "::1", 1500);
  ASSERT_EQ(sink->lines.size(), 2U);
  EXPECT_EQ(sink->lines[0].text, "200 GET /path?x=1 (127.0.0.1) 0.52ms");
  EXPECT_EQ(sink->lines[0].source_line, line);
  EXPECT_EQ(sink->lines[1].text, "201 POST / (::1) 1500.00ms");
}

TEST_F(LoggingTest, TheAccessLinesLevelFollowsTheStatus) {
  auto sink = std::make_shared<RecordingSink>();
  log::access_log().sinks() = {sink};
  log::access_log().set_level(spdlog::level::debug);
  for (int status : {200, 304, 399, 400, 404, 499, 500, 503}) {
    log::log_request_line(status, "GET", "/", "10.0.0.1", 1);
  }
  std::vector<spdlog::level::level_enum> levels;
  for (const auto& line : sink->lines) levels.push_back(line.level);
  using enum spdlog::level::level_enum;
  EXPECT_EQ(levels,
            (std::vector<spdlog::level::level_enum>{info, info, info, warn, warn, warn, err, err}));
}

TEST_F(LoggingTest, AnAccessLineBelowTheLoggersLevelIsNotWritten) {
  auto sink = std::make_shared<RecordingSink>();
  log::access_log().sinks() = {sink};
  log::access_log().set_level(spdlog::level::warn);
  log::log_request_line(200, "GET", "/", "10.0.0.1", 1);
  log::log_request_line(404, "GET", "/missing", "10.0.0.1", 1);
  log::access_log().set_level(spdlog::level::off);
  log::log_request_line(500, "GET", "/", "10.0.0.1", 1);
  ASSERT_EQ(sink->lines.size(), 1U);
  EXPECT_EQ(sink->lines[0].text, "404 GET /missing (10.0.0.1) 1.00ms");
}

TEST_F(LoggingTest, ExpectLogSeesTheAccessLine) {
  log::access_log().set_level(spdlog::level::info);
  ExpectLog expect(log::access_log(), "^503 GET /busy \\(1\\.2\\.3\\.4\\) 7\\.25ms$");
  log::log_request_line(503, "GET", "/busy", "1.2.3.4", 7.25);
  EXPECT_EQ(expect.matched(), 1);
}

}  // namespace
}  // namespace squall
