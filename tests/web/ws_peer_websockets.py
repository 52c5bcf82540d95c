#!/usr/bin/env python3
"""A WebSocket peer built on Python's `websockets` (Debian's python3-websockets 10.4, asyncio API)
for tests/web/websocket_interop_test.cpp. It is either side of a connection:

    ws_peer_websockets.py client '{"url": "ws://...", "steps": [...], ...}'   (or "-": the JSON on stdin)
        Connects, runs the steps in order and prints one JSON object: what the handshake gave
        and what each step saw. A refused handshake gives {"handshake_status": 403}.
    ws_peer_websockets.py server '{"compression": ..., "subprotocols": [...]}'
        Listens on a free port of 127.0.0.1, prints {"port": N} on a line, then one JSON line
        per connection once it has closed. It echoes every message; a text message that starts
        with "!" is a command instead (see `server_command`). It exits at end of file on stdin.

Bytes travel as hex in JSON. Everything the peer saw is printed, and the C++ test asserts on it.
A missing `websockets` module is an error (exit status 2), never a skip: scripts/deps installs it.
"""

import asyncio
import json
import sys

# ws_peer_common.py is beside this script; no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
from ws_peer_common import TIMEOUT, describe, digest, payload  # noqa: E402
import ws_peer_common  # noqa: E402

try:
    import websockets
    from websockets.exceptions import ConnectionClosed, InvalidStatusCode
    from websockets.extensions import permessage_deflate
    from websockets.legacy.client import WebSocketClientProtocol
    from websockets.legacy.server import WebSocketServerProtocol
except ImportError as error:
    ws_peer_common.cannot_import("websockets", "python3-websockets", error)

ws_peer_common.expect_version("websockets", websockets.version.version, "10.4",
                              " (Debian bookworm's python3-websockets)")


def deflate_factory(spec, server):
    """Our permessage-deflate settings: None (no compression), "default" (the library's own), or
    a dict of ClientPerMessageDeflateFactory / ServerPerMessageDeflateFactory arguments."""
    if spec is None:
        return None
    if spec == "default":
        return "deflate"
    if server:
        return [permessage_deflate.ServerPerMessageDeflateFactory(**spec)]
    return [permessage_deflate.ClientPerMessageDeflateFactory(**spec)]


def connection_options(args, server, **extra):
    """The keyword arguments of websockets.connect or websockets.serve for the peer's `args`
    (max_size, subprotocols, compression), plus `extra`: no keepalive pings, and no compression
    unless asked for."""
    options = {
        "compression": None,
        "max_size": args.get("max_size", 16 << 20),
        "ping_interval": None,
        "subprotocols": args.get("subprotocols"),
        "close_timeout": TIMEOUT,
        **extra,
    }
    deflate = deflate_factory(args.get("compression"), server)
    if deflate == "deflate":
        options["compression"] = "deflate"
    elif deflate is not None:
        options["extensions"] = deflate
    return options


def extensions_of(ws):
    return [{
        "name": ext.name,
        "remote_no_context_takeover": ext.remote_no_context_takeover,
        "local_no_context_takeover": ext.local_no_context_takeover,
        "remote_max_window_bits": ext.remote_max_window_bits,
        "local_max_window_bits": ext.local_max_window_bits,
    } for ext in ws.extensions]


class Counting:
    """Counts the bytes that arrive on the wire, to see how big a compressed message was."""

    def data_received(self, data):
        self.wire_bytes_in = getattr(self, "wire_bytes_in", 0) + len(data)
        super().data_received(data)

    async def pong(self, data=b""):
        # Called for each ping received: the peer's pings, in order.
        self.pings_received = getattr(self, "pings_received", []) + [bytes(data).hex()]
        await super().pong(data)


class ClientProtocol(Counting, WebSocketClientProtocol):
    pass


class ServerProtocol(Counting, WebSocketServerProtocol):
    pass


async def send_in_slices(ws, message, fragments, size):
    """Sends `message` as websockets would (in `fragments` frames, compressed if negotiated) but
    writes the bytes `size` at a time with a pause between, so the peer reads them piecemeal."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    opcode = 1 if isinstance(message, str) else 2
    step = -(-len(data) // fragments) if data else 1
    pieces = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
    wire = []

    class Capture:
        write = staticmethod(wire.append)

    transport = ws.transport
    ws.transport = Capture()  # what write_frame_sync writes lands in `wire`
    try:
        for index, piece in enumerate(pieces):
            ws.write_frame_sync(index == len(pieces) - 1, opcode if index == 0 else 0, piece)
    finally:
        ws.transport = transport
    wire = b"".join(wire)
    for i in range(0, len(wire), size):
        transport.write(wire[i:i + size])
        await asyncio.sleep(0.001)


async def send_step(ws, step):
    message = payload(step)
    fragments = step.get("fragments", 1)
    if "slices" in step:
        await send_in_slices(ws, message, fragments, step["slices"])
        return {"sent": {"sha256": digest(message)}}
    try:
        if fragments > 1:
            # A list sends one message in several frames (websockets' fragmentation).
            size = -(-len(message) // fragments)
            await ws.send([message[i:i + size] for i in range(0, len(message), size)])
        else:
            await ws.send(message)
    except ConnectionClosed:
        # The peer closed while we were sending (e.g. at once on a message over its limit).
        return {"send_failed": {"code": ws.close_code, "reason": ws.close_reason}}
    return {"sent": {"length": len(message if isinstance(message, bytes) else
                                   message.encode("utf-8")), "sha256": digest(message)}}


async def recv_step(ws):
    before = getattr(ws, "wire_bytes_in", 0)
    try:
        message = await asyncio.wait_for(ws.recv(), TIMEOUT)
    except ConnectionClosed:
        return {"closed": {"code": ws.close_code, "reason": ws.close_reason}}
    except asyncio.TimeoutError:
        # What did come meanwhile tells a frame never sent from one never completed.
        return {"timeout": TIMEOUT, "wire_bytes": getattr(ws, "wire_bytes_in", 0) - before,
                "buffered": ws.reader._buffer.hex()[:2000] if hasattr(ws.reader, "_buffer") else None}
    out = describe(message)
    out["wire_bytes"] = getattr(ws, "wire_bytes_in", 0) - before
    return {"received": out}


async def run_client(args):
    options = connection_options(args, server=False, create_protocol=ClientProtocol,
                                 origin=args.get("origin"), open_timeout=TIMEOUT)
    try:
        ws = await websockets.connect(args["url"], **options)
    except InvalidStatusCode as error:
        return {"handshake_status": error.status_code}
    report = {
        "extensions": extensions_of(ws),
        "response_extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
        "request_extensions": ws.request_headers.get("Sec-WebSocket-Extensions"),
        "subprotocol": ws.subprotocol,
        "response_protocol": ws.response_headers.get("Sec-WebSocket-Protocol"),
        "steps": [],
    }
    for step in args.get("steps", []):
        kind = step["do"]
        if kind == "send":
            result = await send_step(ws, step)
        elif kind == "recv":
            result = await recv_step(ws)
        elif kind == "ping":
            waiter = await ws.ping(bytes.fromhex(step["hex"]))
            try:
                await asyncio.wait_for(waiter, TIMEOUT)
                result = {"pong": True}
            except (asyncio.TimeoutError, ConnectionClosed):
                result = {"pong": False}
        elif kind == "raw":
            # A frame as given, even one that breaks the protocol.
            await ws.write_frame(step["fin"], step["opcode"], bytes.fromhex(step["hex"]))
            result = {"raw": True}
        elif kind == "bytes":
            # Bytes straight onto the wire: frames websockets itself would refuse to write.
            ws.transport.write(bytes.fromhex(step["hex"]))
            result = {"bytes": True}
        elif kind == "close":
            await ws.close(step["code"], step.get("reason", ""))
            result = {"closed": {"code": ws.close_code, "reason": ws.close_reason}}
        elif kind == "wait_closed":
            try:
                await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
            except asyncio.TimeoutError:
                pass
            result = {"closed": {"code": ws.close_code, "reason": ws.close_reason}}
        else:
            raise ValueError(f"unknown step {kind}")
        report["steps"].append(result)
    report["pings_received"] = getattr(ws, "pings_received", [])
    await ws.close()
    report["final_close"] = {"code": ws.close_code, "reason": ws.close_reason}
    return report


async def server_command(ws, command, record):
    """Runs a command the client sent as "!" + JSON:
    {"close": code, "reason": r}: closes with that code and reason;
    {"ping": hex}: pings, and answers "pong:" + hex once the pong came (or "no pong");
    {"raw": [{"fin", "opcode", "hex"}...]}: writes those frames as they are;
    {"bytes": hex}: writes those bytes onto the wire;
    {"fragments": [hex...], "binary": b}: sends one message in those fragments;
    {"send": {payload}}: sends that message (see `payload`);
    {"report": true}: answers with the record so far, as JSON text."""
    if "close" in command:
        await ws.close(command["close"], command.get("reason", ""))
    elif "ping" in command:
        waiter = await ws.ping(bytes.fromhex(command["ping"]))
        try:
            await asyncio.wait_for(waiter, TIMEOUT)
            await ws.send("pong:" + command["ping"])
        except asyncio.TimeoutError:
            await ws.send("no pong")
    elif "raw" in command:
        for frame in command["raw"]:
            await ws.write_frame(frame["fin"], frame["opcode"], bytes.fromhex(frame["hex"]))
    elif "bytes" in command:
        ws.transport.write(bytes.fromhex(command["bytes"]))
    elif "fragments" in command:
        parts = [bytes.fromhex(h) for h in command["fragments"]]
        if not command.get("binary", False):
            parts = [p.decode("utf-8") for p in parts]
        await ws.send(parts)
    elif "send" in command:
        message = payload(command["send"])
        record["sent"].append({"length": len(message), "sha256": digest(message)})
        await ws.send(message)
    elif "report" in command:
        await ws.send(json.dumps(record))


async def serve_connection(ws):
    record = {
        "path": ws.path,
        "request_extensions": ws.request_headers.get("Sec-WebSocket-Extensions"),
        "response_extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
        "extensions": extensions_of(ws),
        "subprotocol": ws.subprotocol,
        "messages": [],
        "sent": [],
    }
    try:
        while True:
            before = getattr(ws, "wire_bytes_in", 0)
            message = await ws.recv()
            described = describe(message)
            described["wire_bytes"] = getattr(ws, "wire_bytes_in", 0) - before
            record["messages"].append(described)
            if isinstance(message, str) and message.startswith("!"):
                await server_command(ws, json.loads(message[1:]), record)
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    record["close_code"] = ws.close_code
    record["close_reason"] = ws.close_reason
    record["pings_received"] = getattr(ws, "pings_received", [])
    print(json.dumps(record), flush=True)


async def run_server(args):
    options = connection_options(args, server=True, create_protocol=ServerProtocol)
    stdin_closed = ws_peer_common.stdin_closed()
    async with websockets.serve(serve_connection, "127.0.0.1", 0, **options) as server:
        ws_peer_common.print_port(server.sockets[0].getsockname()[1])
        await stdin_closed


if __name__ == "__main__":
    ws_peer_common.main(run_client, run_server)
