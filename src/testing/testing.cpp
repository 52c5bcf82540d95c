#include "squall/testing/testing.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace squall::testing {

AsyncTest::AsyncTest() : previous_(IOLoop::current_or_null()), loop_(std::make_unique<IOLoop>()) {
  loop_->make_current();
}

AsyncTest::~AsyncTest() {
  loop_.reset();
  if (previous_) previous_->make_current();
}

struct ExpectLog::Capture : spdlog::sinks::base_sink<std::mutex> {
  Capture(std::string pattern, std::vector<spdlog::sink_ptr> passthrough)
      : regex(std::move(pattern)), forward(std::move(passthrough)) {}

  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    if (std::regex_search(text, regex)) {
      seen.push_back(std::move(text));
      return;
    }
    for (auto& sink : forward) {
      if (sink->should_log(msg.level)) sink->log(msg);
    }
  }
  void flush_() override {
    for (auto& sink : forward) sink->flush();
  }

  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex_);
    return seen;
  }

  std::regex regex;
  std::vector<spdlog::sink_ptr> forward;
  std::vector<std::string> seen;
};

ExpectLog::ExpectLog(spdlog::logger& logger, std::string pattern, bool required)
    : capture_(std::make_shared<Capture>(std::move(pattern), logger.sinks())),
      logger_(logger),
      required_(required) {
  logger_.sinks() = {capture_};
}

ExpectLog::~ExpectLog() {
  logger_.sinks() = capture_->forward;
  if (required_ && matched() == 0) {
    ADD_FAILURE() << "ExpectLog: no line of logger '" << logger_.name()
                  << "' matched the expected pattern";
  }
}

int ExpectLog::matched() const {
  return static_cast<int>(capture_->snapshot().size());
}

std::vector<std::string> ExpectLog::lines() const {
  return capture_->snapshot();
}

}  // namespace squall::testing
