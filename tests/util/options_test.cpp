#include "squall/util/options.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace squall {
namespace {

using namespace std::chrono_literals;
using options::OptionParser;
using Args = std::vector<std::string>;

// The message of the options::Error that `fn` throws, or a failure if it throws none.
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const options::Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no options::Error thrown";
  return {};
}

Args command(std::initializer_list<std::string> options) {
  Args args{"prog"};
  args.insert(args.end(), options);
  return args;
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    path_ = std::filesystem::temp_directory_path() /
            ("squall_options_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter_++) + ".conf");
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// -- values of each type --------------------------------------------------------------------------

TEST(OptionsTest, ParsesEachScalarTypeFromTheCommandLine) {
  OptionParser parser;
  parser.define<bool>("debug", false);
  parser.define<int>("port", 8888);
  parser.define<long>("big", 0);
  parser.define<std::int64_t>("huge", 0);
  parser.define<double>("ratio", 0.5);
  parser.define<std::string>("name", "x");
  parser.define<std::chrono::milliseconds>("timeout", 1s);
  parser.parse_command_line(
      command({"--debug=true", "--port=8000", "--big=-3000000000", "--huge=9223372036854775807",
               "--ratio=0.25", "--name=web", "--timeout=1.5s"}));
  EXPECT_TRUE(parser.get<bool>("debug"));
  EXPECT_EQ(parser.get<int>("port"), 8000);
  EXPECT_EQ(parser.get<long>("big"), -3000000000L);
  EXPECT_EQ(parser.get<std::int64_t>("huge"), INT64_MAX);
  EXPECT_EQ(parser.get<double>("ratio"), 0.25);
  EXPECT_EQ(parser.get<std::string>("name"), "web");
  EXPECT_EQ(parser.get<std::chrono::milliseconds>("timeout"), 1500ms);
}

TEST(OptionsTest, AnOptionNotOnTheCommandLineKeepsItsDefault) {
  OptionParser parser;
  parser.define<int>("port", 8888);
  parser.define<std::string>("name");
  parser.parse_command_line(command({}));
  EXPECT_EQ(parser.get<int>("port"), 8888);
  EXPECT_EQ(parser.get<std::string>("name"), "");
}

TEST(OptionsTest, ABoolOptionAloneMeansTrue) {
  OptionParser parser;
  parser.define<bool>("debug", false);
  parser.parse_command_line(command({"--debug"}));
  EXPECT_TRUE(parser.get<bool>("debug"));
}

TEST(OptionsTest, ABoolTakesTheUsualSpellingsInAnyCase) {
  OptionParser parser;
  parser.define<bool>("debug", false);
  for (const char* yes : {"true", "True", "T", "1", "yes", "on", "Y"}) {
    parser.set<bool>("debug", false);
    parser.parse_command_line(command({std::string("--debug=") + yes}));
    EXPECT_TRUE(parser.get<bool>("debug")) << yes;
  }
  for (const char* no : {"false", "False", "f", "0", "no", "OFF", "n"}) {
    parser.set<bool>("debug", true);
    parser.parse_command_line(command({std::string("--debug=") + no}));
    EXPECT_FALSE(parser.get<bool>("debug")) << no;
  }
}

TEST(OptionsTest, AnUnknownBoolWordIsAnErrorNamingTheOptionAndTheText) {
  OptionParser parser;
  parser.define<bool>("debug", false);
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--debug=maybe"})); }),
            "option --debug: 'maybe' is not a boolean (true or false)");
}

TEST(OptionsTest, ANonNumberForAnIntegerIsAnErrorNamingTheOptionAndTheText) {
  OptionParser parser;
  parser.define<int>("port", 80);
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--port=abc"})); }),
            "option --port: 'abc' is not an integer");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--port=80x"})); }),
            "option --port: '80x' is not an integer");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--port=8.5"})); }),
            "option --port: '8.5' is not an integer");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--port="})); }),
            "option --port: '' is not an integer");
  EXPECT_EQ(parser.get<int>("port"), 80);
}

TEST(OptionsTest, AnIntegerOutsideItsTypesRangeIsAnError) {
  OptionParser parser;
  parser.define<std::uint16_t>("port", 80);
  parser.define<int>("count", 0);
  parser.define<std::int64_t>("huge", 0);
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--port=70000"})); }),
            "option --port: '70000' is out of range for unsigned short (0 to 65535)");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--port=-1"})); }),
            "option --port: '-1' is out of range for unsigned short (0 to 65535)");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--count=2147483648"})); }),
            "option --count: '2147483648' is out of range for int (-2147483648 to 2147483647)");
  EXPECT_EQ(
      error_of([&] { parser.parse_command_line(command({"--huge=99999999999999999999"})); }),
      "option --huge: '99999999999999999999' is out of range for long (-9223372036854775808 to "
      "9223372036854775807)");
  parser.parse_command_line(command({"--port=65535", "--count=-2147483648"}));
  EXPECT_EQ(parser.get<std::uint16_t>("port"), 65535);
  EXPECT_EQ(parser.get<int>("count"), INT32_MIN);
}

TEST(OptionsTest, IntegersTakeASignAndSurroundingSpaces) {
  OptionParser parser;
  parser.define<int>("n", 0);
  parser.parse_command_line(command({"--n=+5"}));
  EXPECT_EQ(parser.get<int>("n"), 5);
  parser.parse_command_line(command({"--n= -7 "}));
  EXPECT_EQ(parser.get<int>("n"), -7);
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--n=+-5"})); }),
            "option --n: '+-5' is not an integer");
}

TEST(OptionsTest, FloatingPointOptionsTakeDecimalAndExponentForms) {
  OptionParser parser;
  parser.define<double>("ratio", 0);
  parser.define<float>("scale", 1);
  parser.parse_command_line(command({"--ratio=1e3", "--scale=-2.5"}));
  EXPECT_EQ(parser.get<double>("ratio"), 1000.0);
  EXPECT_EQ(parser.get<float>("scale"), -2.5F);
  parser.parse_command_line(command({"--ratio=+.5"}));
  EXPECT_EQ(parser.get<double>("ratio"), 0.5);
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--ratio=1.2.3"})); }),
            "option --ratio: '1.2.3' is not a number");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--ratio=1e999"})); }),
            "option --ratio: '1e999' is out of range");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--scale=1e300"})); }),
            "option --scale: '1e300' is out of range for float");
}

TEST(OptionsTest, DurationsUseTornadosSyntax) {
  OptionParser parser;
  parser.define<std::chrono::microseconds>("wait", 0us);
  const auto parse = [&](const std::string& text) {
    parser.parse_command_line(command({"--wait=" + text}));
    return parser.get<std::chrono::microseconds>("wait");
  };
  EXPECT_EQ(parse("30s"), 30s);
  EXPECT_EQ(parse("5m"), 5min);
  EXPECT_EQ(parse("5min"), 5min);
  EXPECT_EQ(parse("1h"), 1h);
  EXPECT_EQ(parse("500ms"), 500ms);
  EXPECT_EQ(parse("2d"), 48h);
  EXPECT_EQ(parse("1w"), 168h);
  EXPECT_EQ(parse("10us"), 10us);
  EXPECT_EQ(parse("45"), 45s);
  EXPECT_EQ(parse("1.5h"), 90min);
  EXPECT_EQ(parse("1h 30m"), 90min);
  EXPECT_EQ(parse("1h30m"), 90min);
  EXPECT_EQ(parse(" 3 seconds "), 3s);
  EXPECT_EQ(parse("2 hours"), 2h);
  EXPECT_EQ(parse("-2s"), -2s);
  EXPECT_EQ(parse("1e3ms"), 1s);
}

TEST(OptionsTest, ABadDurationIsAnErrorShowingTheSyntax) {
  OptionParser parser;
  parser.define<std::chrono::seconds>("timeout", 30s);
  for (const char* bad : {"5x", "s", "", "1.2.3s", "5 M", "fast"}) {
    EXPECT_EQ(
        error_of([&] { parser.parse_command_line(command({std::string("--timeout=") + bad})); }),
        std::string("option --timeout: '") + bad +
            "' is not a duration (such as 30s, 5m, 1h, 500ms, 2d)");
  }
  EXPECT_EQ(parser.get<std::chrono::seconds>("timeout"), 30s);
}

TEST(OptionsTest, ADurationMustBeAWholeNumberOfItsTypesUnit) {
  OptionParser parser;
  parser.define<std::chrono::seconds>("timeout", 30s);
  parser.define<std::chrono::duration<double>>("delay", 0s);
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--timeout=1500ms"})); }),
            "option --timeout: '1500ms' is not a whole number of seconds");
  parser.parse_command_line(command({"--timeout=2m", "--delay=1500ms"}));
  EXPECT_EQ(parser.get<std::chrono::seconds>("timeout"), 120s);
  EXPECT_DOUBLE_EQ(parser.get<std::chrono::duration<double>>("delay").count(), 1.5);
}

TEST(OptionsTest, ADurationBeyondItsTypeIsOutOfRange) {
  using Milliseconds32 = std::chrono::duration<std::int32_t, std::milli>;
  OptionParser parser;
  parser.define<Milliseconds32>("wait");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--wait=30d"})); }),
            "option --wait: '30d' is out of range for "
            "std::chrono::duration<int, std::ratio<1l, 1000l> >");
  parser.parse_command_line(command({"--wait=20d"}));
  EXPECT_EQ(parser.get<Milliseconds32>("wait"), Milliseconds32(20 * 86'400'000));
}

TEST(OptionsTest, AStringValueIsTakenExactly) {
  OptionParser parser;
  parser.define<std::string>("name");
  parser.parse_command_line(command({"--name= a b "}));
  EXPECT_EQ(parser.get<std::string>("name"), " a b ");
  parser.parse_command_line(command({"--name=x=y"}));
  EXPECT_EQ(parser.get<std::string>("name"), "x=y");
  parser.parse_command_line(command({"--name="}));
  EXPECT_EQ(parser.get<std::string>("name"), "");
}

TEST(OptionsTest, AnOptionalOptionIsEmptyUntilGiven) {
  OptionParser parser;
  parser.define<std::optional<int>>("workers");
  EXPECT_EQ(parser.get<std::optional<int>>("workers"), std::nullopt);
  parser.parse_command_line(command({"--workers=4"}));
  EXPECT_EQ(parser.get<std::optional<int>>("workers"), 4);
}

// -- multiple values ------------------------------------------------------------------------------

TEST(OptionsTest, AVectorOptionTakesCommaSeparatedValues) {
  OptionParser parser;
  parser.define<std::vector<std::string>>("hosts", {"localhost"});
  EXPECT_EQ(parser.get<std::vector<std::string>>("hosts"), Args{"localhost"});
  parser.parse_command_line(command({"--hosts=a.example:11011, b.example:11011,c"}));
  EXPECT_EQ(parser.get<std::vector<std::string>>("hosts"),
            (Args{"a.example:11011", "b.example:11011", "c"}));
}

TEST(OptionsTest, AnIntegerVectorTakesInclusiveRanges) {
  OptionParser parser;
  parser.define<std::vector<int>>("ports");
  parser.parse_command_line(command({"--ports=8000:8003,9000,10:10"}));
  EXPECT_EQ(parser.get<std::vector<int>>("ports"),
            (std::vector<int>{8000, 8001, 8002, 8003, 9000, 10}));
}

TEST(OptionsTest, ABackwardOrHugeRangeIsAnError) {
  OptionParser parser;
  parser.define<std::vector<int>>("ports");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--ports=5:3"})); }),
            "option --ports: '5:3' is a range that ends before it starts");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--ports=0:2000000000"})); }),
            "option --ports: '0:2000000000' is a range of more than 1048576 values");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--ports=1,x"})); }),
            "option --ports: 'x' is not an integer");
}

TEST(OptionsTest, RangesAtTheEdgesOfInt64DoNotOverflow) {
  OptionParser parser;
  parser.define<std::vector<std::int64_t>>("ids");
  parser.parse_command_line(command({"--ids=9223372036854775806:9223372036854775807"}));
  EXPECT_EQ(parser.get<std::vector<std::int64_t>>("ids"),
            (std::vector<std::int64_t>{INT64_MAX - 1, INT64_MAX}));
  EXPECT_EQ(
      error_of([&] {
        parser.parse_command_line(command({"--ids=-9223372036854775808:9223372036854775807"}));
      }),
      "option --ids: '-9223372036854775808:9223372036854775807' is a range of more than "
      "1048576 values");
}

TEST(OptionsTest, AnEmptyValueGivesAnEmptyList) {
  OptionParser parser;
  parser.define<std::vector<int>>("ports", {1, 2});
  parser.parse_command_line(command({"--ports="}));
  EXPECT_TRUE(parser.get<std::vector<int>>("ports").empty());
}

TEST(OptionsTest, VectorsOfDurationsAndBoolsParseEachItem) {
  OptionParser parser;
  parser.define<std::vector<std::chrono::seconds>>("backoff");
  parser.define<std::vector<bool>>("flags");
  parser.parse_command_line(command({"--backoff=1s,1m,1h", "--flags=yes,no"}));
  EXPECT_EQ(parser.get<std::vector<std::chrono::seconds>>("backoff"),
            (std::vector<std::chrono::seconds>{1s, 60s, 3600s}));
  EXPECT_EQ(parser.get<std::vector<bool>>("flags"), (std::vector<bool>{true, false}));
}

TEST(OptionsTest, TheMultipleFlagMustAgreeWithTheType) {
  OptionParser parser;
  parser.define<std::vector<int>>("ports", {8000}, "listen ports", "net", true);
  EXPECT_EQ(error_of([&] { parser.define<int>("port", 80, "", "", true); }),
            "cannot define option 'port': multiple needs a std::vector type "
            "(define<std::vector<int>>)");
  EXPECT_EQ(error_of([&] { parser.define<std::vector<int>>("more", {}, "", "", false); }),
            "cannot define option 'more': a std::vector<int> takes several values, so multiple "
            "cannot be false");
  EXPECT_FALSE(parser.contains("port"));
}

TEST(OptionsTest, TheIssuesParameterListWorksPositionally) {
  OptionParser parser;
  std::vector<int> seen;
  parser.define<std::vector<int>>("ports", {8000}, "listen ports", "network", true,
                                  [&](const std::vector<int>& ports) { seen = ports; });
  parser.define("port", 8888, "listen on this port");  // T deduced from the default
  parser.parse_command_line(command({"--ports=1,2", "--port=1"}));
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  EXPECT_EQ(parser.get<int>("port"), 1);
  // A callback one place too early does not become multiple=true.
  const auto callback = [](const int&) {};
  static_assert(!std::is_convertible_v<decltype(callback), options::detail::Multiple>);
  static_assert(!std::is_convertible_v<int, options::detail::Multiple>);
  static_assert(std::is_convertible_v<bool, options::detail::Multiple>);
}

TEST(OptionsTest, ParsesTheArgvOfMain) {
  OptionParser parser;
  parser.define<int>("port", 0);
  char program[] = "prog";
  char flag[] = "--port=7";
  char* argv[] = {program, flag, nullptr};
  parser.parse_command_line(2, argv);
  EXPECT_EQ(parser.get<int>("port"), 7);
}

// -- names ----------------------------------------------------------------------------------------

TEST(OptionsTest, UnderscoresAndDashesAreTheSameInNames) {
  OptionParser parser;
  parser.define<std::string>("log_file_prefix");
  parser.parse_command_line(command({"--log-file-prefix=/tmp/a"}));
  EXPECT_EQ(parser.get<std::string>("log_file_prefix"), "/tmp/a");
  EXPECT_EQ(parser.get<std::string>("log-file_prefix"), "/tmp/a");
  parser.parse_command_line(command({"--log_file-prefix=/tmp/b"}));
  EXPECT_EQ(parser.get<std::string>("log-file-prefix"), "/tmp/b");
  EXPECT_TRUE(parser.contains("log-file-prefix"));
  EXPECT_FALSE(parser.contains("log-file"));
}

TEST(OptionsTest, DefiningANameTwiceIsAnErrorNamingTheFirstDefinition) {
  OptionParser parser;
  const auto line = __LINE__ + 1;
  parser.define<int>("max_size", 1);
  const auto message = error_of([&] { parser.define<int>("max-size", 2); });
  EXPECT_EQ(message, "option 'max-size' already defined in " + std::string(__FILE__) + ":" +
                         std::to_string(line));
  EXPECT_EQ(parser.get<int>("max_size"), 1);
}

TEST(OptionsTest, HelpIsAlreadyDefined) {
  OptionParser parser;
  EXPECT_TRUE(parser.contains("help"));
  EXPECT_NE(error_of([&] { parser.define<bool>("help"); }).find("'help' already defined"),
            std::string::npos);
}

TEST(OptionsTest, ANameMustBeUsableOnTheCommandLine) {
  OptionParser parser;
  for (const char* bad : {"", "-x", "_x", "a=b", "a b"}) {
    EXPECT_EQ(error_of([&] { parser.define<int>(bad); }),
              std::string("cannot define option '") + bad +
                  "': a name is not empty, does not start with '-' or '_' and has no '=' or "
                  "spaces");
  }
}

// -- the command line -----------------------------------------------------------------------------

TEST(OptionsTest, ParsingReturnsTheArgumentsAfterTheOptions) {
  OptionParser parser;
  parser.define<int>("port", 0);
  EXPECT_EQ(parser.parse_command_line(command({"--port=1", "file1", "--port=2", "file2"})),
            (Args{"file1", "--port=2", "file2"}));
  EXPECT_EQ(parser.get<int>("port"), 1);
  EXPECT_EQ(parser.parse_command_line(command({"--port=3"})), Args{});
  EXPECT_EQ(parser.parse_command_line(Args{}), Args{});
}

TEST(OptionsTest, ADoubleDashEndsTheOptions) {
  OptionParser parser;
  parser.define<int>("port", 0);
  EXPECT_EQ(parser.parse_command_line(command({"--port=1", "--", "--port=2", "x"})),
            (Args{"--port=2", "x"}));
  EXPECT_EQ(parser.get<int>("port"), 1);
}

TEST(OptionsTest, ALoneDashIsAnArgument) {
  OptionParser parser;
  EXPECT_EQ(parser.parse_command_line(command({"-", "x"})), (Args{"-", "x"}));
}

TEST(OptionsTest, AnyNumberOfLeadingDashesIntroducesAnOption) {
  OptionParser parser;
  parser.define<int>("port", 0);
  parser.parse_command_line(command({"-port=5"}));
  EXPECT_EQ(parser.get<int>("port"), 5);
}

TEST(OptionsTest, AnUnknownOptionIsAnErrorNamingIt) {
  OptionParser parser;
  parser.define<int>("port", 0);
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--prot=80"})); }),
            "unrecognized command line option '--prot'");
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"-x"})); }),
            "unrecognized command line option '-x'");
}

TEST(OptionsTest, TakesAValueFromTheNextArgument) {
  OptionParser parser;
  parser.define<int>("port", 0);
  parser.define<int>("offset", 0);
  parser.define<bool>("debug", false);
  parser.define<std::string>("address", "");
  std::vector<std::string> rest = parser.parse_command_line(
      command({"--port", "80", "--offset", "-5", "--debug", "--address", "::1", "file"}));
  EXPECT_EQ(parser.get<int>("port"), 80);
  EXPECT_EQ(parser.get<int>("offset"), -5);
  EXPECT_TRUE(parser.get<bool>("debug"));
  EXPECT_EQ(parser.get<std::string>("address"), "::1");
  EXPECT_EQ(rest, std::vector<std::string>{"file"});
  // A bool option never takes the next argument: it stays a positional one.
  rest = parser.parse_command_line(command({"--debug", "false"}));
  EXPECT_TRUE(parser.get<bool>("debug"));
  EXPECT_EQ(rest, std::vector<std::string>{"false"});
  // A value is still needed, and an option does not take another option as its value.
  EXPECT_EQ(error_of([&] { parser.parse_command_line(command({"--port"})); }),
            "option --port needs a value: --port=INT");
  EXPECT_EQ(error_of([&] {
              parser.parse_command_line(command({"--port", "--debug"}));
            }),
            "option --port needs a value: --port=INT");
  EXPECT_EQ(error_of([&] {
              parser.parse_command_line(command({"--port", "eighty"}));
            }).find("port") != std::string::npos,
            true);
}

TEST(OptionsTest, ParsesMainsArguments) {
  OptionParser parser;
  parser.define<int>("port", 0);
  const char* argv[] = {"prog", "--port=42", "rest"};
  EXPECT_EQ(parser.parse_command_line(3, argv), Args{"rest"});
  EXPECT_EQ(parser.get<int>("port"), 42);
}

// -- typed access ---------------------------------------------------------------------------------

TEST(OptionsTest, GetWithTheWrongTypeIsAnErrorNamingBothTypes) {
  OptionParser parser;
  parser.define<int>("port", 80);
  parser.define<std::vector<std::string>>("hosts");
  EXPECT_EQ(error_of([&] { parser.get<std::string>("port"); }),
            "option 'port' is of type int, not std::string");
  EXPECT_EQ(error_of([&] { parser.get<long>("port"); }), "option 'port' is of type int, not long");
  EXPECT_EQ(error_of([&] { parser.get<std::string>("hosts"); }),
            "option 'hosts' is of type std::vector<std::string>, not std::string");
  EXPECT_EQ(error_of([&] { parser.set<std::optional<int>>("port", 1); }),
            "option 'port' is of type int, not std::optional<int>");
}

TEST(OptionsTest, GetOrSetOfAnUnknownNameIsAnError) {
  OptionParser parser;
  EXPECT_EQ(error_of([&] { parser.get<int>("nope"); }), "unrecognized option 'nope'");
  EXPECT_EQ(error_of([&] { parser.set<int>("nope", 1); }), "unrecognized option 'nope'");
}

TEST(OptionsTest, SetChangesTheValueAndRunsTheCallback) {
  OptionParser parser;
  std::vector<int> seen;
  parser.define<int>("port", 80, "", "", false, [&](const int& port) { seen.push_back(port); });
  parser.set<int>("port", 81);
  EXPECT_EQ(parser.get<int>("port"), 81);
  EXPECT_EQ(seen, std::vector<int>{81});
}

TEST(OptionsTest, AnUnsignedValueBeyondInt64CannotBeStored) {
  OptionParser parser;
  parser.define<std::uint64_t>("size", 0);
  EXPECT_NE(error_of([&] { parser.set<std::uint64_t>("size", UINT64_MAX); }).find("out of range"),
            std::string::npos);
  parser.set<std::uint64_t>("size", INT64_MAX);
  EXPECT_EQ(parser.get<std::uint64_t>("size"), std::uint64_t{INT64_MAX});
}

// -- callbacks ------------------------------------------------------------------------------------

TEST(OptionsTest, AnOptionsCallbackRunsWithEachParsedValue) {
  OptionParser parser;
  std::vector<std::vector<int>> seen;
  parser.define<std::vector<int>>("ports", {}, "", "", true,
                                  [&](const std::vector<int>& ports) { seen.push_back(ports); });
  parser.parse_command_line(command({}));
  EXPECT_TRUE(seen.empty());  // defaults do not run it
  parser.parse_command_line(command({"--ports=1:2", "--ports=7"}));
  EXPECT_EQ(seen, (std::vector<std::vector<int>>{{1, 2}, {7}}));
}

TEST(OptionsTest, ParseCallbacksRunInOrderAfterAllOptionsAreSet) {
  OptionParser parser;
  parser.define<int>("a", 0);
  parser.define<int>("b", 0);
  std::vector<std::string> seen;
  parser.add_parse_callback(
      [&] { seen.push_back("first a=" + std::to_string(parser.get<int>("a"))); });
  parser.add_parse_callback(
      [&] { seen.push_back("second b=" + std::to_string(parser.get<int>("b"))); });
  parser.parse_command_line(command({"--a=1", "--b=2"}));
  EXPECT_EQ(seen, (Args{"first a=1", "second b=2"}));
}

TEST(OptionsTest, ParseCallbacksDoNotRunWhenNotFinal) {
  OptionParser parser;
  int runs = 0;
  parser.add_parse_callback([&] { ++runs; });
  parser.parse_command_line(command({}), false);
  EXPECT_EQ(runs, 0);
  parser.parse_command_line(command({}));
  EXPECT_EQ(runs, 1);
  parser.run_parse_callbacks();
  EXPECT_EQ(runs, 2);
}

TEST(OptionsTest, AnErrorFromACallbackStopsParsing) {
  OptionParser parser;
  parser.define<int>("workers", 1, "", "", false, [](const int& workers) {
    if (workers > 64) throw options::Error("option workers: too many");
  });
  parser.define<int>("port", 0);
  EXPECT_EQ(error_of([&] {
              parser.parse_command_line(command({"--workers=100", "--port=5"}));
            }),
            "option workers: too many");
  EXPECT_EQ(parser.get<int>("port"), 0);
}

TEST(OptionsTest, AConfigOptionCallbackReadsAFileBetweenFlags) {
  // Tornado's pattern: flags before --config are overridden by the file, flags after it win.
  TempFile file("port = 9000\nname = 'from file'\n");
  OptionParser parser;
  parser.define<int>("port", 0);
  parser.define<std::string>("name");
  parser.define<std::string>(
      "config", "", "path to config file", "", false,
      [&](const std::string& path) { parser.parse_config_file(path, false); });
  parser.parse_command_line(
      command({"--port=1", "--name=flag", "--config=" + file.path(), "--port=2"}));
  EXPECT_EQ(parser.get<int>("port"), 2);
  EXPECT_EQ(parser.get<std::string>("name"), "from file");
}

// -- help -----------------------------------------------------------------------------------------

TEST(OptionsTest, HelpThrowsHelpRequestedWithoutRunningParseCallbacks) {
  OptionParser parser;
  parser.define<int>("port", 0);
  int runs = 0;
  parser.add_parse_callback([&] { ++runs; });
  EXPECT_THROW(parser.parse_command_line(command({"--help", "--port=1"})), options::HelpRequested);
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(parser.get<int>("port"), 0);
}

TEST(OptionsTest, HelpListsTheOptionsByGroupSortedLikeTornado) {
  OptionParser parser;
  parser.define<int>("port", 8888, "listen on this port", "network");
  parser.define<std::string>("address", "", "bind address", "network", false, {}, "HOST");
  parser.define<bool>("debug", false, "debug mode", "application");
  parser.define<std::vector<int>>("ports", {1, 2}, "", "network", true);
  parser.define<std::chrono::seconds>("timeout", 30s, "idle timeout", "network");
  parser.define<std::optional<double>>("ratio", std::nullopt, "a ratio", "application");
  parser.parse_command_line(Args{"myserver"});
  std::ostringstream out;
  parser.print_help(out);
  EXPECT_EQ(out.str(),
            "Usage: myserver [OPTIONS]\n"
            "\n"
            "Options:\n"
            "\n"
            "  --help                           show this help information\n"
            "\n"
            "application options:\n"
            "\n"
            "  --debug                          debug mode (default false)\n"
            "  --ratio=FLOAT                    a ratio\n"
            "\n"
            "network options:\n"
            "\n"
            "  --address=HOST                   bind address\n"
            "  --port=INT                       listen on this port (default 8888)\n"
            "  --ports=INT[,INT...]             (default 1,2)\n"
            "  --timeout=DURATION               idle timeout (default 30s)\n"
            "\n");
}

TEST(OptionsTest, HelpWrapsLongTextAndPutsALongNameOnItsOwnLine) {
  OptionParser parser;
  parser.define<std::string>(
      "a_rather_long_option_name_indeed", "x",
      "This help text is long enough that it has to be wrapped onto a second line.", "g");
  std::ostringstream out;
  parser.print_help(out);
  EXPECT_NE(out.str().find(
                "g options:\n\n"
                "  --a-rather-long-option-name-indeed=STR\n"
                "                                   This help text is long enough that it has to\n"
                "                                   be wrapped onto a second line. (default x)\n"),
            std::string::npos)
      << out.str();
}

TEST(OptionsTest, HelpGroupsOptionsByTheDefiningFileByDefault) {
  OptionParser parser;
  parser.define<int>("port", 1, "the port");
  std::ostringstream out;
  parser.print_help(out);
  const auto file = std::filesystem::path(__FILE__).lexically_normal().string();
  EXPECT_NE(out.str().find("\n" + file + " options:\n\n  --port=INT"), std::string::npos)
      << out.str();
}

// -- config files ---------------------------------------------------------------------------------

TEST(OptionsTest, AConfigFileSetsValuesOfEveryType) {
  TempFile file(
      "# server settings\n"
      "\n"
      "port = 8000\n"
      "debug = True\n"
      "ratio=0.75\n"
      "  name = 'my server'  # quoted\n"
      "path = /var/www/site\n"
      "timeout = 5m\n"
      "log_file_prefix = \"/tmp/x.log\"\n");
  OptionParser parser;
  parser.define<int>("port", 0);
  parser.define<bool>("debug", false);
  parser.define<double>("ratio", 0);
  parser.define<std::string>("name");
  parser.define<std::string>("path");
  parser.define<std::chrono::seconds>("timeout", 0s);
  parser.define<std::string>("log-file-prefix");
  parser.parse_config_file(file.path());
  EXPECT_EQ(parser.get<int>("port"), 8000);
  EXPECT_TRUE(parser.get<bool>("debug"));
  EXPECT_EQ(parser.get<double>("ratio"), 0.75);
  EXPECT_EQ(parser.get<std::string>("name"), "my server");
  EXPECT_EQ(parser.get<std::string>("path"), "/var/www/site");
  EXPECT_EQ(parser.get<std::chrono::seconds>("timeout"), 300s);
  EXPECT_EQ(parser.get<std::string>("log_file_prefix"), "/tmp/x.log");
}

TEST(OptionsTest, AConfigFileReadsQuotedStringsWithEscapes) {
  TempFile file(R"(a = "it's # not a comment"
b = 'say \"hi\"\n\tend\\'
c = ''
d = 'C:\dir'
e = "8080"
)");
  OptionParser parser;
  for (const char* name : {"a", "b", "c", "d"}) parser.define<std::string>(name, "unset");
  parser.define<int>("e", 0);
  parser.parse_config_file(file.path());
  EXPECT_EQ(parser.get<std::string>("a"), "it's # not a comment");
  EXPECT_EQ(parser.get<std::string>("b"), "say \"hi\"\n\tend\\");
  EXPECT_EQ(parser.get<std::string>("c"), "");
  EXPECT_EQ(parser.get<std::string>("d"), "C:\\dir");
  EXPECT_EQ(parser.get<int>("e"), 8080);
}

TEST(OptionsTest, AConfigFileGivesVectorsAsListsOrCommaLists) {
  TempFile file(
      "hosts = ['cache1.example.com:11011',\n"
      "         'cache2.example.com:11011',  # the second\n"
      "        ]\n"
      "more = 'a,b'\n"
      "bare = x, y ,z\n"
      "ports = [8000, 8001]\n"
      "range = 1:3\n"
      "none = []\n");
  OptionParser parser;
  parser.define<std::vector<std::string>>("hosts");
  parser.define<std::vector<std::string>>("more");
  parser.define<std::vector<std::string>>("bare");
  parser.define<std::vector<int>>("ports");
  parser.define<std::vector<int>>("range");
  parser.define<std::vector<int>>("none", {5});
  parser.parse_config_file(file.path());
  EXPECT_EQ(parser.get<std::vector<std::string>>("hosts"),
            (Args{"cache1.example.com:11011", "cache2.example.com:11011"}));
  EXPECT_EQ(parser.get<std::vector<std::string>>("more"), (Args{"a", "b"}));
  EXPECT_EQ(parser.get<std::vector<std::string>>("bare"), (Args{"x", "y", "z"}));
  EXPECT_EQ(parser.get<std::vector<int>>("ports"), (std::vector<int>{8000, 8001}));
  EXPECT_EQ(parser.get<std::vector<int>>("range"), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(parser.get<std::vector<int>>("none").empty());
}

TEST(OptionsTest, AConfigFileSetsAnOptionalToNoneOnly) {
  TempFile file("workers = 3\nworkers = None\n");
  OptionParser parser;
  parser.define<std::optional<int>>("workers", 1);
  parser.parse_config_file(file.path());
  EXPECT_EQ(parser.get<std::optional<int>>("workers"), std::nullopt);

  TempFile bad("\nport = None\n");
  parser.define<int>("port", 0);
  EXPECT_EQ(error_of([&] { parser.parse_config_file(bad.path()); }),
            bad.path() + ":2: option 'port' cannot be None (it holds a int)");
}

TEST(OptionsTest, AConfigFileErrorNamesTheFileAndLine) {
  OptionParser parser;
  parser.define<int>("port", 0);
  parser.define<std::string>("name");
  parser.define<std::vector<int>>("ports");
  const auto error_for = [&](const std::string& contents) {
    TempFile file(contents);
    auto message = error_of([&] { parser.parse_config_file(file.path()); });
    const auto prefix = file.path() + ":";
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
    return message.substr(std::min(prefix.size(), message.size()));
  };
  EXPECT_EQ(error_for("port = 1\n\nprot = 2\n"), "3: unrecognized option 'prot'");
  EXPECT_EQ(error_for("# c\nimport os\n"), "2: expected 'name = value'");
  EXPECT_EQ(error_for("= 5\n"), "1: expected 'name = value'");
  EXPECT_EQ(error_for("port = abc\n"), "1: option 'port': 'abc' is not an integer");
  EXPECT_EQ(error_for("name = 'open\n"), "1: string not closed");
  EXPECT_EQ(error_for("name = 'a' 'b'\n"), "1: unexpected text after the value");
  EXPECT_EQ(error_for("\nports = [1,\n2\n"), "2: list not closed with ']'");
  EXPECT_EQ(error_for("ports = [1,,2]\n"), "1: empty item in list");
  EXPECT_EQ(error_for("ports = ['1' '2']\n"), "1: expected ',' or ']' in list");
  EXPECT_EQ(error_for("ports = [1 2]\n"), "1: option 'ports': '1 2' is not an integer");
  EXPECT_EQ(error_for("ports = ['a']\n"), "1: option 'ports': 'a' is not an integer");
  EXPECT_EQ(error_for("port = [1]\n"), "1: option 'port' takes one value, not a list");
}

TEST(OptionsTest, AMissingConfigFileIsAnError) {
  OptionParser parser;
  EXPECT_EQ(error_of([&] { parser.parse_config_file("/nonexistent/squall.conf"); }),
            "cannot read config file '/nonexistent/squall.conf': No such file or directory");
}

TEST(OptionsTest, AConfigFileRunsOptionAndParseCallbacks) {
  TempFile file("port = 7\r\nport = 8\r\n");
  OptionParser parser;
  std::vector<int> ports;
  parser.define<int>("port", 0, "", "", false, [&](const int& port) { ports.push_back(port); });
  int runs = 0;
  parser.add_parse_callback([&] { ++runs; });
  parser.parse_config_file(file.path(), false);
  EXPECT_EQ(runs, 0);
  parser.parse_config_file(file.path());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(ports, (std::vector<int>{7, 8, 7, 8}));
}

// -- the global options ---------------------------------------------------------------------------

TEST(OptionsGlobalTest, TheModuleFunctionsUseTheGlobalParser) {
  options::define<int>("options_test_port", 8888, "listen on this port");
  EXPECT_EQ(options::get<int>("options-test-port"), 8888);
  options::set<int>("options_test_port", 9000);
  EXPECT_EQ(options::options().get<int>("options_test_port"), 9000);
  std::ostringstream out;
  options::print_help(out);
  EXPECT_NE(out.str().find("--options-test-port=INT"), std::string::npos);
}

TEST(OptionsGlobalTest, TheGlobalParserHasTheLoggingOptions) {
  for (const char* name :
       {"logging", "log_to_stderr", "log_file_prefix", "log_file_max_size", "log_file_num_backups",
        "log_rotate_mode", "log_rotate_when", "log_rotate_interval"}) {
    EXPECT_TRUE(options::options().contains(name)) << name;
  }
  EXPECT_EQ(options::get<std::string>("logging"), "info");
  EXPECT_EQ(options::get<std::int64_t>("log_file_max_size"), 100'000'000);
}

TEST(OptionsGlobalDeathTest, ABadCommandLineExitsWithStatus2AndAMessage) {
  const char* argv[] = {"prog", "--no-such-option=1"};
  EXPECT_EXIT(options::parse_command_line(2, argv), ::testing::ExitedWithCode(2),
              "^error: unrecognized command line option '--no-such-option'\n"
              "\\(run 'prog --help' for the list of options\\)\n$");
}

TEST(OptionsGlobalDeathTest, ABadValueExitsWithStatus2AndAMessage) {
  const char* argv[] = {"prog", "--logging=verbose"};
  EXPECT_EXIT(options::parse_command_line(2, argv), ::testing::ExitedWithCode(2),
              "error: option logging: 'verbose' is not a log level");
}

TEST(OptionsGlobalDeathTest, HelpPrintsToStdoutAndExitsWithStatus0) {
  const char* argv[] = {"prog", "--help"};
  // Death tests match stderr, so the child sends its stdout there.
  EXPECT_EXIT(
      {
        ::dup2(2, 1);
        options::parse_command_line(2, argv);
      },
      ::testing::ExitedWithCode(0),
      "^Usage: prog \\[OPTIONS\\]\n\nOptions:\n\n  --help  [^\n]*\n(.|\n)*"
      "logging options:\n(.|\n)*  --logging=debug\\|info\\|warning\\|error\\|none");
}

}  // namespace
}  // namespace squall
