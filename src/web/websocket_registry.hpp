#pragma once
// What Application needs of a WebSocketHandler for its registry of open WebSockets.

namespace squall::web {
class WebSocketHandler;
}  // namespace squall::web

namespace squall::web::detail {

/// Takes `socket` off its application's list of open WebSockets (when it goes, or when the
/// application is destroyed first); nothing if it is on none.
void forget_application(WebSocketHandler& socket) noexcept;

}  // namespace squall::web::detail
