#!/usr/bin/python3
"""The peer of websocket_bench_server in Python Tornado (Debian's python3-tornado): one process,
one IOLoop, a WebSocketHandler at /echo that sends every message back as it came. Compression is
off (Tornado's default). Prints ``port=N`` once listening, as the squall server does.

Usage: websocket_tornado_echo.py [--port N] [--address A]   (default 127.0.0.1, port 0: a free one)
"""

import argparse
import asyncio
import signal
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket


class EchoSocket(tornado.websocket.WebSocketHandler):
    def open(self):
        self.set_nodelay(True)

    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    app = tornado.web.Application([(r"/echo", EchoSocket)])
    sockets = tornado.netutil.bind_sockets(args.port, args.address)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print(f"port={sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
