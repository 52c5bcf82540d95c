#pragma once
// What Application's request dispatcher needs of a RequestHandler's private state.

#include <memory>
#include <utility>

#include "squall/web/request_handler.hpp"

namespace squall::web::detail {

/// Tells the dispatcher its handler is being destroyed.
void dispatcher_handler_gone(Dispatcher& dispatcher) noexcept;

struct HandlerAccess {
  static void attach(RequestHandler& handler, Application& application,
                     std::shared_ptr<HTTPServerRequest> request, PathArguments&& path,
                     bool stream_request_body, Dispatcher* dispatcher,
                     unsigned allowed_methods = 0) {
    handler.allowed_methods_ = allowed_methods;
    handler.application_ = &application;
    handler.request_ = std::move(request);
    if (!path.args.empty() || !path.kwargs.empty()) {
      handler.path_ = std::make_unique<PathArguments>(std::move(path));
    }
    handler.dispatcher_ = dispatcher;
    if (stream_request_body) expect_body(handler);
  }
  /// A streaming request: makes the Futures `prepared` and `body_done` give.
  static void expect_body(RequestHandler& handler);
  /// Runs the handler; the coroutine owns it until it completes.
  static Future<void> execute(std::unique_ptr<RequestHandler> handler) {
    return RequestHandler::execute(std::move(handler));
  }
  static void detach(RequestHandler& handler) noexcept { handler.dispatcher_ = nullptr; }
  static const std::optional<Future<void>>& prepared(RequestHandler& handler) noexcept;
  static const std::optional<Future<void>>& body_done(RequestHandler& handler) noexcept;
  /// Gives a streaming handler a piece of the body. Sets `failed` (and fails the body) if the
  /// handler refused it at once; returns the handler's Future if it is pending.
  static std::optional<Future<void>> receive(RequestHandler& handler, std::string_view chunk,
                                             bool& failed);
  /// The streaming body has arrived whole.
  static void body_finished(RequestHandler& handler);
  /// Frees what the finished response held (its headers and buffers): a handler that lives on
  /// after its response (a WebSocket) then holds none of it.
  static void release_response(RequestHandler& handler) noexcept;
  /// The client closed the connection before the response was finished.
  static void connection_closed(RequestHandler& handler);
};

}  // namespace squall::web::detail
