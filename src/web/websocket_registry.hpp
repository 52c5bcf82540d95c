#pragma once
// What Application needs of a WebSocketHandler for its registry of open WebSockets.

namespace squall::web {
class WebSocketHandler;
}  // namespace squall::web

namespace squall::web::detail {

/// The application is being destroyed: `socket` must not unregister from it.
void forget_application(WebSocketHandler& socket) noexcept;

}  // namespace squall::web::detail
