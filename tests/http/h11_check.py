#!/usr/bin/env python3
"""Checks squall's HTTPServer with Python's h11 as a strict HTTP/1.1 client.

    h11_check.py PATH/TO/h11_server

Starts the server (tests/http/h11_server.cpp) on a free loopback port, then checks keep-alive
across several requests, pipelining, chunked request and response bodies, HEAD, Expect:
100-continue, a 404, Connection: close and HTTP/1.0. Every response is parsed by h11, which raises
on any protocol violation; every final response must carry a Date in IMF-fixdate form. Finally the
server is sent SIGTERM and must exit with status 0.

h11 comes from the Debian package python3-h11, which scripts/deps installs: when it is missing
the check fails rather than skips.
"""

import re
import select
import signal
import socket
import subprocess
import sys

try:
    import h11
except ImportError as error:  # a failure, not a skip: scripts/deps installs python3-h11
    print(f"h11_check: cannot import h11 ({error}); install python3-h11 (scripts/deps)",
          file=sys.stderr)
    sys.exit(1)

TIMEOUT = 10.0
IMF_FIXDATE = re.compile(
    rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$")
CHUNKED_BODY = b"first piece;second piece;third piece."

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


class Reply:
    """One exchange as h11 saw it."""

    def __init__(self):
        self.informational = []  # InformationalResponse events
        self.response = None
        self.body = b""
        self.data_events = []

    @property
    def status(self):
        return self.response.status_code

    def header(self, name):
        """The values of header `name` (lower case bytes), in order."""
        return [v for n, v in self.response.headers if n == name]


class Client:
    """A socket and an h11 client connection over it."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.conn = h11.Connection(our_role=h11.CLIENT)
        self.closed = False

    def send(self, *events):
        data = b"".join(self.conn.send(event) for event in events)
        self.sock.sendall(data)

    def next_event(self, conn=None):
        conn = conn or self.conn
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = b"" if self.closed else self.sock.recv(65536)
            if not data:
                self.closed = True
            conn.receive_data(data)

    def read_reply(self, conn=None, stop_at_informational=False):
        reply = Reply()
        while True:
            event = self.next_event(conn)
            if isinstance(event, h11.InformationalResponse):
                reply.informational.append(event)
                if stop_at_informational:
                    return reply
            elif isinstance(event, h11.Response):
                reply.response = event
                check_date(event)
            elif isinstance(event, h11.Data):
                reply.data_events.append(event)
                reply.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return reply
            else:
                raise AssertionError(f"unexpected event {event!r}")

    def request(self, method, target, headers=(), body=None):
        headers = [(b"Host", b"squall.test")] + list(headers)
        if body is not None and not any(n.lower() == b"transfer-encoding" for n, _ in headers):
            headers.append((b"Content-Length", str(len(body)).encode()))
        self.send(h11.Request(method=method, target=target, headers=headers))
        if body:
            self.send(h11.Data(data=body))
        self.send(h11.EndOfMessage())
        return self.read_reply()

    def next_cycle(self):
        self.conn.start_next_cycle()

    def close(self):
        self.sock.close()


def check_date(response):
    dates = [v for n, v in response.headers if n == b"date"]
    check(len(dates) == 1, f"one Date header, got {dates!r}")
    if dates:
        check(IMF_FIXDATE.match(dates[0]) is not None, f"Date {dates[0]!r} is an IMF-fixdate")


def check_keep_alive(port):
    client = Client(port)
    for i in range(5):
        reply = client.request(b"GET", b"/plaintext")
        check(reply.status == 200, f"keep-alive request {i}: status {reply.status}")
        check(reply.body == b"Hello, World!", f"keep-alive request {i}: body {reply.body!r}")
        check(reply.header(b"content-length") == [b"13"], "plaintext Content-Length 13")
        check(reply.response.http_version == b"1.1", "the server speaks HTTP/1.1")
        check(client.conn.our_state is h11.DONE and client.conn.their_state is h11.DONE,
              "keep-alive: both sides done")
        client.next_cycle()
    reply = client.request(b"POST", b"/echo", body=b"echo me on the same connection")
    check(reply.status == 200 and reply.body == b"echo me on the same connection",
          f"echo on a kept-alive connection: {reply.status} {reply.body!r}")
    client.next_cycle()
    client.close()


def check_pipelining(port):
    client = Client(port)
    targets = [b"/plaintext", b"/missing", b"/chunked", b"/plaintext"]
    # Each request is written by an h11 connection of its own (h11 sends one at a time), then all
    # go out in one write; each response is parsed by the connection that wrote its request.
    conns = []
    data = b""
    for target in targets:
        conn = h11.Connection(our_role=h11.CLIENT)
        data += conn.send(h11.Request(method=b"GET", target=target,
                                      headers=[(b"Host", b"squall.test")]))
        data += conn.send(h11.EndOfMessage())
        conns.append(conn)
    client.sock.sendall(data)
    leftover = b""
    for target, conn in zip(targets, conns):
        if leftover:
            conn.receive_data(leftover)
        reply = client.read_reply(conn)
        leftover, _ = conn.trailing_data
        if target == b"/plaintext":
            check(reply.status == 200 and reply.body == b"Hello, World!",
                  f"pipelined {target!r}: {reply.status} {reply.body!r}")
        elif target == b"/missing":
            check(reply.status == 404, f"pipelined {target!r}: {reply.status}")
        else:
            check(reply.status == 200 and reply.body == CHUNKED_BODY,
                  f"pipelined {target!r}: {reply.status} {reply.body!r}")
    check(leftover == b"", f"nothing after the pipelined responses, got {leftover!r}")
    client.close()


def check_chunked(port):
    client = Client(port)
    # A chunked response, written in several pieces.
    reply = client.request(b"GET", b"/chunked")
    check(reply.status == 200, f"chunked response status {reply.status}")
    check(reply.header(b"transfer-encoding") == [b"chunked"],
          f"chunked response Transfer-Encoding {reply.header(b'transfer-encoding')!r}")
    check(reply.header(b"content-length") == [], "no Content-Length on a chunked response")
    check(reply.body == CHUNKED_BODY, f"chunked response body {reply.body!r}")
    chunk_starts = sum(1 for event in reply.data_events if event.chunk_start)
    check(chunk_starts >= 2, f"the body came in several chunks, got {chunk_starts}")
    client.next_cycle()
    # A chunked request body.
    client.send(h11.Request(method=b"POST", target=b"/echo",
                            headers=[(b"Host", b"squall.test"),
                                     (b"Transfer-Encoding", b"chunked")]))
    pieces = [b"one,", b"two,", b"x" * 5000, b",three"]
    for piece in pieces:
        client.send(h11.Data(data=piece))
    client.send(h11.EndOfMessage(headers=[(b"X-Trailer", b"ignored")]))
    reply = client.read_reply()
    check(reply.status == 200, f"chunked request status {reply.status}")
    check(reply.body == b"".join(pieces), "chunked request body echoed whole")
    client.next_cycle()
    client.close()


def check_head(port):
    client = Client(port)
    reply = client.request(b"HEAD", b"/plaintext")
    check(reply.status == 200, f"HEAD status {reply.status}")
    check(reply.body == b"", f"HEAD has no body, got {reply.body!r}")
    check(reply.header(b"content-length") == [b"13"],
          f"HEAD keeps GET's Content-Length, got {reply.header(b'content-length')!r}")
    client.next_cycle()
    reply = client.request(b"HEAD", b"/chunked")
    check(reply.status == 200 and reply.body == b"", "HEAD of a streamed resource has no body")
    client.next_cycle()
    # Had a body followed either HEAD response, this one would not parse.
    reply = client.request(b"GET", b"/plaintext")
    check(reply.status == 200 and reply.body == b"Hello, World!", "GET after HEAD")
    client.next_cycle()
    client.close()


def check_continue(port):
    client = Client(port)
    body = b"sent after 100 Continue"
    client.send(h11.Request(method=b"POST", target=b"/echo",
                            headers=[(b"Host", b"squall.test"),
                                     (b"Content-Length", str(len(body)).encode()),
                                     (b"Expect", b"100-continue")]))
    interim = client.read_reply(stop_at_informational=True)
    check(len(interim.informational) == 1 and interim.informational[0].status_code == 100,
          f"100 Continue before the body, got {interim.informational!r}")
    client.send(h11.Data(data=body), h11.EndOfMessage())
    reply = client.read_reply()
    check(reply.status == 200 and reply.body == body, f"echo after 100: {reply.body!r}")
    client.next_cycle()
    client.close()


def check_not_found(port):
    client = Client(port)
    reply = client.request(b"GET", b"/no/such/thing")
    check(reply.status == 404, f"404 expected, got {reply.status}")
    check(reply.body == b"Not Found: /no/such/thing", f"404 body {reply.body!r}")
    client.next_cycle()  # a 404 keeps the connection
    reply = client.request(b"DELETE", b"/plaintext")
    check(reply.status == 404, f"DELETE /plaintext: 404 expected, got {reply.status}")
    client.next_cycle()
    client.close()


def check_connection_close(port):
    client = Client(port)
    reply = client.request(b"GET", b"/plaintext", headers=[(b"Connection", b"close")])
    check(reply.status == 200, f"Connection: close status {reply.status}")
    check(b"close" in [v.lower() for v in reply.header(b"connection")],
          "the response to Connection: close says close")
    check(isinstance(client.next_event(), h11.ConnectionClosed),
          "the server closes after Connection: close")
    client.close()


def http10_exchange(port, target):
    """Sends a raw HTTP/1.0 request; h11 parses the response (it only sends HTTP/1.1 itself, so
    a client connection is told of a matching GET that never goes out)."""
    client = Client(port)
    client.conn.send(h11.Request(method=b"GET", target=target,
                                 headers=[(b"Host", b"squall.test"), (b"Connection", b"close")]))
    client.conn.send(h11.EndOfMessage())
    client.sock.sendall(b"GET " + target + b" HTTP/1.0\r\n\r\n")
    reply = client.read_reply()
    closed = isinstance(client.next_event(), h11.ConnectionClosed)
    client.close()
    return reply, closed


def check_http10(port):
    reply, closed = http10_exchange(port, b"/plaintext")
    check(reply.status == 200 and reply.body == b"Hello, World!",
          f"HTTP/1.0 plaintext: {reply.status} {reply.body!r}")
    check(closed, "HTTP/1.0 without keep-alive: the server closes")
    reply, closed = http10_exchange(port, b"/chunked")
    check(reply.status == 200, f"HTTP/1.0 streamed: status {reply.status}")
    check(reply.header(b"transfer-encoding") == [], "no chunked coding for an HTTP/1.0 client")
    check(reply.body == CHUNKED_BODY, f"HTTP/1.0 streamed body {reply.body!r}")
    check(closed, "HTTP/1.0 streamed body ends with the connection")


def start_server(binary):
    server = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE)
    ready, _, _ = select.select([server.stdout], [], [], TIMEOUT)
    if not ready:
        server.kill()
        raise SystemExit("h11_check: the server printed no port")
    line = server.stdout.readline().strip()
    if not line.isdigit():
        server.kill()
        raise SystemExit(f"h11_check: the server printed {line!r}, not a port")
    return server, int(line)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: h11_check.py PATH/TO/h11_server")
    print(f"h11 {h11.__version__}", file=sys.stderr)
    server, port = start_server(sys.argv[1])
    try:
        for test in (check_keep_alive, check_pipelining, check_chunked, check_head,
                     check_continue, check_not_found, check_connection_close, check_http10):
            try:
                test(port)
            except (h11.ProtocolError, OSError, AssertionError) as error:
                check(False, f"{test.__name__}: {type(error).__name__}: {error}")
            print(f"{test.__name__}: done", file=sys.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            status = None
    check(status == 0, f"the server exits with 0 after SIGTERM, got {status}")
    if failures:
        print(f"h11_check: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("h11_check: all checks passed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
