// Quoted by docs/websocket.md: a chat room, the broadcast pattern (examples/websocket is the
// whole demo). Each connection's handler joins a set of open handlers in open() and leaves it in
// on_close(); a message is sent to every member. Three squall clients join on a free loopback port,
// talk, and leave; the program checks that each one heard every event in order, and exits 0.
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/websocket.hpp>

#include "web_example.hpp"

using namespace std::chrono_literals;

class ChatSocket;

// [room]
// What the connections of a room share: the set of the open ones. Everything runs on the loop's
// thread, so it needs no lock.
struct ChatRoom {
  std::set<ChatSocket*> members;
};
// [room]

// [socket]
class ChatSocket : public squall::web::WebSocketHandler {
 public:
  void initialize(std::shared_ptr<ChatRoom> room) { room_ = std::move(room); }

  squall::Future<void> open() override {
    name_ = get_argument("name", "anonymous");  // the handshake's query: ws://.../chat?name=ann
    room_->members.insert(this);
    broadcast({{"event", "join"}, {"name", name_}, {"count", room_->members.size()}});
    return squall::make_ready_future();
  }

  squall::Future<void> on_message(squall::web::WebSocketMessage message) override {
    broadcast({{"event", "say"}, {"name", name_}, {"text", message.data}});
    return squall::make_ready_future();
  }

  // The handler lives until on_close() has run, so the set never holds a dangling pointer.
  void on_close() override {
    room_->members.erase(this);
    broadcast({{"event", "leave"}, {"name", name_}, {"count", room_->members.size()}});
  }

 private:
  // Queues the event on every open connection without waiting: one slow reader must not hold
  // up the room.
  void broadcast(const squall::json& event) {
    std::string text = event.dump();
    for (ChatSocket* member : room_->members) {
      if (!member->is_closing()) (void)member->write_message(text);
    }
  }

  std::shared_ptr<ChatRoom> room_;
  std::string name_;
};
// [socket]

std::shared_ptr<ChatRoom> room = std::make_shared<ChatRoom>();

std::unique_ptr<squall::web::Application> make_app() {
  // [route]
  auto app = std::make_unique<squall::web::Application>(std::vector<squall::web::URLSpec>{
      {"/chat", squall::web::handler<ChatSocket>(room)},  // every connection shares the room
  });
  // [route]
  return app;
}

// The next event a client heard, as "event name (count|text)", or "closed".
squall::Future<std::string> next_event(squall::web::WebSocketClientConnection& conn) {
  std::optional<squall::web::WebSocketMessage> message = co_await conn.read_message();
  if (!message) co_return "closed";
  squall::json event = squall::json::parse(message->data);
  std::string line = event["event"].get<std::string>();
  line.append(" ").append(event["name"].get<std::string>());
  if (event.contains("count")) line.append(" ").append(std::to_string(event["count"].get<int>()));
  if (event.contains("text")) line.append(" ").append(event["text"].get<std::string>());
  co_return line;
}

squall::Future<void> test(web_example::Site& site) {
  using squall::web::websocket_connect;
  using web_example::check_equal;
  std::string base = "ws://127.0.0.1:" + std::to_string(site.port()) + "/chat?name=";

  auto ann = co_await websocket_connect(base + "ann");
  check_equal(co_await next_event(ann), "join ann 1", "ann sees herself join");
  auto bob = co_await websocket_connect(base + "bob");
  check_equal(co_await next_event(ann), "join bob 2", "ann sees bob join");
  check_equal(co_await next_event(bob), "join bob 2", "bob sees himself join");
  auto cat = co_await websocket_connect(base + "cat");
  std::vector<squall::web::WebSocketClientConnection*> everyone = {&ann, &bob, &cat};
  for (auto* member : everyone) {
    check_equal(co_await next_event(*member), "join cat 3", "everyone sees cat join");
  }

  co_await ann.write_message("hello, room");
  for (auto* member : everyone) {
    check_equal(co_await next_event(*member), "say ann hello, room", "everyone hears ann");
  }

  cat.close();
  check_equal(co_await next_event(cat), "closed", "cat has left");
  check_equal(co_await next_event(ann), "leave cat 2", "ann sees cat leave");
  check_equal(co_await next_event(bob), "leave cat 2", "bob sees cat leave");

  ann.close();
  bob.close();
  check_equal(co_await next_event(ann), "closed", "ann has left");
  check_equal(co_await next_event(bob), "closed", "bob has left");
  // The server runs on_close() when the closing handshake is done; wait for the room to empty.
  for (int i = 0; i < 500 && !room->members.empty(); ++i) co_await squall::gen::sleep(10ms);
  web_example::check(room->members.empty(), "the room is empty once everyone has left");
}

int main() {
  return web_example::run(make_app, test);
}
