#pragma once
// The state of the response a RequestHandler is writing, held apart from the handler: a handler
// that lives on after its response (a WebSocket's, for its connection's lifetime) frees it, and
// each request allocates it from the per-thread small-block cache.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/core/detail/small_alloc.hpp"
#include "squall/http/httputil.hpp"
#include "squall/web/request_handler.hpp"

namespace squall::web {

struct RequestHandler::ResponseState : squall::detail::SmallAllocated {
  std::string reason;  // empty: the standard phrase of the status
  HTTPHeaders headers;
  std::string write_buffer;
  // Set-Cookie values by cookie name (a later one replaces an earlier one); kept by clear().
  std::vector<std::pair<std::string, std::string>> new_cookies;
  std::unique_ptr<detail::GzipTransform> gzip;
  std::optional<std::string> xsrf_token;  // the masked token, once made
  // A streaming body: `prepared` completes after prepare() (the body is read from then on),
  // `body_done` once the whole body has arrived.
  std::optional<Future<void>> prepared;
  std::optional<Future<void>> body_done;
};

inline RequestHandler::ResponseState& RequestHandler::response() {
  if (!response_) [[unlikely]]
    renew_response();
  return *response_;
}

}  // namespace squall::web
