// RequestHandler through real sockets: the flow, output, errors, arguments, cookies, users and
// guards, ETags and streaming bodies.

#include "squall/web/request_handler.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "squall/core/gen.hpp"
#include "squall/core/locks.hpp"
#include "squall/net/tcpclient.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "squall/web/application.hpp"
#include "support/http_test_client.hpp"
#include "web/handler_access.hpp"

namespace squall::web {
namespace {

using squall::testing::AsyncHTTPTestCase;
using squall::testing::ExpectLog;

HTTPRequest request(std::string method, std::optional<std::string> body = std::nullopt) {
  HTTPRequest r;
  r.method = std::move(method);
  r.body = std::move(body);
  r.follow_redirects = false;
  return r;
}

// --- Handlers -----------------------------------------------------------------------------------

class HelloHandler : public RequestHandler {
 public:
  Future<void> get() override {
    write("Hello, " + get_argument("name", "world"));
    return make_ready_future();
  }
};

// Records the order of its hooks in the response.
class FlowHandler : public RequestHandler {
 public:
  void initialize(std::string tag) { tag_ = std::move(tag); }
  Future<void> prepare() override {
    co_await gen::moment;
    order_ += "prepare,";
    if (get_argument("stop", "") == "prepare") {
      write(order_);
      co_await finish();
    }
  }
  Future<void> get() override {
    co_await gen::sleep(std::chrono::milliseconds(1));
    order_ += "get";
    write(tag_ + ":" + order_);
  }
  Future<void> post() override {
    write("posted " + request().body);
    co_return;
  }

 private:
  std::string tag_;
  std::string order_;
};

class OutputHandler : public RequestHandler {
 public:
  Future<void> get() override {
    std::string what = get_argument("what");
    if (what == "json") {
      write(nlohmann::json{{"a", 1}, {"s", "</script>"}});
    } else if (what == "json-array") {
      write(nlohmann::json::array({1, 2}));
    } else if (what == "status") {
      set_status(299, "Fine Thanks");
      write("odd");
    } else if (what == "unknown-status") {
      set_status(299);
    } else if (what == "headers") {
      set_header("X-One", "1");
      set_header("X-One", "one");
      add_header("X-Many", "a");
      add_header("X-Many", "b");
      set_header("X-Number", 42);
      set_header("X-Gone", "x");
      clear_header("X-Gone");
      set_header("Content-Type", "text/plain");
    } else if (what == "clear") {
      set_status(404);
      set_header("X-Dropped", "1");
      write("dropped");
      clear();
      write("kept");
    } else if (what == "bad-header") {
      set_header("X-Bad", "a\r\nInjected: yes");
    } else if (what == "flush") {
      write("first,");
      co_await flush();
      write("second");
    } else if (what == "finish-twice") {
      co_await finish("once");
      static_cast<void>(finish("twice"));
    } else if (what == "write-after-finish") {
      co_await finish("done");
      write("more");
    } else if (what == "204") {
      set_status(204);
    }
  }
};

class RedirectingHandler : public RequestHandler {
 public:
  Future<void> get() override {
    std::string kind = get_argument("kind", "temporary");
    if (kind == "permanent") {
      redirect("/target", true);
    } else if (kind == "status") {
      redirect("/target", false, 307);
    } else if (kind == "bad-status") {
      redirect("/target", false, 200);
    } else if (kind == "after-flush") {
      write("x");
      co_await flush();
      redirect("/target");
    } else {
      redirect("/target?x=1");
    }
  }
};

class ErrorsHandler : public RequestHandler {
 public:
  Future<void> get() override {
    std::string kind = get_argument("kind");
    if (kind == "http") throw HTTPError(418, "teapot details", "I Am A Teapot");
    if (kind == "http-plain") throw HTTPError(403);
    if (kind == "runtime") throw std::runtime_error("boom");
    if (kind == "after-await") {
      co_await gen::moment;
      throw HTTPError(409);
    }
    if (kind == "finish") {
      write("partial then Finish");
      throw Finish();
    }
    if (kind == "after-flush") {
      write("started");
      co_await flush();
      throw std::runtime_error("late failure");
    }
    if (kind == "send-error") {
      send_error(503);
      co_return;
    }
    write("no error");
  }
};

class CustomErrorPageHandler : public RequestHandler {
 public:
  Future<void> get() override { throw HTTPError(402, "", "Pay Up"); }
  void write_error(int status_code, const std::exception_ptr& error) override {
    write(nlohmann::json{{"code", status_code}, {"had_error", error != nullptr}});
    static_cast<void>(finish());
  }
};

class ArgumentsHandler : public RequestHandler {
 public:
  Future<void> get() override { return respond(); }
  Future<void> post() override { return respond(); }

 private:
  Future<void> respond() {
    nlohmann::json out;
    std::string mode = get_query_argument("mode", "one");
    if (mode == "one") {
      out["a"] = get_argument("a");
    } else if (mode == "default") {
      out["a"] = get_argument("a", "fallback");
    } else if (mode == "nostrip") {
      out["a"] = get_argument("a", std::nullopt, false);
    } else if (mode == "all") {
      out["a"] = get_arguments("a");
      out["query"] = get_query_arguments("a");
      out["body"] = get_body_arguments("a");
    } else if (mode == "body") {
      out["a"] = get_body_argument("a");
    } else if (mode == "files") {
      for (const auto& [name, files] : request().files) {
        for (const auto& file : files) out[name].push_back({file.filename, file.body});
      }
    }
    write(out);
    return make_ready_future();
  }
};

class PathArgsHandler : public RequestHandler {
 public:
  Future<void> get() override {
    nlohmann::json out;
    out["args"] = path_args();
    out["kwargs"] = nlohmann::json::object();
    for (const auto& [name, value] : path_kwargs()) out["kwargs"][name] = value;
    write(out);
    return make_ready_future();
  }
};

class CookieHandler : public RequestHandler {
 public:
  Future<void> get() override {
    std::string action = get_argument("action");
    if (action == "read") {
      write(get_cookie("a").value_or("<none>"));
    } else if (action == "set") {
      CookieOptions options;
      options.httponly = true;
      options.samesite = "Lax";
      options.max_age = 60;
      set_cookie("a", "1", options);
      set_cookie("b", "2");
      set_cookie("b", "3");  // replaces the earlier one
    } else if (action == "inject") {
      set_cookie("a", "x; Domain=evil.example");
    } else if (action == "clear") {
      clear_cookie("a");
    } else if (action == "clear-all") {
      clear_all_cookies();
    } else if (action == "set-signed") {
      set_signed_cookie("user", "alice");
    } else if (action == "read-signed") {
      write(get_signed_cookie("user").value_or("<invalid>"));
    } else if (action == "error-keeps-cookie") {
      set_cookie("kept", "yes");
      throw HTTPError(400);
    }
    return make_ready_future();
  }
};

class LoginRequiredHandler : public RequestHandler {
 public:
  nlohmann::json get_current_user() override {
    auto user = get_signed_cookie("user");
    return user ? nlohmann::json(*user) : nlohmann::json();
  }
  Future<void> get() override {
    authenticated();
    write("hello " + current_user().get<std::string>());
    return make_ready_future();
  }
  Future<void> post() override {
    authenticated();
    write("posted");
    return make_ready_future();
  }
};

class SlashHandler : public RequestHandler {
 public:
  void initialize(bool add) { add_ = add; }
  Future<void> get() override {
    if (add_) {
      addslash();
    } else {
      removeslash();
    }
    write("at " + request().path);
    return make_ready_future();
  }
  Future<void> post() override { return get(); }

 private:
  bool add_ = false;
};

class EtagHandler : public RequestHandler {
 public:
  Future<void> get() override {
    write("same body every time");
    return make_ready_future();
  }
  Future<void> post() override {
    write("posts get no etag");
    return make_ready_future();
  }
};

class XsrfHandler : public RequestHandler {
 public:
  Future<void> get() override {
    write(xsrf_token());
    return make_ready_future();
  }
  Future<void> post() override {
    write("accepted");
    return make_ready_future();
  }
};

// Long polling: waits until the client goes away.
class WaitHandler : public RequestHandler {
 public:
  void initialize(std::shared_ptr<Event> closed) { closed_ = std::move(closed); }
  Future<void> get() override {
    write("waiting");
    co_await flush();
    co_await wait_forever_.wait();
  }
  void on_connection_close() override {
    closed_->set();
    wait_forever_.set();
  }

 private:
  std::shared_ptr<Event> closed_;
  Event wait_forever_;
};

class OnFinishHandler : public RequestHandler {
 public:
  void initialize(std::shared_ptr<int> finished) { finished_ = std::move(finished); }
  Future<void> get() override {
    write("ok");
    return make_ready_future();
  }
  void on_finish() override { ++*finished_; }

 private:
  std::shared_ptr<int> finished_;
};

// What a handler answers once its finished response was released, as a WebSocket handler's is
// after the handshake.
struct AfterRelease {
  int status = 0;
  bool finished = false;
  bool etag_matches = true;
  bool write_refused = false;
  std::string cookie;
  std::string xsrf_token;
};

class ReleasingHandler : public RequestHandler {
 public:
  void initialize(std::shared_ptr<AfterRelease> seen) { seen_ = std::move(seen); }
  Future<void> get() override {
    set_status(202);
    set_header("Etag", "\"x\"");  // the request's `If-None-Match: *` matches it, until released
    static_cast<void>(finish("released"));
    detail::HandlerAccess::release_response(*this);
    seen_->status = get_status();
    seen_->finished = finished();
    seen_->etag_matches = check_etag_header();
    try {
      write("more");
    } catch (const InvalidStateError&) {
      seen_->write_refused = true;
    }
    set_header("X-Late", "goes nowhere");
    seen_->cookie = get_cookie("name").value_or("<none>");
    seen_->xsrf_token = xsrf_token();
    return make_ready_future();
  }

 private:
  std::shared_ptr<AfterRelease> seen_;
};

// --- The application ----------------------------------------------------------------------------

class RequestHandlerTest : public AsyncHTTPTestCase {
 protected:
  std::shared_ptr<Event> closed_ = std::make_shared<Event>();
  std::shared_ptr<int> finished_ = std::make_shared<int>(0);
  std::shared_ptr<AfterRelease> after_release_ = std::make_shared<AfterRelease>();

  std::unique_ptr<Application> get_app() override {
    Settings settings;
    settings.cookie_secret = "0123456789abcdef0123456789abcdef";
    settings.login_url = "/login";
    return std::make_unique<Application>(
        std::vector<URLSpec>{
            {"/hello", handler<HelloHandler>()},
            {"/flow", handler<FlowHandler>(std::string("tagged"))},
            {"/output", handler<OutputHandler>()},
            {"/redirect", handler<RedirectingHandler>()},
            {"/errors", handler<ErrorsHandler>()},
            {"/custom-error", handler<CustomErrorPageHandler>()},
            {"/args", handler<ArgumentsHandler>()},
            {"/path/([^/]*)/(\\d+)", handler<PathArgsHandler>()},
            {"/named/(?P<slug>[^/]+)", handler<PathArgsHandler>()},
            {"/cookie", handler<CookieHandler>()},
            {"/private", handler<LoginRequiredHandler>()},
            {"/add(/.*)?", handler<SlashHandler>(true)},
            {"/remove(/.*)?", handler<SlashHandler>(false)},
            {"/etag", handler<EtagHandler>()},
            {"/wait", handler<WaitHandler>(closed_)},
            {"/on-finish", handler<OnFinishHandler>(finished_)},
            {"/released", handler<ReleasingHandler>(after_release_)},
        },
        std::move(settings));
  }
};

TEST_F(RequestHandlerTest, GetWritesTheResponse) {
  auto response = fetch("/hello?name=squall");
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "Hello, squall");
  EXPECT_EQ(response.headers.get("Content-Type", ""), "text/html; charset=UTF-8");
  EXPECT_EQ(response.headers.get("Content-Length", ""), "13");
  EXPECT_TRUE(response.headers.contains("Server"));
  EXPECT_TRUE(response.headers.contains("Date"));
}

TEST_F(RequestHandlerTest, InitializeGetsTheRouteArgumentsAndPrepareRunsFirst) {
  auto response = fetch("/flow");
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "tagged:prepare,get");
}

TEST_F(RequestHandlerTest, FinishingInPrepareSkipsTheMethod) {
  auto response = fetch("/flow?stop=prepare");
  EXPECT_EQ(response.body, "prepare,");
}

TEST_F(RequestHandlerTest, MethodNotOverriddenIs405ListingTheMethodsInAllow) {
  auto response = fetch("/hello", request("DELETE"));
  EXPECT_EQ(response.code, 405);
  EXPECT_EQ(response.headers.get("Allow", ""), "GET");
  auto flow = fetch("/flow", request("PUT", "x"));
  EXPECT_EQ(flow.code, 405);
  EXPECT_EQ(flow.headers.get("Allow", ""), "GET, POST");
}

// The methods a class implements are found at compile time, through intermediate classes too.
class ImplementsSome : public RequestHandler {
 public:
  Future<void> put() override { return make_ready_future(); }
  Future<void> options() override { return make_ready_future(); }
};
class InheritsSome : public ImplementsSome {
 public:
  Future<void> delete_() override { return make_ready_future(); }
};
static_assert(detail::implemented_methods<RequestHandler>() == 0);
static_assert(detail::implemented_methods<ImplementsSome>() ==
              (detail::kPutBit | detail::kOptionsBit));
static_assert(detail::implemented_methods<InheritsSome>() ==
              (detail::kPutBit | detail::kOptionsBit | detail::kDeleteBit));

TEST_F(RequestHandlerTest, UnknownMethodIs405) {
  HTTPRequest r = request("PROPFIND");
  r.allow_nonstandard_methods = true;
  EXPECT_EQ(fetch("/hello", r).code, 405);
}

TEST_F(RequestHandlerTest, HeadGetsNoBodyButTheLength) {
  auto response = fetch("/flow", request("HEAD"));
  EXPECT_EQ(response.code, 405);  // FlowHandler has no head()
}

TEST_F(RequestHandlerTest, PostGetsTheBody) {
  auto response = fetch("/flow", request("POST", "payload"));
  EXPECT_EQ(response.body, "posted payload");
}

TEST_F(RequestHandlerTest, WriteJsonSetsContentTypeAndEscapesScriptEnd) {
  auto response = fetch("/output?what=json");
  EXPECT_EQ(response.headers.get("Content-Type", ""), "application/json; charset=UTF-8");
  EXPECT_EQ(nlohmann::json::parse(response.body), (nlohmann::json{{"a", 1}, {"s", "</script>"}}));
  EXPECT_EQ(response.body.find("</"), std::string::npos) << response.body;
}

TEST_F(RequestHandlerTest, WriteJsonArrayIsRefused) {
  ExpectLog log(squall::log::app_log(), "write\\(\\) takes JSON objects only");
  EXPECT_EQ(fetch("/output?what=json-array").code, 500);
}

TEST_F(RequestHandlerTest, SetStatusWithReason) {
  auto response = fetch("/output?what=status");
  EXPECT_EQ(response.code, 299);
  EXPECT_EQ(response.reason, "Fine Thanks");
  EXPECT_EQ(response.body, "odd");
}

TEST_F(RequestHandlerTest, UnknownStatusWithoutReasonSaysUnknown) {
  auto response = fetch("/output?what=unknown-status");
  EXPECT_EQ(response.code, 299);
  EXPECT_EQ(response.reason, "Unknown");
}

TEST_F(RequestHandlerTest, HeadersSetAddAndClear) {
  auto response = fetch("/output?what=headers");
  EXPECT_EQ(response.headers.get("X-One", ""), "one");
  EXPECT_EQ(response.headers.get_list("X-Many"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(response.headers.get("X-Number", ""), "42");
  EXPECT_FALSE(response.headers.contains("X-Gone"));
  EXPECT_EQ(response.headers.get("Content-Type", ""), "text/plain");
}

TEST_F(RequestHandlerTest, ClearResetsStatusHeadersAndOutput) {
  auto response = fetch("/output?what=clear");
  EXPECT_EQ(response.code, 200);
  EXPECT_FALSE(response.headers.contains("X-Dropped"));
  EXPECT_EQ(response.body, "kept");
}

TEST_F(RequestHandlerTest, HeaderInjectionIsRefusedWith500) {
  ExpectLog log(squall::log::app_log(), "Uncaught exception");
  auto response = fetch("/output?what=bad-header");
  EXPECT_EQ(response.code, 500);
  EXPECT_FALSE(response.headers.contains("Injected"));
}

TEST_F(RequestHandlerTest, FlushSendsChunkedThenFinishes) {
  std::vector<std::string> pieces;
  HTTPRequest r;
  r.streaming_callback = [&](std::string_view chunk) { pieces.emplace_back(chunk); };
  auto response = fetch("/output?what=flush", r);
  EXPECT_EQ(response.code, 200);
  EXPECT_FALSE(response.headers.contains("Content-Length"));
  EXPECT_EQ(response.headers.get("Transfer-Encoding", ""), "chunked");
  std::string all;
  for (auto& piece : pieces) all += piece;
  EXPECT_EQ(all, "first,second");
}

TEST_F(RequestHandlerTest, FinishTwiceIsAnErrorAfterTheResponse) {
  ExpectLog log(squall::log::app_log(), "finish\\(\\) called twice");
  auto response = fetch("/output?what=finish-twice");
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "once");
}

TEST_F(RequestHandlerTest, WriteAfterFinishIsAnError) {
  ExpectLog log(squall::log::app_log(), "Cannot write\\(\\) after finish\\(\\)");
  EXPECT_EQ(fetch("/output?what=write-after-finish").body, "done");
}

TEST_F(RequestHandlerTest, NoContentHasNoBodyNorContentType) {
  auto response = fetch("/output?what=204");
  EXPECT_EQ(response.code, 204);
  EXPECT_FALSE(response.headers.contains("Content-Type"));
  EXPECT_EQ(response.body, "");
}

TEST_F(RequestHandlerTest, RedirectTemporaryPermanentAndStatus) {
  auto temporary = fetch("/redirect", request("GET"));
  EXPECT_EQ(temporary.code, 302);
  EXPECT_EQ(temporary.headers.get("Location", ""), "/target?x=1");
  auto permanent = fetch("/redirect?kind=permanent", request("GET"));
  EXPECT_EQ(permanent.code, 301);
  auto status = fetch("/redirect?kind=status", request("GET"));
  EXPECT_EQ(status.code, 307);
}

TEST_F(RequestHandlerTest, RedirectWithANon3xxStatusIsRefused) {
  ExpectLog log(squall::log::app_log(), "redirect status must be 3xx");
  EXPECT_EQ(fetch("/redirect?kind=bad-status", request("GET")).code, 500);
}

TEST_F(RequestHandlerTest, RedirectAfterFlushClosesTheConnection) {
  ExpectLog log(squall::log::app_log(), "Cannot redirect after headers");
  ExpectLog cut(squall::log::gen_log(), "Cannot send error response after headers written");
  auto response = fetch("/redirect?kind=after-flush", request("GET"));
  EXPECT_EQ(response.code, 599);  // the chunked body never ends properly
}

TEST_F(RequestHandlerTest, HTTPErrorGivesItsStatusReasonAndPage) {
  ExpectLog log(squall::log::gen_log(),
                "418 GET /errors\\?kind=http \\(127.0.0.1\\): teapot details");
  auto response = fetch("/errors?kind=http");
  EXPECT_EQ(response.code, 418);
  EXPECT_EQ(response.reason, "I Am A Teapot");
  EXPECT_EQ(response.body,
            "<html><title>418: I Am A Teapot</title><body>418: I Am A Teapot</body></html>");
  EXPECT_EQ(response.body.find("teapot details"), std::string::npos);
}

TEST_F(RequestHandlerTest, HTTPErrorWithoutLogMessageIsNotLogged) {
  ExpectLog log(squall::log::gen_log(), "GET /errors", false);
  auto response = fetch("/errors?kind=http-plain");
  EXPECT_EQ(response.code, 403);
  EXPECT_EQ(response.body, "<html><title>403: Forbidden</title><body>403: Forbidden</body></html>");
  EXPECT_EQ(log.matched(), 0);
}

TEST_F(RequestHandlerTest, UncaughtExceptionIs500AndLogged) {
  ExpectLog log(squall::log::app_log(), "Uncaught exception GET /errors\\?kind=runtime .*boom");
  auto response = fetch("/errors?kind=runtime");
  EXPECT_EQ(response.code, 500);
  EXPECT_EQ(response.body.find("boom"), std::string::npos);  // no traceback without the setting
}

TEST_F(RequestHandlerTest, ErrorAfterAnAwaitIsCaughtToo) {
  EXPECT_EQ(fetch("/errors?kind=after-await").code, 409);
}

TEST_F(RequestHandlerTest, FinishExceptionEndsTheRequestNormally) {
  auto response = fetch("/errors?kind=finish");
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "partial then Finish");
}

TEST_F(RequestHandlerTest, ErrorAfterFlushCutsTheConnection) {
  ExpectLog log(squall::log::app_log(), "late failure");
  ExpectLog cut(squall::log::gen_log(), "Cannot send error response after headers written");
  EXPECT_EQ(fetch("/errors?kind=after-flush").code, 599);
}

TEST_F(RequestHandlerTest, SendErrorWritesThePage) {
  auto response = fetch("/errors?kind=send-error");
  EXPECT_EQ(response.code, 503);
  EXPECT_NE(response.body.find("503: Service Unavailable"), std::string::npos);
}

TEST_F(RequestHandlerTest, WriteErrorCanBeOverridden) {
  auto response = fetch("/custom-error");
  EXPECT_EQ(response.code, 402);
  EXPECT_EQ(response.reason, "Pay Up");
  EXPECT_EQ(nlohmann::json::parse(response.body),
            (nlohmann::json{{"code", 402}, {"had_error", true}}));
}

TEST_F(RequestHandlerTest, MissingArgumentIs400NamingIt) {
  auto response = fetch("/args");
  EXPECT_EQ(response.code, 400);
  EXPECT_EQ(response.reason, "Missing argument a");
  EXPECT_NE(response.body.find("Missing argument a"), std::string::npos);
}

TEST_F(RequestHandlerTest, ArgumentIsTheLastValueWithControlsAsSpacesAndStripped) {
  // As Tornado: a control character becomes a space; strip() is Python's, Unicode white space
  // (here U+00A0 and U+3000) included.
  auto response = fetch("/args?a=first&a=%20%20la%01st%09%20");
  EXPECT_EQ(nlohmann::json::parse(response.body)["a"], "la st");
  auto unicode = fetch("/args?a=%C2%A0%E3%80%80mid%C2%A0dle%1F%E3%80%80");
  EXPECT_EQ(nlohmann::json::parse(unicode.body)["a"], "mid\u00a0dle");
  auto nostrip = fetch("/args?mode=nostrip&a=%20x%20");
  EXPECT_EQ(nlohmann::json::parse(nostrip.body)["a"], " x ");
  auto fallback = fetch("/args?mode=default");
  EXPECT_EQ(nlohmann::json::parse(fallback.body)["a"], "fallback");
}

TEST_F(RequestHandlerTest, InvalidUtf8ArgumentIs400) {
  EXPECT_EQ(fetch("/args?a=%FF%FE").code, 400);
}

TEST_F(RequestHandlerTest, QueryAndBodyArgumentsAreSeparateAndTogether) {
  HTTPRequest r = request("POST", "a=from-body");
  r.headers.add("Content-Type", "application/x-www-form-urlencoded");
  auto response = fetch("/args?mode=all&a=from-query", r);
  auto out = nlohmann::json::parse(response.body);
  EXPECT_EQ(out["a"], (nlohmann::json{"from-query", "from-body"}));
  EXPECT_EQ(out["query"], (nlohmann::json{"from-query"}));
  EXPECT_EQ(out["body"], (nlohmann::json{"from-body"}));
}

TEST_F(RequestHandlerTest, BodyArgumentIgnoresTheQuery) {
  HTTPRequest r = request("POST", "b=1");
  r.headers.add("Content-Type", "application/x-www-form-urlencoded");
  EXPECT_EQ(fetch("/args?mode=body&a=q", r).code, 400);
}

TEST_F(RequestHandlerTest, MultipartFilesReachTheHandler) {
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\nfile content\r\n--XyZ--\r\n";
  HTTPRequest r = request("POST", body);
  r.headers.add("Content-Type", "multipart/form-data; boundary=XyZ");
  auto out = nlohmann::json::parse(fetch("/args?mode=files", r).body);
  EXPECT_EQ(out["upload"],
            nlohmann::json::array({nlohmann::json::array({"a.txt", "file content"})}));
}

TEST_F(RequestHandlerTest, MalformedMultipartIs400) {
  HTTPRequest r = request("POST", "--XyZ\r\nno headers end");
  r.headers.add("Content-Type", "multipart/form-data; boundary=XyZ");
  ExpectLog log(squall::log::gen_log(), "Malformed request body");
  EXPECT_EQ(fetch("/args?mode=files", r).code, 400);
}

TEST_F(RequestHandlerTest, PathArgumentsAreDecoded) {
  auto out = nlohmann::json::parse(fetch("/path/caf%C3%A9%20x/12").body);
  EXPECT_EQ(out["args"], (nlohmann::json{"caf\xC3\xA9 x", "12"}));
  auto named = nlohmann::json::parse(fetch("/named/hello%2Fworld").body);
  EXPECT_EQ(named["args"], nlohmann::json::array());
  EXPECT_EQ(named["kwargs"]["slug"], "hello/world");
}

TEST_F(RequestHandlerTest, InvalidUtf8InThePathIs400) {
  ExpectLog log(squall::log::gen_log(), "Invalid unicode in path");
  EXPECT_EQ(fetch("/path/%FF/1").code, 400);
}

TEST_F(RequestHandlerTest, CookiesAreReadAndSet) {
  HTTPRequest r;
  r.headers.add("Cookie", "a=hello; other=x");
  EXPECT_EQ(fetch("/cookie?action=read", r).body, "hello");
  EXPECT_EQ(fetch("/cookie?action=read").body, "<none>");

  auto set = fetch("/cookie?action=set");
  auto cookies = set.headers.get_list("Set-Cookie");
  ASSERT_EQ(cookies.size(), 2u);
  EXPECT_EQ(cookies[0], "a=1; HttpOnly; Max-Age=60; Path=/; SameSite=Lax");
  EXPECT_EQ(cookies[1], "b=3; Path=/");
}

TEST_F(RequestHandlerTest, ReleasedResponseLeavesTheStatusAndTheRequest) {
  HTTPRequest r;
  r.headers.add("Cookie", "name=value");
  r.headers.add("If-None-Match", "*");
  auto response = fetch("/released", r);
  EXPECT_EQ(response.code, 202);
  EXPECT_EQ(response.body, "released");
  EXPECT_FALSE(response.headers.contains("X-Late"));
  const AfterRelease& seen = *after_release_;
  EXPECT_EQ(seen.status, 202);
  EXPECT_TRUE(seen.finished);
  EXPECT_FALSE(seen.etag_matches);  // the Etag header went with the response
  EXPECT_TRUE(seen.write_refused);
  EXPECT_EQ(seen.cookie, "value");
  EXPECT_FALSE(seen.xsrf_token.empty());
}

TEST_F(RequestHandlerTest, CookieAttributeInjectionIsRefused) {
  ExpectLog log(squall::log::app_log(), "Uncaught exception");
  auto response = fetch("/cookie?action=inject");
  EXPECT_EQ(response.code, 500);
  EXPECT_FALSE(response.headers.contains("Set-Cookie"));
}

TEST_F(RequestHandlerTest, ClearCookieExpiresIt) {
  auto response = fetch("/cookie?action=clear");
  auto header = response.headers.get("Set-Cookie", "");
  EXPECT_EQ(header.rfind("a=\"\"; expires=", 0), 0u) << header;
  EXPECT_NE(header.find("Path=/"), std::string::npos);
}

TEST_F(RequestHandlerTest, ClearAllCookiesExpiresEveryRequestCookie) {
  HTTPRequest r;
  r.headers.add("Cookie", "one=1; two=2");
  auto cookies = fetch("/cookie?action=clear-all", r).headers.get_list("Set-Cookie");
  ASSERT_EQ(cookies.size(), 2u);
  EXPECT_EQ(cookies[0].rfind("one=", 0), 0u);
  EXPECT_EQ(cookies[1].rfind("two=", 0), 0u);
}

TEST_F(RequestHandlerTest, SignedCookieRoundTripsAndRefusesTampering) {
  auto set = fetch("/cookie?action=set-signed");
  std::string header = set.headers.get("Set-Cookie", "");
  ASSERT_EQ(header.rfind("user=", 0), 0u);
  std::string value = header.substr(5, header.find(';') - 5);
  if (value.front() == '"') value = value.substr(1, value.size() - 2);
  EXPECT_NE(header.find("expires="), std::string::npos) << header;  // 30 days by default

  HTTPRequest good;
  good.headers.add("Cookie", "user=" + value);
  EXPECT_EQ(fetch("/cookie?action=read-signed", good).body, "alice");

  std::string tampered = value;
  tampered[tampered.size() - 1] = tampered.back() == '0' ? '1' : '0';
  HTTPRequest bad;
  bad.headers.add("Cookie", "user=" + tampered);
  EXPECT_EQ(fetch("/cookie?action=read-signed", bad).body, "<invalid>");
}

TEST_F(RequestHandlerTest, CookiesSetBeforeAnErrorAreStillSent) {
  auto response = fetch("/cookie?action=error-keeps-cookie");
  EXPECT_EQ(response.code, 400);
  EXPECT_EQ(response.headers.get("Set-Cookie", ""), "kept=yes; Path=/");
}

TEST_F(RequestHandlerTest, AuthenticatedRedirectsGetToLoginWithNext) {
  auto response = fetch("/private?x=1", request("GET"));
  EXPECT_EQ(response.code, 302);
  EXPECT_EQ(response.headers.get("Location", ""), "/login?next=%2Fprivate%3Fx%3D1");
}

TEST_F(RequestHandlerTest, AuthenticatedRefusesOtherMethodsWith403) {
  EXPECT_EQ(fetch("/private", request("POST", "")).code, 403);
}

TEST_F(RequestHandlerTest, AuthenticatedLetsALoggedInUserThrough) {
  auto set = fetch("/cookie?action=set-signed");
  std::string header = set.headers.get("Set-Cookie", "");
  std::string value = header.substr(5, header.find(';') - 5);
  if (value.front() == '"') value = value.substr(1, value.size() - 2);
  HTTPRequest r;
  r.headers.add("Cookie", "user=" + value);
  EXPECT_EQ(fetch("/private", r).body, "hello alice");
}

TEST_F(RequestHandlerTest, AddslashRedirectsGetAndRefusesPost) {
  auto response = fetch("/add/x?q=1", request("GET"));
  EXPECT_EQ(response.code, 301);
  EXPECT_EQ(response.headers.get("Location", ""), "/add/x/?q=1");
  EXPECT_EQ(fetch("/add/x/").body, "at /add/x/");
  EXPECT_EQ(fetch("/add/x", request("POST", "")).code, 404);
}

TEST_F(RequestHandlerTest, RemoveslashRedirectsGetAndNeverToAnotherHost) {
  auto response = fetch("/remove/x/", request("GET"));
  EXPECT_EQ(response.code, 301);
  EXPECT_EQ(response.headers.get("Location", ""), "/remove/x");
  EXPECT_EQ(fetch("/remove/x").body, "at /remove/x");
  EXPECT_EQ(fetch("/remove/x/", request("POST", "")).code, 404);
}

TEST_F(RequestHandlerTest, AutomaticEtagAnd304) {
  auto first = fetch("/etag");
  std::string etag = first.headers.get("Etag", "");
  ASSERT_EQ(etag.size(), 42u) << etag;  // a quoted SHA-1
  HTTPRequest again;
  again.headers.add("If-None-Match", etag);
  auto second = fetch("/etag", again);
  EXPECT_EQ(second.code, 304);
  EXPECT_EQ(second.body, "");
  EXPECT_FALSE(second.headers.contains("Content-Type"));

  HTTPRequest weak;
  weak.headers.add("If-None-Match", "\"other\", W/" + etag);
  EXPECT_EQ(fetch("/etag", weak).code, 304);
  HTTPRequest star;
  star.headers.add("If-None-Match", "*");
  EXPECT_EQ(fetch("/etag", star).code, 304);
  HTTPRequest other;
  other.headers.add("If-None-Match", "\"other\"");
  EXPECT_EQ(fetch("/etag", other).code, 200);
}

TEST_F(RequestHandlerTest, PostResponsesGetNoEtag) {
  EXPECT_FALSE(fetch("/etag", request("POST", "")).headers.contains("Etag"));
}

TEST_F(RequestHandlerTest, ConnectionCloseReachesALongPollingHandler) {
  run_sync([this]() -> Future<void> {
    IOStream* raw = nullptr;
    TCPClient client;
    auto stream = co_await client.connect("127.0.0.1", static_cast<std::uint16_t>(get_http_port()));
    raw = stream.get();
    co_await raw->write("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string head = co_await raw->read_until("waiting");
    EXPECT_NE(head.find("200 OK"), std::string::npos);
    stream->close();
    co_await closed_->wait();
  });
  EXPECT_TRUE(closed_->is_set());
}

TEST_F(RequestHandlerTest, OnFinishRunsOnceAfterTheResponse) {
  EXPECT_EQ(fetch("/on-finish").body, "ok");
  EXPECT_EQ(*finished_, 1);
}

// --- Settings-dependent behaviour ---------------------------------------------------------------

class XsrfTest : public AsyncHTTPTestCase {
 protected:
  std::unique_ptr<Application> get_app() override {
    Settings settings;
    settings.xsrf_cookies = true;
    return std::make_unique<Application>(std::vector<URLSpec>{{"/form", handler<XsrfHandler>()}},
                                         std::move(settings));
  }
  // The `_xsrf` cookie a first GET sets, and the token the page carries.
  std::pair<std::string, std::string> get_token() {
    auto response = fetch("/form");
    std::string header = response.headers.get("Set-Cookie", "");
    std::string cookie = header.substr(0, header.find(';'));
    return {cookie, response.body};
  }
};

TEST_F(XsrfTest, GetSetsTheCookieAndPostWithoutTokenIs403) {
  auto [cookie, token] = get_token();
  EXPECT_EQ(cookie.rfind("_xsrf=", 0), 0u);
  EXPECT_EQ(token.rfind("2|", 0), 0u) << token;
  HTTPRequest r = request("POST", "");
  r.headers.add("Cookie", cookie);
  ExpectLog log(squall::log::gen_log(), "'_xsrf' argument missing from POST");
  EXPECT_EQ(fetch("/form", r).code, 403);
}

TEST_F(XsrfTest, TokenInTheFormOrInAHeaderIsAccepted) {
  auto [cookie, token] = get_token();
  HTTPRequest form = request("POST", "_xsrf=" + squall::httputil::url_escape(token));
  form.headers.add("Cookie", cookie);
  form.headers.add("Content-Type", "application/x-www-form-urlencoded");
  EXPECT_EQ(fetch("/form", form).body, "accepted");

  HTTPRequest header = request("POST", "");
  header.headers.add("Cookie", cookie);
  header.headers.add("X-XSRFToken", token);
  EXPECT_EQ(fetch("/form", header).body, "accepted");
  HTTPRequest csrf = request("POST", "");
  csrf.headers.add("Cookie", cookie);
  csrf.headers.add("X-CSRFToken", token);
  EXPECT_EQ(fetch("/form", csrf).body, "accepted");
}

TEST_F(XsrfTest, TokenOfAnotherCookieIs403) {
  auto [cookie, token] = get_token();
  auto [other_cookie, other_token] = get_token();
  HTTPRequest r = request("POST", "");
  r.headers.add("Cookie", cookie);
  r.headers.add("X-XSRFToken", other_token);
  ExpectLog log(squall::log::gen_log(), "XSRF cookie does not match POST argument");
  EXPECT_EQ(fetch("/form", r).code, 403);
}

TEST_F(XsrfTest, EachPageGetsADifferentMaskOfTheSameToken) {
  auto [cookie, token] = get_token();
  HTTPRequest r;
  r.headers.add("Cookie", cookie);
  std::string again = fetch("/form", r).body;
  EXPECT_NE(again, token);
  HTTPRequest post = request("POST", "");
  post.headers.add("Cookie", cookie);
  post.headers.add("X-XSRFToken", again);
  EXPECT_EQ(fetch("/form", post).code, 200);
}

class TracebackTest : public AsyncHTTPTestCase {
 protected:
  std::unique_ptr<Application> get_app() override {
    Settings settings;
    settings.serve_traceback = true;
    return std::make_unique<Application>(
        std::vector<URLSpec>{{"/errors", handler<ErrorsHandler>()}}, std::move(settings));
  }
};

TEST_F(TracebackTest, ServeTracebackShowsTheException) {
  ExpectLog log(squall::log::app_log(), "boom");
  auto response = fetch("/errors?kind=runtime");
  EXPECT_EQ(response.code, 500);
  EXPECT_EQ(response.headers.get("Content-Type", ""), "text/plain; charset=UTF-8");
  EXPECT_NE(response.body.find("std::runtime_error: boom"), std::string::npos) << response.body;
}

// --- Templates ----------------------------------------------------------------------------------

class PageHandler : public RequestHandler {
 public:
  nlohmann::json get_current_user() override { return "alice"; }
  Future<void> get() override {
    return render("page.html", {{"title", "<Items>"}, {"items", {"a", "b&c"}}});
  }
};

class StringHandler : public RequestHandler {
 public:
  Future<void> get() override {
    write("[" + render_string("plain.txt", {{"n", 3}}) + "]");
    return make_ready_future();
  }
};

class MissingTemplateHandler : public RequestHandler {
 public:
  Future<void> get() override { return render("nope.html"); }
};

class TemplateTest : public AsyncHTTPTestCase {
 protected:
  std::filesystem::path dir_;

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("squall-templates-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "static");
    write_file("base.html",
               "<title>{% block title %}Default{% end %}</title>\n"
               "<body>{% block body %}{% end %}</body>\n");
    write_file("page.html",
               "{% extends \"base.html\" %}\n"
               "{% block title %}{{ title }}{% end %}\n"
               "{% block body %}{% for item in items %}<li>{{ item }}</li>{% end %}"
               "<p>{{ current_user }} at {{ request.path }}</p>"
               "<a href=\"{{ reverse_url('story', 7) }}\">s</a>"
               "<img src=\"{{ static_url('logo.png') }}\">"
               "{% raw xsrf_form_html() %}{% end %}\n");
    write_file("plain.txt", "n={{ n + 1 }}");
    std::ofstream(dir_ / "static" / "logo.png") << "not really a png";
    AsyncHTTPTestCase::SetUp();
  }
  void TearDown() override {
    AsyncHTTPTestCase::TearDown();
    std::filesystem::remove_all(dir_);
  }
  void write_file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::unique_ptr<Application> get_app() override {
    Settings settings;
    settings.template_path = dir_.string();
    settings.static_path = (dir_ / "static").string();
    return std::make_unique<Application>(
        std::vector<URLSpec>{{"/page", handler<PageHandler>()},
                             {"/string", handler<StringHandler>()},
                             {"/missing", handler<MissingTemplateHandler>()},
                             {"/story/([0-9]+)", handler<HelloHandler>(), "story"}},
        std::move(settings));
  }
};

TEST_F(TemplateTest, RenderExtendsEscapesAndSeesTheHandlersNames) {
  auto response = fetch("/page");
  ASSERT_EQ(response.code, 200) << response.body;
  const std::string& html = response.body;
  EXPECT_NE(html.find("<title>&lt;Items&gt;</title>"), std::string::npos) << html;
  EXPECT_NE(html.find("<li>a</li><li>b&amp;c</li>"), std::string::npos) << html;
  EXPECT_NE(html.find("<p>alice at /page</p>"), std::string::npos) << html;
  EXPECT_NE(html.find("<a href=\"/story/7\">"), std::string::npos) << html;
  EXPECT_NE(html.find("<img src=\"/static/logo.png?v="), std::string::npos) << html;
  EXPECT_NE(html.find("<input type=\"hidden\" name=\"_xsrf\" value=\"2|"), std::string::npos)
      << html;
  EXPECT_EQ(response.headers.get("Set-Cookie", "").rfind("_xsrf=", 0), 0u);
}

TEST_F(TemplateTest, RenderStringReturnsTheText) {
  EXPECT_EQ(fetch("/string").body, "[n=4]");
}

TEST_F(TemplateTest, MissingTemplateIs500AndLogged) {
  ExpectLog log(squall::log::app_log(), "nope.html");
  EXPECT_EQ(fetch("/missing").code, 500);
}

}  // namespace
}  // namespace squall::web
