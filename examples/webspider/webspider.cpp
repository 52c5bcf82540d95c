// webspider: Tornado's demos/webspider in squall, a concurrent crawler. A Queue holds the URLs to
// visit; --concurrency worker coroutines take URLs from it, fetch them with AsyncHTTPClient, and
// put back the links of each HTML page that lie below --base_url, each URL once. When
// `queue.join()` says every URL put has been processed, the workers are told to stop.
//
//   webspider [--base_url=http://127.0.0.1:8888/] [--concurrency=10] [--timeout=300s]
//
// Links are made absolute against their page, lose their fragment, and get the bytes a URL may not
// hold (spaces, non-ASCII...) percent-encoded. Redirects are not followed
// by the client: their Location is treated as one more link, so the crawl never leaves the site.
// Prints a line per URL (`fetched URL`, `redirected URL -> LOCATION`, `failed URL: WHY`) and a
// summary; exits 0 once the crawl is complete, 1 if it timed out.

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/core/queues.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httputil.hpp>
#include <squall/util/options.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <exception>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "demo_support.hpp"
#include "links.hpp"

namespace {

bool is_html(const squall::HTTPResponse& response) {
  const std::string type = response.headers.get("Content-Type").value_or("");
  return type.size() >= 9 &&
         std::equal(type.begin(), type.begin() + 9, "text/html", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

/// The message of the exception in `error`.
std::string describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

/// One crawl of the pages below a base URL.
class Spider {
 public:
  Spider(std::string base_url, std::size_t concurrency)
      : base_url_(std::move(base_url)), concurrency_(concurrency), client_(defaults(concurrency)) {}

  /// Crawls from the base URL until every page found is processed, or `timeout` passes; true if
  /// the crawl completed. Either way the workers have stopped when the Future completes, so the
  /// spider may be destroyed then.
  squall::Future<bool> crawl(std::chrono::milliseconds timeout) {
    seen_.insert(base_url_);
    co_await queue_.put(base_url_);
    std::vector<squall::Future<void>> workers;
    for (std::size_t i = 0; i < concurrency_; ++i) workers.push_back(worker());
    bool complete = true;
    try {
      co_await queue_.join(timeout);
    } catch (const squall::TimeoutError&) {
      complete = false;
      stopping_ = true;  // the workers skip what is still queued
    }
    for (std::size_t i = 0; i < concurrency_; ++i) co_await queue_.put(std::nullopt);
    co_await squall::gen::multi(std::move(workers));
    co_return complete;
  }

  std::size_t fetched() const noexcept { return fetched_; }
  std::size_t redirected() const noexcept { return redirected_; }
  std::size_t failed() const noexcept { return failed_; }

 private:
  static squall::AsyncHTTPClient::Defaults defaults(std::size_t concurrency) {
    squall::AsyncHTTPClient::Defaults defaults;
    defaults.max_clients = concurrency;  // as many fetches at once as there are workers
    defaults.request.follow_redirects = false;
    return defaults;
  }

  /// Takes URLs from the queue until it gets the stop signal (nullopt). The spider outlives its
  /// workers: `crawl` awaits them all before it completes.
  squall::Future<void> worker() {
    for (;;) {
      std::optional<std::string> url = co_await queue_.get();
      if (!url) {
        queue_.task_done();
        co_return;
      }
      if (!stopping_) co_await fetch_url(std::move(*url));
      queue_.task_done();
    }
  }

  /// Fetches `url`, reports it, and queues the new links it gives. Never throws: a failure is
  /// reported and counted.
  squall::Future<void> fetch_url(std::string url) {
    std::vector<std::string> links;
    try {
      squall::HTTPResponse response = co_await client_.fetch(url, false);
      const auto location = response.headers.get("Location");
      if (response.code >= 200 && response.code < 300) {
        ++fetched_;
        std::cout << "fetched " << url << std::endl;
        if (is_html(response)) links = webspider::get_links(response.body);
      } else if (response.code >= 300 && response.code < 400 && location) {
        ++redirected_;
        std::cout << "redirected " << url << " -> " << *location << std::endl;
        links.push_back(*location);
      } else {
        ++failed_;
        std::cout << "failed " << url << ": "
                  << (response.error ? describe(response.error) : response.reason) << std::endl;
      }
    } catch (const std::exception& e) {  // a URL the client refuses at once
      ++failed_;
      std::cout << "failed " << url << ": " << e.what() << std::endl;
    }
    for (const std::string& link : links) {
      // Absolute, without its fragment, with what a URL cannot hold percent-encoded.
      std::string next = squall::httputil::resolve_url(url, link);
      // Only pages below the base URL, each once.
      if (next.starts_with(base_url_) && seen_.insert(next).second) {
        co_await queue_.put(std::move(next));
      }
    }
  }

  const std::string base_url_;
  const std::size_t concurrency_;
  squall::AsyncHTTPClient client_;
  squall::Queue<std::optional<std::string>> queue_;
  std::set<std::string> seen_;  // every URL ever queued
  bool stopping_ = false;
  std::size_t fetched_ = 0;
  std::size_t redirected_ = 0;
  std::size_t failed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  squall::options::define<std::string>("base_url", "http://127.0.0.1:8888/",
                                       "where the crawl starts; only URLs below it are followed");
  squall::options::define<int>("concurrency", 10, "how many pages are fetched at once");
  squall::options::define<std::chrono::milliseconds>("timeout", std::chrono::minutes(5),
                                                     "the longest the whole crawl may take");
  if (!demo::parse_options_only(argc, argv)) return 2;
  const auto base_url = squall::options::get<std::string>("base_url");
  const int concurrency = squall::options::get<int>("concurrency");
  if (!base_url.starts_with("http://") && !base_url.starts_with("https://")) {
    std::cerr << argv[0] << ": --base_url must be an http:// or https:// URL\n";
    return 2;
  }
  if (concurrency < 1) {
    std::cerr << argv[0] << ": --concurrency must be at least 1\n";
    return 2;
  }

  squall::IOLoop loop;
  const auto start = std::chrono::steady_clock::now();
  Spider spider(base_url, static_cast<std::size_t>(concurrency));
  const bool complete = loop.run_sync(
      [&] { return spider.crawl(squall::options::get<std::chrono::milliseconds>("timeout")); });
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::cout << (complete ? "Done" : "Timed out") << " in " << elapsed.count()
            << " seconds: " << spider.fetched() << " fetched, " << spider.redirected()
            << " redirected, " << spider.failed() << " failed." << std::endl;
  return complete ? 0 : 1;
}
