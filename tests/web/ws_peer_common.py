"""What the WebSocket peers ws_peer_websockets.py and ws_peer_tornado.py share: failing for a
missing library, how a step or command describes a message and how a received one is reported,
the wait for the end of stdin that stops a server, and the command line (`client|server
JSON|-`). Standard library only, so that each peer still reports its own library missing."""

import asyncio
import hashlib
import json
import os
import random
import sys
import threading

# Seconds a peer waits for a message, a pong or a close before it reports a timeout.
TIMEOUT = 20.0
# Received messages up to this many bytes are reported in full (as hex); larger ones by length
# and digest only, to keep the report small.
HEX_LIMIT = 262144


def fail(message):
    """Prints `message` as this peer's own and exits with status 2: a peer that cannot run is
    an error of the test, never a skip."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    print(f"{name}: {message}", file=sys.stderr)
    sys.exit(2)


def cannot_import(module, package, error):
    """Fails for a missing library: `module` did not import (`error`); Debian's `package` has
    it."""
    fail(f"cannot import {module} ({error}); install {package} (scripts/deps)")


def expect_version(library, found, expected, note=""):
    """Fails unless `library` is at version `expected` (the peers reach into its internals)."""
    if found != expected:
        fail(f"{library} {found} found, {expected} expected{note}")


def digest(data):
    """The SHA-256 of `data` (text as UTF-8), in hex."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def payload(spec):
    """The message a step or command describes: {"hex": ..., "binary": bool, "repeat": n} or, for
    large messages, {"size": n, "seed": s, "binary": bool} (random bytes; as text, their hex)."""
    if "size" in spec:
        rng = random.Random(spec.get("seed", 0))
        if spec.get("binary", True):
            return rng.randbytes(spec["size"])
        return rng.randbytes(spec["size"] // 2).hex()
    data = bytes.fromhex(spec["hex"]) * spec.get("repeat", 1)
    return data if spec.get("binary", False) else data.decode("utf-8")


def describe(message):
    """A received message for the report: small ones in hex, large ones by length and digest."""
    binary = isinstance(message, bytes)
    raw = message if binary else message.encode("utf-8")
    out = {"binary": binary, "length": len(raw), "sha256": digest(raw)}
    if len(raw) <= HEX_LIMIT:
        out["hex"] = raw.hex()
    return out


def stdin_closed():
    """A future of the running loop, done once stdin reaches its end: the test closes the
    server's stdin (or dies) when it is done with it."""
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def watch():
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(closed.set_result, None)

    threading.Thread(target=watch, daemon=True).start()
    return closed


def print_port(port):
    """Tells the test where the server listens: {"port": N} on a line of its own."""
    print(json.dumps({"port": port}), flush=True)


def main(run_client, run_server):
    """The peers' command line: `client JSON|-` prints the report of run_client(args) as one
    JSON line; `server JSON|-` runs run_server(args). A wrong command line is exit status 2."""
    if len(sys.argv) != 3 or sys.argv[1] not in ("client", "server"):
        print("usage: %s client|server JSON|-" % os.path.basename(sys.argv[0]), file=sys.stderr)
        sys.exit(2)
    # A client's steps may hold large messages: they come on stdin, past argv's limits.
    args = json.loads(sys.stdin.read() if sys.argv[2] == "-" else sys.argv[2])
    if sys.argv[1] == "client":
        print(json.dumps(asyncio.run(run_client(args))), flush=True)
    else:
        asyncio.run(run_server(args))
