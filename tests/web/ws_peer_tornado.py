#!/usr/bin/env python3
"""A WebSocket peer built on Tornado's own websocket module (Debian's python3-tornado 6.2) for
tests/web/websocket_interop_test.cpp. It is either side of a connection:

    ws_peer_tornado.py client '{"url": "ws://...", "steps": [...], ...}'   (or "-": the JSON on stdin)
        Connects with tornado.websocket.websocket_connect, runs the steps in order and prints
        one JSON object: what the handshake gave and what each step saw. A refused handshake
        gives {"handshake_status": 403}.
    ws_peer_tornado.py server '{"compression": ..., "subprotocols": [...]}'
        Serves a tornado.websocket.WebSocketHandler on a free port of 127.0.0.1, prints
        {"port": N} on a line, then one JSON line per connection once it has closed. It echoes
        every message; a text message that starts with "!" is a command instead (see
        `EchoSocket.command`). It exits at end of file on stdin.

Tornado cannot send a message in several frames; ws_peer_websockets.py covers fragmentation.
Bytes travel as hex in JSON. A missing Tornado is an error (exit status 2), never a skip.
"""

import asyncio
import json
import sys

# ws_peer_common.py is beside this script; no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
from ws_peer_common import TIMEOUT, describe, digest, payload  # noqa: E402
import ws_peer_common  # noqa: E402

try:
    import tornado
    import tornado.httpclient
    import tornado.httpserver
    import tornado.netutil
    import tornado.web
    import tornado.websocket
except ImportError as error:
    ws_peer_common.cannot_import("tornado", "python3-tornado", error)

ws_peer_common.expect_version("Tornado", tornado.version, "6.2")


def compression_of(protocol):
    """What was negotiated, as Tornado's protocol object holds it."""
    if protocol is None or protocol._compressor is None:
        return None
    return {
        "compressor_max_wbits": protocol._compressor._max_wbits,
        "compressor_persistent": protocol._compressor._compressor is not None,
        "decompressor_persistent": protocol._decompressor._decompressor is not None,
    }


async def run_client(args):
    request = tornado.httpclient.HTTPRequest(args["url"], headers=args.get("headers", {}))
    pongs = []
    pong_arrived = asyncio.Event()
    pings = []
    try:
        conn = await tornado.websocket.websocket_connect(
            request,
            compression_options=args.get("compression"),
            subprotocols=args.get("subprotocols"),
            max_message_size=args.get("max_size", 16 << 20),
        )
    except tornado.httpclient.HTTPClientError as error:
        return {"handshake_status": error.code}

    def on_pong(data):
        pongs.append(bytes(data).hex())
        pong_arrived.set()

    conn.on_pong = on_pong
    conn.on_ping = lambda data: pings.append(bytes(data).hex())
    report = {
        "response_extensions": conn.headers.get("Sec-WebSocket-Extensions"),
        "compression": compression_of(conn.protocol),
        "subprotocol": conn.selected_subprotocol,
        "steps": [],
    }
    for step in args.get("steps", []):
        kind = step["do"]
        if kind == "send":
            message = payload(step)
            await conn.write_message(message, binary=isinstance(message, bytes))
            result = {"sent": {"sha256": digest(message)}}
        elif kind == "recv":
            before = conn.protocol._wire_bytes_in
            try:
                message = await asyncio.wait_for(conn.read_message(), TIMEOUT)
            except asyncio.TimeoutError:
                report["steps"].append({"timeout": TIMEOUT})
                break
            if message is None:
                result = {"closed": {"code": conn.close_code, "reason": conn.close_reason}}
            else:
                result = {"received": describe(message)}
                result["received"]["wire_bytes"] = conn.protocol._wire_bytes_in - before
        elif kind == "ping":
            pong_arrived.clear()
            conn.ping(bytes.fromhex(step["hex"]))
            try:
                await asyncio.wait_for(pong_arrived.wait(), TIMEOUT)
                result = {"pong": pongs[-1]}
            except asyncio.TimeoutError:
                result = {"pong": None}
        elif kind == "close":
            conn.close(step["code"], step.get("reason"))
            # read_message gives None once the server's close frame came back.
            while await asyncio.wait_for(conn.read_message(), TIMEOUT) is not None:
                pass
            result = {"closed": {"code": conn.close_code, "reason": conn.close_reason}}
        else:
            raise ValueError(f"unknown step {kind}")
        report["steps"].append(result)
    report["pings_received"] = pings
    conn.close()
    return report


class EchoSocket(tornado.websocket.WebSocketHandler):
    def initialize(self, config):
        self.config = config
        self.pong_waiter = None
        self.record = {"messages": [], "sent": [], "pings_received": [], "pongs_received": []}

    def check_origin(self, origin):
        return True

    def get_compression_options(self):
        return self.config.get("compression")

    def select_subprotocol(self, subprotocols):
        for wanted in self.config.get("subprotocols") or []:
            if wanted in subprotocols:
                return wanted
        return None

    def open(self, path):
        protocol = self.ws_connection
        self.record.update({
            "path": self.request.path,
            "request_extensions": self.request.headers.get("Sec-WebSocket-Extensions"),
            "offered_subprotocols": self.request.headers.get("Sec-WebSocket-Protocol"),
            "subprotocol": self.selected_subprotocol,
            "compression": compression_of(protocol),
        })
        self.set_nodelay(True)

    async def on_message(self, message):
        before = self.record.get("wire_mark", 0)
        described = describe(message)
        described["wire_bytes"] = self.ws_connection._wire_bytes_in - before
        self.record["wire_mark"] = self.ws_connection._wire_bytes_in
        self.record["messages"].append(described)
        if isinstance(message, str) and message.startswith("!"):
            await self.command(json.loads(message[1:]))
        else:
            await self.write_message(message, binary=isinstance(message, bytes))

    async def command(self, command):
        """{"close": code, "reason": r}; {"ping": hex} (answers "pong:" + hex once the pong came,
        or "no pong"); {"raw": [{"fin", "opcode", "hex"}...]} (frames as they are);
        {"send": {payload}}; {"report": true} (answers with the record so far)."""
        if "close" in command:
            self.close(command["close"], command.get("reason"))
        elif "ping" in command:
            # Tornado reads no frame while on_message runs, so the pong is awaited elsewhere.
            self.pong_waiter = asyncio.get_running_loop().create_future()
            self.ping(bytes.fromhex(command["ping"]))
            asyncio.ensure_future(self.answer_pong())
        elif "raw" in command:
            for frame in command["raw"]:
                self.ws_connection._write_frame(frame["fin"], frame["opcode"],
                                                bytes.fromhex(frame["hex"]))
        elif "send" in command:
            message = payload(command["send"])
            self.record["sent"].append({"sha256": digest(message)})
            await self.write_message(message, binary=isinstance(message, bytes))
        elif "report" in command:
            await self.write_message(json.dumps(self.record))

    async def answer_pong(self):
        try:
            data = await asyncio.wait_for(self.pong_waiter, TIMEOUT)
            await self.write_message("pong:" + data)
        except asyncio.TimeoutError:
            await self.write_message("no pong")

    def on_ping(self, data):
        self.record["pings_received"].append(bytes(data).hex())

    def on_pong(self, data):
        self.record["pongs_received"].append(bytes(data).hex())
        if self.pong_waiter is not None and not self.pong_waiter.done():
            self.pong_waiter.set_result(bytes(data).hex())

    def on_close(self):
        self.record["close_code"] = self.close_code
        self.record["close_reason"] = self.close_reason
        self.record.pop("wire_mark", None)
        print(json.dumps(self.record), flush=True)


async def run_server(args):
    app = tornado.web.Application(
        [(r"/(.*)", EchoSocket, {"config": args})],
        websocket_max_message_size=args.get("max_size", 16 << 20))
    server = tornado.httpserver.HTTPServer(app)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    stdin_closed = ws_peer_common.stdin_closed()
    ws_peer_common.print_port(sockets[0].getsockname()[1])
    await stdin_closed
    server.stop()


if __name__ == "__main__":
    ws_peer_common.main(run_client, run_server)
